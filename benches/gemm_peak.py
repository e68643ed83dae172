"""The machine's measured matrix-multiply peak, the yardstick of the k-means flop rates in benches/kmeans_compare.sh:
numpy's BLAS (OpenBLAS, as pip installs it) multiplying two square matrices on every core, f64 and f32, best of a few
runs. Prints one JSON line: gflops_f64, gflops_f32, the size, the BLAS and its threads.

Usage: python benches/gemm_peak.py [SIZE]
"""

import json
import sys
import time

import numpy as np
from threadpoolctl import threadpool_info

size = int(sys.argv[1]) if len(sys.argv) > 1 else 3072
rates = {}
for dtype in (np.float64, np.float32):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size)).astype(dtype)
    b = rng.standard_normal((size, size)).astype(dtype)
    a @ b  # warm up: threads started, pages touched
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - started)
    rates[np.dtype(dtype).name] = 2 * size**3 / best / 1e9
blas = [(i.get("internal_api"), i.get("num_threads")) for i in threadpool_info() if i.get("user_api") == "blas"]
print(json.dumps({"gflops_f64": rates["float64"], "gflops_f32": rates["float32"], "size": size, "blas": blas}))
