using System.Runtime.InteropServices;
using Engine.Backends.Cuda.Native;

namespace Engine.Backends.Cuda.Nccl;

/// <summary>The NCCL entry points engine uses, as typed function pointers resolved when the library is first needed
/// (found by <see cref="NcclLibrary"/>), so a machine without NCCL fails with a <see cref="CudaException"/> naming the
/// library and <c>ENGINE_NCCL_LIBRARY</c>, never with a DllNotFoundException. Signatures from nccl.h (see
/// <see cref="NcclUniqueId"/> for the version read): every function returns an ncclResult_t except
/// ncclGetErrorString; ncclComm_t and cudaStream_t are pointers; counts are size_t; enums are int.</summary>
internal sealed unsafe class NcclNative
{
    /// <summary>ncclResult_t ncclGetVersion(int* version): 22605 for 2.26.5.</summary>
    public readonly delegate* unmanaged<int*, int> GetVersion;
    /// <summary>ncclResult_t ncclGetUniqueId(ncclUniqueId* uniqueId).</summary>
    public readonly delegate* unmanaged<NcclUniqueId*, int> GetUniqueId;
    /// <summary>ncclResult_t ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId commId, int rank): the id by value.</summary>
    public readonly delegate* unmanaged<IntPtr*, int, NcclUniqueId, int, int> CommInitRank;
    /// <summary>ncclResult_t ncclAllReduce(const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype,
    /// ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream); in place when sendbuff == recvbuff.</summary>
    public readonly delegate* unmanaged<IntPtr, IntPtr, nuint, int, int, IntPtr, IntPtr, int> AllReduce;
    /// <summary>ncclResult_t ncclBroadcast(const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype,
    /// int root, ncclComm_t comm, cudaStream_t stream); in place when sendbuff == recvbuff.</summary>
    public readonly delegate* unmanaged<IntPtr, IntPtr, nuint, int, int, IntPtr, IntPtr, int> Broadcast;
    /// <summary>ncclResult_t ncclCommDestroy(ncclComm_t comm).</summary>
    public readonly delegate* unmanaged<IntPtr, int> CommDestroy;
    /// <summary>ncclResult_t ncclCommAbort(ncclComm_t comm): frees the communicator and stops its kernels still running.</summary>
    public readonly delegate* unmanaged<IntPtr, int> CommAbort;
    /// <summary>ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t* asyncError).</summary>
    public readonly delegate* unmanaged<IntPtr, int*, int> CommGetAsyncError;
    /// <summary>const char* ncclGetErrorString(ncclResult_t result).</summary>
    public readonly delegate* unmanaged<int, IntPtr> GetErrorString;

    private static readonly Lock Gate = new();
    private static NcclNative? _instance;
    private static string? _instanceOverride;

    private NcclNative(IntPtr lib, string loadedAs)
    {
        IntPtr Export(string symbol) => NativeLibrary.TryGetExport(lib, symbol, out var address) ? address
            : throw new CudaException($"{loadedAs} is not a usable NCCL 2 library: it has no export {symbol}; point {NcclLibrary.OverrideVariable} at libnccl.so.2");
        GetVersion = (delegate* unmanaged<int*, int>)Export("ncclGetVersion");
        GetUniqueId = (delegate* unmanaged<NcclUniqueId*, int>)Export("ncclGetUniqueId");
        CommInitRank = (delegate* unmanaged<IntPtr*, int, NcclUniqueId, int, int>)Export("ncclCommInitRank");
        AllReduce = (delegate* unmanaged<IntPtr, IntPtr, nuint, int, int, IntPtr, IntPtr, int>)Export("ncclAllReduce");
        Broadcast = (delegate* unmanaged<IntPtr, IntPtr, nuint, int, int, IntPtr, IntPtr, int>)Export("ncclBroadcast");
        CommDestroy = (delegate* unmanaged<IntPtr, int>)Export("ncclCommDestroy");
        CommAbort = (delegate* unmanaged<IntPtr, int>)Export("ncclCommAbort");
        CommGetAsyncError = (delegate* unmanaged<IntPtr, int*, int>)Export("ncclCommGetAsyncError");
        GetErrorString = (delegate* unmanaged<int, IntPtr>)Export("ncclGetErrorString");
    }

    /// <summary>The library's entry points, loaded once per value of <c>ENGINE_NCCL_LIBRARY</c>; a
    /// <see cref="CudaException"/> when NCCL is missing or the library found lacks an entry point (nothing is cached
    /// then, so fixing <c>ENGINE_NCCL_LIBRARY</c> and retrying works).</summary>
    public static NcclNative Load()
    {
        var overridePath = Environment.GetEnvironmentVariable(NcclLibrary.OverrideVariable);
        lock (Gate)
        {
            if (_instance is not null && _instanceOverride == overridePath) return _instance;
            var (handle, loadedAs) = NcclLibrary.Load();
            _instance = new NcclNative(handle, loadedAs);
            _instanceOverride = overridePath;
            return _instance;
        }
    }

    /// <summary>NCCL's own words for a result, e.g. "unhandled system error".</summary>
    public string? ErrorString(int result)
    {
        var p = GetErrorString(result);
        return p == IntPtr.Zero ? null : Marshal.PtrToStringUTF8(p);
    }

    /// <summary>Throws a <see cref="CudaException"/> naming <paramref name="call"/> unless the result is ncclSuccess.</summary>
    public void Check(string call, int result) => NcclStatus.Check(call, result, ErrorString);

    /// <summary>The library's version as "2.26.5" (NCCL_VERSION_CODE is major·10000 + minor·100 + patch since 2.9).</summary>
    public string Version()
    {
        int v;
        Check("ncclGetVersion", GetVersion(&v));
        return v >= 10000 ? $"{v / 10000}.{v / 100 % 100}.{v % 100}" : $"{v / 1000}.{v / 100 % 10}.{v % 100}";
    }
}
