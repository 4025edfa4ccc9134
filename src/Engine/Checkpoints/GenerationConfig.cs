using System.Text.Json;
using System.Text.Json.Nodes;
using Engine.Formats;

namespace Engine.Checkpoints;

/// <summary>The part of an HF model folder's <c>generation_config.json</c> engine uses: <c>eos_token_id</c> (an id or a
/// list; Llama 3.1 Instruct lists 128001, 128008 and 128009, Qwen 3 lists &lt;|im_end|&gt; and &lt;|endoftext|&gt;), at
/// which HF's generate stops. The sampling defaults in the file are not applied: engine's generate takes its own flags.</summary>
internal static class GenerationConfig
{
    public const string FileName = "generation_config.json";

    /// <summary>The end-of-sequence ids of the folder's generation_config.json; none when the model is not a folder or
    /// has no such file. A malformed entry is an error naming the file and the field.</summary>
    public static IReadOnlyList<int> EosTokenIds(string modelPath)
    {
        var path = Path.Combine(modelPath, FileName);
        if (!Directory.Exists(modelPath) || !File.Exists(path)) return [];
        var o = JsonText.ReadObject(path, FileName);
        var n = o["eos_token_id"];
        if (n is null || n.GetValueKind() == JsonValueKind.Null) return [];
        var items = n is JsonArray a ? a.ToList() : [n];
        var ids = new List<int>(items.Count);
        foreach (var item in items)
        {
            if (item is null || item.GetValueKind() != JsonValueKind.Number || !item.AsValue().TryGetValue<int>(out int id) || id < 0)
                throw new FileFormatException(path, "eos_token_id", $"expected a token id or a list of them, got {n.ToJsonString()}");
            ids.Add(id);
        }
        return ids;
    }
}
