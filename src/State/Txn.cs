namespace Holdfast.State;

public enum CompareTarget
{
    /// <summary>Mod revision of the key; 0 when absent.</summary>
    ModRevision,
    /// <summary>Create revision of the key; 0 when absent.</summary>
    CreateRevision,
    /// <summary>Writes since creation; 0 when absent.</summary>
    Version,
    /// <summary>Byte-wise value comparison; an absent key never matches.</summary>
    Value,
}

public enum CompareOperator
{
    Equal,
    NotEqual,
    Less,
    Greater,
}

/// <summary>One guard of a transaction, as in etcd's Compare.</summary>
public sealed record Compare(string Key, CompareTarget Target, CompareOperator Operator, long Number = 0, ReadOnlyMemory<byte> Value = default)
{
    public static Compare ModRevisionIs(string key, long modRevision) => new(key, CompareTarget.ModRevision, CompareOperator.Equal, modRevision);

    public static Compare Absent(string key) => new(key, CompareTarget.CreateRevision, CompareOperator.Equal, 0);

    public static Compare Exists(string key) => new(key, CompareTarget.CreateRevision, CompareOperator.Greater, 0);

    /// <summary>
    /// Evaluates this guard against a key's current value (null when absent), with etcd's semantics: an absent key
    /// has 0 for every numeric target and never matches a value compare; values compare byte-wise.
    /// </summary>
    public bool IsSatisfiedBy(KeyValue? kv)
    {
        int order;
        if (Target == CompareTarget.Value)
        {
            if (kv is null)
            {
                return false;
            }

            order = kv.Value.Span.SequenceCompareTo(Value.Span);
        }
        else
        {
            long actual = kv is null ? 0 : Target switch
            {
                CompareTarget.ModRevision => kv.ModRevision,
                CompareTarget.CreateRevision => kv.CreateRevision,
                CompareTarget.Version => kv.Version,
                _ => throw new InvalidOperationException($"Unknown compare target {Target}."),
            };
            order = actual.CompareTo(Number);
        }

        return Operator switch
        {
            CompareOperator.Equal => order == 0,
            CompareOperator.NotEqual => order != 0,
            CompareOperator.Less => order < 0,
            CompareOperator.Greater => order > 0,
            _ => throw new InvalidOperationException($"Unknown compare operator {Operator}."),
        };
    }
}

public enum TxnOpType
{
    Put,
    /// <summary>Deletes one key (no-op if absent).</summary>
    Delete,
    /// <summary>Deletes every key under a prefix.</summary>
    DeletePrefix,
    /// <summary>Reads one key inside the transaction's snapshot.</summary>
    Get,
    /// <summary>Reads every key under a prefix inside the transaction's snapshot.</summary>
    Range,
}

public sealed record TxnOp(TxnOpType Type, string Key, ReadOnlyMemory<byte> Value = default, long Lease = 0)
{
    public static TxnOp Put(string key, ReadOnlyMemory<byte> value, long lease = 0) => new(TxnOpType.Put, key, value, lease);

    public static TxnOp Delete(string key) => new(TxnOpType.Delete, key);

    public static TxnOp DeletePrefix(string prefix) => new(TxnOpType.DeletePrefix, prefix);

    public static TxnOp Get(string key) => new(TxnOpType.Get, key);

    public static TxnOp Range(string prefix) => new(TxnOpType.Range, prefix);
}

public sealed record TxnRequest(IReadOnlyList<Compare> Compares, IReadOnlyList<TxnOp> Success, IReadOnlyList<TxnOp> Failure)
{
    public TxnRequest(IReadOnlyList<Compare> compares, IReadOnlyList<TxnOp> success)
        : this(compares, success, [])
    {
    }

    /// <summary>
    /// The caller does not need a revision of its own: a backend whose every commit is a network round trip (etcd) may
    /// commit this transaction together with other such transactions at one revision (group commit). It stays atomic,
    /// its compares are checked against the state just before it, and only transactions on disjoint keys are grouped,
    /// so the outcome is one a serial order would give. Backends may ignore it.
    /// </summary>
    public bool MayShareRevision { get; init; }

    /// <summary>
    /// The caller reads no previous values from the success branch's writes: a backend may leave their
    /// <see cref="TxnOpResult.Kvs"/> empty (etcd then sends no <c>prev_kv</c>; <see cref="TxnOpResult.Deleted"/> still
    /// counts). Reads (Get, Range) and the failure branch are unaffected.
    /// </summary>
    public bool WithoutPreviousValues { get; init; }
}

/// <summary>
/// Per-operation result: for Get/Range the keys read; for Put the previous value (if any) in <see cref="Kvs"/>;
/// for Delete/DeletePrefix the deleted keys' previous values, with <see cref="Deleted"/> their count.
/// </summary>
public sealed record TxnOpResult(IReadOnlyList<KeyValue> Kvs, long Deleted);

/// <summary><see cref="Revision"/> is the new revision if the transaction wrote, else the revision it read at.</summary>
public sealed record TxnResult(bool Succeeded, long Revision, IReadOnlyList<TxnOpResult> Results);
