"""PyTorch DDP peer for engine's data-parallel training (`engine train --nproc-per-node N`): the shapes of
`engine bench train` (same names, same numbers as src/Engine.Cuda/Diagnostics/BenchShapes.cs), random weights and
random tokens, LoRA on all seven linear projections or full fine-tuning, AdamW, run by torchrun. Prints one JSON line
per rank (its tokens/s and peak memory) and one global line from rank 0 (world × batch × seq over the slowest rank's
median step).

Plain torch only (no transformers, no peft: the Llama block and the LoRA wrapper are written out here, PEFT's
defaults: A kaiming-uniform, B zeros, scale alpha / r, base weights frozen), so it runs on Debian's torch 1.13 too.
DistributedDataParallel with its defaults (25 MiB buckets, gradients all-reduced during backward); with
--grad-accum > 1 the earlier micro-batches run under no_sync, as engine's trainer does.

  python3 -m torch.distributed.run --nproc_per_node 2 bench/peers/torch_ddp_peer.py --device cpu --shape stories260k --seq 64
  torchrun --nproc_per_node 8 bench/peers/torch_ddp_peer.py --shape llama2-7b --mode lora --batch-size 4 --seq 2048 \\
      --gradient-checkpointing

Debian's torch 1.13 under Python 3.12 (/usr/bin/python3) cannot parse torchrun's default --redirects/--tee (Std.NONE
is no longer iterated); give them explicitly there:
  /usr/bin/python3 -m torch.distributed.run --nproc_per_node 2 --redirects 1 --tee 1 --log_dir /tmp/ddp-peer-logs \
      bench/peers/torch_ddp_peer.py --device cpu --shape stories260k --seq 64 --threads 1

On CUDA: NCCL, bf16 weights (LoRA adapters in fp32, as PEFT keeps them), one GPU per rank (LOCAL_RANK). On the CPU:
gloo, fp32, --threads threads per rank.
"""
import argparse
import json
import math
import os
import resource
import time

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint

# name: (hidden, ffn, layers, heads, kv heads, head dim, vocab, tied, rope theta, qkv bias)
SHAPES = {
    "llama2-7b": (4096, 11008, 32, 32, 32, 128, 32000, False, 10000.0, False),
    "llama3-8b": (4096, 14336, 32, 32, 8, 128, 128256, False, 500000.0, False),
    "tinyllama-1b": (2048, 5632, 22, 32, 4, 64, 32000, False, 10000.0, False),
    "stories15m": (288, 768, 6, 6, 6, 48, 32000, False, 10000.0, False),
    "stories260k": (64, 172, 5, 8, 4, 8, 512, True, 10000.0, False),
    "llama3.2-1b": (2048, 8192, 16, 32, 8, 64, 128256, True, 500000.0, False),
    "llama3.2-1b-32k": (2048, 8192, 16, 32, 8, 64, 32000, True, 500000.0, False),
    "qwen2.5-0.5b": (896, 4864, 24, 14, 2, 64, 151936, True, 1000000.0, True),
}
PROJECTIONS = ("q", "k", "v", "o", "gate", "up", "down")


class LoraLinear(nn.Module):
    """A frozen base linear plus B·A·(alpha / r), as PEFT's lora.Linear with dropout 0."""

    def __init__(self, base, r, alpha):
        super().__init__()
        self.base = base
        base.weight.requires_grad_(False)
        if base.bias is not None:
            base.bias.requires_grad_(False)
        dev = base.weight.device
        self.a = nn.Parameter(torch.empty(r, base.in_features, device=dev))
        self.b = nn.Parameter(torch.zeros(base.out_features, r, device=dev))
        nn.init.kaiming_uniform_(self.a, a=math.sqrt(5))
        self.scale = alpha / r

    def forward(self, x):
        lora = F.linear(F.linear(x.to(self.a.dtype), self.a), self.b) * self.scale
        return self.base(x) + lora.to(x.dtype)


class RmsNorm(nn.Module):
    def __init__(self, dim, eps, **kw):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim, **kw))
        self.eps = eps

    def forward(self, x):
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return (h * self.weight.float()).to(x.dtype)


def rope(x, cos, sin):
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), -1)
    return x * cos + rotated * sin


def attention(q, k, v):
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    s = q.shape[-2]
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    mask = torch.ones(s, s, dtype=torch.bool, device=q.device).triu(1)
    return torch.softmax(scores.float().masked_fill(mask, float("-inf")), -1).to(q.dtype) @ v


class Block(nn.Module):
    def __init__(self, dim, ffn, heads, kv, hd, bias, **kw):
        super().__init__()
        self.heads, self.kv, self.hd = heads, kv, hd
        self.attn_norm = RmsNorm(dim, 1e-5, **kw)
        self.mlp_norm = RmsNorm(dim, 1e-5, **kw)
        self.q = nn.Linear(dim, heads * hd, bias=bias, **kw)
        self.k = nn.Linear(dim, kv * hd, bias=bias, **kw)
        self.v = nn.Linear(dim, kv * hd, bias=bias, **kw)
        self.o = nn.Linear(heads * hd, dim, bias=False, **kw)
        self.gate = nn.Linear(dim, ffn, bias=False, **kw)
        self.up = nn.Linear(dim, ffn, bias=False, **kw)
        self.down = nn.Linear(ffn, dim, bias=False, **kw)

    def forward(self, x, cos, sin):
        b, s, _ = x.shape
        h = self.attn_norm(x)
        q = self.q(h).view(b, s, self.heads, self.hd).transpose(1, 2)
        k = self.k(h).view(b, s, self.kv, self.hd).transpose(1, 2)
        v = self.v(h).view(b, s, self.kv, self.hd).transpose(1, 2)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        if self.kv != self.heads:
            k = k.repeat_interleave(self.heads // self.kv, 1)
            v = v.repeat_interleave(self.heads // self.kv, 1)
        a = attention(q, k, v).transpose(1, 2).reshape(b, s, self.heads * self.hd)
        x = x + self.o(a)
        h = self.mlp_norm(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class Llama(nn.Module):
    def __init__(self, shape, checkpointing, **kw):
        super().__init__()
        dim, ffn, layers, heads, kv, hd, vocab, tied, theta, bias = shape
        self.embed = nn.Embedding(vocab, dim, **kw)
        self.blocks = nn.ModuleList(Block(dim, ffn, heads, kv, hd, bias, **kw) for _ in range(layers))
        self.norm = RmsNorm(dim, 1e-5, **kw)
        self.head = nn.Linear(dim, vocab, bias=False, **kw)
        if tied:
            self.head.weight = self.embed.weight
        self.hd, self.theta, self.checkpointing = hd, theta, checkpointing
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)

    def forward(self, ids, targets):
        s = ids.shape[1]
        inv = 1.0 / (self.theta ** (torch.arange(0, self.hd, 2, device=ids.device, dtype=torch.float32) / self.hd))
        freqs = torch.outer(torch.arange(s, device=ids.device, dtype=torch.float32), inv)
        freqs = torch.cat((freqs, freqs), -1)
        x = self.embed(ids)
        cos, sin = freqs.cos().to(x.dtype), freqs.sin().to(x.dtype)
        for blk in self.blocks:
            if self.checkpointing and self.training:
                x = torch.utils.checkpoint.checkpoint(blk, x, cos, sin, use_reentrant=False)
            else:
                x = blk(x, cos, sin)
        logits = self.head(self.norm(x)).float()
        return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), targets[:, 1:].reshape(-1))


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto")
    p.add_argument("--shape", choices=sorted(SHAPES), default="stories15m")
    p.add_argument("--mode", choices=("lora", "full"), default="lora")
    p.add_argument("--batch-size", type=int, default=8, help="rows per rank per micro-batch")
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--lora-r", type=int, default=16)
    p.add_argument("--lora-alpha", type=float, default=32)
    p.add_argument("--gradient-checkpointing", action="store_true")
    p.add_argument("--grad-accum", type=int, default=1)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--max-seconds", type=float, default=120)
    p.add_argument("--threads", type=int, default=0, help="CPU: torch threads per rank (0: leave torch's default)")
    a = p.parse_args()
    for name in ("batch_size", "seq", "lora_r", "grad_accum", "steps"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')}: expected at least 1, got {getattr(a, name)}")
    if a.seq < 2:
        p.error(f"--seq: expected at least 2 (next-token targets), got {a.seq}")
    return a


def main():
    a = parse()
    if "RANK" not in os.environ:
        raise SystemExit("torch_ddp_peer.py: not a torchrun rank (RANK is not set): start it with "
                         "`python3 -m torch.distributed.run --nproc_per_node N bench/peers/torch_ddp_peer.py ...`")
    cuda = a.device == "cuda" or (a.device == "auto" and torch.cuda.is_available())
    if cuda and not torch.cuda.is_available():
        raise SystemExit("torch_ddp_peer.py: --device cuda but torch sees no GPU")
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if cuda:
        torch.cuda.set_device(local)
    dist.init_process_group("nccl" if cuda else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    if not cuda and a.threads > 0:
        torch.set_num_threads(a.threads)
    dev = torch.device("cuda", local) if cuda else torch.device("cpu")
    dtype = torch.bfloat16 if cuda else torch.float32

    torch.manual_seed(0)  # the same initial weights on every rank, as DDP's broadcast would make them anyway
    model = Llama(SHAPES[a.shape], a.gradient_checkpointing, device=dev, dtype=dtype)
    if a.mode == "lora":
        for p in model.parameters():
            p.requires_grad_(False)
        for blk in model.blocks:
            for name in PROJECTIONS:
                setattr(blk, name, LoraLinear(getattr(blk, name), a.lora_r, a.lora_alpha))
    trainable = [p for p in model.parameters() if p.requires_grad]
    ddp = nn.parallel.DistributedDataParallel(model, device_ids=[local] if cuda else None)
    opt = torch.optim.AdamW(trainable, lr=1e-5)

    g = torch.Generator(device="cpu").manual_seed(1 + rank)  # each rank its own rows
    vocab = SHAPES[a.shape][6]
    batches = [torch.randint(0, vocab, (a.batch_size, a.seq), generator=g).to(dev) for _ in range(a.grad_accum)]

    def sync():
        if cuda:
            torch.cuda.synchronize()

    def step():
        loss = 0.0
        for j, ids in enumerate(batches):
            if j < len(batches) - 1:
                with ddp.no_sync():
                    l = ddp(ids, ids) / len(batches)
                    l.backward()
            else:
                l = ddp(ids, ids) / len(batches)
                l.backward()
            loss += l.item()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        sync()
        return loss

    if cuda:
        torch.cuda.reset_peak_memory_stats()
    first = None
    for _ in range(a.warmup):
        l = step()
        first = l if first is None else first
    times, budget = [], time.perf_counter()
    for _ in range(a.steps):
        dist.barrier()  # every rank times the same step from the same start
        t0 = time.perf_counter()
        l = step()
        times.append(time.perf_counter() - t0)
        first = l if first is None else first
        # Every rank stops after the same step, or the others would wait in the next one's all-reduce.
        over = torch.tensor([1.0 if time.perf_counter() - budget > a.max_seconds else 0.0], device=dev)
        dist.all_reduce(over, op=dist.ReduceOp.MAX)
        if over.item() > 0:
            break
    times.sort()
    median = times[len(times) // 2]
    tokens = a.batch_size * a.seq * a.grad_accum
    peak = torch.cuda.max_memory_allocated() if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps(dict(rank=rank, world=world, shape=a.shape, mode=a.mode, device=str(dev), step_s=round(median, 4),
                          tokens_per_s=round(tokens / median, 1), peak_mem_gib=round(peak / 2**30, 3),
                          peak_kind="cuda allocated" if cuda else "process max RSS", loss=round(first, 4))), flush=True)
    slowest = torch.tensor([median, float(peak)], dtype=torch.float64, device=dev)
    dist.all_reduce(slowest, op=dist.ReduceOp.MAX)
    if rank == 0:
        print(json.dumps(dict(case=f"ddp_{a.shape}_{a.mode}", world=world, backend=dist.get_backend(), torch=torch.__version__,
                              batch_per_rank=a.batch_size, seq=a.seq, grad_accum=a.grad_accum, timed_steps=len(times),
                              step_s=round(slowest[0].item(), 4),
                              tokens_per_s_global=round(world * tokens / slowest[0].item(), 1),
                              tokens_per_s_per_rank=round(tokens / slowest[0].item(), 1),
                              peak_mem_gib_max_rank=round(slowest[1].item() / 2**30, 3))), flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
