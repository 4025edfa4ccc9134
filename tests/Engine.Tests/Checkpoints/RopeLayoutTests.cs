using Engine.Checkpoints;
using Engine.Tensors;

namespace Engine.Tests.Checkpoints;

public class RopeLayoutTests
{
    [Fact]
    public void HalfToInterleavedMatchesLlamaCppPermuteByHand()
    {
        // Two heads of size 4, two columns; row r holds (10r, 10r+1).
        // Per head llama.cpp's permute takes rows [0,1,2,3] to [0,2,1,3] (new 2i <- i, new 2i+1 <- i + d/2).
        var w = Enumerable.Range(0, 8).SelectMany(r => new float[] { 10 * r, 10 * r + 1 }).ToArray();
        RopeLayout.HalfToInterleaved<float>(w, rows: 8, cols: 2, nHeads: 2);
        var rows = new[] { 0, 2, 1, 3, 4, 6, 5, 7 };
        Assert.Equal(rows.SelectMany(r => new float[] { 10 * r, 10 * r + 1 }).ToArray(), w);
    }

    [Fact]
    public void HeadSizeEightByHand()
    {
        var w = Enumerable.Range(0, 8).Select(r => (float)r).ToArray();
        RopeLayout.HalfToInterleaved<float>(w, 8, 1, 1);
        Assert.Equal(new float[] { 0, 4, 1, 5, 2, 6, 3, 7 }, w);
        RopeLayout.InterleavedToHalf<float>(w, 8, 1, 1);
        Assert.Equal(new float[] { 0, 1, 2, 3, 4, 5, 6, 7 }, w);
        var v = new float[] { 0, 1, 2, 3, 4, 5, 6, 7 };
        RopeLayout.InterleavedToHalf<float>(v, 8, 1, 1); // new i <- old 2i, new i + 4 <- old 2i + 1
        Assert.Equal(new float[] { 0, 2, 4, 6, 1, 3, 5, 7 }, v);
    }

    [Fact]
    public void RoundTripsAndWorksOnHalfWords()
    {
        var rng = new Rng(9);
        var w = new float[64 * 3 * 16];
        rng.FillNormal(w, 0, 1);
        var copy = (float[])w.Clone();
        RopeLayout.HalfToInterleaved<float>(w, 64 * 3, 16, 3);
        Assert.NotEqual(copy, w);
        RopeLayout.InterleavedToHalf<float>(w, 64 * 3, 16, 3);
        Assert.Equal(copy, w);

        var h = new ushort[] { 1, 2, 3, 4 };
        RopeLayout.HalfToInterleaved<ushort>(h, 4, 1, 1);
        Assert.Equal(new ushort[] { 1, 3, 2, 4 }, h);
    }

    [Fact]
    public void RejectsBadGeometry()
    {
        Assert.Throws<ArgumentException>(() => RopeLayout.HalfToInterleaved<float>(new float[12], 6, 2, 4));
        Assert.Throws<ArgumentException>(() => RopeLayout.HalfToInterleaved<float>(new float[6], 6, 1, 2)); // head size 3
        Assert.Throws<ArgumentException>(() => RopeLayout.HalfToInterleaved<float>(new float[7], 4, 2, 1));
    }
}
