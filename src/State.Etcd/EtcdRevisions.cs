namespace Holdfast.State.Etcd;

/// <summary>
/// The contract's revisions are etcd's minus one. A new etcd cluster is at revision 1 with nothing written and its
/// first write is revision 2, while the contract's empty store is at 0 and its first write is 1; every later write
/// advances both by exactly one, so the offset is fixed for the life of the cluster. Absent keys are 0 in both.
/// </summary>
internal static class EtcdRevisions
{
    public static long FromEtcd(long etcdRevision) => etcdRevision > 0 ? etcdRevision - 1 : 0;

    public static long ToEtcd(long revision) => revision + 1;

    /// <summary>
    /// A compare operand for mod or create revision. 0 stays 0 (absent), a revision gains one; the mapping keeps order,
    /// so equal/less/greater compare the same on both sides.
    /// </summary>
    public static long CompareOperand(long revision) => revision > 0 ? revision + 1 : revision;
}
