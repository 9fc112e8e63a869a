using System.Text.Json.Nodes;
using Holdfast.Server.Arm;
using Holdfast.Server.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Holdfast.Server.Identity;

/// <summary>
/// Operator actions on the token-signing keys: <c>POST /providers/Holdfast.Identity/rotateSigningKey</c> makes a new
/// key active (JWKS keeps serving the old one until tokens it signed have expired) and <c>GET …/signingKeys</c> lists
/// the keys in force. Public halves only; private keys never leave the data directory.
/// </summary>
internal static class SigningKeyEndpoints
{
    /// <summary>The last signing-key rotation request; written in the rotation's activity-log transaction.</summary>
    internal const string RotationMarkerKey = "/signingkeys/lastrotation";

    public static void Map(IEndpointRouteBuilder routes)
    {
        routes.MapPost("/providers/" + DirectoryApi.Namespace + "/rotateSigningKey", RotateAsync).WithMetadata(DirectoryApi.Metadata);
        routes.MapGet("/providers/" + DirectoryApi.Namespace + "/signingKeys", ListAsync).WithMetadata(DirectoryApi.Metadata);
    }

    private static async Task RotateAsync(HttpContext context)
    {
        await context.RequestServices.GetRequiredService<RequestAuthorizer>().AuthorizeAsync(context, DirectoryApi.Namespace + "/rotateSigningKey/action", DirectoryApi.OperatorScope).ConfigureAwait(false);
        var keys = context.RequestServices.GetRequiredService<SigningKeySet>();

        // The rotation is recorded (a marker key committed with the request's activity-log record, durably) before it
        // takes effect: a rotation that cannot be logged does not happen.
        var data = context.RequestServices.GetRequiredService<ArmData>();
        var marker = System.Text.Encoding.UTF8.GetBytes(new JsonObject { ["requestId"] = ArmRequest.Of(context).RequestId, ["at"] = data.Time.GetUtcNow().ToString("O", System.Globalization.CultureInfo.InvariantCulture) }.ToJsonString());
        await data.CommitAsync(context, new Holdfast.State.TxnRequest([], [Holdfast.State.TxnOp.Put(RotationMarkerKey, marker)]), StatusCodes.Status200OK).ConfigureAwait(false);
        await keys.RotateAsync(context.RequestAborted).ConfigureAwait(false);
        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, Describe(keys)).ConfigureAwait(false);
    }

    private static async Task ListAsync(HttpContext context)
    {
        await context.RequestServices.GetRequiredService<RequestAuthorizer>().AuthorizeAsync(context, DirectoryApi.Namespace + "/signingKeys/read", DirectoryApi.OperatorScope).ConfigureAwait(false);
        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, Describe(context.RequestServices.GetRequiredService<SigningKeySet>())).ConfigureAwait(false);
    }

    private static JsonObject Describe(SigningKeySet keys)
    {
        var current = keys.Current;
        var value = new JsonArray();
        for (var i = 0; i < current.Count; i++)
        {
            var retiredAt = i == 0 ? null : keys.RetiredAt(current[i].KeyId);
            value.Add(new JsonObject
            {
                ["kid"] = current[i].KeyId,
                ["active"] = i == 0,
                ["retiredAt"] = retiredAt?.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture),
            });
        }

        return new JsonObject { ["activeKeyId"] = current[0].KeyId, ["value"] = value };
    }
}
