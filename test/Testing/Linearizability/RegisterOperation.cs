namespace Holdfast.Testing.Linearizability;

/// <summary>What a register operation does: read the value, write one, or compare-and-set.</summary>
public enum RegisterOperationKind
{
    Read,
    Write,
    CompareAndSet,
}

/// <summary>
/// One client operation on the register named <see cref="Key"/>, as the client saw it: invoked at <see cref="Call"/>,
/// answered at <see cref="Return"/> (any monotonic clock, e.g. <c>Stopwatch.GetTimestamp()</c>). A
/// <see langword="null"/> <see cref="Return"/> is an unknown outcome (timeout, connection reset, 503): the operation
/// may have taken effect at any time after its call, or never. Values are strings; <see langword="null"/> is "absent".
/// </summary>
public sealed record RegisterOperation
{
    private RegisterOperation(string key, RegisterOperationKind kind, long call, long? @return)
    {
        if (@return is { } end && end < call)
        {
            throw new ArgumentException($"An operation cannot return ({end}) before it is called ({call}).", nameof(@return));
        }

        Key = key;
        Kind = kind;
        Call = call;
        Return = @return;
    }

    public string Key { get; }

    public RegisterOperationKind Kind { get; }

    public long Call { get; }

    /// <summary>When the client got the answer; <see langword="null"/> when the outcome is unknown.</summary>
    public long? Return { get; }

    /// <summary>A read's observed value, or the value a write or compare-and-set stores.</summary>
    public string? Value { get; private init; }

    /// <summary>The value a compare-and-set expects to replace.</summary>
    public string? Expected { get; private init; }

    /// <summary>Whether a compare-and-set took effect; <see langword="null"/> when the outcome is unknown.</summary>
    public bool? Succeeded { get; private init; }

    /// <summary>Free text carried into verdicts (e.g. the HTTP status the client saw).</summary>
    public string? Note { get; init; }

    public bool IsUnknown => Return is null;

    /// <summary>A completed read that returned <paramref name="value"/>.</summary>
    public static RegisterOperation Read(string key, long call, long @return, string? value) =>
        new(key, RegisterOperationKind.Read, call, @return) { Value = value };

    /// <summary>A write of <paramref name="value"/>: acknowledged when <paramref name="return"/> is set, else unknown.</summary>
    public static RegisterOperation Write(string key, long call, long? @return, string? value) =>
        new(key, RegisterOperationKind.Write, call, @return) { Value = value };

    /// <summary>A compare-and-set that definitely succeeded or definitely failed (e.g. 412 Precondition Failed).</summary>
    public static RegisterOperation CompareAndSet(string key, long call, long @return, string? expected, string? value, bool succeeded) =>
        new(key, RegisterOperationKind.CompareAndSet, call, @return) { Expected = expected, Value = value, Succeeded = succeeded };

    /// <summary>A compare-and-set whose outcome is unknown: it may have succeeded at any time after its call, or never.</summary>
    public static RegisterOperation UnknownCompareAndSet(string key, long call, string? expected, string? value) =>
        new(key, RegisterOperationKind.CompareAndSet, call, null) { Expected = expected, Value = value };

    public override string ToString()
    {
        string end = Return is { } r ? r.ToString(System.Globalization.CultureInfo.InvariantCulture) : "?";
        string body = Kind switch
        {
            RegisterOperationKind.Read => $"read -> {Show(Value)}",
            RegisterOperationKind.Write => $"write {Show(Value)}" + (IsUnknown ? " (unknown)" : string.Empty),
            _ => $"cas {Show(Expected)} -> {Show(Value)}: " + (Succeeded switch { true => "ok", false => "failed", null => "unknown" }),
        };
        return $"[{Call}, {end}] {Key}: {body}" + (Note is null ? string.Empty : $" ({Note})");
    }

    private static string Show(string? value) => value is null ? "<absent>" : $"'{value}'";
}
