namespace Holdfast.Identity.Authorization;

/// <summary>
/// Azure's built-in roles with Azure's names, GUIDs and action patterns (learn.microsoft.com, "Azure built-in roles"),
/// trimmed to the namespaces this cloud serves where Azure's lists are long, plus Holdfast's operator roles, which are
/// only assignable at the root scope <c>/</c> and so can never be held through a subscription.
/// </summary>
public static class BuiltInRoles
{
    public static readonly RoleDefinition Owner = BuiltIn(
        "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "Owner", "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
        actions: ["*"]);

    public static readonly RoleDefinition Contributor = BuiltIn(
        "b24988ac-6180-42a0-ab88-20f7382dd24c", "Contributor", "Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC.",
        actions: ["*"],
        notActions:
        [
            "Microsoft.Authorization/*/Delete",
            "Microsoft.Authorization/*/Write",
            "Microsoft.Authorization/elevateAccess/Action",
            "Microsoft.Blueprint/blueprintAssignments/write",
            "Microsoft.Blueprint/blueprintAssignments/delete",
            "Microsoft.Compute/galleries/share/action",
        ]);

    public static readonly RoleDefinition Reader = BuiltIn(
        "acdd72a7-3385-48ef-bd42-f606fba81ae7", "Reader", "View all resources, but does not allow you to make any changes.",
        actions: ["*/read"]);

    public static readonly RoleDefinition UserAccessAdministrator = BuiltIn(
        "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9", "User Access Administrator", "Lets you manage user access to Azure resources.",
        actions: ["*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"]);

    public static readonly RoleDefinition RoleBasedAccessControlAdministrator = BuiltIn(
        "f58310d9-a9f6-439a-9e8d-f62e7b41a168", "Role Based Access Control Administrator", "Manage access to Azure resources by assigning roles using Azure RBAC.",
        actions: ["Microsoft.Authorization/roleAssignments/write", "Microsoft.Authorization/roleAssignments/delete", "*/read", "Microsoft.Support/*"]);

    public static readonly RoleDefinition VirtualMachineContributor = BuiltIn(
        "9980e02c-c2be-4d73-94e8-173b1dc7cf3c", "Virtual Machine Contributor", "Create and manage virtual machines, manage disks, install and run software, reset passwords, but not access to them, and not the virtual network or storage account they are connected to.",
        actions:
        [
            "Microsoft.Authorization/*/read",
            "Microsoft.Compute/availabilitySets/*",
            "Microsoft.Compute/locations/*",
            "Microsoft.Compute/virtualMachines/*",
            "Microsoft.Compute/virtualMachineScaleSets/*",
            "Microsoft.Compute/disks/write",
            "Microsoft.Compute/disks/read",
            "Microsoft.Compute/disks/delete",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Network/loadBalancers/backendAddressPools/join/action",
            "Microsoft.Network/loadBalancers/read",
            "Microsoft.Network/locations/*",
            "Microsoft.Network/networkInterfaces/*",
            "Microsoft.Network/networkSecurityGroups/join/action",
            "Microsoft.Network/networkSecurityGroups/read",
            "Microsoft.Network/publicIPAddresses/join/action",
            "Microsoft.Network/publicIPAddresses/read",
            "Microsoft.Network/virtualNetworks/read",
            "Microsoft.Network/virtualNetworks/subnets/join/action",
            "Microsoft.ResourceHealth/availabilityStatuses/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Support/*",
        ]);

    public static readonly RoleDefinition NetworkContributor = BuiltIn(
        "4d97b98b-1d4f-4787-a291-c67834d212e7", "Network Contributor", "Lets you manage networks, but not access to them.",
        actions:
        [
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Network/*",
            "Microsoft.ResourceHealth/availabilityStatuses/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Support/*",
        ]);

    /// <summary>Holdfast: runs the cloud itself — fabric, capacity, quotas, updates, subscriptions and principals. Root scope only.</summary>
    public static readonly RoleDefinition CloudOperator = BuiltIn(
        "5d3f7a0e-6c1b-4b8e-9f2a-0c4d1e7b9a31", "Holdfast Cloud Operator", "Operates the cloud: fabric, capacity, quotas, updates, subscriptions and principals. Assignable only at the root scope.",
        actions: ["*"],
        rootScopeOnly: true);

    /// <summary>Holdfast: reads the fabric and capacity views (hosts, utilisation, forecasts). Root scope only.</summary>
    public static readonly RoleDefinition CapacityReader = BuiltIn(
        "a7c2e4f1-3b9d-4e6a-8c5f-1d2b3a4c5e6f", "Holdfast Capacity Reader", "Reads fabric inventory, capacity, quotas and forecasts. Assignable only at the root scope.",
        actions: ["Holdfast.Fabric/*/read", "Holdfast.Capacity/*/read"],
        rootScopeOnly: true);

    public static IReadOnlyList<RoleDefinition> All { get; } =
    [
        Owner, Contributor, Reader, UserAccessAdministrator, RoleBasedAccessControlAdministrator,
        VirtualMachineContributor, NetworkContributor, CloudOperator, CapacityReader,
    ];

    public static RoleDefinition? Find(string id) => All.FirstOrDefault(r => string.Equals(r.Id, id, StringComparison.OrdinalIgnoreCase));

    private static RoleDefinition BuiltIn(string id, string name, string description, string[] actions, string[]? notActions = null, bool rootScopeOnly = false) => new()
    {
        Id = id,
        RoleName = name,
        Description = description,
        RoleType = "BuiltInRole",
        Permissions = [new RolePermission { Actions = actions, NotActions = notActions ?? [] }],
        AssignableScopes = [Scopes.Root],
        RootScopeOnly = rootScopeOnly,
    };
}
