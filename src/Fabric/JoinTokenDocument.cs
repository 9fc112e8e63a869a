namespace Holdfast.Fabric;

/// <summary>
/// A host's outstanding one-time join token at <see cref="FabricKeys.JoinToken"/>: only the SHA-256 of the secret
/// (lower-case hex) is stored, as secrets are. The operator's <c>createJoinToken</c> action writes it (replacing any
/// earlier one) and returns the secret once; the agent's join deletes it in the transaction that registers the agent.
/// </summary>
public sealed record JoinTokenDocument(string HostName, string SecretSha256, DateTimeOffset ExpiresOn);
