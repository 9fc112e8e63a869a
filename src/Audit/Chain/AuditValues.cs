namespace Holdfast.Audit.Chain;

/// <summary>Event categories, as the ARM activity log names them. Holdfast records control-plane writes only.</summary>
public static class AuditCategories
{
    public const string Administrative = "Administrative";
}

/// <summary>Event levels, as the ARM activity log names them.</summary>
public static class AuditLevels
{
    public const string Informational = "Informational";
    public const string Warning = "Warning";
    public const string Error = "Error";
    public const string Critical = "Critical";
}

/// <summary>Event statuses, as the ARM activity log names them.</summary>
public static class AuditStatuses
{
    public const string Started = "Started";
    public const string Accepted = "Accepted";
    public const string Succeeded = "Succeeded";
    public const string Failed = "Failed";
}
