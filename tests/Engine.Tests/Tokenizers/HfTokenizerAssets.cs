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
