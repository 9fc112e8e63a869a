using System.Globalization;
using System.Text;
using Holdfast.Fabric.Protocol;

namespace Holdfast.Agent.Drivers.Qemu;

/// <summary>
/// A cloud-init NoCloud seed (an ISO 9660 image with volume id <c>cidata</c>) from a VM's osProfile: <c>meta-data</c>
/// (instance id, local hostname = computerName, public-keys), <c>user-data</c> (customData, decoded, byte for byte: on
/// Azure customData is the user data cloud-init reads), <c>vendor-data</c> (a #cloud-config that creates the admin user
/// with the SSH keys) and, when the network provider allocated an address, <c>network-config</c> (v2, DHCP: user-mode
/// networking hands out exactly that address). The files are written 0600 and removed once the ISO is built; their
/// content is never logged.
/// </summary>
internal static class CloudInitSeed
{
    public static async Task BuildAsync(string isoPath, string instanceId, GuestSpec guest, string genIsoImage, CancellationToken cancellationToken)
    {
        var directory = Path.Combine(Path.GetDirectoryName(isoPath)!, ".seed-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(directory);
        try
        {
            var files = new List<string>();
            void Write(string name, byte[] content)
            {
                var path = Path.Combine(directory, name);
                AgentFiles.WriteAtomic(path, content, isPrivate: true);
                files.Add(path);
            }

            Write("meta-data", Encoding.UTF8.GetBytes(MetaData(instanceId, guest)));
            Write("user-data", UserData(guest));
            Write("vendor-data", Encoding.UTF8.GetBytes(VendorData(guest)));
            if (guest.PrivateIpAddress is not null)
            {
                Write("network-config", Encoding.UTF8.GetBytes("version: 2\nethernets:\n  primary:\n    match:\n      name: \"e*\"\n    dhcp4: true\n"));
            }

            await ProcessRunner.RunAsync(genIsoImage, ["-quiet", "-output", isoPath, "-volid", "cidata", "-joliet", "-rock", .. files], TimeSpan.FromSeconds(60), cancellationToken).ConfigureAwait(false);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(isoPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>customData as bytes: base64 as ARM carries it (a value that is not base64 is taken as text).</summary>
    public static byte[] UserData(GuestSpec guest)
    {
        if (string.IsNullOrEmpty(guest.CustomData))
        {
            return [];
        }

        var buffer = new byte[guest.CustomData.Length];
        return Convert.TryFromBase64String(guest.CustomData, buffer, out var written) ? buffer[..written] : Encoding.UTF8.GetBytes(guest.CustomData);
    }

    private static string MetaData(string instanceId, GuestSpec guest)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"instance-id: {instanceId}\n");
        text.Append(CultureInfo.InvariantCulture, $"local-hostname: {Yaml(guest.ComputerName ?? instanceId)}\n");
        if (guest.SshPublicKeys.Count > 0)
        {
            text.Append("public-keys:\n");
            foreach (var key in guest.SshPublicKeys)
            {
                text.Append(CultureInfo.InvariantCulture, $"  - {Yaml(key)}\n");
            }
        }

        return text.ToString();
    }

    private static string VendorData(GuestSpec guest)
    {
        var text = new StringBuilder("#cloud-config\n");
        if (guest.AdminUsername is { Length: > 0 } user)
        {
            text.Append("users:\n");
            text.Append(CultureInfo.InvariantCulture, $"  - name: {Yaml(user)}\n    sudo: \"ALL=(ALL) NOPASSWD:ALL\"\n    shell: /bin/bash\n");
            if (guest.SshPublicKeys.Count > 0)
            {
                text.Append("    ssh_authorized_keys:\n");
                foreach (var key in guest.SshPublicKeys)
                {
                    text.Append(CultureInfo.InvariantCulture, $"      - {Yaml(key)}\n");
                }
            }
        }

        return text.ToString();
    }

    /// <summary>A YAML double-quoted scalar (backslash and quote escaped; control characters dropped).</summary>
    private static string Yaml(string value) =>
        "\"" + new string([.. value.Where(c => !char.IsControl(c))]).Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}
