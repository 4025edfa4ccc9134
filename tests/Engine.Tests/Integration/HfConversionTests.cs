using Engine.Backends.Cpu;
using Engine.Checkpoints;
using Engine.Formats;
using Engine.Models;
using Engine.Tests.Support;

namespace Engine.Tests.Integration;

/// <summary>stories260K converted to an HF folder (HF q/k row order, config.json, tokenizer.model) loads through the HF
/// path and behaves identically.</summary>
public class HfConversionTests
{
    [Fact]
    public void Converted_folder_gives_the_same_tokens_and_logits()
    {
        using var tmp = new TempDir();
        var dir = HfFixture.Stories260K(tmp.Path);
        using var hf = ModelLoader.Load(dir, CpuBackend.Instance, new WeightOptions());
        Assert.Equal(ModelFormat.HfFolder, hf.Format);
        Stories260KTests.CheckOnceUponATimeLogits(hf);
        using var bin = ModelLoader.Load(SharedData.Require("stories260K/stories260K.bin"), CpuBackend.Instance, new WeightOptions());
        int[] ids = { 1, 403, 407, 261, 378, 432 };
        Assert.Equal(Stories260KTests.FullLogits(bin.Model, ids), Stories260KTests.FullLogits(hf.Model, ids));
        var a = new Generator(hf.Model).Generate(new[] { 1 }, 64, new SamplingOptions());
        var b = new Generator(bin.Model).Generate(new[] { 1 }, 64, new SamplingOptions());
        Assert.Equal(b, a);
    }

    [Fact]
    public void The_folder_stores_hf_row_order_for_q_and_k()
    {
        using var tmp = new TempDir();
        var dir = HfFixture.Stories260K(tmp.Path);
        using var st = SafeTensorsFile.Open(Path.Combine(dir, "model.safetensors"));
        using var ck = Llama2cCheckpoint.Open(SharedData.Require("stories260K/stories260K.bin"));
        var hf = new float[64 * 64];
        var raw = new float[64 * 64];
        st.ReadFloats("model.layers.0.self_attn.q_proj.weight", hf);
        ck.ReadFloats("model.layers.0.self_attn.q_proj.weight", raw);
        // head 0 (8 rows): HF row 1 is llama2.c row 2 (the first element of the second rotated pair); row 4 is row 1.
        Assert.Equal(raw.AsSpan(2 * 64, 64).ToArray(), hf.AsSpan(1 * 64, 64).ToArray());
        Assert.Equal(raw.AsSpan(1 * 64, 64).ToArray(), hf.AsSpan(4 * 64, 64).ToArray());
        // v is not rotated and keeps its order.
        var hv = new float[32 * 64];
        var rv = new float[32 * 64];
        st.ReadFloats("model.layers.0.self_attn.v_proj.weight", hv);
        ck.ReadFloats("model.layers.0.self_attn.v_proj.weight", rv);
        Assert.Equal(rv, hv);
    }
}

/// <summary>Builds HF folders from the shared llama2.c checkpoint for tests.</summary>
public static class HfFixture
{
    public static string Stories260K(string root)
    {
        var dir = Path.Combine(root, "stories260K-hf");
        using var m = ModelLoader.Load(SharedData.Require("stories260K/stories260K.bin"), CpuBackend.Instance, new WeightOptions());
        HfModelWriter.Save(m.Model, dir, Tensors.DType.F32, m.TokenizerPath);
        return dir;
    }
}
