using System.Text.Json;
using Engine.Autograd;
using Engine.Backends.Cpu;
using Engine.Checkpoints;
using Engine.Models;
using Engine.Nn;
using Engine.Tensors;
using Engine.Tests.Support;

namespace Engine.Tests.Integration;

/// <summary>The real pretrained stories260K against the independent float64 references in shared/data.</summary>
public class Stories260KTests
{
    private static string Model => SharedData.Require("stories260K/stories260K.bin");

    private static LoadedModel Load(string? path = null) =>
        ModelLoader.Load(path ?? Model, CpuBackend.Instance, new WeightOptions());

    [Fact]
    public void Greedy_generation_reproduces_the_reference_token_for_token()
    {
        using var m = Load();
        var reference = JsonDocument.Parse(File.ReadAllText(SharedData.Require("stories260K/reference_greedy_256.json")));
        var expected = reference.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var got = new Generator(m.Model).Generate(new[] { 1 }, 256, new SamplingOptions { Temperature = 0 });
        Assert.Equal(expected, got);
        Assert.Equal(reference.RootElement.GetProperty("text").GetString(), m.Tokenizer!.Decode(got));
    }

    [Fact]
    public void Logits_for_once_upon_a_time_match_to_1e4_relative()
    {
        using var m = Load();
        CheckOnceUponATimeLogits(m);
    }

    internal static void CheckOnceUponATimeLogits(LoadedModel m)
    {
        var reference = JsonDocument.Parse(File.ReadAllText(SharedData.Require("stories260K/reference_logits_once_upon_a_time.json"))).RootElement;
        var ids = reference.GetProperty("input_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.Equal(ids[1..], m.Tokenizer!.Encode("Once upon a time"));
        var logits = FullLogits(m.Model, ids);
        int v = m.Model.Config.VocabSize;
        int p = 0;
        foreach (var row in reference.GetProperty("logits").EnumerateArray())
        {
            int i = 0;
            foreach (var x in row.EnumerateArray())
            {
                double want = x.GetDouble(), got = logits[p * v + i];
                // The reference is float64 rounded to 7 digits; a float32 forward differs by ~1e-5 absolute on logits of
                // magnitude ~1-10, so 1e-4 relative (with a floor of 1 for near-zero logits) is the stated bound.
                Assert.True(Math.Abs(got - want) <= 1e-4 * Math.Max(1, Math.Abs(want)), $"position {p} token {i}: {got} vs {want}");
                i++;
            }
            p++;
        }
        Assert.Equal(ids.Length, p);
    }

    internal static float[] FullLogits(LlamaModel m, int[] ids)
    {
        using var _ = GradMode.NoGrad();
        using var s = new TensorScope();
        var x = m.Backend.FromInts(ids, new Shape(1, ids.Length));
        var logits = m.Logits(m.Forward(x, m.Positions(1, ids.Length), ForwardContext.Inference));
        var r = new float[logits.NumElements];
        m.Backend.ToFloats(logits, r);
        return r;
    }

    [Fact]
    public void Eval_nll_on_the_tinystories_sample_matches_the_reference()
    {
        var (exit, output, err) = CliHarness.Run("eval", "--model", Model, "--text", SharedData.Require("datasets/tinystories_sample_cs336.txt"), "--json", "--device", "cpu");
        Assert.True(exit == 0, err);
        var r = JsonDocument.Parse(output).RootElement;
        var reference = JsonDocument.Parse(File.ReadAllText(SharedData.Require("stories260K/reference_nll_tinystories_sample.json"))).RootElement;
        Assert.Equal(reference.GetProperty("predicted_tokens").GetInt32(), r.GetProperty("tokens").GetInt32());
        Assert.Equal(reference.GetProperty("mean_nll_nats").GetDouble(), r.GetProperty("nll").GetDouble(), 1e-4);
        Assert.Equal(reference.GetProperty("perplexity").GetDouble(), r.GetProperty("ppl").GetDouble(), 1e-3);
    }

    [Fact]
    public void Cli_generate_json_gives_the_reference_sequence()
    {
        var (exit, output, err) = CliHarness.Run("generate", "--model", Model, "--prompt", "", "--max-new-tokens", "256", "--temperature", "0", "--json", "--device", "cpu");
        Assert.True(exit == 0, err);
        var r = JsonDocument.Parse(output).RootElement;
        var reference = JsonDocument.Parse(File.ReadAllText(SharedData.Require("stories260K/reference_greedy_256.json"))).RootElement;
        Assert.Equal(reference.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()), r.GetProperty("tokens").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(new[] { 1 }, r.GetProperty("prompt_tokens").EnumerateArray().Select(e => e.GetInt32()));
    }

    [Fact]
    public void The_q8_checkpoint_generates_close_to_the_fp32_one()
    {
        using var q8 = Load(SharedData.Require("stories260K/stories260K_q8_v2.bin"));
        using var f32 = Load();
        int[] ids = { 1, 403, 407, 261, 378 };
        var a = FullLogits(q8.Model, ids);
        var b = FullLogits(f32.Model, ids);
        // Q8_0 with groups of 8 changes weights by at most 0.007; the argmax of each position must survive.
        int v = f32.Model.Config.VocabSize;
        for (int p = 0; p < ids.Length; p++)
            Assert.Equal(Sampler.ArgMax(b.AsSpan(p * v, v)), Sampler.ArgMax(a.AsSpan(p * v, v)));
    }
}
