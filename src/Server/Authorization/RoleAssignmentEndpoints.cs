using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Holdfast.Identity.Authorization;
using Holdfast.Resources.Errors;
using Holdfast.Server.Arm;
using Holdfast.Server.Identity;
using Holdfast.State;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Holdfast.Server.Authorization;

/// <summary>
/// <c>{scope}/providers/Microsoft.Authorization/roleAssignments[/{guid}]</c> as Azure serves it: PUT (201; the name is a
/// GUID; <c>RoleAssignmentExists</c> 409 for the same principal, role and scope under another name;
/// <c>PrincipalNotFound</c> and <c>RoleDefinitionDoesNotExist</c> 400), GET, DELETE (200 with the deleted assignment,
/// 204 when absent; the last Holdfast Cloud Operator assignment of an existing user or service principal is kept, 409
/// <c>LastOperatorAssignment</c>) and list — without a filter the assignments at, above and below the scope (operator
/// roles' only for a caller who may read at <c>/</c>); <c>atScope()</c> at and above; <c>principalId eq '{id}'</c> and <c>assignedTo('{id}')</c> (the principal and its groups).
/// </summary>
internal static partial class RoleAssignmentEndpoints
{
    private const string ReadAction = "Microsoft.Authorization/roleAssignments/read";
    private const string WriteAction = "Microsoft.Authorization/roleAssignments/write";
    private const string DeleteAction = "Microsoft.Authorization/roleAssignments/delete";
    private static readonly string[] PrincipalTypes = ["User", "Group", "ServicePrincipal", "ForeignGroup", "Device"];

    public static async Task GetAsync(HttpContext context, AuthorizationScope scope, string name)
    {
        var (data, authorizer, roles) = AuthorizationEndpoints.Services(context);
        await authorizer.AuthorizeAsync(context, ReadAction, scope.Path).ConfigureAwait(false);
        await scope.EnsureExistsAsync(data, context.RequestAborted).ConfigureAwait(false);
        var entry = roles.FindAssignment(name);
        if (entry is null || !SameScope(entry.Assignment.Scope, scope.Path))
        {
            throw NotFound(name);
        }

        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, RoleDocuments.RenderAssignment(entry, AuthorizationEndpoints.ApiVersionOf(context))).ConfigureAwait(false);
    }

    public static async Task ListAsync(HttpContext context, AuthorizationScope scope)
    {
        var (data, authorizer, roles) = AuthorizationEndpoints.Services(context);
        await authorizer.AuthorizeAsync(context, ReadAction, scope.Path).ConfigureAwait(false);
        var filter = AssignmentFilter.Parse(context.Request.Query["$filter"].ToString());
        await scope.EnsureExistsAsync(data, context.RequestAborted).ConfigureAwait(false);
        HashSet<string>? principals = null;
        if (filter.PrincipalId is { } principalId)
        {
            principals = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { principalId };
            if (filter.IncludeGroups)
            {
                var directory = context.RequestServices.GetRequiredService<PrincipalDirectory>();
                principals.UnionWith(await directory.GroupsOfAsync(principalId, context.RequestAborted).ConfigureAwait(false));
            }
        }

        await roles.WaitLoadedAsync(context.RequestAborted).ConfigureAwait(false);
        var apiVersion = AuthorizationEndpoints.ApiVersionOf(context);

        // Who operates the cloud is the operators' business: operator-role assignments (at '/') are listed only to a
        // caller who may read assignments at the root scope.
        var caller = ArmRequest.Of(context).RequirePrincipal();
        var showOperators = (await authorizer.CheckAsync(caller, ReadAction, Scopes.Root, context.RequestAborted).ConfigureAwait(false)).Allowed;
        var items = roles.Assignments
            .Where(a => showOperators || roles.FindRole(a.Assignment.RoleDefinitionId) is not { RootScopeOnly: true })
            .Where(a => Scopes.Contains(a.Assignment.Scope, scope.Path) || (!filter.AtScope && Scopes.Contains(scope.Path, a.Assignment.Scope)))
            .Where(a => principals is null || principals.Contains(a.Assignment.PrincipalId))
            .OrderBy(a => a.Assignment.Scope.Length)
            .ThenBy(a => a.Assignment.Name, StringComparer.OrdinalIgnoreCase)
            .Select(a => RoleDocuments.RenderAssignment(a, apiVersion))
            .ToArray();
        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, new JsonObject { ["value"] = new JsonArray(items) }).ConfigureAwait(false);
    }

    public static async Task PutAsync(HttpContext context, AuthorizationScope scope, string name)
    {
        var (data, authorizer, roles) = AuthorizationEndpoints.Services(context);
        var caller = ArmRequest.Of(context).RequirePrincipal();
        await authorizer.AuthorizeAsync(context, WriteAction, scope.Path).ConfigureAwait(false);
        scope.EnsureWritable();
        if (!Guid.TryParse(name, out _))
        {
            throw new ApiException(HttpStatusCode.BadRequest, "InvalidRoleAssignmentId", $"The role assignment ID '{name}' is not valid. The role assignment ID must be a GUID.");
        }

        var body = await ArmBody.ReadObjectAsync(context).ConfigureAwait(false);
        var errors = new List<ApiError>();
        if (body["properties"] is not JsonObject properties)
        {
            throw ApiErrors.InvalidRequestContent("The request content was invalid: 'properties' must be a JSON object with 'roleDefinitionId' and 'principalId'.", "properties");
        }

        var roleDefinitionId = ReadString(properties, "roleDefinitionId", errors, required: true);
        var principalId = ReadString(properties, "principalId", errors, required: true);
        var principalType = ReadString(properties, "principalType", errors, required: false);
        var description = ReadString(properties, "description", errors, required: false);
        if (principalId is not null && !Guid.TryParse(principalId, out _))
        {
            errors.Add(new ApiError("InvalidPrincipalId", $"A valid principal ID must be provided for role assignment. '{principalId}' is not a GUID.", "properties.principalId"));
        }

        if (principalType is not null && !PrincipalTypes.Contains(principalType, StringComparer.OrdinalIgnoreCase))
        {
            errors.Add(new ApiError(ArmErrorCodes.InvalidRequestContent, $"The principal type '{principalType}' is not one of {string.Join(", ", PrincipalTypes)}.", "properties.principalType"));
        }

        if (properties["condition"] is { } condition && condition.GetValueKind() != JsonValueKind.Null)
        {
            errors.Add(new ApiError(ArmErrorCodes.InvalidRequestContent, "Role assignment conditions are not supported by this cloud.", "properties.condition"));
        }

        string? roleName = null;
        if (roleDefinitionId is not null)
        {
            var match = RoleDefinitionIdPattern().Match(roleDefinitionId);
            if (!match.Success || !Guid.TryParse(match.Groups["name"].Value, out _))
            {
                errors.Add(new ApiError("InvalidRoleDefinitionId", $"The role definition ID '{roleDefinitionId}' is not valid.", "properties.roleDefinitionId"));
            }
            else
            {
                roleName = match.Groups["name"].Value;
            }
        }

        if (errors.Count > 0)
        {
            throw ApiException.FromValidation(errors);
        }

        await scope.EnsureExistsAsync(data, context.RequestAborted).ConfigureAwait(false);
        await roles.WaitLoadedAsync(context.RequestAborted).ConfigureAwait(false);
        var role = roles.FindRole(roleName!);
        KeyValue? storedRole = null;
        if (role is { IsBuiltIn: false })
        {
            // The custom role as stored (not as the view last saw it): its assignable scopes decide, and the commit compares it.
            storedRole = await data.Store.GetAsync(RbacKeys.Definition(role.Id), context.RequestAborted).ConfigureAwait(false);
            role = storedRole is null ? null : CustomRoleEntry.From(storedRole.Value).Definition;
        }

        if (role is null)
        {
            throw new ApiException(HttpStatusCode.BadRequest, "RoleDefinitionDoesNotExist", $"The specified role definition with ID '{roleName}' does not exist.");
        }

        if (!role.IsAssignableAt(scope.Path))
        {
            throw new ApiException(HttpStatusCode.BadRequest, "RoleDefinitionDoesNotExist", $"The specified role definition with ID '{roleName}' does not exist or is not assignable at scope '{scope.Path}'. " + (role.RootScopeOnly ? "Operator roles are assignable only at the root scope '/'." : "Its assignable scopes are: " + string.Join(", ", role.AssignableScopes) + "."));
        }

        var directory = context.RequestServices.GetRequiredService<PrincipalDirectory>();
        var principal = await directory.FindAsync(principalId!, context.RequestAborted).ConfigureAwait(false);
        if (principal is null)
        {
            throw new ApiException(HttpStatusCode.BadRequest, "PrincipalNotFound", $"Principal {principalId!.Replace("-", string.Empty, StringComparison.Ordinal)} does not exist in the directory {caller.TenantId}. Check that you have the correct principal ID. If you are creating this principal and then immediately assigning a role, this error might be related to a replication delay.");
        }

        if (principalType is not null && !principalType.Equals(principal.Kind, StringComparison.OrdinalIgnoreCase))
        {
            throw new ApiException(HttpStatusCode.BadRequest, "UnmatchedPrincipalType", $"The PrincipalId '{principalId}' has type '{principal.Kind}', which is different from specified PrincipalType '{principalType}'.");
        }

        var existing = roles.FindAssignment(name);
        if (existing is not null)
        {
            var a = existing.Assignment;
            if (SameScope(a.Scope, scope.Path) && a.PrincipalId.Equals(principalId, StringComparison.OrdinalIgnoreCase) && a.RoleDefinitionId.Equals(roleName, StringComparison.OrdinalIgnoreCase))
            {
                await ArmResponses.WriteJsonAsync(context, StatusCodes.Status201Created, RoleDocuments.RenderAssignment(existing, AuthorizationEndpoints.ApiVersionOf(context))).ConfigureAwait(false);
                return;
            }

            throw new ApiException(HttpStatusCode.Conflict, "RoleAssignmentUpdateNotPermitted", "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.");
        }

        var document = RoleDocuments.NewAssignment(name, scope.Path, role.Id, principalId!, principal.Kind, caller.ObjectId, data.Time.GetUtcNow(), description);
        var bytes = Encoding.UTF8.GetBytes(document.ToJsonString());
        var uniqueness = RbacKeys.AssignmentUniqueness(principalId!, role.Id, scope.Path);
        var compares = new List<Compare> { Compare.Absent(RbacKeys.Assignment(name)), Compare.Absent(uniqueness) };
        var ops = new List<TxnOp> { TxnOp.Put(uniqueness, Encoding.UTF8.GetBytes(name)) };
        if (storedRole is not null)
        {
            // The role must be unchanged when the assignment lands (a concurrent update or delete of the role loses),
            // and the role's usage key moves, so a role update or delete racing this assignment fails its own compare.
            compares.Add(Compare.ModRevisionIs(storedRole.Key, storedRole.ModRevision));
            ops.Add(TxnOp.Put(RbacKeys.RoleUsage(role.Id), Encoding.UTF8.GetBytes(name)));
        }

        // The assignment key goes last: the view treats its watch event as the end of this transaction.
        ops.Add(TxnOp.Put(RbacKeys.Assignment(name), bytes));
        var result = await data.CommitAsync(context, new TxnRequest(compares, ops), StatusCodes.Status201Created).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            if (await data.Store.GetAsync(uniqueness, context.RequestAborted).ConfigureAwait(false) is not null)
            {
                throw new ApiException(HttpStatusCode.Conflict, "RoleAssignmentExists", "The role assignment already exists.");
            }

            throw ApiErrors.Conflict("The role assignment or its role definition was changed concurrently; retry the request.");
        }

        await roles.WaitForRevisionAsync(result.Revision, context.RequestAborted).ConfigureAwait(false);
        var created = roles.FindAssignment(name) ?? RoleAssignmentEntry.From(bytes);
        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status201Created, RoleDocuments.RenderAssignment(created, AuthorizationEndpoints.ApiVersionOf(context))).ConfigureAwait(false);
    }

    public static async Task DeleteAsync(HttpContext context, AuthorizationScope scope, string name)
    {
        var (data, authorizer, roles) = AuthorizationEndpoints.Services(context);
        await authorizer.AuthorizeAsync(context, DeleteAction, scope.Path).ConfigureAwait(false);
        scope.EnsureWritable();
        await roles.WaitLoadedAsync(context.RequestAborted).ConfigureAwait(false);
        var existing = roles.FindAssignment(name);
        if (existing is null || !SameScope(existing.Assignment.Scope, scope.Path))
        {
            context.Response.StatusCode = StatusCodes.Status204NoContent;
            return;
        }

        var a = existing.Assignment;
        var compares = new List<Compare>();
        var ops = new List<TxnOp> { TxnOp.Delete(RbacKeys.AssignmentUniqueness(a.PrincipalId, a.RoleDefinitionId, a.Scope)) };
        if (IsCloudOperator(a))
        {
            // Holdfast: nobody could ever assign an operator role again; the cloud would have no operator. Deletes of
            // operator assignments run one at a time (each compares and rewrites the guard key), and the view is read
            // as of the last one, so two concurrent deletes cannot each leave the other as the last operator.
            var guard = await data.Store.GetAsync(RbacKeys.OperatorGuard, context.RequestAborted).ConfigureAwait(false);
            if (guard is not null)
            {
                await roles.WaitForRevisionAsync(guard.ModRevision, context.RequestAborted).ConfigureAwait(false);
            }

            if (!await HasOtherOperatorAsync(context, roles, name).ConfigureAwait(false))
            {
                throw new ApiException(HttpStatusCode.Conflict, "LastOperatorAssignment", $"The role assignment '{name}' is the last '{BuiltInRoles.CloudOperator.RoleName}' assignment held by an existing user or service principal; assign the role to another principal before removing it.");
            }

            compares.Add(guard is null ? Compare.Absent(RbacKeys.OperatorGuard) : Compare.ModRevisionIs(RbacKeys.OperatorGuard, guard.ModRevision));
            ops.Add(TxnOp.Put(RbacKeys.OperatorGuard, Encoding.UTF8.GetBytes(name)));
        }

        var key = RbacKeys.Assignment(name);
        var stored = await data.Store.GetAsync(key, context.RequestAborted).ConfigureAwait(false);
        if (stored is null)
        {
            context.Response.StatusCode = StatusCodes.Status204NoContent;
            return;
        }

        // The assignment key goes last: the view treats its watch event as the end of this transaction.
        compares.Add(Compare.ModRevisionIs(key, stored.ModRevision));
        ops.Add(TxnOp.Delete(key));
        var result = await data.CommitAsync(context, new TxnRequest(compares, ops), StatusCodes.Status200OK).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw ApiErrors.Conflict("The role assignment was changed concurrently; retry the request.");
        }

        await roles.WaitForRevisionAsync(result.Revision, context.RequestAborted).ConfigureAwait(false);
        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, RoleDocuments.RenderAssignment(RoleAssignmentEntry.From(stored.Value), AuthorizationEndpoints.ApiVersionOf(context))).ConfigureAwait(false);
    }

    /// <summary>
    /// Whether an operator assignment other than <paramref name="name"/> still gives the cloud an operator: its
    /// principal must exist and be a user or service principal (a group's members are not counted; a deleted
    /// principal's leftover assignment operates nothing).
    /// </summary>
    private static async Task<bool> HasOtherOperatorAsync(HttpContext context, RoleDirectory roles, string name)
    {
        var directory = context.RequestServices.GetRequiredService<PrincipalDirectory>();
        foreach (var other in roles.Assignments.Select(o => o.Assignment))
        {
            if (other.Name.Equals(name, StringComparison.OrdinalIgnoreCase) || !IsCloudOperator(other))
            {
                continue;
            }

            var principal = await directory.FindAsync(other.PrincipalId, context.RequestAborted).ConfigureAwait(false);
            if (principal is not null && principal.Kind != PrincipalKinds.Group)
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsCloudOperator(RoleAssignment assignment) =>
        assignment.RoleDefinitionId.Equals(BuiltInRoles.CloudOperator.Id, StringComparison.OrdinalIgnoreCase) && Scopes.IsRoot(assignment.Scope);

    private static bool SameScope(string a, string b) => string.Equals(a.TrimEnd('/'), b.TrimEnd('/'), StringComparison.OrdinalIgnoreCase);

    private static ApiException NotFound(string name) =>
        new(HttpStatusCode.NotFound, "RoleAssignmentNotFound", $"The role assignment '{name}' is not found.");

    private static string? ReadString(JsonObject properties, string name, List<ApiError> errors, bool required)
    {
        var node = properties[name];
        if (node is null || node.GetValueKind() == JsonValueKind.Null)
        {
            if (required)
            {
                errors.Add(new ApiError(ArmErrorCodes.InvalidRequestContent, $"The '{name}' property is required.", "properties." + name));
            }

            return null;
        }

        if (node.GetValueKind() != JsonValueKind.String || node.GetValue<string>().Length == 0)
        {
            errors.Add(new ApiError(ArmErrorCodes.InvalidRequestContent, $"The '{name}' property must be a non-empty string.", "properties." + name));
            return null;
        }

        return node.GetValue<string>();
    }

    [GeneratedRegex(@"^(/subscriptions/[^/]+(/resourceGroups/[^/]+)?)?/providers/Microsoft\.Authorization/roleDefinitions/(?<name>[^/]+)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex RoleDefinitionIdPattern();
}

/// <summary>The role-assignment list filters Azure accepts: <c>atScope()</c>, <c>principalId eq '…'</c>, <c>assignedTo('…')</c>, joined by <c>and</c>.</summary>
internal sealed partial record AssignmentFilter(bool AtScope, string? PrincipalId, bool IncludeGroups)
{
    public static AssignmentFilter Parse(string filter)
    {
        var result = new AssignmentFilter(false, null, false);
        if (string.IsNullOrWhiteSpace(filter))
        {
            return result;
        }

        foreach (var clause in AndPattern().Split(filter.Trim()))
        {
            var term = clause.Trim();
            if (term.Equals("atScope()", StringComparison.OrdinalIgnoreCase))
            {
                result = result with { AtScope = true };
                continue;
            }

            var match = PrincipalPattern().Match(term);
            if (match.Success && result.PrincipalId is null && Guid.TryParse(match.Groups["id"].Value, out _))
            {
                result = result with { PrincipalId = match.Groups["id"].Value, IncludeGroups = match.Groups["assigned"].Success };
                continue;
            }

            throw new ApiException(HttpStatusCode.BadRequest, "InvalidFilter", $"The filter '{filter}' is not supported. Supported filters are atScope(), principalId eq '{{id}}' and assignedTo('{{id}}'), joined with 'and'.");
        }

        return result;
    }

    [GeneratedRegex(@"\s+and\s+", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex AndPattern();

    [GeneratedRegex(@"^(?:principalId\s+eq\s+'(?<id>[^']+)'|(?<assigned>assignedTo)\('(?<id>[^']+)'\))$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex PrincipalPattern();
}
