namespace Engine.Formats;

/// <summary>Opens a Hugging Face style checkpoint: a folder with <c>model.safetensors</c> or a sharded
/// <c>model.safetensors.index.json</c> (the single file wins when both exist, as in transformers), or a path to
/// either file directly.</summary>
internal static class SafeTensorsSource
{
    public const string SingleFileName = "model.safetensors";
    public const string IndexFileName = "model.safetensors.index.json";

    public static ITensorSource Open(string path)
    {
        if (File.Exists(path))
        {
            return path.EndsWith(".json", StringComparison.OrdinalIgnoreCase)
                ? ShardedSafeTensors.Open(path)
                : SafeTensorsFile.Open(path);
        }
        if (!Directory.Exists(path))
            throw new FileFormatException(path, "checkpoint", "is neither a file nor a folder");
        var single = Path.Combine(path, SingleFileName);
        if (File.Exists(single)) return SafeTensorsFile.Open(single);
        var index = Path.Combine(path, IndexFileName);
        if (File.Exists(index)) return ShardedSafeTensors.Open(index);
        var present = Directory.EnumerateFiles(path, "*.safetensors*").Select(Path.GetFileName).Order(StringComparer.Ordinal).Take(8).ToList();
        throw new FileFormatException(path, "checkpoint", $"has neither {SingleFileName} nor {IndexFileName}"
            + (present.Count > 0 ? $" (found: {string.Join(", ", present)})" : " (no .safetensors files found)"));
    }
}
