using System.Collections.Concurrent;
using Holdfast.Identity.Principals;
using Holdfast.Providers.Framework;
using Holdfast.State;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Holdfast.Server.Identity;

/// <summary>
/// An in-memory view of every principal — service principals, users and groups — kept current by one store watch over
/// <see cref="DirectoryKeys.Prefix"/> (list, then watch from the listed revision; re-list on compaction), as
/// <see cref="Arm.Subscriptions.SubscriptionDirectory"/> does for subscriptions. RBAC resolves principals and group
/// membership from it, and the bearer authenticator checks on every request that a token's principal and credential
/// still exist, with a dictionary lookup instead of a store read. Requests wait for the first list; a writer that
/// must see its own change (a deletion revoking tokens) waits with <see cref="WaitForRevisionAsync"/>.
/// </summary>
internal sealed partial class PrincipalDirectory(IStateStore store, ILogger<PrincipalDirectory> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<string, Entry> _byObjectId = new(StringComparer.OrdinalIgnoreCase);

    // Written only by the watch loop.
    private readonly Dictionary<string, Entry> _byKey = new(StringComparer.Ordinal);
    private readonly Dictionary<string, GroupRecord> _groups = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _loaded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile Dictionary<string, IReadOnlyList<string>> _memberOf = [];
    private TaskCompletionSource _progress = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _appliedRevision;

    /// <summary>The principal with this object id, of any kind, or null.</summary>
    public async ValueTask<DirectoryPrincipal?> FindAsync(string objectId, CancellationToken ct)
    {
        await WaitLoadedAsync(ct).ConfigureAwait(false);
        return _byObjectId.TryGetValue(objectId, out var entry) ? entry.Principal : null;
    }

    /// <summary>Object ids of the groups <paramref name="objectId"/> is a direct member of.</summary>
    public async ValueTask<IReadOnlyList<string>> GroupsOfAsync(string objectId, CancellationToken ct)
    {
        await WaitLoadedAsync(ct).ConfigureAwait(false);
        return _memberOf.TryGetValue(objectId, out var groups) ? groups : [];
    }

    /// <summary>
    /// Whether a token for <paramref name="objectId"/> in <paramref name="tenantId"/>, issued for credential
    /// <paramref name="credentialId"/>, still stands: the principal exists and the credential was not removed or replaced.
    /// </summary>
    public async ValueTask<TokenStanding> CheckTokenAsync(string tenantId, string objectId, string? credentialId, CancellationToken ct)
    {
        await WaitLoadedAsync(ct).ConfigureAwait(false);
        if (!_byObjectId.TryGetValue(objectId, out var entry) || entry.Principal.Kind == PrincipalKinds.Group
            || !string.Equals(entry.Principal.TenantId, tenantId, StringComparison.OrdinalIgnoreCase))
        {
            return TokenStanding.PrincipalMissing;
        }

        return credentialId is not null && entry.Credentials.Contains(credentialId, StringComparer.OrdinalIgnoreCase)
            ? TokenStanding.Current
            : TokenStanding.CredentialRevoked;
    }

    /// <summary>
    /// Waits (at most <paramref name="timeout"/>) until the view has applied every change up to <paramref name="revision"/>;
    /// false when it has not in time.
    /// </summary>
    public async Task<bool> WaitForRevisionAsync(long revision, TimeSpan timeout, TimeProvider timeProvider)
    {
        using var cancellation = new CancellationTokenSource(timeout, timeProvider);
        try
        {
            while (Volatile.Read(ref _appliedRevision) < revision)
            {
                var progress = Volatile.Read(ref _progress);
                if (Volatile.Read(ref _appliedRevision) >= revision)
                {
                    return true;
                }

                await progress.Task.WaitAsync(cancellation.Token).ConfigureAwait(false);
            }

            return true;
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            LogSlowCatchUp(logger, revision);
            return false;
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
                await foreach (var changes in store.WatchAsync(DirectoryKeys.Prefix, revision, stoppingToken).ByRevisionAsync(stoppingToken).ConfigureAwait(false))
                {
                    foreach (var change in changes)
                    {
                        Apply(change.Kv.Key, change.Type == WatchEventType.Delete ? null : change.Kv.Value);
                    }

                    RebuildMembership();
                    Advance(changes[^1].Revision);
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

    private async ValueTask WaitLoadedAsync(CancellationToken ct)
    {
        if (!_loaded.Task.IsCompleted)
        {
            await _loaded.Task.WaitAsync(ct).ConfigureAwait(false);
        }
    }

    private void Advance(long revision)
    {
        if (revision > Volatile.Read(ref _appliedRevision))
        {
            Volatile.Write(ref _appliedRevision, revision);
        }

        var previous = Interlocked.Exchange(ref _progress, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        previous.TrySetResult();
    }

    private async Task<long> LoadAsync(CancellationToken cancellationToken)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        string? after = null;
        long revision = 0;
        do
        {
            var page = await store.RangeAsync(new RangeRequest(DirectoryKeys.Prefix, 500, after), cancellationToken).ConfigureAwait(false);
            revision = revision == 0 ? page.Revision : Math.Min(revision, page.Revision);
            foreach (var kv in page.Items)
            {
                Apply(kv.Key, kv.Value);
                seen.Add(kv.Key);
            }

            after = page.ContinueAfter;
        }
        while (after is not null);

        foreach (var stale in _byKey.Keys.Concat(_groups.Keys).Where(k => !seen.Contains(k)).ToList())
        {
            Apply(stale, null);
        }

        RebuildMembership();
        return revision;
    }

    private void Apply(string key, ReadOnlyMemory<byte>? value)
    {
        Entry? entry = null;
        try
        {
            if (value is { } bytes)
            {
                entry = Parse(key, bytes);
            }
        }
        catch (System.Text.Json.JsonException ex)
        {
            // A record this version cannot read is treated as absent: its tokens are refused rather than trusted.
            LogUnreadable(logger, key, ex.Message);
        }

        // Replaced in place: a reader (the per-request token check) never sees the principal missing while its
        // record is updated (a new password, a renamed display name).
        _byKey.TryGetValue(key, out var old);
        if (entry is null)
        {
            _byKey.Remove(key);
            _groups.Remove(key);
        }
        else
        {
            _byKey[key] = entry;
            _byObjectId[entry.Principal.ObjectId] = entry;
            if (entry.Group is not null)
            {
                _groups[key] = entry.Group;
            }
            else
            {
                _groups.Remove(key);
            }
        }

        if (old is not null && (entry is null || !string.Equals(old.Principal.ObjectId, entry.Principal.ObjectId, StringComparison.OrdinalIgnoreCase)))
        {
            _byObjectId.TryRemove(new KeyValuePair<string, Entry>(old.Principal.ObjectId, old));
        }
    }

    private static Entry? Parse(string key, ReadOnlyMemory<byte> bytes)
    {
        if (key.StartsWith(ResourceKeys.PrincipalsPrefix, StringComparison.Ordinal))
        {
            var sp = ServicePrincipalRecord.Deserialize(bytes.Span);
            return new Entry(
                new DirectoryPrincipal(sp.TenantId, sp.ObjectId, PrincipalKinds.ServicePrincipal, sp.DisplayName, sp.AppId),
                sp.PasswordCredentials.Select(c => c.KeyId).ToArray(),
                null);
        }

        if (key.StartsWith(DirectoryKeys.UsersPrefix, StringComparison.Ordinal))
        {
            var user = UserRecord.Deserialize(bytes.Span);
            return new Entry(new DirectoryPrincipal(user.TenantId, user.ObjectId, PrincipalKinds.User, user.DisplayName, null), [user.PasswordId], null);
        }

        if (key.StartsWith(DirectoryKeys.GroupsPrefix, StringComparison.Ordinal))
        {
            var group = GroupRecord.Deserialize(bytes.Span);
            return new Entry(new DirectoryPrincipal(group.TenantId, group.ObjectId, PrincipalKinds.Group, group.DisplayName, null), [], group);
        }

        // Name index entries and anything else under the prefix carry no principal.
        return null;
    }

    private void RebuildMembership()
    {
        var memberOf = new Dictionary<string, List<string>>(StringComparer.OrdinalIgnoreCase);
        foreach (var group in _groups.Values)
        {
            foreach (var member in group.Members)
            {
                if (!memberOf.TryGetValue(member, out var list))
                {
                    memberOf[member] = list = [];
                }

                list.Add(group.ObjectId);
            }
        }

        _memberOf = memberOf.ToDictionary(p => p.Key, p => (IReadOnlyList<string>)p.Value.ToArray(), StringComparer.OrdinalIgnoreCase);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Principal directory re-listing: {Reason}")]
    private static partial void LogResync(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Principal record {Key} is unreadable and treated as absent: {Reason}")]
    private static partial void LogUnreadable(ILogger logger, string key, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Principal directory did not reach revision {Revision} in time")]
    private static partial void LogSlowCatchUp(ILogger logger, long revision);

    /// <summary>One principal and the ids of the credentials its tokens may carry.</summary>
    private sealed record Entry(DirectoryPrincipal Principal, string[] Credentials, GroupRecord? Group);
}

/// <summary>One principal as RBAC and the authenticator need it.</summary>
internal sealed record DirectoryPrincipal(string TenantId, string ObjectId, string Kind /* "ServicePrincipal" | "User" | "Group" */, string DisplayName, string? AppId);

/// <summary>The values of <see cref="DirectoryPrincipal.Kind"/>.</summary>
internal static class PrincipalKinds
{
    public const string ServicePrincipal = "ServicePrincipal";
    public const string User = "User";
    public const string Group = "Group";
}

/// <summary>Whether a token's principal and credential still exist.</summary>
internal enum TokenStanding
{
    Current,
    PrincipalMissing,
    CredentialRevoked,
}
