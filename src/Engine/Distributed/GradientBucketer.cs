using Engine.Backends;
using Engine.Tensors;

namespace Engine.Distributed;

/// <summary>Gradient all-reduce overlapped with the backward pass, as PyTorch DDP's reducer does it. The trainable
/// parameters are taken in the order their gradients become final in a backward pass (<see cref="ReadyOrder{T}"/>) and
/// cut into buckets exactly as <see cref="BucketPlan"/> cuts that list for the communicator's blocking
/// <see cref="ICommunicator.AllReduceSum(IReadOnlyList{Tensor})"/>, with the communicator's own sizes: the same
/// collectives over the same elements, so the sums are bit-identical to the blocking call on the same list. During the
/// backward of the last micro-batch of a step (earlier ones only accumulate, DDP's no_sync) the trainer reports each
/// gradient as it becomes final; once every gradient of the next bucket is final, the bucket is packed and its
/// non-blocking all-reduce started. Buckets start strictly in one fixed order (the order they complete in when gradients
/// arrive in ready order), since every rank must issue the same collectives in the same order, whatever order its own
/// gradients finish in. <see cref="FinishSync"/> treats whatever
/// was not reported as final, starts the rest, waits for all (the communicator's timeout), and unpacks.
/// Packed buckets own buffers of their own, kept for the run: up to one more copy of the packed gradients.</summary>
internal sealed class GradientBucketer : IDisposable
{
    private readonly ICommunicator _comm;
    private readonly Tensor[] _params;
    private readonly Func<Tensor, Tensor> _gradientOf;
    private readonly List<BucketStep> _steps;
    private readonly Dictionary<Tensor, int> _index = new(ReferenceEqualityComparer.Instance);
    private readonly int[] _bucketOf;
    private readonly int[] _waiting;
    private readonly bool[] _final;
    private readonly Tensor?[] _buffers;
    private readonly IPendingCollective?[] _pending;
    private int _started, _completed;
    private bool _syncing;

    /// <param name="parameters">The trainable parameters in the trainer's (model) order.</param>
    /// <param name="gradientOf">A parameter's fp32 gradient, created as zeros where this rank's backward gave it none.</param>
    public GradientBucketer(ICommunicator comm, IReadOnlyList<Tensor> parameters, Func<Tensor, Tensor> gradientOf)
    {
        _comm = comm;
        _gradientOf = gradientOf;
        _params = ReadyOrder(parameters).ToArray();
        var (bucket, direct) = comm.PackingElements;
        // BucketPlan emits a direct tensor before the packed bucket still filling when it is reached, so the plan's
        // order can put a gradient that is final late (the tied embedding, last in ready order) ahead of a bucket of
        // earlier ones. Issue order does not change any sum (each collective has its own elements and count), so the
        // buckets start in the order they complete when gradients arrive in ready order: a pure function of the counts,
        // the same on every rank.
        _steps = BucketPlan.Plan(_params.Select(p => p.NumElements).ToArray(), bucket, direct)
            .OrderBy(step => step.Direct ?? step.Packed[^1].Tensor).ToList();
        _bucketOf = Enumerable.Repeat(-1, _params.Length).ToArray(); // empty parameters are in no bucket
        for (int b = 0; b < _steps.Count; b++)
        {
            if (_steps[b].Direct is int d) _bucketOf[d] = b;
            foreach (var slot in _steps[b].Packed) _bucketOf[slot.Tensor] = b;
        }
        for (int i = 0; i < _params.Length; i++) _index.Add(_params[i], i);
        _waiting = new int[_steps.Count];
        _final = new bool[_params.Length];
        _buffers = new Tensor?[_steps.Count];
        _pending = new IPendingCollective?[_steps.Count];
    }

    /// <summary>The order in which a backward pass finishes the gradients of parameters listed in model order: the
    /// reverse, since the last layers' gradients are computed first (DDP's buckets start from the reverse of
    /// model.parameters() too). The blocking path reduces this order as well, so both pack the same buckets.</summary>
    public static List<T> ReadyOrder<T>(IReadOnlyList<T> parameters)
    {
        var order = parameters.ToList();
        order.Reverse();
        return order;
    }

    /// <summary>Collectives one step issues: one per bucket.</summary>
    public int BucketCount => _steps.Count;

    /// <summary>Opens a synchronizing backward: from now on <see cref="MarkReady"/> starts buckets.</summary>
    public void BeginSync()
    {
        if (_syncing) throw new InvalidOperationException("BeginSync twice without FinishSync");
        _syncing = true;
        Array.Clear(_final);
        for (int b = 0; b < _steps.Count; b++) _waiting[b] = _steps[b].Direct is not null ? 1 : _steps[b].Packed.Count;
        _started = _completed = 0;
    }

    /// <summary>The backward's report that <paramref name="leaf"/>'s gradient is final. Leaves that are not trainable
    /// parameters of this bucketer are ignored. Also lets the buckets already in flight progress.</summary>
    public void MarkReady(Tensor leaf)
    {
        if (!_syncing) throw new InvalidOperationException("MarkReady outside BeginSync/FinishSync");
        if (_index.TryGetValue(leaf, out int i)) Final(i);
        StartReadyBuckets();
        while (_completed < _started && _pending[_completed]!.Test()) _completed++;
    }

    /// <summary>Ends the synchronizing backward: every gradient not reported is final now; the remaining buckets start,
    /// all are waited for, and packed sums are copied back into the gradients.</summary>
    public void FinishSync()
    {
        if (!_syncing) throw new InvalidOperationException("FinishSync without BeginSync");
        for (int i = 0; i < _params.Length; i++) Final(i);
        StartReadyBuckets();
        for (int b = 0; b < _steps.Count; b++)
        {
            _pending[b]!.Wait();
            _pending[b] = null;
            Unpack(b);
        }
        _syncing = false;
    }

    private void Final(int i)
    {
        if (_final[i]) return;
        _final[i] = true;
        if (_bucketOf[i] >= 0) _waiting[_bucketOf[i]]--;
    }

    private void StartReadyBuckets()
    {
        for (; _started < _steps.Count && _waiting[_started] == 0; _started++)
        {
            var step = _steps[_started];
            if (step.Direct is int d)
            {
                _pending[_started] = _comm.StartAllReduceSum(_gradientOf(_params[d]));
                continue;
            }
            CopySlots(_started, intoBucket: true);
            _pending[_started] = _comm.StartAllReduceSum(_buffers[_started]!);
        }
    }

    private void Unpack(int b)
    {
        if (_steps[b].Direct is null) CopySlots(b, intoBucket: false);
    }

    /// <summary>Copies packed bucket <paramref name="b"/>'s gradients into its buffer, or the buffer's sums back.</summary>
    private void CopySlots(int b, bool intoBucket)
    {
        var buffer = Buffer(b);
        var be = Backend.Of(buffer);
        foreach (var slot in _steps[b].Packed)
            using (var view = buffer.Slice(slot.Start, slot.Count))
            using (var flat = _gradientOf(_params[slot.Tensor]).Reshape(new Shape(slot.Count), track: false))
            {
                if (intoBucket) be.Copy(flat, view);
                else be.Copy(view, flat);
            }
    }

    /// <summary>Bucket <paramref name="b"/>'s buffer, of exactly its packed length (the collective covers the whole
    /// tensor), on the backend of its first gradient.</summary>
    private Tensor Buffer(int b)
    {
        if (_buffers[b] is { } buffer) return buffer;
        var be = Backend.Of(_gradientOf(_params[_steps[b].Packed[0].Tensor]));
        return _buffers[b] = TensorScope.Unscoped(() => be.Empty(new Shape(_steps[b].PackedElements), DType.F32));
    }

    /// <summary>Frees the buffers, unless a collective may still write into one (a step that failed mid-flight).</summary>
    public void Dispose()
    {
        if (_pending.Any(p => p is not null)) return;
        for (int b = 0; b < _buffers.Length; b++)
        {
            _buffers[b]?.Dispose();
            _buffers[b] = null;
        }
    }
}
