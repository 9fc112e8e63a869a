namespace Holdfast.Providers.Framework;

/// <summary>ARM's provisioning states. Terminal ones end an operation; the others mean a reconcile is due.</summary>
public static class ProvisioningStates
{
    public const string Accepted = "Accepted";
    public const string Creating = "Creating";
    public const string Updating = "Updating";
    public const string Deleting = "Deleting";
    public const string Succeeded = "Succeeded";
    public const string Failed = "Failed";
    public const string Canceled = "Canceled";

    public static bool IsTerminal(string? state) =>
        state is null
        || state.Equals(Succeeded, StringComparison.OrdinalIgnoreCase)
        || state.Equals(Failed, StringComparison.OrdinalIgnoreCase)
        || state.Equals(Canceled, StringComparison.OrdinalIgnoreCase);
}
