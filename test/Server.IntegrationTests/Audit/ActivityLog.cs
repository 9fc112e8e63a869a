using System.Net;
using System.Text.Json.Nodes;

namespace Holdfast.Server.IntegrationTests.Audit;

/// <summary>Reads the Activity Log API as a client would: every page, following <c>nextLink</c>.</summary>
internal static class ActivityLog
{
    public const string ApiVersion = "2015-04-01";

    /// <summary>A filter from an hour ago on, plus <paramref name="extra"/> clauses.</summary>
    public static string Filter(string? extra = null) =>
        $"eventTimestamp ge '{TimeProvider.System.GetUtcNow().AddHours(-1):O}' and eventTimestamp le '{TimeProvider.System.GetUtcNow().AddHours(1):O}'" + (extra is null ? string.Empty : " and " + extra);

    public static string Url(string subscriptionId, string filter, string? select = null) =>
        $"subscriptions/{subscriptionId}/providers/Microsoft.Insights/eventtypes/management/values?api-version={ApiVersion}&$filter={Uri.EscapeDataString(filter)}"
        + (select is null ? string.Empty : "&$select=" + Uri.EscapeDataString(select));

    /// <summary>Every event the filter selects, and how many pages it took.</summary>
    public static async Task<(List<JsonObject> Events, int Pages)> ListAsync(HttpClient http, string url)
    {
        var events = new List<JsonObject>();
        var pages = 0;
        string? next = url;
        while (next is not null)
        {
            using var response = await http.GetAsync(next);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{response.StatusCode}: {text}");
            var body = JsonNode.Parse(text)!.AsObject();
            events.AddRange(body["value"]!.AsArray().Select(e => e!.AsObject()));
            next = body["nextLink"]?.GetValue<string>();
            pages++;
        }

        return (events, pages);
    }

    /// <summary>Lists until <paramref name="done"/> holds (records are chained shortly after they commit), or fails after a generous timeout.</summary>
    public static async Task<List<JsonObject>> WaitForAsync(HttpClient http, string url, Func<List<JsonObject>, bool> done)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            var (events, _) = await ListAsync(http, url);
            if (done(events))
            {
                return events;
            }

            if (timeout.IsCancellationRequested)
            {
                Assert.Fail($"The activity log did not show the expected events; it has {events.Count}: {string.Join(", ", events.Select(e => e["operationName"]?["value"] + " " + e["correlationId"]))}");
            }

            await Task.Delay(200);
        }
    }

    public static List<JsonObject> WithCorrelation(List<JsonObject> events, string correlationId) =>
        events.Where(e => e["correlationId"]?.GetValue<string>() == correlationId).ToList();

    /// <summary>Sends a request with a fresh correlation id, returning the status and that id.</summary>
    public static async Task<(HttpStatusCode Status, string CorrelationId)> SendAsync(HttpClient http, HttpMethod method, string url, string? json = null, string? bearer = null)
    {
        var correlationId = Guid.NewGuid().ToString();
        using var request = new HttpRequestMessage(method, url);
        request.Headers.Add("x-ms-correlation-request-id", correlationId);
        if (bearer is not null)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", bearer);
        }

        if (json is not null)
        {
            request.Content = Infrastructure.Clients.Json(json);
        }

        using var response = await http.SendAsync(request);
        return (response.StatusCode, correlationId);
    }
}
