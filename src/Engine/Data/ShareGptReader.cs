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
        var raw = ConversationBuilder.ReadTurns(ctx, list, Key, "from", "value", ParseRole,
            "human/user, gpt/assistant/chatgpt/bard or system");
        return ConversationBuilder.Build(ctx, Key, system, raw, out skippedFirstTurn);
    }
}
