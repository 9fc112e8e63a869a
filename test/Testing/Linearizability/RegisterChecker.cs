using System.Globalization;

namespace Holdfast.Testing.Linearizability;

public enum LinearizabilityVerdict
{
    Linearizable,
    NotLinearizable,

    /// <summary>The search hit its step limit before it could decide.</summary>
    Inconclusive,
}

/// <summary>The checker's answer; for a violation, <see cref="Key"/> names the register and <see cref="Detail"/> says where the search got stuck.</summary>
public sealed record LinearizabilityResult(LinearizabilityVerdict Verdict, string? Key, string Detail, long Steps)
{
    public override string ToString() => $"{Verdict}{(Key is null ? string.Empty : " on " + Key)} after {Steps} steps: {Detail}";
}

/// <summary>
/// A linearizability checker for registers keyed by name (a map of independent registers), after Wing &amp; Gong's
/// search with Lowe's memoisation as Porcupine does it: the history is split by key (a map of registers is
/// linearizable when every register is), then for each key the search tries to order the operations so that every
/// one takes effect at one instant between its call and its return and the sequence is legal for a register.
/// Visited (set of linearized operations, register value) pairs are remembered, so no configuration is explored twice.
/// Operations with an unknown outcome never return: they may take effect at any time after their call, or never (the
/// search may place them after everything else, where they change nothing observed). A read with an unknown outcome
/// carries no information and is ignored. The search is bounded by a step budget shared across keys; past it the
/// verdict is <see cref="LinearizabilityVerdict.Inconclusive"/>, so a check never hangs.
/// </summary>
public static class RegisterChecker
{
    public const long DefaultMaxSteps = 20_000_000;

    /// <param name="history">Operations on any number of keys, in any order.</param>
    /// <param name="initialValues">Each key's value before the history (absent keys start absent, i.e. <see langword="null"/>).</param>
    /// <param name="maxSteps">The search budget across all keys.</param>
    public static LinearizabilityResult Check(IEnumerable<RegisterOperation> history, IReadOnlyDictionary<string, string?>? initialValues = null, long maxSteps = DefaultMaxSteps)
    {
        ArgumentNullException.ThrowIfNull(history);
        long steps = 0;
        LinearizabilityResult? inconclusive = null;
        int keys = 0;
        foreach (var group in history.Where(op => !(op.Kind == RegisterOperationKind.Read && op.IsUnknown)).GroupBy(op => op.Key, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            keys++;
            string? initial = initialValues is not null && initialValues.TryGetValue(group.Key, out var value) ? value : null;
            var result = CheckOne(group.Key, [.. group], initial, maxSteps - steps);
            steps += result.Steps;
            if (result.Verdict == LinearizabilityVerdict.NotLinearizable)
            {
                return result with { Steps = steps };
            }

            if (result.Verdict == LinearizabilityVerdict.Inconclusive)
            {
                inconclusive ??= result;
                if (steps >= maxSteps)
                {
                    break;
                }
            }
        }

        return inconclusive is not null
            ? inconclusive with { Steps = steps }
            : new LinearizabilityResult(LinearizabilityVerdict.Linearizable, null, string.Create(CultureInfo.InvariantCulture, $"{keys} key(s) linearizable"), steps);
    }

    private static LinearizabilityResult CheckOne(string key, RegisterOperation[] ops, string? initial, long budget)
    {
        int n = ops.Length;

        // Entries 0..n-1 are calls, n..2n-1 returns; a never-returning operation's return sorts last.
        var order = Enumerable.Range(0, 2 * n)
            .OrderBy(e => e < n ? ops[e].Call : ops[e - n].Return ?? long.MaxValue)
            .ThenBy(e => e < n ? 0 : 1) // a call at the same instant as a return counts as concurrent with it
            .ToArray();
        int head = 2 * n;
        var next = new int[(2 * n) + 1];
        var prev = new int[(2 * n) + 1];
        int last = head;
        foreach (int e in order)
        {
            next[last] = e;
            prev[e] = last;
            last = e;
        }

        next[last] = -1;

        var linearized = new ulong[(n + 63) / 64];
        var seen = new HashSet<CacheKey>(CacheKeyComparer.Instance);
        var stack = new Stack<(int Op, string? State)>();
        string? state = initial;
        int entry = next[head];
        long steps = 0;
        int deepest = -1;
        RegisterOperation? stuck = null;
        while (next[head] != -1)
        {
            if (++steps > budget)
            {
                return new LinearizabilityResult(LinearizabilityVerdict.Inconclusive, key, string.Create(CultureInfo.InvariantCulture, $"step limit reached with {stack.Count} of {n} operations linearized"), steps);
            }

            if (entry < n)
            {
                if (Step(ops[entry], state, out string? after))
                {
                    linearized[entry / 64] |= 1UL << (entry % 64);
                    if (seen.Add(new CacheKey((ulong[])linearized.Clone(), after)))
                    {
                        stack.Push((entry, state));
                        state = after;
                        Lift(entry, n, next, prev);
                        entry = next[head];
                        continue;
                    }

                    linearized[entry / 64] &= ~(1UL << (entry % 64));
                }

                entry = next[entry];
            }
            else
            {
                // A return reached before its operation was placed: nothing left can go here, so undo the last choice.
                if (stack.Count > deepest)
                {
                    deepest = stack.Count;
                    stuck = ops[entry - n];
                }

                if (stack.Count == 0)
                {
                    return new LinearizabilityResult(LinearizabilityVerdict.NotLinearizable, key, Explain(ops, deepest, stuck), steps);
                }

                (int op, string? before) = stack.Pop();
                state = before;
                linearized[op / 64] &= ~(1UL << (op % 64));
                Unlift(op, n, next, prev);
                entry = next[op];
            }
        }

        return new LinearizabilityResult(LinearizabilityVerdict.Linearizable, key, string.Create(CultureInfo.InvariantCulture, $"{n} operations linearizable"), steps);
    }

    /// <summary>The register's sequential specification: whether <paramref name="op"/> is legal on <paramref name="state"/>, and the state after it.</summary>
    private static bool Step(RegisterOperation op, string? state, out string? after)
    {
        after = state;
        switch (op.Kind)
        {
            case RegisterOperationKind.Read:
                return string.Equals(op.Value, state, StringComparison.Ordinal);
            case RegisterOperationKind.Write:
                after = op.Value;
                return true;
            default:
                bool matches = string.Equals(op.Expected, state, StringComparison.Ordinal);
                if (op.Succeeded == false)
                {
                    return !matches;
                }

                if (matches)
                {
                    after = op.Value;
                    return true;
                }

                // A definite success needs the expected value; an unknown outcome here is a compare that failed.
                return op.Succeeded is null;
        }
    }

    private static void Lift(int call, int n, int[] next, int[] prev)
    {
        foreach (int e in (ReadOnlySpan<int>)[call, call + n])
        {
            next[prev[e]] = next[e];
            if (next[e] != -1)
            {
                prev[next[e]] = prev[e];
            }
        }
    }

    private static void Unlift(int call, int n, int[] next, int[] prev)
    {
        foreach (int e in (ReadOnlySpan<int>)[call + n, call])
        {
            next[prev[e]] = e;
            if (next[e] != -1)
            {
                prev[next[e]] = e;
            }
        }
    }

    private static string Explain(RegisterOperation[] ops, int deepest, RegisterOperation? stuck)
    {
        string culprit = stuck is null ? string.Empty : $"; no legal place for {stuck} before it returned";
        return string.Create(CultureInfo.InvariantCulture, $"at most {Math.Max(deepest, 0)} of {ops.Length} operations could be linearized{culprit}");
    }

    private readonly record struct CacheKey(ulong[] Linearized, string? State);

    private sealed class CacheKeyComparer : IEqualityComparer<CacheKey>
    {
        public static readonly CacheKeyComparer Instance = new();

        public bool Equals(CacheKey x, CacheKey y) =>
            string.Equals(x.State, y.State, StringComparison.Ordinal) && x.Linearized.AsSpan().SequenceEqual(y.Linearized);

        public int GetHashCode(CacheKey obj)
        {
            var hash = default(HashCode);
            hash.Add(obj.State, StringComparer.Ordinal);
            foreach (ulong word in obj.Linearized)
            {
                hash.Add(word);
            }

            return hash.ToHashCode();
        }
    }
}
