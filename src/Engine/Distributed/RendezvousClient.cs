using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace Engine.Distributed;

/// <summary>A non-zero rank's side of <see cref="TcpRendezvous"/>: connects to rank 0, retrying while nothing listens
/// yet (rank 0 may start last), sends its hello and reads rank 0's answer.</summary>
internal static class RendezvousClient
{
    private static readonly TimeSpan FirstRetry = TimeSpan.FromMilliseconds(50), LongestRetry = TimeSpan.FromSeconds(1);

    public static byte[] Join(RendezvousAddress where, int rank, int size, int payloadLength, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        return JoinAsync(where, rank, size, payloadLength, timeout, cts.Token).GetAwaiter().GetResult();
    }

    private static async Task<byte[]> JoinAsync(RendezvousAddress where, int rank, int size, int payloadLength, TimeSpan timeout, CancellationToken ct)
    {
        string lastProblem = "nothing listened there";
        var retry = FirstRetry;
        try
        {
            while (true)
            {
                using (var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true })
                {
                    try
                    {
                        await socket.ConnectAsync(where.ConnectHost, where.Port, ct).ConfigureAwait(false);
                        // With nothing listening on a loopback port inside the ephemeral range, Linux may pick that very
                        // port as the source and connect the socket to itself (TCP simultaneous open): this rank would
                        // read its own hello back as an answer.
                        if (Equals(socket.LocalEndPoint, socket.RemoteEndPoint)) throw new SocketException((int)SocketError.ConnectionRefused);
                        await socket.SendAsync(TcpRendezvous.Hello(rank, size, payloadLength), SocketFlags.None, ct).ConfigureAwait(false);
                        if (await ReadAnswerAsync(socket, where, rank, size, payloadLength, ct).ConfigureAwait(false) is { } payload)
                            return payload;
                        lastProblem = "something at that address closed the connection without answering (rank 0 of another job, or not engine?)";
                    }
                    catch (SocketException e)
                    {
                        lastProblem = e.SocketErrorCode switch
                        {
                            SocketError.ConnectionRefused => "nothing listened there",
                            SocketError.HostNotFound or SocketError.NoData => $"host {where.Host} could not be resolved",
                            _ => e.Message,
                        };
                    }
                }
                await Task.Delay(retry, ct).ConfigureAwait(false);
                retry = TimeSpan.FromTicks(Math.Min(retry.Ticks * 2, LongestRetry.Ticks));
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            throw new EngineException($"rendezvous at {where}: rank {rank} of WORLD_SIZE {size} did not hear from rank 0 within " +
                                      $"{timeout.TotalSeconds:0.#} s ({lastProblem}): is rank 0 running, with the same MASTER_ADDR and MASTER_PORT?");
        }
    }

    /// <summary>The payload, or null when the peer closed before a whole answer arrived (worth another try). Throws
    /// when rank 0 refused this rank or answered something malformed.</summary>
    private static async Task<byte[]?> ReadAnswerAsync(Socket socket, RendezvousAddress where, int rank, int size, int payloadLength, CancellationToken ct)
    {
        var header = new byte[TcpRendezvous.AnswerHeaderBytes];
        if (!await TcpRendezvous.ReadExactlyAsync(socket, header, ct).ConfigureAwait(false)) return null;
        if (!header.AsSpan(0, 8).SequenceEqual(TcpRendezvous.Magic))
            throw new EngineException($"rendezvous at {where}: rank {rank} of WORLD_SIZE {size}: the process listening there is not an engine rank 0 " +
                                      "(its answer lacks the rendezvous magic): is MASTER_PORT another service's port?");
        int status = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(8));
        int length = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(12));
        if (length < 0 || length > TcpRendezvous.MaxPayloadBytes || (status == TcpRendezvous.StatusOk && length != payloadLength)
            || status is not (TcpRendezvous.StatusOk or TcpRendezvous.StatusRefused))
            throw new EngineException($"rendezvous at {where}: rank {rank} of WORLD_SIZE {size}: rank 0 answered status {status} with " +
                                      $"{length} bytes, expected status 0 with {payloadLength} bytes: every rank must run the same engine build");
        var body = new byte[length];
        if (!await TcpRendezvous.ReadExactlyAsync(socket, body, ct).ConfigureAwait(false)) return null;
        if (status == TcpRendezvous.StatusRefused)
            throw new EngineException($"rendezvous at {where}: rank 0 stopped the job (rank {rank} had arrived): {Encoding.UTF8.GetString(body)}");
        return body;
    }
}
