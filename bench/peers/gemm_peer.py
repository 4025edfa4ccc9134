"""Same-machine peers for `Engine.Bench gemm`: the same shapes through numpy (OpenBLAS) or torch (MKL/oneDNN),
GFLOP/s as median (best) of timed calls after 0.2 s of warm-up, like GemmBench.cs.

  python3 bench/peers/gemm_peer.py torch 1,2       # torch.set_num_threads for each count
  OPENBLAS_NUM_THREADS=1 python3 bench/peers/gemm_peer.py numpy
                                                   # numpy reads its thread count from the environment only

Debian's numpy (apt-get install python3-numpy libopenblas0-pthread; /usr/bin/python3) detects this CPU as "Prescott"
(SSE3 kernels) unless OPENBLAS_CORETYPE=SkylakeX is set; report both.
"""
import os
import sys
import time

CASES = [
    ("x·Wqᵀ        2048x288x288   NT", False, True, 2048, 288, 288),
    ("x·W1ᵀ        2048x768x288   NT", False, True, 2048, 768, 288),
    ("LM head      2048x32000x288 NT", False, True, 2048, 32000, 288),
    ("LM head dx   2048x288x32000 NN", False, False, 2048, 288, 32000),
    ("LM head dW   288x32000x2048 TN", True, False, 288, 32000, 2048),
    ("square       512x512x512    NN", False, False, 512, 512, 512),
    ("GEMV         1x4096x4096    NT", False, True, 1, 4096, 4096),
    ("GEMV         1x4096x4096    NN", False, False, 1, 4096, 4096),
    ("8 rows       8x4096x4096    NT", False, True, 8, 4096, 4096),
    ("1 column     2048x1x288     NN", False, False, 2048, 1, 288),
]


def seconds(call):
    start = time.perf_counter()
    while True:
        call()
        if time.perf_counter() - start >= 0.2:
            break
    times, start = [], time.perf_counter()
    while len(times) < 3 or (len(times) < 15 and time.perf_counter() - start < 1.5):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2], times[0]


def main():
    lib = sys.argv[1] if len(sys.argv) > 1 else "numpy"
    if lib == "torch":
        import torch
        threads = [int(t) for t in (sys.argv[2] if len(sys.argv) > 2 else "1,2").split(",")]
        print(f"torch {torch.__version__} matmul (float32, CPU), {torch.backends.mkldnn.is_available()=}")
    else:
        import numpy as np
        threads = [int(os.environ.get("OPENBLAS_NUM_THREADS", "0"))]
        print(f"numpy {np.__version__} matmul, OPENBLAS_NUM_THREADS={threads[0]}, "
              f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}")
    print(f"{'case':<32} " + " ".join(f"{str(t) + ' threads':>16}" for t in threads))
    for name, ta, tb, m, n, k in CASES:
        line = f"{name:<32} "
        for t in threads:
            if lib == "torch":
                torch.set_num_threads(t)
                g = torch.Generator().manual_seed(1234)
                a = torch.rand((k, m) if ta else (m, k), generator=g) * 2 - 1
                b = torch.rand((n, k) if tb else (k, n), generator=g) * 2 - 1
                c = torch.empty((m, n))
                opa, opb = (a.t() if ta else a), (b.t() if tb else b)
                med, best = seconds(lambda: torch.matmul(opa, opb, out=c))
            else:
                rng = np.random.default_rng(1234)
                a = rng.uniform(-1, 1, (k, m) if ta else (m, k)).astype(np.float32)
                b = rng.uniform(-1, 1, (n, k) if tb else (k, n)).astype(np.float32)
                c = np.empty((m, n), np.float32)
                opa, opb = (a.T if ta else a), (b.T if tb else b)
                med, best = seconds(lambda: np.matmul(opa, opb, out=c))
            gflop = 2.0 * m * n * k / 1e9
            line += f"{gflop / med:8.1f} ({gflop / best:5.1f})"
        print(line, flush=True)


if __name__ == "__main__":
    main()
