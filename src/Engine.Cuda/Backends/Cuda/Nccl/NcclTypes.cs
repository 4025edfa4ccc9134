using System.Runtime.InteropServices;
using Engine.Backends.Cuda.Native;

namespace Engine.Backends.Cuda.Nccl;

// Values from NVIDIA's public header nccl.h (src/nccl.h.in in github.com/NVIDIA/nccl, read 2026-12 at commit
// 021e8045ff77a8a9fba909617a0129d3c3d44def; unchanged since NCCL 2.x introduced them). C enums are int-sized.

/// <summary>ncclUniqueId: <c>typedef struct { char internal[NCCL_UNIQUE_ID_BYTES]; } ncclUniqueId;</c> with
/// NCCL_UNIQUE_ID_BYTES 128. Passed by value to ncclCommInitRank.</summary>
[StructLayout(LayoutKind.Sequential, Size = Bytes)]
internal unsafe struct NcclUniqueId
{
    public const int Bytes = 128;
    public fixed byte Internal[Bytes];
}

/// <summary>ncclResult_t.</summary>
internal enum NcclResult
{
    Success = 0,
    UnhandledCudaError = 1,
    SystemError = 2,
    InternalError = 3,
    InvalidArgument = 4,
    InvalidUsage = 5,
    RemoteError = 6,
    InProgress = 7,
    Timeout = 8,
}

/// <summary>ncclDataType_t (the members engine uses).</summary>
internal enum NcclDataType
{
    Int8 = 0,
    Uint8 = 1,
    Int32 = 2,
    Float16 = 6,
    Float32 = 7,
    Float64 = 8,
    Bfloat16 = 9,
}

/// <summary>ncclRedOp_t (the built-in operators).</summary>
internal enum NcclRedOp
{
    Sum = 0,
    Prod = 1,
    Max = 2,
    Min = 3,
    Avg = 4,
}

/// <summary>Turns an ncclResult_t into a <see cref="CudaException"/> naming the call and the result by its C name.</summary>
internal static class NcclStatus
{
    public static string Name(int result) => result switch
    {
        0 => "ncclSuccess",
        1 => "ncclUnhandledCudaError",
        2 => "ncclSystemError",
        3 => "ncclInternalError",
        4 => "ncclInvalidArgument",
        5 => "ncclInvalidUsage",
        6 => "ncclRemoteError",
        7 => "ncclInProgress",
        8 => "ncclTimeout",
        _ => "ncclResult_t",
    };

    /// <summary>Throws unless <paramref name="result"/> is ncclSuccess; <paramref name="describe"/> (ncclGetErrorString)
    /// adds NCCL's own words when the library is loaded.</summary>
    public static void Check(string call, int result, Func<int, string?>? describe = null)
    {
        if (result == (int)NcclResult.Success) return;
        string? text = describe?.Invoke(result);
        throw new CudaException(call, result, text is { Length: > 0 } ? $"{Name(result)}, \"{text}\"" : Name(result));
    }
}
