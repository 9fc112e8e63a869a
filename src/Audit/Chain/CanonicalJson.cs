using System.Globalization;
using System.Text;

namespace Holdfast.Audit.Chain;

/// <summary>
/// Builds one JSON object in the JSON Canonicalization Scheme (RFC 8785, "JCS") for the only value kinds the audit log
/// hashes and signs: strings, <c>null</c> and integers. Members are sorted by name in UTF-16 code-unit order, there
/// is no whitespace, strings are written as ECMAScript's <c>JSON.stringify</c> writes them (only <c>"</c>, <c>\</c>
/// and control characters escaped, everything else as UTF-8) and integers as plain decimal digits. Any JCS library
/// in any language reproduces these bytes, so an auditor can check a log without Holdfast.
/// </summary>
/// <remarks>
/// JCS numbers are IEEE doubles, so integers must stay within ±(2^53 − 1); the audit types enforce that when they
/// create entries and checkpoints, and treat anything outside it as unverifiable. Strings that are not well-formed UTF-16
/// (lone surrogates) are outside JCS; they are escaped as <c>\udxxx</c>, as ES2019's well-formed
/// <c>JSON.stringify</c> does, which keeps the encoding injective instead of silently replacing them.
/// </remarks>
internal sealed class CanonicalJson
{
    /// <summary>The largest integer a JCS number represents exactly (2^53 − 1).</summary>
    public const long MaxSafeInteger = 9_007_199_254_740_991;

    private const string TimestampFormat = "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffff'Z'";

    private readonly List<KeyValuePair<string, object?>> _members = [];

    public CanonicalJson Add(string name, string? value)
    {
        _members.Add(new(name, value));
        return this;
    }

    /// <summary>Adds an integer; callers keep it within ±<see cref="MaxSafeInteger"/>, where JCS and JavaScript agree.</summary>
    public CanonicalJson Add(string name, long value)
    {
        _members.Add(new(name, value));
        return this;
    }

    /// <summary>Adds a timestamp as a string: UTC, seven fractional digits, <c>Z</c> (e.g. <c>2026-01-01T00:00:00.0000000Z</c>).</summary>
    public CanonicalJson Add(string name, DateTimeOffset value) => Add(name, FormatTimestamp(value));

    public static string FormatTimestamp(DateTimeOffset value) =>
        value.UtcDateTime.ToString(TimestampFormat, CultureInfo.InvariantCulture);

    public byte[] ToUtf8Bytes()
    {
        var members = _members.ToArray();
        Array.Sort(members, static (a, b) => string.CompareOrdinal(a.Key, b.Key));
        var text = new StringBuilder(512).Append('{');
        for (var i = 0; i < members.Length; i++)
        {
            if (i > 0)
            {
                text.Append(',');
            }

            AppendString(text, members[i].Key);
            text.Append(':');
            switch (members[i].Value)
            {
                case null:
                    text.Append("null");
                    break;
                case long number:
                    text.Append(number.ToString(CultureInfo.InvariantCulture));
                    break;
                case string value:
                    AppendString(text, value);
                    break;
            }
        }

        // Every lone surrogate was escaped above, so the text is well-formed UTF-16 and encodes without replacement.
        return Encoding.UTF8.GetBytes(text.Append('}').ToString());
    }

    private static void AppendString(StringBuilder text, string value)
    {
        text.Append('"');
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            switch (c)
            {
                case '"':
                    text.Append("\\\"");
                    break;
                case '\\':
                    text.Append("\\\\");
                    break;
                case '\b':
                    text.Append("\\b");
                    break;
                case '\f':
                    text.Append("\\f");
                    break;
                case '\n':
                    text.Append("\\n");
                    break;
                case '\r':
                    text.Append("\\r");
                    break;
                case '\t':
                    text.Append("\\t");
                    break;
                default:
                    if (c < ' ')
                    {
                        AppendEscape(text, c);
                    }
                    else if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
                    {
                        text.Append(c).Append(value[++i]);
                    }
                    else if (char.IsSurrogate(c))
                    {
                        AppendEscape(text, c);
                    }
                    else
                    {
                        text.Append(c);
                    }

                    break;
            }
        }

        text.Append('"');
    }

    private static void AppendEscape(StringBuilder text, char c) =>
        text.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
}
