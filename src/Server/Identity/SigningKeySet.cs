using Holdfast.Identity.Tokens;
using Holdfast.Server.Bootstrap;
using Holdfast.Server.Cluster;
using Holdfast.State;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Holdfast.Server.Identity;

/// <summary>
/// The token-signing keys in force: the first signs, all verify, and JWKS publishes all of them, so a rotation
/// overlaps — tokens the old key signed keep working until they expire. Keys live in the data directory's
/// <c>keys/</c>; a retired key is pruned once it is older than the token lifetime plus clock skew (at start, after a
/// rotation, and every few minutes). Readers take a snapshot; rotation swaps it atomically. A replica of a cluster
/// keeps them in the store instead (<see cref="ClusterSigningKeys"/>) and follows every replica's change by a watch.
/// </summary>
internal sealed partial class SigningKeySet : BackgroundService
{
    private static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan PruneInterval = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);

    private readonly DataDirectory? _dataDirectory;
    private readonly ClusterSigningKeys? _cluster;
    private readonly TimeProvider _timeProvider;
    private readonly TimeSpan _retention;
    private readonly ILogger<SigningKeySet> _logger;
    private readonly Lock _gate = new();
    private volatile IReadOnlyList<SigningKey> _current;
    private volatile Dictionary<string, DateTimeOffset> _clusterRetiredAt = new Dictionary<string, DateTimeOffset>();
    private long _clusterModRevision;
    private readonly long _clusterReadRevision;

    public SigningKeySet(DataDirectory dataDirectory, IReadOnlyList<SigningKey> keys, TimeSpan tokenLifetime, TimeProvider timeProvider, ILogger<SigningKeySet> logger)
    {
        _dataDirectory = dataDirectory;
        _current = keys;
        _retention = tokenLifetime + ClockSkew;
        _timeProvider = timeProvider;
        _logger = logger;
    }

    /// <summary>A replica's keys: the shared ring as read at <paramref name="readRevision"/> (its mod revision <paramref name="modRevision"/>).</summary>
    public SigningKeySet(ClusterSigningKeys cluster, SigningKeyRing ring, long modRevision, long readRevision, TimeSpan tokenLifetime, TimeProvider timeProvider, ILogger<SigningKeySet> logger)
    {
        _cluster = cluster;
        _current = [];
        _retention = tokenLifetime + ClockSkew;
        _timeProvider = timeProvider;
        _logger = logger;
        _clusterReadRevision = readRevision;
        Apply(ring, modRevision);
    }

    /// <summary>The keys in force, the signer first.</summary>
    public IReadOnlyList<SigningKey> Current => _current;

    /// <summary>When a key was retired by a rotation (null for the active key).</summary>
    public DateTimeOffset? RetiredAt(string keyId) =>
        _cluster is null ? _dataDirectory!.SigningKeyRetiredAt(keyId) : _clusterRetiredAt.TryGetValue(keyId, out var at) ? at : null;

    /// <summary>Makes a new key active; the previous keys keep verifying until they are pruned.</summary>
    public SigningKey Rotate()
    {
        lock (_gate)
        {
            var key = _dataDirectory!.RotateSigningKey(_timeProvider.GetUtcNow());
            LogRotated(_logger, key.KeyId);
            PruneLocked();
            _current = [key, .. _current.Where(k => k.KeyId != key.KeyId)];
            return _current[0];
        }
    }

    /// <summary>As <see cref="Rotate"/>; a replica of a cluster rotates the shared ring, which every replica then uses.</summary>
    public async Task<SigningKey> RotateAsync(CancellationToken cancellationToken)
    {
        if (_cluster is null)
        {
            return Rotate();
        }

        var (ring, modRevision) = await _cluster.RotateAsync(_timeProvider.GetUtcNow(), _retention, cancellationToken).ConfigureAwait(false);
        LogRotated(_logger, ring.ActiveKeyId);
        Apply(ring, modRevision);
        return _current[0];
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_cluster is not null)
        {
            await Task.WhenAll(FollowClusterAsync(_cluster, stoppingToken), PruneClusterAsync(_cluster, stoppingToken)).ConfigureAwait(false);
            return;
        }

        using var timer = new PeriodicTimer(PruneInterval, _timeProvider);
        do
        {
            try
            {
                lock (_gate)
                {
                    PruneLocked();
                }
            }
            catch (IOException ex)
            {
                LogPruneFailed(_logger, ex);
            }
        }
        while (await WaitAsync(timer, stoppingToken).ConfigureAwait(false));
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken stoppingToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Applies every replica's rotation and pruning as the watch delivers it; re-reads after a gap.</summary>
    private async Task FollowClusterAsync(ClusterSigningKeys cluster, CancellationToken stoppingToken)
    {
        var after = _clusterReadRevision;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await foreach (var (ring, modRevision) in cluster.WatchAsync(after, stoppingToken).ConfigureAwait(false))
                {
                    Apply(ring, modRevision);
                    after = modRevision;
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is StateStoreException or StartupException)
            {
                LogFollowFailed(_logger, ex.Message);
                try
                {
                    await Task.Delay(RetryDelay, _timeProvider, stoppingToken).ConfigureAwait(false);
                    var (ring, modRevision, readRevision) = await cluster.ReadAsync(stoppingToken).ConfigureAwait(false);
                    Apply(ring, modRevision);
                    after = readRevision;
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception again) when (again is StateStoreException or StartupException)
                {
                    LogFollowFailed(_logger, again.Message);
                }
            }
        }
    }

    private async Task PruneClusterAsync(ClusterSigningKeys cluster, CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(PruneInterval, _timeProvider);
        do
        {
            try
            {
                if (await cluster.PruneAsync(_timeProvider.GetUtcNow(), _retention, stoppingToken).ConfigureAwait(false) is { } pruned)
                {
                    Apply(pruned.Ring, pruned.ModRevision);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is StateStoreException or StartupException)
            {
                LogPruneFailed(_logger, ex);
            }
        }
        while (await WaitAsync(timer, stoppingToken).ConfigureAwait(false));
    }

    /// <summary>Makes <paramref name="ring"/> the keys in force unless a newer version is already applied.</summary>
    private void Apply(SigningKeyRing ring, long modRevision)
    {
        lock (_gate)
        {
            if (modRevision <= _clusterModRevision)
            {
                return;
            }

            _clusterModRevision = modRevision;
            var loaded = _current.ToDictionary(k => k.KeyId, StringComparer.Ordinal);
            var keys = new List<SigningKey>();
            foreach (var entry in ring.Keys.OrderBy(k => k.KeyId == ring.ActiveKeyId ? 0 : 1).ThenBy(k => k.KeyId, StringComparer.Ordinal))
            {
                keys.Add(loaded.TryGetValue(entry.KeyId, out var key) ? key : SigningKey.FromPem(entry.KeyId, entry.PrivateKeyPem));
            }

            // Keys dropped here are left to the collector, as pruned keys are: a validation in flight may still hold one.
            foreach (var removed in loaded.Keys.Where(id => !ring.Keys.Any(k => k.KeyId == id)))
            {
                LogPruned(_logger, removed);
            }

            _clusterRetiredAt = ring.Keys.Where(k => k.RetiredAt is not null).ToDictionary(k => k.KeyId, k => k.RetiredAt!.Value, StringComparer.Ordinal);
            _current = keys;
        }
    }

    private void PruneLocked()
    {
        var removed = _dataDirectory!.PruneSigningKeys(_timeProvider.GetUtcNow(), _retention);
        if (removed.Count == 0)
        {
            return;
        }

        // Pruned keys are left to the collector rather than disposed: a validation in flight may still hold one.
        _current = _current.Where(k => !removed.Contains(k.KeyId)).ToList();
        foreach (var keyId in removed)
        {
            LogPruned(_logger, keyId);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Token-signing key {KeyId} is now active")]
    private static partial void LogRotated(ILogger logger, string keyId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Retired token-signing key {KeyId} pruned")]
    private static partial void LogPruned(ILogger logger, string keyId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Pruning retired token-signing keys failed")]
    private static partial void LogPruneFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Following the cluster's token-signing keys failed ({Reason}); reading them again")]
    private static partial void LogFollowFailed(ILogger logger, string reason);
}
