namespace Engine.Diagnostics;

/// <summary>Problem sizes of a self-test: Tiny for ILGPU's CPU accelerator (a few hundred elements per tensor),
/// Realistic for a GPU (shapes like a small model's layers).</summary>
internal enum SelfTestSize
{
    Tiny,
    Realistic,
}

/// <summary>One comparison of a candidate backend's output with the CPU backend's. <see cref="MaxRelError"/> is NaN
/// when the candidate produced a non-finite value or threw (then <see cref="Note"/> says what).</summary>
internal sealed record SelfTestResult(string Op, string Shape, string DType, double MaxRelError, double Tolerance, bool Passed,
                                    double Milliseconds, string? Note = null);

/// <summary>All results of a self-test run.</summary>
internal sealed class SelfTestReport
{
    public SelfTestReport(IReadOnlyList<SelfTestResult> results) => Results = results;

    public IReadOnlyList<SelfTestResult> Results { get; }
    public bool Passed => Results.Count > 0 && Results.All(r => r.Passed);
    public int FailedCount => Results.Count(r => !r.Passed);

    public static string Header => $"{"op",-34} {"shape",-22} {"dtype",-14} {"max rel err",12} {"tol",8} {"ms",8}  result";

    public static string Line(SelfTestResult r) =>
        $"{r.Op,-34} {r.Shape,-22} {r.DType,-14} {(double.IsNaN(r.MaxRelError) ? "NaN" : r.MaxRelError.ToString("0.00e+00")),12} " +
        $"{r.Tolerance,8:0.0e+0} {r.Milliseconds,8:0.0}  {(r.Passed ? "pass" : "FAIL")}{(r.Note is null ? "" : "  " + r.Note)}";
}
