"""Benchmarks of the law-of-parsimony modules (deep_linear, compression, matrix_completion).

Printed ratios, nothing asserted.

All figures are wall time with every BLAS thread (what a user feels), each next to a bound
measured in the same run:

(a) per-step wall time of full-network training (L = 3, square d x d layers) at d in
    {400, 800, 1000} on every optimizer path the notebooks use (GD, momentum, GD with inputs
    X, GD with a matrix-completion mask), against the bound: the same number of plain d x d
    matrix products (np.matmul into a preallocated output; 6 for X = I or a mask, 8 with X),
    timed right before and after each repeat (:func:`paired_step`), so the machine's drifting
    rate moves the step and its bound alike; the median ratio of 5 repeats and their range are
    printed. Goal: ratio <= 1.15. The authors' JAX code (bench/peers/, bench/README.md) took
    61.5 ms at d = 800 and 119.0 ms at d = 1000 per GD step on our third bench machine, 1.44
    times the same bound (67.9 and 134.5 ms on the first).
(b) the authors' equivalence setting (d = 1000, r = 10, L = 3, eps = 1e-3, eta = 1e-3 on the sum
    loss, until loss < 1e-10): wall time of the compressed network including the construction of
    its frame and of Phi~ (the whitened case trains the 2r x 2r chain on Phi~ alone); goal <= 5 s.
(c) per-step ratio full / compressed at d = 400, r = 2; goal >= 1000x.
(d) matrix completion at the authors' size (d = 1000, 20% observed): ms per step of the
    observed-entries path (``train_observed``) against the dense masked path, and the residual
    alone three ways (gathered at the pairs, blocked product, dense).
(e) the products of a step alone (:func:`step_products`: the step's products on its own
    operands, transposes and data flow, each by ``np.matmul`` into its own output, without the
    residual, the loss and the update) against the bound of (a), paired the same way, at
    d = 800 and 1000: the bound's products reuse one warm pair of operands and a step's
    cannot, so this is what a step costs that writes every gradient out before updating. The
    fast path of (a) adds the gradient products into the layers or the momentum buffers
    instead (:mod:`theory.fast.blas`), which skips BLAS's zeroing of each output and the
    gradients' write-out, and can go below it. Run last, so that its buffers do not change the
    memory the runs of (a) get.

Run: ``python bench/bench_deep_linear.py [--threads N]`` (``make bench``); ``--threads`` limits
the BLAS threads (default: all).
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import time
from functools import partial

import numpy as np
from threadpoolctl import threadpool_limits

from theory import compression as cn
from theory import deep_linear as dl
from theory import matrix_completion as mc
from theory.fast.completion import BlockedResidual

clock = time.perf_counter          # wall time


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


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed memory in the process (``mallopt``: arrays up to 32 MiB from the
    heap, never trimmed), so that each ``train`` call reuses the pages of the last one.

    Without it, whether a call's buffers (about 100 MB at d = 1000) come back as fresh pages
    depends on the allocator's state, which alternates from call to call; on a VM whose host
    backs memory lazily, the page faults of fresh buffers cost 100-200 ms, a fixed cost per
    call that the difference T(long) - T(short) removes only when both calls pay the same.
    Returns False (and changes nothing) where glibc is not the C library."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    kept_small = bool(mallopt(M_MMAP_THRESHOLD, 32 << 20))
    return kept_small and bool(mallopt(M_TRIM_THRESHOLD, (1 << 31) - 1))


def plain_products(A: np.ndarray, B: np.ndarray, C: np.ndarray, products: int) -> None:
    """The bound of (a): ``products`` plain products of one warm pair into one output."""
    for _ in range(products):
        np.matmul(A, B, out=C)


def seconds_of(call) -> float:
    """Wall time of one ``call()``."""
    t0 = clock()
    call()
    return clock() - t0


def step_products(weights0, inputs=None):
    """The matrix products of one training step of :func:`theory.deep_linear.train` alone, as a
    callable: forward ``P_l = W_l P_{l-1}`` (with inputs, then ``R = P_L X`` and ``R X^T``),
    backward ``G_l = A_l P_{l-1}^T`` and ``A_{l-1} = W_l^T A_l`` (docs/01_law_of_parsimony.md),
    each by ``np.matmul`` into its own preallocated output, on copies of ``weights0`` and fresh
    buffers of the step's shapes: the products the step cannot avoid, on operands that are
    distinct arrays as in a step, without the residual, the loss and the update."""
    W = [np.array(w, dtype=float) for w in weights0]
    d = W[0].shape[0]
    L = len(W)
    prefix = [W[0]] + [np.empty((d, d)) for _ in range(L - 1)]
    end = np.empty((d, d))                        # R (the residual's shape; its values aside)
    B = np.empty((d, d))
    grads = [np.empty((d, d)) for _ in range(L)]
    back = [np.empty((d, d)) for _ in range(L - 1)]

    def run() -> None:
        for l in range(1, L):
            np.matmul(W[l], prefix[l - 1], out=prefix[l])
        A = prefix[-1]
        if inputs is not None:
            np.matmul(prefix[-1], inputs, out=end)
            A = np.matmul(end, inputs.T, out=B)
        for l in range(L - 1, 0, -1):
            np.matmul(A, prefix[l - 1].T, out=grads[l])
            A = np.matmul(W[l].T, A, out=grads[0] if l == 1 else back[l - 1])
    return run


def paired_step(weights0, target, lr: float, steps: int, products: int, repeats: int = 5,
                **kwargs) -> tuple[float, float, np.ndarray]:
    """Per-step wall time of :func:`theory.deep_linear.train` and its ratio to the bound, paired:
    each repeat times ``products`` plain ``d x d`` products, then ``train`` with 1 step, then
    with ``1 + steps`` steps, then the products again; the step is (T(1 + steps) - T(1)) /
    steps (the fixed cost, validation and buffers, cancels; see :func:`keep_freed_memory`)
    and its ratio is taken to the mean of the two
    adjacent bounds, so a drift of the machine's rate between repeats moves both alike.
    Returns the median step, the median bound and the ratios of all repeats."""
    d = weights0[0].shape[0]
    A, B = np.random.default_rng(0).standard_normal((2, d, d))
    C = np.empty((d, d))
    np.matmul(A, B, out=C)

    plain = partial(plain_products, A, B, C, products)

    def bound() -> float:
        return seconds_of(plain)

    def train(n: int) -> float:
        return seconds_of(partial(dl.train, weights0, target, lr=lr, steps=n, log_every=10**9,
                                  **kwargs))

    train(1)                                                     # warm-up
    step_times, bounds, ratios = [], [], []
    for _ in range(repeats):
        before = bound()
        fixed = train(1)
        total = train(1 + steps)
        after = bound()
        step = (total - fixed) / steps
        step_times.append(step)
        bounds.append((before + after) / 2)
        ratios.append(step / bounds[-1])
    return float(np.median(step_times)), float(np.median(bounds)), np.asarray(ratios)


PEER_MS = {800: 61.5, 1000: 119.0}    # authors' JAX code, GD step, third bench machine


def gaussian_low_rank(d: int, r: int, rng) -> np.ndarray:
    U, s, Vt = np.linalg.svd(rng.standard_normal((d, d)))
    return (U[:, :r] * s[:r]) @ Vt[:r]


def bench_full_step(rng) -> None:
    print("(a) full-network training step, L = 3, wall time; bound = plain d x d matmuls timed "
          "beside each repeat; medians (and range) of the paired ratios over 5 repeats")
    print(f"    {'d':>5} {'path':>10} {'step [ms]':>10} {'bound [ms]':>11} {'ratio':>6} "
          f"{'(min-max)':>11} {'peer [ms]':>10}")
    for d in (400, 800, 1000):
        Phi = dl.low_rank_target(d, [3.0, 1.5], rng)
        W0 = dl.orthogonal_init(d, 3, 0.3, rng)
        X = np.linalg.qr(rng.standard_normal((d, d)))[0]       # whitened inputs, Y = Phi X
        mask = mc.observation_mask((d, d), 0.2, rng)
        paths = [("gd", {}, 6), ("momentum", dict(optimizer="momentum"), 6),
                 ("inputs", dict(inputs=X), 8), ("mask", dict(mask=mask), 6)]
        steps = {400: 20, 800: 8, 1000: 12}[d]
        for name, kwargs, products in paths:
            target = Phi @ X if name == "inputs" else Phi
            step, bound, ratios = paired_step(W0, target, 1e-3, steps, products, **kwargs)
            peer = f"{PEER_MS[d]:10.1f}" if name == "gd" and d in PEER_MS else f"{'-':>10}"
            spread = f"{ratios.min():.2f}-{ratios.max():.2f}"
            print(f"    {d:5d} {name:>10} {1e3 * step:10.1f} {1e3 * bound:11.1f} "
                  f"{np.median(ratios):6.2f} {spread:>11} {peer}")


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
    left = weights[-1] @ weights[1]
    residual = timed(mc.masked_residual, left, weights[0], rows, cols, values)
    blocked = timed(BlockedResidual(rows, cols, values, d, d), left, weights[0])
    dense_residual = timed(mc.masked_residual_dense, left, weights[0], target, mask)
    print(f"    step: observed-entries path {1e3 * sparse_step:.2f} ms, dense masked path "
          f"{1e3 * dense_step:.2f} ms, ratio {dense_step / sparse_step:.1f}x")
    print(f"    residual alone ({rows.size} observed entries): gathered {1e3 * residual:.2f} ms, "
          f"blocked product (the step's) {1e3 * blocked:.2f} ms, dense "
          f"{1e3 * dense_residual:.2f} ms")


def bench_step_products(rng) -> None:
    print("(e) the products of a step alone (step_products) against the bound of (a); medians "
          "(and range) of 5 paired ratios")
    for d in (800, 1000):
        W0 = dl.orthogonal_init(d, 3, 0.3, rng)
        X = np.linalg.qr(rng.standard_normal((d, d)))[0]
        A, B = rng.standard_normal((2, d, d))
        C = np.empty((d, d))
        for name, inputs, products in (("X = I", None, 6), ("inputs", X, 8)):
            own = step_products(W0, inputs)
            bound = partial(plain_products, A, B, C, products)
            own()
            bound()
            ratios = []
            for _ in range(5):
                before, seconds, after = seconds_of(bound), seconds_of(own), seconds_of(bound)
                ratios.append(2 * seconds / (before + after))
            print(f"    d = {d:4d}, {name:>6}: {products} products of a step / {products} of one "
                  f"warm pair = {np.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})")
            del own


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS threads (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    with threadpool_limits(limits=args.threads, user_api="blas"):
        kept = keep_freed_memory()
        print(f"bench_deep_linear: {args.threads or 'all'} BLAS thread(s), wall time; freed "
              f"memory kept in the process: {'yes' if kept else 'no (not glibc)'}")
        bench_full_step(rng)
        bench_equivalence(rng)
        bench_ratio(rng)
        bench_completion(rng)
        bench_step_products(rng)


if __name__ == "__main__":
    main()
