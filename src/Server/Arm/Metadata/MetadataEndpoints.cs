using System.Text.Json.Nodes;
using Holdfast.Identity.Tokens;
using Holdfast.Resources.Errors;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Holdfast.Server.Arm.Metadata;

/// <summary>
/// <c>GET /metadata/endpoints</c>, anonymous as in Azure, so tools can register this cloud: the Azure Stack Hub object
/// for <c>2015-01-01</c>/<c>1.0</c>/<c>2018-01-01</c> (az cloud register, go-autorest), the single cloud object for
/// 2022-09-01, and an array of clouds for 2019-05-01 (docs/research/arm-facts.md §3).
/// </summary>
internal static class MetadataEndpoints
{
    private static readonly string[] Versions = ["2022-09-01", "2020-06-01", "2019-05-01", "2018-01-01", "2015-01-01", "1.0"];

    public static void Map(IEndpointRouteBuilder routes)
    {
        routes.MapGet("/metadata/endpoints", WriteAsync).WithMetadata(new ArmEndpointMetadata(Anonymous: true));
    }

    private static Task WriteAsync(HttpContext context)
    {
        var apiVersion = context.Request.Query["api-version"].ToString();
        if (apiVersion.Length == 0)
        {
            throw ApiErrors.MissingApiVersion();
        }

        if (!Versions.Contains(apiVersion, StringComparer.OrdinalIgnoreCase))
        {
            throw ApiErrors.InvalidApiVersion(apiVersion, string.Empty, Versions);
        }

        var tokens = context.RequestServices.GetRequiredService<TokenService>();
        var root = ArmResponses.AbsoluteUrl(context, "/");
        var audience = tokens.Audience;
        var audiences = new JsonArray(audience, audience.TrimEnd('/'));
        JsonNode body = apiVersion switch
        {
            "2015-01-01" or "1.0" or "2018-01-01" => new JsonObject
            {
                ["galleryEndpoint"] = root,
                ["graphEndpoint"] = root,
                ["graphAudience"] = root,
                ["portalEndpoint"] = root,
                ["authentication"] = new JsonObject { ["loginEndpoint"] = root, ["audiences"] = audiences },
            },
            "2019-05-01" or "2020-06-01" => new JsonArray(Cloud(root, audiences)),
            _ => Cloud(root, audiences),
        };
        return ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, body);
    }

    private static JsonObject Cloud(string root, JsonArray audiences)
    {
        var host = new Uri(root).Host;
        return new JsonObject
        {
            ["name"] = "Holdfast",
            ["portal"] = root,
            ["resourceManager"] = root,
            ["authentication"] = new JsonObject
            {
                ["loginEndpoint"] = root,
                ["audiences"] = audiences,
                ["tenant"] = "common",
                ["identityProvider"] = "AAD",
            },
            ["media"] = root,
            ["graphAudience"] = root,
            ["graph"] = root,
            ["batch"] = root,
            ["sqlManagement"] = root,
            ["gallery"] = root,
            ["vmImageAliasDoc"] = root,
            ["activeDirectoryDataLake"] = root,
            ["microsoftGraphResourceId"] = root,
            ["suffixes"] = new JsonObject
            {
                ["storage"] = host,
                ["keyVaultDns"] = "vault." + host,
                ["sqlServerHostname"] = "database." + host,
                ["acrLoginServer"] = "azurecr." + host,
            },
        };
    }
}
