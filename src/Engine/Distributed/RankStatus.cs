using System.Globalization;

namespace Engine.Distributed;

/// <summary>One rank's line in the launcher's status folder (<see cref="DistributedEnvironment.StatusDirVariable"/>):
/// its pid, its last completed step and how it ended. The launcher reads these to name the rank that failed and to
/// forward signals to every rank; nothing else is written outside rank 0's output folder.</summary>
internal sealed class RankStatus
{
    private readonly string _path;
    private readonly int _pid = Environment.ProcessId;
    private int _step;
    private volatile bool _stopping;
    private readonly Lock _gate = new(); // the trainer and a signal's callback both write

    private RankStatus(string dir, int rank) => _path = Path.Combine(dir, FileName(rank));

    /// <summary>The status of this rank, or null when no launcher asked for one.</summary>
    public static RankStatus? For(DistributedEnvironment env)
    {
        var dir = Environment.GetEnvironmentVariable(DistributedEnvironment.StatusDirVariable);
        if (string.IsNullOrEmpty(dir)) return null;
        if (!Directory.Exists(dir))
            throw new EngineException($"environment variable {DistributedEnvironment.StatusDirVariable}: {dir} is not a folder");
        return new RankStatus(dir, env.Rank);
    }

    public static string FileName(int rank) => $"rank-{rank}.status";

    /// <summary>Records that <paramref name="step"/> steps are complete.</summary>
    public void Report(int step)
    {
        _step = step;
        Write(_stopping ? "stopping" : "running");
    }

    /// <summary>Records that this rank was asked to stop (a signal, or its launcher went away): if it vanishes now, it
    /// was not the rank that failed.</summary>
    public void Stopping()
    {
        _stopping = true;
        Write("stopping");
    }

    /// <summary>Records how this rank ended: "done", "stopped" (a signal) or "failed: …".</summary>
    public void End(string state) => Write(state.ReplaceLineEndings(" "));

    private void Write(string state)
    {
        lock (_gate)
        {
            var tmp = _path + ".tmp";
            File.WriteAllText(tmp, string.Create(CultureInfo.InvariantCulture, $"{_pid} {_step} {state}\n"));
            File.Move(tmp, _path, overwrite: true);
        }
    }

    /// <summary>One rank's last word.</summary>
    public sealed record Entry(int Rank, int Pid, int Step, string State);

    /// <summary>The status of every rank that has written one, by rank.</summary>
    public static IReadOnlyList<Entry> Read(string dir)
    {
        var entries = new List<Entry>();
        foreach (var f in Directory.GetFiles(dir, "rank-*.status"))
        {
            var name = Path.GetFileNameWithoutExtension(f);
            if (!int.TryParse(name.AsSpan("rank-".Length), NumberStyles.None, CultureInfo.InvariantCulture, out int rank)) continue;
            string text;
            try { text = File.ReadAllText(f).Trim(); }
            catch (IOException) { continue; }
            var parts = text.Split(' ', 3);
            if (parts.Length < 3 || !int.TryParse(parts[0], CultureInfo.InvariantCulture, out int pid)
                || !int.TryParse(parts[1], CultureInfo.InvariantCulture, out int step)) continue;
            entries.Add(new Entry(rank, pid, step, parts[2]));
        }
        return entries.OrderBy(e => e.Rank).ToList();
    }
}
