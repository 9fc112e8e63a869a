using System.Text;
using System.Text.Json.Nodes;
using Holdfast.Identity.Principals;
using Holdfast.Identity.Secrets;
using Holdfast.Providers.Framework;
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
    public static async Task<BootstrapIdentity> EnsureAsync(IStateStore store, DataDirectory dataDirectory, HoldfastServerOptions options, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(dataDirectory);
        ArgumentNullException.ThrowIfNull(options);
        var existing = await store.GetAsync(ResourceKeys.BootstrapKey, cancellationToken).ConfigureAwait(false);
        if (existing is not null)
        {
            return Parse(existing.Value);
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
