namespace Engine.Training.Metrics;

/// <summary>One scalar from an event file.</summary>
internal readonly record struct TensorBoardScalar(double WallTime, long Step, string Tag, float Value);
