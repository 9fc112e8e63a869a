using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Holdfast.Server.IntegrationTests.Audit;
using Holdfast.Server.IntegrationTests.Infrastructure;
using Holdfast.Testing;

namespace Holdfast.Server.IntegrationTests.Agents;

/// <summary>
/// A real server process issuing 15-second agent certificates and a real <c>holdfast agent</c> process (simulated
/// driver): the agent renews on its own, twice and more, and its host stays InService past the first certificate's
/// expiry; the first certificate is then refused; joins and renewals, refused ones too, are in the tenant-level
/// activity log.
/// </summary>
public sealed class AgentCertificateRenewalTests : AgentFleetTest
{
    private const string Validity = "15s";
    private static readonly TimeSpan StateTimeout = TimeSpan.FromSeconds(60);

    protected override string[] ExtraServerArguments => ["--agent-certificate-validity", Validity];

    [Fact]
    public async Task Agent_ShortCertificateValidity_RenewsRepeatedlyAndStaysInServicePastTheFirstExpiry()
    {
        await Fleet.CreateFleetAsync("h1");
        var agent = await AgentProcess.StartAsync(ControlPlane, "h1", await Fleet.CreateJoinTokenAsync("h1"));
        Agents.Add(agent);
        await Fleet.WaitForStateAsync("h1", "InService", StateTimeout);

        // The certificate issued at join, as the agent saved it (the test reads the agent's own files).
        using var first = LoadIdentity(agent.StateDirectory);
        var firstThumbprint = Convert.ToHexStringLower(first.GetCertHash(HashAlgorithmName.SHA256));
        var registration = (await Fleet.GetHostAsync("h1")).GetProperty("agent");
        Assert.Equal(firstThumbprint, registration.GetProperty("certificateThumbprint").GetString());
        var firstExpiry = first.NotAfter.ToUniversalTime();

        // Two renewals and the first certificate's expiry (plus the Unreachable time) must pass while the host stays in service.
        var deadline = Stopwatch.StartNew();
        while (Renewals(agent) < 2 || TimeProvider.System.GetUtcNow().UtcDateTime < firstExpiry.AddSeconds(4))
        {
            Assert.True(deadline.Elapsed < StateTimeout, $"Only {Renewals(agent)} renewal(s) within {StateTimeout}. Agent output:\n{agent.Output}");
            Assert.False(agent.HasExited, agent.Output);
            var state = await Fleet.StateOfAsync("h1");
            Assert.True(state == "InService", $"Host h1 is {state} after {Renewals(agent)} renewal(s). Agent output:\n{agent.Output}");
            await Task.Delay(250);
        }

        Assert.Equal("InService", await Fleet.StateOfAsync("h1"));
        registration = (await Fleet.GetHostAsync("h1")).GetProperty("agent");
        Assert.NotEqual(firstThumbprint, registration.GetProperty("certificateThumbprint").GetString());
        Assert.True(registration.GetProperty("certificateExpiresOn").GetDateTimeOffset() > first.NotAfter);
        using (var current = LoadIdentity(agent.StateDirectory))
        {
            Assert.Equal(registration.GetProperty("certificateThumbprint").GetString(), Convert.ToHexStringLower(current.GetCertHash(HashAlgorithmName.SHA256)));
        }

        Assert.DoesNotContain("could not renew", agent.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("BEGIN", agent.Output, StringComparison.Ordinal);

        // The first certificate has expired: it can neither sync nor renew.
        var (syncStatus, _) = await PostWithCertificateAsync(first, "/agent/v1/sync", """{"hostName":"h1","bootId":"b","inventory":{"capacity":{"vCpus":16,"memoryMiB":65536,"diskGiB":512,"gpus":0},"traits":[],"driver":"simulated","simulated":true,"agentVersion":"t"},"instances":[]}""");
        Assert.Equal(HttpStatusCode.Unauthorized, syncStatus);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var csr = new CertificateRequest("CN=h1", key, HashAlgorithmName.SHA256).CreateSigningRequestPem();
        var (renewStatus, renewBody) = await PostWithCertificateAsync(first, "/agent/v1/renew", new JsonObject { ["hostName"] = "h1", ["certificateSigningRequestPem"] = csr }.ToJsonString());
        Assert.Equal(HttpStatusCode.Unauthorized, renewStatus);
        Assert.Contains("ExpiredAuthenticationToken", renewBody, StringComparison.Ordinal);

        // A second agent with the used token is refused.
        var (exitCode, _) = await ServerProcess.RunToExitAsync(
            "agent", "--server", ControlPlane.AgentEndpoint!.ToString(), "--host-name", "h1", "--join-token", "not-the-token", "--ca-file", ControlPlane.Credentials.CaCertificatePath,
            "--state-dir", Path.Combine(ControlPlane.DataDirectory + "-agents", "h1-second"));
        Assert.Equal(1, exitCode);

        var renewals = Renewals(agent);
        using var http = await Clients.AuthenticatedHttpAsync(ControlPlane.Credentials);
        var url = $"providers/Microsoft.Insights/eventtypes/management/values?api-version={ActivityLog.ApiVersion}&$filter={Uri.EscapeDataString(ActivityLog.Filter())}";
        var events = await ActivityLog.WaitForAsync(http, url, all =>
            Count(all, "Holdfast.Fabric/hosts/agentJoin/action", "Succeeded") == 1
            && Count(all, "Holdfast.Fabric/hosts/agentJoin/action", "Failed") == 1
            && Count(all, "Holdfast.Fabric/hosts/renewAgentCertificate/action", "Succeeded") >= renewals
            && Count(all, "Holdfast.Fabric/hosts/renewAgentCertificate/action", "Failed") == 1);

        var refused = Assert.Single(events, e => Is(e, "Holdfast.Fabric/hosts/renewAgentCertificate/action", "Failed"));
        Assert.Equal("ExpiredAuthenticationToken", refused["properties"]!["errorCode"]!.GetValue<string>());
        Assert.Equal("Unauthorized", refused["properties"]!["statusCode"]!.GetValue<string>());
        Assert.Equal("Error", refused["level"]!.GetValue<string>());
        var joinRefused = Assert.Single(events, e => Is(e, "Holdfast.Fabric/hosts/agentJoin/action", "Failed"));
        Assert.Equal("AuthenticationFailed", joinRefused["properties"]!["errorCode"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("9s")]
    [InlineData("366d")]
    [InlineData("soon")]
    public async Task Serve_BadAgentCertificateValidity_ExitsWithTwoNamingTheFlag(string value)
    {
        var (exitCode, output) = await ServerProcess.RunToExitAsync("serve", "--data-dir", ServerProcess.NewDataDirectory(), "--port", "1", "--agent-certificate-validity", value);

        Assert.Equal(2, exitCode);
        Assert.Contains("--agent-certificate-validity", output, StringComparison.Ordinal);
    }

    private static int Renewals(AgentProcess agent) =>
        agent.Output.Split('\n').Count(line => line.Contains("renewed its client certificate", StringComparison.Ordinal));

    private static bool Is(JsonObject e, string operation, string status) =>
        e["operationName"]?["value"]?.GetValue<string>() == operation && e["status"]?["value"]?.GetValue<string>() == status
        && e["resourceId"]?.GetValue<string>() == "/providers/Holdfast.Fabric/hosts/h1";

    private static int Count(List<JsonObject> events, string operation, string status) => events.Count(e => Is(e, operation, status));

    private static X509Certificate2 LoadIdentity(string stateDirectory)
    {
        using var pem = X509Certificate2.CreateFromPemFile(Path.Combine(stateDirectory, "agent-cert.pem"), Path.Combine(stateDirectory, "agent-key.pem"));
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>A raw agent-port request presenting <paramref name="certificate"/> (mTLS), trusting only the site CA.</summary>
    private async Task<(HttpStatusCode Status, string Body)> PostWithCertificateAsync(X509Certificate2 certificate, string path, string json)
    {
        using var ca = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(ControlPlane.Credentials.CaCertificatePath));
        using var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, server, _, _) => server is not null && PinnedCa.ChainsTo(server, ca);
        handler.SslOptions.ClientCertificates = [certificate];
        handler.SslOptions.LocalCertificateSelectionCallback = (_, _, _, _, _) => certificate;
        using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
        using var response = await client.PostAsync(new Uri(ControlPlane.AgentEndpoint!, path), new StringContent(json, Encoding.UTF8, "application/json"));
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }
}
