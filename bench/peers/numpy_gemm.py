"""Same-machine peer for `Engine.Bench gemm`: numpy matmul (OpenBLAS on Debian) on the same shapes, median GFLOP/s.

Run: OPENBLAS_NUM_THREADS=1 python3 bench/peers/numpy_gemm.py ; then with OPENBLAS_NUM_THREADS=2
(Debian: apt-get install python3-numpy libopenblas0-pthread, with /usr/bin/python3).
"""
import os
import time

import numpy as np

CASES = [
    ("x·Wqᵀ        2048x288x288   NT", False, True, 2048, 288, 288),
    ("x·W1ᵀ        2048x768x288   NT", False, True, 2048, 768, 288),
    ("LM head      2048x32000x288 NT", False, True, 2048, 32000, 288),
    ("LM head dx   2048x288x32000 NN", False, False, 2048, 288, 32000),
    ("LM head dW   288x32000x2048 TN", True, False, 288, 32000, 2048),
    ("square       512x512x512    NN", False, False, 512, 512, 512),
    ("GEMV         1x4096x4096    NT", False, True, 1, 4096, 4096),
    ("GEMV         1x4096x4096    NN", False, False, 1, 4096, 4096),
]


def main():
    rng = np.random.default_rng(1234)
    print(f"numpy {np.__version__} matmul, median GFLOP/s, OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    for name, ta, tb, m, n, k in CASES:
        a = rng.uniform(-1, 1, (k, m) if ta else (m, k)).astype(np.float32)
        b = rng.uniform(-1, 1, (n, k) if tb else (k, n)).astype(np.float32)
        c = np.empty((m, n), np.float32)
        opa, opb = (a.T if ta else a), (b.T if tb else b)
        np.matmul(opa, opb, out=c)
        times, start = [], time.perf_counter()
        while len(times) < 3 or (len(times) < 15 and time.perf_counter() - start < 1.5):
            t0 = time.perf_counter()
            np.matmul(opa, opb, out=c)
            times.append(time.perf_counter() - t0)
        times.sort()
        print(f"{name:<32} {2.0 * m * n * k / times[len(times) // 2] / 1e9:9.1f}")


if __name__ == "__main__":
    main()
