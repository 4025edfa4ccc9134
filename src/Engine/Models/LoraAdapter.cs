using Engine.Backends;
using Engine.Nn;
using Engine.Tensors;

namespace Engine.Models;

/// <summary>LoRA adapters attached to a Llama model's projections, named as PEFT saves them
/// (base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight [r, in], ...lora_B.weight [out, r]).</summary>
internal sealed class LoraAdapter : IDisposable
{
    private LoraAdapter(LoraOptions options, ParameterSet parameters)
    {
        Options = options;
        Parameters = parameters;
    }

    public LoraOptions Options { get; }
    /// <summary>The adapter tensors (fp32, trainable) by PEFT name.</summary>
    public ParameterSet Parameters { get; }

    public static string PeftName(int layer, string proj, char ab) =>
        $"base_model.model.{LlamaNames.Projection(layer, proj)}.lora_{ab}.weight";

    /// <summary>Wraps every targeted projection with a fresh adapter: A ~ U(−1/√in, 1/√in) (PEFT's kaiming_uniform with
    /// a = √5), B = 0, so the model's output is unchanged until training moves B.</summary>
    public static LoraAdapter Inject(LlamaModel model, LoraOptions o)
    {
        if (o.R <= 0) throw new EngineException($"--lora-r must be positive, got {o.R}");
        var rng = new Rng(o.Seed);
        var set = new ParameterSet();
        var be = model.Backend;
        int id = 0;
        foreach (var layer in model.Layers)
            foreach (var proj in o.Targets)
            {
                var baseLinear = layer.Get(proj);
                var aData = new float[(long)o.R * baseLinear.InFeatures];
                double bound = 1.0 / Math.Sqrt(baseLinear.InFeatures);
                rng.FillUniform(aData, -bound, bound);
                var a = TensorScope.Unscoped(() => be.FromFloats(aData, new Shape(o.R, baseLinear.InFeatures), DType.F32));
                var b = TensorScope.Unscoped(() => be.Zeros(new Shape(baseLinear.OutFeatures, o.R), DType.F32));
                Attach(model, layer, proj, a, b, o, set, id++);
            }
        return new LoraAdapter(o, set);
    }

    /// <summary>Attaches adapters whose tensors are given by PEFT name (loading a saved adapter).</summary>
    public static LoraAdapter Attach(LlamaModel model, LoraOptions o, Func<string, int[], float[]> read, bool trainable)
    {
        var set = new ParameterSet();
        var be = model.Backend;
        int id = 0;
        foreach (var layer in model.Layers)
            foreach (var proj in o.Targets)
            {
                var baseLinear = layer.Get(proj);
                int[] aShape = { o.R, baseLinear.InFeatures }, bShape = { baseLinear.OutFeatures, o.R };
                var aData = read(PeftName(layer.Index, proj, 'A'), aShape);
                var bData = read(PeftName(layer.Index, proj, 'B'), bShape);
                var a = TensorScope.Unscoped(() => be.FromFloats(aData, new Shape(aShape), DType.F32));
                var b = TensorScope.Unscoped(() => be.FromFloats(bData, new Shape(bShape), DType.F32));
                Attach(model, layer, proj, a, b, o, set, id++);
                if (!trainable) { a.RequiresGrad = false; b.RequiresGrad = false; }
            }
        return new LoraAdapter(o, set);
    }

    private static void Attach(LlamaModel model, LlamaLayer layer, string proj, Tensor a, Tensor b, LoraOptions o, ParameterSet set, int id)
    {
        a.RequiresGrad = true;
        b.RequiresGrad = true;
        set.Add(PeftName(layer.Index, proj, 'A'), a);
        set.Add(PeftName(layer.Index, proj, 'B'), b);
        layer.Set(proj, new LoraLinear(layer.Get(proj), a, b, o.Scaling, o.Dropout, id));
    }

    /// <summary>Folds scaling·B·A into each targeted base weight (W += s·B·A, in fp32 on the host) and unwraps the
    /// projections, leaving a plain model. The base weights must be dense.</summary>
    public static void MergeInto(LlamaModel model)
    {
        var be = model.Backend;
        foreach (var layer in model.Layers)
            foreach (var (proj, _) in LlamaNames.Projections)
            {
                if (layer.Get(proj) is not LoraLinear lora) continue;
                if (lora.Base is not Linear dense) throw new EngineException($"cannot merge into layer {layer.Index} {proj}: its base weight is not dense (dequantize it first)");
                int outF = lora.OutFeatures, inF = lora.InFeatures, r = lora.Rank;
                var w = new float[(long)outF * inF];
                var aa = new float[(long)r * inF];
                var bb = new float[(long)outF * r];
                be.ToFloats(dense.Weight, w);
                be.ToFloats(lora.A, aa);
                be.ToFloats(lora.B, bb);
                Parallel.For(0, outF, () => new double[inF], (o, _, acc) =>
                {
                    Array.Clear(acc);
                    for (int k = 0; k < r; k++)
                    {
                        double s = (double)lora.Scaling * bb[(long)o * r + k];
                        if (s == 0) continue;
                        for (int i = 0; i < inF; i++) acc[i] += s * aa[(long)k * inF + i];
                    }
                    for (int i = 0; i < inF; i++) w[(long)o * inF + i] = (float)(w[(long)o * inF + i] + acc[i]);
                    return acc;
                }, _ => { });
                using var merged = be.FromFloats(w, dense.Weight.Shape, dense.Weight.DType);
                be.Copy(merged, dense.Weight);
                layer.Set(proj, dense);
            }
    }

    public void Dispose() => Parameters.Dispose();
}
