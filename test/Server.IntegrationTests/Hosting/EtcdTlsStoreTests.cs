using System.Net;
using Holdfast.Server.IntegrationTests.Infrastructure;
using Holdfast.Testing;

namespace Holdfast.Server.IntegrationTests.Hosting;

/// <summary>
/// <c>holdfast serve --store etcds://…</c>: the real server on a real etcd member that serves TLS only and requires
/// client certificates (--client-cert-auth), with a throwaway CA made by the test.
/// </summary>
public sealed class EtcdTlsStoreTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Serve_EtcdsStoreWithClientCertificate_ServesResourceGroupPutAndGet()
    {
        var tls = EtcdTlsMaterial.Create(_directory.Path);
        await using var etcd = await EtcdProcess.StartSingleAsync(_directory.Path, tls.ServerTls);
        await using var server = await ServerProcess.StartAsync(
            null,
            "--store", $"etcds://127.0.0.1:{etcd.ClientPort}",
            "--etcd-ca-file", tls.CaFile,
            "--etcd-cert-file", tls.ClientCertFile,
            "--etcd-key-file", tls.ClientKeyFile);

        using var http = await Clients.AuthenticatedHttpAsync(server.Credentials);
        string path = $"subscriptions/{server.Credentials.SubscriptionId}/resourcegroups/over-etcd-tls?api-version=2022-09-01";
        using (var put = await http.PutAsync(path, Clients.Json("""{"location":"local"}""")))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        using var get = await http.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Contains("over-etcd-tls", await get.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(server.DataDirectory, "state.db")), "The server wrote a SQLite store although --store named etcd.");
    }

    [Fact]
    public async Task Backup_EtcdsStore_WritesSnapshotOverTls()
    {
        var tls = EtcdTlsMaterial.Create(_directory.Path);
        await using var etcd = await EtcdProcess.StartSingleAsync(_directory.Path, tls.ServerTls);
        string output = _directory.Combine("over-tls.snapshot");
        var (exit, text) = await ServerProcess.RunToExitAsync(
            "backup", "--store", $"etcds://127.0.0.1:{etcd.ClientPort}", "--etcd-ca-file", tls.CaFile,
            "--etcd-cert-file", tls.ClientCertFile, "--etcd-key-file", tls.ClientKeyFile, "--out", output);
        Assert.True(exit == 0, text);
        Assert.True(File.Exists(output));
    }

    [Fact]
    public async Task Serve_EtcdsStoreWithoutClientCertificate_FailsAtStartupNamingTls()
    {
        var tls = EtcdTlsMaterial.Create(_directory.Path);
        await using var etcd = await EtcdProcess.StartSingleAsync(_directory.Path, tls.ServerTls);
        var (exit, output) = await ServerProcess.RunToExitAsync(
            "serve", "--data-dir", ServerProcess.NewDataDirectory(), "--port", "18996", "--agent-port", "0",
            "--store", $"etcds://127.0.0.1:{etcd.ClientPort}", "--etcd-ca-file", tls.CaFile);
        Assert.NotEqual(0, exit);
        Assert.Contains("TLS handshake failed", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("etcd")]
    [InlineData("etcds-missing-ca")]
    public async Task Serve_TlsFlagsNotMatchingScheme_FailsAtStartup(string shape)
    {
        var tls = EtcdTlsMaterial.Create(_directory.Path);
        string[] store = shape == "etcd"
            ? ["--store", "etcd://127.0.0.1:1", "--etcd-ca-file", tls.CaFile]
            : ["--store", "etcds://127.0.0.1:1", "--etcd-ca-file", _directory.Combine("missing.pem")];
        var (exit, output) = await ServerProcess.RunToExitAsync(["serve", "--data-dir", ServerProcess.NewDataDirectory(), "--port", "18995", "--agent-port", "0", .. store]);
        Assert.NotEqual(0, exit);
        Assert.Contains("--etcd-ca-file", output, StringComparison.Ordinal);
    }
}
