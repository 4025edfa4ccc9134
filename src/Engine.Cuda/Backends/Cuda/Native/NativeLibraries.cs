using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.InteropServices;

namespace Engine.Backends.Cuda.Native;

/// <summary>Finds the CUDA libraries by their versioned names (cuBLAS 13 first, then 12) instead of the unversioned
/// names .NET would probe, and makes a missing library a <see cref="CudaException"/> that lists what was tried.
/// The <c>LibraryImport</c> declarations of this assembly name logical libraries (<see cref="Cublas"/>,
/// <see cref="CudaDriver"/>); the resolver installed by <see cref="EnsureResolver"/> maps them. .NET allows one
/// resolver per assembly, so every native import of Engine must go through this one.</summary>
internal static class NativeLibraries
{
    public const string Cublas = "engine-cublas";
    public const string CudaDriver = "engine-cuda";

    public static readonly string[] CublasNames = OperatingSystem.IsWindows()
        ? ["cublas64_13.dll", "cublas64_12.dll"]
        : ["libcublas.so.13", "libcublas.so.12"];

    public static readonly string[] CublasLtNames = OperatingSystem.IsWindows()
        ? ["cublasLt64_13.dll", "cublasLt64_12.dll"]
        : ["libcublasLt.so.13", "libcublasLt.so.12"];

    /// <summary>The driver: many hosts ship only the versioned <c>libcuda.so.1</c> (no -dev package).</summary>
    public static readonly string[] DriverNames = OperatingSystem.IsWindows()
        ? ["nvcuda.dll"]
        : ["libcuda.so.1", "libcuda.so"];

    private static readonly ConcurrentDictionary<string, IntPtr> Loaded = new();
    private static int _resolverInstalled;

    public static void EnsureResolver()
    {
        if (Interlocked.Exchange(ref _resolverInstalled, 1) == 0)
            NativeLibrary.SetDllImportResolver(typeof(NativeLibraries).Assembly, Resolve);
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath) => name switch
    {
        Cublas => TryLoad(CublasNames, out var h, out _) ? h : IntPtr.Zero,
        CudaDriver => TryLoad(DriverNames, out var h, out _) ? h : IntPtr.Zero,
        _ => IntPtr.Zero,
    };

    /// <summary>Loads the first of <paramref name="candidates"/> that loads, or throws a <see cref="CudaException"/>
    /// naming <paramref name="what"/>, every name tried and the loader's reason for the first.</summary>
    public static IntPtr Load(string what, IReadOnlyList<string> candidates)
    {
        if (TryLoad(candidates, out var handle, out var why)) return handle;
        throw new CudaException($"{what} could not be loaded (tried {string.Join(", ", candidates)}: {why}); " +
                                "install the CUDA 13 or 12 libraries or add their folder to " +
                                (OperatingSystem.IsWindows() ? "PATH" : "LD_LIBRARY_PATH"));
    }

    public static bool TryLoad(IReadOnlyList<string> candidates, out IntPtr handle, out string why)
    {
        why = "no candidates";
        string? first = null;
        foreach (var name in candidates)
        {
            if (Loaded.TryGetValue(name, out handle)) { why = ""; return true; }
            try
            {
                handle = NativeLibrary.Load(name);
                Loaded[name] = handle;
                why = "";
                return true;
            }
            catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
            {
                first ??= FirstLine(e.Message);
            }
        }
        handle = IntPtr.Zero;
        why = first ?? why;
        return false;
    }

    /// <summary>The address of <paramref name="symbol"/> in a loaded library, or a clear error naming both.</summary>
    public static IntPtr Export(IntPtr library, string libraryName, string symbol)
    {
        if (NativeLibrary.TryGetExport(library, symbol, out var address)) return address;
        throw new CudaException($"{libraryName} has no export {symbol} (a CUDA version this build does not know?)");
    }

    private static string FirstLine(string s)
    {
        int nl = s.IndexOfAny(['\r', '\n']);
        return nl < 0 ? s : s[..nl];
    }
}
