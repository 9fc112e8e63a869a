namespace Holdfast.Agent;

/// <summary>
/// When an agent renews its client certificate: once two thirds of its lifetime have passed, plus a jitter of up to a
/// further twelfth (so a fleet joined together does not renew together), and after a failure again with exponential
/// backoff, never later than halfway to expiry, so attempts keep coming until the certificate expires. The lifetime
/// runs from when the agent received the certificate (the CA back-dates <c>NotBefore</c> by minutes, which would
/// dominate a short validity), or from <c>NotBefore</c> when that is later or unknown.
/// </summary>
internal static class CertificateRenewal
{
    /// <summary>The share of the lifetime after which renewal starts.</summary>
    public const double RenewFraction = 2.0 / 3.0;

    /// <summary>The most jitter adds to <see cref="RenewFraction"/>: renewal starts between 2/3 and 3/4 of the lifetime.</summary>
    public const double JitterFraction = 1.0 / 12.0;

    /// <summary>The first retry's delay; doubles with each failure up to <see cref="MaxRetryDelay"/>.</summary>
    public static readonly TimeSpan FirstRetryDelay = TimeSpan.FromSeconds(5);

    public static readonly TimeSpan MaxRetryDelay = TimeSpan.FromHours(1);

    /// <summary>The earliest a retry comes after a failure, however close expiry is.</summary>
    public static readonly TimeSpan MinRetryDelay = TimeSpan.FromSeconds(1);

    /// <summary>
    /// When to renew a certificate valid from <paramref name="notBefore"/> to <paramref name="notAfter"/>, received at
    /// <paramref name="receivedAt"/>; <paramref name="jitter"/> in [0, 1) picks the point between 2/3 and 3/4.
    /// </summary>
    public static DateTimeOffset RenewAt(DateTimeOffset notBefore, DateTimeOffset notAfter, DateTimeOffset? receivedAt, double jitter)
    {
        if (jitter is < 0 or >= 1 || double.IsNaN(jitter))
        {
            throw new ArgumentOutOfRangeException(nameof(jitter), jitter, "Jitter is a fraction in [0, 1).");
        }

        var start = receivedAt is { } received && received > notBefore ? received : notBefore;
        if (start >= notAfter)
        {
            return start;
        }

        var lifetime = notAfter - start;
        return start + (lifetime * (RenewFraction + (JitterFraction * jitter)));
    }

    /// <summary>
    /// How long to wait after the <paramref name="failures"/>-th failed attempt in a row: 5 s doubling to an hour, but
    /// at most half the time left before <paramref name="notAfter"/> (and at least a second).
    /// </summary>
    public static TimeSpan RetryDelay(int failures, DateTimeOffset now, DateTimeOffset notAfter)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(failures, 1);
        var backoff = failures > 20 ? MaxRetryDelay : TimeSpan.FromTicks(Math.Min(MaxRetryDelay.Ticks, FirstRetryDelay.Ticks << (failures - 1)));
        var halfLeft = (notAfter - now) / 2;
        var delay = backoff < halfLeft ? backoff : halfLeft;
        return delay < MinRetryDelay ? MinRetryDelay : delay;
    }
}
