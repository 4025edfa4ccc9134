namespace Engine.Backends;

/// <summary>A device allocation that did not fit, after the backend gave its cached blocks back. Raised by accelerator
/// backends; the train job adds its memory plan and what to change (<c>TrainJob</c>).</summary>
internal sealed class DeviceOutOfMemoryException : EngineException
{
    public DeviceOutOfMemoryException(string device, long requestedBytes, long inUseBytes, long? limitBytes, string detail)
        : base($"out of memory on {device}: allocating {Mib(requestedBytes)} with {Mib(inUseBytes)} in use" +
               (limitBytes is long l ? $" of the {Mib(l)} allowed" : "") + (detail.Length > 0 ? $" ({detail})" : ""))
    {
        RequestedBytes = requestedBytes;
        InUseBytes = inUseBytes;
    }

    public long RequestedBytes { get; }
    public long InUseBytes { get; }

    public static string Mib(long bytes) => bytes >= 1L << 30 ? $"{bytes / (double)(1L << 30):F2} GiB" : $"{bytes / (double)(1 << 20):F1} MiB";
}
