"""Benchmarks of the law-of-parsimony modules (deep_linear, compression, matrix_completion).

Printed ratios, nothing asserted.

All figures are wall time with every BLAS thread (what a user feels), each next to a bound
measured in the same run:

(a) per-step wall time of full-network training (L = 3, square d x d layers) at d in
    {400, 800, 1000} on every optimizer path the notebooks use (GD, momentum, GD with inputs
    X, GD with a matrix-completion mask), against the bound: the same number of plain d x d
    matrix products (np.matmul into a preallocated output; 6 for X = I or a mask, 8 with X),
    measured in the same run. Goal: ratio <= 1.15. The authors' JAX code, run on this machine
    (see bench/README.md), takes 67.9 ms at d = 800 and 134.5 ms at d = 1000 per GD step.
(b) the authors' equivalence setting (d = 1000, r = 10, L = 3, eps = 1e-3, eta = 1e-3 on the sum
    loss, until loss < 1e-10): wall time of the compressed network including the construction of
    its frame and of Phi~ (the whitened case trains the 2r x 2r chain on Phi~ alone); goal <= 5 s.
(c) per-step ratio full / compressed at d = 400, r = 2; goal >= 1000x.
(d) matrix completion at the authors' size (d = 1000, 20% observed), when the module provides a
    sparse masked residual: ms per step against the dense masked path.

Run: ``python bench/bench_deep_linear.py [--threads N]`` (``make bench``); ``--threads`` limits
the BLAS threads (default: all).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from theory import compression as cn
from theory import deep_linear as dl
from theory import matrix_completion as mc

clock = time.perf_counter          # wall time


def matmul_seconds(d: int, rng, repeats: int = 5, batch: int = 6) -> float:
    """Best wall time of one ``d x d`` by ``d x d`` product into a preallocated output."""
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


def per_step_seconds(weights0, target, lr: float, short: int, long: int, repeats: int = 3,
                     **kwargs) -> float:
    """Per-step wall time of :func:`theory.deep_linear.train`: (best time of ``long`` steps -
    best time of ``short`` steps) / (long - short), which removes the fixed cost (validation,
    buffers, snapshots). Each best is over ``repeats`` runs, taken before the difference: the
    difference of two single timings carries the noise of both and can fall below the bound."""
    def best_time(steps: int) -> float:
        best = np.inf
        for _ in range(repeats):
            t0 = clock()
            dl.train(weights0, target, lr=lr, steps=steps, log_every=10**9, **kwargs)
            best = min(best, clock() - t0)
        return best

    return (best_time(long) - best_time(short)) / (long - short)


PEER_MS = {800: 67.9, 1000: 134.5}    # authors' JAX code, GD step, on this machine


def gaussian_low_rank(d: int, r: int, rng) -> np.ndarray:
    U, s, Vt = np.linalg.svd(rng.standard_normal((d, d)))
    return (U[:, :r] * s[:r]) @ Vt[:r]


def bench_full_step(rng) -> None:
    print("(a) full-network training step, L = 3, wall time; bound = plain d x d matmuls "
          "measured in the same run")
    print(f"    {'d':>5} {'path':>10} {'step [ms]':>10} {'bound [ms]':>11} {'ratio':>6} "
          f"{'peer [ms]':>10}")
    for d in (400, 800, 1000):
        Phi = dl.low_rank_target(d, [3.0, 1.5], rng)
        W0 = dl.orthogonal_init(d, 3, 0.3, rng)
        X = np.linalg.qr(rng.standard_normal((d, d)))[0]       # whitened inputs, Y = Phi X
        mask = mc.observation_mask((d, d), 0.2, rng)
        paths = [("gd", {}, 6), ("momentum", dict(optimizer="momentum"), 6),
                 ("inputs", dict(inputs=X), 8), ("mask", dict(mask=mask), 6)]
        short, long = (2, 10) if d < 1000 else (2, 7)
        for name, kwargs, products in paths:
            target = Phi @ X if name == "inputs" else Phi
            step = per_step_seconds(W0, target, 1e-3, short, long, repeats=3, **kwargs)
            bound = products * matmul_seconds(d, rng)
            peer = f"{PEER_MS[d]:10.1f}" if name == "gd" and d in PEER_MS else f"{'-':>10}"
            print(f"    {d:5d} {name:>10} {1e3 * step:10.1f} {1e3 * bound:11.1f} "
                  f"{step / bound:6.2f} {peer}")


def bench_equivalence(rng) -> None:
    d, r, eps, eta, tol = 1000, 10, 1e-3, 1e-3, 1e-10
    print(f"(b) compressed network at the authors' setting (d={d}, r={r}, L=3, eps={eps}, "
          f"eta={eta}, loss < {tol})")
    Phi = gaussian_low_rank(d, r, rng)
    t0 = time.perf_counter()
    W0 = dl.orthogonal_init(d, 3, eps, rng)
    t_init = time.perf_counter() - t0
    t0 = time.perf_counter()
    frame = cn.invariant_frame(W0, Phi, r, thin=True, svd="truncated", rng=rng)
    init, phi_tilde = cn.compressed_problem(frame, Phi)
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    run = dl.train(init, phi_tilde, lr=eta, steps=200_000, tol=tol, log_every=10**9)
    t_train = time.perf_counter() - t0
    rho = cn.complement_scalar_gd(eps, eta, run.n_steps, 3)[-1]
    total = run.losses[-1] + float(cn.complement_loss(rho, 3, d - 2 * r))
    print(f"    Haar init of the full network (shared by both) {t_init:.2f} s")
    print(f"    construction (frame + Phi~) {t_build:.2f} s, training {run.n_steps} steps "
          f"{t_train:.2f} s -> compressed total {t_build + t_train:.2f} s (goal <= 5 s); "
          f"converged {run.converged}, full-network loss at the end {total:.2e}")
    one_full = per_step_seconds(W0, Phi, eta, 1, 3, repeats=1)
    print(f"    the full network would need about {run.n_steps} x {one_full:.3f} s = "
          f"{run.n_steps * one_full / 60:.0f} min for the same trajectory")


def bench_ratio(rng) -> None:
    d, r = 400, 2
    print(f"(c) per-step ratio full / compressed at d = {d}, r = {r}, L = 3")
    Phi = dl.low_rank_target(d, [3.0, 1.5], rng)
    W0 = dl.orthogonal_init(d, 3, 0.3, rng)
    frame = cn.invariant_frame(W0, Phi, r)
    init, phi_tilde = cn.compressed_problem(frame, Phi)
    full = per_step_seconds(W0, Phi, 0.02, 2, 12, repeats=2)
    small = per_step_seconds(init, phi_tilde, 0.02, 1000, 21_000, repeats=3)
    print(f"    full {1e3 * full:.2f} ms, compressed {1e6 * small:.1f} us per step: "
          f"ratio {full / small:.0f}x (goal >= 1000x)")


def bench_completion(rng) -> None:
    d, r, k, L = 1000, 5, 10, 3
    print(f"(d) matrix completion at the authors' size (d = {d}, 20% observed, compressed chain "
          f"of inner width 2r = {k}, L = {L}): ms per GD step")
    target = dl.low_rank_target(d, np.linspace(2.0, 1.0, r), rng)
    mask = mc.observation_mask((d, d), 0.2, rng)
    rows, cols = np.nonzero(mask)
    values = target[rows, cols]
    weights = [rng.standard_normal((k, d)) / np.sqrt(d)] + \
        [np.eye(k) + 0.01 * rng.standard_normal((k, k)) for _ in range(L - 2)] + \
        [rng.standard_normal((d, k)) / np.sqrt(k)]

    def timed(func, *args, repeats=5, **kwargs):
        best = np.inf
        for _ in range(repeats):
            t0 = clock()
            func(*args, **kwargs)
            best = min(best, clock() - t0)
        return best

    short, long = 2, 12
    sparse_step = (timed(mc.train_observed, weights, rows, cols, values, lr=1e-3, steps=long,
                         log_every=10**9)
                   - timed(mc.train_observed, weights, rows, cols, values, lr=1e-3, steps=short,
                           log_every=10**9)) / (long - short)
    dense_step = (timed(dl.train, weights, target, mask=mask, lr=1e-3, steps=long, log_every=10**9,
                        repeats=2)
                  - timed(dl.train, weights, target, mask=mask, lr=1e-3, steps=short,
                          log_every=10**9, repeats=2)) / (long - short)
    residual = timed(mc.masked_residual, weights[-1] @ weights[1], weights[0], rows, cols,
                     values)
    dense_residual = timed(mc.masked_residual_dense, weights[-1] @ weights[1], weights[0],
                           target, mask)
    print(f"    step: observed-entries path {1e3 * sparse_step:.2f} ms, dense masked path "
          f"{1e3 * dense_step:.2f} ms, ratio {dense_step / sparse_step:.1f}x")
    print(f"    residual alone: gathered {1e3 * residual:.2f} ms, dense {1e3 * dense_residual:.2f} "
          f"ms ({rows.size} observed entries)")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS threads (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    with threadpool_limits(limits=args.threads, user_api="blas"):
        print(f"bench_deep_linear: {args.threads or 'all'} BLAS thread(s), wall time")
        bench_full_step(rng)
        bench_equivalence(rng)
        bench_ratio(rng)
        bench_completion(rng)


if __name__ == "__main__":
    main()
