using System.Text.Json;

namespace Engine.Data;

/// <summary>Stanford Alpaca records: <c>{"instruction", "input"?, "output"}</c>, read as a one-exchange conversation whose
/// user turn is the instruction and whose <see cref="ConversationSample.Context"/> is the input (null when empty).</summary>
internal static class AlpacaReader
{
    public const string Key = "instruction";

    public static ConversationSample Read(in RecordContext ctx, JsonElement record)
    {
        ctx.RequireObject(record, null);
        var instruction = ctx.String(record, "instruction", "instruction");
        var input = ctx.OptionalString(record, "input", "input");
        var output = ctx.String(record, "output", "output");
        return new ConversationSample(ctx.Index, ctx.Id, null,
            new[] { new Turn(Role.User, instruction), new Turn(Role.Assistant, output) },
            string.IsNullOrEmpty(input) ? null : input);
    }
}
