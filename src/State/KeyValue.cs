namespace Holdfast.State;

/// <summary>
/// One key as stored at a revision. Revision semantics follow etcd's mvcc: <see cref="CreateRevision"/> is the
/// revision of the write that created the key (it resets when the key is deleted and created again),
/// <see cref="ModRevision"/> the revision of its last write, and <see cref="Version"/> counts writes since creation.
/// </summary>
public sealed record KeyValue(string Key, ReadOnlyMemory<byte> Value, long CreateRevision, long ModRevision, long Version, long Lease);
