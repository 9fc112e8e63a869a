using System.Text.Json.Nodes;
using Holdfast.Identity.Authorization;

namespace Holdfast.Server.Authorization;

/// <summary>
/// Azure's JSON shapes for Microsoft.Authorization (specification/authorization, 2022-04-01 and 2015-07-01): role
/// assignments are stored in the 2022-04-01 shape and trimmed for 2015-07-01; role definitions are rendered per
/// request, their <c>id</c> under the subscription the request names (as Azure does), the root otherwise.
/// </summary>
internal static class RoleDocuments
{
    public const string AssignmentType = "Microsoft.Authorization/roleAssignments";
    public const string DefinitionType = "Microsoft.Authorization/roleDefinitions";
    public const string LegacyApiVersion = "2015-07-01";

    /// <summary>The shape records are stored in (every field of the permission blocks).</summary>
    public const string StoredApiVersion = "2022-04-01";

    /// <summary><c>/subscriptions/{id}</c> when <paramref name="scope"/> lies in a subscription, else the empty string (root).</summary>
    public static string SubscriptionPrefix(string scope)
    {
        var parts = scope.Split('/', StringSplitOptions.RemoveEmptyEntries);
        return parts.Length >= 2 && parts[0].Equals("subscriptions", StringComparison.OrdinalIgnoreCase) ? "/subscriptions/" + parts[1] : string.Empty;
    }

    public static string DefinitionId(string scope, string roleName) =>
        SubscriptionPrefix(scope) + "/providers/Microsoft.Authorization/roleDefinitions/" + roleName;

    public static string AssignmentId(string scope, string name) =>
        (Scopes.IsRoot(scope) ? string.Empty : scope.TrimEnd('/')) + "/providers/Microsoft.Authorization/roleAssignments/" + name;

    /// <summary>A new role assignment in the stored (2022-04-01) shape.</summary>
    public static JsonObject NewAssignment(string name, string scope, string roleName, string principalId, string principalType, string createdBy, DateTimeOffset now, string? description)
    {
        var timestamp = now.UtcDateTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture);
        return new JsonObject
        {
            ["id"] = AssignmentId(scope, name),
            ["type"] = AssignmentType,
            ["name"] = name,
            ["properties"] = new JsonObject
            {
                ["roleDefinitionId"] = DefinitionId(scope, roleName),
                ["principalId"] = principalId,
                ["principalType"] = principalType,
                ["scope"] = scope,
                ["condition"] = null,
                ["conditionVersion"] = null,
                ["createdOn"] = timestamp,
                ["updatedOn"] = timestamp,
                ["createdBy"] = createdBy,
                ["updatedBy"] = createdBy,
                ["delegatedManagedIdentityResourceId"] = null,
                ["description"] = description,
            },
        };
    }

    /// <summary>A role assignment as the api-version shows it.</summary>
    public static JsonNode RenderAssignment(RoleAssignmentEntry entry, string apiVersion)
    {
        var node = JsonNode.Parse(entry.Document.Span)!.AsObject();
        if (!string.Equals(apiVersion, LegacyApiVersion, StringComparison.OrdinalIgnoreCase))
        {
            return node;
        }

        var properties = node["properties"]!.AsObject();
        node["properties"] = new JsonObject
        {
            ["roleDefinitionId"] = properties["roleDefinitionId"]!.DeepClone(),
            ["principalId"] = properties["principalId"]!.DeepClone(),
            ["scope"] = properties["scope"]!.DeepClone(),
        };
        return node;
    }

    /// <summary>A role definition (built-in or custom) as seen from <paramref name="scope"/> in the api-version's shape.</summary>
    public static JsonObject RenderDefinition(RoleDefinition role, JsonObject? stored, string scope, string apiVersion)
    {
        var legacy = string.Equals(apiVersion, LegacyApiVersion, StringComparison.OrdinalIgnoreCase);
        var permissions = RenderPermissions(role.Permissions, apiVersion);
        var properties = new JsonObject
        {
            ["roleName"] = role.RoleName,
            ["type"] = role.RoleType,
            ["description"] = role.Description,
            ["assignableScopes"] = Strings(role.AssignableScopes),
            ["permissions"] = permissions,
        };
        if (!legacy)
        {
            var storedProperties = stored?["properties"] as JsonObject;
            foreach (var name in new[] { "createdOn", "updatedOn", "createdBy", "updatedBy" })
            {
                properties[name] = storedProperties?[name]?.DeepClone();
            }
        }

        return new JsonObject
        {
            ["id"] = DefinitionId(scope, role.Id),
            ["name"] = role.Id,
            ["type"] = DefinitionType,
            ["properties"] = properties,
        };
    }

    /// <summary>Reads a stored custom role (<c>{"name","properties":{…}}</c>) into the evaluator's definition.</summary>
    public static RoleDefinition ReadDefinition(JsonObject node)
    {
        var properties = node["properties"]!.AsObject();
        return new RoleDefinition
        {
            Id = node["name"]!.GetValue<string>(),
            RoleName = properties["roleName"]!.GetValue<string>(),
            Description = properties["description"]?.GetValue<string>() ?? string.Empty,
            RoleType = "CustomRole",
            Permissions = properties["permissions"]!.AsArray().Select(p => new RolePermission
            {
                Actions = ReadStrings(p!["actions"]),
                NotActions = ReadStrings(p["notActions"]),
                DataActions = ReadStrings(p["dataActions"]),
                NotDataActions = ReadStrings(p["notDataActions"]),
            }).ToList(),
            AssignableScopes = ReadStrings(properties["assignableScopes"]),
        };
    }

    /// <summary>Permission blocks as Azure renders them; the 2015-07-01 shape has no data actions.</summary>
    public static JsonArray RenderPermissions(IEnumerable<RolePermission> blocks, string apiVersion)
    {
        var legacy = string.Equals(apiVersion, LegacyApiVersion, StringComparison.OrdinalIgnoreCase);
        var permissions = new JsonArray();
        foreach (var block in blocks)
        {
            var rendered = new JsonObject
            {
                ["actions"] = Strings(block.Actions),
                ["notActions"] = Strings(block.NotActions),
            };
            if (!legacy)
            {
                rendered["dataActions"] = Strings(block.DataActions);
                rendered["notDataActions"] = Strings(block.NotDataActions);
            }

            permissions.Add(rendered);
        }

        return permissions;
    }

    public static JsonArray Strings(IEnumerable<string> values) => new(values.Select(v => (JsonNode)JsonValue.Create(v)).ToArray());

    private static List<string> ReadStrings(JsonNode? node) => node is JsonArray array ? array.Select(v => v!.GetValue<string>()).ToList() : [];
}
