using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Engine.Distributed;

namespace Engine.Tests.Distributed;

/// <summary>The TCP rendezvous with ranks as threads on a free loopback port: the payload arrives byte for byte, the
/// ranks may start in any order, and every way a job can be misassembled ends in one clear error within the timeout.</summary>
public sealed class RendezvousTests
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(60);
    /// <summary>Slack for the timeout tests on a loaded CI machine.</summary>
    private static readonly TimeSpan Slack = TimeSpan.FromSeconds(15);
    /// <summary>How early a timer may fire: .NET's timers round to the scheduler's tick.</summary>
    private static readonly TimeSpan Early = TimeSpan.FromMilliseconds(100);

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("localhost")]
    [InlineData("::1")]
    public async Task Three_ranks_all_receive_rank_0s_payload_exactly(string addr)
    {
        if (addr == "::1" && !Ipv6LoopbackWorks()) Assert.Skip("this host has no IPv6 loopback");
        int port = FreePort();
        var payload = RandomBytes(128, seed: 14);
        var ranks = Enumerable.Range(0, 3)
            .Select(r => Rank(() => TcpRendezvous.Exchange(Env(r, 3, addr, port), r == 0 ? payload : [], 128, Long)))
            .ToArray();
        foreach (var r in ranks) Assert.Equal(payload, await r);
    }

    [Fact]
    public async Task Rank_0_may_start_after_the_others()
    {
        int port = FreePort();
        var payload = RandomBytes(128, seed: 7);
        var others = new[] { 1, 2 }.Select(r => Rank(() => TcpRendezvous.Exchange(Env(r, 3, "127.0.0.1", port), [], 128, Long))).ToArray();
        Thread.Sleep(1500); // the others are retrying against a closed port by now
        Assert.All(others, t => Assert.False(t.IsCompleted));
        Assert.Equal(payload, TcpRendezvous.Exchange(Env(0, 3, "127.0.0.1", port), payload, 128, Long));
        foreach (var r in others) Assert.Equal(payload, await r);
    }

    [Fact]
    public void World_size_1_needs_no_network()
    {
        var payload = RandomBytes(128, seed: 1);
        var got = TcpRendezvous.Exchange(new DistributedEnvironment(0, 1, 0, DistributedLauncher.Torchrun), payload, 128, TimeSpan.FromSeconds(1));
        Assert.Equal(payload, got);
        Assert.NotSame(payload, got);
    }

    [Fact]
    public async Task Missing_ranks_time_out_naming_them_on_rank_0_and_naming_rank_0_on_the_others()
    {
        int port = FreePort();
        var timeout = TimeSpan.FromSeconds(2);
        var clock = Stopwatch.StartNew();
        var rank0 = Rank(() => TcpRendezvous.Exchange(Env(0, 4, "127.0.0.1", port), new byte[16], 16, timeout));
        var rank2 = Rank(() => TcpRendezvous.Exchange(Env(2, 4, "127.0.0.1", port), [], 16, timeout));
        var e0 = await Assert.ThrowsAsync<EngineException>(() => rank0);
        Assert.Equal($"rendezvous at MASTER_ADDR:MASTER_PORT 127.0.0.1:{port}: ranks 1, 3 of WORLD_SIZE 4 never arrived within 2 s " +
                     "(did they crash, or were they given another MASTER_ADDR, MASTER_PORT or WORLD_SIZE?)", e0.Message);
        var e2 = await Assert.ThrowsAsync<EngineException>(() => rank2);
        Assert.StartsWith($"rendezvous at MASTER_ADDR:MASTER_PORT 127.0.0.1:{port}: rank 2 of WORLD_SIZE 4 did not hear from rank 0 within 2 s", e2.Message);
        Assert.InRange(clock.Elapsed, timeout - Early, timeout + Slack);
    }

    [Fact]
    public void A_rank_alone_times_out_saying_nothing_listened()
    {
        int port = FreePort();
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<EngineException>(() => TcpRendezvous.Exchange(Env(1, 2, "127.0.0.1", port), [], 128, TimeSpan.FromSeconds(1)));
        Assert.Contains("rank 1 of WORLD_SIZE 2 did not hear from rank 0 within 1 s (nothing listened there)", e.Message);
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1) - Early, TimeSpan.FromSeconds(1) + Slack);
    }

    [Fact]
    public async Task A_rank_with_another_world_size_stops_the_job_on_both_sides()
    {
        int port = FreePort();
        var clock = Stopwatch.StartNew();
        var rank0 = Rank(() => TcpRendezvous.Exchange(Env(0, 3, "127.0.0.1", port), new byte[8], 8, Long));
        var rank1 = Rank(() => TcpRendezvous.Exchange(Env(1, 4, "127.0.0.1", port), [], 8, Long));
        const string problem = "rank 1 was started with WORLD_SIZE 4, rank 0 with WORLD_SIZE 3: every rank must be given the same WORLD_SIZE";
        var e0 = await Assert.ThrowsAsync<EngineException>(() => rank0);
        Assert.Equal($"rendezvous at MASTER_ADDR:MASTER_PORT 127.0.0.1:{port}: {problem}", e0.Message);
        var e1 = await Assert.ThrowsAsync<EngineException>(() => rank1);
        Assert.Equal($"rendezvous at MASTER_ADDR:MASTER_PORT 127.0.0.1:{port}: rank 0 stopped the job (rank 1 had arrived): {problem}", e1.Message);
        Assert.True(clock.Elapsed < Long / 2, $"the refusal took {clock.Elapsed}, it should not wait for the timeout");
    }

    [Fact]
    public async Task Two_processes_with_one_rank_stop_the_job()
    {
        int port = FreePort();
        var rank0 = Rank(() => TcpRendezvous.Exchange(Env(0, 3, "127.0.0.1", port), new byte[8], 8, Long));
        var first = Rank(() => TcpRendezvous.Exchange(Env(1, 3, "127.0.0.1", port), [], 8, Long));
        var second = Rank(() => TcpRendezvous.Exchange(Env(1, 3, "127.0.0.1", port), [], 8, Long));
        var e0 = await Assert.ThrowsAsync<EngineException>(() => rank0);
        Assert.EndsWith("two processes connected as RANK 1: each rank needs its own RANK 0..WORLD_SIZE-1", e0.Message);
        foreach (var r in new[] { first, second })
            Assert.Contains("rank 0 stopped the job (rank 1 had arrived): two processes connected as RANK 1", (await Assert.ThrowsAsync<EngineException>(() => r)).Message);
    }

    [Theory]
    [InlineData(0, "a second process with RANK 0 connected")]
    [InlineData(5, "a process with RANK 5 connected, which is outside 1..2 for WORLD_SIZE 3")]
    [InlineData(-1, "a process with RANK -1 connected, which is outside 1..2 for WORLD_SIZE 3")]
    public async Task A_rank_out_of_range_stops_the_job(int badRank, string expected)
    {
        int port = FreePort();
        var rank0 = Rank(() => TcpRendezvous.Exchange(Env(0, 3, "127.0.0.1", port), new byte[8], 8, Long));
        using var client = ConnectWithRetry(port);
        client.Send(TcpRendezvous.Hello(badRank, 3, 8));
        var e0 = await Assert.ThrowsAsync<EngineException>(() => rank0);
        Assert.Contains(expected, e0.Message);
        Assert.Contains($"MASTER_ADDR:MASTER_PORT 127.0.0.1:{port}", e0.Message);
    }

    [Fact]
    public async Task A_rank_of_another_protocol_version_stops_the_job()
    {
        int port = FreePort();
        var rank0 = Rank(() => TcpRendezvous.Exchange(Env(0, 2, "127.0.0.1", port), new byte[8], 8, Long));
        using var client = ConnectWithRetry(port);
        client.Send(TcpRendezvous.Hello(1, 2, 8, version: TcpRendezvous.ProtocolVersion + 1));
        var e = await Assert.ThrowsAsync<EngineException>(() => rank0);
        Assert.Contains($"a rank speaks rendezvous protocol {TcpRendezvous.ProtocolVersion + 1}, rank 0 speaks {TcpRendezvous.ProtocolVersion}", e.Message);
    }

    [Fact]
    public async Task A_connection_that_is_not_an_engine_rank_is_refused_and_the_job_goes_on()
    {
        int port = FreePort();
        var payload = RandomBytes(128, seed: 3);
        var rank0 = Rank(() => TcpRendezvous.Exchange(Env(0, 2, "127.0.0.1", port), payload, 128, Long));
        using var stranger = ConnectWithRetry(port);
        var junk = RandomBytes(64, seed: 5);
        junk[0] = (byte)'X'; // never the magic's first byte
        stranger.Send(junk);
        Assert.Equal(0, ReceiveUntilClosed(stranger));
        Assert.False(rank0.IsCompleted);
        Assert.Equal(payload, TcpRendezvous.Exchange(Env(1, 2, "127.0.0.1", port), [], 128, Long));
        Assert.Equal(payload, await rank0);
    }

    [Fact]
    public async Task A_timeout_names_the_connections_refused_as_not_engine_ranks()
    {
        int port = FreePort();
        var rank0 = Rank(() => TcpRendezvous.Exchange(Env(0, 2, "127.0.0.1", port), new byte[8], 8, TimeSpan.FromSeconds(2)));
        using (var stranger = ConnectWithRetry(port))
        {
            stranger.Send("GET / HTTP/1.0\r\n\r\n"u8.ToArray());
            ReceiveUntilClosed(stranger);
        }
        var e = await Assert.ThrowsAsync<EngineException>(() => rank0);
        Assert.Contains("rank 1 of WORLD_SIZE 2 never arrived within 2 s", e.Message);
        Assert.Contains("refused 1 connection(s) that were not engine ranks (from ", e.Message);
    }

    [Fact]
    public async Task A_silent_connection_does_not_hold_up_the_ranks()
    {
        int port = FreePort();
        var payload = RandomBytes(16, seed: 9);
        var rank0 = Rank(() => TcpRendezvous.Exchange(Env(0, 2, "127.0.0.1", port), payload, 16, Long));
        using var silent = ConnectWithRetry(port);
        Assert.Equal(payload, TcpRendezvous.Exchange(Env(1, 2, "127.0.0.1", port), [], 16, Long));
        Assert.Equal(payload, await rank0);
    }

    [Fact]
    public void A_port_in_use_is_a_clear_error_on_rank_0()
    {
        using var squatter = new TcpListener(IPAddress.Loopback, 0);
        squatter.Start();
        int port = ((IPEndPoint)squatter.LocalEndpoint).Port;
        var e = Assert.Throws<EngineException>(() => TcpRendezvous.Exchange(Env(0, 2, "127.0.0.1", port), new byte[8], 8, Long));
        Assert.Equal($"rendezvous at MASTER_ADDR:MASTER_PORT 127.0.0.1:{port}: rank 0 cannot listen on port {port}, another process already " +
                     "uses it (another job, or an earlier run still exiting): set MASTER_PORT to a free port", e.Message);
    }

    [Fact]
    public async Task A_rank_that_reaches_another_service_says_so()
    {
        using var other = new TcpListener(IPAddress.Loopback, 0);
        other.Start();
        int port = ((IPEndPoint)other.LocalEndpoint).Port;
        var rank1 = Rank(() => TcpRendezvous.Exchange(Env(1, 2, "127.0.0.1", port), [], 8, Long));
        using (var peer = other.AcceptSocket())
        {
            var hello = new byte[TcpRendezvous.HelloBytes];
            int got = 0;
            while (got < hello.Length) got += peer.Receive(hello, got, hello.Length - got, SocketFlags.None);
            Assert.Equal(TcpRendezvous.Hello(1, 2, 8), hello);
            peer.Send("SSH-2.0-OpenSSH_9.6\r\n"u8.ToArray());
        }
        var e = await Assert.ThrowsAsync<EngineException>(() => rank1);
        Assert.Contains("the process listening there is not an engine rank 0", e.Message);
    }

    [Fact]
    public void Wire_format_is_little_endian_after_the_magic()
    {
        Assert.Equal("ENGRDZV\0"u8.ToArray(), TcpRendezvous.Magic.ToArray());
        var hello = TcpRendezvous.Hello(rank: 2, size: 3, payloadLength: 128);
        Assert.Equal(new byte[] { 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 128, 0, 0, 0 }, hello[8..]);
        var answer = TcpRendezvous.Answer(TcpRendezvous.StatusOk, new byte[] { 9, 8 });
        Assert.Equal(new byte[] { 0, 0, 0, 0, 2, 0, 0, 0, 9, 8 }, answer[8..]);
    }

    private static DistributedEnvironment Env(int rank, int size, string addr, int port) =>
        new(rank, size, rank, DistributedLauncher.Torchrun, addr, port);

    private static Task<byte[]> Rank(Func<byte[]> body) => Task.Factory.StartNew(body, TaskCreationOptions.LongRunning);

    private static byte[] RandomBytes(int n, int seed)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }

    /// <summary>A port nothing listens on at the moment (the rendezvous listens on every interface, so ask the same way).</summary>
    private static int FreePort()
    {
        using var probe = new Socket(SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(Socket.OSSupportsIPv6 ? new IPEndPoint(IPAddress.IPv6Any, 0) : new IPEndPoint(IPAddress.Any, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    private static bool Ipv6LoopbackWorks()
    {
        try
        {
            using var s = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
            s.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>A raw connection to the rendezvous port, retried while rank 0's thread is still starting to listen.</summary>
    private static Socket ConnectWithRetry(int port)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                s.Connect(IPAddress.Loopback, port);
                return s;
            }
            catch (SocketException) when (deadline.Elapsed < Long)
            {
                s.Dispose();
                Thread.Sleep(50);
            }
        }
    }

    /// <summary>Bytes received until the peer closed (a reset counts as closed).</summary>
    private static int ReceiveUntilClosed(Socket s)
    {
        s.ReceiveTimeout = (int)Long.TotalMilliseconds;
        var buffer = new byte[256];
        int total = 0;
        try
        {
            int n;
            while ((n = s.Receive(buffer)) > 0) total += n;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset) { }
        return total;
    }
}
