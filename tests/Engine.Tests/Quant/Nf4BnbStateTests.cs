using System.Text;
using Engine.Checkpoints;
using Engine.Formats;
using Engine.Quant;
using Engine.Tensors;

namespace Engine.Tests.Quant;

public class Nf4BnbStateTests
{
    private static Nf4Weight Weight(int rows, int cols, bool doubleQuant, ulong seed = 51)
    {
        var rng = new Rng(seed);
        var w = new float[rows * cols];
        for (int i = 0; i < w.Length; i++) w[i] = (float)rng.NextNormal() * 0.02f;
        return Nf4Weight.Quantize(w, rows, cols, doubleQuant);
    }

    [Fact]
    public void Double_quantized_state_has_bnb_names_dtypes_and_shapes()
    {
        var q = Weight(40, 96, doubleQuant: true); // 3840 elements, 60 blocks
        var state = q.ToBnbState();
        Assert.Equal(new[]
        {
            "weight", "weight.absmax", "weight.quant_map", "weight.nested_absmax", "weight.nested_quant_map",
            "weight.quant_state.bitsandbytes__nf4",
        }, state.Select(t => t.Name));
        Assert.Equal(new[] { "U8", "U8", "F32", "F32", "F32", "U8" }, state.Select(t => t.DType));
        Assert.Equal(new[] { 1920, 1 }, state[0].Shape);
        Assert.Equal(new[] { 60 }, state[1].Shape);
        Assert.Equal(new[] { 16 }, state[2].Shape);
        Assert.Equal(new[] { 1 }, state[3].Shape);
        Assert.Equal(new[] { 256 }, state[4].Shape);
        Assert.Equal(q.Packed, state[0].Data);
        Assert.Equal(BitConverter.GetBytes(-0.6961928009986877f), state[2].Data[4..8]);
        Assert.Equal(BitConverter.GetBytes(DynamicQuantMap.Signed[255]), state[4].Data[1020..1024]);

        string json = Encoding.UTF8.GetString(state[5].Data);
        string offset = Nf4PythonFloat.Repr(q.Nested!.Offset);
        Assert.Equal("{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"bfloat16\", \"shape\": [40, 96], " +
            "\"nested_blocksize\": 256, \"nested_dtype\": \"float32\", \"nested_offset\": " + offset + "}", json);
        Assert.Equal(new[] { state[5].Data.Length }, state[5].Shape);
    }

    [Fact]
    public void Plain_state_stores_fp32_absmax_and_no_nested_keys()
    {
        var q = Weight(2, 64, doubleQuant: false);
        var state = q.ToBnbState();
        Assert.Equal(new[] { "weight", "weight.absmax", "weight.quant_map", "weight.quant_state.bitsandbytes__nf4" },
            state.Select(t => t.Name));
        Assert.Equal("F32", state[1].DType);
        Assert.Equal(BitConverter.GetBytes(q.Absmax![1]), state[1].Data[4..8]);
        Assert.Equal("{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"bfloat16\", \"shape\": [2, 64]}",
            Encoding.UTF8.GetString(state[3].Data));
    }

    [Fact]
    public void Offset_is_written_as_python_repr_of_the_fp32_value()
    {
        var packed = new byte[64];
        var nested = new Nf4NestedAbsmax(new byte[2], new float[1], 0.0123f, DynamicQuantMap.Signed.ToArray());
        var q = new Nf4Weight(2, 64, 64, packed, null, nested);
        Assert.EndsWith("\"nested_offset\": 0.012299999594688416}", Encoding.UTF8.GetString(q.QuantStateJson()));
    }

    [Theory]
    // Expected strings are CPython's repr() of the same doubles.
    [InlineData(0.1, "0.1")]
    [InlineData(1e-05, "1e-05")]
    [InlineData(1.5e-07, "1.5e-07")]
    [InlineData(0.0001, "0.0001")]
    [InlineData(123.0, "123.0")]
    [InlineData(1e16, "1e+16")]
    [InlineData(1e15, "1000000000000000.0")]
    [InlineData(1234567890123456789.0, "1.2345678901234568e+18")]
    [InlineData(0.10000000149011612, "0.10000000149011612")]
    [InlineData(-0.00042, "-0.00042")]
    [InlineData(2.9999999242136255e-05, "2.9999999242136255e-05")]
    [InlineData(5e-324, "5e-324")]
    [InlineData(1.7976931348623157e308, "1.7976931348623157e+308")]
    [InlineData(12345.678, "12345.678")]
    [InlineData(0.0, "0.0")]
    [InlineData(-0.0, "-0.0")]
    [InlineData(double.NaN, "NaN")]
    [InlineData(double.NegativeInfinity, "-Infinity")]
    public void Python_float_repr(double value, string expected) => Assert.Equal(expected, Nf4PythonFloat.Repr(value));

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Round_trip_through_the_bnb_state(bool doubleQuant)
    {
        var q = Weight(33, 70, doubleQuant); // 2310 elements: a partial last block
        var back = Nf4BnbState.FromBnbState(q.ToBnbState(), "model.safetensors", "model.layers.0.mlp.up_proj.");
        Assert.Equal(q.Rows, back.Rows);
        Assert.Equal(q.Cols, back.Cols);
        Assert.Equal(q.BlockSize, back.BlockSize);
        Assert.Equal(q.OriginalDType, back.OriginalDType);
        Assert.Equal(q.Packed, back.Packed);
        Assert.Equal(q.Absmax, back.Absmax);
        if (doubleQuant)
        {
            Assert.Equal(q.Nested!.Codes, back.Nested!.Codes);
            Assert.Equal(q.Nested.Absmax, back.Nested.Absmax);
            Assert.Equal(q.Nested.Offset, back.Nested.Offset);
            Assert.Equal(q.Nested.CodeMap, back.Nested.CodeMap);
        }
        var a = new float[q.Count];
        var b = new float[q.Count];
        q.Dequantize(a);
        back.Dequantize(b);
        Assert.Equal(a, b);
        Assert.Equal(q.ToBnbState().Select(t => t.Data), back.ToBnbState().Select(t => t.Data));
    }

    [Fact]
    public void Reads_from_a_tensor_source_by_prefix()
    {
        var q = Weight(8, 64, doubleQuant: true);
        const string prefix = "model.layers.3.self_attn.q_proj.";
        var source = new MemorySource("adapter.safetensors",
            q.ToBnbState().Select(t => t with { Name = prefix + t.Name }).Append(
                new Nf4BnbTensor(prefix + "bias", "F32", [8], new byte[32])));
        var back = Nf4BnbState.FromBnbState(source, prefix);
        Assert.Equal(q.Packed, back.Packed);
        Assert.Equal(q.Nested!.Codes, back.Nested!.Codes);
    }

    [Fact]
    public void Bad_states_name_the_file_and_tensor()
    {
        const string path = "m.safetensors", prefix = "lm.";
        var good = Weight(4, 64, doubleQuant: true).ToBnbState();

        List<Nf4BnbTensor> Without(string name) => good.Where(t => t.Name != name).ToList();
        List<Nf4BnbTensor> Replace(string name, Nf4BnbTensor t) => good.Select(x => x.Name == name ? t : x).ToList();
        List<Nf4BnbTensor> WithJson(string json) => Replace(Nf4BnbState.QuantStateName,
            new Nf4BnbTensor(Nf4BnbState.QuantStateName, "U8", [json.Length], Encoding.UTF8.GetBytes(json)));
        void Fails(List<Nf4BnbTensor> tensors, string what, string fragment)
        {
            var e = Assert.Throws<FileFormatException>(() => Nf4BnbState.FromBnbState(tensors, path, prefix));
            Assert.Equal(path, e.FilePath);
            Assert.Equal(prefix + what, e.What);
            Assert.Contains(fragment, e.Message);
        }

        Fails(Without("weight.nested_absmax"), "weight.nested_absmax", "missing");
        Fails(Without(Nf4BnbState.QuantStateName), Nf4BnbState.QuantStateName, "missing");
        Fails(Replace("weight.absmax", new Nf4BnbTensor("weight.absmax", "F32", [4], new byte[16])), "weight.absmax", "expected U8");
        Fails(Replace("weight.absmax", new Nf4BnbTensor("weight.absmax", "U8", [3], new byte[3])), "weight.absmax", "expected 4");
        Fails(Replace("weight", new Nf4BnbTensor("weight", "U8", [128, 1], new byte[100])), "weight", "has 100 bytes");
        Fails(Replace("weight.quant_map", new Nf4BnbTensor("weight.quant_map", "F32", [16], new byte[64])), "weight.quant_map", "entry 0");
        Fails(WithJson("{not json"), Nf4BnbState.QuantStateName, "not valid JSON");
        Fails(WithJson("{\"quant_type\": \"fp4\", \"blocksize\": 64}"), Nf4BnbState.QuantStateName, "expected 'nf4'");
        Fails(WithJson("{\"quant_type\": \"nf4\", \"blocksize\": 48, \"dtype\": \"bfloat16\", \"shape\": [4, 64]}"),
            Nf4BnbState.QuantStateName, "blocksize 48");
        Fails(WithJson("{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"bfloat16\", \"shape\": [256]}"),
            Nf4BnbState.QuantStateName, "two dimensions");
        Fails(WithJson("{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"bfloat16\", \"shape\": [4, 64], " +
            "\"nested_blocksize\": 256, \"nested_dtype\": \"float16\", \"nested_offset\": 0.5}"), Nf4BnbState.QuantStateName, "float16");
        Fails(WithJson("{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"bfloat16\", \"shape\": [4, 65], " +
            "\"nested_blocksize\": 256, \"nested_dtype\": \"float32\", \"nested_offset\": 0.5}"), "weight", "expected 130");
        var fp4 = good.Append(new Nf4BnbTensor("weight.quant_state.bitsandbytes__fp4", "U8", [2], new byte[2])).ToList();
        Fails(fp4, "weight.quant_state.bitsandbytes__fp4", "FP4");
    }

    private sealed class MemorySource(string path, IEnumerable<Nf4BnbTensor> tensors) : ITensorSource
    {
        private readonly Dictionary<string, Nf4BnbTensor> _tensors = tensors.ToDictionary(t => t.Name);
        public string Path { get; } = path;
        public IReadOnlyCollection<string> Names => _tensors.Keys;
        public bool Contains(string name) => _tensors.ContainsKey(name);

        public TensorEntry Info(string name)
        {
            var t = _tensors[name];
            return new TensorEntry(name, t.Shape, t.DType == "U8" ? DType.U8 : DType.F32);
        }

        public void ReadFloats(string name, Span<float> dst) => throw new NotSupportedException();
        public ReadOnlySpan<byte> ReadBytes(string name) => _tensors[name].Data;
        public void Dispose() { }
    }
}
