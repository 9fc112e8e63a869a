using Holdfast.Testing.Linearizability;

namespace Holdfast.Server.HaTests.Linearizability;

/// <summary>Hand-built histories with known answers: the checker must accept the linearizable ones and reject the rest.</summary>
public sealed class RegisterCheckerTests
{
    private const string K = "k";

    private static LinearizabilityVerdict Verdict(params RegisterOperation[] history) =>
        RegisterChecker.Check(history, new Dictionary<string, string?> { [K] = "0" }).Verdict;

    [Fact]
    public void Check_SequentialWritesAndReads_Linearizable()
    {
        Assert.Equal(LinearizabilityVerdict.Linearizable, Verdict(
            RegisterOperation.Read(K, 0, 1, "0"),
            RegisterOperation.Write(K, 2, 3, "a"),
            RegisterOperation.Read(K, 4, 5, "a"),
            RegisterOperation.CompareAndSet(K, 6, 7, "a", "b", succeeded: true),
            RegisterOperation.CompareAndSet(K, 8, 9, "a", "c", succeeded: false),
            RegisterOperation.Read(K, 10, 11, "b")));
    }

    [Fact]
    public void Check_ReadConcurrentWithWrite_SeesEitherValue()
    {
        foreach (string seen in new[] { "0", "a" })
        {
            Assert.Equal(LinearizabilityVerdict.Linearizable, Verdict(
                RegisterOperation.Write(K, 0, 10, "a"),
                RegisterOperation.Read(K, 2, 5, seen)));
        }
    }

    [Fact]
    public void Check_ConcurrentReadsOrderedByTheirValues_Linearizable()
    {
        // Two overlapping writes; one reader sees b then a, so b must have been written before a.
        Assert.Equal(LinearizabilityVerdict.Linearizable, Verdict(
            RegisterOperation.Write(K, 0, 10, "a"),
            RegisterOperation.Write(K, 0, 10, "b"),
            RegisterOperation.Read(K, 1, 2, "b"),
            RegisterOperation.Read(K, 3, 4, "a"),
            RegisterOperation.Read(K, 11, 12, "a")));
    }

    [Fact]
    public void Check_StaleReadAfterCompletedWrite_NotLinearizable()
    {
        var result = RegisterChecker.Check(
            [RegisterOperation.Write(K, 0, 1, "a"), RegisterOperation.Read(K, 2, 3, "0")],
            new Dictionary<string, string?> { [K] = "0" });

        Assert.Equal(LinearizabilityVerdict.NotLinearizable, result.Verdict);
        Assert.Equal(K, result.Key);
    }

    [Fact]
    public void Check_LostWrite_NotLinearizable()
    {
        // a and then b were both acknowledged; the later read sees a, so b was lost.
        Assert.Equal(LinearizabilityVerdict.NotLinearizable, Verdict(
            RegisterOperation.Write(K, 0, 1, "a"),
            RegisterOperation.Write(K, 2, 3, "b"),
            RegisterOperation.Read(K, 4, 5, "a")));
    }

    [Fact]
    public void Check_ReadOfValueNeverWritten_NotLinearizable()
    {
        Assert.Equal(LinearizabilityVerdict.NotLinearizable, Verdict(
            RegisterOperation.Write(K, 0, 5, "a"),
            RegisterOperation.Read(K, 1, 4, "z")));
    }

    [Fact]
    public void Check_ReadsDisagreeOnOrderOfTwoWrites_NotLinearizable()
    {
        // One reader sees a then b, the other b then a, all after both writes completed: no single order explains both.
        Assert.Equal(LinearizabilityVerdict.NotLinearizable, Verdict(
            RegisterOperation.Write(K, 0, 1, "a"),
            RegisterOperation.Write(K, 0, 1, "b"),
            RegisterOperation.Read(K, 2, 3, "a"),
            RegisterOperation.Read(K, 4, 5, "b"),
            RegisterOperation.Read(K, 6, 7, "a")));
    }

    [Fact]
    public void Check_CompareAndSetSucceededOnWrongValue_NotLinearizable()
    {
        Assert.Equal(LinearizabilityVerdict.NotLinearizable, Verdict(
            RegisterOperation.Write(K, 0, 1, "a"),
            RegisterOperation.CompareAndSet(K, 2, 3, "0", "b", succeeded: true)));
    }

    [Fact]
    public void Check_CompareAndSetFailedWhileExpectedValueHeld_NotLinearizable()
    {
        Assert.Equal(LinearizabilityVerdict.NotLinearizable, Verdict(
            RegisterOperation.Write(K, 0, 1, "a"),
            RegisterOperation.CompareAndSet(K, 2, 3, "a", "b", succeeded: false),
            RegisterOperation.Read(K, 4, 5, "a")));
    }

    [Fact]
    public void Check_UnknownWriteThatApplied_Linearizable()
    {
        Assert.Equal(LinearizabilityVerdict.Linearizable, Verdict(
            RegisterOperation.Write(K, 0, null, "a"),
            RegisterOperation.Read(K, 5, 6, "a")));
    }

    [Fact]
    public void Check_UnknownWriteThatNeverApplied_Linearizable()
    {
        Assert.Equal(LinearizabilityVerdict.Linearizable, Verdict(
            RegisterOperation.Write(K, 0, null, "a"),
            RegisterOperation.Read(K, 5, 6, "0"),
            RegisterOperation.Read(K, 7, 8, "0")));
    }

    [Fact]
    public void Check_UnknownWriteAppliedLate_Linearizable()
    {
        // It may take effect long after the client gave up on it, e.g. once a stalled leader commits it.
        Assert.Equal(LinearizabilityVerdict.Linearizable, Verdict(
            RegisterOperation.Write(K, 0, null, "a"),
            RegisterOperation.Read(K, 5, 6, "0"),
            RegisterOperation.Read(K, 20, 21, "a")));
    }

    [Fact]
    public void Check_UnknownWriteSeenThenUnseen_NotLinearizable()
    {
        // An unknown outcome is one write: it cannot be visible, vanish, and the old value come back.
        Assert.Equal(LinearizabilityVerdict.NotLinearizable, Verdict(
            RegisterOperation.Write(K, 0, null, "a"),
            RegisterOperation.Read(K, 5, 6, "a"),
            RegisterOperation.Read(K, 7, 8, "0")));
    }

    [Fact]
    public void Check_ReadBeforeUnknownWriteWasCalled_NotLinearizable()
    {
        Assert.Equal(LinearizabilityVerdict.NotLinearizable, Verdict(
            RegisterOperation.Read(K, 0, 1, "a"),
            RegisterOperation.Write(K, 5, null, "a")));
    }

    [Fact]
    public void Check_UnknownCompareAndSetEitherWay_Linearizable()
    {
        Assert.Equal(LinearizabilityVerdict.Linearizable, Verdict(
            RegisterOperation.UnknownCompareAndSet(K, 0, "0", "a"),
            RegisterOperation.Read(K, 5, 6, "a")));
        Assert.Equal(LinearizabilityVerdict.Linearizable, Verdict(
            RegisterOperation.UnknownCompareAndSet(K, 0, "0", "a"),
            RegisterOperation.Read(K, 5, 6, "0")));
        Assert.Equal(LinearizabilityVerdict.NotLinearizable, Verdict(
            RegisterOperation.UnknownCompareAndSet(K, 0, "x", "a"),
            RegisterOperation.Read(K, 5, 6, "a")));
    }

    [Fact]
    public void Check_KeysAreIndependentRegisters_ViolationNamesItsKey()
    {
        var result = RegisterChecker.Check(
        [
            RegisterOperation.Write("x", 0, 1, "a"),
            RegisterOperation.Write("y", 0, 1, "b"),
            RegisterOperation.Read("x", 2, 3, "a"),
            RegisterOperation.Read("y", 2, 3, "a"),
        ]);

        Assert.Equal(LinearizabilityVerdict.NotLinearizable, result.Verdict);
        Assert.Equal("y", result.Key);
    }

    [Fact]
    public void Check_MissingInitialValue_StartsAbsent()
    {
        Assert.Equal(LinearizabilityVerdict.Linearizable, RegisterChecker.Check([RegisterOperation.Read("x", 0, 1, null)]).Verdict);
        Assert.Equal(LinearizabilityVerdict.NotLinearizable, RegisterChecker.Check([RegisterOperation.Read("x", 0, 1, "a")]).Verdict);
    }

    [Fact]
    public void Check_ManyConcurrentUnknownWritesPastStepLimit_Inconclusive()
    {
        // Forty writes that never returned and reads that pin none of them down: a large space, a tiny budget.
        var history = Enumerable.Range(0, 40).Select(i => RegisterOperation.Write(K, i, null, "w" + i))
            .Append(RegisterOperation.Read(K, 100, 101, "nope"))
            .ToArray();

        var result = RegisterChecker.Check(history, new Dictionary<string, string?> { [K] = "0" }, maxSteps: 10_000);

        Assert.Equal(LinearizabilityVerdict.Inconclusive, result.Verdict);
        Assert.True(result.Steps <= 10_001, result.ToString());
    }

    [Fact]
    public void Check_LongConcurrentHistory_DecidesWithinDefaultBudget()
    {
        // 4 clients, 2000 operations, each overlapping its neighbours; a real sequential run replayed with jitter.
        var random = new Random(7);
        var history = new List<RegisterOperation>();
        string? value = "0";
        long t = 0;
        for (int i = 0; i < 2000; i++)
        {
            long call = t;
            t += 10;
            long ret = t + random.Next(0, 25); // overlaps the next few operations
            history.Add((i % 3) switch
            {
                0 => RegisterOperation.Write(K, call, ret, value = "v" + i),
                1 => RegisterOperation.Read(K, call, ret, value),
                _ => RegisterOperation.CompareAndSet(K, call, ret, value, value = "c" + i, succeeded: true),
            });
        }

        var result = RegisterChecker.Check(history, new Dictionary<string, string?> { [K] = "0" });

        Assert.Equal(LinearizabilityVerdict.Linearizable, result.Verdict);
    }

    [Fact]
    public void RegisterOperation_ReturnBeforeCall_Refused()
    {
        Assert.Throws<ArgumentException>(() => RegisterOperation.Read(K, 5, 4, "a"));
    }
}
