// Azure's JavaScript SDK against a Holdfast server: creates a role assignment and lists the assignments at its scope.
// Run by JsSdkTests.cs with the server's endpoint, the admin's credentials and the CA in NODE_EXTRA_CA_CERTS.
// Prints one JSON line: {"created": <assignment>, "listed": [<assignment>, ...]}; any failure exits non-zero.
import { ClientSecretCredential } from "@azure/identity";
import { AuthorizationManagementClient } from "@azure/arm-authorization";

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
const client = new AuthorizationManagementClient(credential, env("HOLDFAST_SUBSCRIPTION_ID"), {
  endpoint,
  credentialScopes: [env("HOLDFAST_AUDIENCE").replace(/\/$/, "") + "/.default"],
  retryOptions: { maxRetries: 0 },
});

const scope = env("HOLDFAST_SCOPE").replace(/^\//, "");
const created = await client.roleAssignments.create(scope, env("HOLDFAST_ASSIGNMENT_NAME"), {
  roleDefinitionId: env("HOLDFAST_ROLE_DEFINITION_ID"),
  principalId: env("HOLDFAST_PRINCIPAL_ID"),
  principalType: "ServicePrincipal",
});
const listed = [];
for await (const assignment of client.roleAssignments.listForScope(scope, { filter: "atScope()" })) {
  listed.push(assignment);
}
console.log(JSON.stringify({ created, listed }));
