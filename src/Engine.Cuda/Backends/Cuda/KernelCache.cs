using System.Reflection;
using ILGPU.Runtime;

namespace Engine.Backends.Cuda;

/// <summary>Loads generic kernels on first use for the element types a call needs, and keeps their launchers.
/// Kernels take every tensor as ArrayView&lt;byte&gt;, so all instantiations of one kernel share a launcher delegate
/// type and the element types can be picked at run time from the tensors' dtypes.</summary>
internal sealed class KernelCache
{
    private readonly Accelerator _accelerator;
    private readonly Dictionary<Key, Delegate> _launchers = new();
    private readonly object _gate = new();

    public KernelCache(Accelerator accelerator) => _accelerator = accelerator;

    private readonly record struct Key(MethodInfo Method, Type? T0, Type? T1, Type? T2, Type? T3, Type? T4);

    /// <summary>The launcher (stream, config, kernel arguments...) of <paramref name="kernel"/> instantiated with the given
    /// type arguments (none for a non-generic kernel).</summary>
    public TDelegate Get<TDelegate>(MethodInfo kernel, Type? t0 = null, Type? t1 = null, Type? t2 = null, Type? t3 = null, Type? t4 = null)
        where TDelegate : Delegate => Get<TDelegate>(kernel, 0, t0, t1, t2, t3, t4);

    /// <summary>As <see cref="Get{TDelegate}(MethodInfo, Type?, Type?, Type?, Type?, Type?)"/> for a kernel launched with
    /// up to <paramref name="maxDynamicSharedBytes"/> of dynamic shared memory: above 48 KB a CUDA kernel must opt in once,
    /// when it is loaded, or its launches fail.</summary>
    public TDelegate Get<TDelegate>(MethodInfo kernel, int maxDynamicSharedBytes, Type? t0 = null, Type? t1 = null, Type? t2 = null,
                                    Type? t3 = null, Type? t4 = null)
        where TDelegate : Delegate
    {
        var key = new Key(kernel, t0, t1, t2, t3, t4);
        lock (_gate)
        {
            if (_launchers.TryGetValue(key, out var d)) return (TDelegate)d;
            var types = new[] { t0, t1, t2, t3, t4 }.TakeWhile(t => t is not null).Cast<Type>().ToArray();
            var method = types.Length == 0 ? kernel : kernel.MakeGenericMethod(types);
            var loaded = _accelerator.LoadKernel(method);
            Native.KernelSharedMemory.AllowDynamic(loaded, maxDynamicSharedBytes);
            var launcher = loaded.CreateLauncherDelegate<TDelegate>();
            _launchers[key] = launcher;
            return launcher;
        }
    }

    public static MethodInfo Method(Type kernels, string name) =>
        kernels.GetMethod(name, BindingFlags.Public | BindingFlags.Static) ?? throw new MissingMethodException(kernels.Name, name);
}
