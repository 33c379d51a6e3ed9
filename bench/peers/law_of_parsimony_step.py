"""The peer's side of ``bench_deep_linear.py`` (a): the per-step GD cost of the authors' JAX code
(``cjyaras/law-of-parsimony``, depth-3 deep linear network, float64), next to six plain numpy
products timed right before and after each repeat, as in our bench.

Not run by ``make bench`` (it needs JAX and a clone of the peer's repository). In a scratch
folder outside this repository::

    git clone https://github.com/cjyaras/law-of-parsimony     # commit 5aa831a measured
    python -m venv venv && venv/bin/pip install jax jaxlib optax tqdm numpy scipy
    venv/bin/python <this repository>/bench/peers/law_of_parsimony_step.py \
        --repo law-of-parsimony 800 1000

The inner loop timed is the repository's own one: solver.train() builds `body_fun`
(grad of compose(loss_fn, network_fn) + optax.sgd update + optax.apply_updates) and runs
`fori_loop(0, n_inner_loops, body_fun, (weights, opt_state))` (solver.py: body_fun at
lines 56-61, the fori_loop call at line 80).  train() does not expose that loop, so we
temporarily replace `solver.fori_loop` by a hook that captures the exact `body_fun` and the
initial state train() passes to it, abort train() right there, and then time
jax.jit(lambda s: jax.lax.fori_loop(0, n_inner, body_fun, s)).

Options: ``[d ...] [--repeats 5] [--n-inner 100] [--train-check]``.
"""

import argparse
import importlib
import os
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)
os.environ.setdefault("TQDM_DISABLE", "1")  # silence the repo's tqdm bar

peer_loss = peer_network = peer_solver = None   # the peer's modules, imported in main()

DEPTH = 3
INIT_SCALE = 1e-3
LR = 1e-3
RANK = 3


class _Captured(Exception):
    pass


def capture_inner_loop(init_weights, loss_fn_dict, n_inner):
    """Run the repo's solver.train() until its first inner fori_loop call; return
    (body_fun, init_state) exactly as train() built them."""
    box = {}
    orig = peer_solver.fori_loop

    def hook(lower, upper, body_fun, init_val):
        box.update(lower=lower, upper=upper, body_fun=body_fun, init_val=init_val)
        raise _Captured

    peer_solver.fori_loop = hook
    try:
        peer_solver.train(
            init_weights=init_weights,
            network_fn=peer_network.compute_end_to_end,
            loss_fn_dict=loss_fn_dict,
            n_outer_loops=1,
            step_size=LR,
            optimizer="gd",
            n_inner_loops=n_inner,
        )
    except _Captured:
        pass
    finally:
        peer_solver.fori_loop = orig
    assert box and box["upper"] - box["lower"] == n_inner, box.keys()
    return box["body_fun"], box["init_val"]


def bound6(A, B, C):
    t0 = time.perf_counter()
    for _ in range(6):
        np.matmul(A, B, out=C)
    return time.perf_counter() - t0


def fmt(x):
    return f"{x:.4g}"


def bench(d, repeats, n_inner, train_check):
    key = jax.random.PRNGKey(0)
    init_weights = peer_network.init_net(key, d, d, d, DEPTH, INIT_SCALE)  # orth init
    rng = np.random.default_rng(0)
    target = jnp.asarray(rng.standard_normal((d, RANK)) @ rng.standard_normal((RANK, d)))
    loss_fn = peer_loss.create_loss(target, reduction="sum")
    loss_fn_dict = {"train": loss_fn}
    assert all(w.dtype == jnp.float64 and w.shape == (d, d) for w in init_weights)

    body_fun, state = capture_inner_loop(init_weights, loss_fn_dict, n_inner)
    inner = jax.jit(lambda s: jax.lax.fori_loop(0, n_inner, body_fun, s))

    e2e_loss = jax.jit(lambda ws: loss_fn(peer_network.compute_end_to_end(ws)))
    loss0 = float(e2e_loss(state[0]))

    t0 = time.perf_counter()
    state = jax.block_until_ready(inner(state))  # warm-up (compilation excluded)
    warm = time.perf_counter() - t0

    A = rng.standard_normal((d, d))
    B = rng.standard_normal((d, d))
    C = np.empty((d, d))
    bound6(A, B, C)  # warm numpy/BLAS

    steps, bounds, ratios = [], [], []
    for r in range(repeats):
        b_before = bound6(A, B, C)
        t0 = time.perf_counter()
        state = jax.block_until_ready(inner(state))
        t = time.perf_counter() - t0
        b_after = bound6(A, B, C)
        step_ms = t / n_inner * 1e3
        b_ms = (b_before + b_after) / 2 * 1e3
        steps.append(step_ms)
        bounds.append(b_ms)
        ratios.append(step_ms / b_ms)
        print(
            f"  d={d} rep={r} step_ms={fmt(step_ms)} bound6_ms before={fmt(b_before*1e3)} "
            f"after={fmt(b_after*1e3)} ratio={fmt(step_ms / b_ms)}",
            flush=True,
        )
    loss1 = float(e2e_loss(state[0]))
    assert np.isfinite(loss1) and loss1 <= loss0, (loss0, loss1)
    print(
        f"  d={d} warmup_call_s={fmt(warm)} loss {loss0:.6e} -> {loss1:.6e} "
        f"after {(repeats + 1) * n_inner} steps",
        flush=True,
    )
    print(
        f"peer d={d} step_ms median={fmt(statistics.median(steps))} min={fmt(min(steps))} "
        f"max={fmt(max(steps))}  bound6_ms median={fmt(statistics.median(bounds))} "
        f"ratio median={fmt(statistics.median(ratios))}",
        flush=True,
    )

    if train_check:
        # Cross-check with the repo's own, unmodified train(): its time_list records
        # wall time after each outer loop (n_inner steps + one loss eval, synced by
        # the `train_loss < tol` comparison). First interval includes compilation.
        res = peer_solver.train(
            init_weights=init_weights,
            network_fn=peer_network.compute_end_to_end,
            loss_fn_dict=loss_fn_dict,
            n_outer_loops=repeats + 1,
            step_size=LR,
            optimizer="gd",
            tol=-1.0,
            n_inner_loops=n_inner,
        )
        tl = np.asarray(res["time"])
        per = np.diff(tl)[1:] / n_inner * 1e3
        print(
            f"  train-check d={d} repo train() time_list per-step ms: "
            + " ".join(fmt(x) for x in per)
            + f"  median={fmt(float(np.median(per)))}",
            flush=True,
        )


def main():
    global peer_loss, peer_network, peer_solver
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repo", required=True, help="path of a clone of cjyaras/law-of-parsimony")
    p.add_argument("d", nargs="*", type=int, default=[800, 1000])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--n-inner", type=int, default=100)
    p.add_argument("--train-check", action="store_true",
                   help="also time the repo's unmodified solver.train() via its time_list")
    a = p.parse_args()
    sys.path.insert(0, os.path.abspath(a.repo))
    peer_loss = importlib.import_module("loss")
    peer_network = importlib.import_module("network")
    peer_solver = importlib.import_module("solver")
    print(f"jax {jax.__version__} backend={jax.default_backend()} x64={jax.config.jax_enable_x64} "
          f"numpy {np.__version__} repeats={a.repeats} n_inner={a.n_inner}", flush=True)
    for d in a.d:
        bench(d, a.repeats, a.n_inner, a.train_check)


if __name__ == "__main__":
    main()
