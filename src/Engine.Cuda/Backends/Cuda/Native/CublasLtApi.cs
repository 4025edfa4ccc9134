using System.Runtime.InteropServices;

namespace Engine.Backends.Cuda.Native;

/// <summary>cublasLtMatmulHeuristicResult_t: the opaque algo (8 × uint64) and what it needs; 96 bytes in CUDA 12 and
/// 13 (checked on the H200).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct CublasLtHeuristicResult
{
    public fixed ulong Algo[8];
    public nuint WorkspaceSize;
    public int State;
    public float WavesCount;
    public fixed int Reserved[4];
}

/// <summary>Attribute ids of cublasLt descriptors (cublasLt.h, CUDA 13.0). Never add *_END sentinels: they moved.</summary>
internal static class CublasLtAttr
{
    public const int DescTransA = 3;
    public const int DescTransB = 4;
    public const int LayoutBatchCount = 5;
    public const int LayoutStridedBatchOffset = 6;
    public const int PreferenceMaxWorkspaceBytes = 1;
    /// <summary>MIN_ALIGNMENT_{A,B,C,D}_BYTES (uint32, default 256): the heuristic assumes 256-byte aligned operands
    /// unless told otherwise, and a view at a smaller alignment needs algorithms that allow it.</summary>
    public const int PreferenceMinAlignmentA = 5;
    public const int PreferenceMinAlignmentB = 6;
    public const int PreferenceMinAlignmentC = 7;
    public const int PreferenceMinAlignmentD = 8;
}

/// <summary>cuBLASLt entry points as function pointers resolved at run time (NativeLibrary.TryLoad + GetExport), so a
/// machine without cuBLASLt fails with a <see cref="CudaException"/> naming the library when it is first needed,
/// never with a DllNotFoundException when a type loads.</summary>
internal sealed unsafe class CublasLtApi
{
    public readonly delegate* unmanaged<IntPtr*, int> Create;
    public readonly delegate* unmanaged<IntPtr, int> Destroy;
    public readonly delegate* unmanaged<IntPtr*, int, int, int> MatmulDescCreate;
    public readonly delegate* unmanaged<IntPtr, int> MatmulDescDestroy;
    public readonly delegate* unmanaged<IntPtr, int, void*, nuint, int> MatmulDescSetAttribute;
    public readonly delegate* unmanaged<IntPtr*, int, ulong, ulong, long, int> MatrixLayoutCreate;
    public readonly delegate* unmanaged<IntPtr, int> MatrixLayoutDestroy;
    public readonly delegate* unmanaged<IntPtr, int, void*, nuint, int> MatrixLayoutSetAttribute;
    public readonly delegate* unmanaged<IntPtr*, int> MatmulPreferenceCreate;
    public readonly delegate* unmanaged<IntPtr, int> MatmulPreferenceDestroy;
    public readonly delegate* unmanaged<IntPtr, int, void*, nuint, int> MatmulPreferenceSetAttribute;
    public readonly delegate* unmanaged<IntPtr, IntPtr, IntPtr, IntPtr, IntPtr, IntPtr, IntPtr, int, CublasLtHeuristicResult*, int*, int> MatmulAlgoGetHeuristic;
    public readonly delegate* unmanaged<IntPtr, IntPtr, void*, IntPtr, IntPtr, IntPtr, IntPtr, void*, IntPtr, IntPtr, IntPtr, IntPtr, void*, IntPtr, nuint, IntPtr, int> Matmul;

    private CublasLtApi(IntPtr lib)
    {
        const string name = "cuBLASLt";
        Create = (delegate* unmanaged<IntPtr*, int>)NativeLibraries.Export(lib, name, "cublasLtCreate");
        Destroy = (delegate* unmanaged<IntPtr, int>)NativeLibraries.Export(lib, name, "cublasLtDestroy");
        MatmulDescCreate = (delegate* unmanaged<IntPtr*, int, int, int>)NativeLibraries.Export(lib, name, "cublasLtMatmulDescCreate");
        MatmulDescDestroy = (delegate* unmanaged<IntPtr, int>)NativeLibraries.Export(lib, name, "cublasLtMatmulDescDestroy");
        MatmulDescSetAttribute = (delegate* unmanaged<IntPtr, int, void*, nuint, int>)NativeLibraries.Export(lib, name, "cublasLtMatmulDescSetAttribute");
        MatrixLayoutCreate = (delegate* unmanaged<IntPtr*, int, ulong, ulong, long, int>)NativeLibraries.Export(lib, name, "cublasLtMatrixLayoutCreate");
        MatrixLayoutDestroy = (delegate* unmanaged<IntPtr, int>)NativeLibraries.Export(lib, name, "cublasLtMatrixLayoutDestroy");
        MatrixLayoutSetAttribute = (delegate* unmanaged<IntPtr, int, void*, nuint, int>)NativeLibraries.Export(lib, name, "cublasLtMatrixLayoutSetAttribute");
        MatmulPreferenceCreate = (delegate* unmanaged<IntPtr*, int>)NativeLibraries.Export(lib, name, "cublasLtMatmulPreferenceCreate");
        MatmulPreferenceDestroy = (delegate* unmanaged<IntPtr, int>)NativeLibraries.Export(lib, name, "cublasLtMatmulPreferenceDestroy");
        MatmulPreferenceSetAttribute = (delegate* unmanaged<IntPtr, int, void*, nuint, int>)NativeLibraries.Export(lib, name, "cublasLtMatmulPreferenceSetAttribute");
        MatmulAlgoGetHeuristic = (delegate* unmanaged<IntPtr, IntPtr, IntPtr, IntPtr, IntPtr, IntPtr, IntPtr, int, CublasLtHeuristicResult*, int*, int>)
            NativeLibraries.Export(lib, name, "cublasLtMatmulAlgoGetHeuristic");
        Matmul = (delegate* unmanaged<IntPtr, IntPtr, void*, IntPtr, IntPtr, IntPtr, IntPtr, void*, IntPtr, IntPtr, IntPtr, IntPtr, void*, IntPtr, nuint, IntPtr, int>)
            NativeLibraries.Export(lib, name, "cublasLtMatmul");
    }

    private static CublasLtApi? _instance;
    private static readonly object Gate = new();

    /// <summary>Loads libcublasLt.so.13 (then .so.12) once; throws <see cref="CudaException"/> when neither loads.</summary>
    public static CublasLtApi Load()
    {
        lock (Gate) return _instance ??= new CublasLtApi(NativeLibraries.Load("cuBLASLt", NativeLibraries.CublasLtNames));
    }
}

/// <summary>Owns one cuBLASLt object (handle, matmul descriptor, layout or preference) and its destroy function.</summary>
internal sealed unsafe class CublasLtObject : SafeHandle
{
    private readonly delegate* unmanaged<IntPtr, int> _destroy;

    public CublasLtObject(IntPtr value, delegate* unmanaged<IntPtr, int> destroy) : base(IntPtr.Zero, ownsHandle: true)
    {
        _destroy = destroy;
        SetHandle(value);
    }

    public override bool IsInvalid => handle == IntPtr.Zero;
    public IntPtr Value => handle;

    protected override bool ReleaseHandle() => _destroy(handle) == CublasStatus.Success;
}
