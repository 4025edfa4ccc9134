namespace Engine.Backends.Cuda.Native;

/// <summary>A CUDA driver, cuBLAS or cuBLASLt call that returned an error, or a CUDA library that could not be loaded.
/// The message names the call (or library) and the status by its C name, e.g.
/// "cublasGemmEx failed: CUBLAS_STATUS_INVALID_VALUE (7)". An <see cref="EngineException"/>, so the CLI prints it as
/// one line: it nearly always means a broken CUDA installation or an unsupported GPU, not a bug to debug.</summary>
internal sealed class CudaException : EngineException
{
    public CudaException(string message) : base(message) { }

    public CudaException(string call, int status, string statusName)
        : base($"{call} failed: {statusName} ({status})")
    {
        Call = call;
        Status = status;
    }

    /// <summary>The native function that failed, when the error came from a call.</summary>
    public string? Call { get; }
    public int Status { get; }
}
