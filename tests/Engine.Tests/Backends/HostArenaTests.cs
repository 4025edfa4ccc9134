using Engine.Backends;

namespace Engine.Tests.Backends;

/// <summary>The weight arena hands out aligned, disjoint pieces and fills a chunk's tail with a later piece that fits
/// (first fit) instead of abandoning it when one piece does not.</summary>
public unsafe class HostArenaTests
{
    [Fact]
    public void A_later_piece_fills_the_tail_a_larger_one_skipped()
    {
        using var arena = new HostArena();
        const long MiB = 1 << 20;
        byte* a = arena.Take(60 * MiB);       // first 64 MiB chunk, 4 MiB left
        byte* b = arena.Take(10 * MiB);       // does not fit: a second chunk
        byte* c = arena.Take(3 * MiB + 5);    // fits the first chunk's tail
        byte* d = arena.Take(1);              // the rest of the first tail (less than 1 MiB) still fits
        Assert.True(c == a + 60 * MiB, "the 3 MiB piece should follow the 60 MiB one in the first chunk");
        Assert.True(d == c + 3 * MiB + 64, "pieces are 64-byte aligned, one after another");
        Assert.False(b >= a && b < a + 64 * MiB, "the 10 MiB piece cannot be inside the first chunk");
        Assert.Equal(0, (long)a % 64);
        Assert.Equal(0, (long)b % 64);
        Assert.Equal(60 * MiB + 10 * MiB + 3 * MiB + 64 + 64, arena.Used);
        c[3 * MiB + 4] = 7;                   // the pieces are writable memory
        d[0] = 9;
        Assert.Equal(7, c[3 * MiB + 4]);
    }
}
