using Holdfast.Capacity.Planning;

namespace Holdfast.Capacity.Tests.Planning;

public sealed class HoltWintersTests
{
    [Fact]
    public void Forecast_LinearSeries_ContinuesTheLine()
    {
        var series = Enumerable.Range(0, 30).Select(t => 10.0 + (2.0 * t)).ToList();

        var model = HoltWinters.Fit(series, seasonLength: 7);

        Assert.Equal(10.0 + (2.0 * 34), model.Forecast(5), 3);
    }

    [Fact]
    public void Forecast_WeeklySeasonWithTrend_KeepsTheSeason()
    {
        double[] week = [0, 5, 5, 5, 5, 20, -10];
        var series = Enumerable.Range(0, 35).Select(t => 100.0 + t + week[t % 7]).ToList();

        var model = HoltWinters.Fit(series, seasonLength: 7);

        Assert.True(model.Seasonal);
        for (var step = 1; step <= 7; step++)
        {
            var t = 34 + step;
            Assert.Equal(100.0 + t + week[t % 7], model.Forecast(step), 0);
        }
    }

    [Fact]
    public void Fit_ShortSeries_FallsBackToHoltLinear()
    {
        var model = HoltWinters.Fit([1.0, 2.0, 3.0, 4.0], seasonLength: 7);

        Assert.False(model.Seasonal);
        Assert.Equal(6.0, model.Forecast(2), 6);
    }

    [Fact]
    public void Fit_OnePoint_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => HoltWinters.Fit([1.0], 7));
    }
}
