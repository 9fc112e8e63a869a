using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Holdfast.Server.Bootstrap;
using Holdfast.Server.Cluster;

namespace Holdfast.Server.Tests.Cluster;

public sealed class SecretBoxTests
{
    private static readonly ClusterToken Token = ClusterToken.Parse("correct-horse-battery-staple-0001");

    [Fact]
    public void SealThenOpen_SameTokenAndKey_ReturnsThePlaintext()
    {
        var plaintext = Encoding.UTF8.GetBytes("-----BEGIN PRIVATE KEY----- secret");
        var sealedValue = new SecretBox(Token).Seal("/cluster/secrets/ca", plaintext);

        Assert.Equal(plaintext, new SecretBox(ClusterToken.Parse(" correct-horse-battery-staple-0001\n")).Open("/cluster/secrets/ca", sealedValue));
        Assert.DoesNotContain("PRIVATE KEY", Encoding.UTF8.GetString(sealedValue), StringComparison.Ordinal);
    }

    [Fact]
    public void Seal_SamePlaintextTwice_GivesDifferentCiphertexts()
    {
        var box = new SecretBox(Token);
        var first = JsonNode.Parse(box.Seal("/k", "same"u8))!;
        var second = JsonNode.Parse(box.Seal("/k", "same"u8))!;

        Assert.NotEqual(first["nonce"]!.GetValue<string>(), second["nonce"]!.GetValue<string>());
        Assert.NotEqual(first["ct"]!.GetValue<string>(), second["ct"]!.GetValue<string>());
    }

    [Fact]
    public void Open_WrongToken_Throws()
    {
        var sealedValue = new SecretBox(Token).Seal("/cluster/secrets/ca", "secret"u8);

        Assert.ThrowsAny<CryptographicException>(() => new SecretBox(ClusterToken.Parse("correct-horse-battery-staple-0002")).Open("/cluster/secrets/ca", sealedValue));
    }

    [Theory]
    [InlineData("ct")]
    [InlineData("tag")]
    [InlineData("nonce")]
    [InlineData("salt")]
    public void Open_TamperedField_Throws(string field)
    {
        var envelope = JsonNode.Parse(new SecretBox(Token).Seal("/cluster/secrets/ca", "a secret of some length"u8))!;
        var bytes = Convert.FromBase64String(envelope[field]!.GetValue<string>());
        bytes[0] ^= 0x01;
        envelope[field] = Convert.ToBase64String(bytes);

        Assert.ThrowsAny<CryptographicException>(() => new SecretBox(Token).Open("/cluster/secrets/ca", Encoding.UTF8.GetBytes(envelope.ToJsonString())));
    }

    [Fact]
    public void Open_ValueMovedToAnotherKey_Throws()
    {
        var sealedValue = new SecretBox(Token).Seal("/cluster/secrets/admin", "secret"u8);

        Assert.ThrowsAny<CryptographicException>(() => new SecretBox(Token).Open("/cluster/secrets/ca", sealedValue));
    }

    [Fact]
    public void Open_NotAnEnvelope_Throws()
    {
        Assert.ThrowsAny<CryptographicException>(() => new SecretBox(Token).Open("/k", "{\"hello\":1}"u8));
        Assert.ThrowsAny<CryptographicException>(() => new SecretBox(Token).Open("/k", "not json"u8));
    }

    [Fact]
    public void Parse_ShortToken_Refused()
    {
        Assert.Throws<StartupException>(() => ClusterToken.Parse("too-short"));
    }

    [Fact]
    public void ToString_NeverShowsTheToken()
    {
        Assert.DoesNotContain("battery", Token.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("battery", new HoldfastServerOptions { DataDirectory = "/tmp/x", ClusterToken = Token }.ToString(), StringComparison.Ordinal);
    }
}
