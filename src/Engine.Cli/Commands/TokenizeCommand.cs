using System.CommandLine;
using System.Text.Json;
using Engine.Api;

namespace Engine.Cli.Commands;

/// <summary><c>engine tokenize --tokenizer PATH --text TEXT [--json]</c>: ids without BOS.</summary>
public static class TokenizeCommand
{
    public static Command Create()
    {
        var tokenizer = new Option<string>("--tokenizer") { Description = "tokenizer.model, tokenizer.bin or a model folder", Required = true };
        var text = new Option<string>("--text") { Description = "text to encode", Required = true };
        var cmd = new Command("tokenize", "encode text to token ids (no BOS)") { tokenizer, text, CommonOptions.Json };
        cmd.SetAction(p => CliRunner.Run(p, ctx =>
        {
            var tok = TextTokenizer.Load(ctx.Get(tokenizer));
            var ids = tok.Encode(ctx.Get(text));
            if (ctx.Get(CommonOptions.Json))
                ctx.Output.WriteLine(JsonSerializer.Serialize(new TokenizeJson(ids), CliJson.Default.TokenizeJson));
            else
            {
                ctx.Output.WriteLine(string.Join(' ', ids));
                ctx.Output.WriteLine(string.Join(' ', ids.Select(tok.Piece)));
            }
            return 0;
        }));
        return cmd;
    }
}
