using Engine.Backends.Cuda;
using Engine.Backends;
using Engine.Tensors;

namespace Engine.Diagnostics;

/// <summary>Checks a backend op by op against the CPU backend on fresh random inputs and reports a table
/// (op, shape, dtype, max relative error, tolerance, pass). The library side of <c>engine selftest --device cuda</c>;
/// the tests run it on ILGPU's CPU accelerator at <see cref="SelfTestSize.Tiny"/>. Metric and tolerances are
/// explained on <see cref="SelfTestHarness"/>.</summary>
internal static class BackendSelfTest
{
    /// <summary>Runs every case, writing each result line to <paramref name="log"/> as it completes (so a hang or a
    /// crash on a GPU still shows how far it got) and a summary at the end.</summary>
    public static SelfTestReport Run(IBackend candidate, TextWriter log, SelfTestSize size = SelfTestSize.Realistic, ulong seed = 1)
    {
        log.WriteLine($"self-test of {candidate.Name} (activations {candidate.ActivationType.Name()}, {size}) against cpu");
        log.WriteLine(SelfTestReport.Header);
        var all = new List<SelfTestResult>();
        foreach (var name in SelfTestCases.Names)
        {
            var results = RunCase(candidate, name, size, seed);
            foreach (var r in results) log.WriteLine(SelfTestReport.Line(r));
            log.Flush();
            all.AddRange(results);
        }
        var report = new SelfTestReport(all);
        log.WriteLine(report.Passed ? $"all {all.Count} checks passed" : $"{report.FailedCount} of {all.Count} checks FAILED");
        return report;
    }

    /// <summary>The GPU check in one call: CUDA device <paramref name="ordinal"/> in both activation modes (bf16 as
    /// training runs, f32 to hold the kernels to fp32 tolerance), every GEMM path. ILGPU writes PTX JIT errors only to
    /// System.Diagnostics.Trace, so Trace goes to <paramref name="log"/> for the duration.</summary>
    public static SelfTestReport RunCuda(int ordinal, TextWriter log, SelfTestSize size = SelfTestSize.Realistic, ulong seed = 1)
    {
        var listener = new System.Diagnostics.TextWriterTraceListener(log);
        System.Diagnostics.Trace.Listeners.Add(listener);
        try
        {
            var all = new List<SelfTestResult>();
            foreach (var act in new[] { DType.BF16, DType.F32 })
            {
                using var backend = IlgpuBackend.CreateCuda(ordinal, $"cuda:{ordinal}", new IlgpuBackendOptions { ActivationType = act });
                all.AddRange(Run(backend, log, size, seed).Results);
            }
            var report = new SelfTestReport(all);
            log.WriteLine(report.Passed ? $"cuda:{ordinal}: all {all.Count} checks passed" : $"cuda:{ordinal}: {report.FailedCount} of {all.Count} checks FAILED");
            return report;
        }
        finally
        {
            System.Diagnostics.Trace.Listeners.Remove(listener);
        }
    }

    /// <summary>Names of the cases, one per op family (tests run them one by one).</summary>
    public static IReadOnlyList<string> CaseNames => SelfTestCases.Names;

    /// <summary>Runs one case. An exception inside it becomes a failed result carrying the message, so the other cases
    /// still run.</summary>
    public static IReadOnlyList<SelfTestResult> RunCase(IBackend candidate, string name, SelfTestSize size = SelfTestSize.Realistic, ulong seed = 1)
    {
        var results = new List<SelfTestResult>();
        var h = new SelfTestHarness(candidate, size, seed ^ (ulong)StableHash(name), results);
        using var scope = new TensorScope();
        try
        {
            SelfTestCases.Run(name, h);
            candidate.Synchronize();
        }
        catch (Exception e)
        {
            results.Add(new SelfTestResult(name, "-", candidate.ActivationType.Name(), double.NaN, 0, false, 0,
                                           $"{e.GetType().Name}: {e.Message.Split('\n')[0]}"));
        }
        return results;
    }

    private static int StableHash(string s)
    {
        int h = 17;
        foreach (var ch in s) h = h * 31 + ch;
        return h;
    }
}
