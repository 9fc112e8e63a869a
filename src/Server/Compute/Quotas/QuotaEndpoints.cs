using System.Text.Json;
using System.Text.Json.Nodes;
using Holdfast.Capacity.Catalog;
using Holdfast.Identity.Authorization;
using Holdfast.Resources.Errors;
using Holdfast.Server.Arm;
using Holdfast.Server.Authorization;
using Holdfast.State;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Holdfast.Server.Compute.Quotas;

/// <summary>
/// The operator's quota API, at the root scope with <c>Holdfast.Capacity/quotas/*</c> actions (operator roles only):
/// <c>GET|PUT /providers/Holdfast.Capacity/quotas/{subscriptionId}</c>, api-version 2025-01-01. A PUT replaces what the
/// operator set (<c>totalRegionalVCpus</c>, <c>virtualMachines</c>, <c>families</c>); what it leaves out takes the
/// default. Answers show the effective limits and the current usage. Lowering a limit below usage is allowed (as Azure
/// allows): it refuses new VMs until usage falls under it.
/// </summary>
internal static class QuotaEndpoints
{
    public const string ApiVersion = "2025-01-01";
    private const string Collection = "/providers/Holdfast.Capacity/quotas";

    public static void Map(IEndpointRouteBuilder routes)
    {
        var metadata = new ArmEndpointMetadata(ApiVersions: [ApiVersion]);
        routes.MapGet(Collection + "/{subscriptionId}", GetAsync).WithMetadata(metadata);
        routes.MapPut(Collection + "/{subscriptionId}", PutAsync).WithMetadata(metadata);
    }

    private static async Task GetAsync(HttpContext context, string subscriptionId)
    {
        var data = context.RequestServices.GetRequiredService<ArmData>();
        await context.RequestServices.GetRequiredService<RequestAuthorizer>().AuthorizeAsync(context, "Holdfast.Capacity/quotas/read", Scopes.Root).ConfigureAwait(false);
        var subscription = (await data.GetSubscriptionAsync(subscriptionId, ArmRequest.Of(context).RequirePrincipal(), context.RequestAborted).ConfigureAwait(false)).SubscriptionId;
        var ledger = new QuotaLedger(data.Store);
        var (limits, _) = await ledger.ReadLimitsAsync(subscription, context.RequestAborted).ConfigureAwait(false);
        var (usage, _) = await ledger.ReadUsageAsync(subscription, context.RequestAborted).ConfigureAwait(false);
        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, Render(subscription, limits, usage)).ConfigureAwait(false);
    }

    private static async Task PutAsync(HttpContext context, string subscriptionId)
    {
        var data = context.RequestServices.GetRequiredService<ArmData>();
        await context.RequestServices.GetRequiredService<RequestAuthorizer>().AuthorizeAsync(context, "Holdfast.Capacity/quotas/write", Scopes.Root).ConfigureAwait(false);
        var subscription = (await data.GetSubscriptionAsync(subscriptionId, ArmRequest.Of(context).RequirePrincipal(), context.RequestAborted).ConfigureAwait(false)).SubscriptionId;
        var body = await ArmBody.ReadObjectAsync(context).ConfigureAwait(false);
        if (body["properties"] is not JsonObject properties)
        {
            throw ApiErrors.InvalidRequestContent("The request content was invalid: 'properties' must be a JSON object.", "properties");
        }

        var errors = new List<ApiError>();
        var families = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        if (properties["families"] is JsonObject familyLimits)
        {
            foreach (var (name, node) in familyLimits)
            {
                if (VmSizeCatalog.FindFamily(name) is not { } family)
                {
                    errors.Add(new ApiError(ArmErrorCodes.InvalidParameter, $"'{name}' is not a VM family of this cloud. Known families: {string.Join(", ", VmSizeCatalog.Families.Select(f => f.Name))}.", "properties.families." + name));
                }
                else if (ReadLimit(node, "properties.families." + name, errors) is { } limit)
                {
                    families[family.Name] = limit;
                }
            }
        }
        else if (properties["families"] is { } other && other.GetValueKind() != JsonValueKind.Null)
        {
            errors.Add(new ApiError(ArmErrorCodes.InvalidRequestContent, "The 'families' property must be an object of family name to vCPU limit.", "properties.families"));
        }

        var limits = new QuotaLimits
        {
            TotalRegionalVCpus = ReadLimit(properties["totalRegionalVCpus"], "properties.totalRegionalVCpus", errors),
            VirtualMachines = ReadLimit(properties["virtualMachines"], "properties.virtualMachines", errors),
            Families = families,
        };
        if (errors.Count > 0)
        {
            throw ApiException.FromValidation(errors);
        }

        var key = QuotaLedger.LimitsKey(subscription);
        var existing = await data.Store.GetAsync(key, context.RequestAborted).ConfigureAwait(false);
        var status = existing is null ? StatusCodes.Status201Created : StatusCodes.Status200OK;
        var result = await data.CommitAsync(
            context,
            new TxnRequest([existing is null ? Compare.Absent(key) : Compare.ModRevisionIs(key, existing.ModRevision)], [TxnOp.Put(key, QuotaLedger.Serialize(limits))]),
            status).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw ApiErrors.Conflict($"The quota of subscription '{subscription}' was changed concurrently; retry the request.");
        }

        var (usage, _) = await new QuotaLedger(data.Store).ReadUsageAsync(subscription, context.RequestAborted).ConfigureAwait(false);
        await ArmResponses.WriteJsonAsync(context, status, Render(subscription, limits, usage)).ConfigureAwait(false);
    }

    private static int? ReadLimit(JsonNode? node, string target, List<ApiError> errors)
    {
        if (node is null || node.GetValueKind() == JsonValueKind.Null)
        {
            return null;
        }

        if (node.GetValueKind() != JsonValueKind.Number || !node.AsValue().TryGetValue<int>(out var limit) || limit < 0)
        {
            errors.Add(new ApiError(ArmErrorCodes.InvalidParameter, $"The '{target}' property must be a non-negative integer.", target));
            return null;
        }

        return limit;
    }

    private static JsonObject Render(string subscriptionId, QuotaLimits limits, QuotaUsage usage)
    {
        var families = new JsonObject();
        var familyUsage = new JsonObject();
        foreach (var family in VmSizeCatalog.Families)
        {
            families[family.Name] = limits.FamilyLimit(family.Name);
            familyUsage[family.Name] = usage.FamilyVCpus(family.Name);
        }

        return new JsonObject
        {
            ["id"] = Collection + "/" + subscriptionId,
            ["name"] = subscriptionId,
            ["type"] = "Holdfast.Capacity/quotas",
            ["properties"] = new JsonObject
            {
                ["totalRegionalVCpus"] = limits.EffectiveTotalRegionalVCpus,
                ["virtualMachines"] = limits.EffectiveVirtualMachines,
                ["families"] = families,
                ["usage"] = new JsonObject
                {
                    ["totalRegionalVCpus"] = usage.VCpus,
                    ["virtualMachines"] = usage.VirtualMachines,
                    ["families"] = familyUsage,
                },
            },
        };
    }
}
