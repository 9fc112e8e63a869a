using System.Diagnostics;
using System.Net;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using Holdfast.Server.IntegrationTests.Infrastructure;

namespace Holdfast.Server.IntegrationTests.Authorization;

/// <summary>
/// "The Azure SDK creates and lists role assignments": Azure's JavaScript SDK (@azure/arm-authorization 9.0.0 with
/// @azure/identity; the .NET package is not on the mirror) run by node against the real server, trusting only its CA.
/// The npm project is test/Server.IntegrationTests/JsSdk (package-lock.json committed); a missing node_modules is
/// restored with <c>npm ci</c>. Without node or npm the test fails — it never skips.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class JsSdkTests(ServerFixture fixture)
{
    private static readonly TimeSpan NpmTimeout = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan NodeTimeout = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task JavaScriptSdk_CreatesAndListsRoleAssignments()
    {
        var project = ProjectDirectory();
        if (!File.Exists(Path.Combine(project, "node_modules", "@azure", "arm-authorization", "package.json")))
        {
            var (npmExit, npmOut) = await RunAsync("npm", ["ci", "--no-audit", "--no-fund"], project, [], NpmTimeout);
            Assert.True(npmExit == 0, "npm ci failed in " + project + ":\n" + npmOut);
        }

        var group = ServerFixture.UniqueName("jssdk");
        await Rbac.CreateGroupAsync(fixture, group);
        using var principal = await Rbac.NewPrincipalAsync(fixture, "jssdk");
        var credentials = fixture.Credentials;
        var scope = $"/subscriptions/{credentials.SubscriptionId}/resourceGroups/{group}";
        var name = Guid.NewGuid().ToString();
        var environment = new Dictionary<string, string>
        {
            ["NODE_EXTRA_CA_CERTS"] = credentials.CaCertificatePath,
            ["HOLDFAST_ENDPOINT"] = credentials.Endpoint.ToString(),
            ["HOLDFAST_AUDIENCE"] = credentials.Audience,
            ["HOLDFAST_TENANT_ID"] = credentials.TenantId,
            ["HOLDFAST_CLIENT_ID"] = credentials.ClientId,
            ["HOLDFAST_CLIENT_SECRET"] = credentials.ClientSecret,
            ["HOLDFAST_SUBSCRIPTION_ID"] = credentials.SubscriptionId,
            ["HOLDFAST_SCOPE"] = scope,
            ["HOLDFAST_ASSIGNMENT_NAME"] = name,
            ["HOLDFAST_ROLE_DEFINITION_ID"] = Rbac.RoleId(scope, Rbac.Reader),
            ["HOLDFAST_PRINCIPAL_ID"] = principal.ObjectId,
        };

        var (exit, output) = await RunAsync("node", ["roleassignments.mjs"], project, environment, NodeTimeout);
        Assert.True(exit == 0, "node roleassignments.mjs failed:\n" + output);
        var result = JsonNode.Parse(output.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1])!;
        Assert.Equal(name, result["created"]!["name"]!.GetValue<string>());
        Assert.Equal(principal.ObjectId, result["created"]!["principalId"]!.GetValue<string>());
        Assert.Equal(scope, result["created"]!["scope"]!.GetValue<string>());
        Assert.Contains(name, result["listed"]!.AsArray().Select(a => a!["name"]!.GetValue<string>()));

        // The server agrees: the assignment exists and grants what Reader grants.
        using var read = await principal.Http.GetAsync($"subscriptions/{credentials.SubscriptionId}/resourcegroups/{group}?api-version=2022-09-01");
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
    }

    private static string ProjectDirectory([CallerFilePath] string source = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(source)!, "..", "JsSdk"));

    private static async Task<(int Exit, string Output)> RunAsync(string fileName, string[] arguments, string workingDirectory, Dictionary<string, string> environment, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
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
