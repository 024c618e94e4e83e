"""f32 GEMM through numpy in the same run as our benchmark (the reference).

A worker for paired timing (bench/numpy-worker.ts): it prints one JSON line
naming the BLAS, then answers each request line {"m", "n", "k", "runs"} with
{"seconds": [...]}, one entry per product A [m, k] @ B[n, k]^T (the first
request for a shape makes its operands and runs one warm-up).
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
    serve()
