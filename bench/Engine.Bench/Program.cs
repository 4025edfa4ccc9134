namespace Engine.Bench;

public static class Program
{
    public static int Main(string[] args)
    {
        Console.WriteLine("engine bench: no benchmarks yet");
        return 0;
    }
}
