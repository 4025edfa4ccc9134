namespace Engine.Autograd;

/// <summary>Whether operations record autograd nodes on this thread. <c>using (GradMode.NoGrad()) { ... }</c>
/// turns recording off for inference, evaluation and the first pass of gradient checkpointing.</summary>
internal static class GradMode
{
    [ThreadStatic] private static int _disabled;

    public static bool Enabled => _disabled == 0;

    public static IDisposable NoGrad() => new Toggle(+1);

    /// <summary>Re-enables recording inside a no-grad region (recomputation in checkpointed backward).</summary>
    public static IDisposable EnableGrad()
    {
        int saved = _disabled;
        _disabled = 0;
        return new Restore(saved);
    }

    private sealed class Toggle : IDisposable
    {
        private readonly int _delta;
        private bool _done;
        public Toggle(int delta) { _delta = delta; _disabled += delta; }
        public void Dispose() { if (!_done) { _done = true; _disabled -= _delta; } }
    }

    private sealed class Restore : IDisposable
    {
        private readonly int _saved;
        private bool _done;
        public Restore(int saved) => _saved = saved;
        public void Dispose() { if (!_done) { _done = true; _disabled = _saved; } }
    }
}
