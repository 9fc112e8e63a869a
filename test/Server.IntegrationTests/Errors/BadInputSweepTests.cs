using System.Net;
using System.Text;
using Holdfast.Server.IntegrationTests.Infrastructure;

namespace Holdfast.Server.IntegrationTests.Errors;

/// <summary>
/// A bounded sweep of every route shape × method × bad input (malformed JSON, wrong types, odd names, wrong and
/// missing api-versions, junk query values): the answer is never a 5xx, and every 4xx is an ARM envelope.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class BadInputSweepTests(ServerFixture fixture)
{
    private static readonly string[] Bodies =
    [
        "",
        "null",
        "{",
        "[]",
        "\"text\"",
        "{\"location\":null}",
        "{\"location\":\"local\",\"tags\":[]}",
        "{\"location\":\"local\",\"tags\":{\"a\":1}}",
        "{\"location\":\"local\",\"properties\":\"x\"}",
        "{\"location\":\"nowhere\",\"properties\":{\"addressSpace\":{\"addressPrefixes\":[42]},\"subnets\":{}}}",
        "{\"location\":\"local\",\"properties\":{\"addressSpace\":null,\"subnets\":[null,1,{\"name\":5}],\"dhcpOptions\":{\"dnsServers\":[true]}}}",
        "{\"properties\":{\"roleDefinitionId\":5,\"principalId\":[],\"principalType\":\"Robot\",\"condition\":\"x\"}}",
        "{\"properties\":{\"roleDefinitionId\":\"/providers/Microsoft.Authorization/roleDefinitions/not-a-guid\",\"principalId\":\"00000000-0000-0000-0000-000000000000\"}}",
        "{\"properties\":{\"roleName\":\"x\",\"permissions\":[{\"actions\":[1,\"a*b*\"],\"notActions\":{}},7],\"assignableScopes\":\"/\"}}",
        "{\"properties\":{\"roleName\":\"\",\"permissions\":[],\"assignableScopes\":[\"/\",\"/subscriptions/*\",null]}}",
        "{\"properties\":{\"displayName\":\"\",\"state\":\"Sideways\"}}",
        "{\"location\":\"local\",\"properties\":{\"hardwareProfile\":{\"vmSize\":[\"x\"]},\"osProfile\":\"x\",\"capacityReservation\":{\"capacityReservationGroup\":{\"id\":7}}}}",
        "{\"location\":\"local\",\"sku\":{\"name\":5,\"capacity\":\"x\"}}",
        "{\"properties\":{\"families\":{\"standardDSv3Family\":1e99},\"totalRegionalVCpus\":1.5}}",
        "{\"location\":\"local\",\"properties\":{\"ipConfigurations\":[1,{\"name\":\"a\",\"properties\":{\"subnet\":{\"id\":5},\"privateIPAllocationMethod\":\"Static\",\"privateIPAddress\":[]}},null,{\"name\":\"b\",\"properties\":{\"subnet\":\"x\",\"primary\":\"yes\"}}],\"networkSecurityGroup\":{\"id\":\"/subscriptions/x\"}}}",
        "{\"location\":\"local\",\"properties\":{\"ipConfigurations\":[{\"name\":\"a\",\"properties\":{\"subnet\":{\"id\":\"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/x/providers/Microsoft.Network/virtualNetworks/v/subnets/s\"},\"privateIPAllocationMethod\":\"Static\",\"privateIPAddress\":\"999.1.1.1\"}}]}}",
        "{\"properties\":{\"addressPrefix\":\"10.0.0.0/33\",\"networkSecurityGroup\":7}}",
        new string('[', 5000),
    ];

    [Fact]
    public async Task EveryRouteShape_WithBadInput_NeverAnswers5xx()
    {
        var sub = fixture.Credentials.SubscriptionId;
        var group = ServerFixture.UniqueName("sweep");
        using (var created = await fixture.Http.PutAsync($"subscriptions/{sub}/resourcegroups/{group}?api-version=2022-09-01", new StringContent("{\"location\":\"local\"}", Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        string[] paths =
        [
            "subscriptions",
            $"subscriptions/{sub}",
            "subscriptions/not-a-guid",
            $"subscriptions/{Guid.NewGuid()}/resourcegroups",
            $"subscriptions/{sub}/resourcegroups",
            $"subscriptions/{sub}/resourcegroups/{group}",
            $"subscriptions/{sub}/resourcegroups/bad%20name%21",
            $"subscriptions/{sub}/resourcegroups/{new string('x', 91)}",
            $"subscriptions/{sub}/resourcegroups/{group}/resources",
            $"subscriptions/{sub}/resources",
            $"subscriptions/{sub}/locations",
            $"subscriptions/{sub}/providers",
            $"subscriptions/{sub}/providers/Microsoft.Network",
            $"subscriptions/{sub}/providers/Nope.Nope",
            $"subscriptions/{sub}/providers/Microsoft.Network/virtualNetworks",
            $"subscriptions/{sub}/providers/Microsoft.Network/locations/local/operationStatuses/{Guid.NewGuid()}",
            $"subscriptions/{sub}/providers/Microsoft.Network/locations/local/operationResults/x",
            $"subscriptions/{sub}/operationresults/{Guid.NewGuid()}",
            $"subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Network/virtualNetworks",
            $"subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Network/virtualNetworks/v1",
            $"subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Network/virtualNetworks/v1/subnets",
            $"subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Network/virtualNetworks/v1/subnets/s1",
            $"subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Network/networkInterfaces",
            $"subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Network/networkInterfaces/n1",
            $"subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Network/virtualNetworks/v1/start",
            $"subscriptions/{sub}/resourceGroups/missing/providers/Microsoft.Network/virtualNetworks/v1",
            $"subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Network/virtualNetworks/{new string('n', 81)}",
            $"subscriptions/{sub}/providers/Microsoft.Authorization/roleAssignments",
            $"subscriptions/{sub}/providers/Microsoft.Authorization/roleAssignments/{Guid.NewGuid()}",
            $"subscriptions/{sub}/providers/Microsoft.Authorization/roleAssignments/not-a-guid",
            $"subscriptions/{sub}/resourcegroups/{group}/providers/Microsoft.Authorization/roleAssignments/{Guid.NewGuid()}",
            $"subscriptions/{sub}/resourcegroups/missing/providers/Microsoft.Authorization/roleAssignments",
            $"subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Network/virtualNetworks/v1/providers/Microsoft.Authorization/roleAssignments/{Guid.NewGuid()}",
            $"subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Network/virtualNetworks/v1/providers/Microsoft.Nope/things",
            $"subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions",
            $"subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{Guid.NewGuid()}",
            $"subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7",
            $"subscriptions/{sub}/resourcegroups/{group}/providers/Microsoft.Authorization/permissions",
            $"subscriptions/{sub}/providers/Microsoft.Authorization/nothing",
            $"providers/Microsoft.Authorization/roleAssignments/{Guid.NewGuid()}",
            "providers/Microsoft.Authorization/roleDefinitions",
            "providers/Holdfast.Operator/subscriptions",
            $"providers/Holdfast.Operator/subscriptions/{Guid.NewGuid()}",
            "providers/Holdfast.Operator/subscriptions/not-a-guid",
            "providers",
            "providers/Microsoft.Network",
            "metadata/endpoints",
            "providers/Holdfast.Identity/servicePrincipals",
            $"providers/Holdfast.Identity/servicePrincipals/{group}",
            $"providers/Holdfast.Identity/servicePrincipals/{group}/addPassword",
            $"providers/Holdfast.Identity/servicePrincipals/{group}/removePassword",
            "providers/Holdfast.Identity/servicePrincipals/bad%20name%21",
            $"providers/Holdfast.Identity/servicePrincipals/{new string('p', 81)}",
            "providers/Holdfast.Identity/users",
            $"providers/Holdfast.Identity/users/{group}",
            "providers/Holdfast.Identity/users/-bad",
            "providers/Holdfast.Identity/groups",
            $"providers/Holdfast.Identity/groups/{group}",
            "providers/Holdfast.Identity/groups/bad%20name",
            "providers/Holdfast.Identity/signingKeys",
            "providers/Holdfast.Fabric/sites",
            $"providers/Holdfast.Fabric/sites/{group}",
            "providers/Holdfast.Fabric/sites/bad%20name%21",
            $"providers/Holdfast.Fabric/clusters/{group}",
            $"providers/Holdfast.Fabric/racks/{group}",
            "providers/Holdfast.Fabric/hosts",
            $"providers/Holdfast.Fabric/hosts/{group}",
            $"providers/Holdfast.Fabric/hosts/{new string('h', 64)}",
            $"providers/Holdfast.Fabric/hosts/{group}/drain",
            $"providers/Holdfast.Fabric/hosts/{group}/createJoinToken",
            $"providers/Holdfast.Fabric/hosts/{group}/nope",
            "providers/Holdfast.Capacity/utilization",
            "providers/Holdfast.Capacity/forecast",
            "providers/Holdfast.Capacity/whatIf",
            "providers/Holdfast.Capacity/explain",
            "holdfast/whoami",
            "nothing",
            $"subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Compute/virtualMachines/vm1",
            $"subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Compute/virtualMachines/vm1/instanceView",
            $"subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Compute/virtualMachines/vm1/start",
            $"subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Compute/virtualMachines/vm1/deallocate",
            $"subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Compute/capacityReservationGroups/g1",
            $"subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Compute/capacityReservationGroups/g1/capacityReservations/r1",
            $"subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Compute/availabilitySets/as1",
            $"subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Compute/disks/d1",
            $"subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Compute/images/i1",
            $"subscriptions/{sub}/providers/Microsoft.Compute/locations/local/publishers/Canonical/artifacttypes/vmimage/offers/0001-com-ubuntu-server-jammy/skus/22_04-lts-gen2/versions",
            $"subscriptions/{sub}/providers/Microsoft.Compute/locations/local/publishers/Canonical/artifacttypes/vmimage/offers/x/skus/y/versions/z",
            $"subscriptions/{sub}/providers/Microsoft.Compute/locations/local/usages",
            $"subscriptions/{sub}/providers/Microsoft.Compute/locations/local/vmSizes",
            $"subscriptions/{sub}/providers/Microsoft.Compute/skus",
            $"subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Compute/virtualMachines/vm1/redeploy",
            $"subscriptions/{sub}/providers/Microsoft.Compute/locations/nowhere/usages",
            $"providers/Holdfast.Capacity/quotas/{sub}",
            "providers/Holdfast.Capacity/quotas/not-a-guid",
        ];
        string[] queries = ["", "?api-version=2022-09-01", "?api-version=2023-09-01", "?api-version=junk", "?api-version=2022-09-01&$top=-1", "?api-version=2022-09-01&$skiptoken=%%%", "?api-version=2022-09-01&$filter=name%20gt%201", "?api-version=2025-01-01", "?api-version=2025-01-01&$skiptoken=%%%", "?api-version=2022-04-01", "?api-version=2015-07-01&$filter=atScope()", "?api-version=2022-04-01&$filter=principalId%20eq%20'x'", "?api-version=2023-07-01", "?api-version=2023-07-01&$expand=bogus"];
        HttpMethod[] methods = [HttpMethod.Get, HttpMethod.Put, HttpMethod.Patch, HttpMethod.Delete, HttpMethod.Post, HttpMethod.Head];

        var failures = new List<string>();
        var random = new Random(42);
        foreach (var path in paths)
        {
            foreach (var query in queries)
            {
                foreach (var method in methods)
                {
                    var body = Bodies[random.Next(Bodies.Length)];
                    using var request = new HttpRequestMessage(method, path + query);
                    if (method != HttpMethod.Get && method != HttpMethod.Head && method != HttpMethod.Delete)
                    {
                        request.Content = new StringContent(body, Encoding.UTF8, "application/json");
                    }

                    using var response = await fixture.Http.SendAsync(request);
                    var status = (int)response.StatusCode;
                    if (status >= 500)
                    {
                        failures.Add($"{method} {path}{query} body={body[..Math.Min(40, body.Length)]} -> {status}: {await response.Content.ReadAsStringAsync()}");
                    }
                    else if (status >= 400 && method != HttpMethod.Head)
                    {
                        var text = await response.Content.ReadAsStringAsync();
                        if (!text.StartsWith("{\"error\":{\"code\":", StringComparison.Ordinal))
                        {
                            failures.Add($"{method} {path}{query} -> {status} without the ARM envelope: {text[..Math.Min(120, text.Length)]}");
                        }
                    }
                }
            }
        }

        Assert.True(failures.Count == 0, string.Join('\n', failures.Take(20)));
    }
}
