namespace Engine.Backends.Cuda;

internal sealed partial class IlgpuBackend
{
    /// <summary>The CUDA stream (cudaStream_t / CUstream) every operation of this backend is queued on, for NCCL
    /// collectives that must run in order with the kernels. Binds the accelerator's context to the calling thread
    /// first, as NCCL and the driver calls on the stream need it current.</summary>
    internal IntPtr CudaStreamHandle => Stream is ILGPU.Runtime.Cuda.CudaStream cuda
        ? cuda.StreamPtr
        : throw new NotSupportedException($"{Name} is not a CUDA device, so it has no CUDA stream");
}
