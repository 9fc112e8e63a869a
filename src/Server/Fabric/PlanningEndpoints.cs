using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Holdfast.Capacity.Inventory;
using Holdfast.Capacity.Placement;
using Holdfast.Capacity.Planning;
using Holdfast.Resources.Errors;
using Holdfast.Server.Arm;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Holdfast.Server.Fabric;

/// <summary>
/// The operator's planning views, <c>/providers/Holdfast.Capacity/…</c> (read actions <c>Holdfast.Capacity/{view}/read</c>
/// at the root scope): <c>utilization</c> per cluster and dimension with stranded capacity; <c>forecast</c> (daily peaks
/// of the usage history, Holt-Winters, days until each dimension runs out); <c>whatIf</c> (can N VMs of this demand be
/// placed now, and where — on a copy of the index, nothing committed); <c>explain</c> (which filter rejects how many
/// hosts for one VM). Cluster sums are 64-bit: a cluster of many large hosts does not overflow.
/// </summary>
internal static class PlanningEndpoints
{
    private const string Root = "/providers/" + FabricApi.CapacityNamespace;

    /// <summary>The smallest size sold (Azure's Standard_B1ls): a host whose free capacity cannot take it has that capacity stranded.</summary>
    private static readonly CapacityVector SmallestVm = new(1, 512, 0, 0);

    /// <summary>Bounds of one VM's demand in a planning request.</summary>
    private static readonly CapacityVector DemandLimits = new(16384, 1 << 30, 1 << 30, 1024);

    private const int DefaultHorizonDays = 90;
    private const int MaxHorizonDays = 3650;
    private const int MaxWhatIfCount = 10000;

    public static void Map(IEndpointRouteBuilder routes)
    {
        routes.MapGet(Root + "/utilization", UtilizationAsync).WithMetadata(FabricApi.Metadata);
        routes.MapGet(Root + "/forecast", ForecastAsync).WithMetadata(FabricApi.Metadata);
        routes.MapPost(Root + "/whatIf", WhatIfAsync).WithMetadata(FabricApi.Metadata);
        routes.MapPost(Root + "/explain", ExplainAsync).WithMetadata(FabricApi.Metadata);
    }

    private static string Action(string view) => $"{FabricApi.CapacityNamespace}/{view}/read";

    private static async Task UtilizationAsync(HttpContext context)
    {
        await FabricApi.AuthorizeAsync(context, Action("utilization")).ConfigureAwait(false);
        var capacity = FabricApi.Capacity(context);
        await capacity.WaitLoadedAsync(context.RequestAborted).ConfigureAwait(false);
        var clusters = Aggregate(capacity.Hosts());
        var value = new JsonArray();
        foreach (var (cluster, totals) in clusters)
        {
            var dimensions = new JsonArray();
            for (var d = 0; d < CapacityVector.Dimensions; d++)
            {
                var total = totals.Capacity[d];
                var allocated = totals.Used[d];
                var reserved = totals.ReservedUnused[d];
                dimensions.Add(new JsonObject
                {
                    ["name"] = Dimension(d),
                    ["total"] = total,
                    ["allocated"] = allocated,
                    ["reservedUnused"] = reserved,
                    ["free"] = Math.Max(0, total - allocated - reserved),
                    ["utilizationPercent"] = Percent(allocated, total),
                    ["stranded"] = totals.Stranded[d],
                    ["strandedPercent"] = Percent(totals.Stranded[d], total),
                });
            }

            value.Add(new JsonObject
            {
                ["cluster"] = cluster,
                ["hosts"] = totals.Hosts,
                ["inServiceHosts"] = totals.InServiceHosts,
                ["dimensions"] = dimensions,
            });
        }

        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, new JsonObject
        {
            ["value"] = value,
            ["strandedBelow"] = new JsonObject { ["size"] = "Standard_B1ls", ["demand"] = FabricApi.Render(SmallestVm) },
        }).ConfigureAwait(false);
    }

    private static async Task ForecastAsync(HttpContext context)
    {
        await FabricApi.AuthorizeAsync(context, Action("forecast")).ConfigureAwait(false);
        var horizonText = context.Request.Query["horizonDays"].ToString();
        var horizon = DefaultHorizonDays;
        if (horizonText.Length > 0 && (!int.TryParse(horizonText, NumberStyles.None, CultureInfo.InvariantCulture, out horizon) || horizon < 1 || horizon > MaxHorizonDays))
        {
            throw new ApiException(HttpStatusCode.BadRequest, ArmErrorCodes.InvalidQueryParameterValue, $"The value '{horizonText}' of query parameter 'horizonDays' must be an integer from 1 to {MaxHorizonDays}.", "horizonDays");
        }

        var only = context.Request.Query["cluster"].ToString();
        var capacity = FabricApi.Capacity(context);
        await capacity.WaitLoadedAsync(context.RequestAborted).ConfigureAwait(false);
        var live = Aggregate(capacity.Hosts());
        var history = await context.RequestServices.GetRequiredService<UsageHistory>().ReadAsync(context.RequestAborted).ConfigureAwait(false);
        var clusters = live.Keys.Union(history.Keys, StringComparer.OrdinalIgnoreCase).Order(StringComparer.OrdinalIgnoreCase).ToList();
        if (only.Length > 0)
        {
            clusters = [.. clusters.Where(c => c.Equals(only, StringComparison.OrdinalIgnoreCase))];
            if (clusters.Count == 0)
            {
                throw FabricApi.NotFound("clusters", only);
            }
        }

        var value = new JsonArray();
        foreach (var cluster in clusters)
        {
            var days = history.TryGetValue(cluster, out var h) ? FillGaps(h.Days) : [];
            LongVector total = live.TryGetValue(cluster, out var now) && now.InServiceHosts > 0 ? now.Capacity : h?.LatestTotal ?? LongVector.Zero;
            value.Add(ForecastCluster(cluster, days, h?.Samples ?? 0, total, horizon));
        }

        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, new JsonObject { ["horizonDays"] = horizon, ["value"] = value }).ConfigureAwait(false);
    }

    private static JsonObject ForecastCluster(string cluster, List<(DateOnly Day, LongVector Peak)> days, int samples, LongVector total, int horizon)
    {
        var result = new JsonObject
        {
            ["cluster"] = cluster,
            ["samples"] = samples,
            ["historyDays"] = days.Count,
            ["capacity"] = Render(total),
            ["dailyPeaks"] = new JsonArray([.. days.Select(d => (JsonNode)new JsonObject
            {
                ["date"] = d.Day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
                ["allocated"] = Render(d.Peak),
            })]),
        };
        if (days.Count < 2)
        {
            result["method"] = null;
            result["insufficientHistory"] = $"Only {days.Count} day(s) of usage history; a forecast needs daily peaks of at least 2 days (the usage sampler records every cluster periodically).";
            result["daysUntilFull"] = null;
            result["limitingDimension"] = null;
            result["dimensions"] = new JsonArray();
            return result;
        }

        // As HoltWinters.Fit decides: a weekly season needs two full weeks.
        result["method"] = days.Count >= 2 * DemandForecast.WeekLength
            ? "Holt-Winters (additive, weekly season) on daily peaks"
            : "Holt's linear trend on daily peaks (under two weeks of history: no season)";
        result["insufficientHistory"] = null;
        var dimensions = new JsonArray();
        int? soonest = null;
        string? limiting = null;
        for (var d = 0; d < CapacityVector.Dimensions; d++)
        {
            if (total[d] <= 0)
            {
                continue;
            }

            var forecast = DemandForecast.ForecastDimension(Dimension(d), [.. days.Select(x => (double)x.Peak[d])], total[d], horizon);
            if (forecast.DaysUntilFull is { } full && (soonest is null || full < soonest))
            {
                (soonest, limiting) = (full, forecast.Dimension);
            }

            dimensions.Add(new JsonObject
            {
                ["name"] = forecast.Dimension,
                ["capacity"] = forecast.Capacity,
                ["lastPeak"] = forecast.LastPeak,
                ["daysUntilFull"] = forecast.DaysUntilFull,
                ["forecastPeaks"] = new JsonArray([.. forecast.DailyPeakForecast.Select(v => (JsonNode)Math.Round(v, 2))]),
            });
        }

        result["daysUntilFull"] = soonest;
        result["limitingDimension"] = limiting;
        result["dimensions"] = dimensions;
        return result;
    }

    private static async Task WhatIfAsync(HttpContext context)
    {
        await FabricApi.AuthorizeAsync(context, Action("whatIf")).ConfigureAwait(false);
        var body = await ArmBody.ReadObjectAsync(context).ConfigureAwait(false);
        var errors = new List<ApiError>();
        var request = ReadRequest(body, "whatif", errors);
        var count = FabricApi.OptionalInt(body, "count", "count", 1, MaxWhatIfCount, errors);
        if (count is null && errors.Count == 0)
        {
            errors.Add(new ApiError(ArmErrorCodes.InvalidRequestContent, $"The 'count' property is required: how many VMs (1 to {MaxWhatIfCount}).", "count"));
        }

        if (errors.Count > 0)
        {
            throw ApiException.FromValidation(errors);
        }

        var capacity = FabricApi.Capacity(context);
        await capacity.WaitLoadedAsync(context.RequestAborted).ConfigureAwait(false);
        var result = capacity.WhatIf(request!, count!.Value);
        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, new JsonObject
        {
            ["size"] = body["size"]?.DeepClone(),
            ["demand"] = FabricApi.Render(request!.Demand),
            ["requested"] = result.Requested,
            ["placeable"] = result.Placeable,
            ["placements"] = new JsonArray([.. result.PerHost.Select(p => (JsonNode)new JsonObject { ["host"] = p.Key, ["count"] = p.Value })]),
            ["explanation"] = result.Shortfall is null ? null : Render(result.Shortfall),
        }).ConfigureAwait(false);
    }

    private static async Task ExplainAsync(HttpContext context)
    {
        await FabricApi.AuthorizeAsync(context, Action("explain")).ConfigureAwait(false);
        var body = await ArmBody.ReadObjectAsync(context).ConfigureAwait(false);
        var errors = new List<ApiError>();
        var request = ReadRequest(body, "explain", errors);
        if (errors.Count > 0)
        {
            throw ApiException.FromValidation(errors);
        }

        var capacity = FabricApi.Capacity(context);
        await capacity.WaitLoadedAsync(context.RequestAborted).ConfigureAwait(false);
        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, Render(capacity.Explain(request!))).ConfigureAwait(false);
    }

    /// <summary>
    /// One VM's placement request from a planning body: <c>demand</c> (required: there is no size catalog to resolve
    /// <c>size</c>, which is echoed only), optional <c>cluster</c>, <c>zone</c>, <c>requiredTraits</c>, <c>reservationId</c>.
    /// </summary>
    private static PlacementRequest? ReadRequest(JsonObject body, string id, List<ApiError> errors)
    {
        var before = errors.Count;
        FabricApi.OptionalString(body, "size", "size", 64, errors);
        CapacityVector? demand = null;
        if (body["demand"] is null)
        {
            errors.Add(new ApiError(ArmErrorCodes.InvalidRequestContent, "The 'demand' property is required: {\"vCpus\",\"memoryMiB\",\"diskGiB\",\"gpus\"} of one VM.", "demand"));
        }
        else if (FabricApi.Vector(body["demand"], "demand", DemandLimits, errors) is { } vector)
        {
            if (vector.IsZero)
            {
                errors.Add(new ApiError(ArmErrorCodes.InvalidParameter, "The 'demand' must ask for a positive amount of some resource.", "demand"));
            }
            else
            {
                demand = vector;
            }
        }

        var cluster = FabricApi.OptionalString(body, "cluster", "cluster", 63, errors);
        var zone = FabricApi.OptionalString(body, "zone", "zone", 32, errors);
        var reservation = FabricApi.OptionalString(body, "reservationId", "reservationId", 256, errors);
        var traits = FabricApi.Traits(body, "requiredTraits", "requiredTraits", errors) ?? [];
        if (errors.Count > before || demand is null)
        {
            return null;
        }

        return new PlacementRequest($"{id}:{Guid.NewGuid():N}", demand.Value)
        {
            Cluster = cluster,
            Zone = zone,
            RequiredTraits = traits,
            ReservationId = reservation,
        };
    }

    private static JsonObject Render(PlacementExplanation explanation)
    {
        var rejected = new JsonObject();
        foreach (var (filter, count) in explanation.RejectedBy.OrderBy(p => p.Key))
        {
            rejected[filter.ToString()] = count;
        }

        return new JsonObject
        {
            ["summary"] = explanation.Summary,
            ["hostsConsidered"] = explanation.HostsConsidered,
            ["candidates"] = explanation.Candidates,
            ["rejectedBy"] = rejected,
        };
    }

    private static JsonObject Render(LongVector vector) => new()
    {
        ["vCpus"] = vector.VCpus,
        ["memoryMiB"] = vector.MemoryMiB,
        ["diskGiB"] = vector.DiskGiB,
        ["gpus"] = vector.Gpus,
    };

    /// <summary>
    /// Per cluster: CapacityPlanner's per-host figures (capacity, used, unused holds, stranded — over InService hosts)
    /// summed in 64 bits, host by host, so the sum of a large cluster cannot overflow <see cref="int"/>.
    /// </summary>
    private static SortedDictionary<string, Totals> Aggregate(IEnumerable<HostSnapshot> hosts)
    {
        var clusters = new SortedDictionary<string, Totals>(StringComparer.OrdinalIgnoreCase);
        foreach (var host in hosts)
        {
            var one = CapacityPlanner.Utilization([host], SmallestVm)[0];
            var current = clusters.TryGetValue(one.Cluster, out var t) ? t : new Totals(0, 0, default, default, default, default);
            clusters[one.Cluster] = new Totals(
                current.Hosts + one.Hosts,
                current.InServiceHosts + one.InServiceHosts,
                current.Capacity + one.Capacity,
                current.Used + one.Used,
                current.ReservedUnused + one.ReservedUnused,
                current.Stranded + one.Stranded);
        }

        return clusters;
    }

    private static List<(DateOnly Day, LongVector Peak)> FillGaps(IReadOnlyList<(DateOnly Day, LongVector Peak)> days)
    {
        // A day without a sample repeats the previous day's peak, as DemandForecast.DailyPeaks does.
        var filled = new List<(DateOnly, LongVector)>();
        for (var i = 0; i < days.Count; i++)
        {
            if (i > 0)
            {
                for (var gap = days[i - 1].Day.AddDays(1); gap < days[i].Day; gap = gap.AddDays(1))
                {
                    filled.Add((gap, days[i - 1].Peak));
                }
            }

            filled.Add(days[i]);
        }

        return filled;
    }

    private static double Percent(long part, long whole) => whole == 0 ? 0 : Math.Round(100.0 * part / whole, 2);

    private static string Dimension(int d) => d switch
    {
        0 => "vCpus",
        1 => "memoryMiB",
        2 => "diskGiB",
        _ => "gpus",
    };

    private sealed record Totals(int Hosts, int InServiceHosts, LongVector Capacity, LongVector Used, LongVector ReservedUnused, LongVector Stranded);
}
