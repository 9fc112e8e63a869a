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

            if (!metadata.AuthenticatedOnly)
            {
                RequireAuthorization(context, arm);
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

            // Activity log: a request that must be logged and committed no write of its own (an action without a
            // write, an idempotent delete) is recorded, durably, before its response starts.
            context.Response.OnStarting(() => !arm.AuditRecorded && Audit.AuditRecorder.MustRecord(request.Method, context.Response.StatusCode)
                ? audit.RecordAsync(context, context.Response.StatusCode, errorCode: null)
                : Task.CompletedTask);
            await next(context).ConfigureAwait(false);
        }
        catch (ApiException ex)
        {
            arm.Failed = true;
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
    /// Fails the response if the endpoint answers normally without an authorization decision. Errors raised before the
    /// decision (bad api-version, unknown subscription, bad route) carry no data and stay as they are.
    /// </summary>
    private void RequireAuthorization(HttpContext context, ArmRequest arm)
    {
        context.Response.OnStarting(() =>
        {
            if (arm.Action is null && !arm.Failed)
            {
                LogUnauthorizedEndpoint(logger, context.Request.Method, context.GetEndpoint()?.DisplayName ?? "(none)", arm.CorrelationId);
                context.Response.StatusCode = StatusCodes.Status500InternalServerError;
                context.Response.Headers["x-ms-failure-cause"] = "authorization-not-checked";

                // No byte of an unauthorized answer may leave: Kestrel refuses any body beyond this length.
                context.Response.ContentLength = 0;
            }

            return Task.CompletedTask;
        });
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
        // Activity log: the failed or refused request is recorded (durably) before its error goes out.
        var status = (int)exception.StatusCode;
        if (ArmRequest.Of(context) is { AuditRecorded: false } && Audit.AuditRecorder.MustRecord(context.Request.Method, status))
        {
            await audit.RecordAsync(context, status, exception.Code).ConfigureAwait(false);
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

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled failure in {Method} request {CorrelationId}")]
    private static partial void LogUnhandled(ILogger logger, Exception exception, string method, string correlationId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Endpoint {Endpoint} answered {Method} request {CorrelationId} without an authorization decision; answering 500")]
    private static partial void LogUnauthorizedEndpoint(ILogger logger, string method, string endpoint, string correlationId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Transient store failure in request {CorrelationId}")]
    private static partial void LogTransientStoreFailure(ILogger logger, Exception exception, string correlationId);
}
