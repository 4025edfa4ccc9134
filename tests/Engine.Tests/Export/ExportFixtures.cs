using System.Collections.Concurrent;
using Engine.Backends.Cpu;
using Engine.Checkpoints;
using Engine.Data;
using Engine.Models;
using Engine.Quant;
using Engine.Tests.Support;

namespace Engine.Tests.Export;

/// <summary>stories260K (llama2.c checkpoint + tok512.model) exported to GGUF once per type per test class, in a
/// temporary folder removed afterwards.</summary>
public sealed class StoriesExports : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly ConcurrentDictionary<GgmlType, Lazy<(string Path, GgufExportReport Report)>> _files = new();

    public static string Source => SharedData.Require("stories260K/stories260K.bin");

    internal static LoadedModel LoadSource() => ModelLoader.Load(Source, CpuBackend.Instance, new WeightOptions());

    /// <summary>The exported file of <paramref name="type"/> (written on first use).</summary>
    internal string File(GgmlType type) => Get(type).Path;

    internal GgufExportReport Report(GgmlType type) => Get(type).Report;

    private (string Path, GgufExportReport Report) Get(GgmlType type)
    {
        _ = Source; // skip before creating anything when the shared data is absent
        return _files.GetOrAdd(type, t => new Lazy<(string, GgufExportReport)>(() =>
        {
            using var m = LoadSource();
            var path = _dir.File($"stories260K-{t.Name()}.gguf");
            return (path, GgufExporter.Export(m.Model, m.RequireTokenizer(), t, path, "stories260K"));
        })).Value;
    }

    private readonly ConcurrentDictionary<string, Lazy<object>> _memo = new();

    /// <summary>A value computed once per fixture (e.g. the f32 export's NLL, which several tests compare against).</summary>
    public T Memo<T>(string key, Func<T> compute) where T : notnull =>
        (T)_memo.GetOrAdd(key, _ => new Lazy<object>(() => compute())).Value;

    /// <summary>The five stories of the cs336 TinyStories sample, as engine eval splits them.</summary>
    public static List<string> Stories() =>
        PlainTextReader.Read(System.IO.File.ReadAllText(SharedData.Require("datasets/tinystories_sample_cs336.txt"))).Select(s => s.Text).ToList();

    public void Dispose() => _dir.Dispose();
}
