using System.Net;
using Holdfast.Providers.Framework;
using Holdfast.Resources.Errors;

namespace Holdfast.Server.Arm;

/// <summary>Finds an operation for a status poll; one owned by another subscription is reported as not found.</summary>
internal static class OperationLookup
{
    public static async Task<OperationRecord> FindAsync(ArmData data, string subscriptionId, string operationId, CancellationToken cancellationToken)
    {
        var kv = await data.Store.GetAsync(ResourceKeys.Operation(operationId), cancellationToken).ConfigureAwait(false);
        var operation = kv is null ? null : OperationRecord.Deserialize(kv.Value);
        if (operation is null || !string.Equals(operation.SubscriptionId, subscriptionId, StringComparison.OrdinalIgnoreCase))
        {
            throw new ApiException(HttpStatusCode.NotFound, ArmErrorCodes.OperationNotFound, $"The operation '{operationId}' could not be found.");
        }

        return operation;
    }
}
