using System.Text;
using Holdfast.Audit.Chain;

namespace Holdfast.Audit.Tests.Chain;

public sealed class AuditEntryTests
{
    /// <summary>
    /// Pinned: these bytes and hash were cross-checked with Python's <c>json.dumps(sort_keys=True,
    /// separators=(",", ":"), ensure_ascii=False)</c>. If this test fails, stored logs no longer verify.
    /// </summary>
    private const string PinnedCanonical =
        """{"callerAppId":"app-1","callerObjectId":"object-1","category":"Administrative","clientAddress":"10.0.0.1","correlationId":"corr-0001","description":null,"eventTimestamp":"2026-01-02T01:04:05.1234567Z","httpStatusCode":201,"level":"Informational","operation":"Microsoft.Resources/subscriptions/resourceGroups/write","previousHash":"0000000000000000000000000000000000000000000000000000000000000000","resourceGroupName":"rg-1","resourceId":"/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-1","schemaVersion":1,"sequence":1,"status":"Succeeded","subStatus":null,"subscriptionId":"00000000-0000-0000-0000-000000000001","tenantId":"72f988bf-86f1-41af-91ab-2d7cd011db47"}""";

    private const string PinnedHash = "e8995372f19696d7448c1a05954be968217c6562cd0308a3a1faf7bcd3e726ed";

    internal static readonly AuditRecord Record = new()
    {
        EventTimestamp = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.FromHours(2)).AddTicks(1234567),
        TenantId = "72f988bf-86f1-41af-91ab-2d7cd011db47",
        CallerAppId = "app-1",
        CallerObjectId = "object-1",
        Operation = "Microsoft.Resources/subscriptions/resourceGroups/write",
        ResourceId = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-1",
        SubscriptionId = "00000000-0000-0000-0000-000000000001",
        ResourceGroupName = "rg-1",
        Status = AuditStatuses.Succeeded,
        HttpStatusCode = 201,
        CorrelationId = "corr-0001",
        ClientAddress = "10.0.0.1",
    };

    [Fact]
    public void GetCanonicalBytes_FixedEntry_MatchesPinnedEncodingAndHash()
    {
        var entry = AuditEntry.Create(Record, 1, AuditEntry.GenesisHash);

        Assert.Equal(PinnedCanonical, Encoding.UTF8.GetString(entry.GetCanonicalBytes()));
        Assert.Equal(PinnedHash, entry.Hash);
    }

    [Fact]
    public void GetCanonicalBytes_AwkwardText_EscapesAsRfc8785()
    {
        var entry = AuditEntry.Create(
            Record with { Description = "quote \" back \\ nl \n tab \t ctl \u0001 \u001f é ✓ \u2028 😀 /", SubStatus = "Conflict" },
            2,
            PinnedHash);

        var text = Encoding.UTF8.GetString(entry.GetCanonicalBytes());

        Assert.Contains("\"description\":\"quote \\\" back \\\\ nl \\n tab \\t ctl \\u0001 \\u001f é ✓ \u2028 😀 /\"", text, StringComparison.Ordinal);
        Assert.Equal("a2fac1c001f386101da0538f415b71abd64b2c1f64a646cde9045986daa66721", entry.Hash);
    }

    [Fact]
    public void Create_FirstEntry_LinksToGenesisAndVerifies()
    {
        var entry = AuditEntry.Create(Record, 1, AuditEntry.GenesisHash);

        Assert.Equal(1, entry.Sequence);
        Assert.Equal(AuditEntry.GenesisHash, entry.PreviousHash);
        Assert.Equal(AuditEntry.CurrentSchemaVersion, entry.SchemaVersion);
        Assert.Equal(AuditCategories.Administrative, entry.Category);
        Assert.Equal(AuditLevels.Informational, entry.Level);
        Assert.Matches("^[0-9a-f]{64}$", entry.Hash);
        Assert.True(entry.VerifyHash());
    }

    [Fact]
    public void Create_TimestampWithOffset_StoresTheSameInstantInUtc()
    {
        var entry = AuditEntry.Create(Record, 1, AuditEntry.GenesisHash);

        Assert.Equal(TimeSpan.Zero, entry.EventTimestamp.Offset);
        Assert.Equal(Record.EventTimestamp, entry.EventTimestamp);
        Assert.Equal(AuditEntry.Create(Record with { EventTimestamp = Record.EventTimestamp.ToUniversalTime() }, 1, AuditEntry.GenesisHash).Hash, entry.Hash);
    }

    [Fact]
    public void Create_DifferentPreviousHash_ChangesTheHash()
    {
        var first = AuditEntry.Create(Record, 2, AuditEntry.GenesisHash);
        var second = AuditEntry.Create(Record, 2, PinnedHash);

        Assert.NotEqual(first.Hash, second.Hash);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(AuditEntry.MaxSequence + 1)]
    public void Create_SequenceOutOfRange_Throws(long sequence)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => AuditEntry.Create(Record, sequence, AuditEntry.GenesisHash));
    }

    [Theory]
    [InlineData("")]
    [InlineData("E8995372F19696D7448C1A05954BE968217C6562CD0308A3A1FAF7BCD3E726ED")]
    [InlineData("e8995372f19696d7448c1a05954be968217c6562cd0308a3a1faf7bcd3e726")]
    [InlineData("z8995372f19696d7448c1a05954be968217c6562cd0308a3a1faf7bcd3e726ed")]
    public void Create_MalformedPreviousHash_Throws(string previousHash)
    {
        Assert.Throws<ArgumentException>(() => AuditEntry.Create(Record, 2, previousHash));
    }

    [Fact]
    public void Create_LoneSurrogate_Throws()
    {
        Assert.Throws<ArgumentException>(() => AuditEntry.Create(Record with { Description = "bad \ud800 text" }, 1, AuditEntry.GenesisHash));
    }

    [Fact]
    public void Create_EmptyOperation_Throws()
    {
        Assert.ThrowsAny<ArgumentException>(() => AuditEntry.Create(Record with { Operation = "" }, 1, AuditEntry.GenesisHash));
    }

    [Fact]
    public void VerifyHash_ContentChanged_ReturnsFalse()
    {
        var entry = AuditEntry.Create(Record, 1, AuditEntry.GenesisHash);

        Assert.False((entry with { HttpStatusCode = 200 }).VerifyHash());
        Assert.False((entry with { Description = "" }).VerifyHash());
        Assert.False((entry with { SubStatus = "" }).VerifyHash());
    }

    [Fact]
    public void VerifyHash_UnknownSchemaVersion_ReturnsFalseAndCanonicalBytesRefuse()
    {
        var entry = AuditEntry.Create(Record, 1, AuditEntry.GenesisHash) with { SchemaVersion = 2 };

        Assert.False(entry.VerifyHash());
        Assert.Throws<NotSupportedException>(() => entry.GetCanonicalBytes());
    }
}
