using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using Engine.Tests.Support;
using Engine.Tokenizers;

namespace Engine.Tests.Tokenizers;

/// <summary>The real tokenizer.json files under shared/data/hf-tokenizers (loaded once), and the HF reference ids of
/// Reference/hf_ids.json (made by Reference/make_hf_ids.mjs with transformers.js).</summary>
internal static class HfTokenizerAssets
{
    public static readonly string[] Names = ["llama3_1", "qwen3", "mistral"];

    private static readonly Dictionary<string, Lazy<HfTokenizer>> Loaded = Names.ToDictionary(n => n,
        n => new Lazy<HfTokenizer>(() => (HfTokenizer)TokenizerLoader.Load(SharedData.Require($"hf-tokenizers/{n}/tokenizer.json"))));

    public static string PathOf(string name) => SharedData.Require($"hf-tokenizers/{name}/tokenizer.json");

    public static HfTokenizer Get(string name)
    {
        PathOf(name);
        return Loaded[name].Value;
    }

    /// <summary>The Mistral file with its normalizer dropped and Metaspace / Digits pre-tokenizers instead, built the
    /// way make_hf_ids.mjs builds them (loaded from a temporary folder, removed once read).</summary>
    public static readonly Dictionary<string, string> Variants = new()
    {
        ["mistral_metaspace"] = """{"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": false}""",
        ["mistral_digits_metaspace"] = """{"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": true}, {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": false}]}""",
    };

    private static readonly Dictionary<string, Lazy<HfTokenizer>> LoadedVariants = Variants.ToDictionary(v => v.Key,
        v => new Lazy<HfTokenizer>(() =>
        {
            var source = PathOf("mistral");
            var json = JsonNode.Parse(File.ReadAllText(source))!.AsObject();
            json["normalizer"] = null;
            json["pre_tokenizer"] = JsonNode.Parse(v.Value);
            json["decoder"] = JsonNode.Parse("""{"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": true}""");
            var dir = Directory.CreateTempSubdirectory("engine-hf-variant-").FullName;
            try
            {
                File.WriteAllText(Path.Combine(dir, "tokenizer.json"), json.ToJsonString());
                File.Copy(Path.Combine(Path.GetDirectoryName(source)!, "tokenizer_config.json"), Path.Combine(dir, "tokenizer_config.json"));
                return (HfTokenizer)TokenizerLoader.Load(dir);
            }
            finally { Directory.Delete(dir, recursive: true); }
        }));

    public static HfTokenizer Variant(string name)
    {
        PathOf("mistral");
        return LoadedVariants[name].Value;
    }

    public sealed record Case(string Text, int[] Ids, int[] IdsSpecial);

    public static IReadOnlyList<Case> Cases(string name)
    {
        var root = JsonNode.Parse(File.ReadAllText(ReferencePath()))!;
        return root["tokenizers"]![name]!.AsArray().Select(c => new Case(c!["text"]!.GetValue<string>(),
            c["ids"]!.AsArray().Select(x => x!.GetValue<int>()).ToArray(),
            c["ids_special"]!.AsArray().Select(x => x!.GetValue<int>()).ToArray())).ToList();
    }

    private static string ReferencePath([CallerFilePath] string source = "") =>
        Path.Combine(Path.GetDirectoryName(source)!, "Reference", "hf_ids.json");
}
