using System.Runtime.InteropServices;
using System.Text;

namespace Engine.Distributed.Mpi;

/// <summary>Open MPI's C API as function pointers resolved at run time (NativeLibrary.TryLoad + GetExport), so a machine
/// without Open MPI fails with an <see cref="EngineException"/> naming the library when a CPU rank first needs it, never
/// when a type loads, and the NativeAOT CLI needs no libmpi to start. Open MPI's ABI (4.x, mpi.h): every handle
/// (communicator, datatype, op) is the address of an exported global (<c>ompi_mpi_comm_world</c>, …), a request is a
/// pointer, <c>MPI_IN_PLACE</c> is <c>(void*)1</c> and <see cref="MpiStatus"/> is 24 bytes. Other MPI implementations
/// (MPICH's integer handles) have another ABI and are not supported.</summary>
internal sealed unsafe class MpiNative
{
    /// <summary>Names the library to load instead of <see cref="DefaultLibrary"/> (a path or a soname).</summary>
    public const string LibraryVariable = "ENGINE_MPI_LIBRARY";
    /// <summary>Open MPI 3.x/4.x's soname (Debian's libopenmpi3 ships it as libmpi.so.40).</summary>
    public const string DefaultLibrary = "libmpi.so.40";

    public const int Success = 0;
    public const int ThreadFunneled = 1;
    /// <summary>MPI_MAX_ERROR_STRING (OPAL_MAX_ERROR_STRING in mpi.h).</summary>
    public const int MaxErrorString = 256;
    /// <summary>MPI_IN_PLACE.</summary>
    public static readonly void* InPlace = (void*)1;

    public readonly delegate* unmanaged<int*, int> Initialized;
    public readonly delegate* unmanaged<int*, int> Finalized;
    public readonly delegate* unmanaged<int*, byte***, int, int*, int> InitThread;
    public readonly delegate* unmanaged<IntPtr, int*, int> CommRank;
    public readonly delegate* unmanaged<IntPtr, int*, int> CommSize;
    public readonly delegate* unmanaged<IntPtr, IntPtr, int> CommSetErrhandler;
    public readonly delegate* unmanaged<void*, void*, int, IntPtr, IntPtr, IntPtr, IntPtr*, int> Iallreduce;
    public readonly delegate* unmanaged<void*, int, IntPtr, int, IntPtr, IntPtr*, int> Ibcast;
    public readonly delegate* unmanaged<IntPtr, IntPtr*, int> Ibarrier;
    public readonly delegate* unmanaged<IntPtr*, int*, MpiStatus*, int> Test;
    public readonly delegate* unmanaged<IntPtr, int, int> Abort;
    public readonly delegate* unmanaged<int> Finalize;
    public readonly delegate* unmanaged<int, byte*, int*, int> ErrorString;

    /// <summary>MPI_COMM_WORLD, MPI_FLOAT, MPI_DOUBLE, MPI_BYTE, MPI_SUM and MPI_ERRORS_RETURN: addresses of Open MPI's globals.</summary>
    public readonly IntPtr CommWorld, Float, Double, Byte, OpSum, ErrorsReturn;

    private MpiNative(IntPtr lib, string name)
    {
        IntPtr E(string symbol) => NativeLibrary.TryGetExport(lib, symbol, out var a) ? a
            : throw new EngineException($"{name} has no export {symbol}: {LibraryVariable} must name Open MPI's libmpi (3.x or 4.x); " +
                                        "MPICH and other MPI implementations have another ABI");
        Initialized = (delegate* unmanaged<int*, int>)E("MPI_Initialized");
        Finalized = (delegate* unmanaged<int*, int>)E("MPI_Finalized");
        InitThread = (delegate* unmanaged<int*, byte***, int, int*, int>)E("MPI_Init_thread");
        CommRank = (delegate* unmanaged<IntPtr, int*, int>)E("MPI_Comm_rank");
        CommSize = (delegate* unmanaged<IntPtr, int*, int>)E("MPI_Comm_size");
        CommSetErrhandler = (delegate* unmanaged<IntPtr, IntPtr, int>)E("MPI_Comm_set_errhandler");
        Iallreduce = (delegate* unmanaged<void*, void*, int, IntPtr, IntPtr, IntPtr, IntPtr*, int>)E("MPI_Iallreduce");
        Ibcast = (delegate* unmanaged<void*, int, IntPtr, int, IntPtr, IntPtr*, int>)E("MPI_Ibcast");
        Ibarrier = (delegate* unmanaged<IntPtr, IntPtr*, int>)E("MPI_Ibarrier");
        Test = (delegate* unmanaged<IntPtr*, int*, MpiStatus*, int>)E("MPI_Test");
        Abort = (delegate* unmanaged<IntPtr, int, int>)E("MPI_Abort");
        Finalize = (delegate* unmanaged<int>)E("MPI_Finalize");
        ErrorString = (delegate* unmanaged<int, byte*, int*, int>)E("MPI_Error_string");
        CommWorld = E("ompi_mpi_comm_world");
        Float = E("ompi_mpi_float");
        Double = E("ompi_mpi_double");
        Byte = E("ompi_mpi_byte");
        OpSum = E("ompi_mpi_op_sum");
        ErrorsReturn = E("ompi_mpi_errors_return");
    }

    private static MpiNative? _instance;
    private static readonly Lock Gate = new();

    /// <summary>Loads Open MPI once: <c>$ENGINE_MPI_LIBRARY</c> when set, else <see cref="DefaultLibrary"/>; throws
    /// <see cref="EngineException"/> naming the library when it does not load.</summary>
    public static MpiNative Load()
    {
        lock (Gate)
        {
            if (_instance is not null) return _instance;
            var name = Environment.GetEnvironmentVariable(LibraryVariable) is { Length: > 0 } v ? v : DefaultLibrary;
            IntPtr lib;
            try { lib = NativeLibrary.Load(name); }
            catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
            {
                throw new EngineException($"Open MPI's library {name} could not be loaded ({LoaderReason(e.Message)}): CPU ranks talk through " +
                                          $"Open MPI; install it (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev, or scripts/install-mpi.sh) " +
                                          $"or set {LibraryVariable} to its libmpi.so");
            }
            return _instance = new MpiNative(lib, name);
        }
    }

    /// <summary>Throws an <see cref="EngineException"/> naming <paramref name="call"/> and MPI's text for
    /// <paramref name="code"/> unless it is MPI_SUCCESS.</summary>
    public void Check(int code, string call)
    {
        if (code != Success) throw new EngineException($"{call} failed: {Describe(code)} (MPI error {code})");
    }

    /// <summary>MPI_Error_string's text for <paramref name="code"/>.</summary>
    public string Describe(int code)
    {
        var buffer = stackalloc byte[MaxErrorString + 1];
        int length = 0;
        if (ErrorString(code, buffer, &length) != Success || length <= 0) return "unknown MPI error";
        return Encoding.UTF8.GetString(buffer, Math.Min(length, MaxErrorString)).TrimEnd('\0', ' ');
    }

    /// <summary>The dynamic loader's own reason (the last line of .NET's message, e.g. "…: cannot open shared object file:
    /// No such file or directory"), not the advice .NET puts before it.</summary>
    private static string LoaderReason(string message)
    {
        var lines = message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return lines.Length == 0 ? "no reason given" : lines[^1];
    }
}

/// <summary>MPI_Status of Open MPI (struct ompi_status_public_t in mpi.h): three public ints, then two internal fields.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct MpiStatus
{
    public int Source;
    public int Tag;
    public int Error;
    public int Cancelled;
    public nuint Count;
}
