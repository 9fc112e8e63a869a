using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Holdfast.Audit.Chain;

namespace Holdfast.Audit.Tests.Chain;

public sealed class AuditJsonTests
{
    /// <summary>An entry as version 1 stores it. Later versions must still read it and verify it.</summary>
    private const string StoredVersion1 =
        """{"schemaVersion":1,"sequence":1,"eventTimestamp":"2026-01-02T01:04:05.1234567+00:00","tenantId":"72f988bf-86f1-41af-91ab-2d7cd011db47","callerAppId":"app-1","callerObjectId":"object-1","operation":"Microsoft.Resources/subscriptions/resourceGroups/write","resourceId":"/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-1","subscriptionId":"00000000-0000-0000-0000-000000000001","resourceGroupName":"rg-1","status":"Succeeded","httpStatusCode":201,"correlationId":"corr-0001","clientAddress":"10.0.0.1","category":"Administrative","level":"Informational","previousHash":"0000000000000000000000000000000000000000000000000000000000000000","hash":"e8995372f19696d7448c1a05954be968217c6562cd0308a3a1faf7bcd3e726ed"}""";

    [Fact]
    public void DeserializeEntry_StoredVersion1Json_VerifiesAndEqualsTheCreatedEntry()
    {
        var entry = AuditJson.DeserializeEntry(Encoding.UTF8.GetBytes(StoredVersion1));

        Assert.True(entry.VerifyHash());
        Assert.Equal(AuditEntry.Create(AuditEntryTests.Record, 1, AuditEntry.GenesisHash), entry);
    }

    [Fact]
    public void Serialize_ThenDeserializeEntry_RoundTripsEveryField()
    {
        var entry = AuditEntry.Create(
            AuditEntryTests.Record with { Description = "quote \" é 😀 \u2028", SubStatus = "Conflict", Level = AuditLevels.Error },
            7,
            AuditEntry.GenesisHash);

        var back = AuditJson.DeserializeEntry(AuditJson.Serialize(entry));

        Assert.Equal(entry, back);
        Assert.True(back.VerifyHash());
    }

    [Fact]
    public void DeserializeEntry_UnknownMember_IsIgnored()
    {
        var json = StoredVersion1.Replace("\"schemaVersion\":1,", "\"schemaVersion\":1,\"addedLater\":{\"x\":1},", StringComparison.Ordinal);

        Assert.True(AuditJson.DeserializeEntry(Encoding.UTF8.GetBytes(json)).VerifyHash());
    }

    [Theory]
    [InlineData("\"operation\":\"Microsoft.Resources/subscriptions/resourceGroups/write\",", "")]
    [InlineData("\"operation\":\"Microsoft.Resources/subscriptions/resourceGroups/write\"", "\"operation\":null")]
    public void DeserializeEntry_MissingOrNullRequiredMember_Throws(string from, string to)
    {
        var json = StoredVersion1.Replace(from, to, StringComparison.Ordinal);

        Assert.Throws<JsonException>(() => AuditJson.DeserializeEntry(Encoding.UTF8.GetBytes(json)));
    }

    [Fact]
    public void DeserializeEntry_NullLiteral_Throws()
    {
        Assert.Throws<JsonException>(() => AuditJson.DeserializeEntry("null"u8));
    }

    [Fact]
    public void Serialize_ThenDeserializeCheckpoint_StillVerifies()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var checkpoint = AuditCheckpoint.Sign(10, AuditEntry.GenesisHash, new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero), "audit-1", key);

        var back = AuditJson.DeserializeCheckpoint(AuditJson.Serialize(checkpoint));

        Assert.Equal(checkpoint, back);
        Assert.True(back.VerifySignature(key));
    }
}
