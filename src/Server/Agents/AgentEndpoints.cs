using System.Net;
using System.Text.Json;
using Holdfast.Fabric;
using Holdfast.Fabric.Protocol;
using Holdfast.Resources.Errors;
using Holdfast.Server.Arm.Errors;
using Holdfast.State;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Holdfast.Server.Agents;

/// <summary>
/// The agent port's only routes, <see cref="Paths.Join"/>, <see cref="Paths.Sync"/> and <see cref="Paths.Renew"/> (POST,
/// JSON in <see cref="FabricJson"/>'s form). Served as a terminal branch for connections to the agent listener, so the
/// ARM pipeline never sees them and the ARM port never serves them. Errors use ARM's envelope; a join or renewal refused
/// before its body could be read is recorded in the activity log too.
/// </summary>
internal static partial class AgentEndpoints
{
    private const int MaxBodyBytes = 1024 * 1024;

    public static async Task HandleAsync(HttpContext context)
    {
        var agents = context.RequestServices.GetRequiredService<AgentService>();
        var cancellationToken = context.RequestAborted;
        try
        {
            var path = context.Request.Path.Value ?? "";
            if (path is not (Paths.Join or Paths.Sync or Paths.Renew))
            {
                throw new ApiException(HttpStatusCode.NotFound, "NotFound", $"The agent port serves only {Paths.Join}, {Paths.Sync} and {Paths.Renew}.");
            }

            if (!HttpMethods.IsPost(context.Request.Method))
            {
                throw new ApiException(HttpStatusCode.MethodNotAllowed, ArmErrorCodes.MethodNotAllowed, $"{path} takes POST.");
            }

            var clientAddress = context.Connection.RemoteIpAddress?.ToString();
            if (path == Paths.Join)
            {
                var request = await ReadRecordingRefusalAsync<JoinRequest>(context, agents, path, clientAddress).ConfigureAwait(false);
                var response = await agents.JoinAsync(request, clientAddress, cancellationToken).ConfigureAwait(false);
                await WriteAsync(context, response).ConfigureAwait(false);
            }
            else if (path == Paths.Renew)
            {
                var certificate = await context.Connection.GetClientCertificateAsync(cancellationToken).ConfigureAwait(false);
                var request = await ReadRecordingRefusalAsync<RenewRequest>(context, agents, path, clientAddress).ConfigureAwait(false);
                var response = await agents.RenewAsync(certificate, request, clientAddress, cancellationToken).ConfigureAwait(false);
                context.Response.Headers.CacheControl = "no-store";
                await WriteAsync(context, response).ConfigureAwait(false);
            }
            else
            {
                var certificate = await context.Connection.GetClientCertificateAsync(cancellationToken).ConfigureAwait(false);
                var response = await agents.SyncAsync(certificate, await ReadAsync<SyncRequest>(context).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
                await WriteAsync(context, response).ConfigureAwait(false);
            }
        }
        catch (ApiException ex)
        {
            await ArmErrorWriter.WriteAsync(context, ex).ConfigureAwait(false);
        }
        catch (StateStoreException ex) when (ex.IsTransient)
        {
            await ArmErrorWriter.WriteAsync(context, new ApiException(HttpStatusCode.ServiceUnavailable, ArmErrorCodes.ServiceUnavailable, "The store is busy; retry.") { RetryAfterSeconds = 1 }).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogFailed(context.RequestServices.GetRequiredService<ILogger<AgentService>>(), context.Request.Path.Value ?? "", ex);
            await ArmErrorWriter.WriteAsync(context, new ApiException()).ConfigureAwait(false);
        }
    }

    private static async Task<T> ReadRecordingRefusalAsync<T>(HttpContext context, AgentService agents, string path, string? clientAddress)
        where T : class
    {
        try
        {
            return await ReadAsync<T>(context).ConfigureAwait(false);
        }
        catch (ApiException ex)
        {
            throw await agents.RefusedUnreadAsync(path, ex, clientAddress).ConfigureAwait(false);
        }
    }

    private static async Task<T> ReadAsync<T>(HttpContext context)
        where T : class
    {
        if (context.Request.ContentLength is > MaxBodyBytes)
        {
            throw new ApiException(HttpStatusCode.RequestEntityTooLarge, ArmErrorCodes.RequestEntityTooLarge, $"An agent request may be at most {MaxBodyBytes} bytes.");
        }

        try
        {
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer, context.RequestAborted).ConfigureAwait(false);
            if (buffer.Length > MaxBodyBytes)
            {
                throw new ApiException(HttpStatusCode.RequestEntityTooLarge, ArmErrorCodes.RequestEntityTooLarge, $"An agent request may be at most {MaxBodyBytes} bytes.");
            }

            return JsonSerializer.Deserialize<T>(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), FabricJson.Options)
                ?? throw new ApiException(HttpStatusCode.BadRequest, ArmErrorCodes.InvalidRequestContent, "The request body is empty.");
        }
        catch (JsonException ex)
        {
            throw new ApiException(HttpStatusCode.BadRequest, ArmErrorCodes.InvalidRequestContent, $"The request body is not a valid {typeof(T).Name}: {ex.Message}");
        }
    }

    private static async Task WriteAsync<T>(HttpContext context, T body)
    {
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json; charset=utf-8";
        await context.Response.Body.WriteAsync(FabricJson.Serialize(body), context.RequestAborted).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Agent request {Path} failed")]
    private static partial void LogFailed(ILogger logger, string path, Exception exception);
}
