namespace Holdfast.State.Sqlite;

/// <summary>Reads a transaction needs, from whichever connection (writer or a read snapshot) evaluates it.</summary>
internal interface IKvSource
{
    KeyValue? Get(string key);

    List<KeyValue> Range(string prefix);
}

/// <summary>etcd's compare semantics: numeric targets read 0 for an absent key; a value compare on an absent key fails.</summary>
internal static class TxnCompares
{
    public static bool AllHold(IReadOnlyList<Compare> compares, IKvSource source)
    {
        foreach (var compare in compares)
        {
            if (!compare.IsSatisfiedBy(source.Get(compare.Key)))
            {
                return false;
            }
        }

        return true;
    }

    public static bool IsReadOnly(TxnRequest request) => IsReadOnly(request.Success) && IsReadOnly(request.Failure);

    /// <summary>Results of the read-only operations (Get and Range) of a transaction that writes nothing.</summary>
    public static List<TxnOpResult> Read(IReadOnlyList<TxnOp> ops, IKvSource source)
    {
        var results = new List<TxnOpResult>(ops.Count);
        foreach (var op in ops)
        {
            results.Add(op.Type == TxnOpType.Get
                ? new TxnOpResult(source.Get(op.Key) is { } kv ? [kv] : [], 0)
                : new TxnOpResult(source.Range(op.Key), 0));
        }

        return results;
    }

    private static bool IsReadOnly(IReadOnlyList<TxnOp> ops)
    {
        foreach (var op in ops)
        {
            if (op.Type is not (TxnOpType.Get or TxnOpType.Range))
            {
                return false;
            }
        }

        return true;
    }
}
