using Engine.Data;
using Engine.Tokenizers;

namespace Engine.Tests.Data;

internal static class DataTestUtil
{
    /// <summary>Pieces separated by spaces, learned ones (label ≠ −100) in brackets: "&lt;s&gt; ▁USER: [▁Hi] [&lt;/s&gt;]".
    /// Also checks that every learned label equals its input id.</summary>
    public static string Show(EncodedSample e, ITokenizer tok)
    {
        var parts = new string[e.Length];
        for (int i = 0; i < e.Length; i++)
        {
            var p = tok.IdToPiece(e.InputIds[i]);
            if (e.Labels[i] == EncodedSample.IgnoreIndex) parts[i] = p;
            else
            {
                Assert.Equal(e.InputIds[i], e.Labels[i]);
                parts[i] = "[" + p + "]";
            }
        }
        return string.Join(" ", parts);
    }

    public static ConversationSample Conversation(string? system, params string[] turns) =>
        new(0, null, system, turns.Select((t, i) => new Turn(i % 2 == 0 ? Role.User : Role.Assistant, t)).ToList());
}
