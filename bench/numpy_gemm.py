"""f32 GEMM through numpy in the same run as our benchmark (the reference).

Reads a JSON list of [m, n, k] on stdin; prints one JSON object with the
BLAS numpy uses and the median GFLOP/s for each shape.
"""
import json
import sys
import time

import numpy as np


def blas_name():
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version', '')}".strip()
    except Exception:  # older numpy: no dict mode
        return "unknown"


def median_seconds(fn, min_runs=3, min_seconds=1.0):
    fn()
    times = []
    start = time.perf_counter()
    while len(times) < min_runs or time.perf_counter() - start < min_seconds:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
        if len(times) >= 50:
            break
    times.sort()
    return times[len(times) // 2]


def main():
    shapes = json.load(sys.stdin)
    rng = np.random.default_rng(0)
    out = []
    for m, n, k in shapes:
        a = rng.standard_normal((m, k), dtype=np.float32)
        # B stored [n, k] and used transposed, as our benchmark does (a Linear's weight)
        b = rng.standard_normal((n, k), dtype=np.float32)
        s = median_seconds(lambda: a @ b.T)
        out.append({"m": m, "n": n, "k": k, "gflops": 2 * m * n * k / s / 1e9})
    print(json.dumps({"blas": blas_name(), "numpy": np.__version__, "gemm": out}))


if __name__ == "__main__":
    main()
