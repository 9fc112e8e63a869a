using System.Buffers.Text;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Holdfast.Capacity.Inventory;
using Holdfast.Capacity.Placement;
using Holdfast.Fabric;
using Holdfast.Resources.Errors;
using Holdfast.Server.Arm;
using Holdfast.Server.Arm.ResourceLists;
using Holdfast.State;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Holdfast.Server.Fabric;

/// <summary>
/// Hosts: <c>/providers/Holdfast.Fabric/hosts/{host}</c> — PUT creates one in Provisioning (201) or updates it (200;
/// capacity, traits and update domain only while it holds no VMs, its rack likewise), GET and list (optional
/// <c>?state=</c> and <c>?cluster=</c>) with live <c>allocated</c>/<c>free</c>, DELETE (only a Provisioning or
/// Decommissioned host with no allocations: the host, its allocation record and join token go in one transaction).
/// Actions: <c>createJoinToken</c> (the secret is answered once and stored as its SHA-256) and the operator's lifecycle
/// moves <c>drain | enterMaintenance | validate | resume | decommission</c>, checked by <see cref="HostLifecycle"/>
/// (409 <c>OperationNotAllowed</c> with the table's sentence). Every write compares the host document's mod revision,
/// and the allocation record's, so neither a concurrent agent state change nor a placement can slip past the check.
/// </summary>
internal static class HostEndpoints
{
    private const string Type = "hosts";
    private const string Collection = "/providers/" + FabricApi.Namespace + "/hosts";
    private const string ItemPath = Collection + "/{host}";

    /// <summary>Per-host bounds: generous for real hardware, and far from <see cref="int"/> overflow in per-host arithmetic.</summary>
    private static readonly CapacityVector Limits = new(16384, 1 << 30, 1 << 30, 1024);

    private static readonly Dictionary<string, HostState> LifecycleActions = new(StringComparer.OrdinalIgnoreCase)
    {
        ["drain"] = HostState.Draining,
        ["enterMaintenance"] = HostState.Maintenance,
        ["validate"] = HostState.Validating,
        ["resume"] = HostState.InService,
        ["decommission"] = HostState.Decommissioned,
    };

    private static readonly HostState[] JoinableStates = [HostState.Provisioning, HostState.Validating, HostState.Failed];

    private static readonly TimeSpan CatchUpTimeout = TimeSpan.FromSeconds(10);

    public static void Map(IEndpointRouteBuilder routes)
    {
        routes.MapGet(Collection, ListAsync).WithMetadata(FabricApi.Metadata);
        routes.MapGet(ItemPath, GetAsync).WithMetadata(FabricApi.Metadata);
        routes.MapPut(ItemPath, PutAsync).WithMetadata(FabricApi.Metadata);
        routes.MapDelete(ItemPath, DeleteAsync).WithMetadata(FabricApi.Metadata);
        routes.MapPost(ItemPath + "/{action}", ActionAsync).WithMetadata(FabricApi.Metadata);
    }

    private static string Action(string verb) => $"{FabricApi.Namespace}/hosts/{verb}";

    private static async Task ListAsync(HttpContext context)
    {
        await FabricApi.AuthorizeAsync(context, Action("read")).ConfigureAwait(false);
        HostState? state = null;
        var stateText = context.Request.Query["state"].ToString();
        if (stateText.Length > 0)
        {
            state = Enum.TryParse<HostState>(stateText, ignoreCase: true, out var parsed) && Enum.IsDefined(parsed) && !char.IsAsciiDigit(stateText[0])
                ? parsed
                : throw new ApiException(HttpStatusCode.BadRequest, ArmErrorCodes.InvalidQueryParameterValue, $"The value '{stateText}' of query parameter 'state' is not a host state; use one of {string.Join(", ", Enum.GetNames<HostState>())}.", "state");
        }

        var cluster = context.Request.Query["cluster"].ToString();
        var store = FabricApi.Data(context).Store;
        var capacity = FabricApi.Capacity(context);
        var query = ListQuery.Parse(context.Request, FabricKeys.HostsPrefix);
        var (items, continueAfter) = await query.ReadPageAsync(store, FabricKeys.HostsPrefix, kv =>
        {
            var host = FabricJson.Deserialize<HostDocument>(kv.Value.Span);
            return (state is null || host.State == state) && (cluster.Length == 0 || string.Equals(host.Cluster, cluster, StringComparison.OrdinalIgnoreCase));
        }, context.RequestAborted).ConfigureAwait(false);
        var value = new JsonArray();
        foreach (var (_, stored) in items)
        {
            var host = FabricJson.Deserialize<HostDocument>(stored.Value.Span);
            value.Add(Render(host, capacity.FindHost(host.Name)?.Allocations));
        }

        var body = new JsonObject { ["value"] = value };
        if (continueAfter is not null)
        {
            body["nextLink"] = ListQuery.NextLink(context, continueAfter);
        }

        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, body).ConfigureAwait(false);
    }

    private static async Task GetAsync(HttpContext context, string host)
    {
        await FabricApi.AuthorizeAsync(context, Action("read")).ConfigureAwait(false);
        var name = FabricApi.ValidateName(host, Type);
        var store = FabricApi.Data(context).Store;
        var (document, _) = await ReadHostAsync(store, name, context.RequestAborted).ConfigureAwait(false);
        var (record, _) = await ReadRecordAsync(store, name, context.RequestAborted).ConfigureAwait(false);
        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, Render(document, record)).ConfigureAwait(false);
    }

    private static async Task PutAsync(HttpContext context, string host)
    {
        await FabricApi.AuthorizeAsync(context, Action("write")).ConfigureAwait(false);
        var name = FabricApi.ValidateName(host, Type);
        var data = FabricApi.Data(context);
        var properties = FabricApi.Properties(await ArmBody.ReadObjectAsync(context).ConfigureAwait(false));
        var errors = new List<ApiError>();
        var rack = FabricApi.RequiredName(properties, "rack", "properties.rack", errors);
        var updateDomain = FabricApi.OptionalInt(properties, "updateDomain", "properties.updateDomain", 0, 1000, errors) ?? 0;
        CapacityVector? capacity = null;
        if (properties["capacity"] is null)
        {
            errors.Add(new ApiError(ArmErrorCodes.InvalidRequestContent, "The 'properties.capacity' property is required.", "properties.capacity"));
        }
        else if (FabricApi.Vector(properties["capacity"], "properties.capacity", Limits, errors) is { } declared)
        {
            capacity = declared.VCpus >= 1 && declared.MemoryMiB >= 1
                ? declared
                : null;
            if (capacity is null)
            {
                errors.Add(new ApiError(ArmErrorCodes.InvalidParameter, "A host needs at least 1 vCPU and 1 MiB of memory.", "properties.capacity"));
            }
        }

        var traits = FabricApi.Traits(properties, "traits", "properties.traits", errors) ?? [];
        if (errors.Count > 0)
        {
            throw ApiException.FromValidation(errors);
        }

        var store = data.Store;
        var key = FabricKeys.Host(name);
        for (var attempt = 0; attempt < FabricApi.MaxAttempts; attempt++)
        {
            var existing = await store.GetAsync(key, context.RequestAborted).ConfigureAwait(false);
            var rackKey = FabricKeys.Rack(rack!);
            var rackKv = await store.GetAsync(rackKey, context.RequestAborted).ConfigureAwait(false)
                ?? throw new ApiException(HttpStatusCode.BadRequest, "ParentResourceNotFound", $"The rack '{rack}' named by 'properties.rack' does not exist; create it first.", "properties.rack");
            var cluster = FleetTopologyEndpoints.ParentOf(rackKv, "cluster");
            var clusterKv = cluster is null ? null : await store.GetAsync(FabricKeys.Cluster(cluster), context.RequestAborted).ConfigureAwait(false);
            if (clusterKv is null)
            {
                throw new ApiException(HttpStatusCode.BadRequest, "ParentResourceNotFound", $"The rack '{rack}' belongs to no existing cluster; fix the rack first.", "properties.rack");
            }

            var clusterProperties = FleetTopologyEndpoints.PropertiesOf(clusterKv);
            var site = FleetTopologyEndpoints.ParentOf(clusterKv, "site") ?? string.Empty;
            var zone = clusterProperties["zone"]?.ToString();
            var now = data.Time.GetUtcNow();
            List<Compare> compares = [Compare.ModRevisionIs(rackKey, rackKv.ModRevision)];
            List<TxnOp> ops = [];
            HostDocument document;
            var rewriteRack = true;
            if (existing is null)
            {
                compares.Add(Compare.Absent(key));
                document = new HostDocument
                {
                    Name = name,
                    Site = site,
                    Cluster = cluster!,
                    Zone = zone,
                    Rack = rack!,
                    UpdateDomain = updateDomain,
                    Capacity = capacity!.Value,
                    Traits = traits,
                    State = HostState.Provisioning,
                    StateReason = "Created by the operator; waiting for its agent to join.",
                    StateChangedAt = now,
                };
            }
            else
            {
                var current = FabricJson.Deserialize<HostDocument>(existing.Value.Span);
                var (record, recordRevision) = await ReadRecordAsync(store, name, context.RequestAborted).ConfigureAwait(false);
                var vms = record?.Allocations.Length ?? 0;
                var sameRack = string.Equals(current.Rack, rack, StringComparison.OrdinalIgnoreCase);
                var sameShape = current.Capacity == capacity && current.UpdateDomain == updateDomain
                    && current.Traits.Count == traits.Count && current.Traits.All(t => traits.Contains(t, StringComparer.OrdinalIgnoreCase));
                if (vms > 0 && (!sameRack || !sameShape))
                {
                    throw FabricApi.NotAllowed($"The host '{name}' holds {vms} VM(s); its rack, capacity, traits and update domain can change only while it is empty (drain it first: POST {Collection}/{name}/drain moves them to other hosts).");
                }

                compares.Add(Compare.ModRevisionIs(key, existing.ModRevision));
                compares.Add(RecordIs(FabricKeys.Allocations(name), recordRevision));
                rewriteRack = !sameRack;
                document = current with
                {
                    Site = sameRack ? current.Site : site,
                    Cluster = sameRack ? current.Cluster : cluster!,
                    Zone = sameRack ? current.Zone : zone,
                    Rack = rack!,
                    UpdateDomain = updateDomain,
                    Capacity = capacity!.Value,
                    Traits = traits,
                };
            }

            ops.Add(TxnOp.Put(key, FabricJson.Serialize(document)));
            if (rewriteRack)
            {
                // Rewriting the rack moves its mod revision, so a concurrent DELETE of the rack fails its compare.
                ops.Add(TxnOp.Put(rackKey, rackKv.Value));
            }

            var status = existing is null ? StatusCodes.Status201Created : StatusCodes.Status200OK;
            var result = await data.CommitAsync(context, new TxnRequest(compares, ops), status).ConfigureAwait(false);
            if (result.Succeeded)
            {
                await CatchUpAsync(context, result.Revision).ConfigureAwait(false);
                var (record, _) = await ReadRecordAsync(store, name, context.RequestAborted).ConfigureAwait(false);
                await ArmResponses.WriteJsonAsync(context, status, Render(document, record)).ConfigureAwait(false);
                return;
            }
        }

        throw FabricApi.ConcurrentChange($"host '{name}'");
    }

    private static async Task DeleteAsync(HttpContext context, string host)
    {
        await FabricApi.AuthorizeAsync(context, Action("delete")).ConfigureAwait(false);
        var name = FabricApi.ValidateName(host, Type);
        var data = FabricApi.Data(context);
        var key = FabricKeys.Host(name);
        for (var attempt = 0; attempt < FabricApi.MaxAttempts; attempt++)
        {
            var existing = await data.Store.GetAsync(key, context.RequestAborted).ConfigureAwait(false);
            if (existing is null)
            {
                context.Response.StatusCode = StatusCodes.Status204NoContent;
                return;
            }

            var document = FabricJson.Deserialize<HostDocument>(existing.Value.Span);
            if (document.State is not (HostState.Provisioning or HostState.Decommissioned))
            {
                throw FabricApi.NotAllowed($"Only a host in Provisioning or Decommissioned can be deleted; '{name}' is {document.State} (decommission it first).");
            }

            var (record, recordRevision) = await ReadRecordAsync(data.Store, name, context.RequestAborted).ConfigureAwait(false);
            if (record is not null && (record.Allocations.Length > 0 || record.Reservations.Length > 0))
            {
                throw FabricApi.NotAllowed($"The host '{name}' still holds {record.Allocations.Length} VM(s) and {record.Reservations.Length} reservation hold(s); it can be deleted only when empty.");
            }

            var result = await data.CommitAsync(
                context,
                new TxnRequest(
                    [Compare.ModRevisionIs(key, existing.ModRevision), RecordIs(FabricKeys.Allocations(name), recordRevision)],
                    [TxnOp.Delete(key), TxnOp.Delete(FabricKeys.Allocations(name)), TxnOp.Delete(FabricKeys.JoinToken(name))]),
                StatusCodes.Status200OK).ConfigureAwait(false);
            if (result.Succeeded)
            {
                await CatchUpAsync(context, result.Revision).ConfigureAwait(false);
                context.Response.StatusCode = StatusCodes.Status200OK;
                return;
            }
        }

        throw FabricApi.ConcurrentChange($"host '{name}'");
    }

    private static async Task ActionAsync(HttpContext context, string host, string action)
    {
        var isJoinToken = action.Equals("createJoinToken", StringComparison.OrdinalIgnoreCase);
        if (!isJoinToken && !LifecycleActions.ContainsKey(action))
        {
            await FabricApi.AuthorizeAsync(context, Action("write")).ConfigureAwait(false);
            throw new ApiException(HttpStatusCode.NotFound, "NotFound", $"Hosts have no action '{action}'; the actions are createJoinToken, {string.Join(", ", LifecycleActions.Keys)}.");
        }

        var canonical = isJoinToken ? "createJoinToken" : LifecycleActions.Keys.First(k => k.Equals(action, StringComparison.OrdinalIgnoreCase));
        await FabricApi.AuthorizeAsync(context, Action(canonical + "/action")).ConfigureAwait(false);
        var name = FabricApi.ValidateName(host, Type);
        if (isJoinToken)
        {
            await CreateJoinTokenAsync(context, name).ConfigureAwait(false);
        }
        else
        {
            await ChangeStateAsync(context, name, canonical, LifecycleActions[canonical]).ConfigureAwait(false);
        }
    }

    private static async Task CreateJoinTokenAsync(HttpContext context, string name)
    {
        var data = FabricApi.Data(context);
        var body = await ArmBody.ReadObjectAsync(context, allowEmpty: true).ConfigureAwait(false);
        var errors = new List<ApiError>();
        var minutes = FabricApi.OptionalInt(body, "validForMinutes", "validForMinutes", 1, 1440, errors) ?? 60;
        if (errors.Count > 0)
        {
            throw ApiException.FromValidation(errors);
        }

        var secret = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));
        for (var attempt = 0; attempt < FabricApi.MaxAttempts; attempt++)
        {
            var (document, stored) = await ReadHostAsync(data.Store, name, context.RequestAborted).ConfigureAwait(false);
            if (!JoinableStates.Contains(document.State))
            {
                throw FabricApi.NotAllowed($"A join token can be created only for a host in Provisioning, Validating or Failed (to join again); '{name}' is {document.State}.");
            }

            var expiresOn = data.Time.GetUtcNow().AddMinutes(minutes);
            var token = new JoinTokenDocument(name, hash, expiresOn);
            var result = await data.CommitAsync(
                context,
                new TxnRequest([Compare.ModRevisionIs(stored.Key, stored.ModRevision)], [TxnOp.Put(FabricKeys.JoinToken(name), FabricJson.Serialize(token))]),
                StatusCodes.Status200OK).ConfigureAwait(false);
            if (result.Succeeded)
            {
                context.Response.Headers.CacheControl = "no-store";
                await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, new JsonObject
                {
                    ["joinToken"] = secret,
                    ["expiresOn"] = FabricApi.Timestamp(expiresOn),
                }).ConfigureAwait(false);
                return;
            }
        }

        throw FabricApi.ConcurrentChange($"host '{name}'");
    }

    private static async Task ChangeStateAsync(HttpContext context, string name, string action, HostState target)
    {
        var data = FabricApi.Data(context);
        for (var attempt = 0; attempt < FabricApi.MaxAttempts; attempt++)
        {
            var (document, stored) = await ReadHostAsync(data.Store, name, context.RequestAborted).ConfigureAwait(false);
            var (record, recordRevision) = await ReadRecordAsync(data.Store, name, context.RequestAborted).ConfigureAwait(false);
            var vms = record?.Allocations.Length ?? 0;
            if (vms > 0 && target is HostState.Maintenance or HostState.Decommissioned)
            {
                var how = document.State == HostState.Draining
                    ? "the drain in progress is moving them to other hosts; retry once it is empty"
                    : $"drain it first (POST {Collection}/{name}/drain moves them to other hosts)";
                throw FabricApi.NotAllowed($"The host '{name}' still holds {vms} VM(s); {how}, then it can enter {target}.");
            }

            var transition = HostLifecycle.Check(document.State, target, vms);
            if (!transition.IsAllowed)
            {
                throw FabricApi.NotAllowed(transition.Reason!);
            }

            var updated = document with
            {
                State = target,
                StateReason = $"The operator requested {action}.",
                StateChangedAt = data.Time.GetUtcNow(),
            };

            // The record's compare makes a placement that lands meanwhile fail this change (or this change fail it).
            var result = await data.CommitAsync(
                context,
                new TxnRequest(
                    [Compare.ModRevisionIs(stored.Key, stored.ModRevision), RecordIs(FabricKeys.Allocations(name), recordRevision)],
                    [TxnOp.Put(stored.Key, FabricJson.Serialize(updated))]),
                StatusCodes.Status200OK).ConfigureAwait(false);
            if (result.Succeeded)
            {
                await CatchUpAsync(context, result.Revision).ConfigureAwait(false);
                await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, Render(updated, record)).ConfigureAwait(false);
                return;
            }
        }

        throw FabricApi.ConcurrentChange($"host '{name}'");
    }

    /// <summary>The host's ARM shape: what the operator declared, where it sits, its state, its agent and its live usage.</summary>
    public static JsonObject Render(HostDocument host, HostAllocationRecord? record)
    {
        var used = record?.Used ?? CapacityVector.Zero;
        var reserved = record?.UnusedReserved ?? CapacityVector.Zero;
        var properties = new JsonObject
        {
            ["rack"] = host.Rack,
            ["updateDomain"] = host.UpdateDomain,
            ["capacity"] = FabricApi.Render(host.Capacity),
            ["traits"] = new JsonArray([.. host.Traits.Select(t => (JsonNode)t)]),
            ["site"] = host.Site,
            ["cluster"] = host.Cluster,
            ["zone"] = host.Zone,
            ["faultDomain"] = host.Rack,
            ["state"] = host.State.ToString(),
            ["stateReason"] = host.StateReason,
            ["stateChangedAt"] = FabricApi.Timestamp(host.StateChangedAt),
            ["simulated"] = host.Simulated,
            ["agent"] = host.Agent is null ? null : JsonNode.Parse(FabricJson.Serialize(host.Agent)),
            ["allocated"] = FabricApi.Render(used),
            ["reserved"] = FabricApi.Render(reserved),
            ["free"] = FabricApi.Render(CapacityVector.Max(host.Capacity - used - reserved, CapacityVector.Zero)),
            ["instances"] = record?.Allocations.Length ?? 0,
        };
        return FabricApi.Resource(Type, host.Name.ToLowerInvariant(), properties);
    }

    private static async Task<(HostDocument Document, KeyValue Stored)> ReadHostAsync(IStateStore store, string name, CancellationToken cancellationToken)
    {
        var kv = await store.GetAsync(FabricKeys.Host(name), cancellationToken).ConfigureAwait(false)
            ?? throw FabricApi.NotFound(Type, name);
        return (FabricJson.Deserialize<HostDocument>(kv.Value.Span), kv);
    }

    /// <summary>The host's allocation record as stored and its mod revision (null and 0 when it has none).</summary>
    private static async Task<(HostAllocationRecord? Record, long Revision)> ReadRecordAsync(IStateStore store, string name, CancellationToken cancellationToken)
    {
        var kv = await store.GetAsync(FabricKeys.Allocations(name), cancellationToken).ConfigureAwait(false);
        return kv is null ? (null, 0) : (AllocationRecordCodec.Decode(kv.Value.Span, kv.ModRevision), kv.ModRevision);
    }

    private static Compare RecordIs(string key, long revision) => revision == 0 ? Compare.Absent(key) : Compare.ModRevisionIs(key, revision);

    /// <summary>Waits (bounded) until placement's index has seen the write, so the caller's next request is placed against it.</summary>
    private static async Task CatchUpAsync(HttpContext context, long revision)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        timeout.CancelAfter(CatchUpTimeout);
        try
        {
            await FabricApi.Capacity(context).WaitForRevisionAsync(revision, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested)
        {
            // The write is durable; the index catches up by watch. The answer does not wait for it longer.
        }
    }
}
