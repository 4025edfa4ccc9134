using ILGPU.Runtime;
using Engine.Backends;

namespace Engine.Backends.Cuda;

/// <summary>A caching device allocator: freed blocks go to a free list per size class and are handed out again, so a
/// training step that allocates the same shapes every iteration stops calling cuMemAlloc/cuMemFree (which also
/// synchronise the device) after the first step. All work runs on one stream, so a block freed while kernels that use
/// it are still queued can be reused at once: the next user's work is queued behind them.
/// Size classes: multiples of 512 B up to 1 MiB, multiples of 2 MiB above (at most 2 MiB of waste per block).</summary>
internal sealed class CachingAllocator : IDisposable
{
    public const long SmallLimit = 1L << 20;
    public const long SmallRound = 512;
    public const long LargeRound = 2L << 20;

    private readonly Accelerator _accelerator;
    private readonly string _device;
    private readonly long? _limit;
    private readonly Dictionary<long, Stack<DeviceBlock>> _free = new();
    private readonly object _gate = new();
    private long _current, _peak, _cached, _allocations;
    private bool _disposed;

    /// <param name="limitBytes">At most this many bytes of device memory, held or cached (null: what the device has).
    /// Tests use it to reach an out-of-memory error without filling a GPU.</param>
    public CachingAllocator(Accelerator accelerator, string device = "cuda", long? limitBytes = null)
    {
        _accelerator = accelerator;
        _device = device;
        _limit = limitBytes;
    }

    /// <summary>Bytes in blocks currently handed out (by size class, so slightly above the tensors' own sizes).</summary>
    public long CurrentBytes { get { lock (_gate) return _current; } }
    public long PeakBytes { get { lock (_gate) return _peak; } }
    /// <summary>Bytes held in free lists, ready for reuse.</summary>
    public long CachedBytes { get { lock (_gate) return _cached; } }
    /// <summary>Device allocations made so far (a steady training loop stops adding to this).</summary>
    public long DeviceAllocations => Interlocked.Read(ref _allocations);

    public static long SizeClass(long bytes)
    {
        if (bytes <= 0) return SmallRound;
        long round = bytes <= SmallLimit ? SmallRound : LargeRound;
        return (bytes + round - 1) / round * round;
    }

    public DeviceBlock Rent(long bytes)
    {
        long size = SizeClass(bytes);
        DeviceBlock? block = null;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_free.TryGetValue(size, out var stack) && stack.Count > 0)
            {
                block = stack.Pop();
                _cached -= size;
            }
        }
        block ??= AllocateNew(size);
        lock (_gate)
        {
            _current += size;
            if (_current > _peak) _peak = _current;
        }
        return block;
    }

    private DeviceBlock AllocateNew(long size)
    {
        if (_limit is long limit && Held() + size > limit)
        {
            Trim();
            if (Held() + size > limit)
                throw new DeviceOutOfMemoryException(_device, size, CurrentBytes, limit, "");
        }
        try
        {
            return Allocate(size);
        }
        catch (Exception e) when (e is not EngineException)
        {
            // Out of memory (or fragmented by cached blocks of other sizes): give the cache back and try once more.
            Trim();
            try
            {
                return Allocate(size);
            }
            catch (Exception again) when (again is not EngineException)
            {
                throw new DeviceOutOfMemoryException(_device, size, CurrentBytes, null, again.Message.Split('\n')[0]);
            }
        }
    }

    private long Held()
    {
        lock (_gate) return _current + _cached;
    }

    private DeviceBlock Allocate(long size)
    {
        var buffer = _accelerator.Allocate1D<byte>(size);
        Interlocked.Increment(ref _allocations);
        return new DeviceBlock(buffer, size);
    }

    public void Return(DeviceBlock block)
    {
        lock (_gate)
        {
            if (_disposed) return; // the accelerator (and every buffer with it) is already gone
            _current -= block.SizeClass;
            if (!_free.TryGetValue(block.SizeClass, out var stack)) _free[block.SizeClass] = stack = new Stack<DeviceBlock>();
            stack.Push(block);
            _cached += block.SizeClass;
        }
    }

    public void ResetPeak()
    {
        lock (_gate) _peak = _current;
    }

    /// <summary>Frees every cached block back to the device.</summary>
    public void Trim()
    {
        List<DeviceBlock> blocks;
        lock (_gate)
        {
            blocks = _free.Values.SelectMany(s => s).ToList();
            _free.Clear();
            _cached = 0;
        }
        foreach (var b in blocks) b.Buffer.Dispose();
    }

    public void Dispose()
    {
        Trim();
        lock (_gate) _disposed = true;
    }

}
