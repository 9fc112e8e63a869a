namespace Holdfast.State.Etcd.Client;

/// <summary>
/// The etcd v3 messages the store uses, in protocol-buffers form (etcdserverpb and mvccpb, etcd 3.4+; field numbers as
/// etcd's API reference gives them). Only the fields Holdfast sends or reads are here; the rest are skipped on read.
/// </summary>
internal static class EtcdProto
{
    // --- requests ---

    public static void Range(ProtoWriter w, EtcdRangeRequest r)
    {
        w.Bytes(1, r.Key);
        w.Bytes(2, r.RangeEnd);
        w.Int64(3, r.Limit);
        w.Int64(4, r.Revision);
        w.Bool(7, r.Serializable);
        w.Bool(9, r.CountOnly);
    }

    public static void Put(ProtoWriter w, EtcdPutRequest r)
    {
        w.Bytes(1, r.Key);
        w.Bytes(2, r.Value);
        w.Int64(3, r.Lease);
        w.Bool(4, r.PrevKv);
    }

    public static void DeleteRange(ProtoWriter w, EtcdDeleteRangeRequest r)
    {
        w.Bytes(1, r.Key);
        w.Bytes(2, r.RangeEnd);
        w.Bool(3, r.PrevKv);
    }

    public static void Txn(ProtoWriter w, EtcdTxnRequest r)
    {
        foreach (var compare in r.Compare ?? [])
        {
            w.Message(1, compare, Compare);
        }

        foreach (var op in r.Success ?? [])
        {
            w.Message(2, op, RequestOp);
        }

        foreach (var op in r.Failure ?? [])
        {
            w.Message(3, op, RequestOp);
        }
    }

    public static void Compaction(ProtoWriter w, EtcdCompactionRequest r)
    {
        w.Int64(1, r.Revision);
        w.Bool(2, r.Physical);
    }

    public static void LeaseGrant(ProtoWriter w, EtcdLeaseGrantRequest r) => w.Int64(1, r.Ttl);

    /// <summary>LeaseRevokeRequest and LeaseKeepAliveRequest: the lease id in field 1.</summary>
    public static void LeaseId(ProtoWriter w, long id) => w.Int64(1, id);

    /// <summary>A WatchRequest holding a WatchCreateRequest.</summary>
    public static void WatchCreate(ProtoWriter w, EtcdWatchCreateRequest r) => w.Message(1, r, static (c, create) =>
    {
        c.Bytes(1, create.Key);
        c.Bytes(2, create.RangeEnd);
        c.Int64(3, create.StartRevision);

        // fragment: a response over etcd's request size limit comes in parts rather than as one oversized message.
        c.Bool(8, true);
    });

    private static void Compare(ProtoWriter w, EtcdCompare c)
    {
        w.Enum(1, c.Result switch
        {
            "EQUAL" => 0,
            "GREATER" => 1,
            "LESS" => 2,
            "NOT_EQUAL" => 3,
            _ => throw new ArgumentException($"Unknown etcd compare result '{c.Result}'.", nameof(c)),
        });
        var target = c.Target switch
        {
            "VERSION" => 0,
            "CREATE" => 1,
            "MOD" => 2,
            "VALUE" => 3,
            _ => throw new ArgumentException($"Unknown etcd compare target '{c.Target}'.", nameof(c)),
        };
        w.Enum(2, target);
        w.Bytes(3, c.Key);

        // The operand is a oneof: written even when 0 or empty.
        switch (target)
        {
            case 0:
                w.Int64Always(4, c.Version);
                break;
            case 1:
                w.Int64Always(5, c.CreateRevision);
                break;
            case 2:
                w.Int64Always(6, c.ModRevision);
                break;
            default:
                w.BytesAlways(7, c.Value);
                break;
        }
    }

    private static void RequestOp(ProtoWriter w, EtcdRequestOp op)
    {
        if (op.RequestRange is { } range)
        {
            w.Message(1, range, Range);
        }
        else if (op.RequestPut is { } put)
        {
            w.Message(2, put, Put);
        }
        else if (op.RequestDeleteRange is { } delete)
        {
            w.Message(3, delete, DeleteRange);
        }
        else
        {
            throw new ArgumentException("An etcd transaction operation must be a range, a put or a delete.", nameof(op));
        }
    }

    // --- responses ---

    public static EtcdRangeResponse RangeResponse(ReadOnlySpan<byte> data)
    {
        var reader = new ProtoReader(data);
        EtcdHeader? header = null;
        List<EtcdKeyValue>? kvs = null;
        var more = false;
        while (reader.Next(out var field))
        {
            switch (field)
            {
                case 1:
                    header = Header(reader.Bytes());
                    break;
                case 2:
                    (kvs ??= []).Add(KeyValue(reader.Bytes()));
                    break;
                case 3:
                    more = reader.Bool();
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }

        return new EtcdRangeResponse { Header = header, Kvs = kvs, More = more };
    }

    public static EtcdTxnResponse TxnResponse(ReadOnlySpan<byte> data)
    {
        var reader = new ProtoReader(data);
        EtcdHeader? header = null;
        List<EtcdResponseOp>? responses = null;
        var succeeded = false;
        while (reader.Next(out var field))
        {
            switch (field)
            {
                case 1:
                    header = Header(reader.Bytes());
                    break;
                case 2:
                    succeeded = reader.Bool();
                    break;
                case 3:
                    (responses ??= []).Add(ResponseOp(reader.Bytes()));
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }

        return new EtcdTxnResponse { Header = header, Succeeded = succeeded, Responses = responses };
    }

    /// <summary>CompactionResponse and LeaseRevokeResponse: a header only.</summary>
    public static EtcdCompactionResponse HeaderOnly(ReadOnlySpan<byte> data)
    {
        var reader = new ProtoReader(data);
        EtcdHeader? header = null;
        while (reader.Next(out var field))
        {
            if (field == 1)
            {
                header = Header(reader.Bytes());
            }
            else
            {
                reader.Skip();
            }
        }

        return new EtcdCompactionResponse { Header = header };
    }

    /// <summary>
    /// LeaseGrantResponse (header, ID, TTL, error) and LeaseKeepAliveResponse (header, ID, TTL); a grant's
    /// <c>error</c> string is returned separately.
    /// </summary>
    public static (EtcdLeaseResponse Response, string? Error) LeaseResponse(ReadOnlySpan<byte> data)
    {
        var reader = new ProtoReader(data);
        EtcdHeader? header = null;
        long id = 0;
        long ttl = 0;
        string? error = null;
        while (reader.Next(out var field))
        {
            switch (field)
            {
                case 1:
                    header = Header(reader.Bytes());
                    break;
                case 2:
                    id = reader.Int64();
                    break;
                case 3:
                    ttl = reader.Int64();
                    break;
                case 4:
                    error = reader.String();
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }

        return (new EtcdLeaseResponse { Header = header, Id = id, Ttl = ttl }, string.IsNullOrEmpty(error) ? null : error);
    }

    public static EtcdWatchResponse WatchResponse(ReadOnlySpan<byte> data)
    {
        var reader = new ProtoReader(data);
        EtcdHeader? header = null;
        bool created = false, canceled = false, fragment = false;
        long compactRevision = 0;
        string? cancelReason = null;
        List<EtcdEvent>? events = null;
        while (reader.Next(out var field))
        {
            switch (field)
            {
                case 1:
                    header = Header(reader.Bytes());
                    break;
                case 3:
                    created = reader.Bool();
                    break;
                case 4:
                    canceled = reader.Bool();
                    break;
                case 5:
                    compactRevision = reader.Int64();
                    break;
                case 6:
                    cancelReason = reader.String();
                    break;
                case 7:
                    fragment = reader.Bool();
                    break;
                case 11:
                    (events ??= []).Add(Event(reader.Bytes()));
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }

        return new EtcdWatchResponse { Header = header, Created = created, Canceled = canceled, CompactRevision = compactRevision, CancelReason = cancelReason, Fragment = fragment, Events = events };
    }

    private static EtcdResponseOp ResponseOp(ReadOnlySpan<byte> data)
    {
        var reader = new ProtoReader(data);
        EtcdResponseOp op = new();
        while (reader.Next(out var field))
        {
            switch (field)
            {
                case 1:
                    op = new EtcdResponseOp { ResponseRange = RangeResponse(reader.Bytes()) };
                    break;
                case 2:
                    op = new EtcdResponseOp { ResponsePut = PutResponse(reader.Bytes()) };
                    break;
                case 3:
                    op = new EtcdResponseOp { ResponseDeleteRange = DeleteRangeResponse(reader.Bytes()) };
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }

        return op;
    }

    private static EtcdPutResponse PutResponse(ReadOnlySpan<byte> data)
    {
        var reader = new ProtoReader(data);
        EtcdHeader? header = null;
        EtcdKeyValue? previous = null;
        while (reader.Next(out var field))
        {
            switch (field)
            {
                case 1:
                    header = Header(reader.Bytes());
                    break;
                case 2:
                    previous = KeyValue(reader.Bytes());
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }

        return new EtcdPutResponse { Header = header, PrevKv = previous };
    }

    private static EtcdDeleteRangeResponse DeleteRangeResponse(ReadOnlySpan<byte> data)
    {
        var reader = new ProtoReader(data);
        EtcdHeader? header = null;
        long deleted = 0;
        List<EtcdKeyValue>? previous = null;
        while (reader.Next(out var field))
        {
            switch (field)
            {
                case 1:
                    header = Header(reader.Bytes());
                    break;
                case 2:
                    deleted = reader.Int64();
                    break;
                case 3:
                    (previous ??= []).Add(KeyValue(reader.Bytes()));
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }

        return new EtcdDeleteRangeResponse { Header = header, Deleted = deleted, PrevKvs = previous };
    }

    private static EtcdEvent Event(ReadOnlySpan<byte> data)
    {
        var reader = new ProtoReader(data);
        string? type = null;
        EtcdKeyValue? kv = null;
        while (reader.Next(out var field))
        {
            switch (field)
            {
                case 1:
                    type = reader.Int64() == 1 ? "DELETE" : null;
                    break;
                case 2:
                    kv = KeyValue(reader.Bytes());
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }

        return new EtcdEvent { Type = type, Kv = kv };
    }

    private static EtcdHeader Header(ReadOnlySpan<byte> data)
    {
        var reader = new ProtoReader(data);
        long revision = 0;
        while (reader.Next(out var field))
        {
            if (field == 3)
            {
                revision = reader.Int64();
            }
            else
            {
                reader.Skip();
            }
        }

        return new EtcdHeader { Revision = revision };
    }

    private static EtcdKeyValue KeyValue(ReadOnlySpan<byte> data)
    {
        var reader = new ProtoReader(data);
        byte[]? key = null, value = null;
        long create = 0, mod = 0, version = 0, lease = 0;
        while (reader.Next(out var field))
        {
            switch (field)
            {
                case 1:
                    key = reader.Bytes().ToArray();
                    break;
                case 2:
                    create = reader.Int64();
                    break;
                case 3:
                    mod = reader.Int64();
                    break;
                case 4:
                    version = reader.Int64();
                    break;
                case 5:
                    value = reader.Bytes().ToArray();
                    break;
                case 6:
                    lease = reader.Int64();
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }

        return new EtcdKeyValue { Key = key, Value = value, CreateRevision = create, ModRevision = mod, Version = version, Lease = lease };
    }
}
