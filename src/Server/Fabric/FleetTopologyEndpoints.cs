using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
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
/// The fleet's topology above the hosts: <c>/providers/Holdfast.Fabric/{sites|clusters|racks}/{name}</c> — PUT creates
/// (201) or updates (200), GET, list, DELETE (200, or 204 when absent). A cluster names its site (and optional zone), a
/// rack its cluster (a rack is a fault domain). Stored ARM-shaped at <see cref="FabricKeys.Site"/> and its siblings.
/// <para>
/// Referential integrity by compare-and-swap: a write that creates a child (or moves it to another parent) compares
/// the parent's mod revision and rewrites the parent unchanged, so the parent's revision moves; a DELETE checks that no
/// child names it and compares its own revision, so it fails against any child created since it looked. A parent
/// cannot be deleted, nor a child's parent changed, while children exist (409 <c>OperationNotAllowed</c>).
/// </para>
/// </summary>
internal static class FleetTopologyEndpoints
{
    private static readonly Kind[] Kinds =
    [
        new("sites", FabricKeys.SitesPrefix, null, null, "clusters", FabricKeys.ClustersPrefix, (kv, name) => ParentOf(kv, "site") == name),
        new("clusters", FabricKeys.ClustersPrefix, "site", FabricKeys.SitesPrefix, "racks", FabricKeys.RacksPrefix, (kv, name) => ParentOf(kv, "cluster") == name),
        new("racks", FabricKeys.RacksPrefix, "cluster", FabricKeys.ClustersPrefix, "hosts", FabricKeys.HostsPrefix, (kv, name) => HostRack(kv) == name),
    ];

    public static void Map(IEndpointRouteBuilder routes)
    {
        foreach (var kind in Kinds)
        {
            var collection = $"/providers/{FabricApi.Namespace}/{kind.Type}";
            routes.MapGet(collection, (HttpContext c) => ListAsync(c, kind)).WithMetadata(FabricApi.Metadata);
            routes.MapGet(collection + "/{name}", (HttpContext c, string name) => GetAsync(c, kind, name)).WithMetadata(FabricApi.Metadata);
            routes.MapPut(collection + "/{name}", (HttpContext c, string name) => PutAsync(c, kind, name)).WithMetadata(FabricApi.Metadata);
            routes.MapDelete(collection + "/{name}", (HttpContext c, string name) => DeleteAsync(c, kind, name)).WithMetadata(FabricApi.Metadata);
        }
    }

    /// <summary>The parent a stored topology document names in <c>properties.{property}</c> (lower-cased), if any.</summary>
    public static string? ParentOf(KeyValue kv, string property)
    {
        var node = JsonNode.Parse(kv.Value.Span) as JsonObject;
        return node?["properties"]?[property] is JsonValue value && value.GetValueKind() == JsonValueKind.String
            ? value.GetValue<string>().ToLowerInvariant()
            : null;
    }

    /// <summary>A stored topology document's properties (empty when it has none).</summary>
    public static JsonObject PropertiesOf(KeyValue kv) =>
        (JsonNode.Parse(kv.Value.Span) as JsonObject)?["properties"] is JsonObject properties ? (JsonObject)properties.DeepClone() : [];

    private static string HostRack(KeyValue kv) => FabricJson.Deserialize<HostDocument>(kv.Value.Span).Rack.ToLowerInvariant();

    private static async Task ListAsync(HttpContext context, Kind kind)
    {
        await FabricApi.AuthorizeAsync(context, kind.Action("read")).ConfigureAwait(false);
        var store = FabricApi.Data(context).Store;
        var query = ListQuery.Parse(context.Request, kind.Prefix);
        var (items, continueAfter) = await query.ReadPageAsync(store, kind.Prefix, null, context.RequestAborted).ConfigureAwait(false);
        var body = new JsonObject { ["value"] = new JsonArray([.. items.Select(i => (JsonNode)Render(kind, i.Stored))]) };
        if (continueAfter is not null)
        {
            body["nextLink"] = ListQuery.NextLink(context, continueAfter);
        }

        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, body).ConfigureAwait(false);
    }

    private static async Task GetAsync(HttpContext context, Kind kind, string name)
    {
        await FabricApi.AuthorizeAsync(context, kind.Action("read")).ConfigureAwait(false);
        name = FabricApi.ValidateName(name, kind.Type);
        var kv = await FabricApi.Data(context).Store.GetAsync(kind.Prefix + name, context.RequestAborted).ConfigureAwait(false)
            ?? throw FabricApi.NotFound(kind.Type, name);
        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, Render(kind, kv)).ConfigureAwait(false);
    }

    private static async Task PutAsync(HttpContext context, Kind kind, string name)
    {
        await FabricApi.AuthorizeAsync(context, kind.Action("write")).ConfigureAwait(false);
        name = FabricApi.ValidateName(name, kind.Type);
        var data = FabricApi.Data(context);
        var properties = FabricApi.Properties(await ArmBody.ReadObjectAsync(context).ConfigureAwait(false));
        var errors = new List<ApiError>();
        var stored = new JsonObject();
        string? parent = null;
        if (kind.ParentProperty is null)
        {
            if (FabricApi.OptionalString(properties, "displayName", "properties.displayName", 256, errors) is { } displayName)
            {
                stored["displayName"] = displayName;
            }
        }
        else
        {
            parent = FabricApi.RequiredName(properties, kind.ParentProperty, "properties." + kind.ParentProperty, errors);
            stored[kind.ParentProperty] = parent;
        }

        var zone = kind.Type == "clusters" ? FabricApi.OptionalString(properties, "zone", "properties.zone", 32, errors) : null;
        if (zone is not null)
        {
            stored["zone"] = zone;
        }

        if (errors.Count > 0)
        {
            throw ApiException.FromValidation(errors);
        }

        var key = kind.Prefix + name;
        var store = data.Store;
        for (var attempt = 0; attempt < FabricApi.MaxAttempts; attempt++)
        {
            var existing = await store.GetAsync(key, context.RequestAborted).ConfigureAwait(false);
            List<Compare> compares = [existing is null ? Compare.Absent(key) : Compare.ModRevisionIs(key, existing.ModRevision)];
            List<TxnOp> ops = [TxnOp.Put(key, JsonSerializer.SerializeToUtf8Bytes(FabricApi.Resource(kind.Type, name, (JsonObject)stored.DeepClone())))];
            // Hosts carry their site and zone, so a parent (or a cluster's zone) cannot change under existing children.
            var reparented = existing is not null && kind.ParentProperty is not null
                && (ParentOf(existing, kind.ParentProperty) != parent || (kind.Type == "clusters" && PropertiesOf(existing)["zone"]?.ToString() != zone));
            if (reparented && await HasChildrenAsync(store, kind, name, context.RequestAborted).ConfigureAwait(false) is { } count)
            {
                throw FabricApi.NotAllowed($"The {Singular(kind.Type)} '{name}' has {count} {kind.ChildType}; its {kind.ParentProperty}{(kind.Type == "clusters" ? " and zone" : string.Empty)} cannot change while it has any.");
            }

            if (parent is not null && (existing is null || reparented))
            {
                var parentKey = kind.ParentPrefix + parent;
                var parentKv = await store.GetAsync(parentKey, context.RequestAborted).ConfigureAwait(false)
                    ?? throw new ApiException(HttpStatusCode.BadRequest, "ParentResourceNotFound", $"The {kind.ParentProperty} '{parent}' named by 'properties.{kind.ParentProperty}' does not exist; create it first.", "properties." + kind.ParentProperty);

                // Rewriting the parent moves its mod revision, so a concurrent DELETE of it fails its compare.
                compares.Add(Compare.ModRevisionIs(parentKey, parentKv.ModRevision));
                ops.Add(TxnOp.Put(parentKey, parentKv.Value));
            }

            var status = existing is null ? StatusCodes.Status201Created : StatusCodes.Status200OK;
            var result = await data.CommitAsync(context, new TxnRequest(compares, ops), status).ConfigureAwait(false);
            if (result.Succeeded)
            {
                await ArmResponses.WriteJsonAsync(context, status, FabricApi.Resource(kind.Type, name, (JsonObject)stored.DeepClone())).ConfigureAwait(false);
                return;
            }
        }

        throw FabricApi.ConcurrentChange($"{Singular(kind.Type)} '{name}'");
    }

    private static async Task DeleteAsync(HttpContext context, Kind kind, string name)
    {
        await FabricApi.AuthorizeAsync(context, kind.Action("delete")).ConfigureAwait(false);
        name = FabricApi.ValidateName(name, kind.Type);
        var data = FabricApi.Data(context);
        var key = kind.Prefix + name;
        for (var attempt = 0; attempt < FabricApi.MaxAttempts; attempt++)
        {
            var existing = await data.Store.GetAsync(key, context.RequestAborted).ConfigureAwait(false);
            if (existing is null)
            {
                context.Response.StatusCode = StatusCodes.Status204NoContent;
                return;
            }

            if (await HasChildrenAsync(data.Store, kind, name, context.RequestAborted).ConfigureAwait(false) is { } count)
            {
                throw FabricApi.NotAllowed($"The {Singular(kind.Type)} '{name}' still has {count} {kind.ChildType}; delete them (or move them elsewhere) first.");
            }

            var result = await data.CommitAsync(context, new TxnRequest([Compare.ModRevisionIs(key, existing.ModRevision)], [TxnOp.Delete(key)]), StatusCodes.Status200OK).ConfigureAwait(false);
            if (result.Succeeded)
            {
                context.Response.StatusCode = StatusCodes.Status200OK;
                return;
            }
        }

        throw FabricApi.ConcurrentChange($"{Singular(kind.Type)} '{name}'");
    }

    /// <summary>How many children name <paramref name="name"/> as their parent (null when none).</summary>
    private static async Task<int?> HasChildrenAsync(IStateStore store, Kind kind, string name, CancellationToken cancellationToken)
    {
        var count = 0;
        string? after = null;
        do
        {
            var page = await store.RangeAsync(new RangeRequest(kind.ChildPrefix, 1000, after), cancellationToken).ConfigureAwait(false);
            count += page.Items.Count(kv => kind.IsChildOf(kv, name));
            after = page.ContinueAfter;
        }
        while (after is not null);
        return count == 0 ? null : count;
    }

    private static JsonObject Render(Kind kind, KeyValue kv) => FabricApi.Resource(kind.Type, FabricKeys.NameOf(kv.Key), PropertiesOf(kv));

    private static string Singular(string type) => type[..^1];

    private sealed record Kind(string Type, string Prefix, string? ParentProperty, string? ParentPrefix, string ChildType, string ChildPrefix, Func<KeyValue, string, bool> IsChildOf)
    {
        public string Action(string verb) => $"{FabricApi.Namespace}/{Type}/{verb}";
    }
}
