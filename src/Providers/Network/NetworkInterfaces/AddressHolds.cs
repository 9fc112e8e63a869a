namespace Holdfast.Providers.Network.NetworkInterfaces;

/// <summary>
/// Addresses this process has just handed to a NIC write that has not committed yet. Concurrent writes to one subnet
/// skip them, so each picks a different free address instead of all racing for the lowest; the store's compare that
/// the address key is absent stays the only arbiter (a hold is a hint, and lapses after <see cref="Lifetime"/>).
/// </summary>
internal sealed class AddressHolds(TimeProvider timeProvider)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(10);

    private readonly Lock _lock = new();
    private readonly Dictionary<string, (string Owner, DateTimeOffset Until)> _holds = new(StringComparer.Ordinal);

    /// <summary>
    /// Holds for <paramref name="owner"/> the first of <paramref name="candidates"/> (address keys, in preference order)
    /// that no other owner holds; null when every candidate is held by another.
    /// </summary>
    public string? HoldFirst(IEnumerable<string> candidates, string owner)
    {
        var now = timeProvider.GetUtcNow();
        lock (_lock)
        {
            foreach (var key in candidates)
            {
                if (_holds.TryGetValue(key, out var hold) && hold.Until > now && !string.Equals(hold.Owner, owner, StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                _holds[key] = (owner, now + Lifetime);
                return key;
            }

            if (_holds.Count > 4096)
            {
                foreach (var expired in _holds.Where(h => h.Value.Until <= now).Select(h => h.Key).ToList())
                {
                    _holds.Remove(expired);
                }
            }

            return null;
        }
    }

    /// <summary>Forgets holds whose address keys are now in the store (their writes committed).</summary>
    public void Forget(IEnumerable<string> committedKeys)
    {
        lock (_lock)
        {
            foreach (var key in committedKeys)
            {
                _holds.Remove(key);
            }
        }
    }
}
