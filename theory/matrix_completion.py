"""Matrix completion with deep linear networks (Yaras et al., arXiv:2306.01154, section 3.3 and
the official code's compressed-vs-narrow experiments).

A 0/1 mask ``M`` observes the entries ``Omega = {(i_s, j_s)}`` of a low-rank ``Phi``; the
network is trained on the masked sum loss

    l(W) = 1/2 ||M o (W_{L:1} - Phi)||_F^2 = 1/2 sum_s ((W_{L:1})_{i_s j_s} - Phi_{i_s j_s})^2,

whose layer gradients are ``G_l = W_{L:l+1}^T R W_{l-1:1}^T`` with ``R = M o (W_{L:1} - Phi)``.
:func:`theory.deep_linear.train` with ``mask=M`` forms ``W_{L:1}`` densely; here
:func:`train_observed` touches the observed entries only, for chains whose outer layers are the
only wide ones (the compressed network of :func:`theory.compression.factored_compressed_network`
or a :func:`narrow_network`). The completion errors are ``1/2`` the mean over all ``d^2``
entries of the squared residual on the observed and on the unobserved entries
(docs/01_law_of_parsimony.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import sparse

from . import training
from ._validate import as_float, as_float_array, as_generator, as_int, as_shape
from .deep_linear import Trajectory, as_layers, orthogonal_init, trajectory
from .fast.completion import GATHER_BELOW_DENSITY, BlockedResidual
from .optimizers import make_optimizer

__all__ = [
    "observation_mask",
    "observed_entries",
    "masked_residual",
    "masked_residual_dense",
    "train_observed",
    "narrow_network",
    "completion_errors",
]


def observation_mask(shape: int | Sequence[int], fraction: float,
                     rng: np.random.Generator) -> np.ndarray:
    """A 0/1 float mask with exactly ``floor(fraction * #entries)`` ones at random positions."""
    dims = as_shape("shape", shape)
    fraction = as_float("fraction", fraction, minimum=0.0, maximum=1.0)
    rng = as_generator("rng", rng)
    size = int(np.prod(dims))
    flat = np.zeros(size)
    flat[rng.permutation(size)[: int(math.floor(fraction * size))]] = 1.0
    return flat.reshape(dims)


def _index_array(name: str, value: object, bound: int) -> np.ndarray:
    """A 1-D integer array with entries in ``[0, bound)``."""
    arr = np.asarray(value)
    if arr.dtype == object or arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be a 1-D integer array, got dtype {arr.dtype}")
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D integer array, got shape {arr.shape}")
    if arr.min() < 0 or arr.max() >= bound:
        raise ValueError(f"{name} must hold indices in [0, {bound}), got range "
                         f"[{arr.min()}, {arr.max()}]")
    return arr.astype(np.intp, copy=False)


def _entries(rows: object, cols: object, values: object, d_out: int,
             d_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    i = _index_array("rows", rows, d_out)
    j = _index_array("cols", cols, d_in)
    v = as_float_array("values", values, ndim=1)
    if not i.size == j.size == v.size:
        raise ValueError(f"rows, cols and values must have one length, got {i.size}, {j.size}, "
                         f"{v.size}")
    return i, j, v


def observed_entries(target: ArrayLike,
                     mask: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(rows, cols, values)`` of the observed entries (``mask = 1``) of ``target``, in
    row-major order: the data a completion loss may use."""
    Phi = as_float_array("target", target, ndim=2)
    M = as_float_array("mask", mask, ndim=2)
    if M.shape != Phi.shape:
        raise ValueError(f"mask must have the shape of target {Phi.shape}, got {M.shape}")
    if not np.all((M == 0) | (M == 1)):
        raise ValueError("mask must contain only 0 and 1")
    rows, cols = np.nonzero(M)
    if rows.size == 0:
        raise ValueError("mask must observe at least one entry")
    return rows, cols, Phi[rows, cols]


def masked_residual(left: ArrayLike, right: ArrayLike, rows: ArrayLike, cols: ArrayLike,
                    values: ArrayLike) -> np.ndarray:
    """Residual of ``P = left @ right`` on the observed entries only:
    ``r_s = sum_a left[i_s, a] right[a, j_s] - values_s`` for the pairs ``(i_s, j_s)``.

    Row-wise products of the two factors gathered at the observed pairs cost ``O(n_obs k)``
    for inner dimension ``k``, instead of the ``O(d_out d_in k)`` of forming ``P``; the masked
    loss is ``1/2 sum_s r_s^2``. Dense reference: :func:`masked_residual_dense`.
    """
    A = as_float_array("left", left, ndim=2)
    B = as_float_array("right", right, ndim=2)
    if A.shape[1] != B.shape[0]:
        raise ValueError(f"left has {A.shape[1]} columns but right has {B.shape[0]} rows")
    i, j, v = _entries(rows, cols, values, A.shape[0], B.shape[1])
    return _gather_residual(A, B, i, j, v)


def _gather_residual(A: np.ndarray, B: np.ndarray, i: np.ndarray, j: np.ndarray,
                     v: np.ndarray) -> np.ndarray:
    """``sum_a A[i_s, a] B[a, j_s] - v_s`` without validation: one pass per inner index ``a``
    gathering from the rows of ``A^T`` and ``B`` (short, cache-resident vectors), which beats
    gathering ``k``-vectors per pair by 2-3x when ``k`` is small."""
    At = np.ascontiguousarray(A.T)
    acc = np.negative(v)
    for a in range(B.shape[0]):
        acc += At[a].take(i) * B[a].take(j)
    return acc


def masked_residual_dense(left: ArrayLike, right: ArrayLike, target: ArrayLike,
                          mask: ArrayLike) -> np.ndarray:
    """Dense reference of :func:`masked_residual`: ``M o (left @ right - Phi)`` as a full
    ``d_out x d_in`` matrix (``O(d_out d_in k)``); equal to it on the observed entries and zero
    elsewhere."""
    A = as_float_array("left", left, ndim=2)
    B = as_float_array("right", right, ndim=2)
    Phi = as_float_array("target", target, ndim=2)
    M = as_float_array("mask", mask, ndim=2)
    if A.shape[1] != B.shape[0]:
        raise ValueError(f"left has {A.shape[1]} columns but right has {B.shape[0]} rows")
    if Phi.shape != (A.shape[0], B.shape[1]) or M.shape != Phi.shape:
        raise ValueError(f"target and mask must have shape {(A.shape[0], B.shape[1])}, got "
                         f"{Phi.shape} and {M.shape}")
    return np.asarray(M * (A @ B - Phi))


def train_observed(weights0: Sequence[ArrayLike], rows: ArrayLike, cols: ArrayLike,
                   values: ArrayLike, *, lr: float, steps: int,
                   lr_scale: ArrayLike | None = None, log_every: int = 1,
                   tol: float | None = None, progress: bool = False) -> Trajectory:
    """Plain GD on the masked sum loss ``1/2 sum_s ((W_{L:1})_{i_s j_s} - v_s)^2`` at a cost
    set by the observed entries, for a chain whose first layer ``W_1`` (``k x d_in``) and last
    layer ``W_L`` (``d_out x k``) are the only wide ones (the compressed network
    ``[V_{1,1}^T, eps I_{2r} (L times), U_{L,1}]`` of the official code, or a narrow network).

    Same iteration as :func:`theory.deep_linear.train` with ``mask``
    (``G_l = W_{L:l+1}^T R W_{l-1:1}^T``, ``R`` the masked residual), but ``R`` is kept as a
    ``scipy.sparse`` matrix with the observed pattern, and ``R W_1^T`` and ``R^T W_{L:2}``
    are sparse-dense products (``O(n_obs k)``). The residual at the observed pairs is gathered
    as in :func:`masked_residual` from ``W_{L:2}`` and ``W_1`` when fewer than
    ``GATHER_BELOW_DENSITY`` (0.5 %) of the entries are observed, otherwise read from their
    product formed a block of rows at a time (:class:`theory.fast.completion.BlockedResidual`:
    ``2 d_out d_in k`` flops in BLAS, no ``d_out x d_in`` array, faster than numpy's gathers
    above that density). No step forms the ``d_out x d_in`` residual or touches the unobserved
    entries. ``lr_scale`` multiplies the step size per layer (``gamma`` on the outer
    factors). Needs ``L >= 2``. The loop is :func:`theory.training.run`; returns a
    :class:`~theory.deep_linear.Trajectory` whose ``snapshots`` is a tuple of per-layer stacks.
    """
    layers = as_layers("weights0", weights0)
    L = len(layers)
    if L < 2:
        raise ValueError("weights0 must hold at least two layers")
    d_out, d_in = layers[-1].shape[0], layers[0].shape[1]
    i, j, v = _entries(rows, cols, values, d_out, d_in)
    order = np.lexsort((j, i))                 # CSR order: the residual fills R.data directly
    i, j, v = i[order], j[order], v[order]
    if np.any((np.diff(i) == 0) & (np.diff(j) == 0)):
        raise ValueError("rows and cols must not repeat an (i, j) pair")
    opt = make_optimizer("gd", lr=lr, lr_scale=lr_scale)
    if opt.lr_scale is not None and len(opt.lr_scale) != L:
        raise ValueError(f"lr_scale must hold {L} non-negative numbers")
    indptr = np.concatenate([[0], np.cumsum(np.bincount(i, minlength=d_out))])
    R = sparse.csr_matrix((np.zeros(i.size), j, indptr), shape=(d_out, d_in))
    RT = R.T                                    # CSC view of the same data: R^T products
    if i.size < GATHER_BELOW_DENSITY * d_out * d_in:
        def residual(A: np.ndarray, B: np.ndarray) -> np.ndarray:
            return _gather_residual(A, B, i, j, v)
    else:
        residual = BlockedResidual(i, j, v, d_out, d_in)

    def objective(params: list[np.ndarray]) -> tuple[float, Any]:
        # suffix[l] = W_{L:l+1} (d_out x k_l), l = 1 .. L-1 (0-based suffix[l-1])
        suffix: list[Any] = [None] * L
        suffix[L - 1] = params[-1]
        for l in range(L - 2, 0, -1):
            suffix[l] = suffix[l + 1] @ params[l]
        res = residual(suffix[1], params[0])

        def gradients() -> list[np.ndarray]:
            R.data[:] = res                                  # RT shares R.data
            T = np.asarray(R @ params[0].T)                  # R W_1^T (d_out x k_1)
            grads = [np.asarray(RT @ suffix[1]).T]           # G_1 = W_{L:2}^T R
            below = None                                     # W_{l-1:2} (k x k), None = I
            for l in range(1, L):
                TB = T if below is None else T @ below.T     # R W_{l-1:1}^T
                grads.append(TB if l == L - 1 else suffix[l + 1].T @ TB)
                below = params[l] if below is None else params[l] @ below
            return grads
        return 0.5 * float(res @ res), gradients

    run = training.run(objective, layers, opt, steps=steps, log_every=log_every, tol=tol,
                       progress=progress, desc=f"observed x{L}")
    return trajectory(*run[:4])


def narrow_network(width: int, depth: int, d: int, eps: float,
                   rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """A narrow orthogonally initialised network of the paper's compressed-vs-narrow
    comparison: ``W_1`` (``width x d``), ``depth - 2`` square ``width x width`` layers and
    ``W_L`` (``d x width``), each ``eps`` times a (semi-)orthogonal matrix."""
    width = as_int("width", width, minimum=1)
    depth = as_int("depth", depth, minimum=2)
    d = as_int("d", d, minimum=1)
    net = orthogonal_init(width, depth, eps, rng, d_in=d, d_out=d)
    return tuple(net)


def completion_errors(end_to_end_matrix: ArrayLike, target: ArrayLike,
                      mask: ArrayLike) -> tuple[float, float]:
    """Train and test error of matrix completion in the repo's convention: ``1/2`` the mean over
    all ``d^2`` entries of the squared residual on the observed (``mask = 1``) and the
    unobserved (``mask = 0``) entries."""
    P = as_float_array("end_to_end_matrix", end_to_end_matrix, ndim=2)
    Phi = as_float_array("target", target, ndim=2)
    M = as_float_array("mask", mask, ndim=2)
    if P.shape != Phi.shape or M.shape != Phi.shape:
        raise ValueError("end_to_end_matrix, target and mask must share one shape")
    R2 = (P - Phi) ** 2
    return 0.5 * float(np.mean(M * R2)), 0.5 * float(np.mean((1 - M) * R2))
