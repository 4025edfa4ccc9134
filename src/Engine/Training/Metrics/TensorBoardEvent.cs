using System.Text;

namespace Engine.Training.Metrics;

/// <summary>One scalar from an event file.</summary>
public readonly record struct TensorBoardScalar(double WallTime, long Step, string Tag, float Value);

/// <summary>The subset of tensorflow.Event the sinks write and read: Event{ double wall_time = 1; int64 step = 2;
/// string file_version = 3; Summary summary = 5 }, Summary{ repeated Value value = 1 }, Value{ string tag = 1;
/// float simple_value = 2 }. Other fields are skipped on read.</summary>
public sealed record TensorBoardEvent(double WallTime, long Step, string? FileVersion, IReadOnlyList<(string Tag, float Value)> Scalars)
{
    /// <summary>The file_version TensorBoard expects in the first record of an event file.</summary>
    public const string CurrentFileVersion = "brain.Event:2";

    private const int EventWallTime = 1, EventStep = 2, EventFileVersion = 3, EventSummary = 5;
    private const int SummaryValue = 1;
    private const int ValueTag = 1, ValueSimpleValue = 2;

    /// <summary>Encodes as proto3 does: step 0 is the default and is omitted; simple_value sits in a oneof and so is
    /// always written, even when it is 0.</summary>
    public byte[] Encode()
    {
        int summarySize = 0;
        foreach (var (tag, _) in Scalars) summarySize += ProtoWriter.LengthDelimitedSize(SummaryValue, ValueSize(tag));

        int size = 1 + 8;
        if (Step != 0) size += 1 + ProtoWriter.VarintSize((ulong)Step);
        if (FileVersion is not null) size += ProtoWriter.LengthDelimitedSize(EventFileVersion, Encoding.UTF8.GetByteCount(FileVersion));
        if (Scalars.Count > 0) size += ProtoWriter.LengthDelimitedSize(EventSummary, summarySize);

        var bytes = new byte[size];
        var w = new ProtoWriter(bytes);
        w.Double(EventWallTime, WallTime);
        if (Step != 0) w.Int64(EventStep, Step);
        if (FileVersion is not null) w.Utf8String(EventFileVersion, FileVersion);
        if (Scalars.Count > 0)
        {
            w.BeginLengthDelimited(EventSummary, summarySize);
            foreach (var (tag, value) in Scalars)
            {
                w.BeginLengthDelimited(SummaryValue, ValueSize(tag));
                w.Utf8String(ValueTag, tag);
                w.Float(ValueSimpleValue, value);
            }
        }
        if (w.Position != size) throw new InvalidOperationException($"event size computed as {size}, wrote {w.Position}");
        return bytes;
    }

    private static int ValueSize(string tag) => ProtoWriter.LengthDelimitedSize(ValueTag, Encoding.UTF8.GetByteCount(tag)) + 1 + 4;

    /// <summary>Decodes one event; <paramref name="what"/> names the record in error messages. Values without a
    /// simple_value (images, histograms, tensor summaries) are skipped.</summary>
    public static TensorBoardEvent Decode(ReadOnlySpan<byte> data, string path, string what)
    {
        var r = new ProtoReader(data, path, what);
        double wallTime = 0;
        long step = 0;
        string? fileVersion = null;
        var scalars = new List<(string, float)>();
        while (r.TryReadTag(out int field, out int wire))
        {
            switch (field)
            {
                case EventWallTime:
                    r.Expect("Event.wall_time", wire, ProtoWriter.WireFixed64);
                    wallTime = r.Fixed64Double();
                    break;
                case EventStep:
                    r.Expect("Event.step", wire, ProtoWriter.WireVarint);
                    step = (long)r.Varint();
                    break;
                case EventFileVersion:
                    r.Expect("Event.file_version", wire, ProtoWriter.WireLengthDelimited);
                    fileVersion = r.Utf8String();
                    break;
                case EventSummary:
                    r.Expect("Event.summary", wire, ProtoWriter.WireLengthDelimited);
                    DecodeSummary(r.LengthDelimited(), path, what, scalars);
                    break;
                default:
                    r.Skip(wire);
                    break;
            }
        }
        return new TensorBoardEvent(wallTime, step, fileVersion, scalars);
    }

    private static void DecodeSummary(ReadOnlySpan<byte> data, string path, string what, List<(string, float)> scalars)
    {
        var r = new ProtoReader(data, path, what + " summary");
        while (r.TryReadTag(out int field, out int wire))
        {
            if (field != SummaryValue) { r.Skip(wire); continue; }
            r.Expect("Summary.value", wire, ProtoWriter.WireLengthDelimited);
            var v = new ProtoReader(r.LengthDelimited(), path, what + " summary value");
            string tag = "";
            float? simple = null;
            while (v.TryReadTag(out int vf, out int vw))
            {
                if (vf == ValueTag) { v.Expect("Value.tag", vw, ProtoWriter.WireLengthDelimited); tag = v.Utf8String(); }
                else if (vf == ValueSimpleValue) { v.Expect("Value.simple_value", vw, ProtoWriter.WireFixed32); simple = v.Fixed32Float(); }
                else v.Skip(vw);
            }
            if (simple is float value) scalars.Add((tag, value));
        }
    }
}
