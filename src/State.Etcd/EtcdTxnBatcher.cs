using Holdfast.State.Etcd.Client;

namespace Holdfast.State.Etcd;

/// <summary>
/// Group commit for etcd: transactions marked <see cref="TxnRequest.MayShareRevision"/> that wait while
/// <see cref="EtcdStateStoreOptions.MaxTxnsInFlight"/> others are in flight are sent together as one etcd transaction
/// (their compares joined, their success operations concatenated), so a burst of N API writes costs one raft proposal
/// instead of N. Only transactions whose keys (compared or written) are disjoint share a group, so the joint outcome is
/// the one a serial order would give. When the joint compare fails, nothing was written and each member runs again on
/// its own, with its own failure branch; so does every member when etcd refuses the joint request outright. A transient
/// error fails every member alike (the outcome is unknown, as for a single write).
/// </summary>
internal sealed class EtcdTxnBatcher(IEtcdClient client, EtcdStateStoreOptions options, Func<EtcdTxnRequest, TxnRequest, CancellationToken, Task<TxnResult>> sendOne, Func<EtcdTxnResponse, long> revisionOf, Func<EtcdResponseOp, TxnOpResult> resultOf)
{
    private readonly Lock _lock = new();
    private readonly List<Member> _queue = [];
    private int _inFlight;

    /// <summary>Whether a transaction can join a group: only puts, deletes and gets of single keys.</summary>
    public static bool CanGroup(TxnRequest request) =>
        request.MayShareRevision
        && request.Success.All(op => op.Type is TxnOpType.Put or TxnOpType.Delete or TxnOpType.Get)
        && request.Failure.All(op => op.Type is TxnOpType.Put or TxnOpType.Delete or TxnOpType.Get);

    public Task<TxnResult> CommitAsync(EtcdTxnRequest etcdRequest, TxnRequest request, CancellationToken cancellationToken)
    {
        var member = new Member(etcdRequest, request, KeysOf(request));
        List<Member>? group;
        lock (_lock)
        {
            _queue.Add(member);
            group = _inFlight < options.MaxTxnsInFlight ? TakeGroup() : null;
        }

        if (group is not null)
        {
            _ = DispatchAsync(group);
        }

        return member.Completion.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Takes the oldest queued member and every later one disjoint from the group so far, within etcd's limits.</summary>
    private List<Member>? TakeGroup()
    {
        if (_queue.Count == 0)
        {
            return null;
        }

        var group = new List<Member>();
        var keys = new HashSet<string>(StringComparer.Ordinal);
        int compares = 0;
        int ops = 0;
        long bytes = 0;
        for (int i = 0; i < _queue.Count; i++)
        {
            var candidate = _queue[i];
            if (group.Count > 0
                && (compares + candidate.Request.Compares.Count > options.MaxGroupedOps
                    || ops + candidate.Request.Success.Count > options.MaxGroupedOps
                    || bytes + candidate.Bytes > options.MaxGroupedBytes
                    || candidate.Keys.Overlaps(keys)))
            {
                continue;
            }

            group.Add(candidate);
            keys.UnionWith(candidate.Keys);
            compares += candidate.Request.Compares.Count;
            ops += candidate.Request.Success.Count;
            bytes += candidate.Bytes;
        }

        foreach (var taken in group)
        {
            _queue.Remove(taken);
        }

        _inFlight++;
        return group;
    }

    private async Task DispatchAsync(List<Member> group)
    {
        while (group is not null)
        {
            var send = SendGuardedAsync(group);

            // A group that has not been answered within StallAfter stops holding the others back: etcd may be
            // holding it (a proposal lost with a dead leader waits out the request timeout), and the writes queued
            // behind it would otherwise wait for that timeout even once a new leader takes them at once.
            using (var stall = new CancellationTokenSource())
            {
                if (await Task.WhenAny(send, Task.Delay(options.StallAfter, stall.Token)).ConfigureAwait(false) != send)
                {
                    List<Member>? next;
                    lock (_lock)
                    {
                        _inFlight--;
                        next = TakeGroup();
                    }

                    if (next is not null)
                    {
                        _ = DispatchAsync(next);
                    }

                    await send.ConfigureAwait(false);
                    return;
                }

                await stall.CancelAsync().ConfigureAwait(false);
            }

            lock (_lock)
            {
                _inFlight--;
                group = TakeGroup()!;
            }
        }
    }

    /// <summary>Sends a group and completes its members, with the error when it fails; never throws.</summary>
    private async Task SendGuardedAsync(List<Member> group)
    {
        try
        {
            await SendAsync(group).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            foreach (var member in group)
            {
                member.Completion.TrySetException(exception);
            }
        }
    }

    private async Task SendAsync(List<Member> group)
    {
        if (group is [var single])
        {
            single.Completion.TrySetResult(await sendOne(single.EtcdRequest, single.Request, CancellationToken.None).ConfigureAwait(false));
            return;
        }

        var joint = new EtcdTxnRequest
        {
            Compare = group.SelectMany(m => m.EtcdRequest.Compare ?? []).ToList(),
            Success = group.SelectMany(m => m.EtcdRequest.Success ?? []).ToList(),
        };
        EtcdTxnResponse response;
        try
        {
            response = await client.TxnAsync(joint, writes: true, CancellationToken.None).ConfigureAwait(false);
        }
        catch (StateStoreException refused) when (!refused.IsTransient)
        {
            // etcd refused the joint request (a lost lease, a limit) and applied nothing: one member's fault must not
            // fail the others, so each runs alone and gets its own answer. A transient error's outcome is unknown, so
            // it goes to every member as it is.
            await SendEachAsync(group).ConfigureAwait(false);
            return;
        }

        if (response.Succeeded)
        {
            long revision = revisionOf(response);
            var responses = response.Responses ?? [];
            int offset = 0;
            foreach (var member in group)
            {
                int count = member.Request.Success.Count;
                var results = responses.Skip(offset).Take(count).Select(resultOf).ToList();
                offset += count;
                member.Completion.TrySetResult(new TxnResult(true, revision, results));
            }

            return;
        }

        // Some member's compare failed and nothing was written: each runs alone, with its own failure branch.
        await SendEachAsync(group).ConfigureAwait(false);
    }

    private Task SendEachAsync(List<Member> group) =>
        Task.WhenAll(group.Select(async member =>
        {
            try
            {
                member.Completion.TrySetResult(await sendOne(member.EtcdRequest, member.Request, CancellationToken.None).ConfigureAwait(false));
            }
            catch (Exception exception)
            {
                member.Completion.TrySetException(exception);
            }
        }));

    private static HashSet<string> KeysOf(TxnRequest request)
    {
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var compare in request.Compares)
        {
            keys.Add(compare.Key);
        }

        foreach (var op in request.Success.Concat(request.Failure))
        {
            keys.Add(op.Key);
        }

        return keys;
    }

    private sealed class Member(EtcdTxnRequest etcdRequest, TxnRequest request, HashSet<string> keys)
    {
        public EtcdTxnRequest EtcdRequest { get; } = etcdRequest;

        public TxnRequest Request { get; } = request;

        public HashSet<string> Keys { get; } = keys;

        public long Bytes { get; } = request.Success.Sum(op => (long)op.Key.Length + op.Value.Length) + request.Compares.Sum(c => (long)c.Key.Length + c.Value.Length);

        public TaskCompletionSource<TxnResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
