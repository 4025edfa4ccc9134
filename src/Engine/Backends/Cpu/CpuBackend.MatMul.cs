using Engine.Tensors;

namespace Engine.Backends.Cpu;

internal sealed partial class CpuBackend
{
    public void MatMul(Tensor a, bool transA, Tensor b, bool transB, Tensor c, float alpha = 1f, float beta = 0f)
    {
        var g = MatMulGeometry.Of(a, transA, b, transB, c);
        var (aa, ao) = Raw(a);
        var (ba, bo) = Raw(b);
        var (ca, co) = Raw(c);
        for (int i = 0; i < g.Batch; i++)
        {
            CpuGemm.Sgemm(transA, transB, g.M, g.N, g.K, alpha,
                aa, ao + (int)(i * g.StrideA), transA ? g.M : g.K,
                ba, bo + (int)(i * g.StrideB), transB ? g.K : g.N,
                beta, ca, co + (int)(i * g.StrideC), g.N);
        }
    }
}
