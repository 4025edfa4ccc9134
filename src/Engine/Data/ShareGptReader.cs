using System.Text.Json;

namespace Engine.Data;

/// <summary>Vicuna/ShareGPT records (FastChat's format):
/// <c>{"id", "system"?, "conversations": [{"from": "human"|"gpt"|"system", "value"}, ...]}</c>.</summary>
internal static class ShareGptReader
{
    public const string Key = "conversations";

    public static Role? ParseRole(string from) => from.ToLowerInvariant() switch
    {
        "human" or "user" => Role.User,
        "gpt" or "assistant" or "chatgpt" or "bard" => Role.Assistant,
        "system" => Role.System,
        _ => null,
    };

    public static ConversationSample Read(in RecordContext ctx, JsonElement record, out bool skippedFirstTurn)
    {
        ctx.RequireObject(record, null);
        var list = ctx.Array(record, Key, Key);
        var system = ctx.OptionalString(record, "system", "system");
        var raw = new List<(Role, string, string)>(list.GetArrayLength());
        int k = 0;
        foreach (var turn in list.EnumerateArray())
        {
            string field = $"{Key}[{k++}]";
            ctx.RequireObject(turn, field);
            var from = ctx.String(turn, "from", field + ".from");
            var role = ParseRole(from)
                ?? throw ctx.Error(field + ".from", $"unknown role \"{from}\"; expected human/user, gpt/assistant/chatgpt/bard or system");
            raw.Add((role, ctx.String(turn, "value", field + ".value"), field));
        }
        return ConversationBuilder.Build(ctx, Key, system, raw, out skippedFirstTurn);
    }
}
