using System.CommandLine;

namespace Engine.Cli;

/// <summary>Builds the command tree and maps failures to one clear line and a non-zero exit code.</summary>
public static class CliApp
{
    public static int Run(string[] args, TextWriter? stdout = null, TextWriter? stderr = null)
    {
        var root = new RootCommand("engine: fine-tune Llama-family models (full, SFT, LoRA, QLoRA) with no Python");
        var config = new InvocationConfiguration { Output = stdout ?? Console.Out, Error = stderr ?? Console.Error };
        return root.Parse(args).Invoke(config);
    }
}
