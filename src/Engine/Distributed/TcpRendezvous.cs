using System.Buffers.Binary;
using System.Net.Sockets;

namespace Engine.Distributed;

/// <summary>How the ranks of a torchrun-style job exchange one small payload (NCCL's 128-byte unique id) before they
/// can talk through a faster channel: rank 0 listens on MASTER_PORT (every interface, IPv6 dual-stack where the host
/// has it, else IPv4), each other rank connects to MASTER_ADDR:MASTER_PORT (an IPv4 or IPv6 literal or a host name,
/// resolved by DNS) and sends a hello (<see cref="Magic"/>, <see cref="ProtocolVersion"/>, its rank, the world size and
/// the payload length it expects). Rank 0 checks every hello and, once all Size − 1 ranks are in, sends each the
/// payload. A connection that does not start with the magic (a port scanner, another program) is closed and the
/// exchange goes on; an engine rank with another world size, a rank out of range, a duplicate rank or a different
/// protocol stops the job at once on every rank that has arrived, with rank 0's reason. Ranks other than 0 retry until
/// rank 0 listens, so the ranks may start in any order. Everything is bounded by one timeout.
///
/// Wire format, little-endian. Hello (24 bytes): magic (8), version (i32), rank (i32), world size (i32), payload
/// length (i32). Answer: magic (8), status (i32: 0 the payload follows, 1 refused and a UTF-8 reason follows),
/// length (i32), then that many bytes.</summary>
internal static class TcpRendezvous
{
    /// <summary>The first bytes of every hello and answer: "ENGRDZV" and a zero byte.</summary>
    public static ReadOnlySpan<byte> Magic => "ENGRDZV\0"u8;
    /// <summary>Bumped whenever the wire format changes, so ranks of different builds refuse each other clearly.</summary>
    public const int ProtocolVersion = 1;
    internal const int HelloBytes = 24;
    internal const int AnswerHeaderBytes = 16;
    internal const int StatusOk = 0;
    internal const int StatusRefused = 1;
    /// <summary>The largest payload the rendezvous carries (a refusal reason is capped the same way).</summary>
    public const int MaxPayloadBytes = 64 * 1024;

    /// <summary>Returns rank 0's <paramref name="payloadOnRank0"/> on every rank (a copy on rank 0 too). Only rank 0's
    /// payload is read; the others pass an empty span. World size 1 returns at once without touching the network.
    /// Throws an <see cref="EngineException"/> naming MASTER_ADDR:MASTER_PORT when the port is in use, a rank sent a bad
    /// hello, or the ranks did not all meet within <paramref name="timeout"/> (rank 0 names the ranks that never
    /// arrived).</summary>
    public static byte[] Exchange(DistributedEnvironment env, ReadOnlySpan<byte> payloadOnRank0, int payloadLength, TimeSpan timeout)
    {
        if (payloadLength is < 0 or > MaxPayloadBytes)
            throw new ArgumentOutOfRangeException(nameof(payloadLength), $"payload length {payloadLength} is not within 0..{MaxPayloadBytes}");
        if (env.Rank == 0 && payloadOnRank0.Length != payloadLength)
            throw new ArgumentException($"rank 0's payload has {payloadOnRank0.Length} bytes, not the {payloadLength} the ranks expect", nameof(payloadOnRank0));
        if (env.Size == 1) return payloadOnRank0.ToArray();
        if (env.MasterAddr is null || env.MasterPort is null)
            throw new EngineException($"rank {env.Rank} of {env.Size}: environment variables MASTER_ADDR and MASTER_PORT must both be set " +
                                      "so the ranks can find rank 0 (engine train --nproc-per-node and torchrun set them)");
        var where = new RendezvousAddress(env.MasterAddr, env.MasterPort.Value);
        return env.Rank == 0
            ? RendezvousServer.Serve(where, env.Size, payloadOnRank0.ToArray(), timeout)
            : RendezvousClient.Join(where, env.Rank, env.Size, payloadLength, timeout);
    }

    /// <summary>The 24-byte hello of <paramref name="rank"/>.</summary>
    internal static byte[] Hello(int rank, int size, int payloadLength, int version = ProtocolVersion)
    {
        var b = new byte[HelloBytes];
        Magic.CopyTo(b);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(8), version);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(12), rank);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(16), size);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(20), payloadLength);
        return b;
    }

    /// <summary>An answer: the header and <paramref name="body"/>.</summary>
    internal static byte[] Answer(int status, ReadOnlySpan<byte> body)
    {
        var b = new byte[AnswerHeaderBytes + body.Length];
        Magic.CopyTo(b);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(8), status);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(12), body.Length);
        body.CopyTo(b.AsSpan(AnswerHeaderBytes));
        return b;
    }

    /// <summary>Reads exactly <paramref name="buffer"/>.Length bytes; false when the peer closed the connection first.</summary>
    internal static async Task<bool> ReadExactlyAsync(Socket socket, Memory<byte> buffer, CancellationToken ct)
    {
        int got = 0;
        while (got < buffer.Length)
        {
            int n = await socket.ReceiveAsync(buffer[got..], SocketFlags.None, ct).ConfigureAwait(false);
            if (n == 0) return false;
            got += n;
        }
        return true;
    }
}

/// <summary>MASTER_ADDR:MASTER_PORT as the messages print it; a bracketed IPv6 literal ("[::1]") is accepted too.</summary>
internal readonly record struct RendezvousAddress(string Host, int Port)
{
    public string ConnectHost => Host.StartsWith('[') && Host.EndsWith(']') ? Host[1..^1] : Host;

    public override string ToString() => $"MASTER_ADDR:MASTER_PORT {Host}:{Port}";
}
