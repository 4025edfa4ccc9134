using System.Collections;
using Engine.Distributed;

namespace Engine.Tests.Distributed;

/// <summary>DistributedEnvironment.Detect on mpirun's and torchrun's variables: the values read back, and every
/// malformed or inconsistent variable refused by name.</summary>
public class DistributedEnvironmentTests
{
    private static DistributedEnvironment? Detect(params (string Name, string Value)[] vars)
    {
        var env = new Hashtable();
        foreach (var (name, value) in vars) env[name] = value;
        return DistributedEnvironment.Detect(env);
    }

    [Fact]
    public void No_launcher_variables_is_a_single_process_run()
    {
        Assert.Null(Detect());
        Assert.Null(Detect(("PATH", "/usr/bin"), ("LOCAL_RANK", "0"), ("MASTER_ADDR", "10.0.0.1")));
        Assert.Null(Detect(("WORLD_SIZE", ""), ("RANK", "")));
    }

    [Fact]
    public void Mpirun_variables_give_rank_size_and_local_rank()
    {
        var e = Detect(("OMPI_COMM_WORLD_SIZE", "4"), ("OMPI_COMM_WORLD_RANK", "3"), ("OMPI_COMM_WORLD_LOCAL_RANK", "1"))!;
        Assert.Equal(new DistributedEnvironment(3, 4, 1, DistributedLauncher.Mpirun), e);
        Assert.False(e.IsMain);
        var main = Detect(("OMPI_COMM_WORLD_SIZE", "2"), ("OMPI_COMM_WORLD_RANK", "0"))!;
        Assert.Equal(new DistributedEnvironment(0, 2, 0, DistributedLauncher.Mpirun), main);
        Assert.True(main.IsMain);
    }

    [Fact]
    public void Mpirun_variables_win_over_torchrun_s()
    {
        var e = Detect(("OMPI_COMM_WORLD_SIZE", "2"), ("OMPI_COMM_WORLD_RANK", "1"), ("WORLD_SIZE", "8"), ("RANK", "5"))!;
        Assert.Equal(DistributedLauncher.Mpirun, e.Launcher);
        Assert.Equal((1, 2), (e.Rank, e.Size));
    }

    [Fact]
    public void Torchrun_variables_give_rank_size_local_rank_and_master()
    {
        var e = Detect(("WORLD_SIZE", "8"), ("RANK", "5"), ("LOCAL_RANK", "1"), ("MASTER_ADDR", "10.1.2.3"), ("MASTER_PORT", "29500"))!;
        Assert.Equal(new DistributedEnvironment(5, 8, 1, DistributedLauncher.Torchrun, "10.1.2.3", 29500), e);
        // LOCAL_RANK defaults to RANK (one node); a world of one needs no master.
        var local = Detect(("WORLD_SIZE", "4"), ("RANK", "2"), ("MASTER_ADDR", "localhost"), ("MASTER_PORT", "1"))!;
        Assert.Equal(2, local.LocalRank);
        Assert.Equal(new DistributedEnvironment(0, 1, 0, DistributedLauncher.Torchrun), Detect(("WORLD_SIZE", "1"), ("RANK", "0")));
    }

    [Theory]
    [InlineData("OMPI_COMM_WORLD_SIZE", "two", "OMPI_COMM_WORLD_SIZE", "expected an integer ≥ 1, got \"two\"")]
    [InlineData("OMPI_COMM_WORLD_SIZE", "0", "OMPI_COMM_WORLD_SIZE", "expected an integer ≥ 1, got \"0\"")]
    [InlineData("OMPI_COMM_WORLD_RANK", "-1", "OMPI_COMM_WORLD_RANK", "expected an integer ≥ 0, got \"-1\"")]
    [InlineData("OMPI_COMM_WORLD_RANK", "2", "OMPI_COMM_WORLD_RANK", "2 is not below OMPI_COMM_WORLD_SIZE 2")]
    [InlineData("OMPI_COMM_WORLD_RANK", null, "OMPI_COMM_WORLD_RANK", "not set")]
    [InlineData("OMPI_COMM_WORLD_LOCAL_RANK", "x", "OMPI_COMM_WORLD_LOCAL_RANK", "expected an integer ≥ 0, got \"x\"")]
    public void Malformed_mpirun_variables_are_refused_by_name(string name, string? value, string named, string expected)
    {
        var vars = new Dictionary<string, string?> { ["OMPI_COMM_WORLD_SIZE"] = "2", ["OMPI_COMM_WORLD_RANK"] = "1", [name] = value };
        var e = Assert.Throws<EngineException>(() => Detect(vars.Where(kv => kv.Value is not null).Select(kv => (kv.Key, kv.Value!)).ToArray()));
        Assert.Contains($"environment variable {named}", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData("WORLD_SIZE", "1.5", "WORLD_SIZE", "expected an integer ≥ 1, got \"1.5\"")]
    [InlineData("RANK", "4", "RANK", "4 is not below WORLD_SIZE 4")]
    [InlineData("RANK", null, "RANK", "not set")]
    [InlineData("WORLD_SIZE", null, "WORLD_SIZE", "not set")]
    [InlineData("LOCAL_RANK", " 1", "LOCAL_RANK", "expected an integer ≥ 0, got \" 1\"")]
    [InlineData("MASTER_PORT", "0", "MASTER_PORT", "expected an integer ≥ 1, got \"0\"")]
    [InlineData("MASTER_PORT", "70000", "MASTER_PORT", "expected a TCP port 1..65535, got 70000")]
    [InlineData("MASTER_ADDR", null, "MASTER_ADDR and MASTER_PORT", "both must be set for a job of WORLD_SIZE 4")]
    [InlineData("MASTER_PORT", null, "MASTER_ADDR and MASTER_PORT", "both must be set for a job of WORLD_SIZE 4")]
    public void Malformed_torchrun_variables_are_refused_by_name(string name, string? value, string named, string expected)
    {
        var vars = new Dictionary<string, string?>
        {
            ["WORLD_SIZE"] = "4", ["RANK"] = "3", ["MASTER_ADDR"] = "127.0.0.1", ["MASTER_PORT"] = "29500", [name] = value,
        };
        var e = Assert.Throws<EngineException>(() => Detect(vars.Where(kv => kv.Value is not null).Select(kv => (kv.Key, kv.Value!)).ToArray()));
        Assert.Contains($"environment variable{(named.Contains(" and ") ? "s" : "")} {named}", e.Message);
        Assert.Contains(expected, e.Message);
    }
}
