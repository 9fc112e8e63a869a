using System.Security.Cryptography;
using Holdfast.Audit.Chain;

namespace Holdfast.Audit.Verification;

/// <summary>
/// Checks an activity log — entries in stored order, the checkpoints kept with them and, after retention, the anchor
/// they start from — and names the first problem: an edited, removed, inserted or reordered entry, a truncated start,
/// or a checkpoint that is forged, unknown or disagrees with the log.
/// </summary>
/// <remarks>
/// <para>
/// How problems are told apart. The walk expects entry <c>s</c> to link to the hash it accepted last; when an entry
/// does not fit it asks, in order: does its hash disagree with its content while it sits at <c>s</c> or links to
/// the last accepted entry (<see cref="AuditProblem.Edited"/>)? Does the same entry appear twice
/// (<see cref="AuditProblem.Inserted"/>)? Does the entry it links to appear later in the list — it is genuine but
/// early (<see cref="AuditProblem.Reordered"/>)? Does it claim a sequence already taken, or does the chain carry on
/// as if it were not there (<see cref="AuditProblem.Inserted"/>)? Does it skip ahead
/// (<see cref="AuditProblem.Removed"/>; at the start, <see cref="AuditProblem.TruncatedWithoutCheckpoint"/>)? Otherwise
/// it sits at <c>s</c>, is self-consistent, and links to a hash entry <c>s − 1</c> does not have: one of the two was
/// rewritten with a recomputed hash; if a checkpoint vouches for <c>s − 1</c> the fault is <c>s</c>'s, else it is
/// reported at <c>s − 1</c> (<see cref="AuditProblem.Edited"/>). Hash links are 256-bit matches, so these tests
/// do not confuse one case for another by chance.
/// </para>
/// <para>
/// What it cannot see. The chain is unkeyed: anyone who can write the log can append well-formed entries, or rewrite
/// any run of entries and recompute every hash after it, and the chain stays consistent. A signed checkpoint stops
/// that at its sequence: a rewrite before it fails the checkpoint (<see cref="AuditProblem.BadCheckpoint"/>), and
/// entries cut off before it are reported as removed. Entries after the last checkpoint
/// (<see cref="AuditVerification.LastCheckpointSequence"/>) can be rewritten, appended or cut off undetected, so the
/// checkpoint interval bounds that window. Someone who also holds the signing key (it lives in the data directory)
/// can re-sign checkpoints and rewrite everything; against them only checkpoints and exports that have already left
/// the machine help — pass such a checkpoint in <c>checkpoints</c> and it is checked like any other. Nor can the
/// verifier notice a deleted checkpoint: nothing in the log says one should have been there.
/// </para>
/// </remarks>
public static class AuditVerifier
{
    /// <param name="entries">The entries in stored order (the order is part of what is checked).</param>
    /// <param name="checkpoints">Checkpoints in any order; several per sequence are allowed (e.g. after a key rotation).</param>
    /// <param name="publicKeyById">Resolves a checkpoint's key id to its public key, or null for an unknown key. Keys stay owned by the caller.</param>
    /// <param name="retentionAnchor">The checkpoint entries were truncated up to; entries at or below its sequence are not checked.</param>
    public static AuditVerification Verify(
        IReadOnlyList<AuditEntry> entries,
        IReadOnlyList<AuditCheckpoint> checkpoints,
        Func<string, ECDsa?> publicKeyById,
        AuditCheckpoint? retentionAnchor = null)
    {
        ArgumentNullException.ThrowIfNull(entries);
        ArgumentNullException.ThrowIfNull(checkpoints);
        ArgumentNullException.ThrowIfNull(publicKeyById);
        if (entries.Any(e => e is null) || checkpoints.Any(c => c is null))
        {
            throw new ArgumentException("Entries and checkpoints must not contain null.");
        }

        return new ChainWalk(entries, checkpoints, publicKeyById).Run(retentionAnchor);
    }
}
