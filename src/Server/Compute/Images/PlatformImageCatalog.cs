namespace Holdfast.Server.Compute.Images;

/// <summary>One platform (marketplace) image sku: its publisher, offer, sku, OS and versions (oldest first).</summary>
internal sealed record PlatformImage(string Publisher, string Offer, string Sku, string OsType, string HyperVGeneration, int DiskSizeGB, IReadOnlyList<string> Versions)
{
    public string Latest => Versions[^1];

    public string Urn(string version) => $"{Publisher}:{Offer}:{Sku}:{version}";
}

/// <summary>
/// The built-in catalog of platform images that a VM's <c>imageReference</c> (publisher/offer/sku/version) resolves
/// against: the images Azure's SDK samples and quickstarts use, with Azure's names. <c>latest</c> is the newest version.
/// </summary>
internal static class PlatformImageCatalog
{
    public static IReadOnlyList<PlatformImage> Images { get; } =
    [
        new("Canonical", "0001-com-ubuntu-server-jammy", "22_04-lts-gen2", "Linux", "V2", 30, ["22.04.202409250", "22.04.202410020"]),
        new("Canonical", "0001-com-ubuntu-server-jammy", "22_04-lts", "Linux", "V1", 30, ["22.04.202409250", "22.04.202410020"]),
        new("Canonical", "0001-com-ubuntu-server-focal", "20_04-lts-gen2", "Linux", "V2", 30, ["20.04.202409110"]),
        new("Canonical", "0001-com-ubuntu-server-focal", "20_04-lts", "Linux", "V1", 30, ["20.04.202409110"]),
        new("Canonical", "ubuntu-24_04-lts", "server", "Linux", "V2", 30, ["24.04.202410010"]),
        new("Canonical", "UbuntuServer", "18.04-LTS", "Linux", "V1", 30, ["18.04.202306070"]),
        new("RedHat", "RHEL", "9-lvm-gen2", "Linux", "V2", 64, ["9.4.2024081414"]),
        new("Debian", "debian-12", "12-gen2", "Linux", "V2", 30, ["0.20241004.1887"]),
        new("MicrosoftWindowsServer", "WindowsServer", "2022-datacenter-azure-edition", "Windows", "V2", 127, ["20348.2700.240911", "20348.2762.241009"]),
        new("MicrosoftWindowsServer", "WindowsServer", "2022-datacenter", "Windows", "V1", 127, ["20348.2762.241006"]),
        new("MicrosoftWindowsServer", "WindowsServer", "2019-Datacenter", "Windows", "V1", 127, ["17763.6414.241004"]),
        new("MicrosoftWindowsServer", "WindowsServer", "2016-Datacenter", "Windows", "V1", 127, ["14393.7428.241004"]),
    ];

    /// <summary>The image and exact version a reference names (case-insensitive; <c>latest</c> or null is the newest), or null.</summary>
    public static (PlatformImage Image, string Version)? Resolve(string? publisher, string? offer, string? sku, string? version)
    {
        var image = Images.FirstOrDefault(i => string.Equals(i.Publisher, publisher, StringComparison.OrdinalIgnoreCase)
            && string.Equals(i.Offer, offer, StringComparison.OrdinalIgnoreCase)
            && string.Equals(i.Sku, sku, StringComparison.OrdinalIgnoreCase));
        if (image is null)
        {
            return null;
        }

        if (version is null || string.Equals(version, "latest", StringComparison.OrdinalIgnoreCase))
        {
            return (image, image.Latest);
        }

        var exact = image.Versions.FirstOrDefault(v => string.Equals(v, version, StringComparison.OrdinalIgnoreCase));
        return exact is null ? null : (image, exact);
    }
}
