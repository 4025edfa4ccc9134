using Engine.Backends.Cuda.Native;

namespace Engine.Backends.Cuda;

/// <summary>cuBLAS and cuBLASLt bound to the backend's stream, with one workspace shared by both (32 MiB, the size
/// NVIDIA recommends for Hopper). cuBLASLt plans (descriptor, layouts, heuristic algorithm) are cached per problem.</summary>
internal sealed class CublasGemm : IDisposable
{
    public const long WorkspaceBytes = 32L << 20;

    private readonly Cublas _blas;
    private readonly IntPtr _stream;
    private readonly DeviceBlock _workspace;
    private readonly CachingAllocator _allocator;
    private readonly Dictionary<(GemmProblem, uint, uint, uint), CublasLtPlan> _plans = new();
    private CublasLt? _lt;

    /// <param name="stream">the CUstream every call is queued on (never the legacy null stream).</param>
    public CublasGemm(IntPtr stream, CachingAllocator allocator)
    {
        _stream = stream;
        _allocator = allocator;
        _blas = Native.Cublas.Create();
        try
        {
            _workspace = allocator.Rent(WorkspaceBytes);
            _blas.SetStream(stream);
            _blas.SetWorkspace(_workspace.DevicePointer, WorkspaceBytes);
            _blas.SetMathMode(CublasMathMode.Default);
        }
        catch
        {
            _blas.Dispose();
            throw;
        }
    }

    public void Run(in GemmProblem p, IntPtr a, IntPtr b, IntPtr c, float alpha, float beta, bool useLt)
    {
        if (useLt)
        {
            _lt ??= CublasLt.Create();
            var key = (p, CublasLt.AlignmentOf(a), CublasLt.AlignmentOf(b), CublasLt.AlignmentOf(c));
            if (!_plans.TryGetValue(key, out var plan))
                _plans[key] = plan = _lt.CreatePlan(p.OpA, p.OpB, p.M, p.N, p.K, p.AType, p.Lda, p.StrideA, p.BType, p.Ldb, p.StrideB,
                                                    p.CType, p.Ldc, p.StrideC, p.Batch, WorkspaceBytes, key.Item2, key.Item3, key.Item4);
            plan.Run(_lt.Api, _lt.Handle, alpha, a, b, beta, c, _workspace.DevicePointer, WorkspaceBytes, _stream);
            return;
        }
        if (p.Batch == 1)
            _blas.GemmEx(p.OpA, p.OpB, p.M, p.N, p.K, alpha, a, p.AType, p.Lda, b, p.BType, p.Ldb, beta, c, p.CType, p.Ldc);
        else
            _blas.GemmStridedBatchedEx(p.OpA, p.OpB, p.M, p.N, p.K, alpha, a, p.AType, p.Lda, p.StrideA, b, p.BType, p.Ldb, p.StrideB,
                                       beta, c, p.CType, p.Ldc, p.StrideC, p.Batch);
    }

    public void Dispose()
    {
        foreach (var plan in _plans.Values) plan.Dispose();
        _plans.Clear();
        _lt?.Dispose();
        _blas.Dispose();
        _allocator.Return(_workspace);
    }
}
