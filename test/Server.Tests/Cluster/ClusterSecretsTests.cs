using System.Text;
using Holdfast.Providers.Framework;
using Holdfast.Server.Bootstrap;
using Holdfast.Server.Cluster;
using Holdfast.Server.Hosting;
using Holdfast.State;
using Holdfast.Testing;

namespace Holdfast.Server.Tests.Cluster;

public sealed class ClusterSecretsTests : IDisposable
{
    private static readonly ClusterToken Token = ClusterToken.Parse("cluster-secrets-tests-token-0001");
    private static readonly string[] SecretKeys = [ClusterSecrets.CaKey, ClusterSecrets.SigningKeysKey, ClusterSecrets.AuditKeysKey, ClusterSecrets.AdminKey];
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task EnsureAsync_EmptyStore_PublishesSealedSecretsThatReadBackTheSame()
    {
        await using var store = new InMemoryStateStore(TimeProvider.System);

        var published = await ClusterSecrets.EnsureAsync(store, new SecretBox(Token), null, TimeProvider.System, CancellationToken.None);
        var adopted = await ClusterSecrets.EnsureAsync(store, new SecretBox(Token), null, TimeProvider.System, CancellationToken.None);

        Assert.Equal(published.CaCertificatePem, adopted.CaCertificatePem);
        Assert.Equal(published.CaKeyPem, adopted.CaKeyPem);
        Assert.Equal(published.SigningKeys.ActiveKeyId, adopted.SigningKeys.ActiveKeyId);
        Assert.Equal(published.SigningKeys.Keys[0].PrivateKeyPem, adopted.SigningKeys.Keys[0].PrivateKeyPem);
        Assert.Equal(published.AuditActiveKeyId, adopted.AuditActiveKeyId);
        Assert.Equal(published.Admin, adopted.Admin);
        foreach (var key in SecretKeys)
        {
            var stored = Encoding.UTF8.GetString((await store.GetAsync(key, CancellationToken.None))!.Value.Span);
            Assert.DoesNotContain("PRIVATE KEY", stored, StringComparison.Ordinal);
            Assert.DoesNotContain(published.Admin.ClientSecret, stored, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task EnsureAsync_TwoFirstStartsAtOnce_ExactlyOneSetIsPublishedAndBothUseIt()
    {
        await using var inner = new InMemoryStateStore(TimeProvider.System);
        var store = new GatedStore(inner, parties: 2);

        var both = await Task.WhenAll(
            Task.Run(() => ClusterSecrets.EnsureAsync(store, new SecretBox(Token), null, TimeProvider.System, CancellationToken.None)),
            Task.Run(() => ClusterSecrets.EnsureAsync(store, new SecretBox(Token), null, TimeProvider.System, CancellationToken.None)));

        Assert.Equal(both[0].CaCertificatePem, both[1].CaCertificatePem);
        Assert.Equal(both[0].SigningKeys.ActiveKeyId, both[1].SigningKeys.ActiveKeyId);
        Assert.Equal(both[0].AuditActiveKeyId, both[1].AuditActiveKeyId);
        Assert.Equal(both[0].Admin, both[1].Admin);

        // One transaction wrote every secret: all four share one create revision, and it is the only write.
        var created = new HashSet<long>();
        foreach (var key in SecretKeys)
        {
            var kv = (await inner.GetAsync(key, CancellationToken.None))!;
            created.Add(kv.CreateRevision);
            Assert.Equal(1, kv.Version);
        }

        Assert.Single(created);
        Assert.Equal(created.Single(), await inner.GetRevisionAsync(CancellationToken.None));
    }

    [Fact]
    public async Task EnsureAsync_WrongToken_RefusedNamingTheToken()
    {
        await using var store = new InMemoryStateStore(TimeProvider.System);
        await ClusterSecrets.EnsureAsync(store, new SecretBox(Token), null, TimeProvider.System, CancellationToken.None);
        var revision = await store.GetRevisionAsync(CancellationToken.None);

        var error = await Assert.ThrowsAsync<StartupException>(() => ClusterSecrets.EnsureAsync(store, new SecretBox(ClusterToken.Parse("cluster-secrets-tests-token-0002")), null, TimeProvider.System, CancellationToken.None));

        Assert.Contains("cluster token does not decrypt", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("0002", error.Message, StringComparison.Ordinal);
        Assert.Equal(revision, await store.GetRevisionAsync(CancellationToken.None));
    }

    [Fact]
    public async Task EnsureAsync_TamperedSecret_Refused()
    {
        await using var store = new InMemoryStateStore(TimeProvider.System);
        await ClusterSecrets.EnsureAsync(store, new SecretBox(Token), null, TimeProvider.System, CancellationToken.None);
        var admin = (await store.GetAsync(ClusterSecrets.AdminKey, CancellationToken.None))!;
        var envelope = System.Text.Json.Nodes.JsonNode.Parse(admin.Value.Span)!;
        var ciphertext = Convert.FromBase64String(envelope["ct"]!.GetValue<string>());
        ciphertext[^1] ^= 0x80;
        envelope["ct"] = Convert.ToBase64String(ciphertext);
        await store.PutAsync(ClusterSecrets.AdminKey, Encoding.UTF8.GetBytes(envelope.ToJsonString()), null, CancellationToken.None);

        var error = await Assert.ThrowsAsync<StartupException>(() => ClusterSecrets.EnsureAsync(store, new SecretBox(Token), null, TimeProvider.System, CancellationToken.None));

        Assert.Contains(ClusterSecrets.AdminKey, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EnsureAsync_StoreHoldsAnInstallButNoSecrets_RefusedWithoutWriting()
    {
        await using var store = new InMemoryStateStore(TimeProvider.System);
        await store.PutAsync(ResourceKeys.BootstrapKey, "{}"u8.ToArray(), null, CancellationToken.None);

        var error = await Assert.ThrowsAsync<StartupException>(() => ClusterSecrets.EnsureAsync(store, new SecretBox(Token), null, TimeProvider.System, CancellationToken.None));

        Assert.Contains("restore --data-dir", error.Message, StringComparison.Ordinal);
        Assert.Null(await store.GetAsync(ClusterSecrets.CaKey, CancellationToken.None));
    }

    [Fact]
    public async Task StartAsync_StoreFromBeforeClusterSecretsWithItsDataDirectory_PublishesItAndKeepsItsIdentity()
    {
        await using var store = new InMemoryStateStore(TimeProvider.System);
        var first = Path.Combine(_directory.Path, "first");
        await using (await HoldfastServer.StartAsync(Options(first, null), DataDirectory.Open(first), store, TimeProvider.System, null, CancellationToken.None))
        {
        }

        var caPem = await File.ReadAllTextAsync(Path.Combine(first, "tls", "ca.pem"));
        var admin = AdminCredentials.Load(Path.Combine(first, AdminCredentials.FileName));

        // A replica on a new directory cannot tell which install this is; the one on the install's own directory can.
        var second = Path.Combine(_directory.Path, "second");
        await Assert.ThrowsAsync<StartupException>(() => HoldfastServer.StartAsync(Options(second, Token), DataDirectory.Open(second), store, TimeProvider.System, null, CancellationToken.None));
        await using (var upgraded = await HoldfastServer.StartAsync(Options(first, Token), DataDirectory.Open(first), store, TimeProvider.System, null, CancellationToken.None))
        {
            Assert.Equal(admin.ClientSecret, AdminCredentials.Load(upgraded.DataDirectory.AdminCredentialsPath).ClientSecret);
        }

        await using var replica = await HoldfastServer.StartAsync(Options(second, Token), DataDirectory.Open(second), store, TimeProvider.System, null, CancellationToken.None);
        Assert.Equal(caPem, await File.ReadAllTextAsync(replica.DataDirectory.CaCertificatePath));
        Assert.Equal(admin.ClientSecret, AdminCredentials.Load(replica.DataDirectory.AdminCredentialsPath).ClientSecret);
    }

    [Fact]
    public async Task PublishFromDataDirectoryAsync_SingleNodeInstall_AReplicaCarriesOnItsCaKeysAndAdmin()
    {
        await using var store = new InMemoryStateStore(TimeProvider.System);
        var single = Path.Combine(_directory.Path, "single");
        string caPem, activeKeyId, auditKeyId;
        AdminCredentials admin;
        await using (var server = await HoldfastServer.StartAsync(Options(single, null), DataDirectory.Open(single), store, TimeProvider.System, null, CancellationToken.None))
        {
            caPem = await File.ReadAllTextAsync(server.DataDirectory.CaCertificatePath);
            admin = AdminCredentials.Load(server.DataDirectory.AdminCredentialsPath);
            activeKeyId = server.DataDirectory.LoadOrCreateSigningKeys()[0].KeyId;
            using var audit = Holdfast.Server.Audit.AuditSigningKeys.Load(single, withSigner: false);
            auditKeyId = audit.ActiveKeyId;
        }

        await ClusterSecrets.PublishFromDataDirectoryAsync(store, DataDirectory.Open(single), Token, CancellationToken.None);

        var replica = Path.Combine(_directory.Path, "replica");
        await using (var server = await HoldfastServer.StartAsync(Options(replica, Token), DataDirectory.Open(replica), store, TimeProvider.System, null, CancellationToken.None))
        {
            Assert.Equal(caPem, await File.ReadAllTextAsync(server.DataDirectory.CaCertificatePath));
            Assert.False(File.Exists(server.DataDirectory.CaKeyPath), "A replica wrote the cluster CA's private key to its data directory.");
            var replicaAdmin = AdminCredentials.Load(server.DataDirectory.AdminCredentialsPath);
            Assert.Equal((admin.TenantId, admin.ClientId, admin.ClientSecret, admin.SubscriptionId), (replicaAdmin.TenantId, replicaAdmin.ClientId, replicaAdmin.ClientSecret, replicaAdmin.SubscriptionId));
            Assert.Equal(admin.TenantId, server.Bootstrap.TenantId);
            using var http = await InProcessClients.SignedInAsync(server, replicaAdmin.ClientId, replicaAdmin.ClientSecret);
            using var keys = await http.GetAsync($"{admin.TenantId}/discovery/v2.0/keys");
            Assert.Contains(activeKeyId, await keys.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        var material = await ClusterSecrets.EnsureAsync(store, new SecretBox(Token), null, TimeProvider.System, CancellationToken.None);
        Assert.Equal(auditKeyId, material.AuditActiveKeyId);
    }

    [Fact]
    public async Task PublishFromDataDirectoryAsync_StoreAlreadyHoldsSecrets_Refused()
    {
        await using var store = new InMemoryStateStore(TimeProvider.System);
        var single = Path.Combine(_directory.Path, "single");
        await using (await HoldfastServer.StartAsync(Options(single, null), DataDirectory.Open(single), store, TimeProvider.System, null, CancellationToken.None))
        {
        }

        await ClusterSecrets.PublishFromDataDirectoryAsync(store, DataDirectory.Open(single), Token, CancellationToken.None);
        var revision = await store.GetRevisionAsync(CancellationToken.None);

        await Assert.ThrowsAsync<StartupException>(() => ClusterSecrets.PublishFromDataDirectoryAsync(store, DataDirectory.Open(single), Token, CancellationToken.None));
        Assert.Equal(revision, await store.GetRevisionAsync(CancellationToken.None));
    }

    [Fact]
    public async Task PublishFromDataDirectoryAsync_AnotherInstallsDirectory_Refused()
    {
        await using var store = new InMemoryStateStore(TimeProvider.System);
        await using var otherStore = new InMemoryStateStore(TimeProvider.System);
        var mine = Path.Combine(_directory.Path, "mine");
        var other = Path.Combine(_directory.Path, "other");
        await using (await HoldfastServer.StartAsync(Options(mine, null), DataDirectory.Open(mine), store, TimeProvider.System, null, CancellationToken.None))
        {
        }

        await using (await HoldfastServer.StartAsync(Options(other, null), DataDirectory.Open(other), otherStore, TimeProvider.System, null, CancellationToken.None))
        {
        }

        await Assert.ThrowsAsync<StartupException>(() => ClusterSecrets.PublishFromDataDirectoryAsync(store, DataDirectory.Open(other), Token, CancellationToken.None));
        Assert.Null(await store.GetAsync(ClusterSecrets.CaKey, CancellationToken.None));
    }

    [Fact]
    public async Task StartAsync_ReplicaOnASingleNodeInstallsDirectory_RefusedAndItsCaKept()
    {
        var single = Path.Combine(_directory.Path, "single");
        await using (var sqliteLike = new InMemoryStateStore(TimeProvider.System))
        {
            await using var server = await HoldfastServer.StartAsync(Options(single, null), DataDirectory.Open(single), sqliteLike, TimeProvider.System, null, CancellationToken.None);
        }

        var caPem = await File.ReadAllTextAsync(Path.Combine(single, "tls", "ca.pem"));
        await using var store = new InMemoryStateStore(TimeProvider.System);

        var error = await Assert.ThrowsAsync<StartupException>(() => HoldfastServer.StartAsync(Options(single, Token), DataDirectory.Open(single), store, TimeProvider.System, null, CancellationToken.None));

        Assert.Contains("ca-key.pem", error.Message, StringComparison.Ordinal);
        Assert.Equal(caPem, await File.ReadAllTextAsync(Path.Combine(single, "tls", "ca.pem")));
    }

    private static HoldfastServerOptions Options(string directory, ClusterToken? token) =>
        new() { DataDirectory = directory, Port = InProcessClients.FreePort(), Throttle = new ThrottleOptions { Enabled = false }, ClusterToken = token };
}
