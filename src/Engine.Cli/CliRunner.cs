using System.CommandLine;

namespace Engine.Cli;

/// <summary>Runs a verb's body with the project's error policy.</summary>
public static class CliRunner
{
    public static int Run(ParseResult parse, Func<CliContext, int> body)
    {
        var ctx = new CliContext(parse);
        try
        {
            return body(ctx);
        }
        catch (Exception e) when (e is EngineException or IOException or UnauthorizedAccessException or OperationCanceledException)
        {
            ctx.Error.WriteLine($"error: {Describe(e)}");
            if (ctx.Verbose) ctx.Error.WriteLine(e);
            return e is OperationCanceledException ? 130 : 1;
        }
        catch (Exception e)
        {
            ctx.Error.WriteLine($"error: internal failure ({e.GetType().Name}): {e.Message}");
            if (ctx.Verbose) ctx.Error.WriteLine(e);
            else ctx.Error.WriteLine("(run with --verbose for the stack trace)");
            return 2;
        }
    }

    private static string Describe(Exception e) => e switch
    {
        IOException io when io.HResult == unchecked((int)0x80070070) || io.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase)
            => $"disk full: {io.Message}",
        _ => e.Message,
    };
}

/// <summary>What a verb body needs: parsed values, writers, the device choice.</summary>
public sealed class CliContext
{
    public CliContext(ParseResult parse)
    {
        Parse = parse;
        Output = parse.InvocationConfiguration.Output;
        Error = parse.InvocationConfiguration.Error;
        Verbose = parse.GetValue(CommonOptions.Verbose);
        DeviceSpec = parse.GetValue(CommonOptions.Device) ?? "auto";
    }

    public ParseResult Parse { get; }
    public TextWriter Output { get; }
    public TextWriter Error { get; }
    public bool Verbose { get; }
    public string DeviceSpec { get; }

    public T Get<T>(Option<T> o) => Parse.GetValue(o)!;
}
