using System.Globalization;
using System.Text;
using Holdfast.Bench.Load;

namespace Holdfast.Bench.Store;

/// <summary>
/// The raw etcd write rate the server's PUTs are compared with on <c>--store etcd</c>: unconditional
/// <c>POST /v3/kv/put</c> through etcd's JSON gateway to the member the server talks to first, from this process, N
/// workers each cycling through its own keys with a fixed random value the size of a resource-group document. Each
/// put is acknowledged after the cluster's quorum has it in its write-ahead log (fsync on), as the server's writes are.
/// </summary>
internal sealed class RawEtcdScenario(Uri endpoint) : IDisposable
{
    private readonly HttpClient _http = new(new SocketsHttpHandler { UseProxy = false, PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30) })
    {
        Timeout = TimeSpan.FromSeconds(10),
    };

    public Operation Put(int concurrency, int keysPerWorker, int valueBytes)
    {
        var bodies = new byte[concurrency][][];
        for (var worker = 0; worker < concurrency; worker++)
        {
            var value = new byte[valueBytes];
            Random.Shared.NextBytes(value);
            var encodedValue = Convert.ToBase64String(value);
            bodies[worker] = new byte[keysPerWorker][];
            for (var key = 0; key < keysPerWorker; key++)
            {
                var encodedKey = Convert.ToBase64String(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"/bench/raw/{worker:D3}/{key:D3}")));
                bodies[worker][key] = Encoding.UTF8.GetBytes($"{{\"key\":\"{encodedKey}\",\"value\":\"{encodedValue}\"}}");
            }
        }

        var uri = new Uri(endpoint, "v3/kv/put");
        return async (worker, iteration, cancellationToken) =>
        {
            using var content = new ByteArrayContent(bodies[worker][iteration % keysPerWorker]);
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            using var response = await _http.PostAsync(uri, content, cancellationToken).ConfigureAwait(false);
            var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            return response.IsSuccessStatusCode && body.Contains("\"header\"", StringComparison.Ordinal)
                ? null
                : string.Create(CultureInfo.InvariantCulture, $"HTTP {(int)response.StatusCode}: {body[..Math.Min(body.Length, 120)]}");
        };
    }

    public void Dispose() => _http.Dispose();
}
