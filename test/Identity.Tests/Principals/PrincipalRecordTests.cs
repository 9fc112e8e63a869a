using Holdfast.Identity.Principals;
using Holdfast.Identity.Secrets;
using Xunit;

namespace Holdfast.Identity.Tests.Principals;

public sealed class PrincipalRecordTests
{
    private static readonly DateTimeOffset Now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void FindCredential_MatchingUnexpiredSecret_ReturnsThatCredential()
    {
        var record = Principal(("k1", "secret-one", Now.AddDays(1)), ("k2", "secret-two", Now.AddDays(1)));

        Assert.Equal("k2", record.FindCredential("secret-two", Now)?.KeyId);
        Assert.Equal("k1", record.FindCredential("secret-one", Now)?.KeyId);
    }

    [Fact]
    public void FindCredential_ExpiredOrWrongSecret_ReturnsNull()
    {
        var record = Principal(("k1", "secret-one", Now.AddSeconds(-1)));

        Assert.Null(record.FindCredential("secret-one", Now));
        Assert.Null(record.FindCredential("secret-two", Now));
        Assert.False(record.VerifySecret("secret-one", Now));
    }

    [Fact]
    public void ServicePrincipal_SerializeRoundTrip_KeepsNameAndCredentials_AndOldRecordsHaveNoName()
    {
        var record = Principal(("k1", "s", Now)) with { Name = "deployer" };

        var back = ServicePrincipalRecord.Deserialize(record.Serialize());
        var legacy = ServicePrincipalRecord.Deserialize("""{"tenantId":"t","appId":"a","objectId":"o","displayName":"d","passwordCredentials":[]}"""u8);

        Assert.Equal("deployer", back.Name);
        Assert.Equal("k1", Assert.Single(back.PasswordCredentials).KeyId);
        Assert.Null(legacy.Name);
    }

    [Fact]
    public void User_VerifyPassword_OnlyTheRightPassword()
    {
        var user = new UserRecord
        {
            TenantId = "t",
            Name = "alice",
            ObjectId = "o",
            DisplayName = "Alice",
            PasswordHash = SecretHasher.Hash("Correct-Horse-9", 1_000),
            PasswordId = "p1",
            PasswordChangedAt = Now,
        };

        var back = UserRecord.Deserialize(user.Serialize());

        Assert.Equal(user, back);
        Assert.True(back.VerifyPassword("Correct-Horse-9"));
        Assert.False(back.VerifyPassword("correct-horse-9"));
    }

    [Fact]
    public void Group_SerializeRoundTrip_KeepsMembers()
    {
        var group = new GroupRecord { TenantId = "t", Name = "readers", ObjectId = "g", DisplayName = "Readers", Members = ["a", "b"] };

        Assert.Equal(["a", "b"], GroupRecord.Deserialize(group.Serialize()).Members);
    }

    private static ServicePrincipalRecord Principal(params (string KeyId, string Secret, DateTimeOffset End)[] credentials) => new()
    {
        TenantId = "t",
        AppId = "a",
        ObjectId = "o",
        DisplayName = "d",
        PasswordCredentials = credentials.Select(c => new PasswordCredential { KeyId = c.KeyId, Hash = SecretHasher.Hash(c.Secret, 1_000), EndDateTime = c.End }).ToList(),
    };
}
