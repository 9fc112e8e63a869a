namespace Holdfast.Agent.Tests;

public sealed class CertificateRenewalTests
{
    private static readonly DateTimeOffset Received = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset NotBefore = Received.AddMinutes(-5);
    private static readonly DateTimeOffset NotAfter = Received.AddDays(30);

    [Fact]
    public void RenewAt_NoJitter_IsTwoThirdsOfTheLifetimeFromReceipt()
    {
        Assert.Equal(Received.AddDays(20), CertificateRenewal.RenewAt(NotBefore, NotAfter, Received, 0));
    }

    [Fact]
    public void RenewAt_AnyJitter_IsBetweenTwoThirdsAndThreeQuartersAndBeforeExpiry()
    {
        var random = new Random(42);
        foreach (var jitter in new[] { 0, 0.5, Math.BitDecrement(1.0) }.Concat(Enumerable.Range(0, 1000).Select(_ => random.NextDouble())))
        {
            var at = CertificateRenewal.RenewAt(NotBefore, NotAfter, Received, jitter);
            Assert.InRange(at, Received.AddDays(20), Received.AddDays(22.5));
            Assert.True(at < NotAfter);
        }
    }

    [Fact]
    public void RenewAt_JitterSpreadsAFleet()
    {
        var random = new Random(7);
        var times = Enumerable.Range(0, 200).Select(_ => CertificateRenewal.RenewAt(NotBefore, NotAfter, Received, random.NextDouble())).ToList();

        // 200 agents joined together: their renewals spread over more than a day of the 2.5-day window.
        Assert.True(times.Max() - times.Min() > TimeSpan.FromDays(1), $"{times.Min():O} .. {times.Max():O}");
    }

    [Fact]
    public void RenewAt_ShortValidityBackdated_MeasuresFromReceiptNotFromNotBefore()
    {
        var received = Received;
        var notAfter = received.AddSeconds(30);

        var at = CertificateRenewal.RenewAt(received.AddMinutes(-5), notAfter, received, 0);

        // From NotBefore, two thirds of 5.5 minutes would be long after expiry.
        Assert.Equal(received.AddSeconds(20), at);
    }

    [Fact]
    public void RenewAt_ReceiptUnknown_MeasuresFromNotBefore()
    {
        Assert.Equal(NotBefore + ((NotAfter - NotBefore) * 2 / 3), CertificateRenewal.RenewAt(NotBefore, NotAfter, null, 0));
    }

    [Fact]
    public void RenewAt_ReceivedAfterExpiry_IsAtOnce()
    {
        Assert.Equal(NotAfter.AddDays(1), CertificateRenewal.RenewAt(NotBefore, NotAfter, NotAfter.AddDays(1), 0.3));
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(1.0)]
    [InlineData(double.NaN)]
    public void RenewAt_JitterOutsideZeroToOne_Throws(double jitter)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => CertificateRenewal.RenewAt(NotBefore, NotAfter, Received, jitter));
    }

    [Fact]
    public void RetryDelay_Failures_DoubleFromFiveSecondsUpToAnHour()
    {
        var now = Received.AddDays(20);

        var delays = Enumerable.Range(1, 14).Select(n => CertificateRenewal.RetryDelay(n, now, NotAfter)).ToList();

        Assert.Equal(TimeSpan.FromSeconds(5), delays[0]);
        Assert.Equal(TimeSpan.FromSeconds(10), delays[1]);
        Assert.Equal(TimeSpan.FromSeconds(5 * 512), delays[9]);
        Assert.Equal(TimeSpan.FromHours(1), delays[13]);
        Assert.Equal(TimeSpan.FromHours(1), CertificateRenewal.RetryDelay(int.MaxValue, now, NotAfter));
    }

    [Fact]
    public void RetryDelay_NearExpiry_IsAtMostHalfTheTimeLeftButAtLeastASecond()
    {
        Assert.Equal(TimeSpan.FromSeconds(30), CertificateRenewal.RetryDelay(10, NotAfter.AddMinutes(-1), NotAfter));
        Assert.Equal(TimeSpan.FromSeconds(1), CertificateRenewal.RetryDelay(1, NotAfter.AddSeconds(-1), NotAfter));
    }
}
