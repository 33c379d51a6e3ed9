"""Benchmark: one seed of the official single-step protocol of Dandi et al. [code].

d = 512, p = 1024, n = d^2 = 262144, lr = 10 sqrt(n p), ridge lambda = 1 on the step batch,
test error on 1e5 fresh points (``theory.giant_step.single_step_protocol``, no random-feature
baseline). Prints wall time (all BLAS threads by default) against its flop bound: the protocol's
flop count at the rate of a plain matrix multiply of the chunk shapes (chunk x d) @ (d x p)
measured in the same run with the same BLAS thread count; goal ratio <= 1.25, peak <= 2 GiB.
The protocol runs ``--repeats`` times (default 5), each between two measurements of the rate
(best of five batches of products, right before and right after the run): a run's bound is the
mean of the two, and the headline ratio is the median of the runs' paired ratios, as
``bench_deep_linear.py`` pairs its steps with their bounds (the rate of this shared machine
drifts between runs: 137-175 GFLOP/s within one bench on the third machine). Beside it, the
most severe pairing: the best wall over the fastest single measurement of the rate. A second
bound times each of the protocol's products in its own shape and BLAS call (X W^T by numpy
into a Fortran-ordered output, X^T M, the Gram matrix's Phi^T Phi: :func:`shape_seconds`),
each at the better of one call on all BLAS threads and one single-threaded call per thread (as
the fast path's lanes run them); the gap between the two bounds is what the product shapes
cost (or gain), the gap to the wall time what the rest costs (draws, page faults, element-wise
passes). Two floors add to the
bound by shape the work no product does, timed chunk by chunk in the same run
(:func:`other_seconds`) and spread evenly over the cores: the serial
standard-normal draws of the batch and the test set (no run with these draws is faster, page
faults aside), and then also the element-wise passes as the fast path runs them
(``theory.fast.kernels``: compiled by numba where it is installed, else numpy's; no run of
these passes is faster, page faults aside).
The same runs are then repeated with a ``theory.giant_step.Workspace`` passed from call to
call (after one call that fills it), as a loop over seeds or batch sizes would pass it: the
batch and the lanes' work spaces keep their pages, so these runs skip the kernel's first touch
of about 1.1 GiB that every call without a workspace pays; their results must be the same.
Nothing is asserted. The phase profile calls the public functions one after the other, so the
random draws show there as serial time; inside ``single_step_protocol`` every phase runs on
lanes (``theory.fast.lanes``: one thread per BLAS thread, each calling BLAS on one thread), and
the draws overlap the matrix products.

A second, smaller run (n = d^1.65) checks that the chunked pipeline (Gram matrix by chunks,
chunked gradient) gives the same test error as a dense reference that materialises the
n x p feature matrix and solves the ridge with numpy.

Usage: ``python bench/bench_two_layer.py [--threads N] [--n-exponent 2.0] [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import time

import numpy as np
from threadpoolctl import threadpool_limits

from theory import giant_step as gs
from theory import two_layer as tl
from theory.fast import blas, kernels
from theory.fast.lanes import blas_threads


PEER_SECONDS, PEER_GIB = 53.2, 8.7     # official single_step notebook, one seed, n = d^2


def best_call_seconds(call, batches: int, per_batch: int) -> float:
    """Best wall time of one ``call()`` (after one warm-up call): the best of ``batches`` batches
    of ``per_batch`` calls, each batch's time divided by ``per_batch``."""
    call()
    seconds = np.inf
    for _ in range(batches):
        start = time.perf_counter()
        for _ in range(per_batch):
            call()
        seconds = min(seconds, (time.perf_counter() - start) / per_batch)
    return seconds


def matmul_rate(d: int, p: int, chunk: int, batches: int = 5, per_batch: int = 8) -> float:
    """GFLOP/s of (chunk x d) @ (d x p), the product that dominates the protocol: the best of
    ``batches`` batches of ``per_batch`` products into a preallocated output."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((chunk, d))
    W = rng.standard_normal((p, d))
    out = np.empty((chunk, p))
    seconds = best_call_seconds(lambda: np.matmul(X, W.T, out=out), batches, per_batch)
    return 2.0 * chunk * d * p / seconds / 1e9


def shape_seconds(d: int, p: int, n: int, n_test: int, chunk: int, batches: int = 5,
                  per_batch: int = 4) -> float:
    """The protocol's products timed shape by shape: seconds for all of them at the best rate
    of each shape (best of ``batches`` batches of ``per_batch`` calls, warm operands). The
    shapes, as ``theory.fast.giant_step`` calls them: X W^T by numpy into a Fortran-ordered
    output (step, readout features, test), X^T M by numpy with M Fortran-ordered (step),
    Phi^T Phi as the upper triangle of a symmetric rank-k update (``theory.fast.blas``, numpy's
    ``A.T @ A`` where that is not available; readout). The fast path runs them on one
    BLAS thread per lane, several lanes at once, so each shape counts at the better of one call
    on all the BLAS threads and one call on one thread divided by the thread count."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((chunk, d))
    W = rng.standard_normal((p, d))
    MF = np.asfortranarray(rng.standard_normal((chunk, p)))
    Z, G = np.empty((chunk, p), order="F"), np.empty((d, p))
    gram = np.empty((p, p))
    threads = blas_threads()

    def best(call) -> float:
        seconds = best_call_seconds(call, batches, per_batch)
        if threads > 1:
            with threadpool_limits(limits=1, user_api="blas"):
                seconds = min(seconds, best_call_seconds(call, batches, per_batch) / threads)
        return seconds

    features = best(lambda: np.matmul(X, W.T, out=Z))
    backward = best(lambda: np.matmul(X.T, MF, out=G))
    if blas.available():                       # the upper triangle, as lane_gram computes it
        syrk = best(lambda: blas.syrk_upper(MF.T, gram))
    else:
        syrk = best(lambda: np.matmul(MF.T, MF, out=gram))
    chunks = n / chunk
    return chunks * (2 * features + backward + syrk) + n_test / chunk * features


def other_seconds(d: int, p: int, n: int, n_test: int, chunk: int, batches: int = 5,
                  per_batch: int = 4) -> tuple[float, float]:
    """The protocol's work outside the products, timed chunk by chunk like
    :func:`shape_seconds`: ``(draws, element-wise)`` seconds for the whole protocol.

    Draws: the standard-normal fill of a (chunk, d) buffer as the fast path draws it
    (``theory.fast.kernels.standard_normal``), for the n + n_test rows (one stream per seed, so
    serial). Element-wise, by the passes the fast path runs
    (``theory.fast.kernels``: compiled where numba is installed, numpy otherwise): per step
    chunk the ReLU, f(x) (a matrix-vector product), the residual, M = mask r and the sum of
    the chunk's term; per readout chunk the ReLU and Phi^T y; per test chunk the ReLU, f(x)
    and the squared errors; per batch chunk the labels and the linear fit's two passes (X^T y,
    A + X B).
    """
    rng = np.random.default_rng(0)
    target = tl.make_target("giant_step_teacher")
    X = rng.standard_normal((chunk, d))
    y, B, a = target(X), rng.standard_normal(d), rng.standard_normal(p)
    W = rng.standard_normal((p, d))
    Z = np.asfortranarray(X @ W.T)                 # the lanes' blocks are Fortran-ordered
    work, mask, acc, term = np.empty_like(Z), np.empty(Z.shape, dtype=bool, order="F"), \
        np.zeros((p, d)), np.ones((p, d))

    def best(call) -> float:
        return best_call_seconds(call, batches, per_batch)

    def step_chunk() -> None:
        work[:] = Z
        f = kernels.relu(work) @ a
        r = y - f
        r -= B[0]
        kernels.mask_times_rows(work, r, mask)
        np.add(acc, term, out=acc)

    def readout_chunk() -> None:
        work[:] = Z
        kernels.relu(work).T @ y

    def test_chunk() -> None:
        work[:] = Z
        np.mean((y - kernels.relu(work) @ a) ** 2)

    def batch_chunk() -> None:
        target(X), X.T @ y, X @ B

    copy = best(lambda: np.copyto(work, Z))        # the refill of the scratch, taken out
    draw = best(lambda: kernels.standard_normal(rng, X))
    chunks = n / chunk
    element_wise = (chunks * (best(step_chunk) + best(readout_chunk) + best(batch_chunk)
                              - 2 * copy)
                    + n_test / chunk * (best(test_chunk) - copy))
    return (chunks + n_test / chunk) * draw, element_wise


def dense_reference(d: int, p: int, n: int, seed: int, n_test: int) -> float:
    """The same protocol without chunks or dsyrk: n x p features in memory, normal equations."""
    rng = np.random.default_rng(seed)
    target = tl.make_target("giant_step_teacher")
    W0, a0 = tl.gaussian_init(d, p, rng)
    X, y = tl.sample_batch(n, d, target, rng)
    A, B = y.mean(), X.T @ y / n
    y_pre = y - A - X @ B
    Z = X @ W0.T
    r = y_pre - np.maximum(Z, 0) @ a0 / np.sqrt(p)
    grad = -((Z > 0) * r[:, None] * a0 / np.sqrt(p)).T @ X / n
    W1 = W0 - 10.0 * np.sqrt(n * p) * grad
    Phi = np.maximum(X @ W1.T, 0) / np.sqrt(p)
    a1 = np.linalg.solve(Phi.T @ Phi + np.eye(p), Phi.T @ y_pre)
    Xt, yt = tl.sample_batch(n_test, d, target, rng)
    pred = A + Xt @ B + np.maximum(Xt @ W1.T, 0) / np.sqrt(p) @ a1
    return float(np.mean((yt - pred) ** 2))


def phase_times(d: int, p: int, n: int, seed: int, n_test: int) -> list[tuple[str, float, float]]:
    """Where the time goes: the protocol's phases timed one by one (name, seconds, flops)."""
    rng = np.random.default_rng(seed)
    target = tl.make_target("giant_step_teacher")
    W0, a0 = tl.gaussian_init(d, p, rng)
    out = []

    def timed(name, flops, func, *args, **kwargs):
        start = time.perf_counter()
        result = func(*args, **kwargs)
        out.append((name, time.perf_counter() - start, flops))
        return result

    X, y = timed("draw the batch (RNG, labels)", 0.0, tl.sample_batch, n, d, target, rng)
    A, B = timed("mean and linear part of y", 2.0 * n * d, tl.linear_fit, X, y)
    offset = A + X @ B
    grad, _ = timed("giant step (gradient)", 4.0 * n * d * p, tl.batch_gradient, X, y, W0, a0,
                    offset=offset)
    W1 = W0 - 10.0 * np.sqrt(n * p) * grad
    a1 = timed("ridge (features + dsyrk + solve)", 2.0 * n * d * p + n * p * (p + 1.0),
               tl.ridge_readout, X, y, W1, 1.0, offset=offset)
    Xt, yt = timed("draw the test set", 0.0, tl.sample_batch, n_test, d, target, rng)
    timed("test error", 2.0 * n_test * d * p, tl.mean_squared_error, Xt, yt, W1, a1,
          offset=A + Xt @ B)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="BLAS threads (default: all)")
    parser.add_argument("--n-exponent", type=float, default=2.0, help="n = d^this (default 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=5, help="protocol runs (default 5)")
    args = parser.parse_args()
    d, p, n_test, chunk = 512, 1024, 100_000, tl.DEFAULT_CHUNK
    n = int(round(d ** args.n_exponent))
    with threadpool_limits(limits=args.threads, user_api="blas"):
        print(f"single-step protocol d={d} p={p} n={n} n_test={n_test} "
              f"(threads: {args.threads or 'all'}, {args.repeats} runs)")
        def protocol_runs(workspace: gs.Workspace | None) -> list[tuple[float, ...]]:
            runs = []
            for _ in range(args.repeats):
                by_shape = shape_seconds(d, p, n, n_test, chunk)
                draws, element_wise = other_seconds(d, p, n, n_test, chunk)
                rate_before = matmul_rate(d, p, chunk)
                before = resource.getrusage(resource.RUSAGE_SELF)
                wall0 = time.perf_counter()
                res = gs.single_step_protocol(d, p, n, np.random.default_rng(args.seed),
                                              n_test=n_test, random_features=False,
                                              workspace=workspace)
                wall = time.perf_counter() - wall0
                after = resource.getrusage(resource.RUSAGE_SELF)
                rate_after = matmul_rate(d, p, chunk)
                bounds = [res.flops / (rate * 1e9) for rate in (rate_before, rate_after)]
                bound = sum(bounds) / 2
                runs.append((wall, bound, by_shape, draws, element_wise, res, min(bounds)))
                print(f"  run: wall {wall:6.2f} s, bound {bound:6.2f} s ({rate_before:.1f} "
                      f"GFLOP/s before, {rate_after:.1f} after), ratio {wall / bound:.2f}; by "
                      f"shape {by_shape:6.2f} s, ratio {wall / by_shape:.2f}; CPU user "
                      f"{after.ru_utime - before.ru_utime:.1f} s, kernel "
                      f"{after.ru_stime - before.ru_stime:.1f} s (page faults of fresh memory)")
            return runs

        def ratio_lines(runs: list[tuple[float, ...]]) -> None:
            """The headline: the median of the runs' paired ratios (each run's wall over the
            mean of the bounds timed right before and after it), as bench_deep_linear pairs
            them; and, the most severe pairing, the best wall over the best bound of any
            single rate measurement."""
            ratios = sorted(run[0] / run[1] for run in runs)
            median = float(np.median(ratios))
            severe = min(run[0] for run in runs) / min(run[6] for run in runs)
            print(f"  ratio            {median:8.2f}      (goal <= 1.25; median of {len(runs)} "
                  f"paired runs, range {ratios[0]:.2f}-{ratios[-1]:.2f}; best wall over the "
                  f"fastest single bound: {severe:.2f})")

        runs = protocol_runs(None)
        res = runs[-1][5]
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20   # KiB -> GiB
        wall = min(run[0] for run in runs)
        bound = min(run[1] for run in runs)
        by_shape = min(run[2] for run in runs)
        draws = min(run[3] for run in runs)
        element_wise = min(run[4] for run in runs)
        cores = min(args.threads or os.cpu_count() or 1, len(os.sched_getaffinity(0)))
        draws_floor = by_shape + draws / cores
        passes_floor = draws_floor + element_wise / cores
        passes = "compiled" if kernels.compiled() else "numpy's"
        print(f"  wall time        {wall:8.2f} s   (best of {len(runs)})")
        print(f"  flop bound       {bound:8.2f} s   ({res.flops / 1e12:.3f} TFLOP at the rate "
              f"of a plain {chunk}x{d} @ {d}x{p} product timed right before and after a run; "
              f"the best run's)")
        ratio_lines(runs)
        print(f"  bound by shape   {by_shape:8.2f} s   (each product at the best rate of its own "
              f"shape and BLAS call, on all threads or one per thread, same runs): ratio "
              f"{wall / by_shape:.2f} (goal <= 1.25)")
        print(f"  floor, draws     {draws_floor:8.2f} s   (by shape + the serial draws, "
              f"{draws:.2f} s, spread over {cores} core(s); page faults aside): "
              f"ratio {draws_floor / bound:.2f} ({draws_floor / by_shape:.2f} by shape)")
        print(f"  floor, passes    {passes_floor:8.2f} s   (the same + the {passes} element-wise "
              f"passes, {element_wise:.2f} s, spread likewise): ratio "
              f"{passes_floor / bound:.2f} ({passes_floor / by_shape:.2f} by shape)")
        print(f"  peer             {PEER_SECONDS:8.1f} s, {PEER_GIB:.1f} GiB (official notebook, "
              f"first bench machine; bench/README.md)")
        print(f"  peak RSS         {peak:8.2f} GiB (goal <= 2 GiB; process total)")
        print(f"  achieved         {res.flops / wall / 1e9:8.1f} GFLOP/s")
        print(f"  test MSE         one step {res.one_step:.4f}   linear {res.linear:.4f}")

        print("the same runs with a Workspace kept from call to call (as a loop over seeds or "
              "batch sizes would pass it), after one call that filled it:")
        workspace = gs.Workspace()
        gs.single_step_protocol(d, p, n, np.random.default_rng(args.seed), n_test=n_test,
                                random_features=False, workspace=workspace)
        warm = protocol_runs(workspace)
        same = all(np.array_equal(dataclasses.astuple(run[5]), dataclasses.astuple(res),
                                  equal_nan=True) for run in warm)   # NaN: no random features
        print(f"  wall time        {min(run[0] for run in warm):8.2f} s   (best of {len(warm)}); "
              f"results the same as without: {'yes' if same else 'NO'}; workspace "
              f"{workspace.nbytes / 2**30:.2f} GiB")
        ratio_lines(warm)
        del workspace

        print("where the time goes (public functions, one phase at a time; the protocol itself "
              "overlaps the batch's draws with the products and streams the test set):")
        for name, seconds, flops in phase_times(d, p, n, args.seed, n_test):
            rate_text = f"{flops / seconds / 1e9:7.1f} GFLOP/s" if flops else ""
            print(f"  {name:34s} {seconds:7.2f} s  {rate_text}")

        n_small = int(round(d ** 1.65))
        small = gs.single_step_protocol(d, p, n_small, np.random.default_rng(args.seed),
                                        n_test=20_000, random_features=False)
        ref = dense_reference(d, p, n_small, args.seed, 20_000)
        print(f"same test error check at n={n_small}: chunked {small.one_step:.10f}, "
              f"dense reference {ref:.10f}, |diff| {abs(small.one_step - ref):.1e}")


if __name__ == "__main__":
    main()
