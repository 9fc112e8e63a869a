namespace Holdfast.State.Etcd.Tests;

/// <summary>
/// The whole conformance suite again through etcd's JSON gateway (<c>--etcd-api gateway</c>): one real etcd member per
/// test, as <see cref="EtcdStateStoreConformanceTests"/> does over gRPC.
/// </summary>
public sealed class EtcdGatewayConformanceTests : EtcdStateStoreConformanceTests
{
    protected override EtcdApi Api => EtcdApi.Gateway;
}
