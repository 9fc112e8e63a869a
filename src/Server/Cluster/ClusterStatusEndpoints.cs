using System.Text.Json;
using System.Text.Json.Nodes;
using Holdfast.Identity.Authorization;
using Holdfast.Server.Arm;
using Holdfast.Server.Authorization;
using Holdfast.State;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Holdfast.Server.Cluster;

/// <summary>
/// <c>GET /providers/Holdfast.Cluster/status</c> (operator, root scope, <c>Holdfast.Cluster/status/read</c>): the store
/// kind and revision, the leader (replica, term, API endpoint, when elected, when its leader-only services had all
/// started, or null before then) or null, the live replicas, and which replica answered.
/// Any replica answers from the store, so every replica gives the same leader.
/// </summary>
internal static class ClusterStatusEndpoints
{
    public const string Namespace = "Holdfast.Cluster";
    public const string ApiVersion = "2025-01-01";
    public const string Route = "/providers/Holdfast.Cluster/status";

    public static void Map(IEndpointRouteBuilder routes) =>
        routes.MapGet(Route, GetAsync).WithMetadata(new ArmEndpointMetadata(ApiVersions: [ApiVersion]));

    private static async Task GetAsync(HttpContext context)
    {
        var services = context.RequestServices;
        await services.GetRequiredService<RequestAuthorizer>().AuthorizeAsync(context, Namespace + "/status/read", Scopes.Root).ConfigureAwait(false);
        var store = services.GetRequiredService<IStateStore>();
        var options = services.GetRequiredService<HoldfastServerOptions>();
        var leadership = services.GetRequiredService<ILeadership>();
        var status = await ReadAsync(store, options.StoreKind, leadership.ReplicaId, context.RequestAborted).ConfigureAwait(false);
        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, status).ConfigureAwait(false);
    }

    /// <summary>The status document, read in one transaction (one revision).</summary>
    public static async Task<JsonObject> ReadAsync(IStateStore store, string storeKind, string thisReplica, CancellationToken cancellationToken)
    {
        var snapshot = await store.TxnAsync(new TxnRequest([], [TxnOp.Get(ClusterKeys.Leader), TxnOp.Range(ClusterKeys.ReplicasPrefix)]), cancellationToken).ConfigureAwait(false);
        JsonNode? leader = null;
        if (snapshot.Results[0].Kvs is [var leaderKv, ..] && Parse(leaderKv, ClusterJson.Default.LeaderRecord) is { } record)
        {
            leader = new JsonObject { ["replica"] = record.Replica, ["term"] = leaderKv.CreateRevision, ["apiEndpoint"] = record.ApiEndpoint, ["electedAt"] = record.ElectedAt, ["singletonsStartedAt"] = record.SingletonsStartedAt };
        }

        var replicas = new JsonArray();
        foreach (var kv in snapshot.Results[1].Kvs)
        {
            if (Parse(kv, ClusterJson.Default.ReplicaRecord) is { } replica)
            {
                replicas.Add(new JsonObject
                {
                    ["replica"] = replica.Replica,
                    ["apiEndpoint"] = replica.ApiEndpoint,
                    ["agentEndpoint"] = replica.AgentEndpoint,
                    ["version"] = replica.Version,
                    ["startedAt"] = replica.StartedAt,
                });
            }
        }

        return new JsonObject
        {
            ["store"] = storeKind,
            ["revision"] = snapshot.Revision,
            ["leader"] = leader,
            ["replicas"] = replicas,
            ["thisReplica"] = thisReplica,
        };
    }

    private static T? Parse<T>(KeyValue kv, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
        where T : class
    {
        try
        {
            return JsonSerializer.Deserialize(kv.Value.Span, type);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
