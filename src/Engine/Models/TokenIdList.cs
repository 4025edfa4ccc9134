namespace Engine.Models;

/// <summary>An immutable list of token ids that compares by its contents (so configs holding one stay value-equal).</summary>
internal sealed class TokenIdList : IEquatable<TokenIdList>
{
    public TokenIdList(IEnumerable<int> ids) => Ids = ids.ToArray();

    public IReadOnlyList<int> Ids { get; }

    public bool Equals(TokenIdList? other) => other is not null && Ids.SequenceEqual(other.Ids);
    public override bool Equals(object? obj) => Equals(obj as TokenIdList);
    public override int GetHashCode() => Ids.Aggregate(17, (h, x) => h * 31 + x);
    public override string ToString() => $"[{string.Join(", ", Ids)}]";
}
