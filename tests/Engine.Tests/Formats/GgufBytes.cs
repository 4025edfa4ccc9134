using System.Text;

namespace Engine.Tests.Formats;

/// <summary>Assembles GGUF bytes field by field, so tests can produce headers no writer would (wrong types, huge
/// counts, misaligned or overlapping offsets).</summary>
internal sealed class GgufBytes
{
    private readonly MemoryStream _ms = new();
    private readonly BinaryWriter _w;

    public GgufBytes(uint version = 3, ulong tensors = 0, ulong kvs = 0, uint magic = 0x46554747)
    {
        _w = new BinaryWriter(_ms);
        _w.Write(magic);
        _w.Write(version);
        _w.Write(tensors);
        _w.Write(kvs);
    }

    public long Length => _ms.Length;

    public GgufBytes Str(string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        _w.Write((ulong)b.Length);
        _w.Write(b);
        return this;
    }

    public GgufBytes U32(uint v) { _w.Write(v); return this; }
    public GgufBytes U64(ulong v) { _w.Write(v); return this; }
    public GgufBytes Raw(params byte[] b) { _w.Write(b); return this; }

    public GgufBytes KvU32(string key, uint v) => Str(key).U32(4).U32(v);
    public GgufBytes KvString(string key, string v) => Str(key).U32(8).Str(v);

    public GgufBytes TensorInfo(string name, ulong[] dims, uint type, ulong offset)
    {
        Str(name).U32((uint)dims.Length);
        foreach (var d in dims) U64(d);
        return U32(type).U64(offset);
    }

    public GgufBytes PadTo(int alignment)
    {
        while (_ms.Length % alignment != 0) _w.Write((byte)0);
        return this;
    }

    public string Save(string path)
    {
        _w.Flush();
        File.WriteAllBytes(path, _ms.ToArray());
        return path;
    }
}
