using Holdfast.Capacity.Inventory;
using Holdfast.Fabric;
using Holdfast.Fabric.Protocol;

namespace Holdfast.Agent.Tests;

public sealed class ProtocolJsonTests
{
    [Fact]
    public void SyncResponse_DesiredInstanceWithoutSize_RoundTrips()
    {
        var response = new SyncResponse(HostState.InService, [new DesiredInstance("vm-1", new CapacityVector(2, 4096, 0, 0), null, PowerState.Running, 3)], 5, 20);

        var read = FabricJson.Deserialize<SyncResponse>(FabricJson.Serialize(response));

        var desired = Assert.Single(read.Desired);
        Assert.Equal(("vm-1", (string?)null, 3L), (desired.Id, desired.Size, desired.Epoch));
    }
}
