namespace Engine.Kernels;

/// <summary>The stateless (seed, index) → [0, 1) hash behind dropout masks. The arithmetic is a copy of
/// <c>Engine.Tensors.Rng.HashUniform</c> (this project may not reference Engine); a test checks they agree bit for bit,
/// which is what makes a GPU dropout mask equal to the CPU one.</summary>
internal static class DropoutHash
{
    public static float Uniform(ulong seed, long index)
    {
        ulong z = seed ^ ((ulong)index * 0xD1B54A32D192ED03UL);
        z = (z ^ (z >> 32)) * 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 29)) * 0xBF58476D1CE4E5B9UL;
        z ^= z >> 32;
        return (uint)(z >> 40) * (1.0f / (1 << 24));
    }
}
