using System.Net;
using System.Text.Json;
using Holdfast.Server.IntegrationTests.Infrastructure;

namespace Holdfast.Server.IntegrationTests.Sdk;

/// <summary>
/// The generic ARM contract, run for every resource type the server serves through the provider pipeline:
/// create (201 + Azure-AsyncOperation), operation to Succeeded, GET with ETag and systemData, idempotent PUT,
/// If-Match / If-None-Match 412s, PATCH, lists, DELETE (202 + monitors) and 404/204 afterwards. A new type without
/// a sample body here fails <see cref="EveryServedType_HasAContractSample"/>.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class ArmContractTests(ServerFixture fixture)
{
    /// <summary>Per type: an api-version and a valid create body.</summary>
    public static readonly Dictionary<string, (string ApiVersion, string Body)> Samples = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Microsoft.Network/virtualNetworks"] = ("2023-09-01", """{"location":"local","tags":{"k":"v"},"properties":{"addressSpace":{"addressPrefixes":["10.20.0.0/16"]},"subnets":[{"name":"a","properties":{"addressPrefix":"10.20.1.0/24"}}]}}"""),
        ["Microsoft.Network/networkSecurityGroups"] = ("2023-09-01", """{"location":"local","tags":{"k":"v"},"properties":{"securityRules":[{"name":"ssh","properties":{"protocol":"Tcp","access":"Allow","direction":"Inbound","priority":300,"sourcePortRange":"*","destinationPortRange":"22","sourceAddressPrefix":"10.0.0.0/8","destinationAddressPrefix":"*"}}]}}"""),
        ["Microsoft.Network/virtualNetworks/subnets"] = ("2024-05-01", """{"tags":{"k":"v"},"properties":{"addressPrefix":"10.30.2.0/24"}}"""),
        ["Microsoft.Network/networkInterfaces"] = ("2024-05-01", """{"location":"local","tags":{"k":"v"},"properties":{"ipConfigurations":[{"name":"ipconfig1","properties":{"subnet":{"id":"/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Network/virtualNetworks/contractvnet/subnets/default"}}}]}}"""),
        ["Microsoft.Compute/virtualMachines"] = ("2023-07-01", """{"location":"local","tags":{"k":"v"},"properties":{"hardwareProfile":{"vmSize":"Standard_B1s"},"osProfile":{"computerName":"contract1","adminUsername":"azureuser","adminPassword":"Contract-Passw0rd!"}}}"""),
        ["Microsoft.Compute/capacityReservationGroups"] = ("2023-07-01", """{"location":"local","tags":{"k":"v"}}"""),
        ["Microsoft.Compute/capacityReservationGroups/capacityReservations"] = ("2023-07-01", """{"location":"local","tags":{"k":"v"},"sku":{"name":"Standard_B1s","capacity":1}}"""),
        ["Microsoft.Compute/availabilitySets"] = ("2023-07-01", """{"location":"local","tags":{"k":"v"},"sku":{"name":"Aligned"},"properties":{"platformFaultDomainCount":2,"platformUpdateDomainCount":5}}"""),
        ["Microsoft.Compute/disks"] = ("2023-04-02", """{"location":"local","tags":{"k":"v"},"sku":{"name":"Premium_LRS"},"properties":{"creationData":{"createOption":"Empty"},"diskSizeGB":32}}"""),
        ["Microsoft.Compute/images"] = ("2023-07-01", """{"location":"local","tags":{"k":"v"},"properties":{"storageProfile":{"osDisk":{"osType":"Linux","osState":"Generalized","blobUri":"https://contract.blob.local/vhds/os.vhd"}}}}"""),
    };

    /// <summary>Resources a type's sample needs first (paths below the group's <c>providers/</c>; <c>{subscription}</c> and <c>{group}</c> are filled in).</summary>
    public static readonly Dictionary<string, (string Path, string ApiVersion, string Body)[]> Prerequisites = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Microsoft.Network/virtualNetworks/subnets"] = [("Microsoft.Network/virtualNetworks/contractvnet", "2024-05-01", """{"location":"local","properties":{"addressSpace":{"addressPrefixes":["10.30.0.0/16"]}}}""")],
        ["Microsoft.Network/networkInterfaces"] = [("Microsoft.Network/virtualNetworks/contractvnet", "2024-05-01", """{"location":"local","properties":{"addressSpace":{"addressPrefixes":["10.30.0.0/16"]},"subnets":[{"name":"default","properties":{"addressPrefix":"10.30.0.0/24"}}]}}""")],
        ["Microsoft.Compute/capacityReservationGroups/capacityReservations"] = [("Microsoft.Compute/capacityReservationGroups/contractcrg", "2023-07-01", """{"location":"local"}""")],
    };

    /// <summary>Nested types: the parent (below the group's <c>providers/</c>) that holds the sample instance.</summary>
    public static readonly Dictionary<string, string> Parents = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Microsoft.Network/virtualNetworks/subnets"] = "Microsoft.Network/virtualNetworks/contractvnet",
        ["Microsoft.Compute/capacityReservationGroups/capacityReservations"] = "Microsoft.Compute/capacityReservationGroups/contractcrg",
    };

    /// <summary>Types whose create answers 200, as Azure's synchronous creates do (the SDK accepts only 200).</summary>
    public static readonly HashSet<string> CreatedWithOk = new(StringComparer.OrdinalIgnoreCase) { "Microsoft.Compute/availabilitySets", "Microsoft.Compute/disks" };

    public static TheoryData<string> Types() => new(Samples.Keys);

    [Fact]
    public async Task EveryServedType_HasAContractSample()
    {
        using var document = JsonDocument.Parse(await fixture.Http.GetStringAsync($"subscriptions/{fixture.Credentials.SubscriptionId}/providers?api-version=2022-09-01"));
        var served = new List<string>();
        foreach (var provider in document.RootElement.GetProperty("value").EnumerateArray())
        {
            var ns = provider.GetProperty("namespace").GetString()!;
            if (ns is "Microsoft.Resources" or "Holdfast.Identity" or "Microsoft.Insights" or "Microsoft.Authorization")
            {
                continue; // ARM's own types, the directory's, RBAC's and the activity log's are served by dedicated endpoints, with dedicated tests.
            }

            served.AddRange(provider.GetProperty("resourceTypes").EnumerateArray().Select(t => ns + "/" + t.GetProperty("resourceType").GetString()));
        }

        Assert.NotEmpty(served);
        Assert.All(served, type => Assert.True(Samples.ContainsKey(type), $"no ARM contract sample for {type}"));
    }

    [Theory]
    [MemberData(nameof(Types))]
    public async Task ResourceType_FollowsTheArmContract(string type)
    {
        var (apiVersion, body) = Samples[type];
        var http = fixture.Http;
        var subscription = fixture.Credentials.SubscriptionId;
        var group = ServerFixture.UniqueName("contract");
        using (var created = await http.PutAsync($"subscriptions/{subscription}/resourcegroups/{group}?api-version=2022-09-01", Clients.Json("""{"location":"local"}""")))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        body = body.Replace("{subscription}", subscription, StringComparison.Ordinal).Replace("{group}", group, StringComparison.Ordinal);
        foreach (var (prerequisite, prerequisiteVersion, prerequisiteBody) in Prerequisites.GetValueOrDefault(type, []))
        {
            using var put = await http.PutAsync($"subscriptions/{subscription}/resourceGroups/{group}/providers/{prerequisite}?api-version={prerequisiteVersion}", Clients.Json(prerequisiteBody));
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
            await WaitForOperationAsync(put.Headers.GetValues("Azure-AsyncOperation").Single());
        }

        var instanceType = Parents.TryGetValue(type, out var parent) ? parent + "/" + type.Split('/')[^1] : type;
        var path = $"subscriptions/{subscription}/resourceGroups/{group}/providers/{instanceType}/contract1?api-version={apiVersion}";

        // Create: 201 with an operation monitor, then the operation succeeds.
        using (var put = await http.PutAsync(path, Clients.Json(body)))
        {
            Assert.Equal(CreatedWithOk.Contains(type) ? HttpStatusCode.OK : HttpStatusCode.Created, put.StatusCode);
            using var resource = JsonDocument.Parse(await put.Content.ReadAsStringAsync());
            Assert.Equal($"/subscriptions/{subscription}/resourceGroups/{group}/providers/{instanceType}/contract1", resource.RootElement.GetProperty("id").GetString());
            Assert.Equal(type, resource.RootElement.GetProperty("type").GetString());
            Assert.Equal("Creating", resource.RootElement.GetProperty("properties").GetProperty("provisioningState").GetString());
            await WaitForOperationAsync(put.Headers.GetValues("Azure-AsyncOperation").Single());
        }

        // GET: Succeeded, ETag in header and body, systemData.
        string etag;
        using (var get = await http.GetAsync(path))
        {
            Assert.Equal(HttpStatusCode.OK, get.StatusCode);
            etag = get.Headers.ETag!.ToString();
            using var resource = JsonDocument.Parse(await get.Content.ReadAsStringAsync());
            Assert.Equal(etag, resource.RootElement.GetProperty("etag").GetString());
            Assert.Equal("Succeeded", resource.RootElement.GetProperty("properties").GetProperty("provisioningState").GetString());
            Assert.Equal(fixture.Credentials.ClientId, resource.RootElement.GetProperty("systemData").GetProperty("createdBy").GetString());
        }

        // Idempotent PUT: the same desired state is 200 with no new operation and the same ETag.
        using (var again = await http.PutAsync(path, Clients.Json(body)))
        {
            Assert.Equal(HttpStatusCode.OK, again.StatusCode);
            Assert.False(again.Headers.Contains("Azure-AsyncOperation"));
            Assert.Equal(etag, again.Headers.ETag!.ToString());
        }

        // Preconditions.
        using (var stale = new HttpRequestMessage(HttpMethod.Put, path) { Content = Clients.Json(body) })
        {
            stale.Headers.TryAddWithoutValidation("If-Match", "W/\"1\"");
            using var response = await http.SendAsync(stale);
            Assert.Equal("PreconditionFailed", (await Envelope.ReadAsync(response)).Code);
        }

        using (var exists = new HttpRequestMessage(HttpMethod.Put, path) { Content = Clients.Json(body) })
        {
            exists.Headers.TryAddWithoutValidation("If-None-Match", "*");
            using var response = await http.SendAsync(exists);
            Assert.Equal(HttpStatusCode.PreconditionFailed, response.StatusCode);
        }

        // PATCH tags: 200 with a monitor; the change is visible.
        using (var patch = new HttpRequestMessage(HttpMethod.Patch, path) { Content = Clients.Json("""{"tags":{"patched":"yes"}}""") })
        {
            patch.Headers.TryAddWithoutValidation("If-Match", etag);
            using var response = await http.SendAsync(patch);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            await WaitForOperationAsync(response.Headers.GetValues("Azure-AsyncOperation").Single());
        }

        using (var get = await http.GetAsync(path))
        {
            using var resource = JsonDocument.Parse(await get.Content.ReadAsStringAsync());
            Assert.Equal("yes", resource.RootElement.GetProperty("tags").GetProperty("patched").GetString());
            Assert.False(resource.RootElement.GetProperty("tags").TryGetProperty("k", out _));
        }

        // Lists: by group (type collection) and across the subscription.
        var typeName = type.Split('/', 2)[1];
        Assert.Contains("contract1", await ListNamesAsync($"subscriptions/{subscription}/resourceGroups/{group}/providers/{instanceType}?api-version={apiVersion}"));
        if (parent is null)
        {
            Assert.Contains("contract1", await ListNamesAsync($"subscriptions/{subscription}/providers/{type.Split('/')[0]}/{typeName}?api-version={apiVersion}"));
        }

        // DELETE: 202 with both monitors; then gone; deleting again is 204.
        using (var delete = await http.DeleteAsync(path))
        {
            Assert.Equal(HttpStatusCode.Accepted, delete.StatusCode);
            Assert.True(delete.Headers.Contains("Azure-AsyncOperation"));
            var location = delete.Headers.Location!;
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (true)
            {
                using var poll = await http.GetAsync(location, deadline.Token);
                if (poll.StatusCode == HttpStatusCode.OK)
                {
                    break;
                }

                Assert.Equal(HttpStatusCode.Accepted, poll.StatusCode);
                await Task.Delay(50, deadline.Token);
            }
        }

        using (var gone = await http.GetAsync(path))
        {
            Assert.Equal("ResourceNotFound", (await Envelope.ReadAsync(gone)).Code);
        }

        using (var deleteAgain = await http.DeleteAsync(path))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleteAgain.StatusCode);
        }
    }

    private async Task WaitForOperationAsync(string monitor)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            // The SDK rewrites the api-version of poll URLs; the monitor must not care.
            var url = monitor.Replace("api-version=", "api-version=1999-01-01&ignored=", StringComparison.Ordinal);
            using var document = JsonDocument.Parse(await fixture.Http.GetStringAsync(new Uri(url), deadline.Token));
            var status = document.RootElement.GetProperty("status").GetString();
            if (status == "Succeeded")
            {
                return;
            }

            Assert.Equal("InProgress", status);
            await Task.Delay(50, deadline.Token);
        }
    }

    private async Task<List<string>> ListNamesAsync(string path)
    {
        using var document = JsonDocument.Parse(await fixture.Http.GetStringAsync(path));
        return document.RootElement.GetProperty("value").EnumerateArray().Select(e => e.GetProperty("name").GetString()!).ToList();
    }
}
