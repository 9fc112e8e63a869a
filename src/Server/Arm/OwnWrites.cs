using System.Collections.Concurrent;
using Holdfast.State;

namespace Holdfast.Server.Arm;

/// <summary>
/// The documents this replica wrote last, by store key, with their mod revisions: a write's first guess at the current
/// state, so a PUT that replaces what it wrote before needs no read before its compare-and-swap. Only ever used as the
/// expected state of a compare: a stale entry (another replica wrote, or the key was deleted) fails the compare, whose
/// failure branch reads the current value in the same round trip. Bounded: past <see cref="Capacity"/> keys it starts over.
/// </summary>
internal sealed class OwnWrites
{
    public const int Capacity = 4096;

    private readonly ConcurrentDictionary<string, KeyValue> _byKey = new(StringComparer.Ordinal);

    public KeyValue? Find(string key) => _byKey.GetValueOrDefault(key);

    /// <summary>Remembers a document just committed at <paramref name="revision"/>.</summary>
    public void Remember(string key, byte[] value, long revision, KeyValue? previous)
    {
        if (_byKey.Count >= Capacity)
        {
            _byKey.Clear();
        }

        _byKey[key] = new KeyValue(key, value, previous?.CreateRevision ?? revision, revision, (previous?.Version ?? 0) + 1, 0);
    }
}
