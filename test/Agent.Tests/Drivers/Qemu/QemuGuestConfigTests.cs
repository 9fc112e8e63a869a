using System.Text;
using Holdfast.Agent.Drivers.Qemu;
using Holdfast.Capacity.Inventory;
using Holdfast.Fabric;
using Holdfast.Fabric.Protocol;

namespace Holdfast.Agent.Tests.Drivers.Qemu;

/// <summary>The pure parts of the qemu driver's guest configuration: the user-mode network, customData and the guest spec on the wire.</summary>
public sealed class QemuGuestConfigTests
{
    [Theory]
    [InlineData("10.0.1.4", "10.0.1.0/24", ",net=10.0.1.0/24,dhcpstart=10.0.1.4")]
    [InlineData("10.50.3.200", "10.50.0.0/16", ",net=10.50.0.0/16,dhcpstart=10.50.3.200")]
    [InlineData("10.0.1.3", "10.0.1.0/24", "")]
    [InlineData("10.0.2.4", "10.0.1.0/24", "")]
    [InlineData("10.0.1.4", "10.0.1.0/29", "")]
    [InlineData("10.0.1.4", "not-a-prefix", "")]
    [InlineData(null, "10.0.1.0/24", "")]
    public void UserNetwork_AllocatedAddress_IsHandedOutByDhcpWhenItCanBe(string? ip, string? prefix, string expected)
    {
        Assert.Equal(expected, QemuVmDriver.UserNetwork(ip, prefix));
    }

    [Fact]
    public void UserData_Base64CustomData_IsDecodedByteForByte()
    {
        var bytes = Encoding.UTF8.GetBytes("#cloud-config\nhostname: x\n");

        Assert.Equal(bytes, CloudInitSeed.UserData(new GuestSpec { CustomData = Convert.ToBase64String(bytes) }));
        Assert.Empty(CloudInitSeed.UserData(new GuestSpec()));
    }

    [Fact]
    public void DesiredInstance_WithGuest_RoundTripsAndItsTextLeavesCustomDataOut()
    {
        var guest = new GuestSpec { ComputerName = "web1", CustomData = "c2VjcmV0", SshPublicKeys = ["ssh-ed25519 A"], DataDisks = [new GuestDataDisk(0, 4)] };
        var response = new SyncResponse(HostState.InService, [new DesiredInstance("vm-1", new CapacityVector(1, 1024, 0, 0), "Standard_B1s", PowerState.Running, 2, guest)], 5, 20);

        var read = Assert.Single(FabricJson.Deserialize<SyncResponse>(FabricJson.Serialize(response)).Desired).Guest!;

        Assert.Equal(("web1", "c2VjcmV0"), (read.ComputerName, read.CustomData));
        Assert.Equal(guest.DataDisks, read.DataDisks);
        Assert.DoesNotContain("c2VjcmV0", read.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("c2VjcmV0", response.Desired[0].ToString(), StringComparison.Ordinal);
    }
}
