namespace Holdfast.Capacity.Placement;

/// <summary>
/// Why a request can or cannot be placed: of <see cref="HostsConsidered"/> hosts, how many each filter rejected (each
/// host counted once, against the first filter that rejected it) and how many passed every filter.
/// </summary>
public sealed record PlacementExplanation(int HostsConsidered, IReadOnlyDictionary<PlacementFilter, int> RejectedBy, int Candidates)
{
    /// <summary>One line an operator can read, e.g. "0 of 12 hosts fit: State rejected 2, Capacity rejected 10".</summary>
    public string Summary
    {
        get
        {
            var parts = RejectedBy.Where(p => p.Value > 0).OrderBy(p => p.Key).Select(p => $"{p.Key} rejected {p.Value}");
            var rejected = string.Join(", ", parts);
            return $"{Candidates} of {HostsConsidered} hosts fit" + (rejected.Length > 0 ? ": " + rejected : "");
        }
    }
}
