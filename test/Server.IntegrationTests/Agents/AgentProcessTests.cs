using Holdfast.Server.IntegrationTests.Infrastructure;

namespace Holdfast.Server.IntegrationTests.Agents;

/// <summary>
/// Real <c>holdfast agent</c> processes (simulated driver) against the real server process over mTLS, with short health
/// timings: join with one-time tokens, validation into service, heartbeats, and a killed agent's host going
/// Unreachable then Failed, its restarted agent answered as Failed.
/// </summary>
public sealed class AgentProcessTests : IAsyncLifetime
{
    private static readonly TimeSpan StateTimeout = TimeSpan.FromSeconds(60);
    private readonly List<AgentProcess> _agents = [];
    private ServerProcess _server = null!;
    private FleetApi _fleet = null!;

    public async Task InitializeAsync()
    {
        _server = await ServerProcess.StartAsync(null, "--heartbeat-seconds", "1", "--unreachable-after-seconds", "3", "--failed-after-seconds", "6");
        _fleet = await FleetApi.ConnectAsync(_server);
    }

    public async Task DisposeAsync()
    {
        foreach (var agent in _agents)
        {
            await agent.DisposeAsync();
        }

        _fleet.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task Agents_JoinWithTokens_GoInServiceAndStayThereWhileTheyHeartbeat()
    {
        string[] hosts = ["h1", "h2", "h3"];
        await _fleet.CreateFleetAsync(hosts);
        foreach (var host in hosts)
        {
            Assert.Equal("Provisioning", await _fleet.StateOfAsync(host));
            _agents.Add(await AgentProcess.StartAsync(_server, host, await _fleet.CreateJoinTokenAsync(host)));
        }

        foreach (var host in hosts)
        {
            await _fleet.WaitForStateAsync(host, "InService", StateTimeout);
            var properties = await _fleet.GetHostAsync(host);
            Assert.True(properties.GetProperty("simulated").GetBoolean());
            Assert.Equal("simulated", properties.GetProperty("agent").GetProperty("driver").GetString());
        }

        // Longer than the Unreachable time: only heartbeats keep them in service.
        await Task.Delay(TimeSpan.FromSeconds(8));
        foreach (var host in hosts)
        {
            Assert.Equal("InService", await _fleet.StateOfAsync(host));
        }

        Assert.All(_agents, a => Assert.False(a.HasExited, a.Output));
        Assert.All(_agents, a => Assert.DoesNotContain("BEGIN", a.Output, StringComparison.Ordinal));
    }

    [Fact]
    public async Task KilledAgent_HostGoesUnreachableThenFailed_AndItsRestartedAgentIsAnsweredFailed()
    {
        await _fleet.CreateFleetAsync("h1", "h2");
        var h1 = await AgentProcess.StartAsync(_server, "h1", await _fleet.CreateJoinTokenAsync("h1"));
        _agents.Add(h1);
        _agents.Add(await AgentProcess.StartAsync(_server, "h2", await _fleet.CreateJoinTokenAsync("h2")));
        await _fleet.WaitForStateAsync("h1", "InService", StateTimeout);
        await _fleet.WaitForStateAsync("h2", "InService", StateTimeout);

        h1.Kill();
        await _fleet.WaitForStateAsync("h1", "Unreachable", StateTimeout);
        await _fleet.WaitForStateAsync("h1", "Failed", StateTimeout);
        Assert.Equal("InService", await _fleet.StateOfAsync("h2"));

        // Restarted on its state directory without a token: it syncs with its certificate and is told it is Failed.
        await h1.RestartAsync();
        await h1.WaitForOutputAsync("Host h1 is Failed", StateTimeout);
        Assert.Contains("resumed with the identity", h1.Output, StringComparison.Ordinal);
        Assert.Equal("Failed", await _fleet.StateOfAsync("h1"));
        Assert.Empty(await h1.ReadVmsAsync());
    }

    [Fact]
    public async Task Agent_ReusedJoinToken_IsRefusedAndExits()
    {
        await _fleet.CreateFleetAsync("h1");
        var token = await _fleet.CreateJoinTokenAsync("h1");
        _agents.Add(await AgentProcess.StartAsync(_server, "h1", token));

        var (exitCode, output) = await ServerProcess.RunToExitAsync(
            "agent", "--server", _server.AgentEndpoint!.ToString(), "--host-name", "h1", "--join-token", token, "--ca-file", _server.Credentials.CaCertificatePath,
            "--state-dir", Path.Combine(_server.DataDirectory + "-agents", "h1-second"));

        Assert.Equal(1, exitCode);
        Assert.Contains("join token is not valid", output, StringComparison.Ordinal);
        Assert.DoesNotContain(token, output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--failure-rate", "2")]
    [InlineData("--create-latency-ms", "-1")]
    [InlineData("--server", "http://127.0.0.1:1")]
    [InlineData("--host-name", "bad/name")]
    [InlineData("--driver", "kvm")]
    public async Task Agent_BadFlag_ExitsWithTwoAndSaysWhy(string flag, string value)
    {
        var arguments = new Dictionary<string, string>
        {
            ["--server"] = _server.AgentEndpoint!.ToString(),
            ["--host-name"] = "h1",
            ["--ca-file"] = _server.Credentials.CaCertificatePath,
            ["--state-dir"] = Path.Combine(_server.DataDirectory + "-agents", "flags"),
            [flag] = value,
        };

        var (exitCode, output) = await ServerProcess.RunToExitAsync(["agent", .. arguments.SelectMany(a => new[] { a.Key, a.Value })]);

        Assert.Equal(2, exitCode);
        Assert.Contains(flag == "--driver" ? "kvm" : flag, output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_FailedSoonerThanTheSelfFenceTime_ExitsWithTwo()
    {
        var (exitCode, output) = await ServerProcess.RunToExitAsync("serve", "--data-dir", ServerProcess.NewDataDirectory(), "--port", "1", "--unreachable-after-seconds", "15", "--failed-after-seconds", "10");

        Assert.Equal(2, exitCode);
        Assert.Contains("--failed-after-seconds", output, StringComparison.Ordinal);
    }
}
