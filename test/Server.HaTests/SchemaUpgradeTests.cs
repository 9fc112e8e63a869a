using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Holdfast.Server.IntegrationTests.Infrastructure;
using Holdfast.Testing;
using Xunit.Abstractions;

namespace Holdfast.Server.HaTests;

/// <summary>
/// A rolling upgrade under load: three real replicas on one real etcd start as the previous release (hidden
/// <c>serve --max-schema 1</c>: operation records at schema 1) and are replaced one at a time by this release, as behind a
/// load balancer (a replica leaves the rotation, its requests in flight finish, then it is stopped and its successor
/// joins). Continuous resource group PUT/GET and DELETE (an operation record each, polled to its end by any replica) must see no
/// failure but 503s a retry absorbed; operation records stay at schema 1 while any old replica lives and flip to 2 once
/// all are new; everything written stays readable, old records migrated on read.
/// </summary>
[Collection(HaCollection.Name)]
public sealed class SchemaUpgradeTests(ITestOutputHelper output) : IDisposable
{
    private const string GroupApi = "api-version=2021-04-01";
    private const string Marker = "{\"$sv\":";
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);
    private static readonly HttpClient EtcdHttp = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(5) };
    private readonly TempDirectory _directory = new();
    private readonly string _prefix = "up" + Guid.NewGuid().ToString("N")[..6];
    private readonly ConcurrentQueue<string> _failures = new();
    private readonly ConcurrentQueue<string> _groups = new();
    private readonly ConcurrentQueue<string> _operationUrls = new();
    private readonly List<Replica> _live = [];
    private string _subscription = string.Empty;
    private int _retried503;
    private int _succeeded;

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task RollingUpgrade_ReplicasReplacedOneAtATimeUnderLoad_NoFailuresAndOperationRecordsFlipOnlyOnceAllAreNew()
    {
        await using var etcd = await EtcdProcess.StartSingleAsync(_directory.Path);
        var store = $"etcd://127.0.0.1:{etcd.ClientPort}";
        var all = new List<Replica>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                all.Add(await StartReplicaAsync(store, $"r{i}", old: true));
            }

            lock (_live)
            {
                _live.AddRange(all);
            }

            _subscription = all[0].Server.Credentials.SubscriptionId;
            await SetUpAsync();
            using var stop = new CancellationTokenSource();
            var load = Task.WhenAll(Enumerable.Range(0, 3).Select(w => GuardAsync(() => GroupWorkerAsync(w, stop.Token))));
            await Task.Delay(TimeSpan.FromSeconds(4));

            for (var i = 0; i < 3; i++)
            {
                // Some old replica still lives: nothing may be written at schema 2 yet (and the load wrote at schema 1).
                var (v1, v2) = await CountOperationVersionsAsync(etcd);
                output.WriteLine($"before replacing r{i}: {v1} operation records at schema 1, {v2} at 2; {_succeeded} succeeded, {_retried503} 503s retried, failures: {string.Join(" | ", _failures)}");
                Assert.True(v1 > 0, "The load wrote no operation record.");
                Assert.Equal(0, v2);

                var old = all[i];
                await DrainAsync(old);
                old.Server.Kill();
                var next = await StartReplicaAsync(store, $"r{i}", old: false);
                all[i] = next;
                lock (_live)
                {
                    _live.Add(next);
                }

                await old.Server.DisposeAsync();
                old.Dispose();
                await Task.Delay(TimeSpan.FromSeconds(3));
            }

            // All new: the write level rises to 2 within a few refreshes.
            var flipped = Stopwatch.StartNew();
            while ((await CountOperationVersionsAsync(etcd)).V2 == 0)
            {
                if (flipped.Elapsed > TimeSpan.FromSeconds(30))
                {
                    output.WriteLine(string.Join('\n', all.Select(r => $"--- {r.Id}\n{r.Server.Output}")));
                    Assert.Fail($"No operation record was written at schema 2 after every replica was upgraded; {_succeeded} succeeded, failures: {string.Join(" | ", _failures)}");
                }

                await Task.Delay(500);
            }

            await Task.Delay(TimeSpan.FromSeconds(2));
            await stop.CancelAsync();
            await load;

            output.WriteLine($"{_succeeded} requests succeeded, {_retried503} 503s retried, {_failures.Count} failures");
            Assert.Empty(_failures);
            Assert.True(_succeeded > 50, $"Only {_succeeded} requests succeeded: the load did not run.");

            // Everything acknowledged reads back on every replica; finished operations of both schemas answer (read, and migrated, from the store).
            foreach (var replica in all)
            {
                foreach (var group in _groups)
                {
                    using var response = await replica.Http.GetAsync(new Uri($"subscriptions/{_subscription}/resourcegroups/{group}?{GroupApi}", UriKind.Relative));
                    Assert.True(response.StatusCode == HttpStatusCode.OK, $"{group} on {replica.Id}: {(int)response.StatusCode}");
                }

                foreach (var url in _operationUrls)
                {
                    using var response = await replica.Http.GetAsync(new Uri(url, UriKind.Relative));
                    var body = await response.Content.ReadAsStringAsync();
                    Assert.True(response.StatusCode == HttpStatusCode.OK, $"{url} on {replica.Id}: {(int)response.StatusCode} {body}");
                    Assert.DoesNotContain("$sv", body, StringComparison.Ordinal);
                }
            }

            var (oldRecords, newRecords) = await CountOperationVersionsAsync(etcd);
            Assert.True(oldRecords > 0 && newRecords > 0, $"Expected records of both schemas: {oldRecords} at 1, {newRecords} at 2.");
        }
        finally
        {
            foreach (var replica in all)
            {
                await replica.Server.DisposeAsync();
                replica.Dispose();
            }
        }
    }

    private async Task<Replica> StartReplicaAsync(string store, string id, bool old)
    {
        string[] arguments = ["--store", store, "--replica-id", id, "--throttle", "off"];
        var server = await ServerProcess.StartAsync(null, old ? [.. arguments, "--max-schema", "1"] : arguments);
        output.WriteLine($"started {id} ({(old ? "schema 1" : "schema 2")}) on {server.Port}");
        return new Replica(id, server, await SignedInClientAsync(server));
    }

    /// <summary>Takes the replica out of the rotation and waits (bounded) for its requests in flight.</summary>
    private async Task DrainAsync(Replica replica)
    {
        lock (_live)
        {
            _live.Remove(replica);
        }

        var deadline = Stopwatch.StartNew();
        while (Volatile.Read(ref replica.InFlight) > 0 && deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(50);
        }
    }

    private Replica Pick()
    {
        lock (_live)
        {
            var replica = _live[Random.Shared.Next(_live.Count)];
            Interlocked.Increment(ref replica.InFlight);
            return replica;
        }
    }

    /// <summary>One request to a replica of the rotation; a 503 is retried (after its Retry-After) on whichever replica is picked next.</summary>
    private async Task<(HttpStatusCode Status, string Body, HttpResponseHeaders? Headers)> SendAsync(HttpMethod method, string url, JsonObject? body = null)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var replica = Pick();
            try
            {
                using var request = new HttpRequestMessage(method, new Uri(url, UriKind.Relative));
                if (body is not null)
                {
                    request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
                }

                using var timeout = new CancellationTokenSource(RequestTimeout);
                using var response = await replica.Http.SendAsync(request, timeout.Token);
                var text = await response.Content.ReadAsStringAsync(timeout.Token);
                if (response.StatusCode == HttpStatusCode.ServiceUnavailable && deadline.Elapsed < TimeSpan.FromSeconds(30))
                {
                    Interlocked.Increment(ref _retried503);
                    await Task.Delay(response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1));
                    continue;
                }

                return (response.StatusCode, text, response.Headers);
            }
            catch (Exception exception) when (exception is HttpRequestException or OperationCanceledException or IOException)
            {
                _failures.Enqueue($"{method} {url} on {replica.Id}: {exception.GetType().Name} {exception.Message}");
                return (0, string.Empty, null);
            }
            finally
            {
                Interlocked.Decrement(ref replica.InFlight);
            }
        }
    }

    private async Task<bool> ExpectAsync(HttpMethod method, string url, JsonObject? body, params HttpStatusCode[] expected)
    {
        var (status, text, _) = await SendAsync(method, url, body);
        if (expected.Contains(status))
        {
            Interlocked.Increment(ref _succeeded);
            return true;
        }

        if (status != 0)
        {
            _failures.Enqueue($"{method} {url}: {(int)status} {text}");
        }

        return false;
    }

    private async Task SetUpAsync()
    {
        Assert.True(await ExpectAsync(HttpMethod.Put, GroupUrl(_prefix + "-base"), new JsonObject { ["location"] = "local" }, HttpStatusCode.OK, HttpStatusCode.Created), string.Join('\n', _failures));
    }

    private string GroupUrl(string name) => $"subscriptions/{_subscription}/resourcegroups/{name}?{GroupApi}";

    /// <summary>PUT and GET a new group, and every third iteration DELETE one (an operation record) polled to its end.</summary>
    private async Task GroupWorkerAsync(int worker, CancellationToken stop)
    {
        for (var i = 0; !stop.IsCancellationRequested; i++)
        {
            var name = $"{_prefix}-w{worker}-{i}";
            if (!await ExpectAsync(HttpMethod.Put, GroupUrl(name), new JsonObject { ["location"] = "local", ["tags"] = new JsonObject { ["i"] = $"{i}" } }, HttpStatusCode.Created, HttpStatusCode.OK)
                || !await ExpectAsync(HttpMethod.Get, GroupUrl(name), null, HttpStatusCode.OK))
            {
                continue;
            }

            if (i % 3 != 2)
            {
                _groups.Enqueue(name);
                continue;
            }

            var (status, text, headers) = await SendAsync(HttpMethod.Delete, GroupUrl(name));
            if (status != HttpStatusCode.Accepted || Monitor(headers) is not { } monitor)
            {
                _failures.Enqueue($"DELETE {name}: {(int)status} {text}");
                continue;
            }

            Interlocked.Increment(ref _succeeded);
            await PollAsync(new Uri(new Uri("https://localhost/"), monitor).PathAndQuery, name);
        }
    }

    private static string? Monitor(HttpResponseHeaders? headers) =>
        headers is null ? null
        : headers.TryGetValues("Azure-AsyncOperation", out var values) ? values.FirstOrDefault()
        : headers.Location?.ToString();

    /// <summary>A worker that throws is a failure of the test, not a silent end of the load.</summary>
    private async Task GuardAsync(Func<Task> worker)
    {
        try
        {
            await worker();
        }
        catch (Exception exception)
        {
            _failures.Enqueue($"worker crashed: {exception}");
        }
    }

    private async Task PollAsync(string monitor, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var (status, text, _) = await SendAsync(HttpMethod.Get, monitor);
            if (status is not HttpStatusCode.OK and not HttpStatusCode.Accepted)
            {
                _failures.Enqueue($"poll {what}: {(int)status} {text}");
                return;
            }

            // operationResults answers 202 while running and 200 with no body once done; operationStatuses has a status.
            var state = status == HttpStatusCode.Accepted ? "InProgress" : text.Length == 0 ? "Succeeded" : JsonNode.Parse(text)?["status"]?.GetValue<string>();
            if (state == "Succeeded")
            {
                Interlocked.Increment(ref _succeeded);
                _operationUrls.Enqueue(monitor);
                return;
            }

            if (state != "InProgress" || deadline.Elapsed > TimeSpan.FromSeconds(60))
            {
                _failures.Enqueue($"poll {what}: {state} after {deadline.Elapsed}: {text}");
                return;
            }

            await Task.Delay(300);
        }
    }

    /// <summary>Operation records as stored (read from etcd itself): how many at schema 1 (no marker) and at 2.</summary>
    private static async Task<(int V1, int V2)> CountOperationVersionsAsync(EtcdProcess etcd)
    {
        byte[] start = Encoding.UTF8.GetBytes("/operations/");
        byte[] end = [.. start];
        end[^1]++;
        var request = JsonSerializer.Serialize(new Dictionary<string, string> { ["key"] = Convert.ToBase64String(start), ["range_end"] = Convert.ToBase64String(end) });
        using var content = new StringContent(request, Encoding.UTF8, "application/json");
        using var response = await EtcdHttp.PostAsync(new Uri(etcd.ClientUrl, "v3/kv/range"), content);
        response.EnsureSuccessStatusCode();
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        if (!document.RootElement.TryGetProperty("kvs", out var kvs))
        {
            return (0, 0);
        }

        int v1 = 0, v2 = 0;
        foreach (var kv in kvs.EnumerateArray())
        {
            var value = Encoding.UTF8.GetString(Convert.FromBase64String(kv.GetProperty("value").GetString()!));
            if (value.StartsWith(Marker + "2,", StringComparison.Ordinal))
            {
                v2++;
            }
            else if (!value.StartsWith(Marker, StringComparison.Ordinal))
            {
                v1++;
            }
        }

        return (v1, v2);
    }

    private static async Task<HttpClient> SignedInClientAsync(ServerProcess server)
    {
        var credentials = server.Credentials;
        var ca = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(credentials.CaCertificatePath));
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            ConnectTimeout = TimeSpan.FromSeconds(2),
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = PinnedCa.Validator(ca),
            },
        };
        var client = new HttpClient(handler) { BaseAddress = new Uri($"https://localhost:{server.Port}/"), Timeout = Timeout.InfiniteTimeSpan };
        using var form = new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = credentials.ClientId,
            ["client_secret"] = credentials.ClientSecret,
            ["scope"] = credentials.Audience + "/.default",
        });
        using var response = await client.PostAsync(new Uri($"{credentials.TenantId}/oauth2/v2.0/token", UriKind.Relative), form);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"Sign-in failed: {(int)response.StatusCode} {body}");
        using var token = JsonDocument.Parse(body);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token.RootElement.GetProperty("access_token").GetString());
        return client;
    }

    private sealed class Replica(string id, ServerProcess server, HttpClient http) : IDisposable
    {
        public int InFlight;

        public string Id => id;

        public ServerProcess Server => server;

        public HttpClient Http => http;

        public void Dispose() => http.Dispose();
    }
}
