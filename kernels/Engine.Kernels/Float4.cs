using System.Runtime.CompilerServices;

namespace Engine.Kernels;

/// <summary>Four floats: one 16-byte shared-memory access (ld.shared.v4.f32) through a <c>Cast&lt;Float4&gt;()</c> view
/// of 16-byte aligned memory, and a named group of four registers. ILGPU keeps neither local arrays nor loops with a
/// constant trip count in registers (it does not unroll them: the PTX goes through .local memory), so register tiles
/// are built from these structs with every step written out.</summary>
internal struct Float4
{
    public float X, Y, Z, W;

    public Float4(float x, float y, float z, float w)
    {
        X = x;
        Y = y;
        Z = z;
        W = w;
    }

    /// <summary>acc + (a·k0, a·k1, a·k2, a·k3): four dot products of length 4, sixteen FMAs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Float4 Dots(Float4 acc, Float4 a, Float4 k0, Float4 k1, Float4 k2, Float4 k3) => new(
        acc.X + a.X * k0.X + a.Y * k0.Y + a.Z * k0.Z + a.W * k0.W,
        acc.Y + a.X * k1.X + a.Y * k1.Y + a.Z * k1.Z + a.W * k1.W,
        acc.Z + a.X * k2.X + a.Y * k2.Y + a.Z * k2.Z + a.W * k2.W,
        acc.W + a.X * k3.X + a.Y * k3.Y + a.Z * k3.Z + a.W * k3.W);

    /// <summary>acc + p.X·v0 + p.Y·v1 + p.Z·v2 + p.W·v3: a row of four weights times four rows, sixteen FMAs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Float4 Mix(Float4 acc, Float4 p, Float4 v0, Float4 v1, Float4 v2, Float4 v3) => new(
        acc.X + p.X * v0.X + p.Y * v1.X + p.Z * v2.X + p.W * v3.X,
        acc.Y + p.X * v0.Y + p.Y * v1.Y + p.Z * v2.Y + p.W * v3.Y,
        acc.Z + p.X * v0.Z + p.Y * v1.Z + p.Z * v2.Z + p.W * v3.Z,
        acc.W + p.X * v0.W + p.Y * v1.W + p.Z * v2.W + p.W * v3.W);

    /// <summary>acc + a·v.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Float4 Axpy(Float4 acc, float a, Float4 v) => new(acc.X + a * v.X, acc.Y + a * v.Y, acc.Z + a * v.Z, acc.W + a * v.W);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Float4 Scale(Float4 v, float a) => new(v.X * a, v.Y * a, v.Z * a, v.W * a);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Max(Float4 v) => MathF.Max(MathF.Max(v.X, v.Y), MathF.Max(v.Z, v.W));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Float4 v) => v.X + v.Y + v.Z + v.W;
}

/// <summary>A 4×4 register tile: rows R0..R3, columns X..W.</summary>
internal struct Tile4
{
    public Float4 R0, R1, R2, R3;

    /// <summary>Row i += a_i·b for a = (a.X, a.Y, a.Z, a.W): a rank-one update (an outer product), sixteen FMAs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Outer(Float4 a, Float4 b)
    {
        R0 = Float4.Axpy(R0, a.X, b);
        R1 = Float4.Axpy(R1, a.Y, b);
        R2 = Float4.Axpy(R2, a.Z, b);
        R3 = Float4.Axpy(R3, a.W, b);
    }

    /// <summary>Row i += a_i·k (four dot products each) for rows a0..a3 of one operand and k0..k3 of the other.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Dots(Float4 a0, Float4 a1, Float4 a2, Float4 a3, Float4 k0, Float4 k1, Float4 k2, Float4 k3)
    {
        R0 = Float4.Dots(R0, a0, k0, k1, k2, k3);
        R1 = Float4.Dots(R1, a1, k0, k1, k2, k3);
        R2 = Float4.Dots(R2, a2, k0, k1, k2, k3);
        R3 = Float4.Dots(R3, a3, k0, k1, k2, k3);
    }

    /// <summary>Row i += Σ_k p_i[k]·v_k for weight rows p0..p3 and value rows v0..v3.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Mix(Float4 p0, Float4 p1, Float4 p2, Float4 p3, Float4 v0, Float4 v1, Float4 v2, Float4 v3)
    {
        R0 = Float4.Mix(R0, p0, v0, v1, v2, v3);
        R1 = Float4.Mix(R1, p1, v0, v1, v2, v3);
        R2 = Float4.Mix(R2, p2, v0, v1, v2, v3);
        R3 = Float4.Mix(R3, p3, v0, v1, v2, v3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void ScaleRows(Float4 a)
    {
        R0 = Float4.Scale(R0, a.X);
        R1 = Float4.Scale(R1, a.Y);
        R2 = Float4.Scale(R2, a.Z);
        R3 = Float4.Scale(R3, a.W);
    }
}
