using Engine.Training;

namespace Engine.Tests.Autograd;

/// <summary>Values hand-computed from transformers' schedule formulas (optimization.py).</summary>
public class LrScheduleTests
{
    [Fact]
    public void Cosine_with_warmup()
    {
        var s = new LrSchedule(LrSchedulerKind.Cosine, 1f, TotalSteps: 10, WarmupSteps: 2);
        Assert.Equal(0.0, s.Lambda(0), 12);
        Assert.Equal(0.5, s.Lambda(1), 12);
        Assert.Equal(1.0, s.Lambda(2), 12);
        // step 6: progress (6-2)/8 = 0.5 -> 0.5·(1+cos(π/2)) = 0.5
        Assert.Equal(0.5, s.Lambda(6), 12);
        // step 4: progress 0.25 -> 0.5·(1+cos(π/4)) = 0.853553390593...
        Assert.Equal(0.8535533905932737, s.Lambda(4), 12);
        Assert.Equal(0.0, s.Lambda(10), 12);
    }

    [Fact]
    public void Linear_and_constant()
    {
        var l = new LrSchedule(LrSchedulerKind.Linear, 2f, 10, 2);
        Assert.Equal(0.5, l.Lambda(1), 12);
        Assert.Equal(1.0, l.Lambda(2), 12);
        Assert.Equal(6.0 / 8, l.Lambda(4), 12);
        Assert.Equal(1.5f, l.At(4));
        var c = new LrSchedule(LrSchedulerKind.Constant, 1f, 10, 0);
        Assert.Equal(1.0, c.Lambda(0), 12);
        Assert.Equal(1.0, c.Lambda(9), 12);
    }

    [Fact]
    public void Warmup_ratio_rounds_up_like_hf()
    {
        Assert.Equal(3, LrSchedule.WarmupFrom(50, 0.05, null)); // ceil(2.5)
        Assert.Equal(3, LrSchedule.WarmupFrom(100, 0.03, null)); // Python: math.ceil(100 * 0.03) == 3
        Assert.Equal(7, LrSchedule.WarmupFrom(100, 0.03, 7));
    }
}
