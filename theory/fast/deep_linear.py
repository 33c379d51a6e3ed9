"""Fast paths of :func:`theory.deep_linear.train` (Yaras et al., arXiv:2306.01154).

The plain trainer runs gradient descent or heavy-ball momentum on the sum loss through the one
loop of the collection (:func:`theory.training.run` with :mod:`theory.optimizers`), allocating
new arrays at every update. :func:`train_in_place` performs the same iteration,

    GD:        W_l <- W_l - lr_l G_l,
    momentum:  b_l <- mu b_l + G_l,   W_l <- W_l - lr_l b_l,

with the same loss record, snapshots, ``tol`` stop and divergence test, but in place:

* equal-shaped layers without ``lr_scale`` live in one contiguous ``(L, m, n)`` stack, updated
  block by block on as many threads as BLAS uses (:class:`_StackUpdate`: ``lr`` scaling and
  the subtraction, for momentum the buffer update first);
* plain GD on a whitened chain of small square layers (width ``<= SMALL_WIDTH``, e.g. the
  ``2r x 2r`` compressed network, arXiv:2306.01154 section 3.3) runs the lean loop
  :func:`_train_small_gd`, whose ``3L + 1`` numpy calls per step write into buffers allocated
  once;
* any other layout (rectangular layers, per-layer ``lr_scale``) updates layer by layer in place.

Every update is the same floating-point expression as the plain optimizer's
(``W - (lr G)``, ``mu b + G``), so the two paths agree to round-off; ``tests/test_deep_linear.py``
holds them equal for GD, momentum, with inputs, with a mask and with ``lr_scale``.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import numpy as np
from threadpoolctl import ThreadpoolController

from .._validate import as_float, as_int
from ..errors import GROWTH_BOUND, DivergenceError, check_loss
from ..optimizers import GD, Momentum
from ..progress import progress as _progress

__all__ = ["SMALL_WIDTH", "LossProblem", "train_in_place"]

_FLOAT_MAX = sys.float_info.max

#: Widest square layer for which plain GD runs through :func:`_train_small_gd` (the ``2r x 2r``
#: compressed chain); wider layers take the whole-stack loop.
SMALL_WIDTH = 64

#: Elements per block of the whole-stack update (:class:`_StackUpdate`): the blocks of the
#: weights, the gradient and the momentum buffer (3 x 256 KiB) stay in cache between passes.
UPDATE_BLOCK = 32_768
#: Fewest elements per thread of the update: smaller stacks are updated by the caller alone.
UPDATE_MIN_PART = 1 << 17

RunResult = tuple[list[Any], np.ndarray, np.ndarray, bool, list[np.ndarray]]


class LossProblem(Protocol):
    """The loss of :func:`theory.deep_linear.train`: ``forward(layers)`` returns the loss and
    keeps what ``backward(layers, grads)`` needs to fill the layer gradients in place."""

    target: np.ndarray
    inputs: np.ndarray | None
    mask: np.ndarray | None

    def forward(self, layers: Sequence[np.ndarray]) -> float: ...

    def backward(self, layers: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> None: ...


def train_in_place(problem: LossProblem, layers: Sequence[np.ndarray], optimizer: GD | Momentum,
                   *, steps: int, log_every: int = 1, tol: float | None = None,
                   progress: bool = False) -> RunResult:
    """GD or heavy-ball momentum on ``problem`` from ``layers``, in place (see the module
    docstring); returns ``(snapshots, snapshot_steps, losses, converged, final_layers)`` like
    :func:`theory.training.run`. The snapshots of equal-shaped layers are ``(L, m, n)`` stacks,
    otherwise lists of matrices."""
    for attr in ("forward", "backward", "target", "inputs", "mask"):
        if not hasattr(problem, attr):
            raise TypeError(f"problem must provide forward, backward, target, inputs and mask "
                            f"(missing {attr})")
    if not isinstance(optimizer, (GD, Momentum)):
        raise TypeError(f"optimizer must be a GD or Momentum optimizer, got "
                        f"{type(optimizer).__name__}")
    if isinstance(layers, np.ndarray) or not isinstance(layers, (list, tuple)) or not layers \
            or not all(isinstance(W, np.ndarray) and W.ndim == 2 for W in layers):
        raise TypeError("layers must be a non-empty list of matrices")
    steps = as_int("steps", steps, minimum=0)
    log_every = as_int("log_every", log_every, minimum=1)
    tol = None if tol is None else as_float("tol", tol, minimum=0.0)
    L = len(layers)
    if optimizer.lr_scale is not None and len(optimizer.lr_scale) != L:
        raise ValueError(f"optimizer.lr_scale holds {len(optimizer.lr_scale)} numbers for {L} "
                         f"layers")
    lr = optimizer.lr
    rates = None if optimizer.lr_scale is None else [lr * s for s in optimizer.lr_scale]
    momentum = optimizer.momentum if isinstance(optimizer, Momentum) else None
    uniform = all(W.shape == layers[0].shape for W in layers)
    if momentum is None and rates is None and uniform and problem.inputs is None \
            and problem.mask is None and layers[0].shape[0] == layers[0].shape[1] <= SMALL_WIDTH:
        return _train_small_gd(np.stack(layers), problem.target, lr, steps, log_every, tol,
                               progress)
    work = [np.array(W, dtype=float) for W in layers]
    if uniform:  # one contiguous stack, views per layer: vectorised updates and snapshots
        stack = np.stack(work)
        work = list(stack)
        gstack = np.empty_like(stack)
        grads = list(gstack)
        state_stack = np.zeros_like(stack) if momentum is not None else gstack
        state = list(state_stack)
    else:
        grads = [np.empty_like(W) for W in work]
        state = [np.zeros_like(W) for W in work] if momentum is not None else []

    update = _StackUpdate(stack, gstack, state_stack, lr, momentum) \
        if rates is None and uniform else None

    def snapshot() -> Any:
        return stack.copy() if uniform else [W.copy() for W in work]

    snaps: list[Any] = []
    snap_steps: list[int] = []
    losses = np.empty(steps + 1)
    converged = False
    t = 0
    name = "gd" if momentum is None else "momentum"
    with np.errstate(over="ignore", invalid="ignore"), update or contextlib.nullcontext():
        for t in _progress(range(steps + 1), enable=progress, desc=f"{name} x{L}"):
            value = problem.forward(work)
            losses[t] = value
            check_loss(t, value, losses[0])
            converged = tol is not None and value < tol
            last = converged or t == steps
            if t % log_every == 0 or last:
                snaps.append(snapshot())
                snap_steps.append(t)
            if last:
                break
            problem.backward(work, grads)
            if update is not None:
                update.step()
            else:
                for l in range(L):
                    step = grads[l]
                    if momentum is not None:
                        state[l] *= momentum
                        state[l] += grads[l]
                        step = np.multiply(state[l], 1.0, out=grads[l])
                    step *= lr if rates is None else rates[l]
                    work[l] -= step
    return snaps, np.asarray(snap_steps), losses[: t + 1], bool(converged), work


class _StackUpdate:
    """The whole-stack update ``b <- mu b + G`` (momentum), ``W <- W - lr b`` (or
    ``W <- W - lr G``), in place, by blocks and on several threads.

    The stacks are cut into blocks of ``UPDATE_BLOCK`` elements, and each block goes through
    all the passes before the next one starts, so the block's weights, gradient and momentum
    buffer are read from memory once (four whole-stack passes read 15 MB arrays from memory
    eleven times at d = 800, L = 3); ``lr b`` goes to a block-sized scratch buffer, so the
    gradient is only read (its content is not kept: the next backward pass overwrites it).
    The blocks are shared among ``threads`` threads, the caller's and ``threads - 1`` helpers:
    between the matrix products, which use every core, the update otherwise runs on one.
    Every element goes through the same floating-point operations as in the plain optimizer,
    in the same order, so the result does not depend on the block size or the thread count.
    ``threads=None`` takes :func:`_update_threads`.
    """

    def __init__(self, stack: np.ndarray, gstack: np.ndarray, state_stack: np.ndarray,
                 lr: float, momentum: float | None, threads: int | None = None) -> None:
        flat = [a.reshape(-1) for a in (stack, gstack, state_stack)]   # contiguous: views
        size = flat[0].size
        if size < 2 * UPDATE_MIN_PART:
            parts = 1
        else:
            threads = _update_threads() if threads is None else as_int("threads", threads,
                                                                         minimum=1)
            parts = max(1, min(threads, size // UPDATE_MIN_PART))
        bounds = np.linspace(0, size, parts + 1).astype(int)
        self._parts = [[tuple(a[start:min(start + UPDATE_BLOCK, stop)] for a in flat)
                        for start in range(begin, stop, UPDATE_BLOCK)]
                       for begin, stop in zip(bounds[:-1], bounds[1:])]
        self._scratch = [np.empty(min(UPDATE_BLOCK, size)) for _ in self._parts]
        self._lr, self._momentum = lr, momentum
        self._helpers = ThreadPoolExecutor(parts - 1) if parts > 1 else None

    def _run(self, part: int) -> None:
        lr, momentum, multiply, subtract = self._lr, self._momentum, np.multiply, np.subtract
        scratch = self._scratch[part]
        for W, G, b in self._parts[part]:
            step = scratch[:W.size]
            if momentum is not None:
                b *= momentum
                b += G
                multiply(b, lr, out=step)
            else:
                multiply(G, lr, out=step)
            subtract(W, step, out=W)

    def step(self) -> None:
        """One update of the whole stack."""
        if self._helpers is None:
            self._run(0)
            return
        pending = [self._helpers.submit(self._run, part) for part in range(1, len(self._parts))]
        self._run(0)
        for future in pending:
            future.result()

    def __enter__(self) -> _StackUpdate:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._helpers is not None:
            self._helpers.shutdown()


def _update_threads() -> int:
    """Threads for the elementwise update: as many as BLAS may use for the products (so a
    ``threadpoolctl`` limit set by the caller holds for the update too), at most the CPUs this
    process may run on."""
    blas = [lib.num_threads for lib in ThreadpoolController().select(user_api="blas")
            .lib_controllers]
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(max(blas, default=1), cpus or 1))


def _train_small_gd(stack: np.ndarray, target: np.ndarray, lr: float, steps: int,
                    log_every: int, tol: float | None, progress: bool) -> RunResult:
    """Plain GD on a whitened chain of small square layers (the compressed network).

    The same iteration, loss, snapshots and stopping rules as the plain trainer. For ``2r x 2r``
    layers a step costs far more in per-call overhead than in arithmetic, so the step is cut to
    ``3L + 1`` numpy calls, all writing into buffers allocated once:

    * forward: ``P_l = W_l P_{l-1}`` (``L - 1`` products), ``R = P_L - Phi``, ``||R||^2``;
    * backward: ``G_l = A_l P_{l-1}^T`` and ``A_{l-1} = W_l^T A_l`` (``A_L = R``, ``A_1 = G_1``),
      ``2 (L - 1)`` products;
    * update: ``G <- lr G`` and ``W <- W - G`` on the whole ``(L, k, k)`` stack.

    Every product is a ``np.dot`` into a preallocated C-contiguous output (about half the call
    overhead of ``np.matmul(..., out=)``), with operands that are fixed views of the stacks, so
    the ``(a, b, out)`` triples are built once. The squared residual norm ``||R||^2 = 2 l`` is
    recorded as is (halved once at the end, an exact scaling) and the divergence and ``tol``
    tests compare it with limits doubled accordingly: a single comparison per step catches both
    a non-finite loss and growth beyond ``GROWTH_BOUND``.
    """
    L = stack.shape[0]
    W = list(stack)                                     # views into the updated stack
    grad = np.empty_like(stack)
    G = list(grad)
    # prefix[l] = W_{l+1:1} (0-based); for L = 1 the residual is the gradient itself
    prefix = [W[0]] + [np.empty_like(W[0]) for _ in range(L - 1)]
    R = G[0] if L == 1 else np.empty_like(W[0])
    forward = [(W[l], prefix[l - 1], prefix[l]) for l in range(1, L)]
    backward = []
    A = R
    for l in range(L - 1, 0, -1):
        out = G[0] if l == 1 else np.empty_like(W[0])
        backward.append((A, prefix[l - 1].T, G[l]))     # G_{l+1} = A_{l+1} W_{l:1}^T
        backward.append((W[l].T, A, out))               # A_l = W_{l+1}^T A_{l+1}
        A = out
    P, Phi, rate = prefix[-1], target, np.array(lr)
    dot, subtract, multiply, vdot = np.dot, np.subtract, np.multiply, np.vdot

    with np.errstate(over="ignore", invalid="ignore"):
        for a, b, c in forward:
            dot(a, b, c)
        subtract(P, Phi, R)
        value = vdot(R, R)
        if not math.isfinite(value):
            raise DivergenceError(0, 0.5 * value)
        # 0.5 v > GROWTH_BOUND * 0.5 v0  <=>  v > GROWTH_BOUND * v0; sys.float_info.max keeps
        # the test "v <= limit" false for inf and NaN (and growth is not tested when v0 = 0)
        limit = min(GROWTH_BOUND * value, _FLOAT_MAX) if value > 0 else _FLOAT_MAX
        tol2 = -1.0 if tol is None else 2.0 * tol
        squares = [value]
        snaps, snap_steps = [stack.copy()], [0]
        converged = value < tol2
        t = 0
        if not converged:
            for t in _progress(range(1, steps + 1), enable=progress, desc=f"gd x{L}"):
                for a, b, c in backward:
                    dot(a, b, c)
                multiply(grad, rate, grad)
                subtract(stack, grad, stack)
                for a, b, c in forward:
                    dot(a, b, c)
                subtract(P, Phi, R)
                value = vdot(R, R)
                squares.append(value)
                if not value <= limit:
                    if not math.isfinite(value):
                        raise DivergenceError(t, 0.5 * value)
                    raise DivergenceError(t, 0.5 * value,
                                          f"the loss grew more than {GROWTH_BOUND:.0e}-fold")
                if value < tol2:
                    converged = True
                    break
                if t % log_every == 0:
                    snaps.append(stack.copy())
                    snap_steps.append(t)
    if snap_steps[-1] != t:
        snaps.append(stack.copy())
        snap_steps.append(t)
    losses = 0.5 * np.array(squares, dtype=float)
    return snaps, np.asarray(snap_steps), losses, bool(converged), list(stack)
