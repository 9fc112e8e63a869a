using System.Buffers.Text;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Holdfast.Audit.Chain;
using Holdfast.Resources.Errors;
using Holdfast.Resources.Ids;
using Holdfast.Server.Arm;
using Holdfast.Server.Arm.ResourceLists;
using Holdfast.Server.Authorization;
using Holdfast.State;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Holdfast.Server.Audit;

/// <summary>
/// Azure Monitor's Activity Log API (Microsoft.Insights 2015-04-01, <c>activityLogs_API.json</c>) over the chained
/// entries: <c>GET /subscriptions/{id}/providers/Microsoft.Insights/eventtypes/management/values</c> for a
/// subscription's events and the tenant-level <c>/providers/Microsoft.Insights/eventtypes/management/values</c> for
/// operator events (no subscription; scope <c>/</c>). EventData in Azure's shape, <c>$filter</c>
/// (<see cref="ActivityLogFilter"/>), <c>$select</c> and <c>nextLink</c> paging, in sequence order. Pending records
/// appear once chained.
/// </summary>
internal static class ActivityLogEndpoints
{
    public const string Action = "Microsoft.Insights/eventtypes/values/read";
    public const string ApiVersion = "2015-04-01";
    private const int PageSize = 200;

    // A page stops after scanning this many entries, so one request's work is bounded; the nextLink resumes after them.
    private const int ScanBudget = 5000;

    /// <summary>How far an entry's timestamp may run ahead of a later-committed one (the time from a record to its commit).</summary>
    private static readonly TimeSpan TimestampSlack = TimeSpan.FromMinutes(1);

    public static void Map(IEndpointRouteBuilder routes)
    {
        var metadata = new ArmEndpointMetadata(ApiVersions: [ApiVersion]);
        routes.MapGet("/subscriptions/{subscriptionId}/providers/Microsoft.Insights/eventtypes/management/values", ListSubscriptionAsync).WithMetadata(metadata);
        routes.MapGet("/providers/Microsoft.Insights/eventtypes/management/values", ListTenantAsync).WithMetadata(metadata);
    }

    private static async Task ListSubscriptionAsync(HttpContext context, string subscriptionId)
    {
        // Authorization comes first, as at ARM's front door: a caller without the right learns nothing, not even that
        // the filter is wrong. A valid filter naming a group is checked at the group's scope.
        ActivityLogFilter? filter = null;
        ApiException? invalid = null;
        try
        {
            filter = ActivityLogFilter.Parse(context.Request.Query["$filter"].ToString());
        }
        catch (ApiException ex)
        {
            invalid = ex;
        }

        var scope = filter?.ResourceGroupName is { } group
            ? ResourceId.ResourceGroup(subscriptionId, group).ToString()
            : ResourceId.Subscription(subscriptionId).ToString();
        await context.RequestServices.GetRequiredService<RequestAuthorizer>().AuthorizeAsync(context, Action, scope).ConfigureAwait(false);
        if (invalid is not null)
        {
            throw invalid;
        }

        var data = context.RequestServices.GetRequiredService<ArmData>();
        var subscription = await data.GetSubscriptionAsync(subscriptionId, ArmRequest.Of(context).RequirePrincipal(), context.RequestAborted).ConfigureAwait(false);
        await WritePageAsync(context, data.Store, filter!, e => string.Equals(e.SubscriptionId, subscription.SubscriptionId, StringComparison.OrdinalIgnoreCase)).ConfigureAwait(false);
    }

    private static async Task ListTenantAsync(HttpContext context)
    {
        await context.RequestServices.GetRequiredService<RequestAuthorizer>().AuthorizeAsync(context, Action, "/").ConfigureAwait(false);
        var filter = ActivityLogFilter.Parse(context.Request.Query["$filter"].ToString());
        var data = context.RequestServices.GetRequiredService<ArmData>();
        await WritePageAsync(context, data.Store, filter, e => e.SubscriptionId is null).ConfigureAwait(false);
    }

    /// <summary><paramref name="time"/> less the slack, saturating at the earliest representable time.</summary>
    private static DateTimeOffset Earlier(DateTimeOffset time) =>
        time.UtcDateTime - DateTime.MinValue < TimestampSlack ? DateTimeOffset.MinValue : time.ToUniversalTime() - TimestampSlack;

    /// <summary><paramref name="time"/> plus the slack, saturating at the latest representable time.</summary>
    private static DateTimeOffset Later(DateTimeOffset time) =>
        DateTime.MaxValue - time.UtcDateTime < TimestampSlack ? DateTimeOffset.MaxValue : time.ToUniversalTime() + TimestampSlack;

    private static async Task WritePageAsync(HttpContext context, IStateStore store, ActivityLogFilter filter, Func<AuditEntry, bool> inScope)
    {
        var select = ParseSelect(context.Request.Query["$select"].ToString());
        var startAfter = ParseSkipToken(context.Request.Query["$skiptoken"].ToString())
            ?? await StartBeforeAsync(store, Earlier(filter.From), context.RequestAborted).ConfigureAwait(false);
        var items = new JsonArray();
        var lastScanned = startAfter;
        var scanned = 0;
        var more = false;
        var done = false;
        await foreach (var stored in AuditLog.StoredAsync(store, startAfter, context.RequestAborted).ConfigureAwait(false))
        {
            if (stored.Entries is not { } entries)
            {
                // A damaged record is for `holdfast audit verify` to name; the API serves what it can read.
                if (scanned == ScanBudget)
                {
                    more = true;
                    break;
                }

                scanned++;
                lastScanned = Math.Max(lastScanned, stored.LastSequence);
                continue;
            }

            foreach (var entry in entries)
            {
                if (items.Count == PageSize || scanned == ScanBudget)
                {
                    more = true;
                    break;
                }

                scanned++;
                lastScanned = entry.Sequence;
                if (filter.To is { } to && entry.EventTimestamp > Later(to))
                {
                    done = true;
                    break;
                }

                if (inScope(entry) && filter.Matches(entry))
                {
                    items.Add(Select(EventData.From(entry), select));
                }
            }

            if (more || done)
            {
                break;
            }
        }

        var body = new JsonObject { ["value"] = items };
        if (more && lastScanned > startAfter)
        {
            body["nextLink"] = ListQuery.NextLink(context, lastScanned.ToString(CultureInfo.InvariantCulture));
        }

        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, body).ConfigureAwait(false);
    }

    /// <summary>
    /// The sequence to start a first page after: a binary search over sequences for the first entry at or after
    /// <paramref name="from"/>. Entries are in commit order and their timestamps are taken just before the commit, so
    /// timestamps are ordered up to <see cref="TimestampSlack"/>, which the caller subtracts; the filter does the rest.
    /// Each probe reads the stored record holding the entry; probes inside the record read last are answered from it.
    /// </summary>
    private static async Task<long> StartBeforeAsync(IStateStore store, DateTimeOffset from, CancellationToken cancellationToken)
    {
        var first = await AuditLog.FirstStoredAsync(store, cancellationToken).ConfigureAwait(false);
        var head = await store.GetAsync(AuditKeys.Head, cancellationToken).ConfigureAwait(false);
        if (first?.Entries is not { Count: > 0 } firstEntries || head is null)
        {
            return 0;
        }

        var low = firstEntries[0].Sequence;
        var high = System.Text.Json.JsonSerializer.Deserialize(head.Value.Span, AuditServerJson.Default.AuditHead)?.Sequence ?? low;
        IReadOnlyList<AuditEntry> probed = firstEntries;
        while (low < high)
        {
            var middle = low + ((high - low) / 2);
            var entry = Find(probed, middle);
            if (entry is null && await AuditLog.StoredWithAsync(store, middle, cancellationToken).ConfigureAwait(false) is { Entries: { } entries })
            {
                probed = entries;
                entry = Find(probed, middle);
            }

            if (entry is null || entry.EventTimestamp < from)
            {
                low = middle + 1;
            }
            else
            {
                high = middle;
            }
        }

        return Math.Max(low - 1, 0);
    }

    private static AuditEntry? Find(IReadOnlyList<AuditEntry> entries, long sequence) =>
        entries.Count > 0 && sequence >= entries[0].Sequence && sequence - entries[0].Sequence < entries.Count && entries[(int)(sequence - entries[0].Sequence)] is { } entry && entry.Sequence == sequence
            ? entry
            : null;

    private static long? ParseSkipToken(string token)
    {
        if (token.Length == 0)
        {
            return null;
        }

        try
        {
            var text = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(token));
            if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var sequence))
            {
                return sequence;
            }
        }
        catch (FormatException)
        {
            // Reported below, as for any token that is not ours.
        }

        throw new ApiException(HttpStatusCode.BadRequest, ArmErrorCodes.BadRequest, "The $skiptoken is not valid for this list; start the list again without it.", "$skiptoken");
    }

    private static HashSet<string>? ParseSelect(string select) =>
        select.Trim().Length == 0
            ? null
            : select.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.OrdinalIgnoreCase);

    private static JsonObject Select(JsonObject eventData, HashSet<string>? select)
    {
        if (select is null)
        {
            return eventData;
        }

        foreach (var name in eventData.Select(p => p.Key).ToList())
        {
            if (!select.Contains(name))
            {
                eventData.Remove(name);
            }
        }

        return eventData;
    }

    /// <summary>One entry as Azure's <c>EventData</c>.</summary>
    private static class EventData
    {
        public static JsonObject From(AuditEntry entry)
        {
            var timestamp = entry.EventTimestamp.UtcDateTime.ToString("O", CultureInfo.InvariantCulture);
            var eventDataId = new Guid(Convert.FromHexString(entry.Hash.AsSpan(0, 32))).ToString();
            var statusName = Enum.IsDefined((HttpStatusCode)entry.HttpStatusCode) ? ((HttpStatusCode)entry.HttpStatusCode).ToString() : entry.HttpStatusCode.ToString(CultureInfo.InvariantCulture);
            var providerName = entry.Operation.Split('/')[0];
            var data = new JsonObject
            {
                ["authorization"] = new JsonObject { ["action"] = entry.Operation, ["scope"] = entry.ResourceId },
                ["channels"] = "Operation",
                ["correlationId"] = entry.CorrelationId,
                ["description"] = string.Empty,
                ["eventDataId"] = eventDataId,
                ["eventName"] = Localized("EndRequest", "End request"),
                ["category"] = Localized(entry.Category),
                ["httpRequest"] = new JsonObject { ["clientIpAddress"] = entry.ClientAddress, ["method"] = entry.Description },
                ["id"] = $"{entry.ResourceId.TrimEnd('/')}/events/{eventDataId}/ticks/{entry.EventTimestamp.UtcTicks}",
                ["level"] = entry.Level,
                ["resourceGroupName"] = entry.ResourceGroupName,
                ["resourceProviderName"] = Localized(providerName),
                ["resourceId"] = entry.ResourceId,
                ["resourceType"] = Localized(ResourceTypeOf(entry.ResourceId)),
                ["operationId"] = entry.CorrelationId,
                ["operationName"] = Localized(entry.Operation),
                ["properties"] = new JsonObject
                {
                    ["statusCode"] = statusName,
                    ["errorCode"] = entry.SubStatus,
                    ["auditSequence"] = entry.Sequence.ToString(CultureInfo.InvariantCulture),
                    ["auditHash"] = entry.Hash,
                },
                ["status"] = Localized(entry.Status),
                ["subStatus"] = Localized(statusName, $"{statusName} (HTTP Status Code: {entry.HttpStatusCode})"),
                ["eventTimestamp"] = timestamp,
                ["submissionTimestamp"] = timestamp,
                ["subscriptionId"] = entry.SubscriptionId,
                ["tenantId"] = entry.TenantId.Length > 0 ? entry.TenantId : null,
            };
            if (entry.CallerAppId.Length > 0)
            {
                data["caller"] = entry.CallerAppId;
                data["claims"] = new JsonObject
                {
                    ["appid"] = entry.CallerAppId,
                    ["http://schemas.microsoft.com/identity/claims/objectidentifier"] = entry.CallerObjectId,
                    ["http://schemas.microsoft.com/identity/claims/tenantid"] = entry.TenantId,
                };
            }

            foreach (var name in data.Where(p => p.Value is null).Select(p => p.Key).ToList())
            {
                data.Remove(name);
            }

            return data;
        }

        private static JsonObject Localized(string value, string? localized = null) => new() { ["value"] = value, ["localizedValue"] = localized ?? value };

        private static string ResourceTypeOf(string resourceId) =>
            ResourceId.TryParse(resourceId, out var id, out _) ? id.ResourceType : "Microsoft.Resources/tenants";
    }
}
