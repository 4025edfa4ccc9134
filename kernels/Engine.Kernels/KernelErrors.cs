namespace Engine.Kernels;

/// <summary>Bits a kernel sets (atomic OR into a one-int error buffer) when its input is invalid, since a kernel
/// cannot throw. The host checks the word when it synchronises and turns the bits into an exception.</summary>
internal static class KernelErrors
{
    public const int TokenIdOutOfRange = 1;
    public const int PositionOutOfRange = 2;
    public const int TargetOutOfRange = 4;
}
