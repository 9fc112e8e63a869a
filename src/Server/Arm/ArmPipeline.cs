using System.Net;
using Holdfast.Resources.Errors;
using Holdfast.Server.Arm.Errors;
using Holdfast.Server.Arm.Throttling;
using Holdfast.Server.Identity;
using Holdfast.State;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace Holdfast.Server.Arm;

/// <summary>
/// The cross-cutting ARM behaviour every request gets, in order: request and correlation ids, authentication,
/// api-version presence and support, throttling, then the endpoint; any failure becomes the ARM envelope with a 4xx
/// (a 500 only for a genuine server fault, which is logged). Unknown routes and methods get 404/405 envelopes.
/// Authorization is enforced centrally: an endpoint that is neither anonymous nor <c>AuthenticatedOnly</c> must record
/// an RBAC decision (<c>RequestAuthorizer</c>) before it answers; one that answers without it gets a 500 and an error
/// log instead, so a forgotten check fails every test that reaches it rather than silently allowing.
/// </summary>
internal sealed partial class ArmPipeline(RequestDelegate next, BearerAuthenticator authenticator, RequestThrottle throttle, Audit.AuditRecorder audit, ILogger<ArmPipeline> logger)
{
    private const string MethodNotSupportedEndpoint = "405 HTTP Method Not Supported";

    public async Task InvokeAsync(HttpContext context)
    {
        var request = context.Request;
        var correlation = request.Headers["x-ms-correlation-request-id"].ToString();
        var arm = new ArmRequest
        {
            RequestId = Guid.NewGuid().ToString(),
            CorrelationId = Guid.TryParse(correlation, out _) ? correlation : Guid.NewGuid().ToString(),
        };
        context.Features.Set(arm);
        var headers = context.Response.Headers;
        headers["x-ms-request-id"] = arm.RequestId;
        headers["x-ms-correlation-request-id"] = arm.CorrelationId;
        var clientRequestId = request.Headers["x-ms-client-request-id"].ToString();
        if (clientRequestId.Length > 0 && clientRequestId.Length <= 128)
        {
            headers["x-ms-client-request-id"] = clientRequestId;
        }

        try
        {
            var endpoint = context.GetEndpoint();
            var metadata = endpoint?.Metadata.GetMetadata<ArmEndpointMetadata>();
            if (metadata?.Anonymous == true)
            {
                await next(context).ConfigureAwait(false);
                return;
            }

            arm.Principal = await authenticator.AuthenticateAsync(request).ConfigureAwait(false);
            if (endpoint is null)
            {
                throw new ApiException(HttpStatusCode.NotFound, "NotFound", $"No HTTP resource was found that matches the request URI '{request.Path}'.");
            }

            if (metadata is null)
            {
                if (endpoint.DisplayName == MethodNotSupportedEndpoint)
                {
                    throw new ApiException(HttpStatusCode.MethodNotAllowed, ArmErrorCodes.MethodNotAllowed, $"The requested resource does not support http method '{request.Method}'.");
                }

                throw new ApiException(HttpStatusCode.NotFound, "NotFound", $"No HTTP resource was found that matches the request URI '{request.Path}'.");
            }

            if (!metadata.IgnoreApiVersion)
            {
                CheckApiVersion(request, metadata.ApiVersions);
            }

            var requestClass = ClassOf(request.Method);
            var subscription = context.GetRouteValue("subscriptionId") as string;
            var remaining = throttle.Take(subscription?.ToLowerInvariant() ?? "tenant:" + arm.Principal.TenantId, arm.Principal.ObjectId, requestClass);
            if (remaining != long.MaxValue)
            {
                headers[requestClass switch
                {
                    RequestClass.Read => "x-ms-ratelimit-remaining-subscription-reads",
                    RequestClass.Write => "x-ms-ratelimit-remaining-subscription-writes",
                    _ => "x-ms-ratelimit-remaining-subscription-deletes",
                }] = remaining.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }

            // One response-start check, so its steps run in this order (callbacks run last-registered-first): the
            // authorization check settles the final status, then the activity log records that status.
            var requireAuthorization = !metadata.AuthenticatedOnly;
            context.Response.OnStarting(() => OnResponseStartingAsync(context, arm, requireAuthorization));
            await next(context).ConfigureAwait(false);
        }
        catch (ApiException ex)
        {
            await WriteErrorAsync(context, ex).ConfigureAwait(false);
        }
        catch (BadHttpRequestException ex)
        {
            await WriteErrorAsync(
                context,
                ex.StatusCode == StatusCodes.Status413PayloadTooLarge
                    ? ArmBody.TooLarge(context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize ?? 0)
                    : new ApiException(HttpStatusCode.BadRequest, ArmErrorCodes.BadRequest, "The request is malformed: " + ex.Message)).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; there is nobody to answer.
        }
        catch (StateStoreException ex) when (ex.IsTransient)
        {
            LogTransientStoreFailure(logger, ex, arm.CorrelationId);
            await WriteErrorAsync(context, new ApiException(HttpStatusCode.ServiceUnavailable, ArmErrorCodes.ServiceUnavailable, "The service is temporarily unavailable; retry the request.") { RetryAfterSeconds = 1 }).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            LogUnhandled(logger, ex, request.Method, arm.CorrelationId);
            await WriteErrorAsync(context, new ApiException(HttpStatusCode.InternalServerError, ArmErrorCodes.InternalServerError, $"An internal error occurred. Correlation id '{arm.CorrelationId}'.")).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Runs as the endpoint's response starts. First, it fails the response if the endpoint answers normally without an
    /// authorization decision (errors raised before the decision — bad api-version, unknown subscription, bad route —
    /// carry no data and stay as they are). Then, for a request that must be logged and committed no write of its own
    /// (an action without a write, an idempotent delete), it stores the record of the final status, durably; if that
    /// fails the answer becomes a 503 with no body, because nothing may be answered without its record.
    /// </summary>
    private async Task OnResponseStartingAsync(HttpContext context, ArmRequest arm, bool requireAuthorization)
    {
        var response = context.Response;
        if (requireAuthorization && arm.Action is null && !arm.Failed)
        {
            LogUnauthorizedEndpoint(logger, context.Request.Method, context.GetEndpoint()?.DisplayName ?? "(none)", arm.CorrelationId);
            response.StatusCode = StatusCodes.Status500InternalServerError;
            response.Headers["x-ms-failure-cause"] = "authorization-not-checked";

            // No byte of an unauthorized answer may leave: Kestrel refuses any body beyond this length.
            response.ContentLength = 0;
        }

        if (!arm.AuditRecorded && Audit.AuditRecorder.MustRecord(context.Request.Method, response.StatusCode)
            && !await audit.RecordAsync(context, response.StatusCode, errorCode: null).ConfigureAwait(false))
        {
            arm.Failed = true;
            response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            response.Headers.RetryAfter = "1";
            response.Headers["x-ms-failure-cause"] = "activity-log-unavailable";

            // The endpoint's own answer must not leave unrecorded: Kestrel refuses any body beyond this length.
            response.ContentLength = 0;
        }
    }

    private static void CheckApiVersion(HttpRequest request, IReadOnlyList<string>? supported)
    {
        if (supported is null)
        {
            return;
        }

        var apiVersion = request.Query["api-version"];
        if (apiVersion.Count == 0 || string.IsNullOrEmpty(apiVersion[0]))
        {
            throw ApiErrors.MissingApiVersion();
        }

        if (supported.Count > 0 && !supported.Contains(apiVersion[0]!, StringComparer.OrdinalIgnoreCase))
        {
            throw ApiErrors.InvalidApiVersion(apiVersion[0]!, string.Empty, supported);
        }
    }

    private static RequestClass ClassOf(string method) =>
        HttpMethods.IsGet(method) || HttpMethods.IsHead(method) ? RequestClass.Read
        : HttpMethods.IsDelete(method) ? RequestClass.Delete
        : RequestClass.Write;

    private async Task WriteErrorAsync(HttpContext context, ApiException exception)
    {
        // An error is a decision: the response-start check must not turn it into an unauthorized-answer 500.
        var arm = ArmRequest.Of(context);
        arm.Failed = true;

        // Activity log: the failed or refused request is recorded (durably) before its error goes out; if the record
        // cannot be stored the request is answered 503 instead, never without its record.
        var status = (int)exception.StatusCode;
        if (!arm.AuditRecorded && Audit.AuditRecorder.MustRecord(context.Request.Method, status)
            && !await audit.RecordAsync(context, status, exception.Code).ConfigureAwait(false))
        {
            exception = ActivityLogUnavailable();
        }

        if (context.Response.HasStarted)
        {
            return;
        }

        if (exception.StatusCode == HttpStatusCode.Unauthorized)
        {
            context.Response.Headers.WWWAuthenticate = $"Bearer error=\"invalid_token\", error_description=\"{exception.Code}\"";
        }

        await ArmErrorWriter.WriteAsync(context, exception).ConfigureAwait(false);
    }

    private static ApiException ActivityLogUnavailable() =>
        new(HttpStatusCode.ServiceUnavailable, ArmErrorCodes.ServiceUnavailable, "The request could not be recorded in the activity log; retry the request.") { RetryAfterSeconds = 1 };

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled failure in {Method} request {CorrelationId}")]
    private static partial void LogUnhandled(ILogger logger, Exception exception, string method, string correlationId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Endpoint {Endpoint} answered {Method} request {CorrelationId} without an authorization decision; answering 500")]
    private static partial void LogUnauthorizedEndpoint(ILogger logger, string method, string endpoint, string correlationId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Transient store failure in request {CorrelationId}")]
    private static partial void LogTransientStoreFailure(ILogger logger, Exception exception, string correlationId);
}
