using System.Text.Json.Serialization;
using Holdfast.Audit.Chain;

namespace Holdfast.Server.Audit;

/// <summary>Source-generated JSON for the server's own audit records: pending records and the head.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(AuditRecord))]
[JsonSerializable(typeof(AuditHead))]
internal sealed partial class AuditServerJson : JsonSerializerContext;
