using System.Text.Json.Nodes;
using Engine.Models;

namespace Engine.Tests.Models;

/// <summary>config.json fields engine does not implement are refused by name, never ignored.</summary>
public class ConfigValidationTests
{
    private static JsonObject Base() => new()
    {
        ["architectures"] = new JsonArray("LlamaForCausalLM"), ["model_type"] = "llama", ["hidden_size"] = 64, ["intermediate_size"] = 172,
        ["num_hidden_layers"] = 2, ["num_attention_heads"] = 8, ["vocab_size"] = 512, ["hidden_act"] = "silu",
        ["attention_bias"] = false, ["mlp_bias"] = false, ["rope_scaling"] = null, ["attention_dropout"] = 0.0, ["tie_word_embeddings"] = false,
    };

    [Fact]
    public void A_plain_llama_config_loads()
    {
        var c = LlamaConfig.FromHfJson(Base(), "config.json");
        Assert.Equal(64, c.HiddenSize);
        var noOptional = Base();
        foreach (var k in new[] { "architectures", "model_type", "hidden_act", "attention_bias", "mlp_bias", "rope_scaling", "attention_dropout" }) noOptional.Remove(k);
        Assert.Equal(64, LlamaConfig.FromHfJson(noOptional, "config.json").HiddenSize);
        Assert.Equal(64, LlamaConfig.FromHfJson(Set(Base(), "hidden_act", "swish"), "config.json").HiddenSize);
    }

    public static TheoryData<string, string, string> Unsupported => new()
    {
        { "hidden_act", "\"gelu\"", "config.json: hidden_act: engine implements only \"silu\" (SwiGLU); got \"gelu\"" },
        { "rope_scaling", """{"rope_type":"dynamic","factor":2.0}""", "config.json: rope_scaling.rope_type: RoPE scaling \"dynamic\" is not supported; engine implements \"default\", \"linear\", \"llama3\" and \"yarn\"" },
        { "rope_scaling", """{"type":"longrope","short_factor":[1.0],"long_factor":[1.0]}""", "config.json: rope_scaling.type: RoPE scaling \"longrope\" is not supported; engine implements \"default\", \"linear\", \"llama3\" and \"yarn\"" },
        { "rope_scaling", """{"rope_type":"linear","factor":2.0,"low_freq_factor":1.0}""", "config.json: rope_scaling.low_freq_factor: is not used by rope_type \"linear\" in engine (got 1.0); remove it or use a supported type" },
        { "rope_scaling", """{"rope_type":"llama3","factor":8.0}""", "config.json: rope_scaling.low_freq_factor: missing; rope_type \"llama3\" needs it" },
        { "rope_scaling", """{"rope_type":"yarn","factor":4.0,"type":"linear"}""", "config.json: rope_scaling.type: \"linear\" disagrees with rope_type \"yarn\"" },
        { "rope_scaling", "\"linear\"", "config.json: rope_scaling: expected an object such as {\"rope_type\": \"llama3\", ...}, got \"linear\"" },
        { "model_type", "\"gpt2\"", "config.json: model_type: engine runs \"llama\", \"mistral\", \"qwen2\", \"qwen3\" models; got \"gpt2\"" },
        { "model_type", "\"gemma\"", "config.json: model_type: engine runs \"llama\", \"mistral\", \"qwen2\", \"qwen3\" models; got \"gemma\"" },
        { "architectures", "[\"GPT2LMHeadModel\"]", "config.json: architectures: engine runs LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM; got \"GPT2LMHeadModel\"" },
        { "architectures", "[\"Qwen2ForCausalLM\"]", "config.json: architectures: \"Qwen2ForCausalLM\" does not match model_type \"llama\" (expected \"LlamaForCausalLM\")" },
        { "architectures", "\"LlamaForCausalLM\"", "config.json: architectures: expected a list such as [\"LlamaForCausalLM\"], got \"LlamaForCausalLM\"" },
        { "partial_rotary_factor", "0.5", "config.json: partial_rotary_factor: only 1 (RoPE on the whole head) is supported, got 0.5" },
        { "sliding_window", "4096", "config.json: sliding_window: Llama models have no sliding window; got 4096" },
        { "tie_word_embeddings", "\"yes\"", "config.json: tie_word_embeddings: expected true or false, got \"yes\"" },
        { "attention_dropout", "0.1", "config.json: attention_dropout: only 0 is supported, got 0.1" },
        { "rms_norm_eps", "1e300", "config.json: rms_norm_eps: 1e300 is out of range for a 32-bit float" },
    };

    [Theory]
    [MemberData(nameof(Unsupported))]
    public void An_unsupported_field_is_refused_by_name(string field, string json, string message)
    {
        var o = Set(Base(), field, JsonNode.Parse(json));
        var e = Assert.Throws<FileFormatException>(() => LlamaConfig.FromHfJson(o, "config.json"));
        Assert.Equal(message, e.Message);
    }

    private static JsonObject Set(JsonObject o, string key, JsonNode? value)
    {
        o[key] = value;
        return o;
    }
}
