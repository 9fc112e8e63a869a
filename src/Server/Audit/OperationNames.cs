namespace Holdfast.Server.Audit;

/// <summary>
/// The ARM action and scope a request path implies, for requests that end before authorization names them (a 401,
/// an unknown route, a malformed id): <c>PUT /subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v</c>
/// is <c>Microsoft.Network/virtualNetworks/write</c> at that id. RBAC's own action, when set, always wins.
/// </summary>
internal static class OperationNames
{
    public static (string Action, string Scope) Derive(string method, string path)
    {
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var verb = method.ToUpperInvariant() switch
        {
            "GET" or "HEAD" => "read",
            "DELETE" => "delete",
            "POST" => "action",
            _ => "write",
        };
        var providers = Array.FindLastIndex(segments, s => s.Equals("providers", StringComparison.OrdinalIgnoreCase));
        if (providers >= 0 && providers + 1 < segments.Length)
        {
            var types = new List<string> { segments[providers + 1] };
            var rest = segments.AsSpan(providers + 2);
            var end = providers + 2;
            for (var i = 0; i < rest.Length; i += 2)
            {
                if (i + 1 >= rest.Length && verb == "action")
                {
                    // An odd trailing segment of a POST is the action's name (…/virtualMachines/vm/start).
                    types.Add(rest[i]);
                    return (string.Join('/', types) + "/action", "/" + string.Join('/', segments[..end]));
                }

                types.Add(rest[i]);
                end = Math.Min(segments.Length, providers + 2 + i + 2);
            }

            return (string.Join('/', types) + "/" + (verb == "action" ? "write" : verb), "/" + string.Join('/', segments[..end]));
        }

        var resources = segments.Length >= 3 && segments[2].Equals("resourcegroups", StringComparison.OrdinalIgnoreCase)
            ? "Microsoft.Resources/subscriptions/resourceGroups"
            : segments.Length >= 1 && segments[0].Equals("subscriptions", StringComparison.OrdinalIgnoreCase) ? "Microsoft.Resources/subscriptions" : "Microsoft.Resources/tenants";
        var scopeLength = Math.Min(segments.Length, resources.EndsWith("resourceGroups", StringComparison.Ordinal) ? 4 : 2);
        return (resources + "/" + (verb == "action" ? "write" : verb), "/" + string.Join('/', segments[..scopeLength]));
    }
}
