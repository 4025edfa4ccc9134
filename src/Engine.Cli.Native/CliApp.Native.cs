// TEMPORARY (until the CLI rewrite lands): src/Engine.Cli/CliApp.cs with its CUDA-only lines left out, because
// src/Engine.Cli cannot be edited on this branch. When CliApp.cs guards `Engine.Cuda.CudaSupport.Register();` and
// SelfTestCommand/BenchCommand with #if !ENGINE_CPU_ONLY, delete this file and drop CliApp.cs from the Exclude in
// Engine.Cli.Native.csproj.
using System.CommandLine;
using Engine.Cli.Commands;

namespace Engine.Cli;

public static class CliApp
{
    public static RootCommand Build()
    {
        var root = new RootCommand("engine: fine-tune Llama-family models (full, SFT, LoRA, QLoRA) end to end, no Python");
        root.Options.Add(CommonOptions.Device);
        root.Options.Add(CommonOptions.Verbose);
        foreach (var c in new[]
                 {
                     TokenizeCommand.Create(), InfoCommand.Create(), GenerateCommand.Create(), EvalCommand.Create(),
                     TrainCommand.Create(), DataCommand.Create(),
                     ExportCommand.Create(),
                     QuantizeCommand.Create(), MergeCommand.Create(),
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
