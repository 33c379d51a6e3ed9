"""Benchmarks of theory.deep_linear (law of parsimony): printed ratios, nothing asserted.

(a) per-step time of full-network GD (L = 3, square d x d layers, X = I) at d in {400, 800, 1000}
    and its achieved GFLOP/s (a step costs 6 matrix products = 12 d^3 flop) as a fraction of a
    plain d x d matrix multiply measured in the same run; goal >= 85 %.
(b) the authors' equivalence setting (d = 1000, r = 10, L = 3, eps = 1e-3, eta = 1e-3 on the sum
    loss, until loss < 1e-10): wall time of the compressed network including the construction of
    its frame and of Phi~ (the whitened case trains the 2r x 2r chain on Phi~ alone); goal <= 5 s.
(c) per-step time ratio full / compressed at d = 400, r = 2; goal >= 1000x.

Run: ``python bench/bench_deep_linear.py [--threads N]`` (``make bench``). BLAS threads are set
with threadpoolctl (default 1: per-core numbers, comparable on a shared machine). Per-step
times in (a) and (c) are CPU times of this process; (b) reports wall time.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from theory import deep_linear as dl


# CPU time of this process: with one BLAS thread it is immune to other jobs on a shared machine
clock = time.process_time


def matmul_seconds(d: int, rng, repeats: int = 5, batch: int = 6) -> float:
    """Best time of one ``d x d`` by ``d x d`` product into a preallocated output."""
    A, B = rng.standard_normal((2, d, d))
    C = np.empty((d, d))
    np.matmul(A, B, out=C)
    best = np.inf
    for _ in range(repeats):
        t0 = clock()
        for _ in range(batch):
            np.matmul(A, B, out=C)
        best = min(best, (clock() - t0) / batch)
    return float(best)


def per_step_seconds(weights0, target, lr: float, short: int, long: int, repeats: int = 3):
    """Per-step time of :func:`theory.deep_linear.train`: (time(long) - time(short)) / (long -
    short), which removes the fixed cost (validation, buffers, snapshots); best of ``repeats``."""
    best = np.inf
    for _ in range(repeats):
        t0 = clock()
        dl.train(weights0, target, lr=lr, steps=short, stride=10**9)
        t1 = clock()
        dl.train(weights0, target, lr=lr, steps=long, stride=10**9)
        t2 = clock()
        best = min(best, ((t2 - t1) - (t1 - t0)) / (long - short))
    return best


def gaussian_low_rank(d: int, r: int, rng) -> np.ndarray:
    U, s, Vt = np.linalg.svd(rng.standard_normal((d, d)))
    return (U[:, :r] * s[:r]) @ Vt[:r]


def bench_full_step(rng) -> None:
    print("(a) full-network GD step, L = 3, X = I (12 d^3 flop per step)")
    print(f"    {'d':>5} {'step [ms]':>10} {'GFLOP/s':>8} {'matmul GFLOP/s':>15} {'fraction':>9}")
    for d in (400, 800, 1000):
        Phi = dl.low_rank_target(d, [3.0, 1.5], rng)
        W0 = dl.orthogonal_init(d, 3, 0.3, rng)
        short, long = (2, 12) if d < 1000 else (2, 8)
        step = per_step_seconds(W0, Phi, 1e-3, short, long, repeats=2)
        mm = matmul_seconds(d, rng)
        rate, mm_rate = 12 * d**3 / step / 1e9, 2 * d**3 / mm / 1e9
        print(f"    {d:5d} {1e3 * step:10.2f} {rate:8.1f} {mm_rate:15.1f} {rate / mm_rate:9.1%}")


def bench_equivalence(rng) -> None:
    d, r, eps, eta, tol = 1000, 10, 1e-3, 1e-3, 1e-10
    print(f"(b) compressed network at the authors' setting (d={d}, r={r}, L=3, eps={eps}, "
          f"eta={eta}, loss < {tol})")
    Phi = gaussian_low_rank(d, r, rng)
    t0 = time.perf_counter()
    W0 = dl.orthogonal_init(d, 3, eps, rng)
    t_init = time.perf_counter() - t0
    t0 = time.perf_counter()
    frame = dl.invariant_frame(W0, Phi, r, thin=True, svd="randomized", rng=rng)
    init, phi_tilde = dl.compressed_problem(frame, Phi)
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    run = dl.train(init, phi_tilde, lr=eta, steps=200_000, tol=tol, stride=10**9)
    t_train = time.perf_counter() - t0
    rho = dl.complement_scalar_gd(eps, eta, run.n_steps, 3)[-1]
    total = run.losses[-1] + float(dl.complement_loss(rho, 3, d - 2 * r))
    print(f"    Haar init of the full network (shared by both) {t_init:.2f} s")
    print(f"    construction (frame + Phi~) {t_build:.2f} s, training {run.n_steps} steps "
          f"{t_train:.2f} s -> compressed total {t_build + t_train:.2f} s (goal <= 5 s); "
          f"converged {run.converged}, full-network loss at the end {total:.2e}")
    one_full = per_step_seconds(W0, Phi, eta, 1, 3, repeats=1)   # CPU seconds
    print(f"    the full network would need about {run.n_steps} x {one_full:.3f} s = "
          f"{run.n_steps * one_full / 60:.0f} min for the same trajectory")


def bench_ratio(rng) -> None:
    d, r = 400, 2
    print(f"(c) per-step ratio full / compressed at d = {d}, r = {r}, L = 3")
    Phi = dl.low_rank_target(d, [3.0, 1.5], rng)
    W0 = dl.orthogonal_init(d, 3, 0.3, rng)
    frame = dl.invariant_frame(W0, Phi, r)
    init, phi_tilde = dl.compressed_problem(frame, Phi)
    full = per_step_seconds(W0, Phi, 0.02, 2, 12, repeats=2)
    small = per_step_seconds(init, phi_tilde, 0.02, 1000, 21_000, repeats=3)
    print(f"    full {1e3 * full:.2f} ms, compressed {1e6 * small:.1f} us per step: "
          f"ratio {full / small:.0f}x (goal >= 1000x)")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    with threadpool_limits(limits=args.threads, user_api="blas"):
        print(f"bench_deep_linear: {args.threads} BLAS thread(s)")
        bench_full_step(rng)
        bench_equivalence(rng)
        bench_ratio(rng)


if __name__ == "__main__":
    main()
