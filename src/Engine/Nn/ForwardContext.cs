namespace Engine.Nn;

/// <summary>What a forward pass needs to know beyond its inputs: whether it trains (dropout on) and the seed from which
/// every dropout mask of this step is derived (each module mixes in its own id, so masks differ per module but are
/// reproduced exactly when a checkpointed layer is recomputed).</summary>
internal sealed record ForwardContext(bool Training, ulong DropoutSeed)
{
    public static ForwardContext Inference { get; } = new(false, 0);

    public ulong SeedFor(int moduleId) => DropoutSeed * 0x9E3779B97F4A7C15UL + (ulong)moduleId * 0xC2B2AE3D27D4EB4FUL + 1;
}
