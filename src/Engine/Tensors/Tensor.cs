namespace Engine.Tensors;

/// <summary>A handle to a contiguous, row-major run of elements inside a backend <see cref="Storage"/>.
/// Views (reshape, a slice of the leading dimension) share storage and cost nothing; anything else that changes layout
/// (a transpose, a gather) is an operation that writes a new tensor. Handles are reference counted through the storage:
/// dispose every handle you create, or create it inside a <see cref="TensorScope"/>.</summary>
internal sealed class Tensor : IDisposable
{
    private bool _disposed;

    public Tensor(Storage storage, Shape shape, long offset = 0, bool track = true)
    {
        if (offset < 0 || offset + shape.NumElements > storage.Length)
            throw new ArgumentException($"view {shape} at offset {offset} does not fit a storage of {storage.Length} elements");
        Storage = storage;
        Shape = shape;
        Offset = offset;
        if (track) TensorScope.Register(this);
    }

    public Storage Storage { get; }
    public Shape Shape { get; }
    /// <summary>Start of this view inside the storage, in elements.</summary>
    public long Offset { get; }
    public DType DType => Storage.DType;
    public IDevice Device => Storage.Device;
    public long NumElements => Shape.NumElements;
    public long ByteLength => NumElements * DType.SizeInBytes();
    public bool IsDisposed => _disposed;

    /// <summary>Set on trainable leaves (parameters). Frozen weights leave it false and never get a gradient buffer.</summary>
    public bool RequiresGrad { get; set; }
    /// <summary>The accumulated fp32 gradient of a leaf, allocated by backward on first use.</summary>
    public Tensor? Grad { get; set; }
    /// <summary>The node that produced this tensor when it was computed with gradients enabled.</summary>
    public IGradNode? GradFn { get; set; }
    public string? Name { get; set; }

    /// <summary>A new handle over the same elements with another shape of the same size.</summary>
    public Tensor Reshape(params int[] dims) => Reshape(new Shape(InferDims(dims)), track: true);

    /// <summary>Reshape with control over scope registration (autograd-owned handles pass false).</summary>
    public Tensor Reshape(Shape s, bool track)
    {
        if (s.NumElements != NumElements)
            throw new ArgumentException($"cannot reshape {Shape} ({NumElements} elements) to {s}");
        return Alias(s, Offset, track);
    }

    /// <summary>Rows [start, start+length) of the leading dimension, as a view.</summary>
    public Tensor Slice(int start, int length)
    {
        if (Shape.Rank == 0) throw new InvalidOperationException("cannot slice a scalar");
        if (start < 0 || length < 0 || start + length > Shape[0])
            throw new ArgumentOutOfRangeException(nameof(start), $"slice [{start}, {start + length}) of dimension 0 of {Shape}");
        long inner = Shape[0] == 0 ? 0 : NumElements / Shape[0];
        return Alias(Shape.WithFirst(length), Offset + start * inner);
    }

    /// <summary>Another handle to the same view. <paramref name="track"/> false keeps it out of any open scope
    /// (autograd nodes hold such handles for the tensors they save).</summary>
    public Tensor Share(bool track = true) => Alias(Shape, Offset, track);

    private Tensor Alias(Shape s, long offset, bool track = true)
    {
        ThrowIfDisposed();
        Storage.Retain();
        return new Tensor(Storage, s, offset, track) { Name = Name };
    }

    private int[] InferDims(int[] dims)
    {
        int infer = Array.IndexOf(dims, -1);
        if (infer < 0) return dims;
        long known = 1;
        for (int i = 0; i < dims.Length; i++) if (i != infer) known *= dims[i];
        var d = (int[])dims.Clone();
        d[infer] = known == 0 ? 0 : (int)(NumElements / known);
        return d;
    }

    public void ThrowIfDisposed()
    {
        if (_disposed) throw new ObjectDisposedException(Name ?? "tensor", $"tensor {Shape} was used after it was disposed");
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Storage.Release();
    }

    public override string ToString() => $"Tensor({Name ?? "?"}, {DType.Name()}, {Shape}, {Device.Name})";
}
