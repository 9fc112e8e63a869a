using Holdfast.Server.IntegrationTests.Infrastructure;

namespace Holdfast.Server.IntegrationTests.Agents;

/// <summary>
/// A real server process with short health timings (heartbeat 1 s, Unreachable after 3 s, Failed after 6 s), a client
/// of its fleet API, and the agent processes a test starts (added to <see cref="Agents"/>); all stopped at the end.
/// </summary>
public abstract class AgentFleetTest : IAsyncLifetime
{
    protected List<AgentProcess> Agents { get; } = [];

    protected ServerProcess ControlPlane { get; private set; } = null!;

    protected FleetApi Fleet { get; private set; } = null!;

    /// <summary>More <c>holdfast serve</c> flags for a test class's server.</summary>
    protected virtual string[] ExtraServerArguments => [];

    public async Task InitializeAsync()
    {
        ControlPlane = await ServerProcess.StartAsync(null, ["--heartbeat-seconds", "1", "--unreachable-after-seconds", "3", "--failed-after-seconds", "6", .. ExtraServerArguments]);
        Fleet = await FleetApi.ConnectAsync(ControlPlane);
    }

    public async Task DisposeAsync()
    {
        foreach (var agent in Agents)
        {
            await agent.DisposeAsync();
        }

        Fleet?.Dispose();
        if (ControlPlane is not null)
        {
            await ControlPlane.DisposeAsync();
        }
    }
}
