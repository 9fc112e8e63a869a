using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;

namespace Holdfast.Server.IntegrationTests.Infrastructure;

/// <summary>
/// The npm project test/Server.IntegrationTests/JsSdk (Azure's JavaScript SDKs, package-lock.json committed) and node
/// scripts run from it against the real server. node_modules is restored with <c>npm ci</c> whenever a dependency
/// package.json pins is missing or at another version. Without node or npm the tests fail — they never skip.
/// </summary>
internal static class JsSdkProject
{
    private static readonly TimeSpan NpmTimeout = TimeSpan.FromMinutes(5);
    private static readonly SemaphoreSlim Restore = new(1, 1);

    public static string Directory { get; } = ProjectDirectory();

    /// <summary>Runs <c>npm ci</c> unless every dependency of package.json is installed at its pinned version.</summary>
    public static async Task EnsureRestoredAsync()
    {
        await Restore.WaitAsync();
        try
        {
            var stale = StaleDependencies();
            if (stale.Count == 0)
            {
                return;
            }

            var (exit, output) = await RunAsync("npm", ["ci", "--no-audit", "--no-fund"], [], NpmTimeout);
            Assert.True(exit == 0, $"npm ci (for {string.Join(", ", stale)}) failed in {Directory}:\n{output}");
            Assert.Empty(StaleDependencies());
        }
        finally
        {
            Restore.Release();
        }
    }

    /// <summary>The server's endpoint, the admin's credentials and its CA, as the scripts read them.</summary>
    public static Dictionary<string, string> Environment(ServerCredentials credentials) => new()
    {
        ["NODE_EXTRA_CA_CERTS"] = credentials.CaCertificatePath,
        ["HOLDFAST_ENDPOINT"] = credentials.Endpoint.ToString(),
        ["HOLDFAST_AUDIENCE"] = credentials.Audience,
        ["HOLDFAST_TENANT_ID"] = credentials.TenantId,
        ["HOLDFAST_CLIENT_ID"] = credentials.ClientId,
        ["HOLDFAST_CLIENT_SECRET"] = credentials.ClientSecret,
        ["HOLDFAST_SUBSCRIPTION_ID"] = credentials.SubscriptionId,
    };

    /// <summary>Runs <c>node {script}</c> and returns the JSON of its last output line; a non-zero exit fails the test.</summary>
    public static async Task<JsonNode> RunScriptAsync(string script, Dictionary<string, string> environment, TimeSpan timeout)
    {
        var (exit, output) = await RunAsync("node", [script], environment, timeout);
        Assert.True(exit == 0, $"node {script} failed:\n{output}");
        return JsonNode.Parse(output.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1])!;
    }

    /// <summary>The pinned dependencies (name@version) not installed at their version.</summary>
    private static List<string> StaleDependencies()
    {
        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(Directory, "package.json")))!;
        var stale = new List<string>();
        foreach (var (name, version) in manifest["dependencies"]!.AsObject())
        {
            var installed = Path.Combine([Directory, "node_modules", .. name.Split('/'), "package.json"]);
            var pinned = version!.GetValue<string>();
            if (!File.Exists(installed) || JsonNode.Parse(File.ReadAllText(installed))?["version"]?.GetValue<string>() != pinned)
            {
                stale.Add($"{name}@{pinned}");
            }
        }

        return stale;
    }

    private static string ProjectDirectory([CallerFilePath] string source = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(source)!, "..", "JsSdk"));

    private static async Task<(int Exit, string Output)> RunAsync(string fileName, string[] arguments, Dictionary<string, string> environment, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = Directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException($"'{fileName}' did not start.");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException($"'{fileName}' is required for this test (node 20 and npm) and could not be started: {ex.Message}", ex);
        }

        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var cancel = new CancellationTokenSource(timeout);
            try
            {
                await process.WaitForExitAsync(cancel.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"'{fileName} {string.Join(' ', arguments)}' did not finish within {timeout}.");
            }

            return (process.ExitCode, await stdout + await stderr);
        }
    }
}
