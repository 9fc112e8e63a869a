using System.Text;
using System.Text.Json;
using Holdfast.Providers.Framework;
using Xunit;

namespace Holdfast.Providers.Tests.Framework;

public sealed class SchemaVersionTests
{
    private static readonly DateTimeOffset Start = new(2026, 12, 7, 6, 0, 0, TimeSpan.Zero);

    [Fact]
    public void VersionOf_UnmarkedDocument_IsOneAndStripReturnsTheSameBytes()
    {
        var document = Encoding.UTF8.GetBytes("{\"name\":\"rg\",\"location\":\"local\"}");

        Assert.Equal(1, StoredSchema.VersionOf(document));
        Assert.True(StoredSchema.Strip(document).Span.SequenceEqual(document));
    }

    [Fact]
    public void Mark_VersionTwo_PrefixesTheMarkerAndStripRestoresTheDocument()
    {
        var document = Encoding.UTF8.GetBytes("{\"a\":1,\"b\":\"x\"}");

        var marked = StoredSchema.Mark(document, 2);

        Assert.Equal("{\"$sv\":2,\"a\":1,\"b\":\"x\"}", Encoding.UTF8.GetString(marked));
        Assert.Equal(2, StoredSchema.VersionOf(marked));
        Assert.Equal("{\"a\":1,\"b\":\"x\"}", Encoding.UTF8.GetString(StoredSchema.Strip(marked).Span));
    }

    [Fact]
    public void Mark_EmptyObjectAndMultiDigitVersion_RoundTrips()
    {
        var marked = StoredSchema.Mark("{}"u8, 12);

        Assert.Equal("{\"$sv\":12}", Encoding.UTF8.GetString(marked));
        Assert.Equal(12, StoredSchema.VersionOf(marked));
        Assert.Equal("{}", Encoding.UTF8.GetString(StoredSchema.Strip(marked).Span));
    }

    [Fact]
    public void Require_DocumentNewerThanSupported_ThrowsServiceUnavailableWithRetryAfter()
    {
        var marked = StoredSchema.Mark("{\"a\":1}"u8, 3);

        var error = Assert.Throws<StoredSchemaTooNewException>(() => StoredSchema.Require("operation", marked, 2));

        Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, error.StatusCode);
        Assert.Equal("ServiceUnavailable", error.Code);
        Assert.Equal(1, error.RetryAfterSeconds);
        Assert.Equal(3, StoredSchema.Require("operation", marked, 3));
    }

    [Fact]
    public void Deserialize_VersionOneRecord_MigratesProviderNamespaceFromTheResourceId()
    {
        // A record as the previous release wrote it: no marker, no providerNamespace.
        var stored = Encoding.UTF8.GetBytes(
            "{\"name\":\"op1\",\"id\":\"/subscriptions/s/providers/Microsoft.Network/locations/local/operationStatuses/op1\",\"status\":\"InProgress\"," +
            "\"startTime\":\"2026-12-07T06:00:00+00:00\",\"resourceId\":\"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v\",\"kind\":\"write\",\"subscriptionId\":\"s\"}");

        var record = OperationRecord.Deserialize(stored, 2);

        Assert.Equal("Microsoft.Network", record.ProviderNamespace);
        Assert.Equal(1, record.StoredVersion);
    }

    [Fact]
    public void Deserialize_VersionOneGroupOperation_HasNoProviderNamespace()
    {
        var record = OperationRecord.Deserialize(Operation("/subscriptions/s/resourceGroups/rg").Serialize(1), 2);

        Assert.Null(record.ProviderNamespace);
    }

    [Fact]
    public void Serialize_VersionOne_OmitsTheMarkerAndTheNewField()
    {
        var text = Encoding.UTF8.GetString((Operation("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm") with { ProviderNamespace = "Microsoft.Compute" }).Serialize(1));

        Assert.DoesNotContain("$sv", text, StringComparison.Ordinal);
        Assert.DoesNotContain("providerNamespace", text, StringComparison.Ordinal);
        using var document = JsonDocument.Parse(text);
        Assert.Equal("op1", document.RootElement.GetProperty("name").GetString());
    }

    [Fact]
    public void Serialize_VersionTwo_StoresTheFieldAndReadsBackWithoutMigration()
    {
        var stored = (Operation("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm") with { ProviderNamespace = "Microsoft.Compute" }).Serialize(2);

        Assert.Equal(2, StoredSchema.VersionOf(stored));
        Assert.Contains("\"providerNamespace\":\"Microsoft.Compute\"", Encoding.UTF8.GetString(stored), StringComparison.Ordinal);
        var read = OperationRecord.Deserialize(stored, 2);
        Assert.Equal(("Microsoft.Compute", 2, "op1"), (read.ProviderNamespace, read.StoredVersion, read.Name));
    }

    [Fact]
    public void Deserialize_VersionTwoOnAReplicaCappedAtOne_RefusesRatherThanGuessing()
    {
        var stored = Operation("/subscriptions/s/resourceGroups/rg").Serialize(2);

        Assert.Throws<StoredSchemaTooNewException>(() => OperationRecord.Deserialize(stored, new SchemaLevels(maxSchema: 1).Supported(SchemaLevels.Operation)));
    }

    [Fact]
    public void Write_BeforeTheClusterIsKnown_IsVersionOne()
    {
        var levels = new SchemaLevels();

        Assert.Equal(2, levels.Supported(SchemaLevels.Operation));
        Assert.Equal(1, levels.Write(SchemaLevels.Operation));
    }

    [Fact]
    public void Write_AllReplicasUnderstandTwo_IsTwo()
    {
        var levels = new SchemaLevels();

        levels.SetClusterLevels([new Dictionary<string, int> { [SchemaLevels.Operation] = 2 }, new Dictionary<string, int> { [SchemaLevels.Operation] = 3 }]);

        Assert.Equal(2, levels.Write(SchemaLevels.Operation));
    }

    [Fact]
    public void Write_OneReplicaStillAtOne_IsTheClusterMinimum()
    {
        var levels = new SchemaLevels();

        levels.SetClusterLevels([new Dictionary<string, int> { [SchemaLevels.Operation] = 2 }, new Dictionary<string, int> { [SchemaLevels.Operation] = 1 }]);

        Assert.Equal(1, levels.Write(SchemaLevels.Operation));
    }

    [Fact]
    public void Write_AReplicaThatAdvertisesNothing_CountsAsVersionOne()
    {
        var levels = new SchemaLevels();

        levels.SetClusterLevels([new Dictionary<string, int> { [SchemaLevels.Operation] = 2 }, null, new Dictionary<string, int>()]);

        Assert.Equal(1, levels.Write(SchemaLevels.Operation));
    }

    [Fact]
    public void Write_ThisReplicaCappedBelowTheCluster_NeverWritesAboveItsCap()
    {
        var levels = new SchemaLevels(maxSchema: 1);

        levels.SetClusterLevels([new Dictionary<string, int> { [SchemaLevels.Operation] = 2 }]);

        Assert.Equal(1, levels.Write(SchemaLevels.Operation));
        Assert.Equal(1, levels.SupportedAll[SchemaLevels.Operation]);
    }

    private static OperationRecord Operation(string resourceId) => new()
    {
        Name = "op1",
        Id = "/subscriptions/s/providers/Microsoft.Resources/locations/local/operationStatuses/op1",
        Status = OperationRecord.InProgress,
        StartTime = Start,
        ResourceId = resourceId,
        Kind = "write",
        SubscriptionId = "s",
    };
}
