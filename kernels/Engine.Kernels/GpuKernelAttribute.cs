namespace Engine.Kernels;

/// <summary>Marks a method as a kernel entry point (explicitly grouped: launched with a grid and a group size).
/// Tests enumerate these to compile every kernel to PTX on machines without a GPU.</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class GpuKernelAttribute : Attribute
{
}
