using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using Engine.Quant;
using Engine.Tensors;

namespace Engine.Tests.Quant;

/// <summary>Q8KActivations and KQuantDot against llama.cpp itself: the AVX2 build of libggml-cpu that LLamaSharp.Backend.Cpu
/// ships (runtimes/linux-x64/native/avx2), whose exported quantize_row_q8_K and ggml_vec_dot_q*_K_q8_K are the x86 CPU
/// backend's own. q8_K bytes must be equal; dots must agree within the tolerance of <see cref="KQuantDotTests"/>
/// (different fp32 summation orders). Skipped off linux-x64 or without AVX2.</summary>
public unsafe class KQuantDotLlamaCppTests
{
    private static readonly Lazy<nint> Ggml = new(() =>
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != System.Runtime.InteropServices.Architecture.X64 || !Avx2.IsSupported || !Fma.IsSupported) return 0;
        string dir = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "avx2");
        string cpu = Path.Combine(dir, "libggml-cpu.so");
        if (!File.Exists(cpu)) return 0;
        NativeLibrary.Load(Path.Combine(dir, "libggml-base.so"));
        nint h = NativeLibrary.Load(cpu);
        ((delegate* unmanaged<void>)NativeLibrary.GetExport(h, "ggml_cpu_init"))();
        return h;
    });

    private static nint Library()
    {
        if (Ggml.Value == 0) Assert.Skip("needs linux-x64 with AVX2 and LLamaSharp.Backend.Cpu's avx2 libggml-cpu.so next to the tests");
        return Ggml.Value;
    }

    private static byte[] GgmlQ8K(float[] x)
    {
        var fn = (delegate* unmanaged<float*, void*, long, void>)NativeLibrary.GetExport(Library(), "quantize_row_q8_K");
        var y = new byte[x.Length / 256 * 292]; // zeroed: ggml leaves an all-zero block's bsums unwritten
        fixed (float* px = x)
        fixed (byte* py = y)
            fn(px, py, x.Length);
        return y;
    }

    private static float GgmlDot(GgmlType t, byte[] w, byte[] xq, int n)
    {
        var fn = (delegate* unmanaged<int, float*, nuint, void*, nuint, void*, nuint, int, void>)NativeLibrary.GetExport(Library(), $"ggml_vec_dot_{t.Name()}_q8_K");
        float s;
        fixed (byte* pw = w)
        fixed (byte* px = xq)
            fn(n, &s, 0, pw, 0, px, 0, 1);
        return s;
    }

    [Fact]
    public void Q8K_bytes_equal_llama_cpp()
    {
        var rng = new Rng(3);
        var x = new float[256 * 16];
        rng.FillNormal(x, 0.1, 3);
        x.AsSpan(512, 256).Clear();
        for (int i = 768; i < 1024; i++) x[i] = rng.NextInt(11) - 5;
        for (int i = 1024; i < 1280; i++) x[i] = -MathF.Abs(x[i]) * 1e-20f;
        var ours = new byte[x.Length / 256 * 292];
        Q8KActivations.Quantize(x, ours);
        Assert.Equal(GgmlQ8K(x), ours);
    }

    [Theory]
    [MemberData(nameof(KQuantDotTests.Cases), MemberType = typeof(KQuantDotTests))]
    public void Dot_agrees_with_llama_cpp(string typeName, int n, bool raw)
    {
        var t = Enum.Parse<GgmlType>(typeName);
        Library();
        var rng = new Rng((ulong)(5000 + 1000 * (int)t + n + (raw ? 7 : 0)));
        var w = raw ? KQuantDotTests.RawWeights(t, n, rng) : KQuantDotTests.QuantizedWeights(t, n, rng);
        var xq = KQuantDotTests.Activations(n, rng);
        float theirs = GgmlDot(t, w, xq, n);
        var (_, s) = KQuantDotTests.Reference(t, w, xq, n);
        double tol = 2 * KQuantDotTests.Tolerance(s, n);
        foreach (var isa in Enum.GetValues<DotIsa>().Where(i => i <= DotIsas.Detected))
        {
            float ours = KQuantDot.Dot(t, w, xq, n, isa);
            Assert.True(Math.Abs(ours - theirs) <= tol, $"{t.Name()} n={n} {isa}: {ours} vs llama.cpp {theirs} (tolerance {tol})");
        }
    }
}
