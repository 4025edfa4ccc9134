using Engine.Data;
using Engine.Tests.Support;
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

    /// <summary>Writes <paramref name="content"/> to a temporary file called <paramref name="name"/> and runs
    /// <paramref name="use"/> on its path.</summary>
    public static T WithFile<T>(string name, string content, Func<string, T> use)
    {
        using var dir = new TempDir();
        var path = dir.File(name);
        File.WriteAllText(path, content);
        return use(path);
    }

    public static Dataset ReadFile(string name, string content) => WithFile(name, content, DataReader.Read);

    public static ConversationSample Conversation(string? system, params string[] turns) =>
        new(0, null, system, turns.Select((t, i) => new Turn(i % 2 == 0 ? Role.User : Role.Assistant, t)).ToList());
}
