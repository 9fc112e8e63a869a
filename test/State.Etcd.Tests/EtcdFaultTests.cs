using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Holdfast.Testing;
using Xunit;

namespace Holdfast.State.Etcd.Tests;

/// <summary>
/// Faults on real etcd processes on loopback: kill -9 of a single member and of a cluster's leader, with restarts on
/// the same data directory. Bounded: every wait has a deadline, and every member is killed when the test ends.
/// </summary>
public sealed class EtcdFaultTests : IDisposable
{
    private static readonly TimeSpan WaitTimeout = TimeSpan.FromSeconds(60);
    private readonly TempDirectory _directory = new();
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(3));

    private CancellationToken Ct => _timeout.Token;

    public void Dispose()
    {
        _timeout.Dispose();
        _directory.Dispose();
    }

    [Fact]
    public async Task WatchAsync_MemberKilledAndRestarted_ResumesWithoutGapsOrDuplicates()
    {
        await using var etcd = await EtcdProcess.StartSingleAsync(_directory.Path);
        await using var store = await OpenAsync(etcd.ClientUrl);
        await using var watch = new WatchPump(store, "/w/");
        for (int i = 1; i <= 10; i++)
        {
            await store.PutAsync($"/w/{i}", Bytes($"{i}"), null, Ct);
        }

        Assert.Equal(10, (await watch.TakeThroughAsync(10)).Count);

        etcd.Kill();
        await etcd.StartAsync();
        long last = 0;
        for (int i = 11; i <= 20; i++)
        {
            last = (await CreateWithRetriesAsync(store, $"/w/{i}", $"{i}")).Revision;
        }

        var resumed = await watch.TakeThroughAsync(last);
        var all = watch.Received;
        Assert.Equal(Enumerable.Range(1, 20).Select(i => (long)i), all.Select(e => e.Revision));
        Assert.Equal(Enumerable.Range(1, 20).Select(i => $"/w/{i}"), all.Select(e => e.Kv.Key));
        Assert.NotEmpty(resumed);
    }

    [Fact]
    public async Task PutAsync_AcknowledgedBeforeKill9_PresentAfterRestart()
    {
        await using var etcd = await EtcdProcess.StartSingleAsync(_directory.Path);
        var acknowledged = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        var enough = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using (var store = await OpenAsync(etcd.ClientUrl))
        {
            var writers = Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
            {
                for (int i = 0; i < 200; i++)
                {
                    string key = $"/d/{w}/{i:D3}";
                    try
                    {
                        var result = await store.PutAsync(key, Bytes(key), 0, Ct);
                        acknowledged[key] = result.Revision;
                        if (acknowledged.Count >= 100)
                        {
                            enough.TrySetResult();
                        }
                    }
                    catch (StateStoreException exception) when (exception.IsTransient)
                    {
                        // The member is gone: this write was not acknowledged, so it may or may not be there.
                        return;
                    }
                }
            })).ToList();

            await enough.Task.WaitAsync(WaitTimeout, Ct);
            etcd.Kill();
            await Task.WhenAll(writers).WaitAsync(WaitTimeout, Ct);
        }

        await etcd.StartAsync();
        await using var reopened = await OpenAsync(etcd.ClientUrl);
        var stored = (await reopened.RangeAsync(new RangeRequest("/d/"), Ct)).Items.ToDictionary(kv => kv.Key, StringComparer.Ordinal);

        Assert.True(acknowledged.Count >= 100);
        Assert.All(acknowledged, pair =>
        {
            Assert.True(stored.TryGetValue(pair.Key, out var kv), $"Acknowledged {pair.Key} at revision {pair.Value} is missing.");
            Assert.Equal((pair.Key, pair.Value), (Encoding.UTF8.GetString(kv.Value.Span), kv.ModRevision));
        });
        Assert.True(await reopened.GetRevisionAsync(Ct) >= acknowledged.Values.Max());
    }

    [Fact]
    public async Task PutAsync_LeaderOfThreeKilled_FailsOverWithNothingLostAndWatchResumes()
    {
        var members = await EtcdProcess.StartClusterAsync(_directory.Path, 3);
        try
        {
            // The client starts on the leader, so killing it makes the client both change endpoint and wait for an election.
            var leader = await FindLeaderAsync(members);
            var endpoints = members.OrderBy(m => m == leader ? 0 : 1).Select(m => m.ClientUrl).ToList();
            await using var store = await EtcdStateStore.OpenAsync(new EtcdStateStoreOptions { Endpoints = endpoints, RequestTimeout = TimeSpan.FromSeconds(2) }, Ct);
            await using var watch = new WatchPump(store, "/f/");
            var acknowledged = new Dictionary<string, long>(StringComparer.Ordinal);
            for (int i = 0; i < 10; i++)
            {
                acknowledged[$"/f/{i:D2}"] = (await store.PutAsync($"/f/{i:D2}", Bytes($"{i}"), 0, Ct)).Revision;
            }

            await watch.TakeThroughAsync(acknowledged.Values.Max());
            leader.Kill();

            for (int i = 10; i < 40; i++)
            {
                string key = $"/f/{i:D2}";
                acknowledged[key] = (await CreateWithRetriesAsync(store, key, $"{i}")).Revision;
            }

            var stored = (await store.RangeAsync(new RangeRequest("/f/"), Ct)).Items;
            Assert.Equal(acknowledged.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => (p.Key, p.Value)), stored.Select(kv => (kv.Key, kv.ModRevision)));

            await watch.TakeThroughAsync(acknowledged.Values.Max());
            var seen = watch.Received;
            Assert.Equal(acknowledged.Keys.Order(StringComparer.Ordinal), seen.Select(e => e.Kv.Key).Order(StringComparer.Ordinal));
            Assert.Equal(seen.Select(e => e.Revision).Order(), seen.Select(e => e.Revision));
            Assert.Equal(seen.Count, seen.Select(e => e.Revision).Distinct().Count());
        }
        finally
        {
            foreach (var member in members)
            {
                await member.DisposeAsync();
            }
        }
    }

    private async Task<EtcdStateStore> OpenAsync(Uri endpoint) =>
        await EtcdStateStore.OpenAsync(new EtcdStateStoreOptions { Endpoints = [endpoint] }, Ct);

    /// <summary>
    /// Creates <paramref name="key"/>, retrying while etcd fails over. A retry after an unknown outcome may find its own
    /// earlier attempt applied: the key at version 1 holding this very value is then that acknowledgement.
    /// </summary>
    private async Task<WriteResult> CreateWithRetriesAsync(EtcdStateStore store, string key, string value)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                var result = await store.PutAsync(key, Bytes(value), 0, Ct);
                if (!result.Succeeded && result.Current is { Version: 1 } current && Encoding.UTF8.GetString(current.Value.Span) == value)
                {
                    return new WriteResult(true, current.ModRevision, current);
                }

                Assert.True(result.Succeeded, $"Creating {key} failed its compare against another value.");
                return result;
            }
            catch (StateStoreException exception) when (exception.IsTransient && deadline.Elapsed < WaitTimeout)
            {
                await Task.Delay(100, Ct);
            }
        }
    }

    private static async Task<EtcdProcess> FindLeaderAsync(IReadOnlyList<EtcdProcess> members)
    {
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(5) };
        foreach (var member in members)
        {
            using var content = new StringContent("{}", Encoding.UTF8, "application/json");
            using var response = await http.PostAsync(new Uri(member.ClientUrl, "v3/maintenance/status"), content);
            using var status = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            var root = status.RootElement;
            if (root.TryGetProperty("leader", out var leader) && leader.GetString() == root.GetProperty("header").GetProperty("member_id").GetString())
            {
                return member;
            }
        }

        throw new InvalidOperationException("No member reports itself as the leader.");
    }

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    /// <summary>Drains a watch in the background so the test reads it with a deadline.</summary>
    private sealed class WatchPump : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Channel<WatchEvent> _events = Channel.CreateUnbounded<WatchEvent>();
        private readonly List<WatchEvent> _received = [];
        private readonly Task _pump;

        public WatchPump(EtcdStateStore store, string prefix)
        {
            _pump = Task.Run(async () =>
            {
                try
                {
                    await foreach (var change in store.WatchAsync(prefix, 0, _stop.Token))
                    {
                        _events.Writer.TryWrite(change);
                    }
                }
                catch (OperationCanceledException) when (_stop.IsCancellationRequested)
                {
                    // Stopped by the test.
                }
                catch (Exception exception)
                {
                    _events.Writer.TryComplete(exception);
                }
            });
        }

        public List<WatchEvent> Received => [.. _received];

        public async Task<List<WatchEvent>> TakeThroughAsync(long revision)
        {
            using var timeout = new CancellationTokenSource(WaitTimeout);
            var taken = new List<WatchEvent>();
            while (_received.Count == 0 || _received[^1].Revision < revision)
            {
                var change = await _events.Reader.ReadAsync(timeout.Token);
                _received.Add(change);
                taken.Add(change);
            }

            return taken;
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _pump;
            _stop.Dispose();
        }
    }
}
