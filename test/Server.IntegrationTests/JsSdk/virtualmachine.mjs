// Azure's JavaScript SDKs (@azure/arm-network, @azure/arm-compute) against a Holdfast server: a VM built as their samples
// build one (a VNet with a subnet, a NIC, a VM on it with an OS disk deleted with it), run through its power actions
// as long-running operations, listed, then deleted with its NIC and VNet. Run by VirtualMachineJsSdkTests.cs in a
// resource group it created, with the server's endpoint, the admin's credentials and the CA in NODE_EXTRA_CA_CERTS.
// Prints one JSON line of what it saw; any unexpected failure exits non-zero.
import { ClientSecretCredential } from "@azure/identity";
import { ComputeManagementClient } from "@azure/arm-compute";
import { NetworkManagementClient } from "@azure/arm-network";

const env = (name) => {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set`);
  }
  return value;
};

const endpoint = env("HOLDFAST_ENDPOINT");
const credential = new ClientSecretCredential(env("HOLDFAST_TENANT_ID"), env("HOLDFAST_CLIENT_ID"), env("HOLDFAST_CLIENT_SECRET"), {
  authorityHost: endpoint,
  disableInstanceDiscovery: true,
});
const options = {
  endpoint,
  credentialScopes: [env("HOLDFAST_AUDIENCE").replace(/\/$/, "") + "/.default"],
  retryOptions: { maxRetries: 0 },
};
const subscriptionId = env("HOLDFAST_SUBSCRIPTION_ID");
const network = new NetworkManagementClient(credential, subscriptionId, options);
const compute = new ComputeManagementClient(credential, subscriptionId, options);
const group = env("HOLDFAST_GROUP");
const location = env("HOLDFAST_LOCATION");
// LROs poll at the interval the server asks for (Retry-After); this only bounds a missing one.
const lro = { updateIntervalInMs: 250 };

const collect = async (pages) => {
  const items = [];
  for await (const item of pages) {
    items.push(item);
  }
  return items;
};
const powerState = (view) => view.statuses?.find((s) => s.code?.startsWith("PowerState/"))?.code ?? null;
const refusal = async (promise) => {
  try {
    await promise;
  } catch (error) {
    if (error?.name !== "RestError") {
      throw error;
    }
    return { name: error.name, statusCode: error.statusCode, code: error.code, message: error.message };
  }
  throw new Error("the request was expected to fail and did not");
};

const vnet = await network.virtualNetworks.beginCreateOrUpdateAndWait(group, "vnet1", {
  location,
  addressSpace: { addressPrefixes: ["10.60.0.0/16"] },
  subnets: [{ name: "default", addressPrefix: "10.60.0.0/24" }],
}, lro);
const subnet = await network.subnets.get(group, "vnet1", "default");
const nic = await network.networkInterfaces.beginCreateOrUpdateAndWait(group, "vm1-nic", {
  location,
  ipConfigurations: [{ name: "ipconfig1", subnet: { id: subnet.id }, privateIPAllocationMethod: "Dynamic" }],
}, lro);

const vmParameters = (size) => ({
  location,
  hardwareProfile: { vmSize: size },
  storageProfile: {
    imageReference: { publisher: "Canonical", offer: "0001-com-ubuntu-server-jammy", sku: "22_04-lts-gen2", version: "latest" },
    osDisk: { createOption: "FromImage", deleteOption: "Delete", managedDisk: { storageAccountType: "Standard_LRS" } },
  },
  osProfile: { computerName: "vm1", adminUsername: "azureuser", adminPassword: "Js-Sdk-Passw0rd!" },
  networkProfile: { networkInterfaces: [{ id: nic.id, primary: true }] },
});
// Standard_NC24 needs 224 GiB of memory; no simulated host has that much. Refused, it leaves the NIC free.
const tooBig = await refusal(compute.virtualMachines.beginCreateOrUpdateAndWait(group, "too-big", vmParameters("Standard_NC24"), lro));
const created = await compute.virtualMachines.beginCreateOrUpdateAndWait(group, "vm1", vmParameters("Standard_D2s_v3"), lro);
const withView = await compute.virtualMachines.get(group, "vm1", { expand: "instanceView" });
const nicAttached = await network.networkInterfaces.get(group, "vm1-nic");
const disksWhileRunning = await collect(compute.disks.listByResourceGroup(group));
const nicInUse = await refusal(network.networkInterfaces.beginDeleteAndWait(group, "vm1-nic", lro));

const states = {};
await compute.virtualMachines.beginPowerOffAndWait(group, "vm1", lro);
states.powerOff = powerState(await compute.virtualMachines.instanceView(group, "vm1"));
await compute.virtualMachines.beginStartAndWait(group, "vm1", lro);
states.start = powerState(await compute.virtualMachines.instanceView(group, "vm1"));
await compute.virtualMachines.beginRestartAndWait(group, "vm1", lro);
states.restart = powerState(await compute.virtualMachines.instanceView(group, "vm1"));
await compute.virtualMachines.beginDeallocateAndWait(group, "vm1", lro);
states.deallocate = powerState(await compute.virtualMachines.instanceView(group, "vm1"));

const listed = await collect(compute.virtualMachines.list(group));
const listedAll = await collect(compute.virtualMachines.listAll());

await compute.virtualMachines.beginDeleteAndWait(group, "vm1", lro);
const disksAfterDelete = await collect(compute.disks.listByResourceGroup(group));
await network.networkInterfaces.beginDeleteAndWait(group, "vm1-nic", lro);
await network.virtualNetworks.beginDeleteAndWait(group, "vnet1", lro);

console.log(JSON.stringify({
  vnet: { id: vnet.id, provisioningState: vnet.provisioningState, subnets: vnet.subnets?.map((s) => s.name) ?? [] },
  nic: { id: nic.id, privateIPAddress: nicAttached.ipConfigurations?.[0]?.privateIPAddress ?? null, virtualMachine: nicAttached.virtualMachine?.id ?? null },
  vm: {
    id: created.id,
    provisioningState: created.provisioningState,
    vmSize: created.hardwareProfile?.vmSize ?? null,
    adminPassword: created.osProfile?.adminPassword ?? null,
    nics: created.networkProfile?.networkInterfaces?.map((n) => n.id) ?? [],
    instanceViewStatuses: withView.instanceView?.statuses?.map((s) => s.code) ?? [],
  },
  disksWhileRunning: disksWhileRunning.map((d) => ({ name: d.name, managedBy: d.managedBy ?? null })),
  nicInUse,
  tooBig,
  states,
  listed: listed.map((v) => v.name),
  listedAll: listedAll.map((v) => v.id),
  disksAfterDelete: disksAfterDelete.map((d) => d.name),
}));
