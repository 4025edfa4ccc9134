using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Engine.Backends.Cpu;
using Engine.Checkpoints;
using Engine.Formats;
using Engine.Models;
using Engine.Quant;
using Engine.Tests.Support;
using Engine.Tokenizers;

namespace Engine.Tests.Integration;

/// <summary>The NativeAOT CLI (dist/engine-cpu, <c>./build.sh aot</c>) run as a user runs it: a copy of the single
/// executable alone in a folder, no <c>dotnet</c> on PATH, no DOTNET_* variables. Its results are compared with the
/// library's in-process ones.</summary>
public class NativeAotTests
{
    private static string Model => SharedData.Require("stories260K/stories260K.bin");

    [Fact]
    public void Info_prints_what_the_in_process_cli_prints()
    {
        var native = NativeCli.Run("info", "--model", Model);
        Assert.True(native.Exit == 0, native.Err);
        var managed = CliHarness.Run("info", "--model", Model);
        Assert.Equal(0, managed.Exit);
        Assert.Contains("parameters 260,032", native.Out);
        Assert.Equal(managed.Out, native.Out);
    }

    [Fact]
    public void Greedy_generate_gives_the_library_s_tokens()
    {
        const string prompt = "Once upon a time";
        const int n = 40;
        var native = NativeCli.Run("generate", "--model", Model, "--prompt", prompt, "--temperature", "0", "--max-new-tokens", $"{n}", "--device", "cpu");
        Assert.True(native.Exit == 0, native.Err);

        // The CLI streams the decoded prompt and then each new token; the same ids decoded the same way must give the
        // same text, and --json (source-generated, no reflection) prints the same ids.
        using var m = ModelLoader.Load(Model, CpuBackend.Instance, new WeightOptions());
        var tok = m.RequireTokenizer();
        var ids = new List<int> { tok.BosId };
        ids.AddRange(tok.Encode(prompt));
        var stream = new TokenStreamDecoder(tok);
        var expected = new StringBuilder();
        foreach (var id in ids) expected.Append(stream.Append(id));
        var all = new Generator(m.Model).Generate(ids, n, new SamplingOptions { Temperature = 0 }, onToken: id => expected.Append(stream.Append(id)));
        expected.Append(stream.Flush()).Append('\n');
        Assert.True(all.Length > ids.Count, "the library generated nothing");
        Assert.Equal(expected.ToString(), native.Out.ReplaceLineEndings("\n"));
        var json = NativeCli.Run("generate", "--model", Model, "--prompt", prompt, "--temperature", "0", "--max-new-tokens", $"{n}", "--device", "cpu", "--json");
        Assert.True(json.Exit == 0, json.Err);
        var r = JsonDocument.Parse(json.Out).RootElement;
        Assert.Equal(all, r.GetProperty("tokens").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(ids, r.GetProperty("prompt_tokens").EnumerateArray().Select(e => e.GetInt32()));
    }

    [Fact]
    public void Demo_train_writes_the_adapter_and_one_metrics_line_per_step()
    {
        using var tmp = new TempDir();
        string[] args = ["train", "--mode", "lora", "--max-steps", "3", "--logging-steps", "1", "--device", "cpu"];
        var native = NativeCli.Run([.. args, "--out", tmp.File("native")]);
        Assert.True(native.Exit == 0, native.Err + native.Out);
        Assert.True(File.Exists(tmp.File("native/adapter_model.safetensors")));
        var lines = File.ReadAllLines(tmp.File("native/metrics.jsonl"));
        Assert.Equal(3, lines.Length);

        var managed = CliHarness.Run([.. args, "--out", tmp.File("managed")]);
        Assert.True(managed.Exit == 0, managed.Err);
        var reference = File.ReadAllLines(tmp.File("managed/metrics.jsonl"));
        Assert.Equal(3, reference.Length);
        for (int i = 0; i < 3; i++)
        {
            using var got = JsonDocument.Parse(lines[i]);
            using var want = JsonDocument.Parse(reference[i]);
            Assert.Equal(i + 1, got.RootElement.GetProperty("step").GetInt32());
            double a = got.RootElement.GetProperty("loss").GetDouble(), b = want.RootElement.GetProperty("loss").GetDouble();
            // The native build vectorizes for a fixed instruction set, the JIT for this CPU's: sums may round differently.
            Assert.True(Math.Abs(a - b) <= 1e-3 * Math.Abs(b), $"step {i + 1}: loss {a} (native) vs {b} (in-process)");
        }
    }

    [Fact]
    public void Export_gguf_q8_0_reads_back_like_the_library_s_export()
    {
        using var tmp = new TempDir();
        var native = NativeCli.Run("export", "gguf", "--model", Model, "--type", "q8_0", "--out", tmp.File("native.gguf"), "--name", "stories260K");
        Assert.True(native.Exit == 0, native.Err);

        using (var m = ModelLoader.Load(Model, CpuBackend.Instance, new WeightOptions()))
            GgufExporter.Export(m.Model, m.RequireTokenizer(), GgmlType.Q8_0, tmp.File("library.gguf"), "stories260K");
        using var got = GgufFile.Open(tmp.File("native.gguf"));
        using var want = GgufFile.Open(tmp.File("library.gguf"));
        Assert.Equal("llama", got.GetString("general.architecture"));
        Assert.Equal(want.Metadata.Select(kv => kv.Key), got.Metadata.Select(kv => kv.Key));
        Assert.Equal(want.Tensors.Count, got.Tensors.Count);
        Assert.Contains(got.Tensors, t => t.Type == GgmlType.Q8_0);
        foreach (var w in want.Tensors)
        {
            var g = got.TensorInfo(w.Name);
            Assert.Equal(w.Type, g.Type);
            Assert.Equal(w.Dims, g.Dims);
            var a = new float[g.NumElements];
            var b = new float[w.NumElements];
            got.ReadFloats(w.Name, a);
            want.ReadFloats(w.Name, b);
            float scale = b.Max(Math.Abs);
            for (int i = 0; i < a.Length; i++)
                Assert.True(Math.Abs(a[i] - b[i]) <= scale / 100, $"{w.Name}[{i}]: {a[i]} (native) vs {b[i]} (library)");
        }
    }
}

/// <summary>Builds (incrementally, through <c>./build.sh aot</c>) and runs the NativeAOT CLI. ENGINE_CPU_BIN names a
/// prebuilt executable instead; ENGINE_SKIP_AOT=1 skips these tests. Missing prerequisites that cannot be installed fail
/// the tests with the apt-get command to run.</summary>
internal static class NativeCli
{
    private static readonly Lazy<(string? Path, string? Error)> Binary = new(Prepare, LazyThreadSafetyMode.ExecutionAndPublication);

    public static (int Exit, string Out, string Err) Run(params string[] args)
    {
        var bin = Require();
        var psi = new ProcessStartInfo(bin) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetDirectoryName(bin)! };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var key in psi.Environment.Keys.ToList())
            if (key.StartsWith("DOTNET_", StringComparison.OrdinalIgnoreCase) || key.StartsWith("COREHOST_", StringComparison.OrdinalIgnoreCase))
                psi.Environment.Remove(key);
        psi.Environment["PATH"] = PathWithoutDotnet();
        var r = Exec(psi, TimeSpan.FromMinutes(5));
        return (r.Exit, r.Out, r.Err);
    }

    /// <summary>The current PATH less every folder that holds a <c>dotnet</c> (on Debian /bin is /usr/bin, which does).</summary>
    private static string PathWithoutDotnet()
    {
        var dirs = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Where(d => !File.Exists(Path.Combine(d, "dotnet"))).ToList();
        Assert.DoesNotContain(dirs, d => File.Exists(Path.Combine(d, "dotnet")));
        return dirs.Count == 0 ? "/nonexistent" : string.Join(':', dirs);
    }

    private static string Require()
    {
        if (Environment.GetEnvironmentVariable("ENGINE_SKIP_AOT") == "1")
            Assert.Skip("ENGINE_SKIP_AOT=1: the NativeAOT CLI (dist/engine-cpu) is neither built nor tested");
        var (path, error) = Binary.Value;
        if (path is null) Assert.Fail(error);
        return path!;
    }

    private static (string?, string?) Prepare()
    {
        var bin = Environment.GetEnvironmentVariable("ENGINE_CPU_BIN");
        if (string.IsNullOrEmpty(bin))
        {
            var root = RepoRoot();
            if (root is null) return (null, $"no build.sh above {AppContext.BaseDirectory}; set ENGINE_CPU_BIN to a prebuilt engine-cpu");
            // Installs clang/zlib1g-dev when missing (as root); otherwise fails saying which apt-get command to run.
            var deps = Shell(root, "scripts/install-aot-deps.sh", TimeSpan.FromMinutes(10));
            if (deps.Exit != 0)
                return (null, $"NativeAOT prerequisites are missing and could not be installed (set ENGINE_SKIP_AOT=1 to skip): {deps.Out}{deps.Err}".Trim());
            // Always through build.sh: it is incremental (seconds when nothing changed), so a stale binary is never tested.
            var sw = Stopwatch.StartNew();
            var build = Shell(root, "./build.sh aot", TimeSpan.FromMinutes(20));
            if (build.Exit != 0)
                return (null, $"./build.sh aot failed (exit {build.Exit}, {sw.Elapsed.TotalSeconds:F0} s):\n{Tail(build.Out + build.Err, 4000)}");
            bin = Path.Combine(root, "dist", "engine-cpu");
        }
        if (!File.Exists(bin)) return (null, $"the NativeAOT CLI {bin} does not exist");

        // A copy alone in a fresh folder: the executable must need no file beside it.
        var dir = Path.Combine(Path.GetTempPath(), "engine-cpu-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        var copy = Path.Combine(dir, "engine-cpu");
        File.Copy(bin, copy);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(copy, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        };
        return (copy, null);
    }

    private static string? RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "build.sh")) && File.Exists(Path.Combine(d.FullName, "Engine.sln")))
                return d.FullName;
        return null;
    }

    private static (int Exit, string Out, string Err) Shell(string dir, string command, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo("bash") { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(command);
        return Exec(psi, timeout);
    }

    private static (int Exit, string Out, string Err) Exec(ProcessStartInfo psi, TimeSpan timeout)
    {
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            return (-1, stdout.Result, stderr.Result + $"\n(killed after {timeout.TotalSeconds:F0} s)");
        }
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    private static string Tail(string s, int n) => s.Length <= n ? s : "…" + s[^n..];
}
