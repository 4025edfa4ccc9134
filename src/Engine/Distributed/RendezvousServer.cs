using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Engine.Distributed;

/// <summary>Rank 0's side of <see cref="TcpRendezvous"/>: listens on MASTER_PORT, reads every connection's hello
/// concurrently (a silent connection never holds up the others), and sends the payload once ranks 1..Size−1 are all in.</summary>
internal static class RendezvousServer
{
    public static byte[] Serve(RendezvousAddress where, int size, byte[] payload, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        return ServeAsync(where, size, payload, timeout, cts.Token).GetAwaiter().GetResult();
    }

    private static async Task<byte[]> ServeAsync(RendezvousAddress where, int size, byte[] payload, TimeSpan timeout, CancellationToken ct)
    {
        using var listener = Listen(where, size);
        var accepted = new List<Socket>();
        var arrived = new Dictionary<int, Socket>();
        var notEngine = new List<string>();
        var handshakes = new List<Task<(Socket Socket, Hello? Hello)>>();
        Task<Socket>? accept = null;
        try
        {
            while (arrived.Count < size - 1)
            {
                accept ??= listener.AcceptAsync(ct).AsTask();
                var done = await Task.WhenAny(handshakes.Append<Task>(accept)).ConfigureAwait(false);
                if (done.IsCanceled || (done.IsFaulted && ct.IsCancellationRequested))
                    throw NeverArrived(where, size, arrived.Keys, notEngine, timeout);
                if (done == accept)
                {
                    var socket = await accept.ConfigureAwait(false);
                    accept = null;
                    accepted.Add(socket);
                    socket.NoDelay = true;
                    handshakes.Add(ReadHelloAsync(socket, ct));
                    continue;
                }
                var handshake = (Task<(Socket Socket, Hello? Hello)>)done;
                handshakes.Remove(handshake);
                var (peer, hello) = await handshake.ConfigureAwait(false);
                if (hello is null)
                {
                    notEngine.Add(Describe(peer));
                    peer.Dispose();
                    continue;
                }
                if (Problem(hello.Value, size, payload.Length, arrived) is { } problem)
                {
                    await RefuseAsync(arrived.Values.Append(peer), problem, ct).ConfigureAwait(false);
                    throw new EngineException($"rendezvous at {where}: {problem}");
                }
                arrived.Add(hello.Value.Rank, peer);
            }
            var answer = TcpRendezvous.Answer(TcpRendezvous.StatusOk, payload);
            foreach (var socket in arrived.Values)
            {
                await socket.SendAsync(answer, SocketFlags.None, ct).ConfigureAwait(false);
                socket.Shutdown(SocketShutdown.Send);
            }
            return payload;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            throw NeverArrived(where, size, arrived.Keys, notEngine, timeout);
        }
        finally
        {
            // Disposing also ends the reads of connections that never sent a whole hello.
            foreach (var socket in accepted) socket.Dispose();
        }
    }

    /// <summary>A listener on every interface at the port: IPv6 dual-stack (which takes IPv4 too) where the host has
    /// IPv6, else IPv4.</summary>
    private static Socket Listen(RendezvousAddress where, int size)
    {
        Socket? socket = null;
        try
        {
            if (Socket.OSSupportsIPv6)
            {
                socket = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp) { DualMode = true };
                socket.Bind(new IPEndPoint(IPAddress.IPv6Any, where.Port));
            }
            else
            {
                socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                socket.Bind(new IPEndPoint(IPAddress.Any, where.Port));
            }
            socket.Listen(Math.Max(size, 16));
            return socket;
        }
        catch (SocketException e)
        {
            socket?.Dispose();
            if (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
                throw new EngineException($"rendezvous at {where}: rank 0 cannot listen on port {where.Port}, another process already uses it " +
                                          "(another job, or an earlier run still exiting): set MASTER_PORT to a free port", e);
            throw new EngineException($"rendezvous at {where}: rank 0 cannot listen on port {where.Port}: {e.Message}", e);
        }
    }

    /// <summary>The hello a connection sent, or null when it is not an engine rank (no magic, or it closed early).</summary>
    private static async Task<(Socket, Hello?)> ReadHelloAsync(Socket socket, CancellationToken ct)
    {
        var buffer = new byte[TcpRendezvous.HelloBytes];
        try
        {
            if (!await TcpRendezvous.ReadExactlyAsync(socket, buffer.AsMemory(0, 8), ct).ConfigureAwait(false)
                || !buffer.AsSpan(0, 8).SequenceEqual(TcpRendezvous.Magic)
                || !await TcpRendezvous.ReadExactlyAsync(socket, buffer.AsMemory(8), ct).ConfigureAwait(false))
                return (socket, null);
        }
        catch (SocketException)
        {
            return (socket, null);
        }
        var s = buffer.AsSpan();
        return (socket, new Hello(BinaryPrimitives.ReadInt32LittleEndian(s[8..]), BinaryPrimitives.ReadInt32LittleEndian(s[12..]),
                                  BinaryPrimitives.ReadInt32LittleEndian(s[16..]), BinaryPrimitives.ReadInt32LittleEndian(s[20..])));
    }

    /// <summary>What is wrong with an engine rank's hello, or null when it may join.</summary>
    private static string? Problem(Hello h, int size, int payloadLength, Dictionary<int, Socket> arrived)
    {
        if (h.Version != TcpRendezvous.ProtocolVersion)
            return $"a rank speaks rendezvous protocol {h.Version}, rank 0 speaks {TcpRendezvous.ProtocolVersion}: every rank must run the same engine build";
        if (h.Size != size)
            return $"rank {h.Rank} was started with WORLD_SIZE {h.Size}, rank 0 with WORLD_SIZE {size}: every rank must be given the same WORLD_SIZE";
        if (h.Rank == 0)
            return "a second process with RANK 0 connected: each rank needs its own RANK 0..WORLD_SIZE-1";
        if (h.Rank < 0 || h.Rank >= size)
            return $"a process with RANK {h.Rank} connected, which is outside 1..{size - 1} for WORLD_SIZE {size}";
        if (arrived.ContainsKey(h.Rank))
            return $"two processes connected as RANK {h.Rank}: each rank needs its own RANK 0..WORLD_SIZE-1";
        if (h.PayloadLength != payloadLength)
            return $"rank {h.Rank} expects a {h.PayloadLength}-byte payload, rank 0 sends {payloadLength} bytes: every rank must run the same engine build";
        return null;
    }

    /// <summary>Tells every rank that has arrived why the job stops, so they fail with rank 0's reason instead of a
    /// timeout. Best effort: a rank that is already gone is skipped.</summary>
    private static async Task RefuseAsync(IEnumerable<Socket> sockets, string problem, CancellationToken ct)
    {
        var answer = TcpRendezvous.Answer(TcpRendezvous.StatusRefused, Encoding.UTF8.GetBytes(problem));
        foreach (var socket in sockets)
        {
            try
            {
                await socket.SendAsync(answer, SocketFlags.None, ct).ConfigureAwait(false);
                socket.Shutdown(SocketShutdown.Send);
            }
            catch (SocketException) { }
            finally { socket.Dispose(); }
        }
    }

    private static EngineException NeverArrived(RendezvousAddress where, int size, IEnumerable<int> arrived, List<string> notEngine, TimeSpan timeout)
    {
        var missing = Enumerable.Range(1, size - 1).Except(arrived).ToList();
        bool one = missing.Count == 1;
        string ranks = one ? $"rank {missing[0]}" : $"ranks {string.Join(", ", missing)}";
        string refused = notEngine.Count == 0 ? ""
            : $"; refused {notEngine.Count} connection(s) that were not engine ranks (from {string.Join(", ", notEngine.Distinct())})";
        return new EngineException($"rendezvous at {where}: {ranks} of WORLD_SIZE {size} never arrived within {timeout.TotalSeconds:0.#} s " +
                                   $"(did {(one ? "it" : "they")} crash, or {(one ? "was it" : "were they")} given another MASTER_ADDR, MASTER_PORT or WORLD_SIZE?){refused}");
    }

    private static string Describe(Socket socket)
    {
        try { return socket.RemoteEndPoint?.ToString() ?? "an unknown address"; }
        catch (SocketException) { return "an unknown address"; }
        catch (ObjectDisposedException) { return "an unknown address"; }
    }

    private readonly record struct Hello(int Version, int Rank, int Size, int PayloadLength);
}
