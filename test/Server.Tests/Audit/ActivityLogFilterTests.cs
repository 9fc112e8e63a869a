using System.Net;
using Holdfast.Resources.Errors;
using Holdfast.Server.Audit;

namespace Holdfast.Server.Tests.Audit;

public sealed class ActivityLogFilterTests
{
    [Fact]
    public void Parse_EveryClause_ReadsEachField()
    {
        var filter = ActivityLogFilter.Parse(
            "eventTimestamp ge '2026-01-01T00:00:00Z' and eventTimestamp le '2026-01-02' AND resourceGroupName eq 'rg' and resourceId eq '/subscriptions/s/resourceGroups/rg' and correlationId eq 'c' and caller eq 'app'");

        Assert.Equal(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero), filter.From);
        Assert.Equal(new DateTimeOffset(2026, 1, 2, 0, 0, 0, TimeSpan.Zero), filter.To);
        Assert.Equal("rg", filter.ResourceGroupName);
        Assert.Equal("/subscriptions/s/resourceGroups/rg", filter.ResourceId);
        Assert.Equal("c", filter.CorrelationId);
        Assert.Equal("app", filter.Caller);
    }

    [Fact]
    public void Parse_AndInsideAQuotedValue_IsPartOfTheValue()
    {
        var filter = ActivityLogFilter.Parse("eventTimestamp ge '2026-01-01' and resourceGroupName eq 'salt and pepper''s'");
        Assert.Equal("salt and pepper's", filter.ResourceGroupName);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("resourceGroupName eq 'rg'")]
    [InlineData("eventTimestamp ge 'not a time'")]
    [InlineData("eventTimestamp gt '2026-01-01'")]
    [InlineData("eventTimestamp ge '2026-01-02' and eventTimestamp le '2026-01-01'")]
    [InlineData("eventTimestamp ge '2026-01-01' and status eq 'Failed'")]
    [InlineData("eventTimestamp ge '2026-01-01' or caller eq 'x'")]
    [InlineData("eventTimestamp ge 2026-01-01")]
    public void Parse_MissingOrMalformed_Is400BadRequest(string text)
    {
        var error = Assert.Throws<ApiException>(() => ActivityLogFilter.Parse(text));
        Assert.Equal(HttpStatusCode.BadRequest, error.StatusCode);
        Assert.Equal(ArmErrorCodes.BadRequest, error.Code);
    }

    [Fact]
    public void Parse_OverlongFilter_Is400()
    {
        var text = "eventTimestamp ge '2026-01-01' and caller eq '" + new string('x', 5000) + "'";
        Assert.Equal(HttpStatusCode.BadRequest, Assert.Throws<ApiException>(() => ActivityLogFilter.Parse(text)).StatusCode);
    }
}
