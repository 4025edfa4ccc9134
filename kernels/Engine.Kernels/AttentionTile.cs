using System.Runtime.CompilerServices;
using ILGPU;

namespace Engine.Kernels;

/// <summary>How many head dimensions a tiled attention kernel covers, fixed at compile time: each thread owns
/// <see cref="ColumnGroups"/> groups of 4 output columns, 64 columns per group across the 16 threads of a row.</summary>
internal interface IHeadDimTile
{
    int ColumnGroups { get; }
}

/// <summary>Head dimensions up to 64.</summary>
internal readonly struct HeadDim64 : IHeadDimTile
{
    public int ColumnGroups => 1;
}

/// <summary>Head dimensions up to 128.</summary>
internal readonly struct HeadDim128 : IHeadDimTile
{
    public int ColumnGroups => 2;
}

/// <summary>Tile sizes and shared-memory layout of the tiled attention kernels, and the tile loader they share.
/// A group of 256 threads is a 16×16 grid (tx = thread &amp; 15, ty = thread &gt;&gt; 4). Q, K, V and dO tiles are
/// held row-major in shared memory as fp32, zero-padded to a multiple of 4 columns and with a row stride of
/// <see cref="Stride"/> floats; stride/4 is odd, so the 16-byte reads of 8 consecutive rows fall on distinct banks.</summary>
internal static class AttentionTile
{
    /// <summary>Query rows per tile (Br).</summary>
    public const int Rows = 64;
    /// <summary>Keys per tile (Bc).</summary>
    public const int Keys = 64;
    public const int Threads = 256;
    public const int MaxHeadDim = 128;
    /// <summary>Row stride in floats of a score tile [Rows, Keys] in shared memory.</summary>
    public const int ScoreStride = Keys + 4;

    /// <summary>Row stride in floats of a [rows, Dh] tile in shared memory.</summary>
    public static int Stride(int headDim) => (headDim + 7) / 8 * 8 + 4;

    /// <summary>Dynamic shared memory of the forward kernel: Q, one K-or-V tile, P.</summary>
    public static int ForwardFloats(int headDim) => (Rows + Keys) * Stride(headDim) + Rows * ScoreStride;

    /// <summary>Dynamic shared memory of the dQ kernel: Q, dO, K, V, dS, lse, delta.</summary>
    public static int QueryGradFloats(int headDim) => 2 * (Rows + Keys) * Stride(headDim) + Rows * ScoreStride + 2 * Rows;

    /// <summary>Dynamic shared memory of the dK/dV kernel: K, V, Q, dO, P, dS, lse, delta.</summary>
    public static int KeyValueGradFloats(int headDim) => 2 * (Rows + Keys) * Stride(headDim) + 2 * Rows * ScoreStride + 2 * Rows;

    /// <summary>Copies one [64, Dh] tile to shared memory: tile row r is source element <paramref name="origin"/> +
    /// r·<paramref name="rowStride"/> onward; rows ≥ <paramref name="valid"/> and columns ≥ Dh become zeros (so padded
    /// rows and columns add nothing to any product). Each thread moves 4 consecutive columns of a row per step and
    /// issues four rows' loads before storing any, so 16 loads are in flight. No barrier inside.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Load<I>(ArrayView<byte> src, long origin, long rowStride, int valid, int dh, ArrayView<Float4> dst, int s4)
        where I : struct, IElement
    {
        int quads = (dh + 3) >> 2;
        int perPass = Threads / quads;
        int r = Group.IdxX / quads;
        int d = (Group.IdxX - r * quads) * 4;
        if (r >= perPass) return;
        int at = r * s4 + (d >> 2), step = perPass * s4;
        for (; r < Rows; r += 4 * perPass, at += 4 * step)
        {
            long g = origin + r * rowStride + d;
            long gs = perPass * rowStride;
            var a = Quad<I>(src, g, r < valid, d, dh);
            var b = Quad<I>(src, g + gs, r + perPass < valid, d, dh);
            var c = Quad<I>(src, g + 2 * gs, r + 2 * perPass < valid, d, dh);
            var e = Quad<I>(src, g + 3 * gs, r + 3 * perPass < valid, d, dh);
            dst[at] = a;
            if (r + perPass < Rows) dst[at + step] = b;
            if (r + 2 * perPass < Rows) dst[at + 2 * step] = c;
            if (r + 3 * perPass < Rows) dst[at + 3 * step] = e;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Float4 Quad<I>(ArrayView<byte> src, long at, bool row, int d, int dh) where I : struct, IElement => new(
        row && d < dh ? default(I).Load(src, at) : 0f,
        row && d + 1 < dh ? default(I).Load(src, at + 1) : 0f,
        row && d + 2 < dh ? default(I).Load(src, at + 2) : 0f,
        row && d + 3 < dh ? default(I).Load(src, at + 3) : 0f);

    /// <summary>Stores columns d..d+3 (those below Dh) of one output row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreQuad<O>(ArrayView<byte> dst, long at, int d, int dh, Float4 v) where O : struct, IElement
    {
        if (d < dh) default(O).Store(dst, at, v.X);
        if (d + 1 < dh) default(O).Store(dst, at + 1, v.Y);
        if (d + 2 < dh) default(O).Store(dst, at + 2, v.Z);
        if (d + 3 < dh) default(O).Store(dst, at + 3, v.W);
    }

    /// <summary>S += A·Bᵀ over the head dimension for this thread's 4×4 block: rows <paramref name="a"/>.. of tile
    /// <paramref name="x"/> (4 consecutive rows) against rows <paramref name="b"/>, b+16, b+32, b+48 of tile
    /// <paramref name="y"/> (offsets in Float4 units, rows <paramref name="s4"/> apart). Per step of 4 columns: 8
    /// ld.shared.v4 and 64 FMAs; the 16 threads of a row read 16 different y rows, conflict-free because s4 is odd.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Scores(ref Tile4 acc, ArrayView<Float4> x, int a, ArrayView<Float4> y, int b, int s4, int quads)
    {
        var a0 = x.SubView(a);
        var a1 = x.SubView(a + s4);
        var a2 = x.SubView(a + 2 * s4);
        var a3 = x.SubView(a + 3 * s4);
        var b0 = y.SubView(b);
        var b1 = y.SubView(b + 16 * s4);
        var b2 = y.SubView(b + 32 * s4);
        var b3 = y.SubView(b + 48 * s4);
        for (int d = 0; d < quads; d++) acc.Dots(a0[d], a1[d], a2[d], a3[d], b0[d], b1[d], b2[d], b3[d]);
    }

    /// <summary>O += W·V for this thread's rows and column quads: W is a [Rows, Keys] score tile (rows
    /// <paramref name="w"/>.. of <paramref name="scores"/>, 4 consecutive, Float4 offsets), V a [Keys, Dh] tile whose
    /// column quads <paramref name="c0"/> (and <paramref name="c1"/> when <paramref name="groups"/> is 2) this thread
    /// owns; keys from 4·<paramref name="quads"/> on are skipped (their weights are zero). Per 4 keys: 4 + 4·groups
    /// ld.shared.v4 and 64·groups FMAs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Mix(ref Tile4 o0, ref Tile4 o1, int groups, ArrayView<Float4> scores, int w, ArrayView<Float4> values,
                           int s4, int c0, int c1, int quads)
    {
        const int ws = ScoreStride / 4;
        var w0 = scores.SubView(w);
        var w1 = scores.SubView(w + ws);
        var w2 = scores.SubView(w + 2 * ws);
        var w3 = scores.SubView(w + 3 * ws);
        var v0 = values.SubView(c0);
        var v1 = values.SubView(c1);
        for (int j = 0; j < quads; j++)
        {
            var p0 = w0[j];
            var p1 = w1[j];
            var p2 = w2[j];
            var p3 = w3[j];
            int r = 4 * j * s4;
            o0.Mix(p0, p1, p2, p3, v0[r], v0[r + s4], v0[r + 2 * s4], v0[r + 3 * s4]);
            if (groups > 1) o1.Mix(p0, p1, p2, p3, v1[r], v1[r + s4], v1[r + 2 * s4], v1[r + 3 * s4]);
        }
    }

    /// <summary>Writes a thread's four scores of one row (keys tx, tx+16, tx+32, tx+48) to a [Rows, Keys] tile.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreScores(ArrayView<float> tile, int at, Float4 p)
    {
        tile[at] = p.X;
        tile[at + 16] = p.Y;
        tile[at + 32] = p.Z;
        tile[at + 48] = p.W;
    }

    /// <summary>Stores one row of a thread's output block: column quads at <paramref name="d"/> and d + 64.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreRow<O>(ArrayView<byte> dst, long at, bool valid, int d, int dh, int groups, Float4 a, Float4 b)
        where O : struct, IElement
    {
        if (!valid) return;
        StoreQuad<O>(dst, at, d, dh, a);
        if (groups > 1) StoreQuad<O>(dst, at + 64, d + 64, dh, b);
    }

    /// <summary>Max over the 16 threads of a tile row (lanes 0–15 or 16–31 of a warp, which share ty).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float RowMax(float v)
    {
        v = MathF.Max(v, Warp.ShuffleXor(v, 8));
        v = MathF.Max(v, Warp.ShuffleXor(v, 4));
        v = MathF.Max(v, Warp.ShuffleXor(v, 2));
        return MathF.Max(v, Warp.ShuffleXor(v, 1));
    }

    /// <summary>Sum over the 16 threads of a tile row, in a fixed order (deterministic).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float RowSum(float v)
    {
        v += Warp.ShuffleXor(v, 8);
        v += Warp.ShuffleXor(v, 4);
        v += Warp.ShuffleXor(v, 2);
        return v + Warp.ShuffleXor(v, 1);
    }
}
