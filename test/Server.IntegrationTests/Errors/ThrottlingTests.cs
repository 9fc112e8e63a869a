using System.Net;
using Holdfast.Server.IntegrationTests.Infrastructure;

namespace Holdfast.Server.IntegrationTests.Errors;

/// <summary>ARM's token-bucket budgets: past 250 quick reads a caller gets 429 SubscriptionRequestsThrottled with Retry-After.</summary>
public sealed class ThrottlingTests
{
    [Fact]
    public async Task ReadsPastTheBucket_Return429WithRetryAfterAndRemainingHeaders()
    {
        await using var server = await ServerProcess.StartAsync();
        using var http = await Clients.AuthenticatedHttpAsync(server.Credentials);
        var path = $"subscriptions/{server.Credentials.SubscriptionId}/resourcegroups?api-version=2022-09-01";
        var remaining = new List<long>();
        HttpResponseMessage? throttled = null;
        for (var i = 0; i < 1000 && throttled is null; i++)
        {
            var response = await http.GetAsync(path);
            if (response.StatusCode == (HttpStatusCode)429)
            {
                throttled = response;
                break;
            }

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            remaining.Add(long.Parse(response.Headers.GetValues("x-ms-ratelimit-remaining-subscription-reads").Single(), System.Globalization.CultureInfo.InvariantCulture));
            response.Dispose();
        }

        Assert.NotNull(throttled);
        using (throttled)
        {
            var (_, code, _) = await Envelope.ReadAsync(throttled);
            Assert.Equal("SubscriptionRequestsThrottled", code);
            Assert.True(throttled.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
        }

        Assert.True(remaining[0] > remaining[^1], "the remaining-reads header counts down");
    }
}
