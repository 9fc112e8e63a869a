using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Holdfast.Capacity.Inventory;
using Holdfast.Identity.Authorization;
using Holdfast.Resources.Errors;
using Holdfast.Server.Arm;
using Holdfast.Server.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Holdfast.Server.Fabric;

/// <summary>
/// What the operator's fleet and planning APIs share (docs/designs/0004-fleet-and-agents.md, "Fleet API"): the
/// namespaces and api-version, RBAC at the root scope, the fabric name rule, ARM-shaped rendering
/// (<c>{id,name,type,properties}</c>), body reading that reports every problem, and the errors.
/// </summary>
internal static class FabricApi
{
    public const string Namespace = "Holdfast.Fabric";
    public const string CapacityNamespace = "Holdfast.Capacity";
    public const string ApiVersion = "2025-01-01";

    /// <summary>ARM's code for an action the resource's current state does not allow (409).</summary>
    public const string OperationNotAllowed = "OperationNotAllowed";

    /// <summary>How often a write retries after losing a compare-and-swap to a concurrent change before answering 409.</summary>
    public const int MaxAttempts = 8;

    private static readonly string[] VectorFields = ["vCpus", "memoryMiB", "diskGiB", "gpus"];

    public static readonly ArmEndpointMetadata Metadata = new(ApiVersions: [ApiVersion]);

    /// <summary>Maps every fleet and planning route.</summary>
    public static void Map(IEndpointRouteBuilder routes)
    {
        FleetTopologyEndpoints.Map(routes);
        HostEndpoints.Map(routes);
        PlanningEndpoints.Map(routes);
    }

    public static ValueTask AuthorizeAsync(HttpContext context, string action) =>
        context.RequestServices.GetRequiredService<RequestAuthorizer>().AuthorizeAsync(context, action, Scopes.Root);

    public static ArmData Data(HttpContext context) => context.RequestServices.GetRequiredService<ArmData>();

    public static CapacityService Capacity(HttpContext context) => context.RequestServices.GetRequiredService<CapacityService>();

    /// <summary>
    /// The fabric name rule (sites, clusters, racks, hosts): 1-63 characters of letters, digits and '-', starting with a
    /// letter or digit; case-insensitive, so the lower-cased form is returned and stored.
    /// </summary>
    public static string ValidateName(string name, string type)
    {
        var problem = name.Length is < 1 or > 63
            ? "The name must be 1 to 63 characters long."
            : name.FirstOrDefault(c => !char.IsAsciiLetterOrDigit(c) && c != '-') is var bad && bad != default
                ? $"The name can only contain letters, digits or '-'; '{bad}' is not allowed."
                : name[0] == '-' ? "The name must start with a letter or digit." : null;
        if (problem is not null)
        {
            throw ApiErrors.InvalidResourceName(name, $"{Namespace}/{type}", problem);
        }

        return name.ToLowerInvariant();
    }

    public static string ResourceId(string type, string name) => $"/providers/{Namespace}/{type}/{name}";

    public static JsonObject Resource(string type, string name, JsonObject properties) => new()
    {
        ["id"] = ResourceId(type, name),
        ["name"] = name,
        ["type"] = $"{Namespace}/{type}",
        ["properties"] = properties,
    };

    public static ApiException NotFound(string type, string name) => ApiErrors.ResourceNotFound($"{Namespace}/{type}", name);

    public static ApiException NotAllowed(string message) => new(HttpStatusCode.Conflict, OperationNotAllowed, message);

    public static ApiException ConcurrentChange(string what) =>
        new(HttpStatusCode.Conflict, ArmErrorCodes.Conflict, $"The {what} was changed concurrently; retry the request.");

    /// <summary>The body's <c>properties</c> object; a missing or non-object <c>properties</c> is a 400.</summary>
    public static JsonObject Properties(JsonObject body) => body["properties"] switch
    {
        JsonObject properties => properties,
        null => throw ApiErrors.InvalidRequestContent("The 'properties' object is required.", "properties"),
        _ => throw ApiErrors.InvalidRequestContent("The 'properties' property must be a JSON object.", "properties"),
    };

    /// <summary>An optional string (1 to <paramref name="maxLength"/> characters, not blank); problems go to <paramref name="errors"/>.</summary>
    public static string? OptionalString(JsonObject owner, string property, string target, int maxLength, List<ApiError> errors)
    {
        var node = owner[property];
        if (node is null || node.GetValueKind() == JsonValueKind.Null)
        {
            return null;
        }

        if (node.GetValueKind() != JsonValueKind.String)
        {
            errors.Add(new ApiError(ArmErrorCodes.InvalidRequestContent, $"The '{target}' property must be a string.", target));
            return null;
        }

        var value = node.GetValue<string>();
        if (value.Trim().Length == 0 || value.Length > maxLength)
        {
            errors.Add(new ApiError(ArmErrorCodes.InvalidParameter, $"The '{target}' property must be 1 to {maxLength} characters and not blank.", target));
            return null;
        }

        return value;
    }

    /// <summary>A required fabric name in the body (a parent reference), lower-cased.</summary>
    public static string? RequiredName(JsonObject owner, string property, string target, List<ApiError> errors)
    {
        if (owner[property] is null || owner[property]!.GetValueKind() == JsonValueKind.Null)
        {
            errors.Add(new ApiError(ArmErrorCodes.InvalidRequestContent, $"The '{target}' property is required.", target));
            return null;
        }

        var value = OptionalString(owner, property, target, 63, errors);
        if (value is null)
        {
            return null;
        }

        try
        {
            return ValidateName(value, property + "s");
        }
        catch (ApiException ex)
        {
            errors.Add(new ApiError(ArmErrorCodes.InvalidParameter, $"The '{target}' property is not a valid name: {ex.Message}", target));
            return null;
        }
    }

    /// <summary>An optional integer in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static int? OptionalInt(JsonObject owner, string property, string target, int min, int max, List<ApiError> errors)
    {
        var node = owner[property];
        if (node is null || node.GetValueKind() == JsonValueKind.Null)
        {
            return null;
        }

        if (node.GetValueKind() != JsonValueKind.Number || !node.AsValue().TryGetValue<long>(out var value) || value < min || value > max)
        {
            errors.Add(new ApiError(ArmErrorCodes.InvalidParameter, string.Create(CultureInfo.InvariantCulture, $"The '{target}' property must be an integer from {min} to {max}."), target));
            return null;
        }

        return (int)value;
    }

    /// <summary>
    /// A capacity or demand vector <c>{"vCpus","memoryMiB","diskGiB","gpus"}</c>; missing dimensions are 0. Each dimension
    /// is bounded by <paramref name="limits"/>, so per-host values stay well inside <see cref="int"/>.
    /// </summary>
    public static CapacityVector? Vector(JsonNode? node, string target, CapacityVector limits, List<ApiError> errors)
    {
        if (node is not JsonObject vector)
        {
            errors.Add(new ApiError(ArmErrorCodes.InvalidRequestContent, $"The '{target}' property must be an object with vCpus, memoryMiB, diskGiB and gpus.", target));
            return null;
        }

        var before = errors.Count;
        foreach (var (name, _) in vector)
        {
            if (!VectorFields.Contains(name, StringComparer.Ordinal))
            {
                errors.Add(new ApiError(ArmErrorCodes.InvalidRequestContent, $"The '{target}.{name}' property is not a capacity dimension; use vCpus, memoryMiB, diskGiB and gpus.", $"{target}.{name}"));
            }
        }

        var result = new CapacityVector(
            OptionalInt(vector, "vCpus", target + ".vCpus", 0, limits.VCpus, errors) ?? 0,
            OptionalInt(vector, "memoryMiB", target + ".memoryMiB", 0, limits.MemoryMiB, errors) ?? 0,
            OptionalInt(vector, "diskGiB", target + ".diskGiB", 0, limits.DiskGiB, errors) ?? 0,
            OptionalInt(vector, "gpus", target + ".gpus", 0, limits.Gpus, errors) ?? 0);
        return errors.Count == before ? result : null;
    }

    /// <summary>An optional list of traits (1-64 characters each of letters, digits, '-', '_', '.'; at most 64), de-duplicated case-insensitively.</summary>
    public static IReadOnlyList<string>? Traits(JsonObject owner, string property, string target, List<ApiError> errors)
    {
        var node = owner[property];
        if (node is null || node.GetValueKind() == JsonValueKind.Null)
        {
            return null;
        }

        if (node is not JsonArray array || array.Count > 64)
        {
            errors.Add(new ApiError(ArmErrorCodes.InvalidRequestContent, $"The '{target}' property must be an array of at most 64 strings.", target));
            return null;
        }

        var traits = new List<string>();
        foreach (var item in array)
        {
            if (item is null || item.GetValueKind() != JsonValueKind.String || item.GetValue<string>() is not { Length: >= 1 and <= 64 } trait
                || !trait.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            {
                errors.Add(new ApiError(ArmErrorCodes.InvalidParameter, $"Each of '{target}' must be 1 to 64 letters, digits, '-', '_' or '.'.", target));
                return null;
            }

            if (!traits.Contains(trait, StringComparer.OrdinalIgnoreCase))
            {
                traits.Add(trait);
            }
        }

        return traits;
    }

    public static JsonObject Render(CapacityVector vector) => new()
    {
        ["vCpus"] = vector.VCpus,
        ["memoryMiB"] = vector.MemoryMiB,
        ["diskGiB"] = vector.DiskGiB,
        ["gpus"] = vector.Gpus,
    };

    public static string Timestamp(DateTimeOffset at) => at.UtcDateTime.ToString("O", CultureInfo.InvariantCulture);
}
