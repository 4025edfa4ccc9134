using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using Engine.Kernels;
using Engine.Tensors;

namespace Engine.Backends.Cuda;

/// <summary>The GPU backend: ILGPU kernels (kernels/Engine.Kernels) on one accelerator stream, cuBLAS for matrix
/// products on CUDA. On ILGPU's CPU accelerator the same kernels run (with a plain GEMM kernel in place of cuBLAS),
/// which is how CI checks every kernel against the CPU backend without a GPU.
/// All work is queued on one non-null stream, in order; host reads synchronise it. Kernels cannot throw, so invalid
/// indices (token ids, positions, targets) set bits in a device error word that is checked at every synchronisation
/// and reported as an <see cref="EngineException"/>. Each family of ops lives in its own partial file.</summary>
internal sealed partial class IlgpuBackend : IBackend
{
    [ThreadStatic] private static Accelerator? _boundOnThisThread;

    private readonly IlgpuDevice _device;
    private readonly bool _ownsDevice;
    private readonly Accelerator _acc;
    private readonly AcceleratorStream _stream;
    private readonly KernelCache _kernels;
    private readonly CachingAllocator _allocator;
    private readonly HostStaging _staging;
    private readonly MemoryBuffer1D<int, Stride1D.Dense> _errors;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _partials;
    // Host ends of small device reads. ILGPU's copies take the address of the host buffer and expect it pinned, so
    // these live on the pinned object heap (the staging buffer does too).
    private readonly int[] _hostErrors = GC.AllocateArray<int>(1, pinned: true);
    private readonly float[] _hostPartials = GC.AllocateArray<float>(PartialsCapacity, pinned: true);
    private readonly int _groupSize, _maxGroups;
    private CublasGemm? _cublas;
    private bool _disposed;

    /// <summary>Most groups a grid-stride kernel launches, and so the size of the reduction partials buffer.</summary>
    private const int PartialsCapacity = 4096;

    public IlgpuBackend(IlgpuDevice device, IlgpuBackendOptions? options = null, bool ownsDevice = false)
    {
        options ??= new IlgpuBackendOptions();
        if (options.ActivationType is not (DType.F32 or DType.BF16))
            throw new ArgumentException($"activation type must be f32 or bf16, not {options.ActivationType.Name()}");
        _device = device;
        _ownsDevice = ownsDevice;
        _acc = device.Accelerator;
        ActivationType = options.ActivationType;
        GemmPath = options.Gemm;
        Attention = options.Attention;
        _groupSize = options.GroupSize ?? (device.IsCuda ? 256 : 32);
        if (_groupSize % 32 != 0 || _groupSize > _acc.MaxNumThreadsPerGroup)
            throw new ArgumentException($"group size {_groupSize} must be a multiple of 32 and at most {_acc.MaxNumThreadsPerGroup}");
        _maxGroups = device.IsCuda ? Math.Min(_acc.NumMultiprocessors * 16, PartialsCapacity) : 2;
        _acc.Bind();
        _boundOnThisThread = _acc;
        _stream = _acc.CreateStream();
        _kernels = new KernelCache(_acc);
        _allocator = new CachingAllocator(_acc, device.Name, options.MemoryLimitBytes);
        _staging = new HostStaging(_acc, _stream, pageLock: device.IsCuda);
        _errors = _acc.Allocate1D<int>(1);
        _errors.View.MemSetToZero(_stream);
        _partials = _acc.Allocate1D<float>(PartialsCapacity);
        _stream.Synchronize();
    }

    /// <summary>Opens CUDA device <paramref name="ordinal"/> and loads cuBLAS, failing with one clear
    /// <see cref="EngineException"/> line when either is unusable.</summary>
    public static IlgpuBackend CreateCuda(int ordinal = 0, string spec = "cuda", IlgpuBackendOptions? options = null)
    {
        var device = IlgpuDevice.OpenCuda(ordinal, spec);
        IlgpuBackend? backend = null;
        try
        {
            backend = new IlgpuBackend(device, options, ownsDevice: true);
            backend.Cublas(); // load cuBLAS now: a missing library should fail at startup, not at the first matmul
            return backend;
        }
        catch
        {
            if (backend is not null) backend.Dispose();
            else device.Dispose();
            throw;
        }
    }

    public string Name => _device.Name;
    public bool IsCuda => _device.IsCuda;
    public DType ActivationType { get; }
    public IlgpuDevice Device => _device;
    public GemmPath GemmPath { get; set; }
    /// <summary>The attention kernels used from now on (the self-test switches it to check both).</summary>
    public AttentionKernel Attention { get; set; }
    public (long Current, long Peak) MemoryInUse => (_allocator.CurrentBytes, _allocator.PeakBytes);
    /// <summary>Freed device memory held for reuse.</summary>
    public long CachedBytes => _allocator.CachedBytes;
    /// <summary>Device allocations made so far; stops growing once a training loop reaches steady state.</summary>
    public long DeviceAllocations => _allocator.DeviceAllocations;

    public void ResetPeakMemory() => _allocator.ResetPeak();

    /// <summary>Returns cached device blocks to the driver (after synchronising, so none is still in use).</summary>
    public void TrimCache()
    {
        Stream.Synchronize();
        _allocator.Trim();
    }

    /// <summary>The stream every operation is queued on; binds the accelerator's context to the calling thread first
    /// (ILGPU creates its own CUDA context, which must be current for launches and for cuBLAS).</summary>
    private AcceleratorStream Stream
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!ReferenceEquals(_boundOnThisThread, _acc))
            {
                _acc.Bind();
                _boundOnThisThread = _acc;
            }
            return _stream;
        }
    }

    public void Synchronize()
    {
        HostReads++;
        Stream.Synchronize();
        CheckKernelErrors();
    }

    private void CheckKernelErrors()
    {
        _errors.View.CopyToCPU(Stream, ref _hostErrors[0], 1);
        int flags = _hostErrors[0];
        if (flags == 0) return;
        _errors.View.MemSetToZero(Stream);
        var problems = new List<string>();
        if ((flags & KernelErrors.TokenIdOutOfRange) != 0) problems.Add("embedding: a token id is outside the vocabulary");
        if ((flags & KernelErrors.PositionOutOfRange) != 0) problems.Add("rope: a position is beyond the rope table");
        if ((flags & KernelErrors.TargetOutOfRange) != 0) problems.Add("cross-entropy: a target is outside the vocabulary");
        throw new EngineException($"{Name}: invalid input found by a kernel: {string.Join("; ", problems)}");
    }

    // ---- memory -------------------------------------------------------------------------------------------

    public Tensor Empty(Shape shape, DType dtype) => NewTensor(shape, dtype, track: true);

    private Tensor NewTensor(Shape shape, DType dtype, bool track)
    {
        var block = _allocator.Rent(shape.NumElements * dtype.SizeInBytes());
        return new Tensor(new IlgpuStorage(this, _allocator, dtype, shape.NumElements, block), shape, track: track);
    }

    public Tensor Zeros(Shape shape, DType dtype)
    {
        var t = Empty(shape, dtype);
        if (t.NumElements > 0) View(t).MemSetToZero(Stream);
        return t;
    }

    public Tensor FromFloats(ReadOnlySpan<float> data, Shape shape, DType dtype)
    {
        CheckCount(data.Length, shape);
        if (!dtype.IsFloat()) throw new NotSupportedException($"cannot make a {dtype.Name()} tensor from floats");
        var t = Empty(shape, dtype);
        _ = Stream;
        _staging.UploadFloats(View(t), data, dtype);
        return t;
    }

    public Tensor FromInts(ReadOnlySpan<int> data, Shape shape)
    {
        CheckCount(data.Length, shape);
        var t = Empty(shape, DType.I32);
        _ = Stream;
        _staging.Upload(View(t), MemoryMarshal.AsBytes(data));
        return t;
    }

    public Tensor FromBytes(ReadOnlySpan<byte> data, Shape shape, DType dtype)
    {
        if (data.Length != shape.NumElements * dtype.SizeInBytes())
            throw new ArgumentException($"{data.Length} bytes do not hold a {dtype.Name()} tensor of shape {shape}");
        var t = Empty(shape, dtype);
        _ = Stream;
        _staging.Upload(View(t), data);
        return t;
    }

    public void ToFloats(Tensor t, Span<float> dst)
    {
        if (!t.DType.IsFloat() && t.DType != DType.I32) throw new NotSupportedException($"cannot read {t} as floats");
        Synchronize();
        _staging.DownloadFloats(View(t), t.DType, dst[..(int)t.NumElements]);
    }

    public void ToInts(Tensor t, Span<int> dst)
    {
        if (t.DType != DType.I32) throw new NotSupportedException($"expected an i32 tensor, got {t}");
        Synchronize();
        _staging.Download(View(t), MemoryMarshal.AsBytes(dst[..(int)t.NumElements]));
    }

    public void ToBytes(Tensor t, Span<byte> dst)
    {
        Synchronize();
        _staging.Download(View(t), dst[..(int)t.ByteLength]);
    }

    public void Fill(Tensor t, float value)
    {
        long n = t.NumElements;
        if (n == 0) return;
        _kernels.Get<Action<AcceleratorStream, KernelConfig, ArrayView<byte>, long, float>>(FillKernel, Elem(t.DType))
            (Stream, Elementwise(n), View(t), n, value);
    }

    public void Copy(Tensor src, Tensor dst)
    {
        if (src.NumElements != dst.NumElements) throw new ArgumentException($"copy {src} to {dst}: sizes differ");
        long n = src.NumElements;
        if (n == 0) return;
        if (src.DType == dst.DType)
        {
            View(src).CopyTo(Stream, View(dst));
            return;
        }
        _kernels.Get<Action<AcceleratorStream, KernelConfig, ArrayView<byte>, ArrayView<byte>, long>>(CastKernel, Elem(src.DType), Elem(dst.DType))
            (Stream, Elementwise(n), View(src), View(dst), n);
    }

    private static readonly System.Reflection.MethodInfo FillKernel = KernelCache.Method(typeof(ElementwiseKernels), nameof(ElementwiseKernels.Fill));
    private static readonly System.Reflection.MethodInfo CastKernel = KernelCache.Method(typeof(CastKernels), nameof(CastKernels.Cast));

    /// <summary>A new tensor of <paramref name="dtype"/> holding <paramref name="t"/>'s values, or a new handle to
    /// <paramref name="t"/> itself when it already has that dtype. Dispose the result either way.</summary>
    private Tensor As(Tensor t, DType dtype)
    {
        if (t.DType == dtype) return t.Share(track: false);
        var r = Scratch(t.Shape, dtype);
        Copy(t, r);
        return r;
    }

    /// <summary>A temporary outside any open <see cref="TensorScope"/>; the caller disposes it (stream order makes that
    /// safe while kernels that use it are still queued).</summary>
    private Tensor Scratch(Shape shape, DType dtype) => NewTensor(shape, dtype, track: false);

    // ---- views and launch shapes --------------------------------------------------------------------------

    private IlgpuStorage StorageOf(Tensor t)
    {
        t.ThrowIfDisposed();
        if (t.Storage is not IlgpuStorage s || !ReferenceEquals(s.Device, this))
            throw new InvalidOperationException($"{t} does not live on {Name}");
        return s;
    }

    internal ArrayView<byte> View(Tensor t) => StorageOf(t).Bytes(t.Offset, t.NumElements);

    internal IntPtr DevicePointer(Tensor t) => StorageOf(t).DevicePointer(t.Offset);

    private ArrayView<float> F32View(Tensor t, string op, string what)
    {
        if (t.DType != DType.F32) throw new ArgumentException($"{op}: {what} must be f32, got {t}");
        return View(t).Cast<float>();
    }

    private ArrayView<int> I32View(Tensor t, string op, string what)
    {
        if (t.DType != DType.I32) throw new ArgumentException($"{op}: {what} must be i32, got {t}");
        return View(t).Cast<int>();
    }

    /// <summary>The kernel element type for a dtype (see Engine.Kernels.IElement).</summary>
    internal static Type Elem(DType t) => t switch
    {
        DType.F32 => typeof(F32Elem),
        DType.BF16 => typeof(BF16Elem),
        DType.F16 => typeof(F16Elem),
        DType.I32 => typeof(I32Elem),
        DType.U8 => typeof(U8Elem),
        _ => throw new NotSupportedException(t.ToString()),
    };

    private static Type FloatElem(Tensor t, string op) =>
        t.DType.IsFloat() ? Elem(t.DType) : throw new NotSupportedException($"{op}: expected a float tensor, got {t}");

    /// <summary>A grid-stride launch over n elements.</summary>
    private KernelConfig Elementwise(long n) =>
        new((int)Math.Clamp((n + _groupSize - 1) / _groupSize, 1, _maxGroups), _groupSize);

    /// <summary>One group per row (grid-stride over rows beyond the cap).</summary>
    private KernelConfig Rows(long rows, int groupSize) =>
        new((int)Math.Clamp(rows, 1, _device.IsCuda ? 1 << 20 : 2), groupSize);

    private static void CheckCount(int n, Shape shape)
    {
        if (n != shape.NumElements) throw new ArgumentException($"{n} values do not fill shape {shape}");
    }

    private static void SameSize(Tensor a, Tensor b, string op)
    {
        if (a.NumElements != b.NumElements) throw new ArgumentException($"{op}: {a} and {b} differ in size");
    }

    public void Dispose()
    {
        if (_disposed) return;
        try { Stream.Synchronize(); }
        catch (Exception) { /* a failed kernel must not prevent releasing the device */ }
        _cublas?.Dispose();
        _nf4Table?.Dispose();
        _staging.Dispose();
        _allocator.Dispose();
        _errors.Dispose();
        _partials.Dispose();
        _stream.Dispose();
        _disposed = true;
        if (_ownsDevice) _device.Dispose();
    }
}
