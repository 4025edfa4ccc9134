namespace Engine.Bench;

public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "nf4")
        {
            Nf4Bench.Run();
            return 0;
        }
        Console.WriteLine("engine bench: usage: Engine.Bench nf4");
        return 0;
    }
}
