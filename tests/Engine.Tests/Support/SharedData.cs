namespace Engine.Tests.Support;

/// <summary>Finds the real assets in ../shared/data (never copied into the repo). A test that needs one calls
/// <see cref="Require"/>, which skips the test with the path it looked for when the assets are absent.
/// ENGINE_SHARED_DATA overrides the search.</summary>
internal static class SharedData
{
    private static readonly Lazy<string?> Root = new(Find);

    public static string? RootOrNull => Root.Value;

    private static string? Find()
    {
        var env = Environment.GetEnvironmentVariable("ENGINE_SHARED_DATA");
        if (!string.IsNullOrEmpty(env)) return Directory.Exists(env) ? Path.GetFullPath(env) : null;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "data");
            if (File.Exists(Path.Combine(candidate, "README.md"))) return candidate;
        }
        return null;
    }

    /// <summary>The full path of a file under shared/data, or a skip naming what is missing.</summary>
    public static string Require(string relative)
    {
        var root = Root.Value;
        if (root is null)
            Assert.Skip($"shared test data not found (looked for shared/data above {AppContext.BaseDirectory}; set ENGINE_SHARED_DATA) — needed: {relative}");
        var full = Path.Combine(root!, relative);
        if (!File.Exists(full) && !Directory.Exists(full))
            Assert.Skip($"shared test data file missing: {full}");
        return full;
    }
}
