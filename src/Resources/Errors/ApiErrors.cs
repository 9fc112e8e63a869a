using System.Net;

namespace Holdfast.Resources.Errors;

/// <summary>Factories for the common ARM failures, with Azure's wording.</summary>
public static class ApiErrors
{
    public static ApiException SubscriptionNotFound(string subscriptionId) =>
        new(HttpStatusCode.NotFound, ArmErrorCodes.SubscriptionNotFound, $"The subscription '{subscriptionId}' could not be found.");

    public static ApiException ResourceGroupNotFound(string resourceGroupName) =>
        new(HttpStatusCode.NotFound, ArmErrorCodes.ResourceGroupNotFound, $"Resource group '{resourceGroupName}' could not be found.");

    public static ApiException ResourceNotFound(string resourceType, string name) =>
        new(HttpStatusCode.NotFound, ArmErrorCodes.ResourceNotFound, $"The Resource '{resourceType}/{name}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix");

    public static ApiException MissingApiVersion() =>
        new(HttpStatusCode.BadRequest, ArmErrorCodes.MissingApiVersionParameter, "The api-version query parameter (?api-version=) is required for all requests.");

    public static ApiException InvalidApiVersion(string apiVersion, string resourceType, IEnumerable<string> supported, string? location = null) =>
        new(
            HttpStatusCode.BadRequest,
            ArmErrorCodes.InvalidApiVersionParameter,
            $"The api-version '{apiVersion}' is invalid. The supported versions are '{string.Join(",", supported)}'."
                + (resourceType.Length > 0 ? $" Resource type '{resourceType}'" + (location is null ? "." : $", location '{location}'.") : string.Empty),
            target: "api-version");

    public static ApiException NoRegisteredProvider(string resourceType, string apiVersion, IEnumerable<string> supported, string? location = null) =>
        new(
            HttpStatusCode.BadRequest,
            ArmErrorCodes.NoRegisteredProviderFound,
            $"No registered resource provider found for location '{location ?? "global"}' and API version '{apiVersion}' for type '{resourceType}'. The supported api-versions are '{string.Join(", ", supported)}'.");

    public static ApiException InvalidRequestContent(string message, string? target = null) =>
        new(HttpStatusCode.BadRequest, ArmErrorCodes.InvalidRequestContent, message, target);

    public static ApiException InvalidResourceName(string name, string resourceType, string rule) =>
        new(HttpStatusCode.BadRequest, ArmErrorCodes.InvalidResourceName, $"Resource name '{name}' is invalid for type '{resourceType}'. {rule}", "name");

    public static ApiException PreconditionFailed(string message) =>
        new(HttpStatusCode.PreconditionFailed, ArmErrorCodes.PreconditionFailed, message);

    public static ApiException LocationRequired() =>
        new(HttpStatusCode.BadRequest, ArmErrorCodes.LocationRequired, "The location property is required for this definition.", "location");

    public static ApiException Conflict(string message) =>
        new(HttpStatusCode.Conflict, ArmErrorCodes.Conflict, message);
}
