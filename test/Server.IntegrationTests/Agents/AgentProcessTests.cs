using Holdfast.Server.IntegrationTests.Infrastructure;

namespace Holdfast.Server.IntegrationTests.Agents;

/// <summary>
/// Real <c>holdfast agent</c> processes (simulated driver) against the real server process over mTLS, with short health
/// timings: join with one-time tokens, validation into service, heartbeats, and a killed agent's host going
/// Unreachable then Failed, its restarted agent answered as Failed.
/// </summary>
public sealed class AgentProcessTests : AgentFleetTest
{
    private static readonly TimeSpan StateTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Agents_JoinWithTokens_GoInServiceAndStayThereWhileTheyHeartbeat()
    {
        string[] hosts = ["h1", "h2", "h3"];
        await Fleet.CreateFleetAsync(hosts);
        foreach (var host in hosts)
        {
            Assert.Equal("Provisioning", await Fleet.StateOfAsync(host));
            Agents.Add(await AgentProcess.StartAsync(ControlPlane, host, await Fleet.CreateJoinTokenAsync(host)));
        }

        foreach (var host in hosts)
        {
            await Fleet.WaitForStateAsync(host, "InService", StateTimeout);
            var properties = await Fleet.GetHostAsync(host);
            Assert.True(properties.GetProperty("simulated").GetBoolean());
            Assert.Equal("simulated", properties.GetProperty("agent").GetProperty("driver").GetString());
        }

        // Longer than the Unreachable time: only heartbeats keep them in service.
        await Task.Delay(TimeSpan.FromSeconds(8));
        foreach (var host in hosts)
        {
            Assert.Equal("InService", await Fleet.StateOfAsync(host));
        }

        Assert.All(Agents, a => Assert.False(a.HasExited, a.Output));
        Assert.All(Agents, a => Assert.DoesNotContain("BEGIN", a.Output, StringComparison.Ordinal));
    }

    [Fact]
    public async Task KilledAgent_HostGoesUnreachableThenFailed_AndItsRestartedAgentIsAnsweredFailed()
    {
        await Fleet.CreateFleetAsync("h1", "h2");
        var h1 = await AgentProcess.StartAsync(ControlPlane, "h1", await Fleet.CreateJoinTokenAsync("h1"));
        Agents.Add(h1);
        Agents.Add(await AgentProcess.StartAsync(ControlPlane, "h2", await Fleet.CreateJoinTokenAsync("h2")));
        await Fleet.WaitForStateAsync("h1", "InService", StateTimeout);
        await Fleet.WaitForStateAsync("h2", "InService", StateTimeout);

        h1.Kill();
        await Fleet.WaitForStateAsync("h1", "Unreachable", StateTimeout);
        await Fleet.WaitForStateAsync("h1", "Failed", StateTimeout);
        Assert.Equal("InService", await Fleet.StateOfAsync("h2"));

        // Restarted on its state directory without a token: it syncs with its certificate and is told it is Failed.
        await h1.RestartAsync();
        await h1.WaitForOutputAsync("Host h1 is Failed", StateTimeout);
        Assert.Contains("resumed with the identity", h1.Output, StringComparison.Ordinal);
        Assert.Equal("Failed", await Fleet.StateOfAsync("h1"));
        Assert.Empty(await h1.ReadVmsAsync());
    }

    [Fact]
    public async Task Agent_ReusedJoinToken_IsRefusedAndExits()
    {
        await Fleet.CreateFleetAsync("h1");
        var token = await Fleet.CreateJoinTokenAsync("h1");
        Agents.Add(await AgentProcess.StartAsync(ControlPlane, "h1", token));

        var (exitCode, output) = await ServerProcess.RunToExitAsync(
            "agent", "--server", ControlPlane.AgentEndpoint!.ToString(), "--host-name", "h1", "--join-token", token, "--ca-file", ControlPlane.Credentials.CaCertificatePath,
            "--state-dir", Path.Combine(ControlPlane.DataDirectory + "-agents", "h1-second"));

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
            ["--server"] = ControlPlane.AgentEndpoint!.ToString(),
            ["--host-name"] = "h1",
            ["--ca-file"] = ControlPlane.Credentials.CaCertificatePath,
            ["--state-dir"] = Path.Combine(ControlPlane.DataDirectory + "-agents", "flags"),
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
