using Engine.Backends.Cpu;
using Engine.Backends.Cuda;
using Engine.Diagnostics;

namespace Engine.Tests.Cuda;

public sealed class SelfTestMetricTests
{
    [Fact]
    public void Error_is_relative_to_element_plus_mean_magnitude()
    {
        // mean |r| = 2; element 0: |1.1 − 1| / (1 + 2) = 1/30.
        var (err, note) = SelfTestHarness.MaxRelativeError(new[] { 1.1f, -3f }, new[] { 1f, -3f });
        Assert.Null(note);
        Assert.Equal(1.0 / 30, err, 6);
    }

    [Fact]
    public void Non_finite_values_never_pass()
    {
        var (err, note) = SelfTestHarness.MaxRelativeError(new[] { 1f, float.NaN }, new[] { 1f, 2f });
        Assert.True(double.IsNaN(err));
        Assert.Contains("[1]", note);
        Assert.True(double.IsNaN(SelfTestHarness.MaxRelativeError(new[] { float.PositiveInfinity }, new[] { 1f }).Error));
    }

    [Fact]
    public void Cpu_backend_passes_its_own_self_test_with_a_table()
    {
        var log = new StringWriter();
        var report = BackendSelfTest.Run(CpuBackend.Instance, log, SelfTestSize.Tiny);
        Assert.True(report.Passed, log.ToString());
        Assert.All(report.Results, r => Assert.True(r.MaxRelError == 0, SelfTestReport.Line(r)));
        Assert.Contains("max rel err", log.ToString());
        Assert.Contains($"all {report.Results.Count} checks passed", log.ToString());
    }

    [Fact]
    public void Unknown_case_is_a_failed_result_not_a_crash()
    {
        var results = BackendSelfTest.RunCase(CpuBackend.Instance, "no-such-op", SelfTestSize.Tiny);
        var r = Assert.Single(results);
        Assert.False(r.Passed);
        Assert.Contains("no self-test case named", r.Note);
    }
}
