using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Holdfast.Identity.Authorization;
using Holdfast.Server.Arm;
using Holdfast.State;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Holdfast.Server.Authorization;

/// <summary>
/// An in-memory view of every role assignment and custom role definition, kept current by a store watch on
/// <see cref="RbacKeys.Prefix"/> (list, then watch from the listed revision; re-list on compaction) so authorizing a
/// request reads no store. Requests wait for the first list. Writers call <see cref="WaitForRevisionAsync"/> with
/// their commit's revision before answering, so a grant or revocation is in force for the caller's next request.
/// </summary>
internal sealed partial class RoleDirectory(IStateStore store, ILogger<RoleDirectory> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<string, RoleAssignmentEntry> _assignments = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, CustomRoleEntry> _definitions = new(StringComparer.OrdinalIgnoreCase);
    private readonly TaskCompletionSource _loaded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly RevisionGate _applied = new();
    private volatile Dictionary<string, RoleAssignment[]> _byPrincipal = new(StringComparer.OrdinalIgnoreCase);

    public async ValueTask WaitLoadedAsync(CancellationToken cancellationToken)
    {
        if (!_loaded.Task.IsCompleted)
        {
            await _loaded.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Every role assignment (unordered).</summary>
    public ICollection<RoleAssignmentEntry> Assignments => _assignments.Values;

    /// <summary>Every custom role definition (unordered).</summary>
    public ICollection<CustomRoleEntry> CustomRoles => _definitions.Values;

    /// <summary>The assignments held by any of <paramref name="principalIds"/> (a dictionary lookup each: the per-request path).</summary>
    public IReadOnlyList<RoleAssignment> AssignmentsOf(IEnumerable<string> principalIds)
    {
        var index = _byPrincipal;
        var result = new List<RoleAssignment>();
        foreach (var id in principalIds)
        {
            if (index.TryGetValue(id, out var held))
            {
                result.AddRange(held);
            }
        }

        return result;
    }

    public RoleAssignmentEntry? FindAssignment(string name) => _assignments.GetValueOrDefault(name);

    public CustomRoleEntry? FindCustomRole(string name) => _definitions.GetValueOrDefault(name);

    /// <summary>A built-in or custom role by its GUID.</summary>
    public RoleDefinition? FindRole(string name) => BuiltInRoles.Find(name) ?? _definitions.GetValueOrDefault(name)?.Definition;

    /// <summary>Completes once the view reflects every write up to <paramref name="revision"/>.</summary>
    public async Task WaitForRevisionAsync(long revision, CancellationToken cancellationToken)
    {
        // Bounded, as the principal directory's catch-up: a stalled watch answers 503 instead of holding the request.
        try
        {
            await _applied.WaitForAsync(revision, cancellationToken).WaitAsync(Identity.DirectoryApi.CatchUpTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw Identity.ServicePrincipalEndpoints.NotYetInForce();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var revision = await LoadAsync(stoppingToken).ConfigureAwait(false);
                Advance(revision);
                _loaded.TrySetResult();
                await foreach (var change in store.WatchAsync(RbacKeys.Prefix, revision, stoppingToken).ConfigureAwait(false))
                {
                    // A transaction's events share its revision, and every RBAC transaction writes its assignment
                    // or definition key last: only that key completes the revision for waiters.
                    Advance(change.Revision - 1);
                    Apply(change.Kv.Key, change.Type == WatchEventType.Delete ? (ReadOnlyMemory<byte>?)null : change.Kv.Value);
                    if (change.Kv.Key.StartsWith(RbacKeys.AssignmentsPrefix, StringComparison.Ordinal) || change.Kv.Key.StartsWith(RbacKeys.DefinitionsPrefix, StringComparison.Ordinal))
                    {
                        Advance(change.Revision);
                    }
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (StateStoreException ex)
            {
                LogResync(logger, ex.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(100), stoppingToken).ConfigureAwait(false);
            }
        }
    }

    private async Task<long> LoadAsync(CancellationToken cancellationToken)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        string? after = null;
        long revision = 0;
        do
        {
            var page = await store.RangeAsync(new RangeRequest(RbacKeys.Prefix, 500, after), cancellationToken).ConfigureAwait(false);
            revision = revision == 0 ? page.Revision : Math.Min(revision, page.Revision);
            foreach (var kv in page.Items)
            {
                Apply(kv.Key, kv.Value);
                seen.Add(kv.Key);
            }

            after = page.ContinueAfter;
        }
        while (after is not null);

        foreach (var stale in _assignments.Keys.Where(k => !seen.Contains(RbacKeys.Assignment(k))).ToList())
        {
            _assignments.TryRemove(stale, out _);
        }

        foreach (var stale in _definitions.Keys.Where(k => !seen.Contains(RbacKeys.Definition(k))).ToList())
        {
            _definitions.TryRemove(stale, out _);
        }

        RebuildIndex();

        return revision;
    }

    private void Apply(string key, ReadOnlyMemory<byte>? value)
    {
        try
        {
            ApplyRecord(key, value);
        }
        finally
        {
            if (key.StartsWith(RbacKeys.AssignmentsPrefix, StringComparison.Ordinal))
            {
                RebuildIndex();
            }
        }
    }

    /// <summary>Rebuilt whole on each assignment change (rare), so the per-request lookup never sees a partial index.</summary>
    private void RebuildIndex() =>
        _byPrincipal = _assignments.Values
            .GroupBy(a => a.Assignment.PrincipalId, StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key, g => g.Select(a => a.Assignment).ToArray(), StringComparer.OrdinalIgnoreCase);

    private void ApplyRecord(string key, ReadOnlyMemory<byte>? value)
    {
        try
        {
            if (key.StartsWith(RbacKeys.AssignmentsPrefix, StringComparison.Ordinal))
            {
                var name = key[RbacKeys.AssignmentsPrefix.Length..];
                if (value is { } bytes)
                {
                    _assignments[name] = RoleAssignmentEntry.From(bytes);
                }
                else
                {
                    _assignments.TryRemove(name, out _);
                }
            }
            else if (key.StartsWith(RbacKeys.DefinitionsPrefix, StringComparison.Ordinal))
            {
                var name = key[RbacKeys.DefinitionsPrefix.Length..];
                if (value is { } bytes)
                {
                    _definitions[name] = CustomRoleEntry.From(bytes);
                }
                else
                {
                    _definitions.TryRemove(name, out _);
                }
            }
        }
        catch (Exception ex) when (ex is System.Text.Json.JsonException or InvalidOperationException or NullReferenceException)
        {
            // A record this view cannot read grants nothing (deny by default); say so loudly.
            LogUnreadable(logger, ex, key);
            _assignments.TryRemove(key[(key.LastIndexOf('/') + 1)..], out _);
            _definitions.TryRemove(key[(key.LastIndexOf('/') + 1)..], out _);
        }
    }

    private void Advance(long revision) => _applied.Advance(revision);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Role view re-listing: {Reason}")]
    private static partial void LogResync(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Unreadable RBAC record {Key}; it grants nothing")]
    private static partial void LogUnreadable(ILogger logger, Exception exception, string key);
}

/// <summary>One stored role assignment: the evaluator's record and the ARM document as stored (2022-04-01 shape).</summary>
internal sealed record RoleAssignmentEntry(RoleAssignment Assignment, ReadOnlyMemory<byte> Document)
{
    public static RoleAssignmentEntry From(ReadOnlyMemory<byte> document)
    {
        var node = JsonNode.Parse(document.Span)!.AsObject();
        var properties = node["properties"]!.AsObject();
        var roleDefinitionId = properties["roleDefinitionId"]!.GetValue<string>();
        return new RoleAssignmentEntry(
            new RoleAssignment
            {
                Name = node["name"]!.GetValue<string>(),
                Scope = properties["scope"]!.GetValue<string>(),
                RoleDefinitionId = roleDefinitionId[(roleDefinitionId.LastIndexOf('/') + 1)..],
                PrincipalId = properties["principalId"]!.GetValue<string>(),
                PrincipalType = properties["principalType"]?.GetValue<string>() ?? "ServicePrincipal",
            },
            document.ToArray());
    }
}

/// <summary>One stored custom role: the evaluator's definition and the stored ARM properties (with audit fields).</summary>
internal sealed record CustomRoleEntry(RoleDefinition Definition, ReadOnlyMemory<byte> Document)
{
    public static CustomRoleEntry From(ReadOnlyMemory<byte> document)
    {
        var node = JsonNode.Parse(document.Span)!.AsObject();
        return new CustomRoleEntry(RoleDocuments.ReadDefinition(node), document.ToArray());
    }
}
