using System.Runtime.InteropServices;

namespace Engine.Backends.Cuda.Native;

/// <summary>ILGPU imports the driver as "cuda", which .NET resolves only to the unversioned libcuda.so (absent on many
/// hosts); without it ILGPU silently reports zero CUDA devices. This maps "cuda" to libcuda.so.1 for ILGPU's assembly.
/// Skipped on WSL, where ILGPU installs its own resolver (only one is allowed per assembly), and off Linux.</summary>
internal static class IlgpuLibcudaResolver
{
    private static int _installed;

    public static void Install()
    {
        if (!OperatingSystem.IsLinux() || IsWsl()) return;
        if (Interlocked.Exchange(ref _installed, 1) != 0) return;
        try
        {
            NativeLibrary.SetDllImportResolver(typeof(ILGPU.Context).Assembly, (name, _, _) =>
                name == "cuda" && NativeLibraries.TryLoad(NativeLibraries.DriverNames, out var h, out _) ? h : IntPtr.Zero);
        }
        catch (InvalidOperationException)
        {
            // A resolver is already set for ILGPU (by ILGPU itself or the host application): leave it in charge.
        }
    }

    private static bool IsWsl()
    {
        if (Environment.GetEnvironmentVariable("WSL_DISTRO_NAME") is { Length: > 0 }) return true;
        try
        {
            return File.Exists("/proc/version") && File.ReadAllText("/proc/version").Contains("microsoft", StringComparison.OrdinalIgnoreCase);
        }
        catch (IOException)
        {
            return false;
        }
    }
}
