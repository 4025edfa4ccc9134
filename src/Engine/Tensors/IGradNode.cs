namespace Engine.Tensors;

/// <summary>The autograd node that produced a tensor. A marker here; <c>Engine.Autograd.Node</c> implements it.</summary>
internal interface IGradNode
{
    string OpName { get; }
}
