using System.CommandLine;
using Engine.Checkpoints;
using Engine.Data;
using Engine.Models;
using Engine.Tokenizers;

namespace Engine.Cli.Commands;

/// <summary><c>engine data preview</c>: how samples render, tokenize and which tokens are learned.</summary>
public static class DataCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "the training data file", Required = true };
        var model = CommonOptions.Model(required: false);
        var tokenizer = CommonOptions.Tokenizer();
        var template = new Option<string?>("--template") { Description = "vicuna_v1.1 | llama-2 | alpaca | raw" };
        var count = new Option<int>("--samples") { Description = "how many samples to show", DefaultValueFactory = _ => 3 };
        var maxLength = new Option<int>("--max-length") { Description = "truncate like training would", DefaultValueFactory = _ => 2048 };
        var trainOnInputs = new Option<bool>("--train-on-inputs") { Description = "learn every token" };
        var color = new Option<bool>("--color") { Description = "highlight learned tokens with ANSI colour instead of [id:piece]" };
        var preview = new Command("preview", "show how samples render and tokenize, and which tokens are learned")
        {
            data, model, tokenizer, template, count, maxLength, trainOnInputs, color, CommonOptions.Json,
        };
        preview.SetAction(p => CliRunner.Run(p, ctx =>
        {
            ITokenizer tok;
            if (ctx.Get(tokenizer) is string tp) tok = TokenizerLoader.Load(tp);
            else if (ctx.Get(model) is string mp)
            {
                using var m = ModelLoader.Load(mp, Backends.Cpu.CpuBackend.Instance, new WeightOptions(), null);
                tok = m.RequireTokenizer();
            }
            else throw new EngineException("data preview needs --model or --tokenizer to tokenize with");
            var ds = DataReader.Read(ctx.Get(data));
            var tpl = ctx.Get(template) is string t ? ChatTemplate.Get(t) : ChatTemplate.DefaultFor(ds.Format);
            var samples = DataPreview.Build(ds.Samples, tpl, tok, ctx.Get(count), ctx.Get(maxLength), ctx.Get(trainOnInputs));
            ctx.Output.WriteLine(ctx.Get(CommonOptions.Json) ? DataPreview.ToJson(samples) : DataPreview.ToText(samples, ctx.Get(color)));
            return 0;
        }));
        return new Command("data", "inspect training data") { preview };
    }
}
