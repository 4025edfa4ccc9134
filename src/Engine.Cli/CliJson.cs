using System.Text.Json.Serialization;
using Engine.Api;

namespace Engine.Cli;

/// <summary>The JSON the verbs print with --json, through source-generated serializers (NativeAOT has no reflection).
/// Keys are snake_case, as HF config files and the earlier CLI output spell them.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(ModelInfo))]
[JsonSerializable(typeof(GenerationResult))]
[JsonSerializable(typeof(GgufExportResult))]
[JsonSerializable(typeof(GgufLoraExportResult))]
[JsonSerializable(typeof(EvalJson))]
[JsonSerializable(typeof(TokenizeJson))]
internal sealed partial class CliJson : JsonSerializerContext;

/// <summary><c>engine eval --json</c>.</summary>
internal sealed record EvalJson(long Tokens, double Nll, double Ppl);

/// <summary><c>engine tokenize --json</c>.</summary>
internal sealed record TokenizeJson(IReadOnlyList<int> Ids);
