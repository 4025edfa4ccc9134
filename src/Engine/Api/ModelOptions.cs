namespace Engine.Api;

/// <summary>How <see cref="EngineModel.Load"/> opens a model.</summary>
public sealed record ModelOptions
{
    /// <summary>"cpu", "cuda", "cuda:N" or "auto" (a GPU when one is registered and usable, else the CPU). A GPU needs the
    /// Engine.Cuda package and one call to <c>Engine.Cuda.CudaSupport.Register()</c>.</summary>
    public string Device { get; init; } = "auto";

    /// <summary>A tokenizer file (tokenizer.model or llama2.c tokenizer.bin); null looks beside the model.</summary>
    public string? Tokenizer { get; init; }

    /// <summary>A PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors) applied on top of the model.</summary>
    public string? Adapter { get; init; }
}
