using Holdfast.Audit.Chain;

namespace Holdfast.Audit.Export;

/// <summary>
/// What an export carries: entries in stored order, the checkpoints kept with them and the retention anchor they start
/// from (null while nothing has been truncated, or when the entries start at sequence 1).
/// </summary>
public sealed record AuditExportContent(IReadOnlyList<AuditEntry> Entries, IReadOnlyList<AuditCheckpoint> Checkpoints, AuditCheckpoint? Anchor);
