using System.Diagnostics.CodeAnalysis;
using Holdfast.State.Conformance;
using Holdfast.Testing;
using Xunit;

namespace Holdfast.State.Etcd.Tests;

/// <summary>
/// The shared contract suite over TLS: a real etcd member with --cert-file/--key-file/--trusted-ca-file and
/// --client-cert-auth on an https client URL, reached through <c>etcds://</c> with a CA file and a client certificate.
/// </summary>
[SuppressMessage("Design", "CA1001", Justification = "Disposed in IAsyncLifetime.DisposeAsync, which xunit calls after every test.")]
public sealed class EtcdTlsStateStoreConformanceTests : DurableStateStoreConformanceTests
{
    private readonly TempDirectory _directory = new();
    private EtcdTlsMaterial? _tls;
    private EtcdProcess? _etcd;

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (_etcd is not null)
        {
            await _etcd.DisposeAsync();
        }

        _directory.Dispose();
    }

    protected override async ValueTask<IStateStore> CreateStoreAsync(TimeProvider time)
    {
        _tls ??= EtcdTlsMaterial.Create(_directory.Path);
        _etcd ??= await EtcdProcess.StartSingleAsync(_directory.Path, _tls.ServerTls);
        var options = EtcdStateStoreOptions.Parse($"etcds://127.0.0.1:{_etcd.ClientPort}", EtcdClientTls.Load(_tls.CaFile, _tls.ClientCertFile, _tls.ClientKeyFile));
        return await EtcdStateStore.OpenAsync(options, CancellationToken.None);
    }

    protected override async ValueTask<IStateStore> ReopenAsync(IStateStore store, TimeProvider time)
    {
        await store.DisposeAsync();
        return await CreateStoreAsync(time);
    }

    protected override Task LetTimePassAsync(TimeSpan by) => Task.Delay(by);

    protected override bool ReadsOlderRevisions => true;
}

/// <summary>What etcds:// refuses: clients etcd will not accept, servers the client must not trust, bad flags.</summary>
[SuppressMessage("Design", "CA1001", Justification = "Disposed in IAsyncLifetime.DisposeAsync, which xunit calls after every test.")]
public sealed class EtcdTlsTests : IAsyncLifetime
{
    private readonly TempDirectory _directory = new();
    private EtcdTlsMaterial _tls = null!;
    private EtcdProcess _etcd = null!;

    public async Task InitializeAsync()
    {
        _tls = EtcdTlsMaterial.Create(_directory.Path);
        _etcd = await EtcdProcess.StartSingleAsync(_directory.Path, _tls.ServerTls);
    }

    public async Task DisposeAsync()
    {
        await _etcd.DisposeAsync();
        _directory.Dispose();
    }

    [Fact]
    public async Task OpenAsync_RightCaAndClientCertificate_ReadsAndWrites()
    {
        await using var store = await OpenAsync(EtcdClientTls.Load(_tls.CaFile, _tls.ClientCertFile, _tls.ClientKeyFile));
        var put = await store.PutAsync("/tls/probe", "over tls"u8.ToArray(), expectedModRevision: 0, CancellationToken.None);
        Assert.True(put.Succeeded);
        Assert.Equal("over tls"u8.ToArray(), (await store.GetAsync("/tls/probe", CancellationToken.None))!.Value.ToArray());
    }

    [Fact]
    public async Task OpenAsync_NoClientCertificate_IsRefused()
    {
        var ex = await Assert.ThrowsAsync<StateStoreException>(async () => await OpenAsync(EtcdClientTls.Load(_tls.CaFile, null, null)));
        Assert.True(ex.Message.Contains("TLS handshake failed", StringComparison.Ordinal), ex.Message);
    }

    [Fact]
    public async Task OpenAsync_TrustsAnotherCa_IsRefused()
    {
        var other = EtcdTlsMaterial.Create(_directory.Path, "other-");
        var ex = await Assert.ThrowsAsync<StateStoreException>(async () => await OpenAsync(EtcdClientTls.Load(other.CaFile, _tls.ClientCertFile, _tls.ClientKeyFile)));
        Assert.Contains("TLS handshake failed", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OpenAsync_ClientCertificateOfAnotherCa_IsRefused()
    {
        var other = EtcdTlsMaterial.Create(_directory.Path, "other-");
        await Assert.ThrowsAsync<StateStoreException>(async () => await OpenAsync(EtcdClientTls.Load(_tls.CaFile, other.ClientCertFile, other.ClientKeyFile)));
    }

    [Fact]
    public async Task OpenAsync_PlainHttpToTlsMember_Fails()
    {
        await Assert.ThrowsAsync<StateStoreException>(async () =>
            await EtcdStateStore.OpenAsync(EtcdStateStoreOptions.Parse($"etcd://127.0.0.1:{_etcd.ClientPort}"), CancellationToken.None));
    }

    [Fact]
    public void Load_MissingFile_NamesFlagAndPath()
    {
        string missing = _directory.Combine("nope.pem");
        var ca = Assert.Throws<FormatException>(() => EtcdClientTls.Load(missing, null, null));
        Assert.Contains("--etcd-ca-file", ca.Message, StringComparison.Ordinal);
        Assert.Contains(missing, ca.Message, StringComparison.Ordinal);
        var key = Assert.Throws<FormatException>(() => EtcdClientTls.Load(_tls.CaFile, _tls.ClientCertFile, missing));
        Assert.Contains("--etcd-key-file", key.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_NotPemOrWrongKey_FailsWithoutKeyMaterial()
    {
        string junk = _directory.Combine("junk.pem");
        File.WriteAllText(junk, "not a certificate");
        Assert.Throws<FormatException>(() => EtcdClientTls.Load(junk, null, null));

        // The server's key does not belong to the client certificate.
        var mismatch = Assert.Throws<FormatException>(() => EtcdClientTls.Load(_tls.CaFile, _tls.ClientCertFile, _tls.ServerKeyFile));
        Assert.Contains("--etcd-cert-file", mismatch.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("PRIVATE KEY", mismatch.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(File.ReadAllText(_tls.ServerKeyFile).Split('\n')[1], mismatch.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_CertWithoutKey_Fails() =>
        Assert.Throws<FormatException>(() => EtcdClientTls.Load(_tls.CaFile, _tls.ClientCertFile, null));

    [Fact]
    public void Parse_SchemeAndTlsMismatch_Fails()
    {
        var tls = EtcdClientTls.Load(_tls.CaFile, _tls.ClientCertFile, _tls.ClientKeyFile);
        Assert.Contains("etcds://", Assert.Throws<FormatException>(() => EtcdStateStoreOptions.Parse("etcd://127.0.0.1:2379", tls)).Message, StringComparison.Ordinal);
        Assert.Contains("--etcd-ca-file", Assert.Throws<FormatException>(() => EtcdStateStoreOptions.Parse("etcds://127.0.0.1:2379", null)).Message, StringComparison.Ordinal);
        var parsed = EtcdStateStoreOptions.Parse("etcds://127.0.0.1:2379,localhost:22379", tls);
        Assert.Equal(["https://127.0.0.1:2379/", "https://localhost:22379/"], parsed.Endpoints.Select(e => e.ToString()));
    }

    private async Task<EtcdStateStore> OpenAsync(EtcdClientTls tls)
    {
        var options = EtcdStateStoreOptions.Parse($"etcds://127.0.0.1:{_etcd.ClientPort}", tls);
        options = new EtcdStateStoreOptions { Endpoints = options.Endpoints, Tls = tls, RequestTimeout = TimeSpan.FromSeconds(2) };
        return await EtcdStateStore.OpenAsync(options, CancellationToken.None);
    }
}
