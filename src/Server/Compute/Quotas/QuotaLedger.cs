using System.Net;
using System.Text.Json;
using Holdfast.Capacity.Catalog;
using Holdfast.Providers.Framework;
using Holdfast.Resources.Errors;
using Holdfast.State;

namespace Holdfast.Server.Compute.Quotas;

/// <summary>
/// Per-subscription compute quotas (docs/designs/0005-compute.md). Limits an operator set live at
/// <see cref="LimitsKey"/> (absent values take the defaults below); what the subscription uses lives at
/// <see cref="UsageKey"/>. A charge or credit is a compare on both keys' revisions and a rewrite of the usage, returned
/// as an <see cref="Admission"/> so it commits in the same transaction as the VM's own write or removal: two requests
/// racing for the last cores cannot both win, and usage never drifts from the VMs that exist.
/// </summary>
internal sealed class QuotaLedger(IStateStore store)
{
    /// <summary>Azure's default for a pay-as-you-go subscription's total regional vCPUs is in this range; ours is 100.</summary>
    public const int DefaultTotalRegionalVCpus = 100;

    /// <summary>Each VM family's vCPUs, unless the operator set it.</summary>
    public const int DefaultFamilyVCpus = 100;

    /// <summary>Azure's regional limit on virtual machines per subscription.</summary>
    public const int DefaultVirtualMachines = 25000;

    public const string QuotaExceededCode = "QuotaExceeded";

    public const string LimitsPrefix = "/capacity/quotas/";
    public const string UsagePrefix = "/capacity/usage/";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };

    public static string LimitsKey(string subscriptionId) => LimitsPrefix + subscriptionId.ToLowerInvariant();

    public static string UsageKey(string subscriptionId) => UsagePrefix + subscriptionId.ToLowerInvariant();

    public async Task<(QuotaLimits Limits, KeyValue? Stored)> ReadLimitsAsync(string subscriptionId, CancellationToken cancellationToken)
    {
        var kv = await store.GetAsync(LimitsKey(subscriptionId), cancellationToken).ConfigureAwait(false);
        return (kv is null ? new QuotaLimits() : Deserialize<QuotaLimits>(kv.Value), kv);
    }

    public async Task<(QuotaUsage Usage, KeyValue? Stored)> ReadUsageAsync(string subscriptionId, CancellationToken cancellationToken)
    {
        var kv = await store.GetAsync(UsageKey(subscriptionId), cancellationToken).ConfigureAwait(false);
        return (kv is null ? new QuotaUsage() : Deserialize<QuotaUsage>(kv.Value), kv);
    }

    /// <summary>
    /// Charges one VM of <paramref name="size"/>: throws Azure's refusal when it would exceed a limit (nothing is
    /// written then), else the compares and the usage rewrite to commit with the VM.
    /// </summary>
    public async ValueTask<Admission> ChargeAsync(string subscriptionId, VmSize size, string location, CancellationToken cancellationToken)
    {
        var (limits, limitsStored) = await ReadLimitsAsync(subscriptionId, cancellationToken).ConfigureAwait(false);
        var (usage, usageStored) = await ReadUsageAsync(subscriptionId, cancellationToken).ConfigureAwait(false);
        var family = VmSizeCatalog.FindFamily(size.Family)!;
        var familyUsed = usage.FamilyVCpus(size.Family);
        var familyLimit = limits.FamilyLimit(size.Family);
        if (familyUsed + size.VCpus > familyLimit)
        {
            throw QuotaExceeded($"{family.Name} Cores", location, familyLimit, familyUsed, size.VCpus);
        }

        if (usage.VCpus + size.VCpus > limits.EffectiveTotalRegionalVCpus)
        {
            throw QuotaExceeded("Total Regional Cores", location, limits.EffectiveTotalRegionalVCpus, usage.VCpus, size.VCpus);
        }

        if (usage.VirtualMachines + 1 > limits.EffectiveVirtualMachines)
        {
            throw QuotaExceeded("Virtual Machines", location, limits.EffectiveVirtualMachines, usage.VirtualMachines, 1);
        }

        return Rewrite(subscriptionId, usage.With(size, +1), limitsStored, usageStored);
    }

    /// <summary>
    /// Moves one VM from <paramref name="from"/> to <paramref name="to"/> (a resize): with <paramref name="check"/>, throws
    /// Azure's refusal when the added vCPUs would exceed the family or regional limit; without it (undoing a failed
    /// resize) never refuses. Returns the compares and the usage rewrite to commit with the VM.
    /// </summary>
    public async ValueTask<Admission> ResizeAsync(string subscriptionId, VmSize from, VmSize to, string location, bool check, CancellationToken cancellationToken)
    {
        var (limits, limitsStored) = await ReadLimitsAsync(subscriptionId, cancellationToken).ConfigureAwait(false);
        var (usage, usageStored) = await ReadUsageAsync(subscriptionId, cancellationToken).ConfigureAwait(false);
        var next = usage.With(from, -1).With(to, +1);
        if (check)
        {
            var familyAdded = next.FamilyVCpus(to.Family) - usage.FamilyVCpus(to.Family);
            if (familyAdded > 0 && next.FamilyVCpus(to.Family) > limits.FamilyLimit(to.Family))
            {
                throw QuotaExceeded($"{VmSizeCatalog.FindFamily(to.Family)!.Name} Cores", location, limits.FamilyLimit(to.Family), usage.FamilyVCpus(to.Family), familyAdded);
            }

            var added = next.VCpus - usage.VCpus;
            if (added > 0 && next.VCpus > limits.EffectiveTotalRegionalVCpus)
            {
                throw QuotaExceeded("Total Regional Cores", location, limits.EffectiveTotalRegionalVCpus, usage.VCpus, added);
            }
        }

        return Rewrite(subscriptionId, next with { VirtualMachines = usage.VirtualMachines }, limitsStored, usageStored, compareLimits: check);
    }

    /// <summary>Credits one VM of <paramref name="size"/> back (never below zero), to commit with the VM's removal.</summary>
    public async ValueTask<Admission> CreditAsync(string subscriptionId, VmSize size, CancellationToken cancellationToken)
    {
        var (usage, usageStored) = await ReadUsageAsync(subscriptionId, cancellationToken).ConfigureAwait(false);
        return Rewrite(subscriptionId, usage.With(size, -1), null, usageStored, compareLimits: false);
    }

    public static byte[] Serialize<T>(T value) => JsonSerializer.SerializeToUtf8Bytes(value, Json);

    private static T Deserialize<T>(ReadOnlyMemory<byte> value) => JsonSerializer.Deserialize<T>(value.Span, Json) ?? throw new JsonException($"A stored {typeof(T).Name} was null.");

    private static Admission Rewrite(string subscriptionId, QuotaUsage next, KeyValue? limitsStored, KeyValue? usageStored, bool compareLimits = true)
    {
        var usageKey = UsageKey(subscriptionId);
        var compares = new List<Compare> { usageStored is null ? Compare.Absent(usageKey) : Compare.ModRevisionIs(usageKey, usageStored.ModRevision) };
        if (compareLimits)
        {
            // A limit lowered meanwhile must be seen: the decision is guarded by the limits it read.
            var limitsKey = LimitsKey(subscriptionId);
            compares.Add(limitsStored is null ? Compare.Absent(limitsKey) : Compare.ModRevisionIs(limitsKey, limitsStored.ModRevision));
        }

        return new Admission(compares, [TxnOp.Put(usageKey, Serialize(next))]);
    }

    /// <summary>
    /// Azure's answer to a VM write beyond quota: 409 <c>OperationNotAllowed</c> whose detail is <c>QuotaExceeded</c>
    /// (what template deployments surface), with Azure's message.
    /// </summary>
    private static ApiException QuotaExceeded(string quotaName, string location, int limit, int used, int required)
    {
        var message = $"Operation could not be completed as it results in exceeding approved {quotaName} quota. Additional details - Deployment Model: Resource Manager, Location: {location}, Current Limit: {limit}, Current Usage: {used}, Additional Required: {required}, (Minimum) New Limit Required: {used + required}. Ask the cloud operator to raise the quota.";
        return new ApiException(HttpStatusCode.Conflict, "OperationNotAllowed", message, details: [new ApiError(QuotaExceededCode, message)]);
    }

}

/// <summary>What an operator set for a subscription; null (or an absent family) means the default.</summary>
internal sealed record QuotaLimits
{
    public int? TotalRegionalVCpus { get; init; }

    public int? VirtualMachines { get; init; }

    public Dictionary<string, int> Families { get; init; } = new(StringComparer.OrdinalIgnoreCase);

    public int EffectiveTotalRegionalVCpus => TotalRegionalVCpus ?? QuotaLedger.DefaultTotalRegionalVCpus;

    public int EffectiveVirtualMachines => VirtualMachines ?? QuotaLedger.DefaultVirtualMachines;

    public int FamilyLimit(string family) =>
        Families.FirstOrDefault(f => string.Equals(f.Key, family, StringComparison.OrdinalIgnoreCase)) is { Key: not null } set ? set.Value : QuotaLedger.DefaultFamilyVCpus;
}

/// <summary>What a subscription uses: vCPUs in total and per family, and its number of VMs.</summary>
internal sealed record QuotaUsage
{
    public int VCpus { get; init; }

    public int VirtualMachines { get; init; }

    public Dictionary<string, int> Families { get; init; } = new(StringComparer.OrdinalIgnoreCase);

    public int FamilyVCpus(string family) =>
        Families.FirstOrDefault(f => string.Equals(f.Key, family, StringComparison.OrdinalIgnoreCase)) is { Key: not null } used ? used.Value : 0;

    /// <summary>This usage with <paramref name="count"/> VMs of <paramref name="size"/> added (negative: removed), never below zero.</summary>
    public QuotaUsage With(VmSize size, int count)
    {
        var families = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in Families)
        {
            families[name] = value;
        }

        families[size.Family] = Math.Max(0, FamilyVCpus(size.Family) + (count * size.VCpus));
        return new QuotaUsage
        {
            VCpus = Math.Max(0, VCpus + (count * size.VCpus)),
            VirtualMachines = Math.Max(0, VirtualMachines + count),
            Families = families,
        };
    }
}
