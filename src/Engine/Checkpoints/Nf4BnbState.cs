using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text;
using Engine.Formats;
using Engine.Quant;
using Engine.Tensors;

namespace Engine.Checkpoints;

/// <summary>
/// bitsandbytes serialization of a 4-bit weight, as <c>Linear4bit._save_to_state_dict</c> writes it through
/// <c>QuantState.as_dict(packed=True)</c> (bitsandbytes/functional.py) and <c>pack_dict_to_tensor</c>
/// (bitsandbytes/utils.py: <c>json.dumps</c> of the non-tensor items, stored as a uint8 tensor).
/// </summary>
internal static class Nf4BnbState
{
    public const string QuantStateName = "weight.quant_state.bitsandbytes__nf4";

    private static readonly string[] KnownNames =
    [
        "weight", "weight.absmax", "weight.quant_map", "weight.nested_absmax", "weight.nested_quant_map", QuantStateName,
    ];

    /// <summary>The tensors bitsandbytes/HF save for this weight, in bnb's order: <c>weight</c> (U8 [(n+1)/2, 1]),
    /// <c>weight.absmax</c> (U8 codes when double-quantized, else F32), <c>weight.quant_map</c> (F32[16]),
    /// <c>weight.nested_absmax</c> and <c>weight.nested_quant_map</c> (F32, double-quantized only) and
    /// <c>weight.quant_state.bitsandbytes__nf4</c> (U8 bytes of the JSON bnb writes, byte for byte).</summary>
    public static IReadOnlyList<Nf4BnbTensor> ToBnbState(this Nf4Weight w)
    {
        var list = new List<Nf4BnbTensor> { new("weight", "U8", [w.Packed.Length, 1], w.Packed) };
        if (w.Nested is { } n)
        {
            list.Add(new("weight.absmax", "U8", [n.Codes.Length], n.Codes));
            list.Add(FloatTensor("weight.quant_map", Nf4.CodeValues));
            list.Add(FloatTensor("weight.nested_absmax", n.Absmax));
            list.Add(FloatTensor("weight.nested_quant_map", n.CodeMap));
        }
        else
        {
            list.Add(FloatTensor("weight.absmax", w.Absmax!));
            list.Add(FloatTensor("weight.quant_map", Nf4.CodeValues));
        }
        var json = w.QuantStateJson();
        list.Add(new(QuantStateName, "U8", [json.Length], json));
        return list;
    }

    /// <summary>The quant-state JSON exactly as bnb's <c>json.dumps</c> writes it (key order of <c>as_dict</c>).</summary>
    public static byte[] QuantStateJson(this Nf4Weight w)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append("{\"quant_type\": \"nf4\", \"blocksize\": ").Append(w.BlockSize.ToString(inv))
            .Append(", \"dtype\": \"").Append(w.OriginalDType)
            .Append("\", \"shape\": [").Append(w.Rows.ToString(inv)).Append(", ").Append(w.Cols.ToString(inv)).Append(']');
        if (w.Nested is { } n)
        {
            sb.Append(", \"nested_blocksize\": ").Append(n.BlockSize.ToString(inv))
                .Append(", \"nested_dtype\": \"float32\", \"nested_offset\": ").Append(Nf4PythonFloat.Repr(n.Offset));
        }
        sb.Append('}');
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    /// <summary>Reads the tensors of one bnb NF4 weight from a tensor file: <paramref name="prefix"/> + "weight",
    /// prefix + "weight.absmax", and so on (prefix e.g. "model.layers.0.mlp.down_proj.").</summary>
    public static Nf4Weight FromBnbState(ITensorSource source, string prefix)
    {
        var tensors = new List<Nf4BnbTensor>();
        foreach (var name in KnownNames.Append("weight.quant_state.bitsandbytes__fp4"))
        {
            if (!source.Contains(prefix + name)) continue;
            var info = source.Info(prefix + name);
            string dtype = info.DType switch { DType.U8 => "U8", DType.F32 => "F32", _ => info.DType.Name() };
            tensors.Add(new Nf4BnbTensor(name, dtype, info.Shape, source.ReadBytes(prefix + name).ToArray()));
        }
        return FromBnbState(tensors, source.Path, prefix);
    }

    /// <summary>The inverse of <see cref="ToBnbState(Nf4Weight)"/>. Tensor names are relative ("weight", "weight.absmax", …);
    /// others are ignored. Errors name <paramref name="path"/> and <paramref name="prefix"/> + the tensor.</summary>
    public static Nf4Weight FromBnbState(IEnumerable<Nf4BnbTensor> tensors, string path, string prefix = "")
    {
        var byName = new Dictionary<string, Nf4BnbTensor>();
        foreach (var t in tensors)
        {
            if (t.Name == "weight.quant_state.bitsandbytes__fp4")
                throw new FileFormatException(path, prefix + t.Name, "FP4 4-bit weights are not supported, only NF4");
            if (Array.IndexOf(KnownNames, t.Name) >= 0 && !byName.TryAdd(t.Name, t))
                throw new FileFormatException(path, prefix + t.Name, "appears twice");
        }
        var state = ReadQuantState(Require(byName, QuantStateName, "U8", path, prefix), path, prefix);
        long count = (long)state.Rows * state.Cols;
        int blocks = Nf4Quantizer.BlockCount(count, state.BlockSize);

        var weight = Require(byName, "weight", "U8", path, prefix);
        CheckLength(weight, Nf4Quantizer.PackedLength(count), 1, path, prefix);
        var quantMap = ReadFloats(Require(byName, "weight.quant_map", "F32", path, prefix), 16, path, prefix);
        for (int i = 0; i < 16; i++)
        {
            if (!(Math.Abs(quantMap[i] - Nf4.CodeValues[i]) <= 1e-6f))
                throw new FileFormatException(path, prefix + "weight.quant_map",
                    $"entry {i} is {quantMap[i]}, the NF4 code value is {Nf4.CodeValues[i]}");
        }

        if (state.NestedBlockSize is not { } nestedBlockSize)
        {
            var absmax = ReadFloats(Require(byName, "weight.absmax", "F32", path, prefix), blocks, path, prefix);
            return new Nf4Weight(state.Rows, state.Cols, state.BlockSize, weight.Data, absmax, null, state.DType);
        }
        var codes = Require(byName, "weight.absmax", "U8", path, prefix);
        CheckLength(codes, blocks, 1, path, prefix);
        var nestedAbsmax = ReadFloats(Require(byName, "weight.nested_absmax", "F32", path, prefix),
            Nf4Quantizer.BlockCount(blocks, nestedBlockSize), path, prefix);
        var codeMap = ReadFloats(Require(byName, "weight.nested_quant_map", "F32", path, prefix), 256, path, prefix);
        var nested = new Nf4NestedAbsmax(codes.Data, nestedAbsmax, state.NestedOffset, codeMap, nestedBlockSize);
        return new Nf4Weight(state.Rows, state.Cols, state.BlockSize, weight.Data, null, nested, state.DType);
    }

    private sealed record QuantState(int Rows, int Cols, int BlockSize, string DType, int? NestedBlockSize, float NestedOffset);

    private static QuantState ReadQuantState(Nf4BnbTensor tensor, string path, string prefix)
    {
        string what = prefix + tensor.Name;
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(tensor.Data);
            if (JsonText.FindInvalidString(doc.RootElement) is string bad) { doc.Dispose(); throw new FileFormatException(path, what, bad); }
        }
        catch (JsonException e)
        {
            throw new FileFormatException(path, what, "is not valid JSON: " + e.Message, e);
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new FileFormatException(path, what, "JSON is not an object");
            string quantType = ReadString(root, "quant_type", path, what);
            if (quantType != "nf4") throw new FileFormatException(path, what, $"quant_type is '{quantType}', expected 'nf4'");
            int blockSize = ReadInt(root, "blocksize", path, what);
            if (blockSize < 32 || blockSize > 4096 || !System.Numerics.BitOperations.IsPow2(blockSize))
                throw new FileFormatException(path, what, $"blocksize {blockSize} is not a power of two from 32 to 4096");
            string dtype = ReadString(root, "dtype", path, what);
            if (!Nf4Weight.IsKnownDType(dtype))
                throw new FileFormatException(path, what, $"dtype '{dtype}' is not one of bfloat16, float16, float32");
            if (!root.TryGetProperty("shape", out var shape) || shape.ValueKind != JsonValueKind.Array || shape.GetArrayLength() != 2)
                throw new FileFormatException(path, what, "shape must be a list of two dimensions [out_features, in_features]");
            int rows = Dim(shape[0], path, what), cols = Dim(shape[1], path, what);
            if ((long)rows * cols > 2L * int.MaxValue)
                throw new FileFormatException(path, what, $"shape [{rows}, {cols}] is too large");

            if (!root.TryGetProperty("nested_offset", out var offsetElement))
                return new QuantState(rows, cols, blockSize, dtype, null, 0f);
            int nestedBlockSize = ReadInt(root, "nested_blocksize", path, what);
            if (nestedBlockSize < 64 || nestedBlockSize > 4096 || !System.Numerics.BitOperations.IsPow2(nestedBlockSize))
                throw new FileFormatException(path, what, $"nested_blocksize {nestedBlockSize} is not a power of two from 64 to 4096");
            string nestedDType = ReadString(root, "nested_dtype", path, what);
            if (nestedDType != "float32")
                throw new FileFormatException(path, what, $"nested_dtype is '{nestedDType}', expected 'float32'");
            if (offsetElement.ValueKind != JsonValueKind.Number || !offsetElement.TryGetDouble(out double offset))
                throw new FileFormatException(path, what, "nested_offset is not a number");
            return new QuantState(rows, cols, blockSize, dtype, nestedBlockSize, (float)offset);
        }
    }

    private static string ReadString(JsonElement root, string key, string path, string what) =>
        root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String
            ? v.GetString()!
            : throw new FileFormatException(path, what, $"'{key}' is missing or not a string");

    private static int ReadInt(JsonElement root, string key, string path, string what) =>
        root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i)
            ? i
            : throw new FileFormatException(path, what, $"'{key}' is missing or not an integer");

    private static int Dim(JsonElement e, string path, string what) =>
        e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int d) && d > 0
            ? d
            : throw new FileFormatException(path, what, $"shape entry {e.GetRawText()} is not a positive integer");

    private static Nf4BnbTensor Require(Dictionary<string, Nf4BnbTensor> byName, string name, string dtype, string path,
        string prefix)
    {
        if (!byName.TryGetValue(name, out var t)) throw new FileFormatException(path, prefix + name, "tensor is missing");
        if (t.DType != dtype) throw new FileFormatException(path, prefix + name, $"dtype is {t.DType}, expected {dtype}");
        return t;
    }

    private static void CheckLength(Nf4BnbTensor t, long elements, int elementSize, string path, string prefix)
    {
        long shapeElements = 1;
        foreach (int d in t.Shape)
        {
            if (d < 0) throw new FileFormatException(path, prefix + t.Name, $"negative dimension {d} in shape");
            shapeElements *= d;
        }
        if (shapeElements != elements)
            throw new FileFormatException(path, prefix + t.Name,
                $"shape [{string.Join(", ", t.Shape)}] holds {shapeElements} values, expected {elements}");
        if (t.Data.LongLength != elements * elementSize)
            throw new FileFormatException(path, prefix + t.Name,
                $"has {t.Data.LongLength} bytes, expected {elements * elementSize}");
    }

    private static float[] ReadFloats(Nf4BnbTensor t, int count, string path, string prefix)
    {
        CheckLength(t, count, sizeof(float), path, prefix);
        var values = new float[count];
        t.Data.AsSpan().CopyTo(MemoryMarshal.AsBytes(values.AsSpan())); // little-endian host, as everywhere in Engine
        return values;
    }

    private static Nf4BnbTensor FloatTensor(string name, ReadOnlySpan<float> values) =>
        new(name, "F32", [values.Length], MemoryMarshal.AsBytes(values).ToArray());
}
