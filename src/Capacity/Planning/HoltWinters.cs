namespace Holdfast.Capacity.Planning;

/// <summary>
/// Additive Holt-Winters exponential smoothing (level, trend, season), fitted by a grid search over the smoothing
/// factors that minimises the one-step-ahead squared error. With fewer than two full seasons it falls back to Holt's
/// linear method (no season). Used on daily peaks with a weekly season (<see cref="DemandForecast"/>).
/// </summary>
public sealed class HoltWinters
{
    private static readonly double[] Grid = [0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9];

    private readonly double _level;
    private readonly double _trend;
    private readonly double[] _season;
    private readonly int _n;

    private HoltWinters(double alpha, double beta, double gamma, double level, double trend, double[] season, int n, double sse)
    {
        Alpha = alpha;
        Beta = beta;
        Gamma = gamma;
        _level = level;
        _trend = trend;
        _season = season;
        _n = n;
        SquaredError = sse;
    }

    public double Alpha { get; }

    public double Beta { get; }

    public double Gamma { get; }

    /// <summary>Whether a season was fitted (at least two full seasons of data).</summary>
    public bool Seasonal => _season.Length > 0;

    /// <summary>Sum of squared one-step-ahead errors of the chosen factors over the history.</summary>
    public double SquaredError { get; }

    /// <summary>Fits the model to <paramref name="series"/> (at least two points).</summary>
    public static HoltWinters Fit(IReadOnlyList<double> series, int seasonLength)
    {
        ArgumentNullException.ThrowIfNull(series);
        ArgumentOutOfRangeException.ThrowIfLessThan(series.Count, 2, nameof(series));
        ArgumentOutOfRangeException.ThrowIfLessThan(seasonLength, 1);
        var seasonal = seasonLength > 1 && series.Count >= 2 * seasonLength;
        HoltWinters? best = null;
        foreach (var alpha in Grid)
        {
            foreach (var beta in Grid)
            {
                foreach (var gamma in seasonal ? Grid : [0.0])
                {
                    var model = Run(series, seasonal ? seasonLength : 0, alpha, beta, gamma);
                    if (best is null || model.SquaredError < best.SquaredError)
                    {
                        best = model;
                    }
                }
            }
        }

        return best!;
    }

    /// <summary>The forecast <paramref name="steps"/> steps past the last observation (1 = the next one).</summary>
    public double Forecast(int steps)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        var season = _season.Length == 0 ? 0 : _season[(_n + steps - 1) % _season.Length];
        return _level + (steps * _trend) + season;
    }

    private static HoltWinters Run(IReadOnlyList<double> y, int m, double alpha, double beta, double gamma)
    {
        double level, trend;
        var season = new double[m];
        int start;
        if (m > 0)
        {
            // Initialisation from the full seasons: the trend from the first two season means; each season index as
            // the mean of its detrended deviations; the level as of the last point of season one.
            var seasons = y.Count / m;
            var means = new double[seasons];
            for (var k = 0; k < seasons; k++)
            {
                for (var i = 0; i < m; i++)
                {
                    means[k] += y[(k * m) + i] / m;
                }
            }

            trend = (means[1] - means[0]) / m;
            for (var i = 0; i < m; i++)
            {
                for (var k = 0; k < seasons; k++)
                {
                    season[i] += (y[(k * m) + i] - (means[k] + (trend * (i - ((m - 1) / 2.0))))) / seasons;
                }
            }

            level = means[0] + (trend * ((m - 1) / 2.0));
            start = m;
        }
        else
        {
            level = y[0];
            trend = y[1] - y[0];
            start = 1;
        }

        double sse = 0;
        for (var t = start; t < y.Count; t++)
        {
            var s = m > 0 ? season[t % m] : 0;
            var predicted = level + trend + s;
            sse += (y[t] - predicted) * (y[t] - predicted);
            var previousLevel = level;
            level = (alpha * (y[t] - s)) + ((1 - alpha) * (level + trend));
            trend = (beta * (level - previousLevel)) + ((1 - beta) * trend);
            if (m > 0)
            {
                season[t % m] = (gamma * (y[t] - level)) + ((1 - gamma) * s);
            }
        }

        return new HoltWinters(alpha, beta, gamma, level, trend, season, y.Count, sse);
    }
}
