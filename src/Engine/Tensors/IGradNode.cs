namespace Engine.Tensors;

/// <summary>The autograd node that produced a tensor. A marker here; <c>Engine.Autograd.Node</c> implements it.</summary>
public interface IGradNode
{
    string OpName { get; }
}
