using Holdfast.Capacity.Inventory;
using Holdfast.Capacity.Planning;
using static Holdfast.Capacity.Tests.Fleet;

namespace Holdfast.Capacity.Tests.Planning;

public sealed class DemandForecastTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 5, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void DailyPeaks_SeveralSamplesADay_KeepsEachDimensionsMaximumAndFillsGaps()
    {
        UsageSample[] history =
        [
            new(Start.AddHours(1), "c1", Size(10, 4)),
            new(Start.AddHours(20), "c1", Size(4, 8)),
            new(Start.AddDays(2), "c1", Size(1, 1)),
        ];

        var peaks = DemandForecast.DailyPeaks(history)["c1"];

        Assert.Equal([Size(10, 8), Size(10, 8), Size(1, 1)], peaks);
    }

    [Fact]
    public void Forecast_GrowingDemand_SaysWhenTheClusterRunsOut()
    {
        // 200 vCPUs at the daily peak, growing 10 a day (the trough at night does not matter); 1,000 vCPUs of capacity.
        var history = Enumerable.Range(0, 28).SelectMany(day => new[]
        {
            new UsageSample(Start.AddDays(day).AddHours(3), "c1", Size(50 + (10 * day), 100)),
            new UsageSample(Start.AddDays(day).AddHours(15), "c1", Size(200 + (10 * day), 400)),
        });

        var forecast = Assert.Single(DemandForecast.Forecast(history, new Dictionary<string, CapacityVector> { ["c1"] = Size(1000, 4096) }));

        // Last peak 470 on day 27; 1,000 is reached 53 days later.
        Assert.Equal(28, forecast.HistoryDays);
        Assert.Equal("vCPUs", forecast.LimitingDimension);
        Assert.InRange(forecast.DaysUntilFull!.Value, 52, 54);
        Assert.Null(forecast.Dimensions.Single(d => d.Dimension == "memoryMiB").DaysUntilFull);
    }

    [Fact]
    public void Forecast_FlatDemand_NeverRunsOutWithinTheHorizon()
    {
        var history = Enumerable.Range(0, 21).Select(day => new UsageSample(Start.AddDays(day), "c1", Size(100, 100)));

        var forecast = Assert.Single(DemandForecast.Forecast(history, new Dictionary<string, CapacityVector> { ["c1"] = Size(200, 400) }));

        Assert.Null(forecast.DaysUntilFull);
        Assert.Null(forecast.LimitingDimension);
    }

    [Fact]
    public void Forecast_AlreadyFull_IsZeroDays()
    {
        var history = Enumerable.Range(0, 3).Select(day => new UsageSample(Start.AddDays(day), "c1", Size(200, 100)));

        var forecast = Assert.Single(DemandForecast.Forecast(history, new Dictionary<string, CapacityVector> { ["c1"] = Size(200, 400) }));

        Assert.Equal(0, forecast.DaysUntilFull);
    }

    [Fact]
    public void Forecast_ClusterWithoutHistory_HasNoDimensions()
    {
        var forecast = Assert.Single(DemandForecast.Forecast([], new Dictionary<string, CapacityVector> { ["empty"] = Size(8, 8) }));

        Assert.Equal(0, forecast.HistoryDays);
        Assert.Empty(forecast.Dimensions);
        Assert.Null(forecast.DaysUntilFull);
    }
}
