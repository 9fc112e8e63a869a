using System.Runtime.CompilerServices;
using Holdfast.State;

namespace Holdfast.Server.Cluster;

/// <summary>
/// The shared token-signing ring in the store (<c>/cluster/secrets/signing-keys</c>): rotation and pruning are
/// compare-and-swap on its mod revision (retried on a concurrent change), and a watch carries every replica's change
/// to all of them.
/// </summary>
internal sealed class ClusterSigningKeys(IStateStore store, SecretBox box)
{
    private const int MaxAttempts = 10;

    /// <summary>The ring now, its mod revision and the store revision it was read at.</summary>
    public async Task<(SigningKeyRing Ring, long ModRevision, long Revision)> ReadAsync(CancellationToken cancellationToken)
    {
        var page = await store.RangeAsync(new RangeRequest(ClusterSecrets.SigningKeysKey), cancellationToken).ConfigureAwait(false);
        var kv = page.Items.FirstOrDefault(k => k.Key == ClusterSecrets.SigningKeysKey)
            ?? throw new StateStoreException($"'{ClusterSecrets.SigningKeysKey}' is missing from the store.");
        return (Decode(kv.Value), kv.ModRevision, page.Revision);
    }

    /// <summary>A new active key (the previous one retired now), with keys retired longer than <paramref name="retention"/> pruned.</summary>
    public async Task<(SigningKeyRing Ring, long ModRevision)> RotateAsync(DateTimeOffset now, TimeSpan retention, CancellationToken cancellationToken) =>
        (await UpdateAsync(ring => ring.Rotate(now) is var rotated ? rotated.Prune(now, retention) ?? rotated : null, cancellationToken).ConfigureAwait(false))!.Value;

    /// <summary>The ring without keys retired longer than <paramref name="retention"/>; null when there were none.</summary>
    public Task<(SigningKeyRing Ring, long ModRevision)?> PruneAsync(DateTimeOffset now, TimeSpan retention, CancellationToken cancellationToken) =>
        UpdateAsync(ring => ring.Prune(now, retention), cancellationToken);

    /// <summary>Every later version of the ring with its mod revision, until cancelled.</summary>
    public async IAsyncEnumerable<(SigningKeyRing Ring, long ModRevision)> WatchAsync(long afterRevision, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var change in store.WatchAsync(ClusterSecrets.SigningKeysKey, afterRevision, cancellationToken).ConfigureAwait(false))
        {
            if (change.Type == WatchEventType.Put && change.Kv.Key == ClusterSecrets.SigningKeysKey)
            {
                yield return (Decode(change.Kv.Value), change.Kv.ModRevision);
            }
        }
    }

    private SigningKeyRing Decode(ReadOnlyMemory<byte> value) => SigningKeyRing.FromJson(ClusterSecrets.Open(box, ClusterSecrets.SigningKeysKey, value));

    private async Task<(SigningKeyRing Ring, long ModRevision)?> UpdateAsync(Func<SigningKeyRing, SigningKeyRing?> change, CancellationToken cancellationToken)
    {
        for (var attempt = 1; attempt <= MaxAttempts; attempt++)
        {
            var kv = await store.GetAsync(ClusterSecrets.SigningKeysKey, cancellationToken).ConfigureAwait(false)
                ?? throw new StateStoreException($"'{ClusterSecrets.SigningKeysKey}' is missing from the store.");
            if (change(Decode(kv.Value)) is not { } next)
            {
                return null;
            }

            var result = await store.PutAsync(ClusterSecrets.SigningKeysKey, ClusterSecrets.Seal(box, ClusterSecrets.SigningKeysKey, next.ToJson()), kv.ModRevision, cancellationToken).ConfigureAwait(false);
            if (result.Succeeded)
            {
                return (next, result.Revision);
            }
        }

        throw new StateStoreException($"'{ClusterSecrets.SigningKeysKey}' changed on every one of {MaxAttempts} attempts to update it.", isTransient: true);
    }
}
