using Holdfast.Providers.Framework;
using Holdfast.Server.Compute.AvailabilitySets;
using Holdfast.Server.Compute.Disks;
using Holdfast.Server.Compute.Images;
using Holdfast.Server.Compute.Quotas;
using Holdfast.Server.Compute.Reservations;
using Holdfast.Server.Compute.VirtualMachines;
using Holdfast.Server.Fabric;
using Holdfast.State;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Holdfast.Server.Compute;

/// <summary>
/// Microsoft.Compute: virtual machines placed by the capacity service, and capacity reservations. It lives in Server,
/// not Providers, because its handlers use the capacity service (docs/designs/0005-compute.md).
/// </summary>
internal static class ComputeProvider
{
    public const string Namespace = "Microsoft.Compute";

    public const string VirtualMachinesType = Namespace + "/virtualMachines";

    /// <summary>
    /// Microsoft.Compute's versions from 2020-06-01 (what Azure Stack Hub's 2020-09-01-hybrid profile sends) to
    /// 2025-04-01; 2023-07-01 is Azure.ResourceManager.Compute 1.2.0's default and 2025-04-01 @azure/arm-compute 23.1.0's.
    /// Capacity reservations exist from 2021-04-01.
    /// </summary>
    public static readonly IReadOnlyList<string> ApiVersions =
    [
        "2025-04-01", "2024-11-01", "2024-07-01", "2024-03-01", "2023-09-01", "2023-07-01", "2023-03-01", "2022-11-01",
        "2022-08-01", "2022-03-01", "2021-11-01", "2021-07-01", "2021-04-01", "2021-03-01", "2020-12-01", "2020-06-01",
    ];

    /// <summary>
    /// Microsoft.Compute/disks has its own versions (the disk resource provider's): 2019-07-01 (Azure Stack Hub's
    /// 2020-09-01-hybrid profile) to 2025-01-02; 2023-04-02 is Azure.ResourceManager.Compute 1.2.0's default and
    /// 2025-01-02 @azure/arm-compute 23.1.0's.
    /// </summary>
    public static readonly IReadOnlyList<string> DiskApiVersions =
    [
        "2025-01-02", "2024-03-02", "2023-10-02", "2023-04-02", "2023-01-02", "2022-07-02", "2022-03-02", "2021-12-01",
        "2021-08-01", "2021-04-01", "2020-12-01", "2020-09-30", "2020-06-30", "2020-05-01", "2019-07-01",
    ];

    public static IReadOnlyList<string> ReservationApiVersions { get; } = [.. ApiVersions.Where(v => string.CompareOrdinal(v, "2021-04-01") >= 0)];

    public static ResourceProviderDefinition Create(IServiceProvider services)
    {
        var capacity = services.GetRequiredService<CapacityService>();
        var store = services.GetRequiredService<IStateStore>();
        var location = services.GetRequiredService<HoldfastServerOptions>().Location;
        var quotas = new QuotaLedger(store);
        return new ResourceProviderDefinition(Namespace,
        [
            // Azure's VMs carry an etag from 2023-07-01; older clients ignore it.
            new ResourceTypeDefinition(Namespace, "virtualMachines", ApiVersions, new VirtualMachineHandler(capacity, quotas, store, location, services.GetRequiredService<ILogger<VirtualMachineHandler>>())),
            new ResourceTypeDefinition(Namespace, "availabilitySets", ApiVersions, new AvailabilitySetHandler()) { CreateReturnsOk = true },
            new ResourceTypeDefinition(Namespace, "disks", DiskApiVersions, new DiskHandler()) { CreateReturnsOk = true },
            new ResourceTypeDefinition(Namespace, "images", ApiVersions, new ImageHandler()),
            new ResourceTypeDefinition(Namespace, "capacityReservationGroups", ReservationApiVersions, new CapacityReservationGroupHandler(store)),
            new ResourceTypeDefinition(Namespace, "capacityReservationGroups/capacityReservations", ReservationApiVersions, new CapacityReservationHandler(capacity, store, location)),
        ]);
    }
}
