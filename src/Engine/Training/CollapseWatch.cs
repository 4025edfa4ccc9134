namespace Engine.Training;

/// <summary>Notices a run that has stopped learning while reporting numbers that look fine: a global gradient norm of
/// exactly 0 for several steps in a row (nothing reaches the weights), or a logged loss stuck at ln(vocab) (within 1%)
/// for several logs (the model predicts a uniform distribution). Both usually mean a learning rate so high that the
/// model collapsed. Each warning is given once per run.</summary>
internal sealed class CollapseWatch(int vocabSize)
{
    /// <summary>How many steps (zero gradient) or logged steps (loss at ln V) in a row make a warning.</summary>
    public const int Patience = 3;

    private readonly double _uniformLoss = Math.Log(Math.Max(2, vocabSize));
    private int _zeroNorms, _uniformLogs;
    private bool _warnedNorm, _warnedLoss;

    /// <summary>The warning to print after an optimizer step with this gradient norm, if any.</summary>
    public string? Step(int step, double gradNorm, float learningRate)
    {
        _zeroNorms = gradNorm == 0 ? _zeroNorms + 1 : 0;
        if (_zeroNorms < Patience || _warnedNorm) return null;
        _warnedNorm = true;
        return $"warning: step {step}: the gradient norm has been exactly 0 for {_zeroNorms} steps in a row, so the weights no longer " +
               $"change; the model has likely collapsed (learning rate {learningRate:G3} too high?). Try a lower --learning-rate.";
    }

    /// <summary>The warning to print after a logged step with this mean loss, if any.</summary>
    public string? Logged(int step, double meanLoss, float learningRate)
    {
        _uniformLogs = Math.Abs(meanLoss - _uniformLoss) <= 0.01 * _uniformLoss ? _uniformLogs + 1 : 0;
        if (_uniformLogs < Patience || _warnedLoss) return null;
        _warnedLoss = true;
        return $"warning: step {step}: the loss has stayed at ln(vocab) = {_uniformLoss:F4} for {_uniformLogs} logged steps: the model " +
               $"predicts a uniform distribution over its {vocabSize} tokens (collapsed; learning rate {learningRate:G3} too high?). " +
               "Try a lower --learning-rate.";
    }
}
