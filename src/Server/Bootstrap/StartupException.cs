namespace Holdfast.Server.Bootstrap;

/// <summary>A start-up problem the operator can fix (bad flag, unusable data directory); printed without a stack trace.</summary>
public sealed class StartupException : Exception
{
    public StartupException()
    {
    }

    public StartupException(string message)
        : base(message)
    {
    }

    public StartupException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
