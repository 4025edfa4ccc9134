using System.Diagnostics;
using Engine.Distributed.Mpi;

namespace Engine.Tests.Distributed;

/// <summary>The CPU ranks' Open MPI communicator in real mpirun jobs of the CLI (<c>selftest --collectives</c>, which
/// compares every summed element with its closed form), its timeout against a stalled rank, and its errors when Open
/// MPI is missing. One collection: the jobs share the two cores and the ENGINE_MPIRUN test changes the environment.</summary>
[Collection(Name)]
public class MpiCollectivesTests
{
    public const string Name = "mpi";
    private static readonly Dictionary<string, string> NoEnvironment = new();

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Selftest_collectives_pass_on_every_rank(int ranks)
    {
        var job = OpenMpi.Run(ranks, ["selftest", "--collectives", "--dist-timeout", "120"], NoEnvironment, TimeSpan.FromMinutes(3));
        Assert.True(job.Exit == 0, $"mpirun exited {job.Exit} after {job.Elapsed.TotalSeconds:F1} s:\n{job.Output}");
        for (int r = 0; r < ranks; r++) Assert.Contains($"collectives ok: mpi rank {r} of {ranks}", job.Output);
        Assert.DoesNotContain("FAILED", job.Output);
    }

    [Fact]
    public void A_stalled_rank_times_out_the_barrier_and_mpirun_ends_the_job()
    {
        // A variable set for this job alone finds its rank processes afterwards.
        string tag = Guid.NewGuid().ToString("N");
        var env = new Dictionary<string, string> { ["ENGINE_TEST_MPI_JOB"] = tag };
        var job = OpenMpi.Run(2, ["selftest", "--collectives", "--dist-timeout", "3", "--collectives-stall-rank", "1", "--collectives-stall-seconds", "60"],
                              env, TimeSpan.FromMinutes(2));
        Assert.True(job.Exit != 0, $"mpirun exited 0:\n{job.Output}");
        Assert.Contains("error: rank 0 of 2: barrier did not complete within 3 s", job.Output);
        Assert.DoesNotContain("collectives ok: mpi rank 1", job.Output);
        // Start-up of two dotnet ranks (a few seconds each on a loaded box), the collectives, 3 s of timeout and mpirun's
        // clean-up: far below the 60 s stall, which a job that waited for the stalled rank would have to outlast.
        Assert.True(job.Elapsed < TimeSpan.FromSeconds(40), $"mpirun ran {job.Elapsed.TotalSeconds:F1} s (the stall is 60 s):\n{job.Output}");
        var left = OpenMpi.ProcessesWith("ENGINE_TEST_MPI_JOB", tag);
        Assert.True(left.Count == 0, $"rank processes still running after mpirun exited: {string.Join(", ", left)}");
    }

    [Fact]
    public void A_missing_libmpi_is_named_with_what_to_install()
    {
        OpenMpi.Require();
        var job = OpenMpi.Run(1, ["selftest", "--collectives"], new Dictionary<string, string> { [MpiNative.LibraryVariable] = "/nonexistent/libmpi.so" },
                              TimeSpan.FromMinutes(2));
        Assert.True(job.Exit != 0, job.Output);
        Assert.Contains("error: Open MPI's library /nonexistent/libmpi.so could not be loaded (/nonexistent/libmpi.so: cannot open shared object file", job.Output);
        Assert.Contains("install it (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev", job.Output);
        Assert.Contains("or set ENGINE_MPI_LIBRARY", job.Output);
    }

    [Fact]
    public void The_mpirun_command_starts_the_program_after_the_flags_and_forwards_the_rank_environment()
    {
        var psi = MpiRun.Command(4, "/opt/engine", ["train", "--max-steps", "3"], new Dictionary<string, string> { ["A_VAR"] = "x y", ["B"] = "" });
        var args = psi.ArgumentList.ToList();
        Assert.Equal(["-np", "4"], args[..2]);
        int program = args.IndexOf("/opt/engine");
        Assert.Equal(["/opt/engine", "train", "--max-steps", "3"], args[program..]);
        var flags = args[2..program];
        Assert.Contains("--allow-run-as-root", flags);
        Assert.Contains("--oversubscribe", flags);
        Assert.Equal("none", flags[flags.IndexOf("--bind-to") + 1]);
        Assert.Equal("-x", flags[flags.IndexOf("A_VAR") - 1]);
        Assert.Equal("-x", flags[flags.IndexOf("B") - 1]);
        Assert.Equal("x y", psi.Environment["A_VAR"]);
        Assert.Equal("", psi.Environment["B"]);
        Assert.False(psi.UseShellExecute);
        Assert.Throws<ArgumentException>(() => MpiRun.Command(2, "p", [], new Dictionary<string, string> { ["A=B"] = "1" }));
        Assert.Throws<ArgumentOutOfRangeException>(() => MpiRun.Command(0, "p", [], NoEnvironment));
    }

    [Fact]
    public void A_missing_mpirun_is_named_with_what_to_install()
    {
        var saved = Environment.GetEnvironmentVariable(MpiRun.ExecutableVariable);
        try
        {
            Environment.SetEnvironmentVariable(MpiRun.ExecutableVariable, "/nonexistent/mpirun");
            var e = Assert.Throws<EngineException>(() => MpiRun.Command(2, "p", [], NoEnvironment));
            Assert.Equal("environment variable ENGINE_MPIRUN: /nonexistent/mpirun does not exist (expected Open MPI's mpirun)", e.Message);
        }
        finally
        {
            Environment.SetEnvironmentVariable(MpiRun.ExecutableVariable, saved);
        }
    }
}
