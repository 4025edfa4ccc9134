using System.Text.Json.Nodes;
using Engine.Api;
using Engine.Tests.Models;
using Engine.Tests.Support;

namespace Engine.Tests.Api;

/// <summary><c>generate --chat</c>: the prompt is the model's own chat template with the generation prompt, tokenized
/// as Hugging Face's <c>apply_chat_template(add_generation_prompt=True)</c> does (the expected ids below were produced
/// by transformers.js 4.3.2 from the same tokenizer files), and generation stops at any end-of-sequence id of
/// config.json, generation_config.json or the template's end-of-turn tokens.
/// <para>The model is built so that greedy decoding always picks one chosen token: o_proj and down_proj are zero (the
/// residual stream stays the token's embedding), every embedding row is the same vector e, so the final hidden state is
/// always RMSNorm(e) = u, and the LM head's row for the chosen token is 5·u while the others are small.</para></summary>
public class ChatGenerateTests
{
    private const int Vocab = 128256, Hidden = 16;

    private static string MakeModel(TempDir dir, string tokenizerFolder, int forcedToken, JsonNode eosIds, JsonNode? generationEos, int vocab = Vocab)
    {
        var spec = FamilySpec.Llama3(tie: false) with { Hidden = Hidden, Intermediate = 16, Layers = 1, Heads = 2, KvHeads = 1, Vocab = vocab, MaxPositions = 256 };
        spec.Extra["bos_token_id"] = 128000;
        spec.Extra["eos_token_id"] = eosIds.DeepClone();
        var w = spec.RandomWeights(5, std: 0.1);
        foreach (var name in w.Keys.Where(n => n.Contains("o_proj") || n.Contains("down_proj")).ToList()) Array.Clear(w[name]);
        var e = Enumerable.Range(0, Hidden).Select(i => 1f + 0.1f * i).ToArray();
        var embed = w["model.embed_tokens.weight"];
        for (int r = 0; r < vocab; r++) e.CopyTo(embed, r * Hidden);
        Array.Fill(w["model.norm.weight"], 1f);
        double rms = Math.Sqrt(e.Select(x => (double)x * x).Average() + 1e-6);
        var head = w["lm_head.weight"];
        for (int i = 0; i < head.Length; i++) head[i] *= 0.01f;
        for (int i = 0; i < Hidden; i++) head[forcedToken * Hidden + i] = (float)(5 * e[i] / rms);
        var folder = Path.Combine(dir.Path, "model");
        spec.WriteHfFolder(folder, w);
        foreach (var f in new[] { "tokenizer.json", "tokenizer_config.json" })
            File.Copy(SharedData.Require($"hf-tokenizers/{tokenizerFolder}/{f}"), Path.Combine(folder, f));
        if (generationEos is not null)
            File.WriteAllText(Path.Combine(folder, "generation_config.json"), new JsonObject { ["eos_token_id"] = generationEos.DeepClone() }.ToJsonString());
        return folder;
    }

    private static readonly GenerationOptions Greedy = new() { Temperature = 0, MaxNewTokens = 6, Chat = true };

    [Fact]
    public void Llama31_chat_prompt_is_hf_apply_chat_template_and_stops_at_a_config_eos()
    {
        using var dir = new TempDir();
        var folder = MakeModel(dir, "llama3_1", forcedToken: 128008, new JsonArray(128001, 128008, 128009), null);
        using var m = EngineModel.Load(folder, new ModelOptions { Device = "cpu" });

        var r = m.Generate("Hi there", Greedy);
        Assert.Equal(new[] { 128000, 128006, 882, 128007, 271, 13347, 1070, 128009, 128006, 78191, 128007, 271 }, r.PromptTokens);
        Assert.Equal(1, r.NewTokens); // <|eom_id|>, the second of config.json's three ids
        Assert.Equal(128008, r.Tokens[^1]);

        var withSystem = m.Generate("Hi there", Greedy with { System = "Be brief." });
        Assert.Equal(new[] { 128000, 128006, 9125, 128007, 271, 3513, 10015, 13, 128009, 128006, 882, 128007, 271, 13347, 1070, 128009, 128006, 78191, 128007, 271 },
            withSystem.PromptTokens);

        var ignored = m.Generate("Hi there", Greedy with { IgnoreEos = true });
        Assert.Equal(6, ignored.NewTokens);
    }

    [Fact]
    public void Qwen3_chat_prompt_has_no_bos_and_stops_at_the_tokenizer_eos()
    {
        using var dir = new TempDir();
        // config.json names only <|endoftext|> (151643); tokenizer_config.json's eos_token is <|im_end|> (151645), the
        // forced token. The vocabulary is the tokenizer's 151669 tokens padded to 151936, as Qwen pads it.
        var folder = MakeModel(dir, "qwen3", forcedToken: 151645, JsonValue.Create(151643), null, vocab: 151936);
        using var m = EngineModel.Load(folder, new ModelOptions { Device = "cpu" });
        var r = m.Generate("Hi there", Greedy with { System = "Be brief." });
        Assert.Equal(new[] { 151644, 8948, 198, 3430, 9814, 13, 151645, 198, 151644, 872, 198, 13048, 1052, 151645, 198, 151644, 77091, 198 }, r.PromptTokens);
        Assert.Equal(1, r.NewTokens);
        var plain = m.Generate("Hi there", Greedy with { Chat = false });
        Assert.Equal(new[] { 13048, 1052 }, plain.PromptTokens); // no BOS: Qwen's tokenizer adds none
        Assert.Equal(1, plain.NewTokens);
    }

    [Fact]
    public void Generation_config_eos_ids_stop_generation()
    {
        using var dir = new TempDir();
        // The forced token, <|im_start|> (151644), ends a sequence only because generation_config.json lists it.
        var folder = MakeModel(dir, "qwen3", forcedToken: 151644, JsonValue.Create(151643), new JsonArray(151644), vocab: 151936);
        using (var m = EngineModel.Load(folder, new ModelOptions { Device = "cpu" }))
            Assert.Equal(1, m.Generate("Hi there", Greedy with { Chat = false }).NewTokens);
        File.Delete(Path.Combine(folder, "generation_config.json"));
        using (var m = EngineModel.Load(folder, new ModelOptions { Device = "cpu" }))
        {
            Assert.Equal(6, m.Generate("Hi there", Greedy with { Chat = false }).NewTokens);
            Assert.Equal(6, m.Generate("Hi there", Greedy).NewTokens);
        }
    }

    [Fact]
    public void Chat_needs_a_template_and_system_needs_chat()
    {
        using var dir = new TempDir();
        var folder = MakeModel(dir, "llama3_1", forcedToken: 128008, new JsonArray(128001), null);
        var configPath = Path.Combine(folder, "tokenizer_config.json");
        var config = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        config.Remove("chat_template");
        File.WriteAllText(configPath, config.ToJsonString());
        using var m = EngineModel.Load(folder, new ModelOptions { Device = "cpu" });
        var e = Assert.Throws<EngineException>(() => m.Generate("Hi", Greedy));
        Assert.Contains("--chat needs the model's chat template", e.Message);
        Assert.Contains("chat_template.jinja", e.Message);
        var s = Assert.Throws<EngineException>(() => m.Generate("Hi", new GenerationOptions { System = "x" }));
        Assert.Contains("--system needs --chat", s.Message);
    }
}
