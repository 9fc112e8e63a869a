using Azure.ResourceManager;

namespace Holdfast.Server.IntegrationTests.Infrastructure;

/// <summary>One shared server for a test collection (throttling off: these tests are about behaviour, not budgets).</summary>
public sealed class ServerFixture : IAsyncLifetime
{
    public ServerProcess Server { get; private set; } = null!;

    public ServerCredentials Credentials => Server.Credentials;

    public ArmClient Arm { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        // Simulated hosts (simulated hardware) so VMs have somewhere to run.
        Server = await ServerProcess.StartAsync(null, "--throttle", "off", "--simulated-hosts", "8", "--heartbeat-seconds", "1");
        Arm = Clients.Arm(Credentials);
        Http = await Clients.AuthenticatedHttpAsync(Credentials);
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
    }

    /// <summary>A resource-group name unique to one test.</summary>
    public static string UniqueName(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];
}

[CollectionDefinition(Name)]
public sealed class ServerCollection : ICollectionFixture<ServerFixture>
{
    public const string Name = "server";
}
