using System.Globalization;

namespace Holdfast.Server.Agents;

/// <summary>
/// The validity of agents' client certificates (<c>holdfast serve --agent-certificate-validity</c>): a number of days
/// (<c>30</c>), a number with a unit (<c>30d</c>, <c>12h</c>, <c>15m</c>, <c>90s</c>) or a .NET time span
/// (<c>1.00:00:00</c>), between <see cref="Minimum"/> and <see cref="Maximum"/>. Agents renew after about two thirds
/// of it, so it also sets how often each agent renews.
/// </summary>
public static class AgentCertificateLifetime
{
    public static readonly TimeSpan Default = TimeSpan.FromDays(30);

    /// <summary>Short enough for tests to watch renewals, long enough for an agent to renew across a few heartbeats.</summary>
    public static readonly TimeSpan Minimum = TimeSpan.FromSeconds(10);

    public static readonly TimeSpan Maximum = TimeSpan.FromDays(365);

    /// <summary>Parses the flag's value; false with a sentence naming the flag when it is not a valid, bounded validity.</summary>
    public static bool TryParse(string? text, out TimeSpan validity, out string error)
    {
        validity = default;
        error = string.Empty;
        var value = (text ?? string.Empty).Trim();
        TimeSpan? parsed = null;
        if (value.Length > 1 && "dhms".Contains(char.ToLowerInvariant(value[^1]), StringComparison.Ordinal)
            && double.TryParse(value.AsSpan(0, value.Length - 1), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var amount))
        {
            parsed = Span(amount, char.ToLowerInvariant(value[^1]));
        }
        else if (double.TryParse(value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var days))
        {
            parsed = Span(days, 'd');
        }
        else if (TimeSpan.TryParseExact(value, "c", CultureInfo.InvariantCulture, out var span))
        {
            parsed = span;
        }

        if (parsed is not { } result)
        {
            error = $"--agent-certificate-validity must be days (30), a number with a unit (30d, 12h, 15m, 90s) or a time span (1.00:00:00), not '{text}'.";
            return false;
        }

        if (result < Minimum || result > Maximum)
        {
            error = $"--agent-certificate-validity must be between {Minimum.TotalSeconds:0} seconds and {Maximum.TotalDays:0} days, not '{text}'.";
            return false;
        }

        validity = result;
        return true;
    }

    /// <summary>The bound check <see cref="AgentTiming"/> applies to options built in code.</summary>
    internal static string? Check(TimeSpan validity) =>
        validity < Minimum || validity > Maximum
            ? $"--agent-certificate-validity must be between {Minimum.TotalSeconds:0} seconds and {Maximum.TotalDays:0} days, not {validity}."
            : null;

    // Amounts past TimeSpan's range fail the bound check rather than throw.
    private static TimeSpan Span(double amount, char unit)
    {
        var seconds = unit switch
        {
            'd' => amount * 86400,
            'h' => amount * 3600,
            'm' => amount * 60,
            _ => amount,
        };
        return double.IsFinite(seconds) && seconds < TimeSpan.MaxValue.TotalSeconds ? TimeSpan.FromSeconds(seconds) : TimeSpan.MaxValue;
    }
}
