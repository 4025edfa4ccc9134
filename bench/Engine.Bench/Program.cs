namespace Engine.Bench;

public static class Program
{
    public static int Main(string[] args)
    {
        switch (args.FirstOrDefault())
        {
            case "nf4":
                Nf4Bench.Run();
                return 0;
            case "memory":
                return MemoryBench.Run(args.Length > 1 ? args[1] : ResultsFile());
        }
        Console.WriteLine("engine bench: usage: Engine.Bench nf4 | memory [RESULTS.md]");
        return 0;
    }

    /// <summary>bench/RESULTS.md of the checkout the bench is run from (searched upwards from the current folder).</summary>
    private static string ResultsFile()
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
            if (Directory.Exists(Path.Combine(dir.FullName, "bench", "Engine.Bench"))) return Path.Combine(dir.FullName, "bench", "RESULTS.md");
        return "RESULTS.md";
    }
}
