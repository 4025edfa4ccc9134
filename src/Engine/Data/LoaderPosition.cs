namespace Engine.Data;

/// <summary>Where a <see cref="DataLoader"/> is: the next batch to yield is batch <see cref="Batch"/> (0-based) of epoch
/// <see cref="Epoch"/> (0-based). Save it with a checkpoint; a loader over the same data and settings set to it yields
/// exactly the batches the original would have. "epoch:batch" round-trips through <see cref="ToString"/>/<see cref="Parse"/>.</summary>
internal readonly record struct LoaderPosition(int Epoch, int Batch)
{
    public override string ToString() => $"{Epoch}:{Batch}";

    public static LoaderPosition Parse(string s)
    {
        var parts = s.Split(':');
        if (parts.Length == 2 && int.TryParse(parts[0], out int e) && int.TryParse(parts[1], out int b) && e >= 0 && b >= 0)
            return new LoaderPosition(e, b);
        throw new EngineException($"invalid data loader position \"{s}\"; expected \"epoch:batch\" with non-negative integers");
    }
}
