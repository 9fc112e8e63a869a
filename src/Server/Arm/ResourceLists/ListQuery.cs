using System.Buffers.Text;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Holdfast.Providers.Framework;
using Holdfast.Resources.Errors;
using Holdfast.State;
using Microsoft.AspNetCore.Http;

namespace Holdfast.Server.Arm.ResourceLists;

/// <summary>
/// ARM list semantics over one store prefix: <c>$filter</c> (clauses <c>resourceType|tagName|tagValue|name|location eq '…'</c>
/// joined by <c>and</c>), <c>$top</c> as the page size, and an opaque <c>$skiptoken</c> (the last key served). The
/// <c>nextLink</c> repeats every query parameter, because the SDK follows it verbatim.
/// </summary>
internal sealed class ListQuery
{
    private const int DefaultPageSize = 1000;
    private const int MaxPageSize = 1000;
    private static readonly string[] FilterFields = ["resourceType", "tagName", "tagValue", "name", "location"];

    private readonly Dictionary<string, string> _clauses = new(StringComparer.OrdinalIgnoreCase);

    private ListQuery(int pageSize, string? startAfter)
    {
        PageSize = pageSize;
        StartAfter = startAfter;
    }

    public int PageSize { get; }

    public string? StartAfter { get; }

    public static ListQuery Parse(HttpRequest request, string prefix)
    {
        var top = request.Query["$top"].ToString();
        var pageSize = DefaultPageSize;
        if (top.Length > 0 && (!int.TryParse(top, NumberStyles.None, CultureInfo.InvariantCulture, out pageSize) || pageSize < 1))
        {
            throw Invalid("$top", $"The value '{top}' of query parameter '$top' is not a positive integer.");
        }

        string? startAfter = null;
        var skipToken = request.Query["$skiptoken"].ToString();
        if (skipToken.Length > 0)
        {
            startAfter = DecodeToken(skipToken);
            if (startAfter is null || !startAfter.StartsWith(prefix, StringComparison.Ordinal))
            {
                throw Invalid("$skiptoken", "The $skiptoken is not valid for this list; start the list again without it.");
            }
        }

        var query = new ListQuery(Math.Min(pageSize, MaxPageSize), startAfter);
        query.ParseFilter(request.Query["$filter"].ToString());
        return query;
    }

    /// <summary>True when the resource matches every clause.</summary>
    public bool Matches(JsonObject resource)
    {
        foreach (var (field, value) in _clauses)
        {
            var matches = field.ToLowerInvariant() switch
            {
                "resourcetype" => string.Equals(resource["type"]?.GetValue<string>(), value, StringComparison.OrdinalIgnoreCase),
                "name" => string.Equals(resource["name"]?.GetValue<string>(), value, StringComparison.OrdinalIgnoreCase),
                "location" => string.Equals(resource["location"]?.GetValue<string>(), value, StringComparison.OrdinalIgnoreCase),
                "tagname" => MatchesTag(resource, value, _clauses.GetValueOrDefault("tagValue")),
                "tagvalue" => _clauses.ContainsKey("tagName") || AnyTagValue(resource, value),
                _ => false,
            };
            if (!matches)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Reads one page, skipping non-matching entries, and returns it with the continuation key (null on the last page).
    /// With <paramref name="topLevelOnly"/>, child resources (subnets, capacity reservations…) are skipped, as Azure's
    /// generic resource lists do.
    /// </summary>
    public async Task<(List<(JsonObject Resource, KeyValue Stored)> Items, string? ContinueAfter)> ReadPageAsync(IStateStore store, string prefix, Func<KeyValue, bool>? include, CancellationToken cancellationToken, bool topLevelOnly = false)
    {
        var items = new List<(JsonObject, KeyValue)>();
        var after = StartAfter;
        while (true)
        {
            var page = await store.RangeAsync(new RangeRequest(prefix, PageSize - items.Count + 1, after), cancellationToken).ConfigureAwait(false);
            foreach (var kv in page.Items)
            {
                if (include is not null && !include(kv))
                {
                    after = kv.Key;
                    continue;
                }

                var resource = ResourceDocument.Parse(kv.Value);
                if (!Matches(resource) || (topLevelOnly && resource["type"]?.GetValue<string>().Count(c => c == '/') > 1))
                {
                    after = kv.Key;
                    continue;
                }

                if (items.Count == PageSize)
                {
                    // One more match exists beyond this page.
                    return (items, after);
                }

                items.Add((resource, kv));
                after = kv.Key;
            }

            if (!page.More)
            {
                return (items, null);
            }
        }
    }

    /// <summary>The absolute nextLink: the request URL with <c>$skiptoken</c> replaced.</summary>
    public static string NextLink(HttpContext context, string continueAfter)
    {
        var query = new List<string>();
        foreach (var (name, values) in context.Request.Query)
        {
            if (name.Equals("$skiptoken", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            foreach (var value in values)
            {
                query.Add(Uri.EscapeDataString(name) + "=" + Uri.EscapeDataString(value ?? string.Empty));
            }
        }

        query.Add("$skiptoken=" + Base64Url.EncodeToString(Encoding.UTF8.GetBytes(continueAfter)));
        return ArmResponses.AbsoluteUrl(context, context.Request.PathBase + context.Request.Path + "?" + string.Join('&', query));
    }

    private static string? DecodeToken(string token)
    {
        try
        {
            return Encoding.UTF8.GetString(Base64Url.DecodeFromChars(token));
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private void ParseFilter(string filter)
    {
        if (filter.Trim().Length == 0)
        {
            return;
        }

        foreach (var clause in SplitAnd(filter))
        {
            var text = clause.Trim();
            var eq = text.IndexOf(" eq ", StringComparison.OrdinalIgnoreCase);
            if (eq <= 0)
            {
                throw Invalid("$filter", $"The $filter clause '{text}' is not supported. Use '<field> eq '<value>'' with fields {string.Join(", ", FilterFields)}, joined by 'and'.");
            }

            var field = text[..eq].Trim();
            var literal = text[(eq + 4)..].Trim();
            if (!FilterFields.Contains(field, StringComparer.OrdinalIgnoreCase))
            {
                throw Invalid("$filter", $"The $filter field '{field}' is not supported. Supported fields: {string.Join(", ", FilterFields)}.");
            }

            if (literal.Length < 2 || literal[0] != '\'' || literal[^1] != '\'')
            {
                throw Invalid("$filter", $"The value in the $filter clause '{text}' must be a quoted string.");
            }

            _clauses[field] = literal[1..^1].Replace("''", "'", StringComparison.Ordinal);
        }

        if (_clauses.ContainsKey("tagValue") && !_clauses.ContainsKey("tagName"))
        {
            throw Invalid("$filter", "A tagValue filter needs a tagName filter in the same expression.");
        }
    }

    private static IEnumerable<string> SplitAnd(string filter)
    {
        var start = 0;
        var inQuote = false;
        for (var i = 0; i < filter.Length; i++)
        {
            if (filter[i] == '\'')
            {
                inQuote = !inQuote;
            }
            else if (!inQuote && i + 5 <= filter.Length && string.Compare(filter, i, " and ", 0, 5, StringComparison.OrdinalIgnoreCase) == 0)
            {
                yield return filter[start..i];
                start = i + 5;
                i += 4;
            }
        }

        yield return filter[start..];
    }

    private static bool MatchesTag(JsonObject resource, string name, string? value)
    {
        if (resource["tags"] is not JsonObject tags)
        {
            return false;
        }

        foreach (var (tagName, tagValue) in tags)
        {
            if (tagName.Equals(name, StringComparison.OrdinalIgnoreCase)
                && (value is null || string.Equals(tagValue?.GetValue<string>(), value, StringComparison.OrdinalIgnoreCase)))
            {
                return true;
            }
        }

        return false;
    }

    private static bool AnyTagValue(JsonObject resource, string value) =>
        resource["tags"] is JsonObject tags && tags.Any(t => string.Equals(t.Value?.GetValue<string>(), value, StringComparison.OrdinalIgnoreCase));

    private static ApiException Invalid(string target, string message) =>
        new(HttpStatusCode.BadRequest, ArmErrorCodes.InvalidQueryParameterValue, message, target);
}
