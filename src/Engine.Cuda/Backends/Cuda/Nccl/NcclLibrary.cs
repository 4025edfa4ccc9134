using Engine.Backends.Cuda.Native;

namespace Engine.Backends.Cuda.Nccl;

/// <summary>Finds NCCL 2 (<c>libnccl.so.2</c>). <c>ENGINE_NCCL_LIBRARY</c>, when set, is the only place tried (a file
/// path, or a name for the loader). Otherwise the loader's path first (<c>libnccl.so.2</c>, then <c>libnccl.so</c>),
/// then the copy a PyTorch install carries in its <c>nvidia-nccl</c> wheel
/// (<c>…/lib/python3.*/{site,dist}-packages/nvidia/nccl/lib/libnccl.so.2</c> under the active virtualenv or conda
/// environment, <c>~/.local</c>, <c>/usr/local</c>, <c>/usr</c> and <c>/opt/conda</c>): on a GPU machine set up for
/// PyTorch that is often the only NCCL there is. NCCL links the CUDA runtime statically, so it needs nothing beyond
/// the driver.</summary>
internal static class NcclLibrary
{
    public const string OverrideVariable = "ENGINE_NCCL_LIBRARY";

    public static readonly string[] Names = OperatingSystem.IsWindows() ? ["nccl.dll"] : ["libnccl.so.2", "libnccl.so"];

    /// <summary>The loaded library and the name or path it was loaded by, or a <see cref="CudaException"/> naming the
    /// override (when set) or every place tried.</summary>
    public static (IntPtr Handle, string LoadedAs) Load()
    {
        var overridePath = Environment.GetEnvironmentVariable(OverrideVariable);
        if (overridePath is { Length: > 0 })
        {
            if (NativeLibraries.TryLoad([overridePath], out var h, out var why)) return (h, $"{OverrideVariable}={overridePath}");
            throw new CudaException($"NCCL could not be loaded from {OverrideVariable}={overridePath} ({why}): " +
                                    $"point {OverrideVariable} at libnccl.so.2 or unset it to search the usual places");
        }
        var candidates = Candidates(TorchWheelRoots());
        foreach (var candidate in candidates)
            if (NativeLibraries.TryLoad([candidate], out var handle, out _)) return (handle, candidate);
        NativeLibraries.TryLoad(candidates, out _, out var reason);
        throw new CudaException($"NCCL could not be loaded (tried {string.Join(", ", candidates)}: {reason}); multi-GPU training needs " +
                                $"NCCL 2: install it (or PyTorch, whose nvidia-nccl wheel carries it) or set {OverrideVariable} to the path of libnccl.so.2");
    }

    /// <summary>The loader names, then every torch-wheel copy under <paramref name="roots"/> (folders that hold
    /// <c>python3.*</c> folders, such as <c>/usr/local/lib</c>).</summary>
    internal static IReadOnlyList<string> Candidates(IEnumerable<string> roots)
    {
        var list = new List<string>(Names);
        if (OperatingSystem.IsWindows()) return list;
        foreach (var root in roots.Distinct())
        {
            IEnumerable<string> pythons;
            try { pythons = Directory.Exists(root) ? Directory.EnumerateDirectories(root, "python3*").Order(StringComparer.Ordinal).ToList() : []; }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
            foreach (var python in pythons)
                foreach (var packages in (string[])["site-packages", "dist-packages"])
                {
                    var file = Path.Combine(python, packages, "nvidia", "nccl", "lib", "libnccl.so.2");
                    if (File.Exists(file)) list.Add(file);
                }
        }
        return list;
    }

    /// <summary>Where Python installs usually put their <c>python3.*</c> folders.</summary>
    internal static IEnumerable<string> TorchWheelRoots()
    {
        foreach (var variable in (string[])["VIRTUAL_ENV", "CONDA_PREFIX"])
            if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } prefix) yield return Path.Combine(prefix, "lib");
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        if (home.Length > 0) yield return Path.Combine(home, ".local", "lib");
        yield return "/usr/local/lib";
        yield return "/usr/lib";
        yield return "/opt/conda/lib";
    }
}
