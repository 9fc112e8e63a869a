using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Holdfast.Capacity.Inventory;
using Holdfast.Fabric;
using Holdfast.Fabric.Protocol;
using Holdfast.Resources.Errors;
using Holdfast.Server.Agents;

namespace Holdfast.Server.Tests.Agents;

public sealed class AgentServiceJoinTests : IAsyncLifetime
{
    private AgentHarness _harness = null!;

    public async Task InitializeAsync() => _harness = await AgentHarness.StartAsync();

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    [Fact]
    public async Task JoinAsync_ValidToken_SignsTheCsrRegistersTheAgentAndConsumesTheToken()
    {
        await _harness.PutHostAsync("h1", HostState.Provisioning);
        var token = await _harness.PutJoinTokenAsync("h1", TimeSpan.FromHours(1));

        using var certificate = await _harness.JoinAsync("h1", token);

        Assert.Equal("h1", certificate.GetNameInfo(X509NameType.SimpleName, false));
        Assert.True(_harness.Ca.Verifies(certificate));
        Assert.Contains(certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages.Cast<System.Security.Cryptography.Oid>(), o => o.Value == "1.3.6.1.5.5.7.3.2");
        Assert.True(certificate.NotAfter <= _harness.Time.GetUtcNow().AddDays(31));
        var host = await _harness.ReadHostAsync("h1");
        Assert.Equal(HostState.Validating, host.State);
        Assert.Equal(AgentService.Thumbprint(certificate), host.Agent!.CertificateThumbprint);
        Assert.Equal("simulated", host.Agent.Driver);
        Assert.True(host.Simulated);
        Assert.Null(await _harness.Store.GetAsync(FabricKeys.JoinToken("h1"), AgentHarness.Ct));
    }

    [Fact]
    public async Task JoinAsync_TokenUsedTwice_SecondIsRefused()
    {
        await _harness.PutHostAsync("h1", HostState.Provisioning);
        var token = await _harness.PutJoinTokenAsync("h1", TimeSpan.FromHours(1));
        (await _harness.JoinAsync("h1", token)).Dispose();

        var ex = await Assert.ThrowsAsync<ApiException>(() => _harness.JoinAsync("h1", token));

        Assert.Equal((HttpStatusCode.Unauthorized, ArmErrorCodes.AuthenticationFailed), (ex.StatusCode, ex.Code));
    }

    [Fact]
    public async Task JoinAsync_ExpiredToken_IsRefusedAndTheHostUnchanged()
    {
        await _harness.PutHostAsync("h1", HostState.Provisioning);
        var token = await _harness.PutJoinTokenAsync("h1", TimeSpan.FromMinutes(10));
        _harness.Time.Advance(TimeSpan.FromMinutes(11));

        var ex = await Assert.ThrowsAsync<ApiException>(() => _harness.JoinAsync("h1", token));

        Assert.Equal((HttpStatusCode.Unauthorized, ArmErrorCodes.ExpiredAuthenticationToken), (ex.StatusCode, ex.Code));
        var host = await _harness.ReadHostAsync("h1");
        Assert.Equal(HostState.Provisioning, host.State);
        Assert.Null(host.Agent);
    }

    [Fact]
    public async Task JoinAsync_TokenOfAnotherHost_IsRefused()
    {
        await _harness.PutHostAsync("h1", HostState.Provisioning);
        await _harness.PutHostAsync("h2", HostState.Provisioning);
        var token = await _harness.PutJoinTokenAsync("h1", TimeSpan.FromHours(1));

        var ex = await Assert.ThrowsAsync<ApiException>(() => _harness.JoinAsync("h2", token));

        Assert.Equal(HttpStatusCode.Unauthorized, ex.StatusCode);
        Assert.NotNull(await _harness.Store.GetAsync(FabricKeys.JoinToken("h1"), AgentHarness.Ct));
        Assert.Equal(HostState.Provisioning, (await _harness.ReadHostAsync("h2")).State);
    }

    [Fact]
    public async Task JoinAsync_WrongToken_IsRefused()
    {
        await _harness.PutHostAsync("h1", HostState.Provisioning);
        await _harness.PutJoinTokenAsync("h1", TimeSpan.FromHours(1));

        var ex = await Assert.ThrowsAsync<ApiException>(() => _harness.JoinAsync("h1", "not-the-token"));

        Assert.Equal(HttpStatusCode.Unauthorized, ex.StatusCode);
    }

    [Fact]
    public async Task JoinAsync_BadCsr_IsRefusedAndNothingWritten()
    {
        await _harness.PutHostAsync("h1", HostState.Provisioning);
        var token = await _harness.PutJoinTokenAsync("h1", TimeSpan.FromHours(1));
        using var rsa = RSA.Create(2048);
        var rsaCsr = new CertificateRequest("CN=h1", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1).CreateSigningRequestPem();

        foreach (var csr in new[] { "-----BEGIN CERTIFICATE REQUEST-----\nnot base64\n-----END CERTIFICATE REQUEST-----", "garbage", rsaCsr })
        {
            var ex = await Assert.ThrowsAsync<ApiException>(() => _harness.Agents.JoinAsync(new JoinRequest("h1", token, csr, AgentHarness.Inventory()), AgentHarness.Ct));
            Assert.Equal((HttpStatusCode.BadRequest, ArmErrorCodes.InvalidRequestContent), (ex.StatusCode, ex.Code));
        }

        Assert.NotNull(await _harness.Store.GetAsync(FabricKeys.JoinToken("h1"), AgentHarness.Ct));
        Assert.Equal(HostState.Provisioning, (await _harness.ReadHostAsync("h1")).State);
    }

    [Fact]
    public async Task JoinAsync_HostInService_IsRefusedWithOperationNotAllowed()
    {
        await _harness.PutHostAsync("h1", HostState.InService);
        var token = await _harness.PutJoinTokenAsync("h1", TimeSpan.FromHours(1));

        var ex = await Assert.ThrowsAsync<ApiException>(() => _harness.JoinAsync("h1", token));

        Assert.Equal((HttpStatusCode.Conflict, AgentService.OperationNotAllowed), (ex.StatusCode, ex.Code));
    }

    [Fact]
    public async Task JoinAsync_BadHostName_IsRefused()
    {
        var ex = await Assert.ThrowsAsync<ApiException>(() => _harness.Agents.JoinAsync(new JoinRequest("-bad/name", "t", "csr", AgentHarness.Inventory()), AgentHarness.Ct));

        Assert.Equal(HttpStatusCode.BadRequest, ex.StatusCode);
    }
}
