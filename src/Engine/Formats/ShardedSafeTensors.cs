using System.Text.Json;

namespace Engine.Formats;

/// <summary>A checkpoint split over several .safetensors files, described by a <c>model.safetensors.index.json</c>
/// ({"metadata": {...}, "weight_map": {tensor name: shard file name}}). Shard names are resolved next to the index
/// and must not leave its folder; every listed tensor is checked to be present in its shard.</summary>
internal sealed class ShardedSafeTensors : ITensorSource
{
    private readonly Dictionary<string, SafeTensorsFile> _byTensor;
    private readonly List<string> _names;
    private readonly List<SafeTensorsFile> _shards;

    private ShardedSafeTensors(string path, Dictionary<string, SafeTensorsFile> byTensor, List<string> names, List<SafeTensorsFile> shards, Dictionary<string, string> weightMap)
    {
        Path = path;
        _byTensor = byTensor;
        _names = names;
        _shards = shards;
        WeightMap = weightMap;
    }

    /// <summary>The index file's path.</summary>
    public string Path { get; }
    /// <summary>Tensor names in index order.</summary>
    public IReadOnlyCollection<string> Names => _names;
    /// <summary>Tensor name → shard file name, as listed in the index.</summary>
    public IReadOnlyDictionary<string, string> WeightMap { get; }
    /// <summary>The opened shards in order of first appearance in the index.</summary>
    public IReadOnlyList<SafeTensorsFile> Shards => _shards;

    public static ShardedSafeTensors Open(string indexPath)
    {
        if (!File.Exists(indexPath)) throw new FileFormatException(indexPath, "file", "does not exist");
        var folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(indexPath))!;
        var weightMap = ReadWeightMap(indexPath);

        var shardsByFile = new Dictionary<string, SafeTensorsFile>(StringComparer.Ordinal);
        var shards = new List<SafeTensorsFile>();
        var byTensor = new Dictionary<string, SafeTensorsFile>(StringComparer.Ordinal);
        try
        {
            foreach (var (tensor, file) in weightMap)
            {
                if (!shardsByFile.TryGetValue(file, out var shard))
                {
                    var shardPath = System.IO.Path.Combine(folder, file);
                    if (!File.Exists(shardPath))
                        throw new FileFormatException(indexPath, $"weight_map['{tensor}']", $"shard file '{file}' does not exist in {folder}");
                    shard = SafeTensorsFile.Open(shardPath);
                    shardsByFile.Add(file, shard);
                    shards.Add(shard);
                }
                if (!shard.Contains(tensor))
                    throw new FileFormatException(indexPath, $"weight_map['{tensor}']", $"shard '{file}' does not contain that tensor");
                byTensor.Add(tensor, shard);
            }
        }
        catch
        {
            foreach (var s in shards) s.Dispose();
            throw;
        }
        return new ShardedSafeTensors(indexPath, byTensor, weightMap.Keys.ToList(), shards, weightMap);
    }

    public bool Contains(string name) => _byTensor.ContainsKey(name);
    public TensorEntry Info(string name) => Shard(name).Info(name);
    public void ReadFloats(string name, Span<float> dst) => Shard(name).ReadFloats(name, dst);
    public ReadOnlySpan<byte> ReadBytes(string name) => Shard(name).ReadBytes(name);

    /// <summary>The shard holding <paramref name="name"/>.</summary>
    public SafeTensorsFile Shard(string name) =>
        _byTensor.TryGetValue(name, out var s) ? s : throw new FileFormatException(Path, $"tensor '{name}'", "is not in the weight_map");

    public void Dispose()
    {
        foreach (var s in _shards) s.Dispose();
    }

    private static Dictionary<string, string> ReadWeightMap(string indexPath)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllBytes(indexPath));
            if (JsonText.FindInvalidString(doc.RootElement) is string bad) { doc.Dispose(); throw new FileFormatException(indexPath, "index JSON", bad); }
        }
        catch (JsonException e)
        {
            throw new FileFormatException(indexPath, "index JSON", $"is not valid JSON ({e.Message})", e);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object
                || !doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new FileFormatException(indexPath, "weight_map", "missing; expected an object mapping tensor names to shard files");
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var kv in map.EnumerateObject())
            {
                string what = $"weight_map['{kv.Name}']";
                if (kv.Value.ValueKind != JsonValueKind.String)
                    throw new FileFormatException(indexPath, what, $"is a {kv.Value.ValueKind}; expected a shard file name");
                var file = kv.Value.GetString()!;
                if (file.Length == 0 || System.IO.Path.IsPathRooted(file) || file.Contains('/') || file.Contains('\\') || file == "..")
                    throw new FileFormatException(indexPath, what, $"'{file}' is not a plain file name next to the index");
                if (!result.TryAdd(kv.Name, file))
                    throw new FileFormatException(indexPath, what, "appears twice");
            }
            if (result.Count == 0) throw new FileFormatException(indexPath, "weight_map", "is empty");
            return result;
        }
    }
}
