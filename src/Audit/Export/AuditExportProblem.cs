namespace Holdfast.Audit.Export;

/// <summary>Why <see cref="AuditExport.ReadAsync"/> refused a file.</summary>
public enum AuditExportProblem
{
    /// <summary>The file is a complete, signed export.</summary>
    None,

    /// <summary>Not an export, or a signed export whose content is not well-formed.</summary>
    Malformed,

    /// <summary>The file ends before its signed trailer.</summary>
    Truncated,

    /// <summary>The bytes do not hash to what the trailer records, or the trailer itself was damaged.</summary>
    Altered,

    /// <summary>The trailer's signature does not verify with the header's (or the pinned) key.</summary>
    BadSignature,

    /// <summary>The file is signed by a key other than the one the caller pinned.</summary>
    UntrustedKey,

    /// <summary>An export format version this version of Holdfast does not read.</summary>
    UnsupportedVersion,
}
