using System.Net;
using System.Text.Json;

namespace Holdfast.Server.IntegrationTests.Infrastructure;

/// <summary>Reads ARM's error envelope, failing the test if the body is not one.</summary>
public static class Envelope
{
    public static async Task<(HttpStatusCode Status, string? Code, string Message)> ReadAsync(HttpResponseMessage response)
    {
        ArgumentNullException.ThrowIfNull(response);
        var text = await response.Content.ReadAsStringAsync();
        if (response.IsSuccessStatusCode)
        {
            return (response.StatusCode, null, text);
        }

        using var document = JsonDocument.Parse(text);
        var error = document.RootElement.GetProperty("error");
        var message = error.GetProperty("message").GetString()!;
        Assert.False(string.IsNullOrWhiteSpace(message));
        Assert.True(response.Headers.Contains("x-ms-request-id"), "every response carries x-ms-request-id");
        Assert.True(response.Headers.Contains("x-ms-correlation-request-id"), "every response carries x-ms-correlation-request-id");
        return (response.StatusCode, error.GetProperty("code").GetString(), message);
    }
}
