using System.Globalization;
using System.Security.Cryptography;
using Holdfast.Audit.Chain;

namespace Holdfast.Audit.Verification;

/// <summary>One pass of <see cref="AuditVerifier"/> over a log: the state of the walk and the rules that classify a break.</summary>
internal sealed class ChainWalk
{
    private readonly IReadOnlyList<AuditEntry> _entries;
    private readonly bool[] _hashMatches;
    private readonly Dictionary<string, int> _firstPositionByHash = new(StringComparer.Ordinal);

    // Only hashes that occur more than once, with every position; kept apart so a long log costs one int per entry.
    private readonly Dictionary<string, List<int>> _repeatedPositionsByHash = new(StringComparer.Ordinal);
    private readonly List<AuditCheckpoint> _checkpoints;
    private readonly Func<string, ECDsa?> _publicKeyById;

    private int _nextCheckpoint;
    private long _expectedSequence = 1;
    private string _expectedPrevious = AuditEntry.GenesisHash;
    private string _startedFrom = "the start of the log";

    // Invariant: a verified checkpoint, the anchor, or genesis (0) vouches for the hash of entry _vouchedSequence.
    private long _vouchedSequence;
    private long? _lastCheckpointSequence;
    private long? _firstVerifiedSequence;
    private long? _lastVerifiedSequence;
    private int _lastAcceptedIndex = -1;
    private string? _previousOfLastAccepted;

    public ChainWalk(IReadOnlyList<AuditEntry> entries, IReadOnlyList<AuditCheckpoint> checkpoints, Func<string, ECDsa?> publicKeyById)
    {
        _entries = entries;
        _publicKeyById = publicKeyById;
        _hashMatches = new bool[entries.Count];
        for (var i = 0; i < entries.Count; i++)
        {
            _hashMatches[i] = entries[i].VerifyHash();
            if (entries[i].Hash is not { } hash)
            {
                continue;
            }

            if (_firstPositionByHash.TryAdd(hash, i))
            {
                continue;
            }

            if (!_repeatedPositionsByHash.TryGetValue(hash, out var positions))
            {
                _repeatedPositionsByHash[hash] = positions = [_firstPositionByHash[hash]];
            }

            positions.Add(i);
        }

        // OrderBy is stable, so checkpoints for one sequence keep the caller's order.
        _checkpoints = [.. checkpoints.OrderBy(c => c.Sequence)];
    }

    public AuditVerification Run(AuditCheckpoint? anchor)
    {
        if (Start(anchor, out var index) is { } startProblem)
        {
            return startProblem;
        }

        if (CheckCheckpointsBeforeStart() is { } checkpointProblem)
        {
            return checkpointProblem;
        }

        for (var first = index; index < _entries.Count; index++)
        {
            var entry = _entries[index];
            if (!_hashMatches[index] || entry.Sequence != _expectedSequence || !Same(entry.PreviousHash, _expectedPrevious))
            {
                return Classify(index, first);
            }

            if (CheckCheckpointsAt(entry) is { } problem)
            {
                return problem;
            }

            _previousOfLastAccepted = _expectedPrevious;
            _lastAcceptedIndex = index;
            _firstVerifiedSequence ??= entry.Sequence;
            _lastVerifiedSequence = entry.Sequence;
            _expectedPrevious = entry.Hash;
            _expectedSequence++;
        }

        return CheckCheckpointsAfterEnd() ?? Intact();
    }

    /// <summary>Picks where the chain starts: genesis, the retention anchor, or a checkpoint just before the first entry.</summary>
    private AuditVerification? Start(AuditCheckpoint? anchor, out int firstIndex)
    {
        firstIndex = 0;
        if (_entries.Any(e => e.Sequence == 1) || (anchor is null && _entries.Count == 0))
        {
            if (anchor is not null)
            {
                // Nothing was truncated yet: the anchor is one more checkpoint the walk checks when it gets there.
                _checkpoints.Insert(_checkpoints.FindLastIndex(c => c.Sequence <= anchor.Sequence) + 1, anchor);
            }

            return null;
        }

        AuditCheckpoint start;
        if (anchor is not null)
        {
            start = anchor;
            _startedFrom = "the retention anchor";
        }
        else
        {
            var first = _entries.Where((e, i) => _hashMatches[i]).Select(e => e.Sequence).DefaultIfEmpty(_entries[0].Sequence).Min();
            var candidates = _checkpoints.Where(c => c.Sequence == first - 1).ToList();
            if (candidates.Count == 0)
            {
                return Fail(
                    AuditProblem.TruncatedWithoutCheckpoint,
                    1,
                    $"The log starts at entry {first}, and no signed checkpoint covers entry {first - 1}: {Range(1, first - 1)} {Were(1, first - 1)} removed without a retention anchor.");
            }

            start = candidates.FirstOrDefault(c => CheckSignature(c, "checkpoint") is null) ?? candidates[0];
            _startedFrom = "the checkpoint the log starts from";
        }

        if (CheckSignature(start, anchor is null ? "checkpoint the log starts from" : "retention anchor") is { } problem)
        {
            return problem;
        }

        _expectedSequence = start.Sequence + 1;
        _expectedPrevious = start.EntryHash;
        _vouchedSequence = start.Sequence;
        _lastCheckpointSequence = start.Sequence;
        while (firstIndex < _entries.Count && _entries[firstIndex].Sequence <= start.Sequence)
        {
            // Older than the anchor: retention may delete these at any time, and the anchor vouches for them.
            firstIndex++;
        }

        return null;
    }

    private AuditVerification? CheckCheckpointsBeforeStart()
    {
        for (; _nextCheckpoint < _checkpoints.Count && _checkpoints[_nextCheckpoint].Sequence < _expectedSequence; _nextCheckpoint++)
        {
            var checkpoint = _checkpoints[_nextCheckpoint];
            if (CheckSignature(checkpoint, "checkpoint") is { } problem)
            {
                return problem;
            }

            if (checkpoint.Sequence == _expectedSequence - 1 && !Same(checkpoint.EntryHash, _expectedPrevious))
            {
                return Fail(
                    AuditProblem.BadCheckpoint,
                    checkpoint.Sequence,
                    $"The signed checkpoint for entry {checkpoint.Sequence} records hash {HashText.Short(checkpoint.EntryHash)}, but {_startedFrom} records {HashText.Short(_expectedPrevious)}: they describe different logs.");
            }
        }

        return null;
    }

    private AuditVerification? CheckCheckpointsAt(AuditEntry entry)
    {
        for (; _nextCheckpoint < _checkpoints.Count && _checkpoints[_nextCheckpoint].Sequence == entry.Sequence; _nextCheckpoint++)
        {
            var checkpoint = _checkpoints[_nextCheckpoint];
            if (CheckSignature(checkpoint, "checkpoint") is { } problem)
            {
                return problem;
            }

            if (!Same(checkpoint.EntryHash, entry.Hash))
            {
                return Fail(
                    AuditProblem.BadCheckpoint,
                    entry.Sequence,
                    $"The signed checkpoint for entry {entry.Sequence} records hash {HashText.Short(checkpoint.EntryHash)}, but entry {entry.Sequence} hashes to {HashText.Short(entry.Hash)}: "
                    + $"{Among(_vouchedSequence + 1, entry.Sequence)} was rewritten and the hashes after it recomputed (each entry still links to the one before it; only the signature shows it).");
            }

            _vouchedSequence = entry.Sequence;
            _lastCheckpointSequence = entry.Sequence;
        }

        return null;
    }

    /// <summary>A checkpoint beyond the last entry means entries were cut off the end.</summary>
    private AuditVerification? CheckCheckpointsAfterEnd()
    {
        if (_nextCheckpoint >= _checkpoints.Count)
        {
            return null;
        }

        var checkpoint = _checkpoints[_nextCheckpoint];
        if (CheckSignature(checkpoint, "checkpoint") is { } problem)
        {
            return problem;
        }

        var ends = _lastVerifiedSequence is { } last ? $"The log ends at entry {last}" : $"The log has no entries after {_startedFrom}";
        return Fail(
            AuditProblem.Removed,
            _expectedSequence,
            $"{ends}, but a signed checkpoint covers entry {checkpoint.Sequence}: {Range(_expectedSequence, checkpoint.Sequence)} {Were(_expectedSequence, checkpoint.Sequence)} removed from the end.");
    }

    /// <summary>Names the first problem at <paramref name="index"/>, the first entry that does not continue the chain.</summary>
    private AuditVerification Classify(int index, int firstIndex)
    {
        var entry = _entries[index];
        var s = _expectedSequence;
        var p = _expectedPrevious;
        if (entry.SchemaVersion != AuditEntry.CurrentSchemaVersion)
        {
            return Fail(
                AuditProblem.UnsupportedSchemaVersion,
                entry.Sequence,
                $"Entry {entry.Sequence} uses schema version {entry.SchemaVersion}, which this version of Holdfast cannot check (it knows version {AuditEntry.CurrentSchemaVersion}); verify with a newer Holdfast.");
        }

        // Content changed in place: the stored hash (which the next entry still links to) no longer matches.
        if (!_hashMatches[index] && (entry.Sequence == s || Same(entry.PreviousHash, p)))
        {
            return Fail(
                AuditProblem.Edited,
                s,
                entry.Sequence == s
                    ? $"Entry {s} was edited: its stored hash does not match its content."
                    : $"Entry {s} was edited: the entry in its place now claims sequence {entry.Sequence} and does not match its stored hash.");
        }

        if (entry.Hash is not null && _repeatedPositionsByHash.TryGetValue(entry.Hash, out var copies))
        {
            return Fail(
                AuditProblem.Inserted,
                entry.Sequence,
                $"Entry {entry.Sequence} appears {copies.Count} times (at positions {string.Join(", ", copies.Select(c => c + 1))} of the log): a copy was inserted.");
        }

        if (PredecessorAfter(index) is { } predecessor)
        {
            var follows = _entries[predecessor].Sequence;
            return Fail(
                AuditProblem.Reordered,
                Math.Min(s, entry.Sequence),
                follows == s
                    ? $"Entries are out of order: entry {entry.Sequence} appears before entry {s}, which it follows in the chain."
                    : $"Entries are out of order: entry {entry.Sequence} appears where entry {s} belongs, ahead of entry {follows}, which it follows in the chain.");
        }

        if (_hashMatches[index] && entry.Sequence < s)
        {
            // A second entry for a sequence already taken. If the chain continues from this one, the one accepted
            // a moment ago was the forgery; either way the sequence named is the one claimed twice.
            return entry.Sequence == s - 1 && Same(entry.PreviousHash, _previousOfLastAccepted) && Fits(index + 1, s, entry.Hash)
                ? Fail(
                    AuditProblem.Inserted,
                    entry.Sequence,
                    $"Two entries claim sequence {entry.Sequence}; entry {s} links to the one at position {index + 1}, so the one at position {_lastAcceptedIndex + 1} was inserted.")
                : Fail(
                    AuditProblem.Inserted,
                    entry.Sequence,
                    $"An extra entry claiming sequence {entry.Sequence} was inserted at position {index + 1}, {After(s)}; sequence {entry.Sequence} is already taken.");
        }

        if (Fits(index + 1, s, p))
        {
            return Fail(
                AuditProblem.Inserted,
                entry.Sequence,
                $"An entry claiming sequence {entry.Sequence} was inserted at position {index + 1}, {After(s)}: it does not link into the chain, and entry {s} follows without it.");
        }

        if (entry.Sequence > s)
        {
            return index == firstIndex && _lastAcceptedIndex < 0
                ? Fail(
                    AuditProblem.TruncatedWithoutCheckpoint,
                    s,
                    $"The log starts at entry {entry.Sequence}, but {_startedFrom} covers only up to entry {s - 1}: {Range(s, entry.Sequence - 1)} {Were(s, entry.Sequence - 1)} removed without a checkpoint to anchor them.")
                : Fail(
                    AuditProblem.Removed,
                    s,
                    $"{Capitalized(Range(s, entry.Sequence - 1))} {(entry.Sequence - 1 == s ? "is" : "are")} missing: the log goes from entry {s - 1} straight to entry {entry.Sequence}.");
        }

        if (!_hashMatches[index])
        {
            return Fail(
                AuditProblem.Edited,
                s,
                $"Entry {s} was edited: the entry in its place claims sequence {entry.Sequence} and does not match its stored hash.");
        }

        // Self-consistent, at the right sequence, but linked to a hash entry s - 1 does not have: one of the two was
        // rewritten with a recomputed hash. A checkpoint (or the anchor, or genesis) vouching for s - 1 clears it.
        return _vouchedSequence == s - 1
            ? Fail(
                AuditProblem.Edited,
                s,
                s == 1
                    ? "Entry 1 does not link to the start of the log: it was replaced or rewritten with a recomputed hash."
                    : $"Entry {s} does not link to entry {s - 1}, whose hash a signed checkpoint vouches for: entry {s} was replaced or rewritten with a recomputed hash.")
            : Fail(
                AuditProblem.Edited,
                s - 1,
                $"Entry {s} links to a hash that entry {s - 1} does not have: entry {s - 1} was rewritten with a recomputed hash (or entry {s} was replaced).");
    }

    /// <summary>The position after <paramref name="index"/> of the entry that <paramref name="index"/>'s entry links to, if it comes later.</summary>
    private int? PredecessorAfter(int index)
    {
        if (_entries[index].PreviousHash is not { } previous || !_firstPositionByHash.TryGetValue(previous, out var first))
        {
            return null;
        }

        if (first > index)
        {
            return first;
        }

        if (_repeatedPositionsByHash.TryGetValue(previous, out var positions))
        {
            foreach (var position in positions)
            {
                if (position > index)
                {
                    return position;
                }
            }
        }

        return null;
    }

    private bool Fits(int index, long sequence, string? previousHash) =>
        index < _entries.Count
        && _hashMatches[index]
        && _entries[index].Sequence == sequence
        && Same(_entries[index].PreviousHash, previousHash);

    private AuditVerification? CheckSignature(AuditCheckpoint checkpoint, string what)
    {
        var key = checkpoint.KeyId is null ? null : _publicKeyById(checkpoint.KeyId);
        if (key is null)
        {
            return Fail(
                AuditProblem.UnknownKey,
                checkpoint.Sequence,
                $"The {what} for entry {checkpoint.Sequence} is signed with key '{checkpoint.KeyId}', which is not among the known keys, so it cannot be checked.");
        }

        return checkpoint.VerifySignature(key)
            ? null
            : Fail(
                AuditProblem.BadCheckpoint,
                checkpoint.Sequence,
                $"The {what} for entry {checkpoint.Sequence} (key '{checkpoint.KeyId}') has a signature that does not verify: it was forged or altered.");
    }

    private AuditVerification Intact()
    {
        string message;
        if (_firstVerifiedSequence is not { } first || _lastVerifiedSequence is not { } last)
        {
            message = _lastCheckpointSequence is { } anchored
                ? $"The log is intact: it has no entries after {_startedFrom} at entry {anchored}."
                : "The log is empty.";
        }
        else
        {
            var coverage = _lastCheckpointSequence switch
            {
                { } signed when signed >= last => ", and signed checkpoints cover all of them.",
                { } signed when signed >= first => $"; signed checkpoints cover up to entry {signed}, and {Range(signed + 1, last)} after it {(signed + 1 == last ? "is" : "are")} not signed yet.",
                _ => "; no signed checkpoint covers them yet, so they are only consistent with each other.",
            };
            message = $"The log is intact: {Range(first, last)} chain correctly{coverage}";
        }

        return new AuditVerification
        {
            Problem = AuditProblem.None,
            Message = message,
            LastVerifiedSequence = _lastVerifiedSequence,
            LastCheckpointSequence = _lastCheckpointSequence,
        };
    }

    private AuditVerification Fail(AuditProblem problem, long sequence, string message) => new()
    {
        Problem = problem,
        FirstBadSequence = sequence,
        Message = message,
        LastVerifiedSequence = _lastVerifiedSequence,
        LastCheckpointSequence = _lastCheckpointSequence,
    };

    private static bool Same(string? a, string? b) => a is not null && string.Equals(a, b, StringComparison.Ordinal);

    private static string After(long sequence) => sequence > 1 ? $"after entry {sequence - 1}" : "at the start of the log";

    private static string Range(long first, long last) =>
        first == last ? $"entry {first}" : $"entries {first} to {last}";

    private static string Were(long first, long last) => first == last ? "was" : "were";

    private static string Among(long first, long last) =>
        first == last ? $"entry {first}" : $"one of entries {first} to {last}";

    private static string Capitalized(string text) => string.Concat(text[..1].ToUpper(CultureInfo.InvariantCulture), text.AsSpan(1));
}
