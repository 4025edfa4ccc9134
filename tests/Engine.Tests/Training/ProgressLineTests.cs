using Engine.Training.Metrics;

namespace Engine.Tests.Training;

public class ProgressLineTests
{
    private static readonly ProgressSnapshot Typical = new(12, 200, 2.31409, 1.9e-4, 12340, TimeSpan.FromSeconds(192));

    [Fact]
    public void Format_TypicalLine()
    {
        // 12/200 = 6%: floor(0.06 * 20) = 1 cell done, then the head, then 18 blanks.
        Assert.Equal("step 12/200 [=>                  ] 6% loss 2.3141 lr 1.9e-4 12,340 tok/s ETA 3m12s", ProgressLine.Format(Typical));
    }

    [Fact]
    public void Format_UnknownTotal_EvalAndNan()
    {
        var s = new ProgressSnapshot(7, 0, double.NaN, 0, double.NaN, null, EvalLoss: 1.5);
        Assert.Equal("step 7 loss nan eval 1.5000 lr 0 nan tok/s ETA --", ProgressLine.Format(s));
    }

    [Theory]
    [InlineData(0.0, "0s")]
    [InlineData(45.4, "45s")]
    [InlineData(59.6, "1m00s")]
    [InlineData(192, "3m12s")]
    [InlineData(3900, "1h05m")]
    [InlineData(2 * 86400 + 3 * 3600 + 59, "2d03h")]
    [InlineData(-1.0, "--")]
    public void Eta(double seconds, string expected) => Assert.Equal(expected, ProgressLine.Eta(TimeSpan.FromSeconds(seconds)));

    [Fact]
    public void Eta_Unknown() => Assert.Equal("--", ProgressLine.Eta(null));

    [Theory]
    [InlineData(1.9e-4, "1.9e-4")]
    [InlineData(2e-5, "2.0e-5")]
    [InlineData(0.000199999, "2.0e-4")]
    [InlineData(9.96e-5, "1.0e-4")]
    [InlineData(3.0, "3.0e0")]
    [InlineData(0.0, "0")]
    [InlineData(double.NaN, "nan")]
    public void LearningRate(double lr, string expected) => Assert.Equal(expected, ProgressLine.LearningRate(lr));

    [Theory]
    [InlineData(2.0, "2.0000")]
    [InlineData(double.NaN, "nan")]
    [InlineData(double.PositiveInfinity, "inf")]
    [InlineData(double.NegativeInfinity, "-inf")]
    public void Loss(double loss, string expected) => Assert.Equal(expected, ProgressLine.Loss(loss));

    [Theory]
    [InlineData(1234567.6, "1,234,568")]
    [InlineData(999.4, "999")]
    public void TokensPerSecond(double value, string expected) => Assert.Equal(expected, ProgressLine.TokensPerSecond(value));

    [Theory]
    [InlineData(0, 10, 10, ">         ")]
    [InlineData(5, 10, 10, "=====>    ")]
    [InlineData(9, 10, 10, "=========>")]
    [InlineData(10, 10, 10, "==========")]
    [InlineData(15, 10, 4, "====")]
    [InlineData(-3, 10, 4, ">   ")]
    [InlineData(1, 3, 0, "")]
    public void Bar(long step, long total, int width, string expected) => Assert.Equal(expected, ProgressLine.Bar(step, total, width));

    [Theory]
    [InlineData(12, 200, 6)]
    [InlineData(199, 200, 99)]
    [InlineData(200, 200, 100)]
    [InlineData(300, 200, 100)]
    public void Percent(long step, long total, int expected) => Assert.Equal(expected, ProgressLine.Percent(step, total));

    [Fact]
    public void FitToWidth_ShrinksBarThenCuts()
    {
        string full = ProgressLine.Format(Typical);
        Assert.Equal(full, ProgressLine.FitToWidth(Typical, null));
        Assert.Equal(full, ProgressLine.FitToWidth(Typical, 0));
        Assert.Equal(full, ProgressLine.FitToWidth(Typical, full.Length + 1));

        string shrunk = ProgressLine.FitToWidth(Typical, full.Length - 9); // must lose 10 columns: bar 20 -> 10
        Assert.Equal(ProgressLine.Format(Typical, 10), shrunk);
        Assert.Equal(full.Length - 10, shrunk.Length);

        string cut = ProgressLine.FitToWidth(Typical, 30);
        Assert.Equal(29, cut.Length);
        Assert.Equal(ProgressLine.Format(Typical, ProgressLine.MinBarWidth)[..29], cut);
        Assert.Equal("s", ProgressLine.FitToWidth(Typical, 1));
    }
}
