using System.Text.Json.Serialization;

namespace Holdfast.Audit.Chain;

/// <summary>
/// One activity-log entry at its place in a hash chain. <see cref="Hash"/> is SHA-256 over the entry's canonical bytes
/// (<see cref="GetCanonicalBytes"/>), which include <see cref="Sequence"/> and <see cref="PreviousHash"/>, so each entry
/// commits to every entry before it: changing, removing, inserting or moving one breaks a link that
/// <see cref="Verification.AuditVerifier"/> finds. The chain alone is not a signature — anyone can compute SHA-256 —
/// so only entries covered by a signed <see cref="AuditCheckpoint"/> are fixed against someone who rewrites the rest
/// of the chain.
/// </summary>
/// <remarks>
/// <para>
/// Canonical bytes (schema version 1): one JSON object in RFC 8785 (JCS) form — members sorted by name, no
/// whitespace, strings escaped as ECMAScript does, integers as decimal digits — with exactly these members, in this
/// order: <c>callerAppId, callerObjectId, category, clientAddress, correlationId, description, eventTimestamp,
/// httpStatusCode, level, operation, previousHash, resourceGroupName, resourceId, schemaVersion, sequence, status,
/// subStatus, subscriptionId, tenantId</c>. Absent optional values are written as <c>null</c>, never omitted.
/// Python's <c>json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)</c> gives the same bytes.
/// <c>eventTimestamp</c> is a string in UTC with seven fractional digits (<c>2026-01-01T00:00:00.0000000Z</c>).
/// <c>hash</c> itself is not part of the bytes. Hashes are 64 lowercase hex characters.
/// </para>
/// <para>
/// The stored JSON (<see cref="AuditJson"/>) uses the same member names plus <c>hash</c>; it is not the hashed form,
/// so its formatting may change, but its member names may not. A change to the canonical form needs a new
/// <see cref="SchemaVersion"/>; verifiers keep every version they have ever written.
/// </para>
/// </remarks>
public sealed record AuditEntry
{
    /// <summary>The schema version <see cref="Create"/> writes.</summary>
    public const int CurrentSchemaVersion = 1;

    /// <summary>The largest sequence: the largest integer an RFC 8785 number holds exactly (2^53 − 1).</summary>
    public const long MaxSequence = CanonicalJson.MaxSafeInteger;

    /// <summary>The <see cref="PreviousHash"/> of entry 1: 64 zeros.</summary>
    public const string GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000";

    [JsonPropertyName("schemaVersion")]
    public required int SchemaVersion { get; init; }

    /// <summary>The entry's place in the log: 1 for the first, then contiguous.</summary>
    [JsonPropertyName("sequence")]
    public required long Sequence { get; init; }

    [JsonPropertyName("eventTimestamp")]
    public required DateTimeOffset EventTimestamp { get; init; }

    [JsonPropertyName("tenantId")]
    public required string TenantId { get; init; }

    [JsonPropertyName("callerAppId")]
    public required string CallerAppId { get; init; }

    [JsonPropertyName("callerObjectId")]
    public required string CallerObjectId { get; init; }

    [JsonPropertyName("operation")]
    public required string Operation { get; init; }

    [JsonPropertyName("resourceId")]
    public required string ResourceId { get; init; }

    [JsonPropertyName("subscriptionId")]
    public string? SubscriptionId { get; init; }

    [JsonPropertyName("resourceGroupName")]
    public string? ResourceGroupName { get; init; }

    [JsonPropertyName("status")]
    public required string Status { get; init; }

    [JsonPropertyName("subStatus")]
    public string? SubStatus { get; init; }

    [JsonPropertyName("httpStatusCode")]
    public required int HttpStatusCode { get; init; }

    [JsonPropertyName("correlationId")]
    public required string CorrelationId { get; init; }

    [JsonPropertyName("clientAddress")]
    public string? ClientAddress { get; init; }

    [JsonPropertyName("category")]
    public required string Category { get; init; }

    [JsonPropertyName("level")]
    public required string Level { get; init; }

    [JsonPropertyName("description")]
    public string? Description { get; init; }

    /// <summary>The <see cref="Hash"/> of the entry before this one; <see cref="GenesisHash"/> for entry 1.</summary>
    [JsonPropertyName("previousHash")]
    public required string PreviousHash { get; init; }

    /// <summary>SHA-256 of <see cref="GetCanonicalBytes"/>, as 64 lowercase hex characters.</summary>
    [JsonPropertyName("hash")]
    public required string Hash { get; init; }

    /// <summary>
    /// Places <paramref name="data"/> in the chain at <paramref name="sequence"/>, after the entry whose hash is
    /// <paramref name="previousHash"/> (<see cref="GenesisHash"/> for sequence 1), and computes its hash. The
    /// timestamp is stored as UTC. Strings must be well-formed UTF-16: a lone surrogate would not survive storage as
    /// JSON unchanged, and the entry would then fail verification.
    /// </summary>
    public static AuditEntry Create(AuditRecord data, long sequence, string previousHash)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(sequence, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(sequence, MaxSequence);
        if (!HashText.IsWellFormed(previousHash))
        {
            throw new ArgumentException("The previous hash must be 64 lowercase hexadecimal characters.", nameof(previousHash));
        }

        ArgumentException.ThrowIfNullOrEmpty(data.Operation);
        ArgumentException.ThrowIfNullOrEmpty(data.ResourceId);
        ArgumentException.ThrowIfNullOrEmpty(data.Status);
        ArgumentException.ThrowIfNullOrEmpty(data.Category);
        ArgumentException.ThrowIfNullOrEmpty(data.Level);
        ArgumentNullException.ThrowIfNull(data.TenantId);
        ArgumentNullException.ThrowIfNull(data.CallerAppId);
        ArgumentNullException.ThrowIfNull(data.CallerObjectId);
        ArgumentNullException.ThrowIfNull(data.CorrelationId);

        var unhashed = new AuditEntry
        {
            SchemaVersion = CurrentSchemaVersion,
            Sequence = sequence,
            EventTimestamp = data.EventTimestamp.ToUniversalTime(),
            TenantId = data.TenantId,
            CallerAppId = data.CallerAppId,
            CallerObjectId = data.CallerObjectId,
            Operation = data.Operation,
            ResourceId = data.ResourceId,
            SubscriptionId = data.SubscriptionId,
            ResourceGroupName = data.ResourceGroupName,
            Status = data.Status,
            SubStatus = data.SubStatus,
            HttpStatusCode = data.HttpStatusCode,
            CorrelationId = data.CorrelationId,
            ClientAddress = data.ClientAddress,
            Category = data.Category,
            Level = data.Level,
            Description = data.Description,
            PreviousHash = previousHash,
            Hash = string.Empty,
        };
        foreach (var text in unhashed.Texts())
        {
            if (!IsWellFormedUtf16(text))
            {
                throw new ArgumentException("Audit fields must be well-formed UTF-16 text (no lone surrogates).", nameof(data));
            }
        }

        return unhashed with { Hash = unhashed.ComputeHash() };
    }

    /// <summary>
    /// The bytes <see cref="Hash"/> is computed over (see the type's remarks). Throws
    /// <see cref="NotSupportedException"/> for a schema version this assembly does not know.
    /// </summary>
    public byte[] GetCanonicalBytes()
    {
        if (SchemaVersion != CurrentSchemaVersion)
        {
            throw new NotSupportedException($"Audit entry schema version {SchemaVersion} is not supported; this version knows {CurrentSchemaVersion}.");
        }

        return new CanonicalJson()
            .Add("callerAppId", CallerAppId)
            .Add("callerObjectId", CallerObjectId)
            .Add("category", Category)
            .Add("clientAddress", ClientAddress)
            .Add("correlationId", CorrelationId)
            .Add("description", Description)
            .Add("eventTimestamp", EventTimestamp)
            .Add("httpStatusCode", HttpStatusCode)
            .Add("level", Level)
            .Add("operation", Operation)
            .Add("previousHash", PreviousHash)
            .Add("resourceGroupName", ResourceGroupName)
            .Add("resourceId", ResourceId)
            .Add("schemaVersion", SchemaVersion)
            .Add("sequence", Sequence)
            .Add("status", Status)
            .Add("subStatus", SubStatus)
            .Add("subscriptionId", SubscriptionId)
            .Add("tenantId", TenantId)
            .ToUtf8Bytes();
    }

    /// <summary>SHA-256 of <see cref="GetCanonicalBytes"/>: what <see cref="Hash"/> should be.</summary>
    public string ComputeHash() => HashText.Sha256(GetCanonicalBytes());

    /// <summary>
    /// Whether <see cref="Hash"/> matches the entry's content. False for a schema version this assembly does not know
    /// and for a sequence outside 1..<see cref="MaxSequence"/>, which no writer produces.
    /// </summary>
    public bool VerifyHash() =>
        SchemaVersion == CurrentSchemaVersion
        && Sequence is >= 1 and <= MaxSequence
        && string.Equals(Hash, ComputeHash(), StringComparison.Ordinal);

    private IEnumerable<string?> Texts() =>
    [
        TenantId, CallerAppId, CallerObjectId, Operation, ResourceId, SubscriptionId, ResourceGroupName, Status,
        SubStatus, CorrelationId, ClientAddress, Category, Level, Description,
    ];

    private static bool IsWellFormedUtf16(string? text)
    {
        if (text is null)
        {
            return true;
        }

        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(text[i]))
            {
                return false;
            }
        }

        return true;
    }
}
