using System.Text.Json;

namespace Engine.Data;

/// <summary>OpenAI chat records: <c>{"messages": [{"role": "system"|"user"|"assistant", "content": "..."}, ...]}</c>.</summary>
internal static class OpenAiMessagesReader
{
    public const string Key = "messages";

    public static ConversationSample Read(in RecordContext ctx, JsonElement record, out bool skippedFirstTurn)
    {
        ctx.RequireObject(record, null);
        var list = ctx.Array(record, Key, Key);
        var raw = new List<(Role, string, string)>(list.GetArrayLength());
        int k = 0;
        foreach (var message in list.EnumerateArray())
        {
            string field = $"{Key}[{k++}]";
            ctx.RequireObject(message, field);
            var name = ctx.String(message, "role", field + ".role");
            Role role = name.ToLowerInvariant() switch
            {
                "user" => Role.User,
                "assistant" => Role.Assistant,
                "system" => Role.System,
                _ => throw ctx.Error(field + ".role", $"unknown role \"{name}\"; expected system, user or assistant"),
            };
            raw.Add((role, ctx.String(message, "content", field + ".content"), field));
        }
        return ConversationBuilder.Build(ctx, Key, null, raw, out skippedFirstTurn);
    }
}
