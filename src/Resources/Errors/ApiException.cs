using System.Net;

namespace Holdfast.Resources.Errors;

/// <summary>
/// The one exception family for client-visible failures. It is rendered once, at the request boundary, as ARM's
/// envelope <c>{"error":{"code","message","target","details"}}</c> with <see cref="StatusCode"/>.
/// </summary>
public class ApiException : Exception
{
    public ApiException()
        : this(HttpStatusCode.InternalServerError, ArmErrorCodes.InternalServerError, "An internal error occurred.")
    {
    }

    public ApiException(string message)
        : this(HttpStatusCode.BadRequest, ArmErrorCodes.BadRequest, message)
    {
    }

    public ApiException(string message, Exception innerException)
        : base(message, innerException)
    {
        StatusCode = HttpStatusCode.BadRequest;
        Code = ArmErrorCodes.BadRequest;
        Details = [];
    }

    public ApiException(HttpStatusCode statusCode, string code, string message, string? target = null, IReadOnlyList<ApiError>? details = null)
        : base(message)
    {
        StatusCode = statusCode;
        Code = code;
        Target = target;
        Details = details ?? [];
    }

    public HttpStatusCode StatusCode { get; }

    public string Code { get; }

    public string? Target { get; }

    public IReadOnlyList<ApiError> Details { get; }

    /// <summary>Seconds a client should wait before retrying, for 429 and 503.</summary>
    public int? RetryAfterSeconds { get; init; }

    public ApiError ToError() => new(Code, Message, Target, Details.Count == 0 ? null : Details);

    /// <summary>Builds one 400 from every problem a validator found (YARP's habit: report all, not the first).</summary>
    public static ApiException FromValidation(IReadOnlyList<ApiError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (errors.Count == 1)
        {
            var only = errors[0];
            return new ApiException(HttpStatusCode.BadRequest, only.Code, only.Message, only.Target, only.Details);
        }

        return new ApiException(
            HttpStatusCode.BadRequest,
            ArmErrorCodes.InvalidRequestContent,
            $"The request content has {errors.Count} problems; see details.",
            details: errors);
    }
}

/// <summary>One error (or detail) in ARM's envelope.</summary>
public sealed record ApiError(string Code, string Message, string? Target = null, IReadOnlyList<ApiError>? Details = null);
