using System.Text.Json.Nodes;
using Holdfast.Providers.Framework;
using Xunit;

namespace Holdfast.Providers.Tests.Framework;

public sealed class ResourceDocumentTests
{
    [Theory]
    [InlineData("""{"name":"a","properties":{"provisioningState":"Succeeded"}}""", "Succeeded")]
    [InlineData("""{"tags":{"properties":{"provisioningState":"Deleting"}},"properties":{"x":[1,{"provisioningState":"No"}],"provisioningState":"Creating","y":{}}}""", "Creating")]
    [InlineData("""{"properties":{"provisioningState":null}}""", null)]
    [InlineData("""{"properties":{}}""", null)]
    [InlineData("""{"properties":"text"}""", null)]
    [InlineData("""{"name":"a"}""", null)]
    public void ReadProvisioningState_StoredDocument_MatchesParsedDocument(string json, string? expected)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(json);

        Assert.Equal(expected, ResourceDocument.ReadProvisioningState(bytes));
        Assert.Equal(ResourceDocument.GetProvisioningState(ResourceDocument.Parse(bytes)), ResourceDocument.ReadProvisioningState(bytes));
    }

    [Fact]
    public void ReadProvisioningState_NotAnObject_Throws()
    {
        Assert.Throws<System.Text.Json.JsonException>(() => ResourceDocument.ReadProvisioningState("[1]"u8));
    }

    [Fact]
    public void ETag_Revision_IsWeakQuotedNumber()
    {
        Assert.Equal("W/\"42\"", ResourceDocument.ETag(42));
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(1L)]
    [InlineData(42L)]
    [InlineData(long.MaxValue)]
    public void ParseETag_OwnETag_RoundTrips(long revision)
    {
        Assert.Equal(revision, ResourceDocument.ParseETag(ResourceDocument.ETag(revision)));
    }

    [Theory]
    [InlineData("W/\"42\"")]
    [InlineData("\"42\"")]
    [InlineData("42")]
    [InlineData(" W/\"42\" ")]
    public void ParseETag_WithOrWithoutWeakPrefix_ReturnsRevision(string etag)
    {
        Assert.Equal(42L, ResourceDocument.ParseETag(etag));
    }

    [Theory]
    [InlineData("*")]
    [InlineData("")]
    [InlineData("W/\"\"")]
    [InlineData("\"abc\"")]
    [InlineData("\"-1\"")]
    [InlineData("\"4 2\"")]
    [InlineData("w/\"42\"")]
    [InlineData("\"99999999999999999999\"")]
    public void ParseETag_NotOurs_ReturnsNull(string etag)
    {
        Assert.Null(ResourceDocument.ParseETag(etag));
    }

    [Fact]
    public void SetProvisioningState_NoProperties_CreatesThem()
    {
        var resource = new JsonObject { ["name"] = "v1" };

        ResourceDocument.SetProvisioningState(resource, ProvisioningStates.Creating);

        Assert.Equal(ProvisioningStates.Creating, ResourceDocument.GetProvisioningState(resource));
    }

    [Fact]
    public void Serialize_ThenParse_RoundTripsAndKeepsNonAsciiUnescaped()
    {
        var resource = new JsonObject { ["name"] = "v1", ["tags"] = new JsonObject { ["owner"] = "Zoë <ops>" } };

        var bytes = ResourceDocument.Serialize(resource);

        Assert.Contains("Zoë <ops>", System.Text.Encoding.UTF8.GetString(bytes), StringComparison.Ordinal);
        Assert.True(JsonNode.DeepEquals(resource, ResourceDocument.Parse(bytes)));
    }

    [Fact]
    public void Parse_NotAnObject_Throws()
    {
        Assert.Throws<System.Text.Json.JsonException>(() => ResourceDocument.Parse("[1]"u8.ToArray()));
    }
}
