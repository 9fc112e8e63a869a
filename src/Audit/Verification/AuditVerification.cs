namespace Holdfast.Audit.Verification;

/// <summary>The outcome of <see cref="AuditVerifier.Verify"/>: intact, or the first problem found, in plain words.</summary>
public sealed record AuditVerification
{
    public required AuditProblem Problem { get; init; }

    /// <summary>
    /// The sequence the problem is at; null when intact. For <see cref="AuditProblem.Removed"/> and
    /// <see cref="AuditProblem.TruncatedWithoutCheckpoint"/> the first missing sequence, for
    /// <see cref="AuditProblem.Inserted"/> the sequence the extra entry claims, for <see cref="AuditProblem.Reordered"/>
    /// the first sequence out of place, for checkpoint problems the checkpoint's sequence.
    /// </summary>
    public long? FirstBadSequence { get; init; }

    /// <summary>What was found, naming the entry, for an operator to read.</summary>
    public required string Message { get; init; }

    /// <summary>
    /// The last entry that chained correctly before the walk stopped (the last entry when intact); null if none did.
    /// Chaining only proves consistency: see <see cref="LastCheckpointSequence"/> for what a signature fixes.
    /// </summary>
    public long? LastVerifiedSequence { get; init; }

    /// <summary>
    /// The highest sequence a verified signed checkpoint (or the retention anchor) vouches for. Entries after it chain
    /// correctly but could have been rewritten, appended or cut off by anyone with write access to the log.
    /// </summary>
    public long? LastCheckpointSequence { get; init; }

    public bool IsIntact => Problem == AuditProblem.None;
}
