using Holdfast.Identity.Tokens;
using Holdfast.Providers.Framework;
using Holdfast.Providers.Network;
using Holdfast.Providers.Resources;
using Holdfast.Server.Arm;
using Holdfast.Server.Arm.Locations;
using Holdfast.Server.Arm.Metadata;
using Holdfast.Server.Arm.Providers;
using Holdfast.Server.Arm.ResourceGroups;
using Holdfast.Server.Arm.ResourceLists;
using Holdfast.Server.Arm.Resources;
using Holdfast.Server.Arm.Subscriptions;
using Holdfast.Server.Arm.Throttling;
using Holdfast.Server.Bootstrap;
using Holdfast.Server.Identity;
using Holdfast.State;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Holdfast.Server.Hosting;

/// <summary>
/// Composes one control-plane process: prepares the data directory (CA, TLS certificate, signing keys), seeds the
/// store on first start, and runs Kestrel over HTTPS only with the ARM pipeline and the resource reconcile loop.
/// The caller owns the store (it picks the backend) and disposes it after the server stops.
/// </summary>
public static class HoldfastServer
{
    /// <param name="dataDirectory">The opened <see cref="HoldfastServerOptions.DataDirectory"/> (the caller opened it to place the store).</param>
    public static async Task<RunningServer> StartAsync(HoldfastServerOptions options, DataDirectory dataDirectory, IStateStore store, TimeProvider timeProvider, Action<ILoggingBuilder>? configureLogging, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(dataDirectory);
        ArgumentNullException.ThrowIfNull(store);

        // The data directory's lock comes first: a second server on the same directory must fail before it creates a
        // key or seeds anything into the live store.
        var auditLock = Audit.DataDirectoryLock.AcquireForServer(dataDirectory.Root);
        try
        {
            return await StartLockedAsync(options, dataDirectory, store, timeProvider, configureLogging, auditLock, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            auditLock.Dispose();
            throw;
        }
    }

    private static async Task<RunningServer> StartLockedAsync(HoldfastServerOptions options, DataDirectory dataDirectory, IStateStore store, TimeProvider timeProvider, Action<ILoggingBuilder>? configureLogging, Audit.DataDirectoryLock auditLock, CancellationToken cancellationToken)
    {
        // Cluster: a replica takes the shared CA, keys and admin credential from the store (published by the first)
        Cluster.SecretBox? secretBox = options.ClusterToken is { } clusterToken ? new Cluster.SecretBox(clusterToken) : null;
        var cluster = secretBox is null ? null : await Cluster.ClusterSecrets.EnsureAsync(store, secretBox, dataDirectory, timeProvider, cancellationToken).ConfigureAwait(false);
        if (cluster is not null)
        {
            Cluster.ClusterSecrets.PrepareDataDirectory(dataDirectory, cluster, options);
        }

        using var ca = cluster?.CreateCertificateAuthority() ?? dataDirectory.LoadOrCreateCertificateAuthority(timeProvider);
        if (Agents.AgentTiming.Validate(options) is { Count: > 0 } timingErrors)
        {
            throw new StartupException(string.Join(" ", timingErrors));
        }

        if (Cluster.ReplicaOptionsCheck.Errors(options) is { Count: > 0 } replicaErrors)
        {
            throw new StartupException(string.Join(" ", replicaErrors));
        }

        var dnsNames = new List<string> { "localhost" };
        var endpointHost = options.ResolvedEndpoint.Host;
        if (Uri.CheckHostName(endpointHost) == UriHostNameType.Dns && !dnsNames.Contains(endpointHost, StringComparer.OrdinalIgnoreCase))
        {
            dnsNames.Add(endpointHost);
        }

        var addresses = new List<System.Net.IPAddress> { System.Net.IPAddress.Loopback, System.Net.IPAddress.IPv6Loopback };
        if (!options.ListenAddress.Equals(System.Net.IPAddress.Any) && !options.ListenAddress.Equals(System.Net.IPAddress.IPv6Any) && !addresses.Contains(options.ListenAddress))
        {
            addresses.Add(options.ListenAddress);
        }

        var certificate = dataDirectory.LoadOrIssueServerCertificate(ca, dnsNames, addresses, timeProvider);
        var signingKeys = cluster is null ? dataDirectory.LoadOrCreateSigningKeys() : null;
        var bootstrap = await BootstrapSeeder.EnsureAsync(store, dataDirectory, options, timeProvider, cancellationToken).ConfigureAwait(false);

        // Authorization
        await Authorization.RbacSeeder.EnsureAsync(store, bootstrap, timeProvider, cancellationToken).ConfigureAwait(false);

        RefreshCredentialsEndpoint(dataDirectory, options);

        // The content root is the binary's folder, never the data directory: the host's file watchers would otherwise
        // wake on every WAL write. Holdfast takes no configuration files or environment overrides: flags are the API.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory, EnvironmentName = Environments.Production });
        builder.Configuration.Sources.Clear();
        builder.Logging.ClearProviders();
        configureLogging?.Invoke(builder.Logging);
        ListenOptions? agentListener = null;
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes;
            kestrel.Listen(options.ListenAddress, options.Port, listen =>
            {
                listen.Protocols = HttpProtocols.Http1AndHttp2;
                listen.UseHttps(certificate);
            });

            // Agents: a second listener, client certificates allowed (checked by AgentService against the site CA)
            kestrel.Listen(options.ListenAddress, options.AgentPort, listen =>
            {
                agentListener = listen;
                listen.Protocols = HttpProtocols.Http1AndHttp2;
                listen.UseHttps(new HttpsConnectionAdapterOptions
                {
                    ServerCertificate = certificate,
                    ClientCertificateMode = ClientCertificateMode.AllowCertificate,
                    ClientCertificateValidation = (_, _, _) => true,
                });
            });
        });

        var services = builder.Services;
        services.AddSingleton(options);
        services.AddSingleton(timeProvider);
        // Replicas: every component gets the fencing store; leader-only singletons' writes carry the term's fence.
        var fencedStore = new Cluster.FencedStateStore(store);
        services.AddSingleton<IStateStore>(fencedStore);
        services.AddSingleton<Cluster.LeaderElection>();
        services.AddSingleton<Cluster.ILeadership>(sp => sp.GetRequiredService<Cluster.LeaderElection>());
        services.AddHostedService(sp => sp.GetRequiredService<Cluster.LeaderElection>());
        services.AddSingleton<Cluster.HeartbeatRelay>();
        services.AddHostedService(sp => sp.GetRequiredService<Cluster.HeartbeatRelay>());
        // Providers (a factory, so a provider's handlers may take the server's services)
        services.AddSingleton(sp => new ProviderRegistry(
        [
            ResourcesProvider.Create(),
            NetworkProvider.Create(fencedStore, timeProvider),
            DirectoryApi.Provider(),
            Audit.InsightsProvider.Create(),
            Providers.Authorization.AuthorizationProvider.Create(),
            Compute.ComputeProvider.Create(sp),
        ]));
        services.AddSingleton(bootstrap);

        // Identity
        services.AddSingleton(sp => cluster is null
            ? new SigningKeySet(dataDirectory, signingKeys!, options.TokenLifetime, timeProvider, sp.GetRequiredService<ILogger<SigningKeySet>>())
            : new SigningKeySet(new Cluster.ClusterSigningKeys(store, secretBox!), cluster.SigningKeys, cluster.SigningKeysModRevision, cluster.Revision, options.TokenLifetime, timeProvider, sp.GetRequiredService<ILogger<SigningKeySet>>()));
        services.AddHostedService(sp => sp.GetRequiredService<SigningKeySet>());
        services.AddSingleton(sp =>
        {
            var keys = sp.GetRequiredService<SigningKeySet>();
            return new TokenService(() => keys.Current, options.ResolvedEndpoint, options.Audience, options.TokenLifetime, timeProvider);
        });
        services.AddSingleton<PrincipalDirectory>();
        services.AddHostedService(sp => sp.GetRequiredService<PrincipalDirectory>());

        services.AddSingleton<SubscriptionDirectory>();
        services.AddHostedService(sp => sp.GetRequiredService<SubscriptionDirectory>());
        services.AddSingleton<ArmData>();
        services.AddSingleton(new Holdfast.Providers.Framework.SchemaLevels(options.MaxSchema));
        services.AddSingleton<Cluster.SchemaRegistration>();
        services.AddHostedService(sp => sp.GetRequiredService<Cluster.SchemaRegistration>());
        services.AddSingleton<BearerAuthenticator>();

        // Authorization
        services.AddSingleton<Authorization.RequestAuthorizer>();
        services.AddSingleton<Authorization.RoleDirectory>();
        services.AddHostedService(sp => sp.GetRequiredService<Authorization.RoleDirectory>());

        services.AddSingleton(new RequestThrottle(options.Throttle, timeProvider));
        services.AddSingleton<ResourceReconciler>();
        services.AddSingleton<ResourceReconcileHost>();
        // AddSingleton, not AddHostedService: a factory AddHostedService is TryAddEnumerable by implementation type, so
        // every LeaderOnlyService after the first would be dropped silently.
        services.AddSingleton<IHostedService>(sp => LeaderOnly(sp, ActivatorUtilities.CreateInstance<ReconcileService>(sp)));
        services.AddSingleton<IHostedService>(sp => LeaderOnly(sp, ActivatorUtilities.CreateInstance<StoreCompactionService>(sp)));
        services.AddRouting();

        // Activity log
        var auditKeys = cluster?.CreateAuditSigningKeys() ?? Audit.AuditSigningKeys.LoadOrCreate(dataDirectory.Root);
        services.AddSingleton(_ => auditLock);
        services.AddSingleton(_ => auditKeys);
        services.AddSingleton<Audit.AuditChainSignal>();
        services.AddSingleton<Audit.AuditRecorder>();
        services.AddSingleton<Audit.AuditChainer>();
        services.AddSingleton<IHostedService>(sp => LeaderOnly(sp, sp.GetRequiredService<Audit.AuditChainer>()));

        // Capacity
        services.AddSingleton<Fabric.CapacityService>();
        services.AddHostedService(sp => sp.GetRequiredService<Fabric.CapacityService>());
        services.AddSingleton<Fabric.DrainController>();
        services.AddSingleton<IHostedService>(sp => LeaderOnly(sp, sp.GetRequiredService<Fabric.DrainController>()));
        services.AddSingleton<Fabric.UsageSampler>();
        services.AddSingleton<IHostedService>(sp => LeaderOnly(sp, sp.GetRequiredService<Fabric.UsageSampler>()));
        services.AddSingleton<Fabric.UsageHistory>();

        // Agents
        services.AddSingleton(_ => cluster?.CreateCertificateAuthority() ?? dataDirectory.LoadOrCreateCertificateAuthority(timeProvider));
        services.AddSingleton<Agents.FleetView>();
        services.AddHostedService(sp => sp.GetRequiredService<Agents.FleetView>());
        services.AddSingleton<Agents.HostHealthMonitor>();
        services.AddSingleton<IHostedService>(sp => LeaderOnly(sp, sp.GetRequiredService<Agents.HostHealthMonitor>()));
        services.AddSingleton<Agents.AgentService>();
        services.AddSingleton<Agents.AgentAudit>();
        if (options.SimulatedHosts > 0)
        {
            services.AddSingleton<Agents.FleetSimulator>();
            services.AddSingleton<IHostedService>(sp => LeaderOnly(sp, sp.GetRequiredService<Agents.FleetSimulator>()));
        }

        var app = builder.Build();

        // Agents: requests on the agent listener go to the agent routes only (the ARM pipeline never sees them)
        app.MapWhen(context => agentListener?.IPEndPoint is { } agentEndPoint && context.Connection.LocalPort == agentEndPoint.Port, agentApp => agentApp.Run(Agents.AgentEndpoints.HandleAsync));
        app.UseRouting();
        app.UseMiddleware<ArmPipeline>();

        // Identity
        TokenEndpoints.Map(app);
        ServicePrincipalEndpoints.Map(app);
        UserEndpoints.Map(app);
        GroupEndpoints.Map(app);
        SigningKeyEndpoints.Map(app);

        MetadataEndpoints.Map(app);
        WhoAmIEndpoints.Map(app);
        SubscriptionEndpoints.Map(app);
        LocationEndpoints.Map(app);
        ProviderEndpoints.Map(app);
        ResourceGroupEndpoints.Map(app);
        ResourceListEndpoints.Map(app);
        ResourceEndpoints.Map(app);

        // Authorization
        Authorization.AuthorizationEndpoints.Map(app);
        OperatorSubscriptionEndpoints.Map(app);
        Fabric.FabricApi.Map(app);

        // Compute
        Compute.ComputeEndpoints.Map(app);
        Compute.VirtualMachines.VirtualMachineActionEndpoints.Map(app);
        Compute.Quotas.QuotaEndpoints.Map(app);

        // Activity log
        Audit.ActivityLogEndpoints.Map(app);

        // Replicas
        Cluster.ClusterStatusEndpoints.Map(app);
        app.Services.GetRequiredService<Audit.DataDirectoryLock>();

        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw new StartupException($"Cannot listen on {options.ListenAddress}:{options.Port} (agents: port {options.AgentPort}): {ex.Message}");
        }

        var agentEndpoint = new Uri($"https://{(options.ListenAddress.Equals(System.Net.IPAddress.Any) || options.ListenAddress.Equals(System.Net.IPAddress.IPv6Any) ? options.ResolvedEndpoint.Host : options.ListenAddress.ToString())}:{agentListener!.IPEndPoint!.Port}/");
        app.Services.GetRequiredService<Cluster.LeaderElection>().AgentEndpoint = agentEndpoint;
        return new RunningServer(app, dataDirectory, bootstrap, options) { AgentEndpoint = agentEndpoint };
    }

    private static void RefreshCredentialsEndpoint(DataDirectory dataDirectory, HoldfastServerOptions options)
    {
        var credentials = AdminCredentials.Load(dataDirectory.AdminCredentialsPath);
        var endpoint = options.ResolvedEndpoint.ToString();
        if (credentials.Endpoint != endpoint || credentials.Audience != options.Audience || credentials.CaCertificatePath != dataDirectory.CaCertificatePath)
        {
            SecureFiles.WriteAtomic(dataDirectory.AdminCredentialsPath, (credentials with { Endpoint = endpoint, Audience = options.Audience, CaCertificatePath = dataDirectory.CaCertificatePath }).ToJson(), isPrivate: true);
        }
    }

    /// <summary>
    /// A singleton that runs only while this replica leads (docs/designs/0007-replicas-and-leadership.md). Registered
    /// with AddSingleton, not AddHostedService: that one adds a factory's implementation type once, and every wrapper is
    /// the same type.
    /// </summary>
    private static Cluster.LeaderOnlyService LeaderOnly(IServiceProvider services, IHostedService singleton) =>
        new(singleton, services.GetRequiredService<Cluster.LeaderElection>(), services.GetRequiredService<ILogger<Cluster.LeaderOnlyService>>());

    private sealed class ReconcileService(ResourceReconcileHost host) : BackgroundService
    {
        protected override Task ExecuteAsync(CancellationToken stoppingToken) => host.RunAsync(stoppingToken);
    }
}

/// <summary>A started server; dispose (or <see cref="StopAsync"/>) to shut it down gracefully.</summary>
public sealed class RunningServer(WebApplication app, DataDirectory dataDirectory, BootstrapIdentity bootstrap, HoldfastServerOptions options) : IAsyncDisposable
{
    public DataDirectory DataDirectory { get; } = dataDirectory;

    public BootstrapIdentity Bootstrap { get; } = bootstrap;

    public HoldfastServerOptions Options { get; } = options;

    /// <summary>Where host agents connect: the agent listener as actually bound (its port when 0 was asked for).</summary>
    public Uri? AgentEndpoint { get; init; }

    /// <summary>The server's services (tests reach the placement service, the agent side, drain and usage sampling).</summary>
    internal IServiceProvider Services => app.Services;

    /// <summary>Every mapped endpoint (Authorization: the endpoint walk in test/Server.Tests checks each one authorizes).</summary>
    internal IReadOnlyList<Microsoft.AspNetCore.Http.Endpoint> Endpoints =>
        app.Services.GetServices<Microsoft.AspNetCore.Routing.EndpointDataSource>().SelectMany(s => s.Endpoints).ToList();

    public Task WaitForShutdownAsync(CancellationToken cancellationToken) => app.WaitForShutdownAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => app.StopAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
        await app.DisposeAsync().ConfigureAwait(false);
    }
}
