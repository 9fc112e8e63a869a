using Holdfast.Providers.Framework;

namespace Holdfast.Server.Audit;

/// <summary>
/// Microsoft.Insights as provider discovery shows it: only the activity log (<c>eventtypes</c>), served by
/// <see cref="ActivityLogEndpoints"/> rather than the generic resource pipeline.
/// </summary>
internal static class InsightsProvider
{
    public const string Namespace = "Microsoft.Insights";

    public static ResourceProviderDefinition Create() =>
        new(Namespace,
        [
            new ResourceTypeDefinition(Namespace, "eventtypes", [ActivityLogEndpoints.ApiVersion], new ServedElsewhere())
            {
                Scope = ResourceScope.Subscription,
                RequiresLocation = false,
                HasETag = false,
                IsGeneric = false,
            },
        ]);

    private sealed class ServedElsewhere : ResourceTypeHandler;
}
