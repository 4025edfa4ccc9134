using Engine.Kernels;

namespace Engine.Tests.Cuda;

/// <summary><see cref="Ldmatrix"/>'s warp-shuffle emulation (what ILGPU's CPU accelerator runs in place of ldmatrix)
/// against the PTX ISA's layout, written out here from the ISA text ("ldmatrix ... .x4": threads 0–7, 8–15, 16–23,
/// 24–31 give the row addresses of matrices 0–3; for each matrix, thread i holds row i/4, elements 2·(i%4) and
/// 2·(i%4)+1; with .trans, element (row, column) is read as (column, row)). Every 16-bit value in the table is distinct
/// and the 32 lanes address 32 distinct rows in a shuffled order, so any mix-up of lane, matrix, row or half shows.</summary>
[Collection(IlgpuCpuCollection.Name), Trait("Category", "IlgpuCpu")]
public sealed class LdmatrixEmulationTests(IlgpuCpuFixture fx)
{
    private const int TableRows = 64; // 8 bf16 = 4 words per row

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Emulated_ldmatrix_x4_follows_the_isa_layout(bool transpose)
    {
        var halves = Enumerable.Range(0, TableRows * 8).Select(i => (ushort)(i * 97 + 13)).ToArray(); // distinct: 97 is odd
        var rng = new Random(transpose ? 7 : 3);
        var rows = Enumerable.Range(0, TableRows).OrderBy(_ => rng.Next()).Take(32).ToArray();
        var got = Run(halves, rows, transpose);

        ushort At(int lane, int element) => halves[8 * rows[lane] + element]; // element of the row lane `lane` addresses
        for (int lane = 0; lane < 32; lane++)
            for (int m = 0; m < 4; m++)
            {
                int row = lane / 4, pair = 2 * (lane % 4);
                // Plain: row `row` of matrix m, elements pair and pair+1. Trans: column `row` of rows pair and pair+1.
                uint want = transpose
                    ? At(8 * m + pair, row) | ((uint)At(8 * m + pair + 1, row) << 16)
                    : At(8 * m + row, pair) | ((uint)At(8 * m + row, pair + 1) << 16);
                Assert.True(want == got[4 * lane + m], $"lane {lane} register {m}: {got[4 * lane + m]:X8}, ISA layout gives {want:X8} (rows {string.Join(",", rows)})");
            }
    }

    private uint[] Run(ushort[] halves, int[] rows, bool transpose) =>
        Engine.Diagnostics.SelfTestCases.LoadMatrix(fx.Device.Accelerator, halves, rows, transpose);
}
