using Engine.Backends.Cpu;
using Engine.Diagnostics;
using Engine.Tests.Support;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>The whole-model device checks of `engine selftest`, run with a second CPU backend as the "device": every
/// check must pass (identical arithmetic), which exercises the checks' own plumbing without a GPU.</summary>
public class DeviceChecksTests
{
    [Fact]
    public void Checks_pass_when_the_device_computes_like_the_cpu()
    {
        var checks = DeviceChecks.Run(new CpuBackend(), SharedData.Require("stories260K/stories260K.bin"),
            SharedData.Require("datasets/tinystories_sample_cs336.txt"), TextWriter.Null, loraSteps: 5);
        Assert.Equal(3, checks.Count);
        Assert.All(checks, c => Assert.True(c.Passed, $"{c.Name}: {c.Detail}"));
    }
}
