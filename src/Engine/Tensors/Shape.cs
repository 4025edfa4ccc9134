namespace Engine.Tensors;

/// <summary>An immutable list of dimension sizes, outermost first (row-major).</summary>
internal sealed class Shape : IEquatable<Shape>
{
    private readonly int[] _dims;

    public Shape(params int[] dims)
    {
        foreach (var d in dims)
            if (d < 0) throw new ArgumentException($"negative dimension in shape [{string.Join(", ", dims)}]");
        _dims = (int[])dims.Clone();
        long n = 1;
        foreach (var d in _dims) n = checked(n * d);
        NumElements = n;
    }

    public int Rank => _dims.Length;
    public long NumElements { get; }
    public int this[int i] => _dims[i < 0 ? _dims.Length + i : i];
    public ReadOnlySpan<int> Dims => _dims;
    public int[] ToArray() => (int[])_dims.Clone();

    /// <summary>Product of all dimensions but the last: the number of rows when the tensor is viewed as a matrix.</summary>
    public long Rows => _dims.Length == 0 ? 1 : NumElements / Math.Max(1, _dims[^1]);
    public int Last => _dims.Length == 0 ? 1 : _dims[^1];

    public Shape WithLast(int last)
    {
        var d = ToArray();
        d[^1] = last;
        return new Shape(d);
    }

    public Shape WithFirst(int first)
    {
        var d = ToArray();
        d[0] = first;
        return new Shape(d);
    }

    public bool Equals(Shape? other) => other is not null && _dims.AsSpan().SequenceEqual(other._dims);
    public override bool Equals(object? obj) => Equals(obj as Shape);
    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (var d in _dims) h.Add(d);
        return h.ToHashCode();
    }

    public override string ToString() => "[" + string.Join(", ", _dims) + "]";
    public static bool operator ==(Shape? a, Shape? b) => a is null ? b is null : a.Equals(b);
    public static bool operator !=(Shape? a, Shape? b) => !(a == b);
}
