using System.Text.Json.Serialization;
using Holdfast.Audit.Chain;
using Holdfast.Audit.Export;

namespace Holdfast.Audit;

/// <summary>Source-generated JSON for everything the assembly stores or exports; one set of options for all of it.</summary>
[JsonSourceGenerationOptions(
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    RespectNullableAnnotations = true)]
[JsonSerializable(typeof(AuditEntry))]
[JsonSerializable(typeof(AuditBlock))]
[JsonSerializable(typeof(AuditCheckpoint))]
[JsonSerializable(typeof(ExportHeader))]
[JsonSerializable(typeof(ExportRecord))]
[JsonSerializable(typeof(ExportTrailer))]
internal sealed partial class AuditJsonContext : JsonSerializerContext;
