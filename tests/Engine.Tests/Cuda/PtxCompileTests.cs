using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using Engine.Backends.Cuda;
using Engine.Kernels;

namespace Engine.Tests.Cuda;

/// <summary>Compiles every kernel to PTX for the H200 (SM_90, ISA 8.8) with the context options the backend uses,
/// without a GPU. The CPU accelerator runs a kernel's IL as .NET code, so it accepts constructs ILGPU's PTX backend
/// rejects (BitConverter, MathF without the Algorithms library, exceptions...); this catches those here instead of on
/// the GPU machine.</summary>
public sealed class PtxCompileTests
{
    private static readonly Type[] Elements = { typeof(F32Elem), typeof(BF16Elem), typeof(F16Elem) };

    [Fact]
    public void Every_kernel_instantiation_compiles_to_ptx_for_sm90()
    {
        using var context = Context.Create(b => IlgpuDevice.Configure(b.Cuda()));
        using var backend = new PTXBackend(context, CudaArchitecture.SM_90, CudaInstructionSet.ISA_88, null!);
        var failures = new List<string>();
        int compiled = 0;
        foreach (var kernel in KernelMethods())
        {
            foreach (var method in Instantiations(kernel))
            {
                try
                {
                    var ck = (PTXCompiledKernel)backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(method), new KernelSpecialization());
                    Assert.Contains(".entry", ck.PTXAssembly);
                    compiled++;
                }
                catch (Exception e)
                {
                    failures.Add($"{Describe(method)}: {Innermost(e).Message}");
                }
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.True(compiled >= 60, $"only {compiled} kernel instantiations compiled");
    }

    [Fact]
    public void Every_kernel_is_marked_and_found()
    {
        var names = KernelMethods().Select(m => $"{m.DeclaringType!.Name}.{m.Name}").ToHashSet();
        foreach (var expected in new[] { "AttentionKernels.Forward", "AttentionKernels.BackwardKeyValue", "CrossEntropyKernels.RowStats",
                                         "AdamWKernels.Step", "AdamWKernels.StepMany", "ReductionKernels.PartialMany", "ReductionKernels.FinishInto", "GemmKernels.Gemm", "RmsNormKernels.WeightGradPartial", "RmsNormKernels.WeightGradReduce", "ReductionKernels.Finish" })
            Assert.Contains(expected, names);
    }

    internal static IEnumerable<MethodInfo> KernelMethods() =>
        typeof(GpuKernelAttribute).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Static))
            .Where(m => m.GetCustomAttribute<GpuKernelAttribute>() is not null)
            .OrderBy(m => m.DeclaringType!.Name).ThenBy(m => m.Name);

    /// <summary>Each element type used uniformly for all tensors, plus one mixed assignment (first tensor f32, the
    /// rest bf16, the shape of gradient accumulation); every implementation of an op parameter (add/mul, ...).</summary>
    private static IEnumerable<MethodInfo> Instantiations(MethodInfo kernel)
    {
        if (!kernel.IsGenericMethodDefinition) { yield return kernel; yield break; }
        var parameters = kernel.GetGenericArguments();
        var assignments = Elements.Select(e => parameters.Select(_ => e).ToArray()).ToList();
        assignments.Add(parameters.Select((_, i) => i == 0 ? typeof(F32Elem) : typeof(BF16Elem)).ToArray());
        foreach (var elems in assignments)
        {
            foreach (var ops in OpChoices(parameters))
            {
                var args = parameters.Select((p, i) => IsElement(p) ? elems[i] : ops[i]!).ToArray();
                yield return kernel.MakeGenericMethod(args);
            }
        }
    }

    private static bool IsElement(Type genericParameter) => genericParameter.GetGenericParameterConstraints().Contains(typeof(IElement));

    private static IEnumerable<Type?[]> OpChoices(Type[] parameters)
    {
        IEnumerable<Type?[]> acc = new[] { new Type?[parameters.Length] };
        for (int i = 0; i < parameters.Length; i++)
        {
            if (IsElement(parameters[i])) continue;
            var iface = parameters[i].GetGenericParameterConstraints().Single(c => c.IsInterface);
            var impls = typeof(GpuKernelAttribute).Assembly.GetTypes().Where(t => t.IsValueType && iface.IsAssignableFrom(t)).ToArray();
            int at = i;
            acc = acc.SelectMany(a => impls.Select(t => { var c = (Type?[])a.Clone(); c[at] = t; return c; })).ToList();
        }
        return acc;
    }

    private static string Describe(MethodInfo m) =>
        $"{m.DeclaringType!.Name}.{m.Name}<{string.Join(", ", m.GetGenericArguments().Select(t => t.Name))}>";

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null) e = e.InnerException;
        return e;
    }
}
