using Holdfast.Testing;

namespace Holdfast.Server.IntegrationTests.Agents;

/// <summary>A fact that boots real VMs: skipped, with the reason shown, only when qemu-system-x86_64 is not installed.</summary>
public sealed class QemuFactAttribute : FactAttribute
{
    public QemuFactAttribute()
    {
        if (QemuTestImage.MissingReason is { } reason)
        {
            Skip = reason;
        }
    }
}
