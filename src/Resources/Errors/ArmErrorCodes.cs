namespace Holdfast.Resources.Errors;

/// <summary>Error codes as Azure Resource Manager spells them, so clients and scripts that match on them keep working.</summary>
public static class ArmErrorCodes
{
    public const string BadRequest = "BadRequest";
    public const string InternalServerError = "InternalServerError";
    public const string InvalidApiVersionParameter = "InvalidApiVersionParameter";
    public const string MissingApiVersionParameter = "MissingApiVersionParameter";
    public const string NoRegisteredProviderFound = "NoRegisteredProviderFound";
    public const string MissingSubscriptionRegistration = "MissingSubscriptionRegistration";
    public const string InvalidResourceNamespace = "InvalidResourceNamespace";
    public const string InvalidResourceType = "InvalidResourceType";
    public const string SubscriptionNotFound = "SubscriptionNotFound";
    public const string InvalidSubscriptionId = "InvalidSubscriptionId";
    public const string ResourceGroupNotFound = "ResourceGroupNotFound";
    public const string ResourceGroupBeingDeleted = "ResourceGroupBeingDeleted";
    public const string InvalidResourceGroup = "InvalidResourceGroup";
    public const string InvalidResourceGroupLocation = "InvalidResourceGroupLocation";
    public const string ResourceNotFound = "ResourceNotFound";
    public const string InvalidResourceName = "InvalidResourceName";
    public const string InvalidResourceLocation = "InvalidResourceLocation";
    public const string LocationRequired = "LocationRequired";
    public const string LocationNotAvailableForResourceType = "LocationNotAvailableForResourceType";
    public const string PreconditionFailed = "PreconditionFailed";
    public const string Conflict = "Conflict";
    public const string InvalidRequestContent = "InvalidRequestContent";
    public const string InvalidRequestFormat = "InvalidRequestFormat";
    public const string UnsupportedMediaType = "UnsupportedMediaType";
    public const string RequestEntityTooLarge = "RequestEntityTooLarge";
    public const string AuthenticationFailed = "AuthenticationFailed";
    public const string InvalidAuthenticationToken = "InvalidAuthenticationToken";
    public const string ExpiredAuthenticationToken = "ExpiredAuthenticationToken";
    public const string InvalidAuthenticationTokenAudience = "InvalidAuthenticationTokenAudience";
    public const string AuthorizationFailed = "AuthorizationFailed";
    public const string InvalidTag = "InvalidTag";
    public const string InvalidTagNameLength = "InvalidTagNameLength";
    public const string InvalidTagValueLength = "InvalidTagValueLength";
    public const string InvalidTagNameCharacters = "InvalidTagNameCharacters";
    public const string InvalidTagCount = "InvalidTagCount";
    public const string TooManyRequests = "TooManyRequests";
    public const string SubscriptionRequestsThrottled = "SubscriptionRequestsThrottled";
    public const string MethodNotAllowed = "MethodNotAllowed";
    public const string InvalidQueryParameterValue = "InvalidQueryParameterValue";
    public const string OperationNotFound = "OperationNotFound";
    public const string ServiceUnavailable = "ServiceUnavailable";
    public const string PropertyChangeNotAllowed = "PropertyChangeNotAllowed";
    public const string InvalidParameter = "InvalidParameter";
}
