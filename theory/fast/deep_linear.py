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

**Updates fused into the gradient products.** Where numpy's BLAS is an OpenBLAS
(:func:`theory.fast.blas.available`) and the network has two layers or more, none smaller
than ``FUSE_MIN_ENTRIES``, the backward pass adds each gradient product straight into the array
it updates (:func:`_fused_backward`), as BLAS's ``C <- alpha A B + beta C``:

    GD:        W_l <- W_l - lr_l (A_l W_{l-1:1}^T)       (alpha = -lr_l, beta = 1),
    momentum:  b_l <- mu b_l + A_l W_{l-1:1}^T           (alpha = 1, beta = mu),

so no gradient is written out and read back: GD updates every layer but the first inside its
product (the first layer's gradient ``W_2^T A_2`` needs ``W_2`` before its update, and ``W_2``'s
gradient needs ``W_1``), and momentum is left with ``W <- W - lr b``, three streams over the
stacks instead of five. At d = 800, L = 3, this takes the momentum step from 1.18 to 1.13 times
six plain products and the GD step from 1.15 to 1.08 (bench/README.md, sixth session).

Outside the fused products, every update is the same floating-point expression as the plain
optimizer's (``W - (lr G)``, ``mu b + G``); BLAS adds a product into ``C`` in blocks of the
inner dimension, so the fused updates agree with the plain ones to round-off, not to the last
bit. ``tests/test_deep_linear.py`` holds the fast paths equal to the plain loop for GD,
momentum, with inputs, with a mask and with ``lr_scale``, fused and not fused.
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
from . import blas

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


#: Fewest entries of the smallest layer for the fused updates under ``fused=None``: a
#: ``ctypes`` call to BLAS costs a few microseconds more than ``np.matmul``, which small layers
#: feel (L = 3, square layers, per step: d = 65, GD 96-98 us fused against 83-84 not fused,
#: momentum 109-110 against 89-90; d = 200, GD 1160-1177 against 1260-1358, momentum even).
FUSE_MIN_ENTRIES = 1 << 15

#: What :func:`_fused_backward` reads of a problem after ``forward``: the gradient of the loss
#: with respect to the end-to-end product (``grad_end``), the prefix products ``W_{l+1:1}``
#: (``prefix[l]``, 0-based, ``prefix[0]`` unused) and the buffers of the backward messages
#: (``back``), as :class:`theory.deep_linear._Problem` keeps them.
CHAIN_ATTRIBUTES = ("grad_end", "prefix", "back")


def train_in_place(problem: LossProblem, layers: Sequence[np.ndarray], optimizer: GD | Momentum,
                   *, steps: int, log_every: int = 1, tol: float | None = None,
                   progress: bool = False, fused: bool | None = None) -> RunResult:
    """GD or heavy-ball momentum on ``problem`` from ``layers``, in place (see the module
    docstring); returns ``(snapshots, snapshot_steps, losses, converged, final_layers)`` like
    :func:`theory.training.run`. The snapshots of equal-shaped layers are ``(L, m, n)`` stacks,
    otherwise lists of matrices.

    ``fused`` chooses the updates fused into the gradient products: ``None`` (default) where
    they can run (numpy's BLAS is an OpenBLAS, two layers or more, a problem exposing
    ``CHAIN_ATTRIBUTES``) and pay (every layer has ``FUSE_MIN_ENTRIES`` entries or more),
    ``False`` never, ``True`` wherever they can run (``ValueError`` where they cannot)."""
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
    if fused is not None and not isinstance(fused, bool):
        raise TypeError(f"fused must be True, False or None, got {fused!r}")
    can_fuse = L > 1 and blas.available() \
        and all(hasattr(problem, attr) for attr in CHAIN_ATTRIBUTES)
    if fused and not can_fuse:
        raise ValueError("fused=True needs two layers or more, numpy's BLAS as an OpenBLAS and "
                         "a problem exposing grad_end, prefix and back")
    if fused is None:
        fused = can_fuse and min(W.size for W in layers) >= FUSE_MIN_ENTRIES
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

    if rates is not None or not uniform:
        update = None
    elif not fused:
        update = _StackUpdate(stack, gstack, state_stack, lr, momentum)
    elif momentum is None:      # after the fused products: W_1 <- W_1 - lr G_1
        update = _StackUpdate(stack[:1], gstack[:1], gstack[:1], lr, None)
    else:                       # after the fused products: W <- W - lr b
        update = _StackUpdate(stack, state_stack, state_stack, lr, None)
    layer_rates = [lr] * L if rates is None else rates

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
            if fused:
                _fused_backward(problem, work, layer_rates, momentum, state, grads[0])
                if update is not None:
                    update.step()
                elif momentum is None:
                    grads[0] *= layer_rates[0]
                    work[0] -= grads[0]
                else:
                    for l in range(L):
                        work[l] -= np.multiply(state[l], layer_rates[l], out=grads[l])
                continue
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
                    step *= layer_rates[l]
                    work[l] -= step
    return snaps, np.asarray(snap_steps), losses[: t + 1], bool(converged), work


def _fused_backward(problem: Any, layers: Sequence[np.ndarray], rates: Sequence[float],
                    momentum: float | None, state: Sequence[np.ndarray],
                    first: np.ndarray) -> None:
    """The backward pass of ``problem`` (after its ``forward``) with the updates fused into the
    gradient products, in numpy's BLAS (:func:`theory.fast.blas.gemm`).

    The backward pass of :class:`theory.deep_linear._Problem`: ``A_L = grad_end``,
    ``G_l = A_l W_{l-1:1}^T``, ``A_{l-1} = W_l^T A_l``, ``G_1 = A_1``. With ``momentum=None``
    (GD) each ``G_l`` for ``l >= 2`` is added into ``W_l`` (``alpha = -lr_l``, ``beta = 1``) right
    after ``A_{l-1}`` has read the old ``W_l``; ``G_1`` goes to ``first`` (``W_2``'s gradient
    reads the old ``W_1``), for the caller's ``W_1 <- W_1 - lr_1 G_1``. With momentum, every
    ``G_l`` is added into ``state[l]`` (``beta = mu``) and the layers do not move: the caller
    then takes ``W_l <- W_l - lr_l b_l``.
    """
    A = problem.grad_end
    for l in range(len(layers) - 1, 0, -1):             # 0-based index of layer l + 1
        below = problem.prefix[l - 1] if l > 1 else layers[0]      # W_{l:1}
        if momentum is None:
            out = first if l == 1 else problem.back[l - 1]
            np.matmul(layers[l].T, A, out=out)          # A_l, from the old W_{l+1}
            blas.gemm(A, below.T, layers[l], alpha=-rates[l], beta=1.0)
        else:
            blas.gemm(A, below.T, state[l], beta=momentum)
            if l == 1:
                out = blas.gemm(layers[1].T, A, state[0], beta=momentum)
            else:
                out = np.matmul(layers[l].T, A, out=problem.back[l - 1])
        A = out


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
