using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Holdfast.Identity.Authorization;
using Holdfast.Resources.Errors;
using Holdfast.Resources.Ids;
using Holdfast.Server.Arm;
using Holdfast.State;
using Microsoft.AspNetCore.Http;

namespace Holdfast.Server.Authorization;

/// <summary>
/// <c>{scope}/providers/Microsoft.Authorization/roleDefinitions[/{guid}]</c>: built-in roles (read-only, Azure's names and
/// GUIDs) and custom roles — PUT (201 created / 200 updated) with Actions, NotActions, DataActions, NotDataActions
/// and AssignableScopes (never <c>/</c>, no wildcards, a unique name: <c>RoleDefinitionWithSameNameExists</c>), GET,
/// list (<c>$filter=roleName eq '…'</c> or <c>type eq 'BuiltInRole'|'CustomRole'</c>), DELETE (refused with
/// <c>RoleDefinitionHasAssignments</c> while assigned). Writing a custom role needs the write action at every one of
/// its assignable scopes, as Azure requires.
/// </summary>
internal static partial class RoleDefinitionEndpoints
{
    private const string ReadAction = "Microsoft.Authorization/roleDefinitions/read";
    private const string WriteAction = "Microsoft.Authorization/roleDefinitions/write";
    private const string DeleteAction = "Microsoft.Authorization/roleDefinitions/delete";

    public static async Task GetAsync(HttpContext context, AuthorizationScope scope, string name)
    {
        var (data, authorizer, roles) = AuthorizationEndpoints.Services(context);
        await authorizer.AuthorizeAsync(context, ReadAction, scope.Path).ConfigureAwait(false);
        await scope.EnsureExistsAsync(data, context.RequestAborted).ConfigureAwait(false);
        await roles.WaitLoadedAsync(context.RequestAborted).ConfigureAwait(false);
        var (role, stored) = Find(roles, name);
        if (role is null || !IsVisibleAt(role, scope.Path))
        {
            throw NotFound(name);
        }

        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, RoleDocuments.RenderDefinition(role, stored, scope.Path, AuthorizationEndpoints.ApiVersionOf(context))).ConfigureAwait(false);
    }

    public static async Task ListAsync(HttpContext context, AuthorizationScope scope)
    {
        var (data, authorizer, roles) = AuthorizationEndpoints.Services(context);
        await authorizer.AuthorizeAsync(context, ReadAction, scope.Path).ConfigureAwait(false);
        var (roleName, roleType) = ParseFilter(context.Request.Query["$filter"].ToString());
        await scope.EnsureExistsAsync(data, context.RequestAborted).ConfigureAwait(false);
        await roles.WaitLoadedAsync(context.RequestAborted).ConfigureAwait(false);
        var apiVersion = AuthorizationEndpoints.ApiVersionOf(context);
        var all = BuiltInRoles.All.Select(r => (Role: r, Stored: (JsonObject?)null))
            .Concat(roles.CustomRoles.Select(c => (Role: c.Definition, Stored: JsonNode.Parse(c.Document.Span) as JsonObject)));
        var items = all
            .Where(r => IsVisibleAt(r.Role, scope.Path))
            .Where(r => roleName is null || r.Role.RoleName.Equals(roleName, StringComparison.OrdinalIgnoreCase))
            .Where(r => roleType is null || r.Role.RoleType.Equals(roleType, StringComparison.OrdinalIgnoreCase))
            .OrderBy(r => r.Role.RoleName, StringComparer.OrdinalIgnoreCase)
            .Select(r => (JsonNode)RoleDocuments.RenderDefinition(r.Role, r.Stored, scope.Path, apiVersion))
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
            throw new ApiException(HttpStatusCode.BadRequest, "InvalidRoleDefinitionId", $"The role definition ID '{name}' is not valid. The role definition ID must be a GUID.");
        }

        if (BuiltInRoles.Find(name) is not null)
        {
            throw new ApiException(HttpStatusCode.BadRequest, "InvalidRoleDefinitionId", $"The role definition '{name}' is a built-in role and cannot be changed.");
        }

        var body = await ArmBody.ReadObjectAsync(context).ConfigureAwait(false);
        var definition = Validate(body, name);

        var key = RbacKeys.Definition(name);
        var existing = await data.Store.GetAsync(key, context.RequestAborted).ConfigureAwait(false);
        var previous = existing is null ? null : JsonNode.Parse(existing.Value.Span)!.AsObject();
        var previousDefinition = previous is null ? null : RoleDocuments.ReadDefinition(previous);
        if (!IsVisibleAt(definition, scope.Path) || (previousDefinition is not null && !IsVisibleAt(previousDefinition, scope.Path)))
        {
            // A role is written where it is assignable (or above): a role of another subscription is not this scope's to rewrite.
            throw new ApiException(HttpStatusCode.BadRequest, "InvalidRoleDefinitionId", $"The role definition '{name}' cannot be written at scope '{scope.Path}': the scope must contain, or lie inside, one of the role's assignable scopes.");
        }

        // Azure: writing a custom role needs the write action at every scope it is, and becomes, assignable at.
        await RequireAtEveryScopeAsync(authorizer, caller, WriteAction, (previousDefinition?.AssignableScopes ?? []).Concat(definition.AssignableScopes), context.RequestAborted).ConfigureAwait(false);
        await scope.EnsureExistsAsync(data, context.RequestAborted).ConfigureAwait(false);
        var (usage, assignments) = await AssignmentsOfAsync(data, roles, name, context.RequestAborted).ConfigureAwait(false);
        if (previousDefinition is null && assignments.Count > 0)
        {
            // Assignments left from an earlier role of this ID would silently gain the new role's permissions.
            throw new ApiException(HttpStatusCode.Conflict, "RoleDefinitionHasAssignments", $"There are existing role assignments referencing the role definition ID '{name}'; delete them or use another ID.");
        }

        if (assignments.FirstOrDefault(a => !definition.IsAssignableAt(a.Scope)) is { } stranded)
        {
            throw new ApiException(HttpStatusCode.Conflict, "RoleDefinitionHasAssignments", $"There are existing role assignments referencing role at scope '{stranded.Scope}', which the new assignable scopes do not include; delete them first.");
        }

        var previousName = previous?["properties"]?["roleName"]?.GetValue<string>();
        var now = data.Time.GetUtcNow().UtcDateTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture);
        var document = new JsonObject
        {
            ["name"] = name.ToLowerInvariant(),
            ["properties"] = new JsonObject
            {
                ["roleName"] = definition.RoleName,
                ["type"] = "CustomRole",
                ["description"] = definition.Description,
                ["assignableScopes"] = RoleDocuments.Strings(definition.AssignableScopes),
                ["permissions"] = RoleDocuments.RenderPermissions(definition.Permissions, RoleDocuments.StoredApiVersion),
                ["createdOn"] = previous?["properties"]?["createdOn"]?.DeepClone() ?? now,
                ["updatedOn"] = now,
                ["createdBy"] = previous?["properties"]?["createdBy"]?.DeepClone() ?? caller.ObjectId,
                ["updatedBy"] = caller.ObjectId,
            },
        };
        var bytes = Encoding.UTF8.GetBytes(document.ToJsonString());
        var nameKey = RbacKeys.RoleName(definition.RoleName);
        var compares = new List<Compare> { existing is null ? Compare.Absent(key) : Compare.ModRevisionIs(key, existing.ModRevision), UsageIs(name, usage) };
        var ops = new List<TxnOp>();
        var renamed = previousName is null || !RbacKeys.RoleName(previousName).Equals(nameKey, StringComparison.Ordinal);
        if (renamed)
        {
            compares.Add(Compare.Absent(nameKey));
            if (previousName is not null)
            {
                ops.Add(TxnOp.Delete(RbacKeys.RoleName(previousName)));
            }

            ops.Add(TxnOp.Put(nameKey, Encoding.UTF8.GetBytes(name.ToLowerInvariant())));
        }

        ops.Add(TxnOp.Put(key, bytes));
        var status = existing is null ? StatusCodes.Status201Created : StatusCodes.Status200OK;
        var result = await data.CommitAsync(context, new TxnRequest(compares, ops), status).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            if (renamed && await data.Store.GetAsync(nameKey, context.RequestAborted).ConfigureAwait(false) is not null)
            {
                throw new ApiException(HttpStatusCode.Conflict, "RoleDefinitionWithSameNameExists", "A custom role with the same name already exists in this directory. Use a different name.");
            }

            throw ApiErrors.Conflict("The role definition was changed concurrently; retry the request.");
        }

        await roles.WaitForRevisionAsync(result.Revision, context.RequestAborted).ConfigureAwait(false);
        await ArmResponses.WriteJsonAsync(context, status, RoleDocuments.RenderDefinition(RoleDocuments.ReadDefinition(document), document, scope.Path, AuthorizationEndpoints.ApiVersionOf(context))).ConfigureAwait(false);
    }

    public static async Task DeleteAsync(HttpContext context, AuthorizationScope scope, string name)
    {
        var (data, authorizer, roles) = AuthorizationEndpoints.Services(context);
        await authorizer.AuthorizeAsync(context, DeleteAction, scope.Path).ConfigureAwait(false);
        scope.EnsureWritable();
        if (BuiltInRoles.Find(name) is not null)
        {
            throw new ApiException(HttpStatusCode.BadRequest, "InvalidRoleDefinitionId", $"The role definition '{name}' is a built-in role and cannot be deleted.");
        }

        var caller = ArmRequest.Of(context).RequirePrincipal();
        await roles.WaitLoadedAsync(context.RequestAborted).ConfigureAwait(false);
        var key = RbacKeys.Definition(name);
        var existing = await data.Store.GetAsync(key, context.RequestAborted).ConfigureAwait(false);
        var stored = existing is null ? null : JsonNode.Parse(existing.Value.Span)!.AsObject();
        var definition = stored is null ? null : RoleDocuments.ReadDefinition(stored);
        if (existing is null || definition is null || !IsVisibleAt(definition, scope.Path))
        {
            // As GET: a role not assignable at or below this scope does not exist here.
            context.Response.StatusCode = StatusCodes.Status204NoContent;
            return;
        }

        // Azure: deleting a custom role needs the delete action at every one of its assignable scopes.
        await RequireAtEveryScopeAsync(authorizer, caller, DeleteAction, definition.AssignableScopes, context.RequestAborted).ConfigureAwait(false);
        var (usage, assignments) = await AssignmentsOfAsync(data, roles, name, context.RequestAborted).ConfigureAwait(false);
        if (assignments.Count > 0)
        {
            throw new ApiException(HttpStatusCode.Conflict, "RoleDefinitionHasAssignments", "There are existing role assignments referencing role.");
        }

        var result = await data.CommitAsync(
            context,
            new TxnRequest(
                [Compare.ModRevisionIs(key, existing.ModRevision), UsageIs(name, usage)],
                [TxnOp.Delete(RbacKeys.RoleName(definition.RoleName)), TxnOp.Delete(RbacKeys.RoleUsage(name)), TxnOp.Delete(key)]),
            StatusCodes.Status200OK).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw ApiErrors.Conflict("The role definition was changed concurrently; retry the request.");
        }

        await roles.WaitForRevisionAsync(result.Revision, context.RequestAborted).ConfigureAwait(false);
        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, RoleDocuments.RenderDefinition(definition, stored, scope.Path, AuthorizationEndpoints.ApiVersionOf(context))).ConfigureAwait(false);
    }

    private static async Task RequireAtEveryScopeAsync(RequestAuthorizer authorizer, Holdfast.Identity.Tokens.TokenPrincipal caller, string action, IEnumerable<string> scopes, CancellationToken cancellationToken)
    {
        foreach (var assignable in scopes.Distinct(StringComparer.OrdinalIgnoreCase))
        {
            var decision = await authorizer.CheckAsync(caller, action, assignable, cancellationToken).ConfigureAwait(false);
            if (!decision.Allowed)
            {
                throw RequestAuthorizer.Denied(caller, action, assignable);
            }
        }
    }

    /// <summary>
    /// The role's assignments as of its usage key (every assignment of the role rewrites that key in its own
    /// transaction, so once the view has reached the key's revision it holds every assignment that landed; the role
    /// write then compares the key, and an assignment landing meanwhile makes it fail).
    /// </summary>
    private static async Task<(KeyValue? Usage, List<RoleAssignment> Assignments)> AssignmentsOfAsync(ArmData data, RoleDirectory roles, string name, CancellationToken cancellationToken)
    {
        var usage = await data.Store.GetAsync(RbacKeys.RoleUsage(name), cancellationToken).ConfigureAwait(false);
        if (usage is not null)
        {
            await roles.WaitForRevisionAsync(usage.ModRevision, cancellationToken).ConfigureAwait(false);
        }

        await roles.WaitLoadedAsync(cancellationToken).ConfigureAwait(false);
        var assignments = roles.Assignments
            .Select(a => a.Assignment)
            .Where(a => a.RoleDefinitionId.Equals(name, StringComparison.OrdinalIgnoreCase))
            .ToList();
        return (usage, assignments);
    }

    private static Compare UsageIs(string name, KeyValue? usage) =>
        usage is null ? Compare.Absent(RbacKeys.RoleUsage(name)) : Compare.ModRevisionIs(RbacKeys.RoleUsage(name), usage.ModRevision);

    /// <summary>Built-in roles are visible everywhere; a custom role where it is assignable, or above it.</summary>
    private static bool IsVisibleAt(RoleDefinition role, string scope) =>
        role.IsBuiltIn || role.AssignableScopes.Any(s => Scopes.Contains(s, scope) || Scopes.Contains(scope, s));

    private static (RoleDefinition? Role, JsonObject? Stored) Find(RoleDirectory roles, string name)
    {
        if (BuiltInRoles.Find(name) is { } builtIn)
        {
            return (builtIn, null);
        }

        return roles.FindCustomRole(name) is { } custom ? (custom.Definition, JsonNode.Parse(custom.Document.Span) as JsonObject) : (null, null);
    }

    private static RoleDefinition Validate(JsonObject body, string name)
    {
        if (body["properties"] is not JsonObject properties)
        {
            throw ApiErrors.InvalidRequestContent("The request content was invalid: 'properties' must be a JSON object.", "properties");
        }

        var errors = new List<ApiError>();
        var roleName = properties["roleName"] is { } rn && rn.GetValueKind() == JsonValueKind.String ? rn.GetValue<string>().Trim() : null;
        if (string.IsNullOrEmpty(roleName) || roleName.Length > 512)
        {
            errors.Add(new ApiError(ArmErrorCodes.InvalidRequestContent, "The 'roleName' property is required: a string of 1 to 512 characters.", "properties.roleName"));
        }

        string description = string.Empty;
        if (properties["description"] is { } d && d.GetValueKind() != JsonValueKind.Null)
        {
            if (d.GetValueKind() != JsonValueKind.String || d.GetValue<string>().Length > 2048)
            {
                errors.Add(new ApiError(ArmErrorCodes.InvalidRequestContent, "The 'description' property must be a string of at most 2048 characters.", "properties.description"));
            }
            else
            {
                description = d.GetValue<string>();
            }
        }

        if (properties["type"] is { } t && t.GetValueKind() != JsonValueKind.Null
            && (t.GetValueKind() != JsonValueKind.String || !t.GetValue<string>().Equals("CustomRole", StringComparison.OrdinalIgnoreCase)))
        {
            errors.Add(new ApiError(ArmErrorCodes.InvalidRequestContent, "The 'type' property of a role definition written through the API must be 'CustomRole'.", "properties.type"));
        }

        var permissions = new List<RolePermission>();
        if (properties["permissions"] is not JsonArray blocks || blocks.Count == 0)
        {
            errors.Add(new ApiError(ArmErrorCodes.InvalidRequestContent, "The 'permissions' property is required: an array of permission blocks.", "properties.permissions"));
        }
        else
        {
            for (var i = 0; i < blocks.Count; i++)
            {
                if (blocks[i] is not JsonObject block)
                {
                    errors.Add(new ApiError(ArmErrorCodes.InvalidRequestContent, "A permission block must be a JSON object.", $"properties.permissions[{i}]"));
                    continue;
                }

                permissions.Add(new RolePermission
                {
                    Actions = Actions(block, "actions", i, errors),
                    NotActions = Actions(block, "notActions", i, errors),
                    DataActions = Actions(block, "dataActions", i, errors),
                    NotDataActions = Actions(block, "notDataActions", i, errors),
                });
            }

            if (permissions.Count > 0 && permissions.All(p => p.Actions.Count == 0 && p.DataActions.Count == 0))
            {
                errors.Add(new ApiError("InvalidActionOrNotAction", "A custom role needs at least one action or data action.", "properties.permissions"));
            }
        }

        var assignableScopes = new List<string>();
        if (properties["assignableScopes"] is not JsonArray scopes || scopes.Count == 0)
        {
            errors.Add(new ApiError("InvalidAssignableScopes", "The 'assignableScopes' property is required: an array of at least one subscription, resource group or resource scope.", "properties.assignableScopes"));
        }
        else
        {
            foreach (var node in scopes)
            {
                var value = node?.GetValueKind() == JsonValueKind.String ? node.GetValue<string>() : null;
                if (value is null || !IsAssignableScope(value))
                {
                    errors.Add(new ApiError("InvalidAssignableScopes", $"The assignable scope '{node?.ToJsonString()}' is not valid: use a subscription, resource group or resource id; not the root scope '/' and no wildcards.", "properties.assignableScopes"));
                }
                else
                {
                    assignableScopes.Add(value.TrimEnd('/'));
                }
            }
        }

        if (errors.Count > 0)
        {
            throw ApiException.FromValidation(errors);
        }

        return new RoleDefinition
        {
            Id = name,
            RoleName = roleName!,
            Description = description,
            RoleType = "CustomRole",
            Permissions = permissions,
            AssignableScopes = assignableScopes,
        };
    }

    private static List<string> Actions(JsonObject block, string property, int index, List<ApiError> errors)
    {
        var result = new List<string>();
        var node = block[property];
        if (node is null || node.GetValueKind() == JsonValueKind.Null)
        {
            return result;
        }

        if (node is not JsonArray array)
        {
            errors.Add(new ApiError(ArmErrorCodes.InvalidRequestContent, $"The '{property}' property must be an array of strings.", $"properties.permissions[{index}].{property}"));
            return result;
        }

        foreach (var item in array)
        {
            var value = item?.GetValueKind() == JsonValueKind.String ? item.GetValue<string>() : null;
            if (string.IsNullOrWhiteSpace(value) || value.Count(c => c == '*') > 1 || value.Length > 512 || value.Any(char.IsWhiteSpace))
            {
                errors.Add(new ApiError("InvalidActionOrNotAction", $"'{item?.ToJsonString()}' is not a valid action: a non-empty string without spaces and with at most one wildcard.", $"properties.permissions[{index}].{property}"));
            }
            else
            {
                result.Add(value);
            }
        }

        return result;
    }

    private static bool IsAssignableScope(string scope)
    {
        if (Scopes.IsRoot(scope) || scope.Contains('*', StringComparison.Ordinal))
        {
            return false;
        }

        return ResourceId.TryParse(scope.TrimEnd('/'), out var id, out _) && id.SubscriptionId is not null && Guid.TryParse(id.SubscriptionId, out _);
    }

    private static (string? RoleName, string? RoleType) ParseFilter(string filter)
    {
        if (string.IsNullOrWhiteSpace(filter))
        {
            return (null, null);
        }

        var match = FilterPattern().Match(filter.Trim());
        if (!match.Success)
        {
            throw new ApiException(HttpStatusCode.BadRequest, "InvalidFilter", $"The filter '{filter}' is not supported. Supported filters are roleName eq '{{name}}' and type eq 'BuiltInRole'|'CustomRole'.");
        }

        var value = match.Groups["value"].Value;
        return match.Groups["field"].Value.Equals("roleName", StringComparison.OrdinalIgnoreCase) ? (value, null) : (null, value);
    }

    private static ApiException NotFound(string name) =>
        new(HttpStatusCode.NotFound, "RoleDefinitionDoesNotExist", $"The specified role definition with ID '{name}' does not exist.");

    [GeneratedRegex(@"^(?<field>roleName|type)\s+eq\s+'(?<value>[^']*)'$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex FilterPattern();
}
