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
        { "attention_bias", "true", "config.json: attention_bias: true is not supported (engine's attention projections have no bias)" },
        { "mlp_bias", "true", "config.json: mlp_bias: true is not supported (engine's MLP projections have no bias)" },
        { "rope_scaling", """{"rope_type":"llama3","factor":8.0}""", "config.json: rope_scaling: RoPE scaling (\"llama3\") is not supported yet" },
        { "rope_scaling", "\"linear\"", "config.json: rope_scaling: RoPE scaling (\"linear\") is not supported yet" },
        { "model_type", "\"gpt2\"", "config.json: model_type: engine runs \"llama\" models; got \"gpt2\"" },
        { "model_type", "\"mistral\"", "config.json: model_type: engine runs \"llama\" models; got \"mistral\"" },
        { "architectures", "[\"GPT2LMHeadModel\"]", "config.json: architectures: engine runs LlamaForCausalLM; got \"GPT2LMHeadModel\"" },
        { "architectures", "\"LlamaForCausalLM\"", "config.json: architectures: expected a list such as [\"LlamaForCausalLM\"], got \"LlamaForCausalLM\"" },
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
