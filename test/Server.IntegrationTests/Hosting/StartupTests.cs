using Azure.ResourceManager.Resources;
using Holdfast.Server.IntegrationTests.Infrastructure;

namespace Holdfast.Server.IntegrationTests.Hosting;

/// <summary><c>holdfast serve</c> as an operator meets it: clear errors for bad flags and data directories, and a second start that reuses everything.</summary>
public sealed class StartupTests
{
    [Theory]
    [InlineData("serve", "--bogus")]
    [InlineData("serve", "--port", "70000")]
    [InlineData("serve", "--listen", "not-an-address")]
    [InlineData("serve", "--store", "etcd://127.0.0.1")]
    [InlineData("serve", "--store", "postgres://127.0.0.1:5432")]
    [InlineData("serve", "--throttle", "sometimes")]
    public async Task BadFlag_ExitsNonZeroWithAMessageAndNoStackTrace(params string[] arguments)
    {
        var (exitCode, output) = await ServerProcess.RunToExitAsync(arguments);
        Assert.NotEqual(0, exitCode);
        Assert.False(string.IsNullOrWhiteSpace(output));
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DataDirectoryIsAFile_ExitsWithAClearMessage()
    {
        var file = Path.GetTempFileName();
        try
        {
            var (exitCode, output) = await ServerProcess.RunToExitAsync("serve", "--data-dir", file, "--port", "18999");
            Assert.Equal(2, exitCode);
            Assert.Contains("is a file", output, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task SecondStart_ReusesCredentialsCertificatesAndData()
    {
        await using var server = await ServerProcess.StartAsync();
        var first = server.Credentials;
        var ca = await File.ReadAllTextAsync(first.CaCertificatePath);
        var groups = (await Clients.Arm(first).GetDefaultSubscriptionAsync()).GetResourceGroups();
        await groups.CreateOrUpdateAsync(Azure.WaitUntil.Completed, "survivor", new ResourceGroupData(new Azure.Core.AzureLocation("local")));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(server.DataDirectory, "admin-credentials.json")));
        }

        server.Kill();
        await server.StartAsync();

        Assert.Equal(first, server.Credentials);
        Assert.Equal(ca, await File.ReadAllTextAsync(server.Credentials.CaCertificatePath));
        var again = (await Clients.Arm(server.Credentials).GetDefaultSubscriptionAsync()).GetResourceGroups();
        Assert.True((await again.ExistsAsync("survivor")).Value);
    }
}
