using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Holdfast.Capacity.Inventory;

namespace Holdfast.Server.Tests.Compute;

/// <summary>
/// Microsoft.Compute/virtualMachines end to end in one process: admission (size, fleet, quota) in the PUT, placement by
/// the capacity service in the reconcile loop, running once the (simulated) hardware reports it, and deletion giving
/// capacity and quota back.
/// </summary>
public sealed class VirtualMachineTests : IAsyncLifetime
{
    private const string Sim = ComputeTestServer.SimHost;
    private static readonly CapacityVector Host16 = new(16, 64 * 1024, 100, 0);
    private ComputeTestServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await ComputeTestServer.StartAsync(simulatedHosts: 2);
        await _server.CreateGroupAsync("rg");
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Put_OnAFleet_PlacesRunsAndNeverEchoesThePassword()
    {
        var (status, created) = await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "vm1"), ComputeTestServer.VmBody("Standard_D2s_v3"));

        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal("Creating", created["properties"]!["provisioningState"]!.GetValue<string>());
        Assert.True(Guid.TryParse(created["properties"]!["vmId"]!.GetValue<string>(), out _));
        Assert.DoesNotContain("Sup3r-Secret!", created.ToJsonString(), StringComparison.Ordinal);
        var vm = await _server.WaitTerminalAsync(_server.VmPath("rg", "vm1"));
        Assert.Equal("Succeeded", vm!["properties"]!["provisioningState"]!.GetValue<string>());
        Assert.DoesNotContain("adminPassword", vm.ToJsonString(), StringComparison.Ordinal);
        Assert.Equal("azureuser", vm["properties"]!["osProfile"]!["adminUsername"]!.GetValue<string>());
        var record = await _server.RecordAsync(Sim);
        Assert.Equal(new CapacityVector(2, 8192, 16, 0), record.Used);
        var instance = Assert.Single(await _server.InstancesAsync());
        Assert.Equal(vm["id"]!.GetValue<string>(), instance.ResourceId);
        Assert.Equal("Standard_D2s_v3", instance.Size);
    }

    [Fact]
    public async Task Put_WithCustomData_NeverEchoesIt_KeepsItForTheHost_AndRemovesItWithTheVm()
    {
        var body = JsonNode.Parse(await ComputeTestServer.VmBody("Standard_B1s").ReadAsStringAsync())!.AsObject();
        body["properties"]!["osProfile"]!["customData"] = "I2Nsb3VkLWNvbmZpZwpob3N0bmFtZTogc2VjcmV0Cg==";

        var (status, created) = await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "vm1"), ComputeTestServer.Json(body.ToJsonString()));

        Assert.Equal(HttpStatusCode.Created, status);
        Assert.DoesNotContain("customData", created.ToJsonString(), StringComparison.Ordinal);
        var vm = await _server.WaitTerminalAsync(_server.VmPath("rg", "vm1"));
        Assert.DoesNotContain("I2Nsb3Vk", vm!.ToJsonString(), StringComparison.Ordinal);
        var instanceId = vm["properties"]!["vmId"]!.GetValue<string>().ToLowerInvariant();
        var kept = await _server.Store.GetAsync("/capacity/vmguest/" + instanceId, _server.Ct);
        Assert.NotNull(kept);
        Assert.Equal("I2Nsb3VkLWNvbmZpZwpob3N0bmFtZTogc2VjcmV0Cg==", JsonNode.Parse(kept.Value.Span)!["customData"]!.GetValue<string>());

        await _server.SendAsync(HttpMethod.Delete, _server.VmPath("rg", "vm1"));
        await _server.WaitGoneAsync(_server.VmPath("rg", "vm1"));

        Assert.Null(await _server.Store.GetAsync("/capacity/vmguest/" + instanceId, _server.Ct));
    }

    [Fact]
    public async Task RetrieveBootDiagnosticsData_ReturnsALogUriThatServesTheReportedConsole()
    {
        await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "vm1"), ComputeTestServer.VmBody("Standard_B1s"));
        var vm = await _server.WaitTerminalAsync(_server.VmPath("rg", "vm1"));
        var vmPath = $"subscriptions/{_server.Subscription}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1";

        var (status, result) = await _server.SendAsync(HttpMethod.Post, vmPath + "/retrieveBootDiagnosticsData?api-version=2023-07-01");
        var uri = result["serialConsoleLogBlobUri"]!.GetValue<string>();
        var before = await _server.Admin.GetStringAsync(uri, _server.Ct);
        var (_, viewBefore) = await _server.SendAsync(HttpMethod.Get, vmPath + "/instanceView?api-version=2023-07-01");
        await _server.Store.PutAsync("/capacity/vmconsole/" + vm!["properties"]!["vmId"]!.GetValue<string>().ToLowerInvariant(), "HOLDFAST-BOOT-OK name=vm1\n"u8.ToArray(), null, _server.Ct);
        var after = await _server.Admin.GetStringAsync(uri, _server.Ct);
        var (_, viewAfter) = await _server.SendAsync(HttpMethod.Get, vmPath + "/instanceView?api-version=2023-07-01");
        var (missing, error) = await _server.SendAsync(HttpMethod.Post, vmPath.Replace("vm1", "nope", StringComparison.Ordinal) + "/retrieveBootDiagnosticsData?api-version=2023-07-01");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.EndsWith("/virtualMachines/vm1/bootDiagnostics/serialConsoleLog?api-version=2023-07-01", uri, StringComparison.Ordinal);
        Assert.Equal("", before);
        Assert.Null(viewBefore["bootDiagnostics"]);
        Assert.Equal("HOLDFAST-BOOT-OK name=vm1\n", after);
        Assert.Equal(uri, viewAfter["bootDiagnostics"]!["serialConsoleLogBlobUri"]!.GetValue<string>());
        Assert.Equal((HttpStatusCode.NotFound, "ResourceNotFound"), (missing, error["error"]!["code"]!.GetValue<string>()));
    }

    [Fact]
    public async Task InstanceView_OfARunningVm_HasAzuresStatuses()
    {
        await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "vm1"), ComputeTestServer.VmBody("Standard_B2s"));
        await _server.WaitTerminalAsync(_server.VmPath("rg", "vm1"));

        var (status, view) = await _server.SendAsync(HttpMethod.Get, $"subscriptions/{_server.Subscription}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1/instanceView?api-version=2023-07-01");
        var (expandedStatus, expanded) = await _server.SendAsync(HttpMethod.Get, _server.VmPath("rg", "vm1") + "&$expand=instanceView");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(["ProvisioningState/succeeded", "PowerState/running"], view["statuses"]!.AsArray().Select(s => s!["code"]!.GetValue<string>()));
        Assert.Equal("VM running", view["statuses"]![1]!["displayStatus"]!.GetValue<string>());
        Assert.Equal("vm1", view["computerName"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, expandedStatus);
        Assert.True(JsonNode.DeepEquals(view, expanded["properties"]!["instanceView"]));
        var (plainStatus, plain) = await _server.SendAsync(HttpMethod.Get, _server.VmPath("rg", "vm1"));
        Assert.Equal(HttpStatusCode.OK, plainStatus);
        Assert.Null(plain["properties"]!["instanceView"]);
    }

    [Fact]
    public async Task Put_WhenNothingReportsTheVm_StaysCreatingWithPowerStateStarting()
    {
        await using var server = await ComputeTestServer.StartAsync();
        await server.CreateGroupAsync("rg");
        await server.AddHostAsync("h1", Host16);
        await server.SendAsync(HttpMethod.Put, server.VmPath("rg", "vm1"), ComputeTestServer.VmBody("Standard_B2s"));
        while ((await server.InstancesAsync()).Count == 0)
        {
            await Task.Delay(25, server.Ct);
        }

        var (_, view) = await server.SendAsync(HttpMethod.Get, $"subscriptions/{server.Subscription}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1/instanceView?api-version=2023-07-01");

        Assert.Equal(["ProvisioningState/creating", "PowerState/starting"], view["statuses"]!.AsArray().Select(s => s!["code"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Delete_FreesCapacityAndQuota()
    {
        await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "vm1"), ComputeTestServer.VmBody("Standard_D4s_v3"));
        await _server.WaitTerminalAsync(_server.VmPath("rg", "vm1"));
        Assert.Equal((4, 100), (await _server.UsagesAsync())["cores"]);

        var (status, _) = await _server.SendAsync(HttpMethod.Delete, _server.VmPath("rg", "vm1"));
        await _server.WaitGoneAsync(_server.VmPath("rg", "vm1"));

        Assert.Equal(HttpStatusCode.Accepted, status);
        var usages = await _server.UsagesAsync();
        Assert.Equal(0, usages["cores"].Current);
        Assert.Equal(0, usages["virtualMachines"].Current);
        Assert.Equal(0, usages["standardDSv3Family"].Current);
        Assert.Empty((await _server.RecordAsync(Sim)).Allocations);
        Assert.Empty(await _server.InstancesAsync());
    }

    [Fact]
    public async Task Usages_CountEachVmInTotalFamilyAndVirtualMachines()
    {
        await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "a"), ComputeTestServer.VmBody("Standard_D2s_v3"));
        await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "b"), ComputeTestServer.VmBody("Standard_D4s_v3"));
        await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "c"), ComputeTestServer.VmBody("Standard_B1s"));

        var usages = await _server.UsagesAsync();

        Assert.Equal((7, 100), usages["cores"]);
        Assert.Equal((3, 25000), usages["virtualMachines"]);
        Assert.Equal((6, 100), usages["standardDSv3Family"]);
        Assert.Equal((1, 100), usages["standardBSFamily"]);
        Assert.Equal((0, 100), usages["standardNCFamily"]);
        var (_, body) = await _server.SendAsync(HttpMethod.Get, $"subscriptions/{_server.Subscription}/providers/Microsoft.Compute/locations/local/usages?api-version=2020-06-01");
        var cores = body["value"]!.AsArray().Single(u => u!["name"]!["value"]!.GetValue<string>() == "cores")!;
        Assert.Equal("Total Regional vCPUs", cores["name"]!["localizedValue"]!.GetValue<string>());
        Assert.Equal("Count", cores["unit"]!.GetValue<string>());
        Assert.Equal(JsonValueKind.Number, cores["currentValue"]!.GetValueKind());
    }

    [Fact]
    public async Task Put_BeyondTotalQuota_IsRefusedAndWritesNothing()
    {
        await SetQuotaAsync("{\"totalRegionalVCpus\":4}");
        await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "a"), ComputeTestServer.VmBody("Standard_D4s_v3"));
        var before = await _server.UsagesAsync();

        var (status, body) = await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "b"), ComputeTestServer.VmBody("Standard_D2s_v3"));

        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Equal("OperationNotAllowed", body["error"]!["code"]!.GetValue<string>());
        Assert.Equal("QuotaExceeded", body["error"]!["details"]![0]!["code"]!.GetValue<string>());
        Assert.Contains("Total Regional Cores quota", body["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("Current Limit: 4, Current Usage: 4, Additional Required: 2", body["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await _server.SendAsync(HttpMethod.Get, _server.VmPath("rg", "b"))).Status);
        Assert.Equal(before["cores"], (await _server.UsagesAsync())["cores"]);
        await _server.WaitTerminalAsync(_server.VmPath("rg", "a"));
        Assert.Single(await _server.InstancesAsync());
    }

    [Fact]
    public async Task Put_BeyondFamilyQuota_IsRefusedNamingTheFamily()
    {
        await SetQuotaAsync("{\"families\":{\"standardBSFamily\":1}}");

        var (status, body) = await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "b"), ComputeTestServer.VmBody("Standard_B2s"));
        var (other, _) = await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "d"), ComputeTestServer.VmBody("Standard_D2s_v3"));

        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Contains("standardBSFamily Cores quota", body["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Created, other);
        Assert.Equal((0, 1), (await _server.UsagesAsync())["standardBSFamily"]);
    }

    [Fact]
    public async Task ConcurrentPuts_AtTheQuotaLimit_AdmitExactlyWhatFits()
    {
        await SetQuotaAsync("{\"totalRegionalVCpus\":8}");

        var results = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "vm" + i), ComputeTestServer.VmBody("Standard_D2s_v3"))));

        Assert.Equal(4, results.Count(r => r.Status == HttpStatusCode.Created));
        Assert.All(results.Where(r => r.Status != HttpStatusCode.Created), r => Assert.Equal(HttpStatusCode.Conflict, r.Status));
        Assert.All(results.Where(r => r.Status != HttpStatusCode.Created), r => Assert.Equal("QuotaExceeded", r.Body["error"]!["details"]![0]!["code"]!.GetValue<string>()));
        Assert.Equal((8, 8), (await _server.UsagesAsync())["cores"]);
    }

    [Fact]
    public async Task ConcurrentPuts_OnASmallFleet_NeverOversubscribeAHost()
    {
        // Two simulated hosts hold four Standard_D8s_v3 each (vCPUs and memory both run out); twelve race for them.
        var created = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "vm" + i), ComputeTestServer.VmBody("Standard_D8s_v3"))));
        Assert.All(created, r => Assert.Equal(HttpStatusCode.Created, r.Status));
        var final = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => _server.WaitTerminalAsync(_server.VmPath("rg", "vm" + i))));

        Assert.Equal(8, final.Count(vm => vm!["properties"]!["provisioningState"]!.GetValue<string>() == "Succeeded"));
        Assert.Equal(4, final.Count(vm => vm!["properties"]!["provisioningState"]!.GetValue<string>() == "Failed"));
        foreach (var host in new[] { ComputeTestServer.FleetHostName(1), ComputeTestServer.FleetHostName(2) })
        {
            var record = await _server.RecordAsync(host);
            Assert.Equal(32, record.Used.VCpus);
            Assert.True(record.FitsWithin(ComputeTestServer.SimShape));
        }

        Assert.Equal(8, (await _server.InstancesAsync()).Count);
    }

    [Fact]
    public async Task Put_WhenNoHostFits_FailsTheOperationWithAllocationFailed()
    {
        await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "a"), ComputeTestServer.VmBody("Standard_D32s_v3"));
        await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "b"), ComputeTestServer.VmBody("Standard_D32s_v3"));
        await _server.WaitTerminalAsync(_server.VmPath("rg", "a"));
        await _server.WaitTerminalAsync(_server.VmPath("rg", "b"));

        using var response = await _server.Admin.PutAsync(_server.VmPath("rg", "c"), ComputeTestServer.VmBody("Standard_D2s_v3"));
        var vm = await _server.WaitTerminalAsync(_server.VmPath("rg", "c"));
        var (_, operation) = await _server.SendAsync(HttpMethod.Get, response.Headers.GetValues("Azure-AsyncOperation").Single());

        Assert.Equal("Failed", vm!["properties"]!["provisioningState"]!.GetValue<string>());
        Assert.Equal("Failed", operation["status"]!.GetValue<string>());
        Assert.Equal("AllocationFailed", operation["error"]!["code"]!.GetValue<string>());
        var (_, view) = await _server.SendAsync(HttpMethod.Get, $"subscriptions/{_server.Subscription}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/c/instanceView?api-version=2023-07-01");
        Assert.Equal(["ProvisioningState/failed/AllocationFailed", "PowerState/deallocated"], view["statuses"]!.AsArray().Select(s => s!["code"]!.GetValue<string>()));
    }

    [Fact]
    public async Task VmSizes_OfferOnlySizesSomeInServiceHostCouldHold()
    {
        await using var server = await ComputeTestServer.StartAsync();
        Assert.Empty(await VmSizeNamesAsync(server));
        await server.AddHostAsync("h1", Host16);
        await server.AddHostAsync("big-but-draining", new CapacityVector(128, 1024 * 1024, 4000, 8), HostState.Draining);

        var names = await VmSizeNamesAsync(server);

        Assert.Contains("Standard_D2s_v3", names);
        Assert.Contains("Standard_D16s_v5", names);
        Assert.DoesNotContain("Standard_D32s_v3", names);
        Assert.DoesNotContain("Standard_D16_v3", names);
        Assert.DoesNotContain("Standard_NC6", names);
        await server.AddHostAsync("gpu", new CapacityVector(32, 128 * 1024, 1024, 4));
        Assert.Contains("Standard_NC6", await VmSizeNamesAsync(server));
        var (_, body) = await server.SendAsync(HttpMethod.Get, $"subscriptions/{server.Subscription}/providers/Microsoft.Compute/locations/local/vmSizes?api-version=2023-07-01");
        var d2s = body["value"]!.AsArray().Single(s => s!["name"]!.GetValue<string>() == "Standard_D2s_v3")!;
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"name":"Standard_D2s_v3","numberOfCores":2,"osDiskSizeInMB":1047552,"resourceDiskSizeInMB":16384,"memoryInMB":8192,"maxDataDiskCount":4}"""), d2s));
    }

    [Fact]
    public async Task Put_OfASizeNoHostCanHold_IsSkuNotAvailable()
    {
        var (status, body) = await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "gpu"), ComputeTestServer.VmBody("Standard_NC6"));

        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Equal("SkuNotAvailable", body["error"]!["code"]!.GetValue<string>());
        Assert.Equal(0, (await _server.UsagesAsync())["cores"].Current);
    }

    [Fact]
    public async Task Put_WithAutomaticZonePlacement_IsInvalidParameterAndWritesNothing()
    {
        var body = """{"location":"local","placement":{"zonePlacementPolicy":"Any"},"properties":{"hardwareProfile":{"vmSize":"Standard_B1s"}}}""";

        var (status, error) = await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "placed", "2025-04-01"), ComputeTestServer.Json(body));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("InvalidParameter", error["error"]!["code"]!.GetValue<string>());
        Assert.Equal("placement", error["error"]!["target"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.NotFound, (await _server.SendAsync(HttpMethod.Get, _server.VmPath("rg", "placed", "2025-04-01"))).Status);
        Assert.Equal(0, (await _server.UsagesAsync())["cores"].Current);
    }

    [Theory]
    [InlineData("""{"location":"local","properties":{"hardwareProfile":{"vmSize":"Standard_Bogus"}}}""", "InvalidParameter", "vmSize")]
    [InlineData("""{"location":"local","properties":{}}""", "InvalidParameter", "hardwareProfile")]
    [InlineData("""{"location":"local","properties":{"hardwareProfile":{}}}""", "InvalidParameter", "vmSize")]
    [InlineData("""{"location":"local","properties":{"hardwareProfile":{"vmSize":2}}}""", "InvalidParameter", "vmSize")]
    [InlineData("""{"location":"local","properties":{"hardwareProfile":{"vmSize":"Standard_B1s"},"osProfile":{"adminPassword":5}}}""", "InvalidParameter", "adminPassword")]
    [InlineData("""{"location":"local","properties":{"hardwareProfile":{"vmSize":"Standard_B1s"},"osProfile":{"customData":5}}}""", "InvalidParameter", "customData")]
    [InlineData("""{"location":"local","properties":{"hardwareProfile":{"vmSize":"Standard_B1s"},"capacityReservation":{"capacityReservationGroup":{"id":"nope"}}}}""", "InvalidParameter", "capacityReservation.capacityReservationGroup.id")]
    public async Task Put_BadBody_Is400WithTheTarget(string json, string code, string target)
    {
        var (status, body) = await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "bad"), ComputeTestServer.Json(json));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(code, body["error"]!["code"]!.GetValue<string>());
        Assert.Equal(target, body["error"]!["target"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.NotFound, (await _server.SendAsync(HttpMethod.Get, _server.VmPath("rg", "bad"))).Status);
        Assert.Equal(0, (await _server.UsagesAsync())["virtualMachines"].Current);
    }

    [Theory]
    [InlineData("2019-07-01")]
    [InlineData("2099-01-01")]
    public async Task Put_UnsupportedApiVersion_Is400(string apiVersion)
    {
        var (status, body) = await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "vm1", apiVersion), ComputeTestServer.VmBody("Standard_B1s"));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("NoRegisteredProviderFound", body["error"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task Put_AgainWithTheSameBody_KeepsTheVmIdAndChargesOnce()
    {
        var (_, first) = await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "vm1"), ComputeTestServer.VmBody("Standard_B1s"));
        await _server.WaitTerminalAsync(_server.VmPath("rg", "vm1"));

        var (status, again) = await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "vm1"), ComputeTestServer.VmBody("Standard_B1s"));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(first["properties"]!["vmId"]!.GetValue<string>(), again["properties"]!["vmId"]!.GetValue<string>());
        Assert.Equal(1, (await _server.UsagesAsync())["virtualMachines"].Current);
    }

    [Fact]
    public async Task DeletingTheGroup_ReturnsAllCapacityAndQuota()
    {
        foreach (var name in new[] { "a", "b", "c" })
        {
            await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", name), ComputeTestServer.VmBody("Standard_D2s_v3"));
        }

        await Task.WhenAll(new[] { "a", "b", "c" }.Select(n => _server.WaitTerminalAsync(_server.VmPath("rg", n))));
        Assert.Equal(6, (await _server.RecordAsync(Sim)).Used.VCpus);

        var groupPath = $"subscriptions/{_server.Subscription}/resourcegroups/rg?api-version=2022-09-01";
        Assert.Equal(HttpStatusCode.Accepted, (await _server.SendAsync(HttpMethod.Delete, groupPath)).Status);
        await _server.WaitGoneAsync(groupPath);

        Assert.Empty((await _server.RecordAsync(Sim)).Allocations);
        Assert.Empty(await _server.InstancesAsync());
        var usages = await _server.UsagesAsync();
        Assert.Equal((0, 0), (usages["cores"].Current, usages["virtualMachines"].Current));
    }

    [Fact]
    public async Task Lifecycle_WithTheHybridProfilesApiVersion_Works()
    {
        var path = _server.VmPath("rg", "hybrid", "2020-06-01");

        var (status, _) = await _server.SendAsync(HttpMethod.Put, path, ComputeTestServer.VmBody("Standard_F2s_v2"));
        var vm = await _server.WaitTerminalAsync(path);
        var (listStatus, list) = await _server.SendAsync(HttpMethod.Get, $"subscriptions/{_server.Subscription}/providers/Microsoft.Compute/virtualMachines?api-version=2020-06-01");
        var (deleteStatus, _) = await _server.SendAsync(HttpMethod.Delete, path);
        await _server.WaitGoneAsync(path);

        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal("Succeeded", vm!["properties"]!["provisioningState"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, listStatus);
        Assert.Equal("hybrid", Assert.Single(list["value"]!.AsArray())!["name"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.Accepted, deleteStatus);
        Assert.Empty((await _server.RecordAsync(Sim)).Allocations);
    }

    [Fact]
    public async Task QuotaApi_PutThenGet_ShowsLimitsDefaultsAndUsage()
    {
        var (status, put) = await _server.SendAsync(HttpMethod.Put, QuotaPath(), ComputeTestServer.Json("""{"properties":{"totalRegionalVCpus":40,"families":{"standardDSv3Family":12}}}"""));
        var (_, get) = await _server.SendAsync(HttpMethod.Get, QuotaPath());

        Assert.Equal(HttpStatusCode.Created, status);
        Assert.True(JsonNode.DeepEquals(put, get));
        Assert.Equal(40, get["properties"]!["totalRegionalVCpus"]!.GetValue<int>());
        Assert.Equal(25000, get["properties"]!["virtualMachines"]!.GetValue<int>());
        Assert.Equal(12, get["properties"]!["families"]!["standardDSv3Family"]!.GetValue<int>());
        Assert.Equal(100, get["properties"]!["families"]!["standardEv5Family"]!.GetValue<int>());
        Assert.Equal((0, 12), (await _server.UsagesAsync())["standardDSv3Family"]);
    }

    [Theory]
    [InlineData("""{"properties":{"families":{"standardNopeFamily":3}}}""")]
    [InlineData("""{"properties":{"totalRegionalVCpus":-1}}""")]
    [InlineData("""{"properties":{"totalRegionalVCpus":"lots"}}""")]
    [InlineData("""{"properties":{"families":[1]}}""")]
    [InlineData("""{}""")]
    public async Task QuotaApi_BadBody_Is400AndChangesNothing(string json)
    {
        var (status, body) = await _server.SendAsync(HttpMethod.Put, QuotaPath(), ComputeTestServer.Json(json));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.NotNull(body["error"]!["code"]);
        Assert.Equal((0, 100), (await _server.UsagesAsync())["cores"]);
    }

    private string QuotaPath() => $"providers/Holdfast.Capacity/quotas/{_server.Subscription}?api-version=2025-01-01";

    private async Task SetQuotaAsync(string properties)
    {
        var (status, _) = await _server.SendAsync(HttpMethod.Put, QuotaPath(), ComputeTestServer.Json("{\"properties\":" + properties + "}"));
        Assert.True(status is HttpStatusCode.Created or HttpStatusCode.OK);
    }

    private static async Task<List<string>> VmSizeNamesAsync(ComputeTestServer server)
    {
        var (status, body) = await server.SendAsync(HttpMethod.Get, $"subscriptions/{server.Subscription}/providers/Microsoft.Compute/locations/local/vmSizes?api-version=2023-07-01");
        Assert.Equal(HttpStatusCode.OK, status);
        return [.. body["value"]!.AsArray().Select(s => s!["name"]!.GetValue<string>())];
    }
}
