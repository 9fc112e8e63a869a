namespace Holdfast.Audit.Verification;

/// <summary>The kind of the first problem <see cref="AuditVerifier"/> finds in a log.</summary>
public enum AuditProblem
{
    /// <summary>The log is intact.</summary>
    None,

    /// <summary>An entry's content changed: its stored hash does not match it, or its hash was recomputed and the next entry (or a checkpoint) no longer agrees.</summary>
    Edited,

    /// <summary>Entries are missing from the middle or, when a checkpoint covers it, from the end.</summary>
    Removed,

    /// <summary>An entry that does not belong to the chain: a forgery, a copy, or a second entry for a sequence already taken.</summary>
    Inserted,

    /// <summary>Genuine entries appear in the wrong order.</summary>
    Reordered,

    /// <summary>The log starts after entry 1 (or after the anchor's entry) and no signed checkpoint covers the start.</summary>
    TruncatedWithoutCheckpoint,

    /// <summary>A checkpoint's signature does not verify, or a validly signed checkpoint disagrees with the entry at its sequence.</summary>
    BadCheckpoint,

    /// <summary>A checkpoint names a key the caller does not know, so it cannot be checked.</summary>
    UnknownKey,

    /// <summary>An entry uses a canonical encoding this version of Holdfast does not know; upgrade the verifier.</summary>
    UnsupportedSchemaVersion,
}
