using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using Holdfast.Bench.Load;

namespace Holdfast.Bench.Http;

/// <summary>
/// The three HTTP measurements against one server: the whoami ceiling, GET of a seeded resource group, and PUT of
/// resource groups where worker <c>w</c> cycles through its own names, so concurrent PUTs never race on one key and
/// every one is a real durable write (201 the first time round, 200 after).
/// </summary>
internal sealed class ArmScenarios(Uri endpoint, string subscriptionId, int namesPerWorker)
{
    public const string ApiVersion = "2022-09-01";
    public const string GetTargetName = "bench-get";

    private readonly Uri _whoAmI = new(endpoint, "holdfast/whoami");

    /// <summary>The body every PUT sends; its tags bring the stored document to about 500 bytes.</summary>
    public static byte[] GroupBody(string owner) => Encoding.UTF8.GetBytes(
        "{\"location\":\"local\",\"tags\":{\"purpose\":\"holdfast-bench\",\"owner\":\"" + owner + "\",\"costCenter\":\"cc-000000\",\"environment\":\"benchmark\"}}");

    public Uri GroupUri(string name) => new(endpoint, $"subscriptions/{subscriptionId}/resourcegroups/{name}?api-version={ApiVersion}");

    public Operation Ceiling(HttpClient client) => (_, _, cancellationToken) => GetAsync(client, _whoAmI, cancellationToken);

    public Operation GetGroup(HttpClient client)
    {
        var uri = GroupUri(GetTargetName);
        return (_, _, cancellationToken) => GetAsync(client, uri, cancellationToken);
    }

    public Operation PutGroup(HttpClient client, int concurrency)
    {
        var uris = new Uri[concurrency][];
        var bodies = new byte[concurrency][];
        for (var worker = 0; worker < concurrency; worker++)
        {
            uris[worker] = new Uri[namesPerWorker];
            for (var name = 0; name < namesPerWorker; name++)
            {
                uris[worker][name] = GroupUri(string.Create(CultureInfo.InvariantCulture, $"bench-put-{worker:D3}-{name:D3}"));
            }

            bodies[worker] = GroupBody(string.Create(CultureInfo.InvariantCulture, $"worker-{worker:D3}"));
        }

        return (worker, iteration, cancellationToken) => PutAsync(client, uris[worker][iteration % namesPerWorker], bodies[worker], cancellationToken);
    }

    public static async ValueTask<string?> PutAsync(HttpClient client, Uri uri, byte[] body, CancellationToken cancellationToken)
    {
        using var request = LoopbackHttp.NewRequest(HttpMethod.Put, uri);
        request.Content = new ByteArrayContent(body);
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        return await DescribeFailureAsync(response, cancellationToken).ConfigureAwait(false);
    }

    public static async ValueTask<string?> GetAsync(HttpClient client, Uri uri, CancellationToken cancellationToken)
    {
        using var request = LoopbackHttp.NewRequest(HttpMethod.Get, uri);
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        return await DescribeFailureAsync(response, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<string?> DescribeFailureAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return null;
        }

        var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        return $"HTTP {(int)response.StatusCode}: {LoopbackHttp.Truncate(body)}";
    }
}
