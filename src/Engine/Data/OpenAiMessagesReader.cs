using System.Text.Json;

namespace Engine.Data;

/// <summary>OpenAI chat records: <c>{"messages": [{"role": "system"|"user"|"assistant", "content": "..."}, ...]}</c>.</summary>
internal static class OpenAiMessagesReader
{
    public const string Key = "messages";

    private static Role? ParseRole(string role) => role.ToLowerInvariant() switch
    {
        "user" => Role.User,
        "assistant" => Role.Assistant,
        "system" => Role.System,
        _ => null,
    };

    public static ConversationSample Read(in RecordContext ctx, JsonElement record, out bool skippedFirstTurn)
    {
        ctx.RequireObject(record, null);
        var list = ctx.Array(record, Key, Key);
        var raw = ConversationBuilder.ReadTurns(ctx, list, Key, "role", "content", ParseRole, "system, user or assistant");
        return ConversationBuilder.Build(ctx, Key, null, raw, out skippedFirstTurn);
    }
}
