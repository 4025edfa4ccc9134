namespace Engine.Backends.Cuda.Native;

/// <summary>A cuBLASLt matmul prepared once for one problem (descriptor, layouts, heuristic choice of algorithm) and
/// run many times. Layouts are column-major; the caller maps row-major problems as for cuBLAS.</summary>
internal sealed unsafe class CublasLtPlan : IDisposable
{
    private readonly CublasLtObject _desc, _a, _b, _c;
    private readonly CublasLtHeuristicResult _algo;

    internal CublasLtPlan(CublasLtObject desc, CublasLtObject a, CublasLtObject b, CublasLtObject c, CublasLtHeuristicResult algo)
    {
        (_desc, _a, _b, _c, _algo) = (desc, a, b, c, algo);
    }

    public long WorkspaceBytes => (long)_algo.WorkspaceSize;

    /// <summary>C = alpha·op(A)·op(B) + beta·C in place (D = C, same layout).</summary>
    public void Run(CublasLtApi api, IntPtr handle, float alpha, IntPtr a, IntPtr b, float beta, IntPtr c,
                    IntPtr workspace, long workspaceBytes, IntPtr stream)
    {
        var algo = _algo;
        CublasStatus.Check("cublasLtMatmul", api.Matmul(handle, _desc.Value, &alpha, a, _a.Value, b, _b.Value, &beta,
            c, _c.Value, c, _c.Value, algo.Algo, workspace, (nuint)workspaceBytes, stream));
    }

    public void Dispose()
    {
        _desc.Dispose(); _a.Dispose(); _b.Dispose(); _c.Dispose();
    }
}

/// <summary>A cuBLASLt handle that builds <see cref="CublasLtPlan"/>s.</summary>
internal sealed unsafe class CublasLt : IDisposable
{
    private readonly CublasLtObject _handle;

    private CublasLt(CublasLtApi api, CublasLtObject handle)
    {
        Api = api;
        _handle = handle;
    }

    public CublasLtApi Api { get; }
    public IntPtr Handle => _handle.Value;

    public static CublasLt Create()
    {
        var api = CublasLtApi.Load();
        IntPtr h;
        CublasStatus.Check("cublasLtCreate", api.Create(&h));
        return new CublasLt(api, new CublasLtObject(h, api.Destroy));
    }

    /// <summary>Describes column-major C[m, n] = op(A)·op(B) (+ batches at the given element strides), fp32 compute and
    /// scale, and asks the heuristic for the best algorithm within <paramref name="maxWorkspace"/> bytes.</summary>
    public CublasLtPlan CreatePlan(CublasOperation opA, CublasOperation opB, int m, int n, int k,
                                   CudaDataType aType, int lda, long strideA, CudaDataType bType, int ldb, long strideB,
                                   CudaDataType cType, int ldc, long strideC, int batch, long maxWorkspace,
                                   uint alignA = 256, uint alignB = 256, uint alignC = 256)
    {
        IntPtr d;
        CublasStatus.Check("cublasLtMatmulDescCreate", Api.MatmulDescCreate(&d, (int)CublasComputeType.Compute32F, (int)CudaDataType.R32F));
        var desc = new CublasLtObject(d, Api.MatmulDescDestroy);
        var layouts = new List<CublasLtObject>(3);
        try
        {
            int ta = (int)opA, tb = (int)opB;
            CublasStatus.Check("cublasLtMatmulDescSetAttribute(TRANSA)", Api.MatmulDescSetAttribute(d, CublasLtAttr.DescTransA, &ta, sizeof(int)));
            CublasStatus.Check("cublasLtMatmulDescSetAttribute(TRANSB)", Api.MatmulDescSetAttribute(d, CublasLtAttr.DescTransB, &tb, sizeof(int)));
            var a = Layout(aType, opA == CublasOperation.N ? m : k, opA == CublasOperation.N ? k : m, lda, batch, strideA);
            layouts.Add(a);
            var b = Layout(bType, opB == CublasOperation.N ? k : n, opB == CublasOperation.N ? n : k, ldb, batch, strideB);
            layouts.Add(b);
            var c = Layout(cType, m, n, ldc, batch, strideC);
            layouts.Add(c);

            IntPtr p;
            CublasStatus.Check("cublasLtMatmulPreferenceCreate", Api.MatmulPreferenceCreate(&p));
            using var pref = new CublasLtObject(p, Api.MatmulPreferenceDestroy);
            ulong ws = (ulong)maxWorkspace;
            CublasStatus.Check("cublasLtMatmulPreferenceSetAttribute(MAX_WORKSPACE_BYTES)",
                Api.MatmulPreferenceSetAttribute(p, CublasLtAttr.PreferenceMaxWorkspaceBytes, &ws, sizeof(ulong)));
            SetAlignment(p, CublasLtAttr.PreferenceMinAlignmentA, alignA, "A");
            SetAlignment(p, CublasLtAttr.PreferenceMinAlignmentB, alignB, "B");
            SetAlignment(p, CublasLtAttr.PreferenceMinAlignmentC, alignC, "C");
            SetAlignment(p, CublasLtAttr.PreferenceMinAlignmentD, alignC, "D");
            CublasLtHeuristicResult result;
            int found;
            CublasStatus.Check("cublasLtMatmulAlgoGetHeuristic", Api.MatmulAlgoGetHeuristic(Handle, d, a.Value, b.Value, c.Value, c.Value, p, 1, &result, &found));
            if (found < 1)
                throw new CudaException($"cublasLtMatmulAlgoGetHeuristic found no algorithm for m={m} n={n} k={k} batch={batch} ({aType}·{bType}→{cType})");
            return new CublasLtPlan(desc, a, b, c, result);
        }
        catch
        {
            desc.Dispose();
            foreach (var l in layouts) l.Dispose();
            throw;
        }
    }

    private void SetAlignment(IntPtr preference, int attribute, uint bytes, string which)
    {
        CublasStatus.Check($"cublasLtMatmulPreferenceSetAttribute(MIN_ALIGNMENT_{which}_BYTES)",
            Api.MatmulPreferenceSetAttribute(preference, attribute, &bytes, sizeof(uint)));
    }

    /// <summary>The alignment of a device address as cuBLASLt counts it: the largest power of two dividing it, at most 256.</summary>
    public static uint AlignmentOf(IntPtr address)
    {
        ulong a = (ulong)address;
        if (a == 0) return 256;
        ulong lowest = a & (~a + 1);
        return (uint)Math.Min(256UL, lowest);
    }

    private CublasLtObject Layout(CudaDataType type, int rows, int cols, int ld, int batch, long stride)
    {
        IntPtr l;
        CublasStatus.Check("cublasLtMatrixLayoutCreate", Api.MatrixLayoutCreate(&l, (int)type, (ulong)rows, (ulong)cols, ld));
        var layout = new CublasLtObject(l, Api.MatrixLayoutDestroy);
        if (batch > 1)
        {
            int count = batch;
            CublasStatus.Check("cublasLtMatrixLayoutSetAttribute(BATCH_COUNT)", Api.MatrixLayoutSetAttribute(l, CublasLtAttr.LayoutBatchCount, &count, sizeof(int)));
            CublasStatus.Check("cublasLtMatrixLayoutSetAttribute(STRIDED_BATCH_OFFSET)", Api.MatrixLayoutSetAttribute(l, CublasLtAttr.LayoutStridedBatchOffset, &stride, sizeof(long)));
        }
        return layout;
    }

    public void Dispose() => _handle.Dispose();
}
