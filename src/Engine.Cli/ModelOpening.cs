using Engine.Backends;
using Engine.Checkpoints;
using Engine.Models;

namespace Engine.Cli;

/// <summary>Opens the model (and optional LoRA adapter) a verb names, on the chosen device.</summary>
public static class ModelOpening
{
    public static IBackend Backend(CliContext ctx) => Devices.Create(ctx.DeviceSpec);

    public static LoadedModel Open(CliContext ctx, string modelPath, string? tokenizer, string? adapter = null)
    {
        var be = Backend(ctx);
        var loaded = ModelLoader.Load(modelPath, be, new WeightOptions(), tokenizer);
        if (adapter is not null)
        {
            try { loaded.Model.Owned.Add(PeftAdapterIO.Load(loaded.Model, adapter)); }
            catch { loaded.Dispose(); throw; }
        }
        return loaded;
    }
}
