using Holdfast.State.Etcd.Client;
using Xunit;

namespace Holdfast.State.Etcd.Tests;

/// <summary>
/// The protocol-buffers codec below the etcd client, on bytes written by hand: what etcd's own encoder would send, and
/// what a damaged or newer message looks like. (The conformance suite runs the codec against real etcd.)
/// </summary>
public sealed class ProtoCodecTests
{
    [Fact]
    public void ProtoReader_WriterOutput_ReadsBackEveryScalar()
    {
        var writer = new ProtoWriter();
        writer.Int64(1, 300);
        writer.Int64Always(2, -1);
        writer.Bool(3, true);
        writer.Bytes(4, "key"u8);
        writer.Int64(5, long.MaxValue);

        var reader = new ProtoReader(writer.WrittenSpan);
        var seen = new List<(int Field, object Value)>();
        while (reader.Next(out var field))
        {
            seen.Add(field switch
            {
                1 or 2 or 5 => (field, reader.Int64()),
                3 => (field, reader.Bool()),
                _ => (field, System.Text.Encoding.UTF8.GetString(reader.Bytes())),
            });
        }

        Assert.Equal([(1, (object)300L), (2, -1L), (3, true), (4, "key"), (5, long.MaxValue)], seen);
    }

    [Fact]
    public void ProtoWriter_DefaultScalars_AreLeftOutButOneofOperandsAreNot()
    {
        var writer = new ProtoWriter();
        writer.Int64(1, 0);
        writer.Bool(2, false);
        writer.Bytes(3, []);
        Assert.Equal(0, writer.WrittenSpan.Length);

        // A compare "MOD == 0" (the key is absent) must carry its operand: the oneof's presence is its meaning.
        writer.Int64Always(6, 0);
        writer.BytesAlways(7, []);
        Assert.Equal(new byte[] { 6 << 3, 0, (7 << 3) | 2, 0 }, writer.WrittenSpan.ToArray());
    }

    [Fact]
    public void RangeResponse_UnknownFieldsOfEveryWireType_AreSkipped()
    {
        // header { revision: 7 }, then fields a newer etcd might add (varint, fixed64, bytes, fixed32), then more: true.
        byte[] data =
        [
            (1 << 3) | 2, 2, 3 << 3, 7,
            (12 << 3) | 0, 0x96, 0x01,
            (13 << 3) | 1, 1, 2, 3, 4, 5, 6, 7, 8,
            (14 << 3) | 2, 3, (byte)'a', (byte)'b', (byte)'c',
            (15 << 3) | 5, 1, 2, 3, 4,
            3 << 3, 1,
        ];

        var response = EtcdProto.RangeResponse(data);

        Assert.Equal(7, response.Header?.Revision);
        Assert.True(response.More);
        Assert.Null(response.Kvs);
    }

    [Theory]
    [InlineData(new byte[] { (1 << 3) | 2, 5, 1, 2 })]            // bytes longer than what is left
    [InlineData(new byte[] { 3 << 3, 0x80, 0x80 })]               // a varint that never ends
    [InlineData(new byte[] { (13 << 3) | 1, 1, 2, 3 })]           // a fixed64 cut short
    [InlineData(new byte[] { (13 << 3) | 3 })]                    // a group (wire type 3), which etcd never sends
    [InlineData(new byte[] { 0, 1 })]                             // field number 0
    [InlineData(new byte[] { 3 << 3 | 2, 1, 1 })]                 // "more" sent as bytes
    public void RangeResponse_DamagedMessage_IsInvalidData(byte[] data)
    {
        Assert.Throws<InvalidDataException>(() => EtcdProto.RangeResponse(data));
    }

    [Fact]
    public void Txn_CompareOnAbsentKey_CarriesTheZeroOperand()
    {
        var request = new EtcdTxnRequest
        {
            Compare = [new EtcdCompare { Key = "k"u8.ToArray(), Target = "MOD", Result = "EQUAL", ModRevision = 0 }],
            Success = [new EtcdRequestOp { RequestPut = new EtcdPutRequest { Key = "k"u8.ToArray(), Value = [] } }],
        };
        var writer = new ProtoWriter();

        EtcdProto.Txn(writer, request);

        // compare (field 1): target MOD (field 2 = 2), key (field 3), mod_revision (field 6) = 0, explicitly present.
        byte[] compare = [2 << 3, 2, (3 << 3) | 2, 1, (byte)'k', 6 << 3, 0];

        // success (field 2): a RequestOp holding request_put (field 2) with only the key (an empty value is the default).
        byte[] put = [(1 << 3) | 2, 1, (byte)'k'];
        byte[] op = [(2 << 3) | 2, (byte)put.Length, .. put];
        byte[] expected = [(1 << 3) | 2, (byte)compare.Length, .. compare, (2 << 3) | 2, (byte)op.Length, .. op];
        Assert.Equal(expected, writer.WrittenSpan.ToArray());
    }

    [Fact]
    public void Range_SerializableCountOnly_WritesFieldsSevenAndNine()
    {
        var writer = new ProtoWriter();

        EtcdProto.Range(writer, new EtcdRangeRequest { Key = "k"u8.ToArray(), Serializable = true, CountOnly = true });

        Assert.Equal(new byte[] { (1 << 3) | 2, 1, (byte)'k', 7 << 3, 1, 9 << 3, 1 }, writer.WrittenSpan.ToArray());
    }

    [Fact]
    public void WatchCreate_AsksForFragments()
    {
        var writer = new ProtoWriter();

        EtcdProto.WatchCreate(writer, new EtcdWatchCreateRequest { Key = "k"u8.ToArray(), StartRevision = 5 });

        // WatchRequest.create_request (1) { key (1), start_revision (3), fragment (8) }.
        byte[] create = [(1 << 3) | 2, 1, (byte)'k', 3 << 3, 5, 8 << 3, 1];
        Assert.Equal([(1 << 3) | 2, (byte)create.Length, .. create], writer.WrittenSpan.ToArray());
    }

    [Fact]
    public void WatchResponse_FragmentWithADeleteEvent_ReadsEveryField()
    {
        // KeyValue { key "k" (1), mod_revision 9 (3) }; Event { type DELETE (1) = 1, kv (2) }.
        byte[] kv = [(1 << 3) | 2, 1, (byte)'k', 3 << 3, 9];
        byte[] change = [1 << 3, 1, (2 << 3) | 2, (byte)kv.Length, .. kv];

        // WatchResponse { header { revision 9 }, created (3), fragment (7), events (11) }.
        byte[] data = [(1 << 3) | 2, 2, 3 << 3, 9, 3 << 3, 1, 7 << 3, 1, (11 << 3) | 2, (byte)change.Length, .. change];

        var response = EtcdProto.WatchResponse(data);

        Assert.Equal(9, response.Header?.Revision);
        Assert.True(response.Created);
        Assert.True(response.Fragment);
        var single = Assert.Single(response.Events!);
        Assert.Equal("DELETE", single.Type);
        Assert.Equal("k"u8.ToArray(), single.Kv?.Key);
        Assert.Equal(9, single.Kv?.ModRevision);
    }
}
