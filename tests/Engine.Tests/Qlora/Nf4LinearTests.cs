using Engine.Checkpoints;
using Engine.Autograd;
using Engine.Backends.Cpu;
using Engine.Nn;
using Engine.Quant;
using Engine.Tensors;
using Engine.Tests.Support;

namespace Engine.Tests.Qlora;

/// <summary>The frozen NF4 layer on the CPU backend: its product and input gradient against a dense matmul on the
/// dequantized weight (bit for bit: the CPU path runs the same dot products and row updates) and against a float64
/// reference, and the memory it takes while running.</summary>
public class Nf4LinearTests
{
    private static Nf4Weight RandomWeight(int rows, int cols, bool dq, ulong seed = 5)
    {
        var w = new float[rows * cols];
        new Rng(seed).FillNormal(w, 0, 0.05);
        return Nf4Weight.Quantize(w, rows, cols, dq);
    }

    private static float[] Dequantized(Nf4Weight w)
    {
        var d = new float[w.Count];
        w.Dequantize(d);
        return d;
    }

    [Theory]
    [InlineData(24, 100, true, 1 << 18)]   // blocks of 64 cross rows of 100
    [InlineData(24, 100, false, 256)]      // chunks of 2 rows: chunking must not change a bit
    [InlineData(33, 37, true, 111)]        // odd element count: the last byte holds one code
    public void Forward_and_input_gradient_equal_a_dense_matmul_on_the_dequantized_weight(int rows, int cols, bool dq, int chunk)
    {
        int saved = CpuBackend.Nf4ChunkElements;
        CpuBackend.Nf4ChunkElements = chunk;
        try
        {
            var host = RandomWeight(rows, cols, dq);
            var wd = Dequantized(host);
            using var layer = Nf4Linear.Upload(CpuBackend.Instance, host);
            using var dense = TensorScope.Unscoped(() => CpuBackend.Instance.FromFloats(wd, new Shape(rows, cols), DType.F32));
            var rng = new Rng(11);
            var xv = new float[2 * 3 * cols];
            rng.FillNormal(xv, 0, 1);
            var rv = new float[2 * 3 * rows];
            rng.FillNormal(rv, 0, 1);

            var (yq, gq) = Run(x => layer.Forward(x, ForwardContext.Inference), xv, rv, cols, rows);
            var (yd, gd) = Run(x => Ops.Linear(x, dense), xv, rv, cols, rows);
            Assert.Equal(yd, yq);
            Assert.Equal(gd, gq);

            // float64: y = x·Wᵀ, dx = r·W with W the dequantized weight.
            for (int n = 0; n < 6; n++)
            {
                for (int o = 0; o < rows; o++)
                {
                    double s = 0;
                    for (int i = 0; i < cols; i++) s += (double)xv[n * cols + i] * wd[o * cols + i];
                    Assert.True(Math.Abs(yq[n * rows + o] - s) <= 1e-5 * (1 + Math.Abs(s)), $"y[{n}, {o}] = {yq[n * rows + o]}, float64 {s}");
                }
                for (int i = 0; i < cols; i++)
                {
                    double s = 0;
                    for (int o = 0; o < rows; o++) s += (double)rv[n * rows + o] * wd[o * cols + i];
                    Assert.True(Math.Abs(gq[n * cols + i] - s) <= 1e-5 * (1 + Math.Abs(s)), $"dx[{n}, {i}] = {gq[n * cols + i]}, float64 {s}");
                }
            }
        }
        finally { CpuBackend.Nf4ChunkElements = saved; }
    }

    /// <summary>y and dL/dx for L = Σ r·f(x), x [2, 3, cols].</summary>
    private static (float[] Y, float[] Grad) Run(Func<Tensor, Tensor> f, float[] xv, float[] rv, int cols, int rows)
    {
        var be = CpuBackend.Instance;
        using var x = TensorScope.Unscoped(() => be.FromFloats(xv, new Shape(2, 3, cols), DType.F32));
        x.RequiresGrad = true;
        float[] y;
        using (var scope = new TensorScope())
        {
            var yt = f(x);
            Assert.Equal(new Shape(2, 3, rows), yt.Shape);
            y = GradCheck.Values(yt);
            var r = be.FromFloats(rv, yt.Shape, DType.F32);
            var loss = scope.Keep(Ops.Sum(Ops.Mul(yt, r)));
            using (loss) loss.Backward();
        }
        var g = GradCheck.Values(x.Grad!);
        x.Grad!.Dispose();
        return (y, g);
    }

    [Fact]
    public void The_weight_never_gets_a_gradient_and_an_input_without_one_records_nothing()
    {
        using var layer = Nf4Linear.Upload(CpuBackend.Instance, RandomWeight(8, 64, true));
        using var scope = new TensorScope();
        var x = CpuBackend.Instance.FromFloats(new float[64], new Shape(1, 64), DType.F32);
        var y = layer.Forward(x, ForwardContext.Inference);
        Assert.Null(y.GradFn);
        Assert.False(layer.Weight.Packed.RequiresGrad);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Backend_dequantization_is_the_quantizers_bit_for_bit(bool dq)
    {
        var host = RandomWeight(9, 100, dq);
        using var layer = Nf4Linear.Upload(CpuBackend.Instance, host);
        using var f32 = layer.Dequantize(DType.F32);
        Assert.Equal(Dequantized(host), GradCheck.Values(f32));
        using var bf16 = layer.Dequantize(DType.BF16);
        var expect = new ushort[host.Count];
        host.DequantizeBf16(expect);
        var got = new ushort[host.Count];
        CpuBackend.Instance.ToBytes(bf16, System.Runtime.InteropServices.MemoryMarshal.AsBytes(got.AsSpan()));
        Assert.Equal(expect, got);
        using var part = TensorScope.Unscoped(() => CpuBackend.Instance.Empty(new Shape(151), DType.F32));
        CpuBackend.Instance.Nf4Dequantize(layer.Weight, 301, part);
        Assert.Equal(Dequantized(host).AsSpan(301, 151).ToArray(), GradCheck.Values(part));
        // Download gives back exactly what was uploaded.
        var back = layer.Download();
        Assert.Equal(host.Packed, back.Packed);
        Assert.Equal(host.ByteSize, back.ByteSize);
        Assert.Equal(host.ByteSize, layer.ByteSize);
        Assert.Equal(host.QuantStateJson(), back.QuantStateJson());
    }

    /// <summary>A 512×1024 weight is 2 MiB in fp32; the forward and backward may hold only the output and one chunk
    /// of dequantized rows (1 MiB) beyond the quantized data.</summary>
    [Fact]
    public void No_full_precision_copy_of_the_weight_exists_during_forward_or_backward()
    {
        var be = new CpuBackend();
        const int rows = 512, cols = 1024;
        using var layer = Nf4Linear.Upload(be, RandomWeight(rows, cols, true));
        long denseBytes = (long)rows * cols * 4, chunkBytes = (long)CpuBackend.Nf4ChunkElements * 4;
        Assert.True(chunkBytes < denseBytes);
        using var x = TensorScope.Unscoped(() => be.FromFloats(new float[4 * cols], new Shape(4, cols), DType.F32));
        x.RequiresGrad = true;
        long before = be.MemoryInUse.Current;
        be.ResetPeakMemory();
        using (var scope = new TensorScope())
        {
            var y = layer.Forward(x, ForwardContext.Inference);
            long forwardPeak = be.MemoryInUse.Peak - before;
            Assert.True(forwardPeak <= y.ByteLength + chunkBytes, $"forward peaked {forwardPeak} bytes above the start");
            var loss = scope.Keep(Ops.Sum(y));
            be.ResetPeakMemory();
            long beforeBackward = be.MemoryInUse.Current;
            using (loss) loss.Backward();
            long backwardPeak = be.MemoryInUse.Peak - beforeBackward;
            Assert.True(backwardPeak < denseBytes, $"backward peaked {backwardPeak} bytes above its start, a dense weight is {denseBytes}");
        }
        x.Grad?.Dispose();
        Assert.Equal(before, be.MemoryInUse.Current); // the scratch went back too
    }
}
