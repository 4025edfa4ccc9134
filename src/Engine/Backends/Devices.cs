using Engine.Backends.Cpu;

namespace Engine.Backends;

/// <summary>A kind of accelerator that an assembly above the library (Engine.Cuda) plugs in, so that the library
/// itself references no GPU package.</summary>
internal interface IDeviceProvider
{
    /// <summary>The --device prefix this provider answers ("cuda" for "cuda" and "cuda:N").</summary>
    string Prefix { get; }
    /// <summary>Null when a device of this kind is present and usable; otherwise why not (for "auto" and messages).</summary>
    string? WhyUnusable();
    /// <summary>The backend of device <paramref name="ordinal"/>; <paramref name="spec"/> is the user's text, for errors.</summary>
    IBackend Create(int ordinal, string spec);
}

/// <summary>Turns a --device value into a backend. The CPU backend is always there; accelerators are registered by the
/// assemblies that provide them (Engine.Cuda's <c>CudaSupport.Register()</c>).</summary>
internal static class Devices
{
    private static readonly List<IDeviceProvider> Providers = new();
    private static readonly Lock Gate = new();

    public static void Register(IDeviceProvider provider)
    {
        lock (Gate)
        {
            if (Providers.Any(p => p.Prefix == provider.Prefix)) return;
            Providers.Add(provider);
        }
    }

    private static IDeviceProvider[] Registered()
    {
        lock (Gate) return Providers.ToArray();
    }

    /// <summary>"cpu", "cuda" (= cuda:0), "cuda:N" or "auto" (the first registered accelerator that is usable, else the
    /// CPU). Asking for an accelerator that this build lacks or the machine cannot use throws a one-line
    /// <see cref="EngineException"/> saying why.</summary>
    public static IBackend Create(string spec) => Create(spec, Registered());

    /// <summary><see cref="Create(string)"/> with an explicit set of providers.</summary>
    public static IBackend Create(string spec, IReadOnlyList<IDeviceProvider> providers)
    {
        var s = spec.Trim().ToLowerInvariant();
        if (s == "cpu") return CpuBackend.Instance;
        if (s == "auto")
        {
            foreach (var p in providers)
                if (p.WhyUnusable() is null) return p.Create(0, "auto");
            return CpuBackend.Instance;
        }
        int colon = s.IndexOf(':');
        var prefix = colon < 0 ? s : s[..colon];
        int ordinal = 0;
        if (colon >= 0 && (!int.TryParse(s.AsSpan(colon + 1), out ordinal) || ordinal < 0))
            throw new EngineException($"--device {spec}: expected cpu, cuda, cuda:N or auto");
        if (prefix != "cuda") throw new EngineException($"--device {spec}: expected cpu, cuda, cuda:N or auto");
        var provider = providers.FirstOrDefault(p => p.Prefix == prefix) ?? throw new EngineException(
            $"--device {spec}: this build of engine has no CUDA backend (a CPU-only build); use --device cpu, or the engine build that includes Engine.Cuda");
        return provider.Create(ordinal, spec);
    }

    /// <summary>True when <paramref name="spec"/> names an accelerator: cuda, cuda:N, or auto with a usable one
    /// registered (what <see cref="Create(string)"/> would pick, without creating it).</summary>
    public static bool IsAccelerator(string spec)
    {
        var s = spec.Trim().ToLowerInvariant();
        if (s == "cpu") return false;
        if (s == "auto") return Registered().Any(p => p.WhyUnusable() is null);
        return true;
    }
}
