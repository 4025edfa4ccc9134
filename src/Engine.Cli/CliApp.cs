using System.CommandLine;
using Engine.Cli.Commands;

namespace Engine.Cli;

/// <summary>Builds the command tree. Every verb runs through <see cref="CliRunner.Run"/>, which turns user errors into
/// one line on stderr and a non-zero exit code (a stack trace only with --verbose). The verbs only parse flags, call
/// the public API (Engine.Api) and print its results.</summary>
public static class CliApp
{
    public static RootCommand Build()
    {
#if !ENGINE_CPU_ONLY
        Engine.Cuda.CudaSupport.Register();
#endif
        var root = new RootCommand("engine: fine-tune Llama-family models (full, SFT, LoRA, QLoRA) end to end, no Python");
        root.Options.Add(CommonOptions.Device);
        root.Options.Add(CommonOptions.Verbose);
        foreach (var c in new[]
                 {
                     TokenizeCommand.Create(), InfoCommand.Create(), GenerateCommand.Create(), EvalCommand.Create(),
                     TrainCommand.Create(), DataCommand.Create(), ExportCommand.Create(), QuantizeCommand.Create(), MergeCommand.Create(),
#if !ENGINE_CPU_ONLY
                     SelfTestCommand.Create(), BenchCommand.Create(),
#endif
                 })
            root.Subcommands.Add(c);
        return root;
    }

    public static int Run(string[] args, TextWriter? stdout = null, TextWriter? stderr = null)
    {
        var config = new InvocationConfiguration { Output = stdout ?? Console.Out, Error = stderr ?? Console.Error };
        return Build().Parse(args).Invoke(config);
    }
}
