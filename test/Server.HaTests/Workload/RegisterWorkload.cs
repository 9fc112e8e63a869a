using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Holdfast.Testing.Linearizability;

namespace Holdfast.Server.HaTests.Workload;

/// <summary>
/// Continuous API writes against the real server, recorded as a register history: each of a few resource groups is a
/// register whose value is its tag <c>v</c>. Writes are PATCH with a unique value, reads are GET, compare-and-set is
/// GET then PATCH with <c>If-Match</c> (412, or 409 "modified concurrently", is a definite failure). Every worker also
/// creates new resource groups so that each acknowledged create can be read back afterwards. A 2xx or a definite 4xx
/// is a known outcome; 5xx (503 while the store has no leader), a timeout or a broken connection is unknown: the
/// operation may or may not have happened, and the checker is told so. Nothing is retried by the workload.
/// </summary>
public sealed class RegisterWorkload
{
    private const string ApiVersion = "api-version=2021-04-01";
    private const HttpStatusCode NotSent = 0;
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan Backoff = TimeSpan.FromMilliseconds(100);
    private readonly HttpClient _http;
    private readonly string _subscriptionId;
    private readonly string _prefix = "ha" + Guid.NewGuid().ToString("N")[..6];
    private readonly ConcurrentQueue<RegisterOperation> _history = new();
    private readonly ConcurrentQueue<string> _acknowledgedCreates = new();
    private readonly ConcurrentQueue<string> _acknowledgedVms = new();
    private readonly ConcurrentQueue<(string Name, long Call)> _acknowledgedVmCalls = new();
    private readonly ConcurrentQueue<string> _vmFailures = new();
    private readonly ConcurrentQueue<string> _unexpected = new();
    private readonly Dictionary<string, string?> _initial = [];
    private int _sequence;
    private int _unknown;

    public RegisterWorkload(HttpClient http, string subscriptionId, int registers = 4)
    {
        _http = http;
        _subscriptionId = subscriptionId;
        Keys = [.. Enumerable.Range(0, registers).Select(i => $"{_prefix}-reg{i}")];
    }

    public IReadOnlyList<string> Keys { get; }

    public IReadOnlyCollection<RegisterOperation> History => _history;

    public IReadOnlyDictionary<string, string?> InitialValues => _initial;

    public IReadOnlyCollection<string> AcknowledgedCreates => _acknowledgedCreates;

    /// <summary>The resource group every VM is created in.</summary>
    public string VmGroup => _prefix + "-vms";

    /// <summary>Names of the VMs whose PUT was acknowledged (201 or 200).</summary>
    public IReadOnlyCollection<string> AcknowledgedVms => _acknowledgedVms;

    /// <summary>The acknowledged VMs with the time (<see cref="Stopwatch.GetTimestamp"/>) their PUT was sent.</summary>
    public IReadOnlyCollection<(string Name, long Call)> AcknowledgedVmCalls => _acknowledgedVmCalls;

    /// <summary>Answers to VM PUTs that were not acknowledged (for failure messages).</summary>
    public IReadOnlyCollection<string> VmFailures => _vmFailures;

    /// <summary>Answers no correct server gives (e.g. 400, 404, 500 with a body other than the store's): listed, so the test can fail on them.</summary>
    public IReadOnlyCollection<string> Unexpected => _unexpected;

    public int UnknownOutcomes => _unknown;

    public int AcknowledgedWrites => _history.Count(op => op.Kind != RegisterOperationKind.Read && op.Return is not null && op.Succeeded != false);

    /// <summary>
    /// Creates the registers with their initial values, raises the subscription's VM quota and creates the VM group
    /// (each retried until a deadline: setup, not history).
    /// </summary>
    public async Task InitializeAsync()
    {
        foreach (string key in Keys)
        {
            await SetUpAsync(GroupUri(key), new JsonObject { ["location"] = "local", ["tags"] = new JsonObject { ["v"] = "init" } });
            _initial[key] = "init";
        }

        await SetUpAsync(
            new Uri($"providers/Holdfast.Capacity/quotas/{_subscriptionId}?api-version=2025-01-01", UriKind.Relative),
            new JsonObject { ["properties"] = new JsonObject { ["totalRegionalVCpus"] = 1000, ["virtualMachines"] = 1000, ["families"] = new JsonObject { ["standardBSFamily"] = 1000 } } });
        await SetUpAsync(GroupUri(VmGroup), new JsonObject { ["location"] = "local" });
    }

    private async Task SetUpAsync(Uri uri, JsonObject body)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            using var timeout = new CancellationTokenSource(RequestTimeout);
            try
            {
                using var response = await _http.PutAsync(uri, Json(body), timeout.Token);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }

                if ((int)response.StatusCode < 500 || deadline.Elapsed > TimeSpan.FromSeconds(30))
                {
                    throw new InvalidOperationException($"PUT {uri} failed: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                }
            }
            catch (Exception exception) when (exception is HttpRequestException or OperationCanceledException && deadline.Elapsed < TimeSpan.FromSeconds(30))
            {
                // Retried until the deadline.
            }

            await Task.Delay(200);
        }
    }

    /// <summary>Runs <paramref name="workers"/> clients until <paramref name="stop"/> is cancelled.</summary>
    /// <summary>Runs <paramref name="workers"/> register clients and one client creating VMs until <paramref name="stop"/> is cancelled.</summary>
    public Task RunAsync(int workers, CancellationToken stop) =>
        Task.WhenAll(Enumerable.Range(0, workers).Select(w => Task.Run(() => WorkerAsync(w, stop), CancellationToken.None))
            .Append(Task.Run(() => VmWorkerAsync(stop), CancellationToken.None)));

    /// <summary>A last read of every register after the faults are over (recorded in the history like any other), bounded.</summary>
    public async Task FinalReadsAsync()
    {
        foreach (string key in Keys)
        {
            var deadline = Stopwatch.StartNew();
            while (await ReadAsync(key) is null)
            {
                if (deadline.Elapsed > TimeSpan.FromSeconds(30))
                {
                    throw new TimeoutException($"Register {key} could not be read within 30 s after the faults.");
                }

                await Task.Delay(200);
            }
        }
    }

    /// <summary>The acknowledged creates that a GET does not find now (bounded retries for transient answers).</summary>
    public async Task<IReadOnlyList<string>> MissingCreatesAsync()
    {
        var missing = new ConcurrentBag<string>();
        await Parallel.ForEachAsync(_acknowledgedCreates, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (name, cancellationToken) =>
        {
            var deadline = Stopwatch.StartNew();
            while (true)
            {
                using var timeout = new CancellationTokenSource(RequestTimeout);
                try
                {
                    using var response = await _http.GetAsync(GroupUri(name), timeout.Token);
                    if (response.StatusCode == HttpStatusCode.OK)
                    {
                        return;
                    }

                    if (response.StatusCode == HttpStatusCode.NotFound || deadline.Elapsed > TimeSpan.FromSeconds(30))
                    {
                        missing.Add($"{name}: {(int)response.StatusCode}");
                        return;
                    }
                }
                catch (Exception exception) when (exception is HttpRequestException or OperationCanceledException && deadline.Elapsed < TimeSpan.FromSeconds(30))
                {
                    // Retried until the deadline.
                }

                await Task.Delay(200, cancellationToken);
            }
        });
        return [.. missing];
    }

    private async Task WorkerAsync(int worker, CancellationToken stop)
    {
        var random = new Random(worker * 7919);
        while (!stop.IsCancellationRequested)
        {
            string key = Keys[random.Next(Keys.Count)];
            int dice = random.Next(100);
            if (dice < 35)
            {
                await WriteAsync(key, NextValue(worker));
            }
            else if (dice < 65)
            {
                await ReadAsync(key);
            }
            else if (dice < 85)
            {
                if (await ReadWithETagAsync(key) is { } seen)
                {
                    await CompareAndSetAsync(key, seen.Value, seen.ETag, NextValue(worker));
                }
            }
            else
            {
                await CreateAsync($"{_prefix}-w{worker}-{Interlocked.Increment(ref _sequence)}");
            }
        }
    }

    /// <summary>One VM after another (a few per second: placement, not throughput, is under test).</summary>
    private async Task VmWorkerAsync(CancellationToken stop)
    {
        for (int i = 0; !stop.IsCancellationRequested; i++)
        {
            string name = $"vm{i:D4}";
            var body = new JsonObject
            {
                ["location"] = "local",
                ["properties"] = new JsonObject
                {
                    ["hardwareProfile"] = new JsonObject { ["vmSize"] = "Standard_B1s" },
                    ["osProfile"] = new JsonObject { ["computerName"] = name, ["adminUsername"] = "azureuser", ["adminPassword"] = "Ha-Passw0rd!" },
                },
            };
            using var request = new HttpRequestMessage(HttpMethod.Put, VmUri(name)) { Content = Json(body) };
            using var timeout = new CancellationTokenSource(RequestTimeout);
            long call = Stopwatch.GetTimestamp();
            try
            {
                using var response = await _http.SendAsync(request, timeout.Token);
                string text = await response.Content.ReadAsStringAsync(timeout.Token);
                if (response.IsSuccessStatusCode)
                {
                    _acknowledgedVms.Enqueue(name);
                    _acknowledgedVmCalls.Enqueue((name, call));
                }
                else
                {
                    _vmFailures.Enqueue($"{name}: {(int)response.StatusCode} {text}");
                    Classify(response.StatusCode, text, $"PUT VM {name}");
                }
            }
            catch (Exception exception) when (exception is HttpRequestException or OperationCanceledException or IOException)
            {
                // Unknown outcome: the VM may exist; it is not counted as acknowledged.
                _vmFailures.Enqueue($"{name}: {exception.Message}");
            }

            await Task.Delay(Backoff * 3, CancellationToken.None);
        }
    }

    /// <summary>
    /// The acknowledged VMs whose <c>provisioningState</c> is not <c>Succeeded</c> within <paramref name="bound"/>
    /// (the reconcilers on the leader take a VM from accepted to Succeeded), with their last answer.
    /// </summary>
    public async Task<IReadOnlyList<string>> VmsNotSucceededAsync(TimeSpan bound)
    {
        var pending = new Dictionary<string, string>(_acknowledgedVms.Select(vm => KeyValuePair.Create(vm, "not read")));
        var deadline = Stopwatch.StartNew();
        while (pending.Count > 0 && deadline.Elapsed < bound)
        {
            foreach (string vm in pending.Keys.ToList())
            {
                using var timeout = new CancellationTokenSource(RequestTimeout);
                try
                {
                    using var response = await _http.GetAsync(VmUri(vm), timeout.Token);
                    string text = await response.Content.ReadAsStringAsync(timeout.Token);
                    string? state = response.IsSuccessStatusCode ? JsonNode.Parse(text)?["properties"]?["provisioningState"]?.GetValue<string>() : null;
                    if (state == "Succeeded")
                    {
                        pending.Remove(vm);
                    }
                    else
                    {
                        pending[vm] = $"{(int)response.StatusCode} {state ?? text}";
                    }
                }
                catch (Exception exception) when (exception is HttpRequestException or OperationCanceledException or IOException)
                {
                    pending[vm] = exception.Message;
                }
            }

            if (pending.Count > 0)
            {
                await Task.Delay(500);
            }
        }

        return [.. pending.Select(p => $"{p.Key}: {p.Value}")];
    }

    /// <summary>A VM's ARM id path (relative to the endpoint).</summary>
    public Uri VmUri(string name) => new($"subscriptions/{_subscriptionId}/resourceGroups/{VmGroup}/providers/Microsoft.Compute/virtualMachines/{name}?api-version=2023-07-01", UriKind.Relative);

    private string NextValue(int worker) => $"w{worker}-{Interlocked.Increment(ref _sequence)}";

    private async Task<string?> ReadAsync(string key) => (await ReadWithETagAsync(key))?.Value;

    private async Task<(string? Value, string ETag)?> ReadWithETagAsync(string key)
    {
        long call = Stopwatch.GetTimestamp();
        var (status, body, etag) = await SendAsync(HttpMethod.Get, key, null, null);
        long done = Stopwatch.GetTimestamp();
        if (status == HttpStatusCode.OK && body is not null)
        {
            string? value = JsonNode.Parse(body)?["tags"]?["v"]?.GetValue<string>();
            _history.Enqueue(RegisterOperation.Read(key, call, done, value));
            return (value, etag!);
        }

        // A read without an answer tells nothing; an unexpected answer is kept for the test to fail on.
        Classify(status, body, $"GET {key}");
        return null;
    }

    private async Task WriteAsync(string key, string value)
    {
        long call = Stopwatch.GetTimestamp();
        var (status, body, _) = await SendAsync(HttpMethod.Patch, key, Tags(value), null);
        long done = Stopwatch.GetTimestamp();
        switch (Classify(status, body, $"PATCH {key}"))
        {
            case Outcome.Applied:
                _history.Enqueue(RegisterOperation.Write(key, call, done, value) with { Note = "200" });
                break;
            case Outcome.Unknown:
                _history.Enqueue(RegisterOperation.Write(key, call, null, value) with { Note = status is null ? "no answer" : ((int)status).ToString(System.Globalization.CultureInfo.InvariantCulture) });
                break;
            default:
                // A definite refusal (409 after the server's own retries, or never sent) changed nothing: not part of the history.
                break;
        }
    }

    private async Task CompareAndSetAsync(string key, string? expected, string etag, string value)
    {
        long call = Stopwatch.GetTimestamp();
        var (status, body, _) = await SendAsync(HttpMethod.Patch, key, Tags(value), etag);
        long done = Stopwatch.GetTimestamp();
        switch (Classify(status, body, $"PATCH If-Match {key}"))
        {
            case Outcome.Applied:
                _history.Enqueue(RegisterOperation.CompareAndSet(key, call, done, expected, value, succeeded: true));
                break;
            case Outcome.Refused:
                _history.Enqueue(RegisterOperation.CompareAndSet(key, call, done, expected, value, succeeded: false) with { Note = ((int)status!).ToString(System.Globalization.CultureInfo.InvariantCulture) });
                break;
            case Outcome.Unknown:
                _history.Enqueue(RegisterOperation.UnknownCompareAndSet(key, call, expected, value));
                break;
            default:
                break;
        }
    }

    private async Task CreateAsync(string name)
    {
        var (status, body, _) = await SendAsync(HttpMethod.Put, name, new JsonObject { ["location"] = "local", ["tags"] = new JsonObject { ["v"] = name } }, null);
        if (Classify(status, body, $"PUT {name}") == Outcome.Applied)
        {
            _acknowledgedCreates.Enqueue(name);
        }
    }

    private Outcome Classify(HttpStatusCode? status, string? body, string request)
    {
        switch (status)
        {
            case NotSent:
                return Outcome.NotSent;
            case null:
            case HttpStatusCode.ServiceUnavailable:
            case HttpStatusCode.GatewayTimeout:
                Interlocked.Increment(ref _unknown);
                return Outcome.Unknown;
            case HttpStatusCode.OK or HttpStatusCode.Created:
                return Outcome.Applied;
            case HttpStatusCode.PreconditionFailed or HttpStatusCode.Conflict:
                return Outcome.Refused;
            default:
                // Anything else (a 500, a 400) is a bug to report; for the history it is still an unknown outcome.
                _unexpected.Enqueue($"{request}: {(int)status} {body}");
                Interlocked.Increment(ref _unknown);
                return Outcome.Unknown;
        }
    }

    private async Task<(HttpStatusCode? Status, string? Body, string? ETag)> SendAsync(HttpMethod method, string group, JsonObject? body, string? ifMatch)
    {
        using var request = new HttpRequestMessage(method, GroupUri(group));
        if (body is not null)
        {
            request.Content = Json(body);
        }

        if (ifMatch is not null)
        {
            request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        }

        using var timeout = new CancellationTokenSource(RequestTimeout);
        try
        {
            using var response = await _http.SendAsync(request, timeout.Token);
            string text = await response.Content.ReadAsStringAsync(timeout.Token);
            if ((int)response.StatusCode >= 500)
            {
                // No spinning while the store elects a leader; the outcome is unknown whatever its timing.
                await Task.Delay(Backoff, CancellationToken.None);
            }

            return (response.StatusCode, text, response.Headers.ETag?.ToString());
        }
        catch (HttpRequestException exception) when (exception.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionRefused })
        {
            // Nothing listened (the server is down): the request was never sent, so it changed nothing.
            await Task.Delay(Backoff, CancellationToken.None);
            return (NotSent, exception.Message, null);
        }
        catch (Exception exception) when (exception is HttpRequestException or OperationCanceledException or IOException)
        {
            await Task.Delay(Backoff, CancellationToken.None);
            return (null, exception.Message, null);
        }
    }

    private Uri GroupUri(string group) => new($"subscriptions/{_subscriptionId}/resourcegroups/{group}?{ApiVersion}", UriKind.Relative);

    private static JsonObject Tags(string value) => new() { ["tags"] = new JsonObject { ["v"] = value } };

    private static StringContent Json(JsonObject body) => new(body.ToJsonString(), Encoding.UTF8, "application/json");

    private enum Outcome
    {
        Applied,
        Refused,
        Unknown,
        NotSent,
    }
}
