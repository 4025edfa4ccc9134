using System.Text.Json;
using System.Text.Json.Nodes;
using Engine.Formats;

namespace Engine.Tokenizers;

/// <summary>Reads a Hugging Face tokenizer.json, with the tokenizer_config.json beside it when there is one, into an
/// <see cref="HfTokenizer"/>. Every component is parsed strictly: an unknown type, or an option engine does not
/// implement, is refused with the file, the JSON path and the value.</summary>
internal static class HfTokenizerFile
{
    /// <summary>Tokenizer classes whose tokenizer_config add_bos_token / add_eos_token rewrite the post-processor
    /// (transformers' LlamaTokenizerFast and its kin do; other classes ignore the two keys, and so does engine).</summary>
    private static readonly HashSet<string> BosEosOverridingClasses = new(StringComparer.Ordinal)
    {
        "LlamaTokenizer", "LlamaTokenizerFast", "CodeLlamaTokenizer", "CodeLlamaTokenizerFast", "GemmaTokenizer", "GemmaTokenizerFast",
    };

    public static HfTokenizer Load(string path)
    {
        var root = JsonText.ReadObject(path, "tokenizer.json");
        var json = new HfJson(path);
        foreach (var (key, _) in root)
            if (key is not ("version" or "truncation" or "padding" or "added_tokens" or "normalizer" or "pre_tokenizer" or "model"
                or "post_processor" or "decoder"))
                throw json.Error(key, "is not a tokenizer.json field engine knows");
        if (!HfJson.IsNull(root["truncation"]))
            throw json.Error("truncation", $"truncation is not supported (expected null), got {HfJson.Show(root["truncation"])}");
        if (!HfJson.IsNull(root["padding"]))
        {
            var padding = json.Object(root["padding"], "padding");
            // Padding to the longest sequence of a batch never changes one sequence's ids; a fixed length would.
            if (padding["strategy"] is JsonValue s && s.GetValueKind() == JsonValueKind.String && s.GetValue<string>() == "BatchLongest") { }
            else throw json.Error("padding.strategy", $"only \"BatchLongest\" is supported, got {HfJson.Show(padding["strategy"])}");
        }

        var model = HfBpeModel.Parse(json, root["model"], "model");
        var normalizer = HfNormalizer.Parse(json, root["normalizer"], "normalizer");
        var pre = HfPreTokenizer.Parse(json, root["pre_tokenizer"], "pre_tokenizer");
        var decoder = HfDecoder.Parse(json, root["decoder"], "decoder");
        var added = AddedTokens(json, root["added_tokens"], normalizer is not null);
        var (prefix, suffix) = PostProcessor(json, root["post_processor"], "post_processor");

        var configPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, "tokenizer_config.json");
        var config = File.Exists(configPath) ? JsonText.ReadObject(configPath, "tokenizer_config.json") : null;
        var cj = new HfJson(configPath);
        int Special(string key, int fallback)
        {
            if (config is null || !config.ContainsKey(key)) return fallback;
            var node = config[key];
            if (HfJson.IsNull(node)) return -1;
            string content = node is JsonObject o ? cj.String(o["content"], $"{key}.content") : cj.String(node, key);
            int id = added.FirstOrDefault(a => a.Content == content)?.Id ?? model.PieceToId(content);
            return id >= 0 ? id : throw cj.Error(key, $"\"{content}\" is not a token of {path}");
        }

        int bos = Special("bos_token", prefix);
        int eos = Special("eos_token", suffix);
        int pad = Special("pad_token", -1);
        int unk = Special("unk_token", model.UnkId);
        if (prefix >= 0 && prefix != bos)
            throw json.Error("post_processor", $"adds token {prefix} before the text, which is not the bos_token ({bos}); only BOS is supported there");
        if (suffix >= 0 && suffix != eos)
            throw json.Error("post_processor", $"adds token {suffix} after the text, which is not the eos_token ({eos}); only EOS is supported there");
        bool addBos = prefix >= 0, addEos = suffix >= 0;
        string? chatTemplate = null;
        if (config is not null)
        {
            string? cls = JsonFields.String(config, "tokenizer_class", configPath);
            if (cls is not null && BosEosOverridingClasses.Contains(cls))
            {
                addBos = JsonFields.Bool(config, "add_bos_token", configPath, addBos);
                addEos = JsonFields.Bool(config, "add_eos_token", configPath, addEos);
            }
            if (config["chat_template"] is JsonValue ct && ct.GetValueKind() == JsonValueKind.String) chatTemplate = ct.GetValue<string>();
        }
        return new HfTokenizer(path, model, normalizer, pre, decoder, added,
            new HfSpecialIds(bos, eos, pad, unk, addBos && bos >= 0, addEos && eos >= 0), chatTemplate);
    }

    private static List<HfAddedToken> AddedTokens(HfJson json, JsonNode? node, bool hasNormalizer)
    {
        var result = new List<HfAddedToken>();
        if (HfJson.IsNull(node)) return result;
        var arr = json.Array(node, "added_tokens");
        for (int i = 0; i < arr.Count; i++)
        {
            string p = $"added_tokens[{i}]";
            var o = json.Object(arr[i], p);
            foreach (var (key, _) in o)
                if (key is not ("id" or "content" or "single_word" or "lstrip" or "rstrip" or "normalized" or "special"))
                    throw json.Error($"{p}.{key}", "is not an added-token field engine knows");
            string content = json.String(o["content"], $"{p}.content");
            if (content.Length == 0) throw json.Error($"{p}.content", "is empty");
            // A "normalized" token is matched in normalized text; engine matches added tokens in the input, which is the
            // same only when there is no normalizer.
            if (json.Bool(o, "normalized", p, false) && hasNormalizer)
                throw json.Error($"{p}.normalized", "true is not supported with a normalizer (matching in normalized text)");
            result.Add(new HfAddedToken(json.Int(o["id"], $"{p}.id"), content, json.Bool(o, "special", p, false),
                json.Bool(o, "lstrip", p, false), json.Bool(o, "rstrip", p, false), json.Bool(o, "single_word", p, false)));
        }
        return result;
    }

    /// <summary>The ids the post-processor puts before and after a single sequence (-1 for none).</summary>
    private static (int Prefix, int Suffix) PostProcessor(HfJson json, JsonNode? node, string path)
    {
        if (HfJson.IsNull(node)) return (-1, -1);
        var o = json.Object(node, path);
        switch (json.Type(o, path))
        {
            case "ByteLevel":
                // Only moves offsets; ids are unchanged.
                json.OnlyKeys(o, path, "add_prefix_space", "trim_offsets", "use_regex");
                return (-1, -1);
            case "Sequence":
            {
                json.OnlyKeys(o, path, "processors");
                var items = json.Array(o["processors"], $"{path}.processors");
                int prefix = -1, suffix = -1;
                for (int i = 0; i < items.Count; i++)
                {
                    var (p, s) = PostProcessor(json, items[i], $"{path}.processors[{i}]");
                    if (p >= 0 && prefix >= 0 || s >= 0 && suffix >= 0)
                        throw json.Error($"{path}.processors[{i}]", "a second template adding special tokens is not supported");
                    if (p >= 0) prefix = p;
                    if (s >= 0) suffix = s;
                }
                return (prefix, suffix);
            }
            case "TemplateProcessing":
            {
                json.OnlyKeys(o, path, "single", "pair", "special_tokens");
                var special = json.Object(o["special_tokens"], $"{path}.special_tokens");
                var single = json.Array(o["single"], $"{path}.single");
                int prefix = -1, suffix = -1;
                bool seenA = false;
                for (int i = 0; i < single.Count; i++)
                {
                    string p = $"{path}.single[{i}]";
                    var item = json.Object(single[i], p);
                    if (item["Sequence"] is JsonObject seq && item.Count == 1)
                    {
                        string id = json.String(seq["id"], $"{p}.Sequence.id");
                        if (id != "A" || seenA) throw json.Error($"{p}.Sequence.id", $"expected one sequence \"A\", got \"{id}\"");
                        seenA = true;
                    }
                    else if (item["SpecialToken"] is JsonObject st && item.Count == 1)
                    {
                        string name = json.String(st["id"], $"{p}.SpecialToken.id");
                        var entry = json.Object(special[name], $"{path}.special_tokens[\"{name}\"]");
                        var ids = json.Array(entry["ids"], $"{path}.special_tokens[\"{name}\"].ids");
                        if (ids.Count != 1) throw json.Error($"{path}.special_tokens[\"{name}\"].ids", $"expected one id, got {ids.Count}");
                        int id = json.Int(ids[0], $"{path}.special_tokens[\"{name}\"].ids[0]");
                        if (!seenA && prefix < 0) prefix = id;
                        else if (seenA && suffix < 0) suffix = id;
                        else throw json.Error(p, "more than one special token before or after the text is not supported");
                    }
                    else throw json.Error(p, $"expected {{\"Sequence\": ...}} or {{\"SpecialToken\": ...}}, got {HfJson.Show(item)}");
                }
                if (!seenA) throw json.Error($"{path}.single", "has no sequence $A");
                return (prefix, suffix);
            }
            case var t:
                throw json.Error($"{path}.type", $"post-processor \"{t}\" is not supported (supported: TemplateProcessing, ByteLevel, Sequence)");
        }
    }
}
