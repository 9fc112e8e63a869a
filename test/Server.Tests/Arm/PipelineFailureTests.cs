using System.Net;
using System.Text.Json.Nodes;
using Holdfast.Audit.Chain;
using Holdfast.Server.Audit;
using Holdfast.Server.Bootstrap;
using Holdfast.Server.Hosting;
using Holdfast.State;
using Holdfast.Testing;

namespace Holdfast.Server.Tests.Arm;

/// <summary>
/// The pipeline's failure paths, on the real server in-process over TLS with a store whose faults the test switches:
/// a request that must be logged is never answered without its durable record (503 instead), and an error raised
/// before an authorization decision keeps its own status and ARM envelope.
/// </summary>
public sealed class PipelineFailureTests : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _directory = new();
    private FaultInjectingStore _store = null!;
    private RunningServer _server = null!;
    private HttpClient _admin = null!;
    private string _subscription = null!;

    public async Task InitializeAsync()
    {
        _store = new FaultInjectingStore(new InMemoryStateStore(TimeProvider.System));
        (_server, _admin) = await InProcessClients.StartSignedInAsync(_directory.Path, _store);
        _subscription = _server.Bootstrap.SubscriptionId;
    }

    public async Task DisposeAsync()
    {
        _admin?.Dispose();
        await _server.DisposeAsync();
        await _store.DisposeAsync();
    }

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task RefusedRequest_WhenItsRecordCannotBeStored_Answers503NotTheRefusal()
    {
        using var anonymous = new HttpClient(Handler()) { BaseAddress = _server.Options.ResolvedEndpoint };
        _store.FailPendingRecords = true;

        using var response = await anonymous.GetAsync($"subscriptions/{_subscription}/resourcegroups?api-version=2022-09-01");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("ServiceUnavailable", JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task DeleteThatWritesNothing_WhenItsRecordCannotBeStored_Answers503()
    {
        using (var group = await _admin.PutAsync($"subscriptions/{_subscription}/resourcegroups/pipeline?api-version=2022-09-01", new StringContent("{\"location\":\"local\"}", System.Text.Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.Created, group.StatusCode);
        }

        // Deleting a resource that does not exist succeeds without a write, so the pipeline records it as it answers.
        var path = $"subscriptions/{_subscription}/resourceGroups/pipeline/providers/Microsoft.Network/virtualNetworks/never-existed?api-version=2024-05-01";
        _store.FailPendingRecords = true;
        using var response = await _admin.DeleteAsync(path);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        _store.FailPendingRecords = false;
        using var retried = await _admin.DeleteAsync(path);
        Assert.Equal(HttpStatusCode.NoContent, retried.StatusCode);
    }

    [Fact]
    public async Task TransientStoreFailureBeforeTheDecision_Answers503WithTheEnvelope()
    {
        _store.FailOperationReads = true;

        using var response = await _admin.GetAsync($"subscriptions/{_subscription}/operationresults/{Guid.NewGuid()}?api-version=2022-09-01");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("ServiceUnavailable", JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task FailedSignIn_IsRecordedDurablyBeforeTheAnswer()
    {
        using var http = new HttpClient(Handler()) { BaseAddress = _server.Options.ResolvedEndpoint };
        var correlation = Guid.NewGuid().ToString();
        using var request = SignInRequest(correlation, "mallory", "wrong");

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var record = await FindRecordAsync(correlation);
        Assert.NotNull(record);
        Assert.Equal(AuditRecorder.SignInAction, record.Operation);
        Assert.Equal(400, record.HttpStatusCode);
        Assert.Equal(AuditStatuses.Failed, record.Status);
        Assert.StartsWith("invalid_grant", record.SubStatus, StringComparison.Ordinal);
        Assert.Contains("'mallory'", record.Description, StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(record.ClientAddress));
        Assert.Equal(string.Empty, record.CallerObjectId);
    }

    [Fact]
    public async Task FailedSignIn_WhenItsRecordCannotBeStored_Answers503()
    {
        using var http = new HttpClient(Handler()) { BaseAddress = _server.Options.ResolvedEndpoint };
        _store.FailPendingRecords = true;
        using var request = SignInRequest(Guid.NewGuid().ToString(), "mallory", "wrong");

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("temporarily_unavailable", JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task PasswordGrant_NamingAServicePrincipalAsItsClient_IsRefused()
    {
        using var http = new HttpClient(Handler()) { BaseAddress = _server.Options.ResolvedEndpoint };
        var admin = AdminCredentials.Load(_server.DataDirectory.AdminCredentialsPath);
        using var request = SignInRequest(Guid.NewGuid().ToString(), "mallory", "wrong", admin.ClientId);

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("unauthorized_client", JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task SigningKeyRotation_WhenItsRecordCannotBeCommitted_DoesNotTakeEffect()
    {
        var before = await ActiveKeyIdAsync();
        _store.FailAuditedTransactions = true;

        using var response = await _admin.PostAsync("providers/Holdfast.Identity/rotateSigningKey?api-version=2025-01-01", null);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        _store.FailAuditedTransactions = false;
        Assert.Equal(before, await ActiveKeyIdAsync());
    }

    private async Task<string> ActiveKeyIdAsync()
    {
        using var response = await _admin.GetAsync("providers/Holdfast.Identity/signingKeys?api-version=2025-01-01");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!["activeKeyId"]!.GetValue<string>();
    }

    private HttpRequestMessage SignInRequest(string correlation, string userName, string password, string? clientId = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"{_server.Bootstrap.TenantId}/oauth2/v2.0/token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "password",
                ["username"] = userName,
                ["password"] = password,
                ["scope"] = _server.Options.Audience + ".default",
                ["client_id"] = clientId ?? string.Empty,
            }),
        };
        request.Headers.Add("x-ms-correlation-request-id", correlation);
        return request;
    }

    /// <summary>The record is pending or already chained (the chainer moves it atomically), so pending is read first.</summary>
    private async Task<AuditRecord?> FindRecordAsync(string correlation)
    {
        var pending = await _store.RangeAsync(new RangeRequest(AuditKeys.PendingPrefix), CancellationToken.None);
        foreach (var kv in pending.Items)
        {
            var record = System.Text.Json.JsonSerializer.Deserialize(kv.Value.Span, AuditServerJson.Default.AuditRecord);
            if (record?.CorrelationId == correlation)
            {
                return record;
            }
        }

        var entries = await AuditLog.ReadAsync(_store, CancellationToken.None);
        return entries.Entries.Where(e => e.CorrelationId == correlation).Select(e => new AuditRecord
        {
            EventTimestamp = e.EventTimestamp,
            TenantId = e.TenantId,
            CallerAppId = e.CallerAppId,
            CallerObjectId = e.CallerObjectId,
            Operation = e.Operation,
            ResourceId = e.ResourceId,
            Status = e.Status,
            SubStatus = e.SubStatus,
            HttpStatusCode = e.HttpStatusCode,
            CorrelationId = e.CorrelationId,
            ClientAddress = e.ClientAddress,
            Description = e.Description,
        }).FirstOrDefault();
    }

    private HttpClientHandler Handler() => InProcessClients.TrustingHandler(_server);

    private Task<HttpClient> SignedInAsync(string clientId, string secret) => InProcessClients.SignedInAsync(_server, clientId, secret);

    private static int FreePort() => InProcessClients.FreePort();
}
