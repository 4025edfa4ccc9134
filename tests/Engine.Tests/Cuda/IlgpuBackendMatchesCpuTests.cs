using Engine.Backends.Cuda;
using Engine.Diagnostics;

namespace Engine.Tests.Cuda;

/// <summary>Every IBackend op of the ILGPU backend, run on ILGPU's CPU accelerator, against the CPU backend, in both
/// activation modes, through the same self-test the GPU runs (tiny sizes). fp32 mode is held to 1e-5, bf16 mode to
/// 2e-2 on bf16 outputs (see SelfTestHarness).</summary>
[Collection(IlgpuCpuCollection.Name), Trait("Category", "IlgpuCpu")]
public sealed class IlgpuBackendMatchesCpuTests(IlgpuCpuFixture fx)
{
    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var name in BackendSelfTest.CaseNames)
            foreach (var act in new[] { "f32", "bf16" })
                data.Add(name, act);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Op_matches_cpu_backend(string op, string activation)
    {
        var results = BackendSelfTest.RunCase(fx.Backend(activation), op, SelfTestSize.Tiny);
        Assert.NotEmpty(results);
        Assert.All(results, r => Assert.True(r.Passed, SelfTestReport.Line(r)));
    }
}
