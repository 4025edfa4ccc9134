using System.Text;

namespace Engine.Formats;

/// <summary>The subset of tensorflow.Event the TensorBoard sinks write and read: Event{ double wall_time = 1;
/// int64 step = 2; string file_version = 3; Summary summary = 5 }, Summary{ repeated Value value = 1 },
/// Value{ string tag = 1; float simple_value = 2 }. Other fields are skipped on read. Event files frame these
/// messages as <see cref="TfRecord"/>s.</summary>
internal sealed record TensorBoardEvent(double WallTime, long Step, string? FileVersion, IReadOnlyList<(string Tag, float Value)> Scalars)
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
        var w = new ProtoWriter();
        w.Double(EventWallTime, WallTime);
        if (Step != 0) w.Int64(EventStep, Step);
        if (FileVersion is not null) w.String(EventFileVersion, FileVersion);
        if (Scalars.Count > 0)
        {
            var summary = new ProtoWriter();
            foreach (var (tag, value) in Scalars)
            {
                var v = new ProtoWriter();
                v.String(ValueTag, tag);
                v.Float(ValueSimpleValue, value);
                summary.Message(SummaryValue, v);
            }
            w.Message(EventSummary, summary);
        }
        return w.ToArray();
    }

    /// <summary>Decodes one event; <paramref name="what"/> names the record in error messages. Values without a
    /// simple_value (images, histograms, tensor summaries) are skipped.</summary>
    public static TensorBoardEvent Decode(ReadOnlySpan<byte> data, string path, string what)
    {
        var r = new ProtoReader(data, path, what);
        double wallTime = 0;
        long step = 0;
        string? fileVersion = null;
        var scalars = new List<(string, float)>();
        while (!r.AtEnd)
        {
            var (field, wire) = r.ReadTag();
            switch (field)
            {
                case EventWallTime: r.Expect(field, wire, WireType.Fixed64); wallTime = r.ReadDouble(); break;
                case EventStep: r.Expect(field, wire, WireType.Varint); step = r.ReadInt64(); break;
                case EventFileVersion: r.Expect(field, wire, WireType.LengthDelimited); fileVersion = Utf8(ref r); break;
                case EventSummary:
                    r.Expect(field, wire, WireType.LengthDelimited);
                    DecodeSummary(r.ReadBytes(out int start), path, what, start, scalars);
                    break;
                default: r.Skip(wire); break;
            }
        }
        return new TensorBoardEvent(wallTime, step, fileVersion, scalars);
    }

    private static void DecodeSummary(ReadOnlySpan<byte> data, string path, string what, int offset, List<(string, float)> scalars)
    {
        var r = new ProtoReader(data, path, what + " summary", offset);
        while (!r.AtEnd)
        {
            var (field, wire) = r.ReadTag();
            if (field != SummaryValue) { r.Skip(wire); continue; }
            r.Expect(field, wire, WireType.LengthDelimited);
            var v = new ProtoReader(r.ReadBytes(out int start), path, what + " summary value", start);
            string tag = "";
            float? simple = null;
            while (!v.AtEnd)
            {
                var (vf, vw) = v.ReadTag();
                switch (vf)
                {
                    case ValueTag: v.Expect(vf, vw, WireType.LengthDelimited); tag = Utf8(ref v); break;
                    case ValueSimpleValue: v.Expect(vf, vw, WireType.Fixed32); simple = v.ReadFloat(); break;
                    default: v.Skip(vw); break;
                }
            }
            if (simple is float value) scalars.Add((tag, value));
        }
    }

    /// <summary>Event strings are decoded leniently (invalid bytes become U+FFFD) so that one odd tag does not make a
    /// whole event file unreadable; SentencePiece strings, by contrast, must be valid (<see cref="ProtoReader.ReadString"/>).</summary>
    private static string Utf8(ref ProtoReader r) => Encoding.UTF8.GetString(r.ReadBytes(out _));
}
