using System.Text;
using System.Text.Json.Nodes;
using Holdfast.Identity.Principals;
using Holdfast.Identity.Secrets;
using Holdfast.Providers.Framework;
using Holdfast.Server.Identity;
using Holdfast.State;

namespace Holdfast.Server.Bootstrap;

/// <summary>What the first start created: the default tenant, subscription and admin principal.</summary>
public sealed record BootstrapIdentity(string TenantId, string SubscriptionId, string AdminAppId, string AdminObjectId);

/// <summary>
/// Seeds a new store with the default tenant, the default subscription and the bootstrap admin service principal, in
/// one transaction guarded by the absence of <see cref="ResourceKeys.BootstrapKey"/>. The credentials file is written
/// first; a crash between the two is healed on the next start by reusing the file's identifiers and secret.
/// </summary>
public static class BootstrapSeeder
{
    /// <summary>The bootstrap admin's service-principal name (<c>/providers/Holdfast.Identity/servicePrincipals/bootstrap-admin</c>).</summary>
    public const string AdminPrincipalName = "bootstrap-admin";

    public static async Task<BootstrapIdentity> EnsureAsync(IStateStore store, DataDirectory dataDirectory, HoldfastServerOptions options, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(dataDirectory);
        ArgumentNullException.ThrowIfNull(options);
        var existing = await store.GetAsync(ResourceKeys.BootstrapKey, cancellationToken).ConfigureAwait(false);
        if (existing is not null)
        {
            var identity = Parse(existing.Value);
            await NamePrincipalsAsync(store, identity, cancellationToken).ConfigureAwait(false);
            return identity;
        }

        AdminCredentials credentials;
        if (File.Exists(dataDirectory.AdminCredentialsPath))
        {
            credentials = AdminCredentials.Load(dataDirectory.AdminCredentialsPath);
        }
        else
        {
            credentials = new AdminCredentials
            {
                TenantId = Guid.NewGuid().ToString(),
                SubscriptionId = Guid.NewGuid().ToString(),
                ClientId = Guid.NewGuid().ToString(),
                ObjectId = Guid.NewGuid().ToString(),
                ClientSecret = SecretHasher.NewSecret(),
                Endpoint = options.ResolvedEndpoint.ToString(),
                Audience = options.Audience,
                CaCertificatePath = dataDirectory.CaCertificatePath,
                Location = options.Location,
            };
            SecureFiles.WriteAtomic(dataDirectory.AdminCredentialsPath, credentials.ToJson(), isPrivate: true);
        }

        var now = timeProvider.GetUtcNow();
        var principal = new ServicePrincipalRecord
        {
            TenantId = credentials.TenantId,
            Name = AdminPrincipalName,
            AppId = credentials.ClientId,
            ObjectId = credentials.ObjectId,
            DisplayName = "holdfast-bootstrap-admin",
            PasswordCredentials =
            [
                new PasswordCredential { KeyId = Guid.NewGuid().ToString(), Hash = SecretHasher.Hash(credentials.ClientSecret), EndDateTime = now.AddYears(10), DisplayName = "bootstrap" },
            ],
        };
        var tenant = new JsonObject
        {
            ["id"] = "/tenants/" + credentials.TenantId,
            ["tenantId"] = credentials.TenantId,
            ["displayName"] = "Default Directory",
            ["tenantCategory"] = "Home",
        };
        var subscription = new JsonObject
        {
            ["id"] = "/subscriptions/" + credentials.SubscriptionId,
            ["subscriptionId"] = credentials.SubscriptionId,
            ["tenantId"] = credentials.TenantId,
            ["displayName"] = "Default Subscription",
            ["state"] = "Enabled",
            ["authorizationSource"] = "RoleBased",
            ["managedByTenants"] = new JsonArray(),
            ["subscriptionPolicies"] = new JsonObject
            {
                ["locationPlacementId"] = "Holdfast_" + options.Location,
                ["quotaId"] = "Holdfast_Default",
                ["spendingLimit"] = "Off",
            },
        };
        var marker = new JsonObject
        {
            ["tenantId"] = credentials.TenantId,
            ["subscriptionId"] = credentials.SubscriptionId,
            ["adminAppId"] = credentials.ClientId,
            ["adminObjectId"] = credentials.ObjectId,
            ["createdAt"] = now,
        };

        var result = await store.TxnAsync(
            new TxnRequest(
                [Compare.Absent(ResourceKeys.BootstrapKey)],
                [
                    TxnOp.Put(ResourceKeys.Tenant(credentials.TenantId), Encoding.UTF8.GetBytes(tenant.ToJsonString())),
                    TxnOp.Put(ResourceKeys.Subscription(credentials.SubscriptionId), Encoding.UTF8.GetBytes(subscription.ToJsonString())),
                    TxnOp.Put(ResourceKeys.Principal(credentials.TenantId, credentials.ClientId), principal.Serialize()),
                    TxnOp.Put(DirectoryKeys.ServicePrincipalName(credentials.TenantId, AdminPrincipalName), Encoding.UTF8.GetBytes(credentials.ClientId)),
                    TxnOp.Put(ResourceKeys.BootstrapKey, Encoding.UTF8.GetBytes(marker.ToJsonString())),
                ]),
            cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            var winner = await store.GetAsync(ResourceKeys.BootstrapKey, cancellationToken).ConfigureAwait(false);
            return Parse(winner!.Value);
        }

        return new BootstrapIdentity(credentials.TenantId, credentials.SubscriptionId, credentials.ClientId, credentials.ObjectId);
    }

    /// <summary>
    /// Migrates data directories from before service principals had names: each unnamed principal gets one (the
    /// bootstrap admin <see cref="AdminPrincipalName"/>, others <c>sp-{appId}</c>) and its name-index entry, in one
    /// transaction per principal guarded by its revision, so a concurrent or repeated start is harmless.
    /// </summary>
    private static async Task NamePrincipalsAsync(IStateStore store, BootstrapIdentity identity, CancellationToken cancellationToken)
    {
        string? after = null;
        do
        {
            var page = await store.RangeAsync(new RangeRequest(ResourceKeys.PrincipalsPrefix, 500, after), cancellationToken).ConfigureAwait(false);
            foreach (var kv in page.Items)
            {
                var record = ServicePrincipalRecord.Deserialize(kv.Value.Span);
                if (record.Name is not null)
                {
                    continue;
                }

                var name = string.Equals(record.AppId, identity.AdminAppId, StringComparison.OrdinalIgnoreCase) ? AdminPrincipalName : "sp-" + record.AppId.ToLowerInvariant();
                var indexKey = DirectoryKeys.ServicePrincipalName(record.TenantId, name);
                await store.TxnAsync(
                    new TxnRequest(
                        [Compare.ModRevisionIs(kv.Key, kv.ModRevision), Compare.Absent(indexKey)],
                        [TxnOp.Put(kv.Key, (record with { Name = name }).Serialize()), TxnOp.Put(indexKey, Encoding.UTF8.GetBytes(record.AppId))]),
                    cancellationToken).ConfigureAwait(false);
            }

            after = page.ContinueAfter;
        }
        while (after is not null);
    }

    private static BootstrapIdentity Parse(ReadOnlyMemory<byte> value)
    {
        var node = JsonNode.Parse(value.Span)!;
        return new BootstrapIdentity(
            node["tenantId"]!.GetValue<string>(),
            node["subscriptionId"]!.GetValue<string>(),
            node["adminAppId"]!.GetValue<string>(),
            node["adminObjectId"]!.GetValue<string>());
    }
}
