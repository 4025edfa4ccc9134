using System.Diagnostics;

namespace Engine.Tests.Fuzz;

/// <summary>Runs inputs through a <see cref="FuzzTarget"/> and judges each: it must end in success or an
/// <see cref="EngineException"/> whose message names the file (or, for folder targets, the folder), within the per-input
/// time limit and without allocating out of proportion to the input's size. Failing inputs are saved under
/// <see cref="FailureDir"/> (copy them into Corpus/&lt;parser&gt;/ to keep them as regression inputs).</summary>
internal sealed class FuzzRunner : IDisposable
{
    /// <summary>Inputs per parser: ENGINE_FUZZ_COUNT (./build.sh fuzz N), else this many × the target's weight.</summary>
    public const int DefaultPerWeight = 130;
    public static int Count(FuzzTarget t) =>
        int.TryParse(Environment.GetEnvironmentVariable("ENGINE_FUZZ_COUNT"), out var n) && n > 0 ? n : DefaultPerWeight * t.Weight;

    /// <summary>ENGINE_FUZZ_SEED varies the inputs (the default is fixed, so CI runs are reproducible).</summary>
    public static int BaseSeed => int.TryParse(Environment.GetEnvironmentVariable("ENGINE_FUZZ_SEED"), out var s) ? s : 20261206;

    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(
        double.TryParse(Environment.GetEnvironmentVariable("ENGINE_FUZZ_TIMEOUT_S"), out var l) && l > 0 ? l : 5);

    public static string FailureDir => Path.Combine(Path.GetTempPath(), "engine-fuzz-failures");

    private readonly FuzzTarget _target;
    private readonly string _work;
    private readonly string _file;
    private readonly long _otherBytes;

    public FuzzRunner(FuzzTarget target)
    {
        _target = target;
        _work = Path.Combine(FuzzTargets.WorkRoot, target.Name + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_work);
        foreach (var f in Directory.GetFiles(target.SeedDir)) File.Copy(f, Path.Combine(_work, Path.GetFileName(f)));
        _file = Path.Combine(_work, target.File);
        _otherBytes = Directory.GetFiles(_work).Where(f => f != _file).Sum(f => new FileInfo(f).Length);
    }

    public static int SeedOf(string target, int index)
    {
        // A stable hash of the name (string.GetHashCode is randomized per process).
        uint h = 2166136261;
        foreach (char c in target) h = (h ^ c) * 16777619;
        return (int)(h ^ (uint)BaseSeed) * 31 + index;
    }

    /// <summary>Runs one input; null when it passed, else why it failed (with the seed and mutation to replay it).</summary>
    public string? RunOne(byte[] input, string label)
    {
        File.WriteAllBytes(_file, input);
        long size = input.Length + _otherBytes;
        long limitBytes = 64L * 1024 * 1024 + 64 * size;
        Exception? error = null;
        long allocated = 0;
        var thread = new Thread(() =>
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            try { _target.Run(_work); }
            catch (Exception e) { error = e; }
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        }, 64 * 1024 * 1024) { IsBackground = true, Name = "fuzz " + label };
        var sw = Stopwatch.StartNew();
        thread.Start();
        if (!thread.Join(Limit))
        {
            Save(input, label);
            // The thread keeps the work folder busy; later inputs use a fresh one.
            return $"{label}: did not finish within {Limit.TotalSeconds} s (a hang or unbounded loop)";
        }
        string? why = null;
        if (error is EngineException ee)
        {
            string expected = _target.NamesFolder ? _work : _file;
            if (!ee.Message.Contains(expected, StringComparison.Ordinal))
                why = $"{label}: the error does not name {expected}: {ee.GetType().Name}: {ee.Message}";
        }
        else if (error is not null)
            why = $"{label}: {error.GetType().Name} (not an EngineException): {error.Message}\n{Trim(error.StackTrace)}";
        if (why is null && allocated > limitBytes)
            why = $"{label}: allocated {allocated / 1024 / 1024} MB for a {size}-byte input (limit {limitBytes / 1024 / 1024} MB)";
        if (why is not null) Save(input, label);
        return why;
    }

    private static string Trim(string? stack) =>
        string.Join("\n", (stack ?? "").Split('\n').Take(8));

    private void Save(byte[] input, string label)
    {
        var dir = Path.Combine(FailureDir, _target.Name);
        Directory.CreateDirectory(dir);
        var safe = string.Concat(label.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' ? c : '_'));
        if (safe.Length > 80) safe = safe[..80];
        if (input.Length <= MaxRawCorpusBytes) File.WriteAllBytes(Path.Combine(dir, safe + Path.GetExtension(_target.File)), input);
        else File.WriteAllText(Path.Combine(dir, safe + ".delta"), Delta.Encode(File.ReadAllBytes(_target.SeedFile), input));
    }

    /// <summary>Inputs up to this size are kept as they are; larger ones (mutated model files) as a <see cref="Delta"/>
    /// against the target's seed file, so the corpus stays small.</summary>
    public const int MaxRawCorpusBytes = 16 * 1024;

    /// <summary>A mutated file as where it differs from the seed file. Same length: "= offset:base64 …", the changed
    /// runs. Otherwise "prefix suffix base64(middle)", the input being seed[..prefix] + middle + seed[^suffix..]. The seed
    /// files are written deterministically from shared/data, so a delta replays the same bytes.</summary>
    public static class Delta
    {
        public static string Encode(byte[] seed, byte[] input)
        {
            if (seed.Length == input.Length)
            {
                var hunks = new List<string>();
                for (int i = 0; i < seed.Length; i++)
                {
                    if (seed[i] == input[i]) continue;
                    int end = i + 1;
                    while (end < seed.Length && (seed[end] != input[end] || end + 16 < seed.Length && !seed.AsSpan(end, 16).SequenceEqual(input.AsSpan(end, 16)))) end++;
                    hunks.Add($"{i}:{Convert.ToBase64String(input.AsSpan(i, end - i))}");
                    i = end;
                }
                return "= " + string.Join(" ", hunks) + "\n";
            }
            int prefix = seed.AsSpan().CommonPrefixLength(input);
            int max = Math.Min(seed.Length, input.Length) - prefix, suffix = 0;
            while (suffix < max && seed[^(suffix + 1)] == input[^(suffix + 1)]) suffix++;
            return $"{prefix} {suffix} {Convert.ToBase64String(input.AsSpan(prefix, input.Length - prefix - suffix))}\n";
        }

        public static byte[] Decode(byte[] seed, string text)
        {
            var parts = text.Trim().Split(' ');
            if (parts[0] == "=")
            {
                var bytes = (byte[])seed.Clone();
                foreach (var h in parts.Skip(1))
                {
                    int colon = h.IndexOf(':');
                    Convert.FromBase64String(h[(colon + 1)..]).CopyTo(bytes, int.Parse(h[..colon]));
                }
                return bytes;
            }
            int prefix = int.Parse(parts[0]), suffix = int.Parse(parts[1]);
            var middle = parts.Length > 2 ? Convert.FromBase64String(parts[2]) : [];
            return [.. seed.AsSpan(0, prefix), .. middle, .. seed.AsSpan(seed.Length - suffix)];
        }
    }

    public void Dispose()
    {
        try { Directory.Delete(_work, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
