"""Benchmark: batched SVD core vs Python loops, as ratios measured in one run (not asserted).

1. singular values of a trajectory stack (200 snapshots x 3 layers x 64 x 64):
   one batched call vs a loop over the 600 matrices;
2. principal angles of 200 x 3 pairs of 64 x 8 bases: batched vs a loop over
   scipy.linalg.subspace_angles.
BLAS threads are fixed with threadpoolctl so that the comparison is like for like.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.linalg
from threadpoolctl import threadpool_info, threadpool_limits

from theory import linalg


def best_of(func, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def main(threads: int = 1) -> None:
    rng = np.random.default_rng(0)
    stack = rng.standard_normal((200, 3, 64, 64))
    A = rng.standard_normal((200, 3, 64, 8))
    B = rng.standard_normal((200, 3, 64, 8))
    with threadpool_limits(limits=threads):
        blas = ", ".join(f"{i['internal_api']} {i.get('version')}" for i in threadpool_info())
        print(f"BLAS: {blas}; threads: {threads}")

        batched = best_of(lambda: linalg.singular_values(stack))
        loop = best_of(lambda: [np.linalg.svd(m, compute_uv=False)
                                for m in stack.reshape(-1, 64, 64)])
        print(f"singular values, 200x3 stack of 64x64: batched {batched * 1e3:8.1f} ms, "
              f"loop {loop * 1e3:8.1f} ms, ratio loop/batched {loop / batched:5.2f}")

        batched = best_of(lambda: linalg.principal_angles(A, B))
        loop = best_of(lambda: [scipy.linalg.subspace_angles(a, b)
                                for a, b in zip(A.reshape(-1, 64, 8), B.reshape(-1, 64, 8))])
        print(f"principal angles, 200x3 pairs of 64x8:  batched {batched * 1e3:8.1f} ms, "
              f"scipy loop {loop * 1e3:8.1f} ms, ratio loop/batched {loop / batched:5.2f}")


if __name__ == "__main__":
    main()
