using System.CommandLine;
using Engine.Api;

namespace Engine.Cli.Commands;

/// <summary><c>engine data preview</c>: how samples render, tokenize and which tokens are learned.</summary>
public static class DataCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "the training data file", Required = true };
        var model = CommonOptions.Model(required: false);
        model.Description += " (only its tokenizer is read)";
        var tokenizer = CommonOptions.Tokenizer();
        var template = new Option<string?>("--template") { Description = "chat (the model's own template) | vicuna_v1.1 | llama-2 | alpaca | raw" };
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
            ctx.Output.WriteLine(DataPreviewer.Render(ctx.Get(data), new DataPreviewOptions
            {
                Model = ctx.Get(model), Tokenizer = ctx.Get(tokenizer), Template = ctx.Get(template), Samples = ctx.Get(count),
                MaxLength = ctx.Get(maxLength), TrainOnInputs = ctx.Get(trainOnInputs), Color = ctx.Get(color),
            }, ctx.Get(CommonOptions.Json)));
            return 0;
        }));
        return new Command("data", "inspect training data") { preview };
    }
}
