namespace Engine.Checkpoints;

/// <summary>One tensor of a bitsandbytes 4-bit weight as HF/bnb save it, named relative to the module
/// (<c>weight</c>, <c>weight.absmax</c>, …; prepend e.g. <c>model.layers.0.mlp.down_proj.</c>).
/// <see cref="DType"/> is the safetensors dtype name ("U8", "F32"); <see cref="Data"/> holds the little-endian bytes
/// and may share memory with the <see cref="Quant.Nf4Weight"/> it came from, so do not modify it.</summary>
internal sealed record Nf4BnbTensor(string Name, string DType, int[] Shape, byte[] Data);
