using Holdfast.Testing;

namespace Holdfast.Agent.Tests.Drivers.Qemu;

/// <summary>A fact that needs real QEMU: skipped, with the reason shown, only when qemu-system-x86_64 is not installed.</summary>
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
