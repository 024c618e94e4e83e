"""f32 GEMM through numpy in the same run as our benchmark (the reference).

Reads a JSON list of [m, n, k] on stdin; prints one JSON object with the
BLAS numpy uses and the median GFLOP/s for each shape.

With --serve it is a worker for paired timing (bench/numpy-worker.ts): it
prints one JSON line naming the BLAS, then answers each request line
{"m", "n", "k", "runs"} with {"seconds": [...]}, one entry per product
(the first request for a shape makes its operands and runs one warm-up).
"""
import json
import os
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


def openblas_core():
    """The kernel OpenBLAS picked at run time (DYNAMIC_ARCH builds), e.g. 'SkylakeX' or 'Haswell'."""
    import ctypes
    import glob
    import os
    libs = glob.glob(os.path.join(os.path.dirname(np.__file__), "..", "numpy.libs", "*openblas*"))
    libs += glob.glob(os.path.join(os.path.dirname(np.__file__), ".libs", "*openblas*"))
    for path in libs:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename", "openblas_get_corename64_", "openblas_get_corename"):
            fn = getattr(lib, name, None)
            if fn is not None:
                fn.restype = ctypes.c_char_p
                return fn().decode()
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
    env = {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    print(json.dumps({"blas": blas_name(), "core": openblas_core(), "env": env, "numpy": np.__version__, "gemm": out}))


def serve():
    env = {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    print(json.dumps({"blas": blas_name(), "core": openblas_core(), "env": env, "numpy": np.__version__}), flush=True)
    rng = np.random.default_rng(0)
    shape, a, b = None, None, None
    for line in sys.stdin:
        req = json.loads(line)
        key = (req["m"], req["n"], req["k"])
        if key != shape:
            shape, a, b = key, None, None  # one shape's operands at a time
            a = rng.standard_normal((key[0], key[2]), dtype=np.float32)
            b = rng.standard_normal((key[1], key[2]), dtype=np.float32)  # [n, k], used transposed
            a @ b.T
        seconds = []
        for _ in range(int(req.get("runs", 1))):
            t = time.perf_counter()
            a @ b.T
            seconds.append(time.perf_counter() - t)
        print(json.dumps({"seconds": seconds}), flush=True)


if __name__ == "__main__":
    serve() if "--serve" in sys.argv[1:] else main()
