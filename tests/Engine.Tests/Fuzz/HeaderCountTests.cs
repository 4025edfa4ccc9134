using System.Buffers.Binary;
using System.Text;
using Engine.Api;
using Engine.Backends.Cpu;
using Engine.Checkpoints;
using Engine.Data;
using Engine.Formats;
using Engine.Models;
using Engine.Tests.Support;
using Engine.Training;

namespace Engine.Tests.Fuzz;

/// <summary>Issue 11, reproduction class 1 (header counts that used to hang or overflow) and the parser crashes the
/// fuzzer found, each on a real asset with the exact error.</summary>
public sealed class HeaderCountTests
{
    private static string PatchedCopy(TempDir tmp, string shared, string name, Action<byte[]> patch)
    {
        var bytes = File.ReadAllBytes(SharedData.Require(shared));
        patch(bytes);
        var path = tmp.File(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static void PatchGgufU32(byte[] bytes, string key, uint value)
    {
        int at = bytes.AsSpan().IndexOf(Encoding.ASCII.GetBytes(key));
        Assert.True(at > 0, key);
        at += key.Length;
        Assert.Equal(4u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at))); // GGUF type uint32
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at + 4), value);
    }

    [Fact]
    public void Llama2c_header_with_2pow31_layers_fails_at_once_with_the_size_it_implies()
    {
        using var tmp = new TempDir();
        // stories260K.bin is a legacy (version 0) file: dim, hidden_dim, n_layers, … as int32 from offset 0.
        var path = PatchedCopy(tmp, "stories260K/stories260K.bin", "stories260K.bin",
            b => BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(8), int.MaxValue));
        // The size an independent reading of run.c's layout gives: 28-byte header, fp32 weights, the legacy RoPE tables.
        long L = int.MaxValue, D = 64, H = 172, KV = 64 / 8 * 4, V = 512, seq = 512, headSize = 64 / 8;
        long expected = 28 + 4 * (V * D + L * (D + D * D + 2 * KV * D + D * D + D + 3 * H * D) + D + seq * headSize);
        var e = Assert.Throws<FileFormatException>(() => EngineModel.Inspect(path));
        Assert.Equal($"{path}: file size: expected {expected} bytes for a version 0 checkpoint with dim=64, hidden_dim=172, "
            + "n_layers=2147483647, n_heads=8, n_kv_heads=4, vocab_size=512, seq_len=512, shared_classifier=True, "
            + $"found 1056540 (truncated by {expected - 1056540} bytes)", e.Message);
    }

    [Fact]
    public void Llama2c_sizes_beyond_2pow63_bytes_are_a_header_error()
    {
        using var tmp = new TempDir();
        var path = PatchedCopy(tmp, "stories260K/stories260K.bin", "stories260K.bin", b =>
        {
            BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(0), 1 << 30); // dim (n_heads 8 still divides it)
            BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(8), int.MaxValue);
        });
        var e = Assert.Throws<FileFormatException>(() => Llama2cCheckpoint.Open(path));
        Assert.Equal($"{path}: header: its sizes imply a file of more than 2^63 bytes", e.Message);
    }

    [Fact]
    public void Gguf_block_count_2pow31_fails_at_once_for_info()
    {
        using var tmp = new TempDir();
        var path = PatchedCopy(tmp, "gguf/llama-2-tiny-random.gguf", "tiny.gguf", b => PatchGgufU32(b, "llama.block_count", int.MaxValue));
        int tensors;
        using (var g = GgufFile.Open(path)) tensors = g.Tensors.Count;
        var e = Assert.Throws<FileFormatException>(() => EngineModel.Inspect(path));
        Assert.Equal($"{path}: metadata 'llama.block_count': is 2147483647, but the file holds {tensors} tensors (each llama block has at least 9)", e.Message);
    }

    [Fact]
    public void Gguf_context_length_2pow32_minus_1_is_a_clear_error_not_an_overflow()
    {
        using var tmp = new TempDir();
        var path = PatchedCopy(tmp, "gguf/llama-2-tiny-random.gguf", "tiny.gguf", b => PatchGgufU32(b, "llama.context_length", uint.MaxValue));
        var e = Assert.Throws<FileFormatException>(() => EngineModel.Inspect(path));
        Assert.Equal($"{path}: metadata 'llama.context_length': is 4294967295; expected at most 2147483647", e.Message);
    }

    [Fact]
    public void A_context_of_2pow31_positions_loads_without_building_the_whole_rope_table()
    {
        using var tmp = new TempDir();
        // stories260K_q8_v2.bin: version 2 header, seq_len at offset 32 (it does not enter the file size).
        var path = PatchedCopy(tmp, "stories260K/stories260K_q8_v2.bin", "stories260K_q8_v2.bin",
            b => BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(32), int.MaxValue));
        using var m = ModelLoader.Load(path, CpuBackend.Instance, new WeightOptions());
        Assert.Equal(int.MaxValue, m.Model.Config.MaxPositionEmbeddings);
        Assert.Equal(RopeTables.InitialPositions, m.Model.Rope.Positions);
    }

    [Fact]
    public void Rope_tables_grow_to_the_same_values_a_full_table_has()
    {
        var be = CpuBackend.Instance;
        using var small = new RopeTables(be, 10_000, 8, 10000);
        using var full = new RopeTables(be, 5_000, 8, 10000);
        full.EnsurePositions(5_000);
        small.EnsurePositions(4_097);
        Assert.Equal(8192, small.Positions);
        var a = new float[small.Cos.NumElements];
        var b = new float[full.Cos.NumElements];
        be.ToFloats(small.Cos, a);
        be.ToFloats(full.Cos, b);
        Assert.Equal(b, a.AsSpan(0, b.Length).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => small.EnsurePositions(10_001));
    }

    [Fact]
    public void Config_json_that_is_not_utf8_names_the_file_and_byte()
    {
        using var tmp = new TempDir();
        var path = tmp.File("config.json");
        File.WriteAllBytes(path, [.. "{\"model_type\": \"ll"u8, 0xFF, .. "ama\"}"u8]);
        var e = Assert.Throws<FileFormatException>(() => LlamaConfig.FromHfJson(path));
        Assert.Equal($"{path}: JSON: is not valid UTF-8 (at byte 18)", e.Message);
    }

    [Fact]
    public void Config_json_with_an_escaped_lone_surrogate_or_a_repeated_key_names_the_file()
    {
        using var tmp = new TempDir();
        var path = tmp.File("config.json");
        File.WriteAllText(path, "{\"model_type\": \"\\ud800\"}");
        Assert.Equal($"{path}: JSON: the string at $.model_type is not valid text (not UTF-8, or an escaped lone surrogate)",
            Assert.Throws<FileFormatException>(() => LlamaConfig.FromHfJson(path)).Message);
        File.WriteAllText(path, "{\"hidden_size\": 8, \"hidden_size\": 16}");
        Assert.Equal($"{path}: JSON: the key \"hidden_size\" appears twice in $",
            Assert.Throws<FileFormatException>(() => LlamaConfig.FromHfJson(path)).Message);
    }

    [Fact]
    public void Safetensors_header_with_bytes_that_are_not_utf8_names_the_file()
    {
        using var tmp = new TempDir();
        var header = "{\"w\u00e9\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
        var bytes = Encoding.UTF8.GetBytes(header);
        bytes[4] = 0xFF; // the first byte of 'é' (C3 A9) replaced: not UTF-8
        var path = tmp.File("bad.safetensors");
        File.WriteAllBytes(path, [.. BitConverter.GetBytes((ulong)bytes.Length), .. bytes, 0, 0, 0, 0]);
        var e = Assert.Throws<FileFormatException>(() => SafeTensorsFile.Open(path));
        Assert.Equal($"{path}: header JSON: a key in $ is not valid text (not UTF-8, or an escaped lone surrogate)", e.Message);
    }

    [Fact]
    public void Jsonl_data_with_bytes_that_are_not_utf8_names_the_file_and_record()
    {
        using var tmp = new TempDir();
        var path = tmp.File("data.jsonl");
        File.WriteAllBytes(path, [.. "{\"text\": \"fine\"}\n{\"text\": \"bad "u8, 0xC3, .. "\"}\n"u8]);
        var e = Assert.Throws<DataFormatException>(() => DataReader.Read(path));
        Assert.Contains(path, e.Message);
        // The streaming reader checks UTF-8 before JSON parsing: it names the record, line and byte.
        Assert.Contains("record 1: not valid UTF-8 at line 2, byte ", e.Message);
        Assert.Equal(1, e.Record);
    }

    [Fact]
    public void Adapter_config_with_a_string_lora_alpha_or_numeric_target_names_the_field()
    {
        using var tmp = new TempDir();
        var path = tmp.File("adapter_config.json");
        File.WriteAllText(path, "{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": \"16\", \"target_modules\": [\"q_proj\"]}");
        Assert.Equal($"{path}: lora_alpha: expected a number, got \"16\"",
            Assert.Throws<FileFormatException>(() => PeftAdapterIO.ReadConfig(tmp.Path)).Message);
        File.WriteAllText(path, "{\"peft_type\": \"LORA\", \"r\": 4, \"target_modules\": [\"q_proj\", 7]}");
        Assert.Equal($"{path}: target_modules: expected module names, got 7",
            Assert.Throws<FileFormatException>(() => PeftAdapterIO.ReadConfig(tmp.Path)).Message);
        File.WriteAllText(path, "{\"peft_type\": 5, \"r\": 4, \"target_modules\": [\"q_proj\"]}");
        Assert.Equal($"{path}: peft_type: expected a string, got 5",
            Assert.Throws<FileFormatException>(() => PeftAdapterIO.ReadConfig(tmp.Path)).Message);
    }

    [Fact]
    public void Trainer_state_with_a_bad_or_missing_data_position_names_the_file()
    {
        using var tmp = new TempDir();
        var path = tmp.File("trainer_state.json");
        File.WriteAllText(path, "{\"global_step\": 4, \"data_position\": \"0<40\"}");
        Assert.Equal($"{path}: data_position: invalid data loader position \"0<40\"; expected \"epoch:batch\" with non-negative integers",
            Assert.Throws<FileFormatException>(() => TrainerState.Read(path)).Message);
        File.WriteAllText(path, "{\"global_step\": 4, \"data_position\": null}");
        Assert.Equal($"{path}: data_position: missing; expected \"epoch:batch\"",
            Assert.Throws<FileFormatException>(() => TrainerState.Read(path)).Message);
    }
}
