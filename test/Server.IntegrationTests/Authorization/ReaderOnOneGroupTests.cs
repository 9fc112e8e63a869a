using System.Net;
using Holdfast.Server.IntegrationTests.Infrastructure;

namespace Holdfast.Server.IntegrationTests.Authorization;

/// <summary>Issue 3's acceptance: a principal with Reader on one resource group can read it and nothing else.</summary>
[Collection(ServerCollection.Name)]
public sealed class ReaderOnOneGroupTests(ServerFixture fixture)
{
    [Fact]
    public async Task ReaderOnOneGroup_ReadsItAndNothingElse()
    {
        var sub = fixture.Credentials.SubscriptionId;
        var mine = ServerFixture.UniqueName("reader-mine");
        var other = ServerFixture.UniqueName("reader-other");
        await Rbac.CreateGroupAsync(fixture, mine);
        await Rbac.CreateGroupAsync(fixture, other);
        await Rbac.CreateVnetAsync(fixture, mine, "v1");
        await Rbac.CreateVnetAsync(fixture, other, "v1");
        using var reader = await Rbac.NewPrincipalAsync(fixture, "reader");
        await Rbac.AssignAsync(fixture, $"/subscriptions/{sub}/resourceGroups/{mine}", Rbac.Reader, reader.ObjectId);
        var http = reader.Http;

        // What it may read.
        foreach (var path in new[]
        {
            $"subscriptions/{sub}/resourcegroups/{mine}?api-version=2022-09-01",
            $"subscriptions/{sub}/resourceGroups/{mine}/providers/Microsoft.Network/virtualNetworks/v1?api-version=2024-05-01",
            $"subscriptions/{sub}/resourceGroups/{mine}/providers/Microsoft.Network/virtualNetworks?api-version=2024-05-01",
            $"subscriptions/{sub}/resourcegroups/{mine}/resources?api-version=2022-09-01",
            $"subscriptions/{sub}/resourcegroups/{mine}/providers/Microsoft.Authorization/roleAssignments?{Rbac.ApiVersion}",
        })
        {
            using var response = await http.GetAsync(path);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path} -> {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }

        // Lists show only what it may read (as ARM filters lists).
        var groups = await Rbac.ReadAsync(await http.GetAsync($"subscriptions/{sub}/resourcegroups?api-version=2022-09-01"));
        Assert.Equal([mine], groups["value"]!.AsArray().Select(g => g!["name"]!.GetValue<string>()));
        var vnets = await Rbac.ReadAsync(await http.GetAsync($"subscriptions/{sub}/providers/Microsoft.Network/virtualNetworks?api-version=2024-05-01"));
        Assert.All(vnets["value"]!.AsArray(), v => Assert.Contains($"/resourceGroups/{mine}/", v!["id"]!.GetValue<string>(), StringComparison.OrdinalIgnoreCase));

        // Everything else is refused with Azure's AuthorizationFailed.
        var vnetBody = "{\"location\":\"local\",\"properties\":{\"addressSpace\":{\"addressPrefixes\":[\"10.1.0.0/16\"]}}}";
        var denied = new (HttpMethod Method, string Path, string? Body, string Action)[]
        {
            (HttpMethod.Get, $"subscriptions/{sub}/resourcegroups/{other}?api-version=2022-09-01", null, "Microsoft.Resources/subscriptions/resourceGroups/read"),
            (HttpMethod.Head, $"subscriptions/{sub}/resourcegroups/{other}?api-version=2022-09-01", null, "Microsoft.Resources/subscriptions/resourceGroups/read"),
            (HttpMethod.Get, $"subscriptions/{sub}/resourceGroups/{other}/providers/Microsoft.Network/virtualNetworks/v1?api-version=2024-05-01", null, "Microsoft.Network/virtualNetworks/read"),
            (HttpMethod.Get, $"subscriptions/{sub}/resourcegroups/{other}/resources?api-version=2022-09-01", null, "Microsoft.Resources/subscriptions/resourceGroups/resources/read"),
            (HttpMethod.Get, $"subscriptions/{sub}/resourcegroups/missing-{Guid.NewGuid():N}?api-version=2022-09-01", null, "Microsoft.Resources/subscriptions/resourceGroups/read"),
            (HttpMethod.Get, $"subscriptions/{sub}/locations?api-version=2022-12-01", null, "Microsoft.Resources/subscriptions/locations/read"),
            (HttpMethod.Get, $"subscriptions/{sub}/providers?api-version=2022-09-01", null, "Microsoft.Resources/subscriptions/providers/read"),
            (HttpMethod.Put, $"subscriptions/{sub}/resourcegroups/{mine}?api-version=2022-09-01", "{\"location\":\"local\"}", "Microsoft.Resources/subscriptions/resourceGroups/write"),
            (HttpMethod.Patch, $"subscriptions/{sub}/resourcegroups/{mine}?api-version=2022-09-01", "{\"tags\":{\"a\":\"b\"}}", "Microsoft.Resources/subscriptions/resourceGroups/write"),
            (HttpMethod.Delete, $"subscriptions/{sub}/resourcegroups/{mine}?api-version=2022-09-01", null, "Microsoft.Resources/subscriptions/resourceGroups/delete"),
            (HttpMethod.Put, $"subscriptions/{sub}/resourcegroups/new-{Guid.NewGuid():N}?api-version=2022-09-01", "{\"location\":\"local\"}", "Microsoft.Resources/subscriptions/resourceGroups/write"),
            (HttpMethod.Put, $"subscriptions/{sub}/resourceGroups/{mine}/providers/Microsoft.Network/virtualNetworks/v2?api-version=2024-05-01", vnetBody, "Microsoft.Network/virtualNetworks/write"),
            (HttpMethod.Patch, $"subscriptions/{sub}/resourceGroups/{mine}/providers/Microsoft.Network/virtualNetworks/v1?api-version=2024-05-01", "{\"tags\":{}}", "Microsoft.Network/virtualNetworks/write"),
            (HttpMethod.Delete, $"subscriptions/{sub}/resourceGroups/{mine}/providers/Microsoft.Network/virtualNetworks/v1?api-version=2024-05-01", null, "Microsoft.Network/virtualNetworks/delete"),
            (HttpMethod.Post, $"subscriptions/{sub}/providers/Microsoft.Network/register?api-version=2022-09-01", null, "Microsoft.Network/register/action"),
            (HttpMethod.Put, $"subscriptions/{sub}/resourcegroups/{mine}/providers/Microsoft.Authorization/roleAssignments/{Guid.NewGuid()}?{Rbac.ApiVersion}", $"{{\"properties\":{{\"roleDefinitionId\":\"{Rbac.RoleId("/subscriptions/" + sub, Rbac.Owner)}\",\"principalId\":\"{reader.ObjectId}\"}}}}", "Microsoft.Authorization/roleAssignments/write"),
            (HttpMethod.Get, $"subscriptions/{sub}/providers/Microsoft.Authorization/roleAssignments?{Rbac.ApiVersion}", null, "Microsoft.Authorization/roleAssignments/read"),
            (HttpMethod.Get, "providers/Holdfast.Identity/servicePrincipals?api-version=2025-01-01", null, "Holdfast.Identity/servicePrincipals/read"),
            (HttpMethod.Get, "providers/Holdfast.Operator/subscriptions?api-version=2025-01-01", null, "Holdfast.Operator/subscriptions/read"),
            (HttpMethod.Get, $"providers/Microsoft.Authorization/roleAssignments?{Rbac.ApiVersion}", null, "Microsoft.Authorization/roleAssignments/read"),
        };
        foreach (var (method, path, body, action) in denied)
        {
            using var request = new HttpRequestMessage(method, path);
            if (body is not null)
            {
                request.Content = Clients.Json(body);
            }

            using var response = await http.SendAsync(request);
            if (method == HttpMethod.Head)
            {
                Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
                continue;
            }

            await Rbac.AssertDeniedAsync(response, action, reader);
        }

        // Nothing was written by the refused requests.
        using var stillThere = await fixture.Http.GetAsync($"subscriptions/{sub}/resourceGroups/{mine}/providers/Microsoft.Network/virtualNetworks/v2?api-version=2024-05-01");
        Assert.Equal(HttpStatusCode.NotFound, stillThere.StatusCode);
        var group = await Rbac.ReadAsync(await fixture.Http.GetAsync($"subscriptions/{sub}/resourcegroups/{mine}?api-version=2022-09-01"));
        Assert.Equal("Succeeded", group["properties"]!["provisioningState"]!.GetValue<string>());
    }

    [Fact]
    public async Task Permissions_ReaderOnGroup_ListsReadersBlockThereAndNothingAbove()
    {
        var sub = fixture.Credentials.SubscriptionId;
        var group = ServerFixture.UniqueName("perm");
        await Rbac.CreateGroupAsync(fixture, group);
        using var reader = await Rbac.NewPrincipalAsync(fixture, "perm");
        await Rbac.AssignAsync(fixture, $"/subscriptions/{sub}/resourceGroups/{group}", Rbac.Reader, reader.ObjectId);

        var atGroup = await Rbac.ReadAsync(await reader.Http.GetAsync($"subscriptions/{sub}/resourcegroups/{group}/providers/Microsoft.Authorization/permissions?{Rbac.ApiVersion}"));
        var block = Assert.Single(atGroup["value"]!.AsArray());
        Assert.Equal(["*/read"], block!["actions"]!.AsArray().Select(a => a!.GetValue<string>()));

        var atSubscription = await Rbac.ReadAsync(await reader.Http.GetAsync($"subscriptions/{sub}/providers/Microsoft.Authorization/permissions?{Rbac.ApiVersion}"));
        Assert.Empty(atSubscription["value"]!.AsArray());
    }

    [Fact]
    public async Task Subscriptions_PrincipalWithoutAnyRole_SeesNoneAndIsRefusedOne()
    {
        using var nobody = await Rbac.NewPrincipalAsync(fixture, "nobody");
        var list = await Rbac.ReadAsync(await nobody.Http.GetAsync("subscriptions?api-version=2022-12-01"));
        Assert.Empty(list["value"]!.AsArray());
        using var one = await nobody.Http.GetAsync($"subscriptions/{fixture.Credentials.SubscriptionId}?api-version=2022-12-01");
        await Rbac.AssertDeniedAsync(one, "Microsoft.Resources/subscriptions/read", nobody);
        using var missing = await nobody.Http.GetAsync($"subscriptions/{Guid.NewGuid()}?api-version=2022-12-01");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }
}
