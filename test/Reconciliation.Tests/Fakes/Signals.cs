namespace Holdfast.Reconciliation.Tests.Fakes;

internal static class Signals
{
    /// <summary>How long a test waits for a signal that should come at once; generous, so a busy machine never fails a test.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
}
