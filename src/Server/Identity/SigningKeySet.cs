using Holdfast.Identity.Tokens;
using Holdfast.Server.Bootstrap;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Holdfast.Server.Identity;

/// <summary>
/// The token-signing keys in force: the first signs, all verify, and JWKS publishes all of them, so a rotation
/// overlaps — tokens the old key signed keep working until they expire. Keys live in the data directory's
/// <c>keys/</c>; a retired key is pruned once it is older than the token lifetime plus clock skew (at start, after a
/// rotation, and every few minutes). Readers take a snapshot; rotation swaps it atomically.
/// </summary>
internal sealed partial class SigningKeySet : BackgroundService
{
    private static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan PruneInterval = TimeSpan.FromMinutes(5);

    private readonly DataDirectory _dataDirectory;
    private readonly TimeProvider _timeProvider;
    private readonly TimeSpan _retention;
    private readonly ILogger<SigningKeySet> _logger;
    private readonly Lock _gate = new();
    private volatile IReadOnlyList<SigningKey> _current;

    public SigningKeySet(DataDirectory dataDirectory, IReadOnlyList<SigningKey> keys, TimeSpan tokenLifetime, TimeProvider timeProvider, ILogger<SigningKeySet> logger)
    {
        _dataDirectory = dataDirectory;
        _current = keys;
        _retention = tokenLifetime + ClockSkew;
        _timeProvider = timeProvider;
        _logger = logger;
    }

    /// <summary>The keys in force, the signer first.</summary>
    public IReadOnlyList<SigningKey> Current => _current;

    /// <summary>When a key was retired by a rotation (null for the active key).</summary>
    public DateTimeOffset? RetiredAt(string keyId) => _dataDirectory.SigningKeyRetiredAt(keyId);

    /// <summary>Makes a new key active; the previous keys keep verifying until they are pruned.</summary>
    public SigningKey Rotate()
    {
        lock (_gate)
        {
            var key = _dataDirectory.RotateSigningKey(_timeProvider.GetUtcNow());
            LogRotated(_logger, key.KeyId);
            PruneLocked();
            _current = [key, .. _current.Where(k => k.KeyId != key.KeyId)];
            return _current[0];
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
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

    private void PruneLocked()
    {
        var removed = _dataDirectory.PruneSigningKeys(_timeProvider.GetUtcNow(), _retention);
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
}
