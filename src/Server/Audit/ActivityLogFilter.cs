using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Holdfast.Audit.Chain;
using Holdfast.Resources.Errors;

namespace Holdfast.Server.Audit;

/// <summary>
/// The activity log's <c>$filter</c>, as Azure Monitor takes it: <c>eventTimestamp ge '…'</c> (required) and
/// optionally <c>eventTimestamp le '…'</c>, then any of <c>resourceGroupName</c>, <c>resourceId</c> (or
/// <c>resourceUri</c>), <c>correlationId</c>, <c>caller</c> <c>eq '…'</c>, joined by <c>and</c>. String comparisons
/// are case-insensitive; <c>caller</c> matches the caller's application id or object id.
/// </summary>
internal sealed partial class ActivityLogFilter
{
    private const int MaxFilterLength = 2048;

    public DateTimeOffset From { get; private init; }

    public DateTimeOffset? To { get; private init; }

    public string? ResourceGroupName { get; private init; }

    public string? ResourceId { get; private init; }

    public string? CorrelationId { get; private init; }

    public string? Caller { get; private init; }

    public static ActivityLogFilter Parse(string? filter)
    {
        if (string.IsNullOrWhiteSpace(filter))
        {
            throw Invalid("The $filter query parameter is required and must include eventTimestamp ge '<start time>'.");
        }

        if (filter.Length > MaxFilterLength)
        {
            throw Invalid($"The $filter query parameter is longer than {MaxFilterLength} characters.");
        }

        DateTimeOffset? from = null;
        DateTimeOffset? to = null;
        string? group = null, resource = null, correlation = null, caller = null;
        foreach (var clause in AndSeparator().Split(filter.Trim()))
        {
            var match = Clause().Match(clause);
            if (!match.Success)
            {
                throw Invalid($"The $filter clause '{clause.Trim()}' is not valid. Use <field> <ge|le|eq> '<value>' joined by 'and'.");
            }

            var field = match.Groups["field"].Value;
            var op = match.Groups["op"].Value.ToLowerInvariant();
            var value = match.Groups["value"].Value.Replace("''", "'", StringComparison.Ordinal);
            switch (field.ToLowerInvariant(), op)
            {
                case ("eventtimestamp", "ge"):
                    from = Time(value);
                    break;
                case ("eventtimestamp", "le"):
                    to = Time(value);
                    break;
                case ("resourcegroupname", "eq"):
                    group = value;
                    break;
                case ("resourceid", "eq") or ("resourceuri", "eq"):
                    resource = value;
                    break;
                case ("correlationid", "eq"):
                    correlation = value;
                    break;
                case ("caller", "eq"):
                    caller = value;
                    break;
                case ("eventchannels", "eq"):
                    // Every Holdfast event is in the Admin and Operation channels.
                    break;
                default:
                    throw Invalid($"The $filter clause '{clause.Trim()}' is not supported. Supported: eventTimestamp ge/le, resourceGroupName, resourceId, correlationId, caller eq.");
            }
        }

        if (from is null)
        {
            throw Invalid("The $filter query parameter must include eventTimestamp ge '<start time>'.");
        }

        if (to is not null && to < from)
        {
            throw Invalid("The end time in $filter must not be earlier than the start time.");
        }

        return new ActivityLogFilter { From = from.Value, To = to, ResourceGroupName = group, ResourceId = resource, CorrelationId = correlation, Caller = caller };
    }

    public bool Matches(AuditEntry entry) =>
        entry.EventTimestamp >= From
        && (To is null || entry.EventTimestamp <= To)
        && (ResourceGroupName is null || string.Equals(entry.ResourceGroupName, ResourceGroupName, StringComparison.OrdinalIgnoreCase))
        && (ResourceId is null || string.Equals(entry.ResourceId.TrimEnd('/'), ResourceId.TrimEnd('/'), StringComparison.OrdinalIgnoreCase))
        && (CorrelationId is null || string.Equals(entry.CorrelationId, CorrelationId, StringComparison.OrdinalIgnoreCase))
        && (Caller is null || string.Equals(entry.CallerAppId, Caller, StringComparison.OrdinalIgnoreCase) || string.Equals(entry.CallerObjectId, Caller, StringComparison.OrdinalIgnoreCase));

    private static DateTimeOffset Time(string value) =>
        DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time)
            ? time
            : throw Invalid($"The time '{value}' in $filter is not a valid date and time (use ISO 8601, e.g. 2026-01-01T00:00:00Z).");

    private static ApiException Invalid(string message) => new(HttpStatusCode.BadRequest, ArmErrorCodes.BadRequest, message, "$filter");

    [GeneratedRegex(@"\s+and\s+(?=(?:[^']*'[^']*')*[^']*$)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex AndSeparator();

    [GeneratedRegex(@"^\s*(?<field>[A-Za-z]+)\s+(?<op>ge|le|eq)\s+'(?<value>(?:[^']|'')*)'\s*$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Clause();
}
