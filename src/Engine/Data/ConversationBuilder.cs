using System.Text.Json;

namespace Engine.Data;

/// <summary>Turns the raw turns of one record into a <see cref="ConversationSample"/> with FastChat's rules: system turns
/// before the first user turn become the system prompt, a first turn from the assistant is skipped, the rest must
/// alternate user/assistant, and at least one assistant turn must remain.</summary>
internal static class ConversationBuilder
{
    /// <param name="listField">The field path of each raw turn, for error messages ("conversations[2]").</param>
    /// <param name="skippedFirstTurn">Set when an assistant turn before the first user turn was dropped.</param>
    public static ConversationSample Build(in RecordContext ctx, string listField, string? system,
        IReadOnlyList<(Role Role, string Text, string Field)> raw, out bool skippedFirstTurn)
    {
        skippedFirstTurn = false;
        if (raw.Count == 0) throw ctx.Error(listField, "the conversation is empty");

        int k = 0;
        var leadingSystem = new List<string>();
        while (k < raw.Count && raw[k].Role == Role.System) leadingSystem.Add(raw[k++].Text);
        if (leadingSystem.Count > 0)
        {
            if (system is not null) leadingSystem.Insert(0, system);
            system = string.Join("\n", leadingSystem);
        }

        // FastChat's preprocess drops the first turn when it is not from the human; do the same.
        if (k < raw.Count && raw[k].Role == Role.Assistant) { k++; skippedFirstTurn = true; }

        var turns = new List<Turn>(raw.Count - k);
        bool anyAssistant = false;
        for (; k < raw.Count; k++)
        {
            var (role, text, field) = raw[k];
            var expected = turns.Count % 2 == 0 ? Role.User : Role.Assistant;
            if (role == Role.System)
                throw ctx.Error(field, "a system turn may only come before the first user turn");
            if (role != expected)
                throw ctx.Error(field, $"roles must alternate user, assistant, user, ...: expected {Name(expected)} here, got {Name(role)}");
            anyAssistant |= role == Role.Assistant;
            turns.Add(new Turn(role, text));
        }
        if (!anyAssistant)
            throw ctx.Error(listField, skippedFirstTurn
                ? "has no assistant turn after the first user turn (the leading assistant turn is skipped, as FastChat does): nothing to learn"
                : "has no assistant turn: nothing to learn");
        return new ConversationSample(ctx.Index, ctx.Id, system, turns);
    }

    /// <summary>Reads the turn objects of <paramref name="list"/> (the array in field <paramref name="listField"/>), each
    /// with a role string under <paramref name="roleKey"/> and its text under <paramref name="textKey"/>.</summary>
    public static List<(Role Role, string Text, string Field)> ReadTurns(in RecordContext ctx, JsonElement list, string listField,
        string roleKey, string textKey, Func<string, Role?> parseRole, string expectedRoles)
    {
        var raw = new List<(Role, string, string)>(list.GetArrayLength());
        int k = 0;
        foreach (var turn in list.EnumerateArray())
        {
            string field = $"{listField}[{k++}]";
            ctx.RequireObject(turn, field);
            var name = ctx.String(turn, roleKey, $"{field}.{roleKey}");
            var role = parseRole(name) ?? throw ctx.Error($"{field}.{roleKey}", $"unknown role \"{name}\"; expected {expectedRoles}");
            raw.Add((role, ctx.String(turn, textKey, $"{field}.{textKey}"), field));
        }
        return raw;
    }

    private static string Name(Role r) => r switch { Role.User => "a user turn", Role.Assistant => "an assistant turn", _ => "a system turn" };
}
