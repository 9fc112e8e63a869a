using Microsoft.Extensions.Hosting;

namespace Holdfast.Server.Identity;

/// <summary>
/// TEMPORARY stand-in (issue 3) with the API the principals branch delivers, so RBAC compiles before that merge:
/// every object id is taken to be a service principal in no group. The principals branch's file replaces this one.
/// </summary>
internal sealed class PrincipalDirectory : BackgroundService
{
    private readonly string _kind = "ServicePrincipal";

    public ValueTask<DirectoryPrincipal?> FindAsync(string objectId, CancellationToken ct) =>
        ValueTask.FromResult<DirectoryPrincipal?>(new DirectoryPrincipal(string.Empty, objectId, _kind, objectId, null));

    public ValueTask<IReadOnlyList<string>> GroupsOfAsync(string objectId, CancellationToken ct) =>
        ValueTask.FromResult<IReadOnlyList<string>>(_kind.Length == 0 ? [objectId] : []);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.CompletedTask;
}

/// <summary>A principal as the directory knows it.</summary>
internal sealed record DirectoryPrincipal(string TenantId, string ObjectId, string Kind, string DisplayName, string? AppId);
