"""Deep linear networks and the law of parsimony (Yaras et al., arXiv:2306.01154).

Setting (docs/01_law_of_parsimony.md, section 1). A depth-``L`` linear network
``f(X) = W_L ... W_1 X = W_{L:1} X`` is
trained by full-batch gradient descent on the **sum** loss

    l(W) = 1/2 || W_{L:1} X - Y ||_F^2          (no mean; a step size lr acts on this sum),

or, for matrix completion, ``l(W) = 1/2 || M o (W_{L:1} - Phi) ||_F^2`` with a 0/1 mask ``M``.
With whitened data (``X X^T = I``) the loss is ``1/2 ||W_{L:1} - Phi||_F^2 + const`` with
``Phi = Y X^T``, so a whitened problem is passed as ``target=Phi`` with ``inputs=None``.

The gradient of layer ``l`` is ``G_l = W_{L:l+1}^T B W_{l-1:1}^T`` with ``B = (W_{L:1} X - Y) X^T``
(empty products are identities). All ``L`` gradients come out of one pass: prefix products
``P_l = W_{l:1}`` forward, then ``A_l = W_{L:l+1}^T B`` backward (``A_{l-1} = W_l^T A_l``) and
``G_l = A_l P_{l-1}^T``; for square layers that is ``3 (L - 1)`` matrix products per step.

This module holds the network itself: initialisations (the paper's ``W_l(0) = eps O_l`` with
Haar-orthogonal ``O_l``, and the norm-matched Gaussian and uniform controls), the loss and its
gradients, the trainer and the layer-wise diagnostics (balancedness, alignment of consecutive
layers). The law of parsimony and the compressed network are in :mod:`theory.compression`,
matrix completion on the observed entries in :mod:`theory.matrix_completion`, the
class-separation experiments in :mod:`theory.separation`; the in-place speed paths of
:func:`train` in :mod:`theory.fast.deep_linear`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import ortho_group

from . import linalg, training
from ._validate import as_float, as_float_array, as_generator, as_int, as_matrix_stack
from .errors import DivergenceError
from .fast import deep_linear as _fast
from .optimizers import GD, Momentum, make_optimizer

__all__ = [
    "DivergenceError",
    "Network",
    "orthogonal_init",
    "gaussian_init",
    "uniform_init",
    "low_rank_target",
    "end_to_end",
    "loss",
    "loss_and_gradients",
    "layer_gradients",
    "Trajectory",
    "train",
    "balancedness",
    "large_singular_subspaces",
    "layer_alignment",
]

#: A network: a ``(L, m, n)`` stack of equal-shaped layers or a tuple of chaining matrices.
Network = np.ndarray | tuple[np.ndarray, ...]


# ---------------------------------------------------------------------------------------------
# Initialisation and data
# ---------------------------------------------------------------------------------------------

def _haar(n: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-distributed orthogonal ``n x n`` matrix: ``scipy.stats.ortho_group`` (QR of a
    Gaussian matrix with the signs of ``diag R`` moved into ``Q``, Mezzadri 2007); ``n = 1``
    (which ``ortho_group`` refuses) is the sign of one Gaussian draw, the same formula."""
    n = as_int("n", n, minimum=1)
    rng = as_generator("rng", rng)
    if n == 1:
        return np.where(rng.standard_normal((1, 1)) < 0, -1.0, 1.0)
    return np.asarray(ortho_group.rvs(n, random_state=rng))


def _layer_shapes(width: int, depth: int, d_in: int | None,
                  d_out: int | None) -> list[tuple[int, int]]:
    width = as_int("width", width, minimum=1)
    depth = as_int("depth", depth, minimum=1)
    d_in = width if d_in is None else as_int("d_in", d_in, minimum=1)
    d_out = width if d_out is None else as_int("d_out", d_out, minimum=1)
    if depth == 1:
        return [(d_out, d_in)]
    return [(width, d_in)] + [(width, width)] * (depth - 2) + [(d_out, width)]


def _pack(layers: Sequence[np.ndarray]) -> Network:
    """A ``(L, m, n)`` stack when every layer has the same shape, else a tuple of matrices."""
    if all(W.shape == layers[0].shape for W in layers):
        return np.stack(layers)
    return tuple(layers)


def orthogonal_init(width: int, depth: int, eps: float, rng: np.random.Generator, *,
                    d_in: int | None = None, d_out: int | None = None) -> Network:
    """``W_l(0) = eps O_l`` with independent Haar-orthogonal ``O_l`` (paper's initialisation).

    Square layers (``d_in = d_out = width``) give a ``(depth, width, width)`` array. A
    rectangular first or last layer is ``eps`` times the leading rows/columns of a Haar
    ``max(m, n)``-square matrix (as in the official code) and the result is a tuple of layers.
    """
    eps = as_float("eps", eps, minimum=0.0, strict_minimum=True)
    shapes = _layer_shapes(width, depth, d_in, d_out)
    rng = as_generator("rng", rng)
    return _pack([eps * _haar(max(m, n), rng)[:m, :n] for m, n in shapes])


def _norm_matched(draw: np.ndarray, eps: float, m: int, n: int) -> np.ndarray:
    return draw * (eps * math.sqrt(min(m, n)) / np.linalg.norm(draw))


def gaussian_init(width: int, depth: int, eps: float, rng: np.random.Generator, *,
                  d_in: int | None = None, d_out: int | None = None) -> Network:
    """I.i.d. Gaussian layers rescaled to the Frobenius norm of ``eps`` times a (semi-)orthogonal
    matrix of the same shape, ``||W_l||_F = eps sqrt(min(m, n))`` (the official code's "norm"
    init, used in the paper's init-type experiment)."""
    eps = as_float("eps", eps, minimum=0.0, strict_minimum=True)
    shapes = _layer_shapes(width, depth, d_in, d_out)
    rng = as_generator("rng", rng)
    return _pack([_norm_matched(rng.standard_normal((m, n)), eps, m, n) for m, n in shapes])


def uniform_init(width: int, depth: int, eps: float, rng: np.random.Generator, *,
                 d_in: int | None = None, d_out: int | None = None) -> Network:
    """I.i.d. uniform ``U(-1, 1)`` layers rescaled to the Frobenius norm of ``eps`` times a
    (semi-)orthogonal matrix of the same shape, ``||W_l||_F = eps sqrt(min(m, n))`` (the
    official code's "unif" init, norm-matched like :func:`gaussian_init`)."""
    eps = as_float("eps", eps, minimum=0.0, strict_minimum=True)
    shapes = _layer_shapes(width, depth, d_in, d_out)
    rng = as_generator("rng", rng)
    return _pack([_norm_matched(rng.uniform(-1.0, 1.0, (m, n)), eps, m, n) for m, n in shapes])


def low_rank_target(d: int, singular_values: ArrayLike, rng: np.random.Generator, *,
                    d_out: int | None = None) -> np.ndarray:
    """``Phi = U diag(s) V^T`` with Haar-random orthonormal ``U`` (d_out x r), ``V`` (d x r)."""
    d = as_int("d", d, minimum=1)
    d_out = d if d_out is None else as_int("d_out", d_out, minimum=1)
    s = as_float_array("singular_values", singular_values, ndim=1)
    if np.any(s <= 0):
        raise ValueError("singular_values must be positive")
    r = s.size
    if r > min(d, d_out):
        raise ValueError(f"singular_values has {r} entries, more than min(d, d_out) = "
                         f"{min(d, d_out)}")
    rng = as_generator("rng", rng)
    U = _haar(d_out, rng)[:, :r]
    V = _haar(d, rng)[:, :r]
    return (U * s) @ V.T


# ---------------------------------------------------------------------------------------------
# Forward map, loss and gradients
# ---------------------------------------------------------------------------------------------

def as_layers(name: str, weights: object) -> list[np.ndarray]:
    """Validate a network: a ``(L, m, n)`` stack or a sequence of chaining matrices; returns
    its layers as C-contiguous float matrices."""
    if isinstance(weights, np.ndarray) or not isinstance(weights, (list, tuple)):
        W = as_float_array(name, weights, ndim=3)
        return [np.ascontiguousarray(W[l]) for l in range(W.shape[0])]
    if len(weights) == 0:
        raise ValueError(f"{name} must hold at least one layer")
    layers = [np.ascontiguousarray(as_float_array(f"{name}[{l}]", W, ndim=2))
              for l, W in enumerate(weights)]
    for l in range(1, len(layers)):
        if layers[l].shape[1] != layers[l - 1].shape[0]:
            raise ValueError(f"{name}: layer {l + 1} has {layers[l].shape[1]} columns but layer "
                             f"{l} has {layers[l - 1].shape[0]} rows")
    return layers


def end_to_end(weights: ArrayLike | Sequence[ArrayLike]) -> np.ndarray:
    """The end-to-end matrix ``W_{L:1} = W_L ... W_1``.

    ``weights`` is a network (``(L, m, n)`` stack or sequence of layers) or a trajectory stack of
    shape ``(..., L, d, d)``, in which case the product is taken over the layer axis for every
    leading index (one batched matmul per layer).
    """
    if isinstance(weights, np.ndarray) and weights.ndim > 3:
        W = as_matrix_stack("weights", weights)
        P = W[..., 0, :, :]
        for l in range(1, W.shape[-3]):
            P = W[..., l, :, :] @ P
        return P
    layers = as_layers("weights", weights)
    P = layers[0]
    for M in layers[1:]:
        P = M @ P
    return P


class _Problem:
    """Validated loss data and preallocated work buffers for one network shape.

    ``target`` is ``Phi`` (whitened / matrix completion) or ``Y`` (with ``inputs``).
    """

    def __init__(self, shapes: list[tuple[int, ...]], target: object, inputs: object,
                 mask: object) -> None:
        d_out, d_in = shapes[-1][0], shapes[0][1]
        self.target = as_float_array("target", target, ndim=2)
        if inputs is not None and mask is not None:
            raise ValueError("give inputs or mask, not both")
        self.inputs: np.ndarray | None = None
        if inputs is None:
            if self.target.shape != (d_out, d_in):
                raise ValueError(f"target must have shape {(d_out, d_in)} (the end-to-end "
                                 f"shape), got {self.target.shape}")
        else:
            self.inputs = as_float_array("inputs", inputs, ndim=2)
            if self.inputs.shape[0] != d_in:
                raise ValueError(f"inputs must have {d_in} rows, got {self.inputs.shape}")
            if self.target.shape != (d_out, self.inputs.shape[1]):
                raise ValueError(f"target must have shape {(d_out, self.inputs.shape[1])}, got "
                                 f"{self.target.shape}")
        self.mask: np.ndarray | None = None
        if mask is not None:
            self.mask = as_float_array("mask", mask, ndim=2)
            if self.mask.shape != self.target.shape:
                raise ValueError(f"mask must have the shape of target {self.target.shape}, got "
                                 f"{self.mask.shape}")
            if not np.all((self.mask == 0) | (self.mask == 1)):
                raise ValueError("mask must contain only 0 and 1")
        self.L = len(shapes)
        # prefix[l] = W_{l+1:1} (0-based); without inputs the end-to-end product is written
        # straight into the residual buffer (one pass less over a d x d array in a step)
        kept = shapes[1:] if self.inputs is not None else shapes[1:-1]
        self.prefix: list[Any] = [None] + [np.empty((m, d_in)) for m, _ in kept]
        self.back = [np.empty((m, d_in)) for m, _ in shapes[:-1]]
        self.residual = np.empty(self.target.shape)
        self.B = np.empty((d_out, d_in)) if inputs is not None else None
        self.grad_end = self.residual

    def forward(self, layers: Sequence[np.ndarray]) -> float:
        """Prefix products, residual and the loss at ``layers`` (kept for the backward pass)."""
        R = self.residual
        P = layers[0]
        for l in range(1, self.L):
            into_residual = l == self.L - 1 and self.inputs is None
            P = np.matmul(layers[l], P, out=R if into_residual else self.prefix[l])
        if self.inputs is None:
            np.subtract(P, self.target, out=R)                 # in place, unless L = 1
            if self.mask is not None:
                np.multiply(R, self.mask, out=R)
            self.grad_end = R
        else:
            np.matmul(P, self.inputs, out=R)
            R -= self.target
            self.grad_end = np.matmul(R, self.inputs.T, out=self.B)
        return 0.5 * float(np.vdot(R, R))

    def backward(self, layers: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> None:
        """Fill ``grads`` after :meth:`forward`: ``A_L = B``, ``G_l = A_l W_{l-1:1}^T``,
        ``A_{l-1} = W_l^T A_l`` (``A_1`` is ``G_1`` itself)."""
        A = self.grad_end
        if self.L == 1:
            np.copyto(grads[0], A)
            return
        for l in range(self.L - 1, 0, -1):                 # 0-based index of layer l + 1
            below = self.prefix[l - 1] if l > 1 else layers[0]   # W_{l:1}
            np.matmul(A, below.T, out=grads[l])
            out = grads[0] if l == 1 else self.back[l - 1]
            np.matmul(layers[l].T, A, out=out)
            A = out


def _problem(layers: list[np.ndarray], target: object, inputs: object,
             mask: object) -> _Problem:
    return _Problem([W.shape for W in layers], target, inputs, mask)


def loss_and_gradients(weights: ArrayLike | Sequence[ArrayLike], target: ArrayLike, *,
                       inputs: ArrayLike | None = None,
                       mask: ArrayLike | None = None) -> tuple[float, Network]:
    """The sum loss and every layer gradient in one pass (docs/01_law_of_parsimony.md, section 1).

    ``l = 1/2 ||W_{L:1} X - Y||_F^2`` (``inputs=X``, ``target=Y``), or with ``inputs=None``
    ``l = 1/2 ||M o (W_{L:1} - Phi)||_F^2`` (``target=Phi``, ``mask=M`` optional, 0/1 entries).
    ``G_l = W_{L:l+1}^T B W_{l-1:1}^T`` with ``B = dl/dW_{L:1}``. Returns ``(loss, grads)`` where
    ``grads`` matches the layout of ``weights`` (a stack or a tuple).
    """
    layers = as_layers("weights", weights)
    problem = _problem(layers, target, inputs, mask)
    grads = [np.empty_like(W) for W in layers]
    with np.errstate(over="ignore", invalid="ignore"):
        value = problem.forward(layers)
        problem.backward(layers, grads)
    return value, _pack(grads)


def layer_gradients(weights: ArrayLike | Sequence[ArrayLike], target: ArrayLike, *,
                    inputs: ArrayLike | None = None, mask: ArrayLike | None = None) -> Network:
    """Only the gradients of :func:`loss_and_gradients`."""
    return loss_and_gradients(weights, target, inputs=inputs, mask=mask)[1]


def loss(weights: ArrayLike | Sequence[ArrayLike], target: ArrayLike, *,
         inputs: ArrayLike | None = None, mask: ArrayLike | None = None) -> float | np.ndarray:
    """The sum loss ``1/2 ||W_{L:1} X - Y||_F^2`` (or masked / whitened form, see above).

    A trajectory stack ``(..., L, d, d)`` (whitened or masked only) gives one loss per snapshot.
    """
    if isinstance(weights, np.ndarray) and weights.ndim > 3:
        if inputs is not None:
            raise ValueError("inputs are not supported for a trajectory stack")
        Phi = as_float_array("target", target, ndim=2)
        R = end_to_end(weights) - Phi
        if mask is not None:
            M = as_float_array("mask", mask, ndim=2)
            if M.shape != Phi.shape:
                raise ValueError("mask must have the shape of target")
            R = R * M
        return 0.5 * np.sum(R * R, axis=(-2, -1))
    layers = as_layers("weights", weights)
    problem = _problem(layers, target, inputs, mask)
    P = end_to_end(layers)
    if problem.inputs is not None:
        R = P @ problem.inputs - problem.target
    else:
        R = P - problem.target
        if problem.mask is not None:
            R = R * problem.mask
    return 0.5 * float(np.vdot(R, R))


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------

class Trajectory(training.Trajectory):
    """A training run of a deep linear network (:class:`theory.training.Trajectory`).

    ``snapshots``: ``(S, L, m, n)`` when every layer has the same shape, otherwise a tuple of
    per-layer stacks ``(S, m_l, n_l)``; ``final``: the last snapshot (a ``(L, m, n)`` stack or a
    tuple of matrices).
    """

    def layer(self, l: int) -> np.ndarray:
        """Snapshots of layer ``l`` (1-based), shape ``(S, m_l, n_l)``."""
        tupled = isinstance(self.snapshots, tuple)
        L = len(self.snapshots) if tupled else self.snapshots.shape[1]
        l = as_int("l", l, minimum=1, maximum=L)
        return self.snapshots[l - 1] if tupled else self.snapshots[:, l - 1]


def trajectory(snapshots: Sequence[Any], steps: np.ndarray, losses: np.ndarray,
               converged: bool) -> Trajectory:
    """Pack a run's snapshots (each a ``(L, m, n)`` stack or a list of matrices) into a
    :class:`Trajectory`."""
    if isinstance(snapshots[0], np.ndarray):
        stacked = np.stack(snapshots)
        return Trajectory(stacked, steps, losses, converged, stacked[-1])
    per_layer = tuple(np.stack([s[l] for s in snapshots]) for l in range(len(snapshots[0])))
    return Trajectory(per_layer, steps, losses, converged, tuple(W[-1] for W in per_layer))


def train(weights0: ArrayLike | Sequence[ArrayLike], target: ArrayLike, *, lr: float,
          steps: int, inputs: ArrayLike | None = None, mask: ArrayLike | None = None,
          optimizer: str = "gd", momentum: float = 0.9,
          betas: Sequence[float] = (0.9, 0.999), adam_eps: float = 1e-8,
          lr_scale: ArrayLike | None = None, log_every: int = 1, tol: float | None = None,
          progress: bool = False, fast: bool = True) -> Trajectory:
    """Full-batch training of a deep linear network on the sum loss (see :func:`loss`).

    ``optimizer``: ``"gd"`` (``W_l <- W_l - lr G_l``), ``"momentum"`` (heavy ball,
    ``b_l <- mu b_l + G_l``, ``W_l <- W_l - lr b_l``) or ``"adam"`` (bias-corrected; a negative
    control: its entrywise scaling breaks the invariant block structure), from
    :mod:`theory.optimizers`. ``lr_scale``: per-layer multipliers of ``lr`` (``gamma`` for the
    outer factors of the compressed network, docs/01_law_of_parsimony.md, section 4).
    Snapshots every ``log_every`` steps and at the last iterate; stops after ``steps`` updates
    or when the loss falls below ``tol``; raises :class:`DivergenceError` as soon as the loss is
    non-finite or has grown more than ``GROWTH_BOUND``-fold (all by :func:`theory.training.run`).

    GD and momentum run by default in place (:func:`theory.fast.deep_linear.train_in_place`,
    the same iterates to round-off); ``fast=False`` runs the plain loop below.
    """
    layers = as_layers("weights0", weights0)
    opt = make_optimizer(optimizer, lr=lr, momentum=momentum, betas=betas, adam_eps=adam_eps,
                         lr_scale=lr_scale)
    if opt.lr_scale is not None and len(opt.lr_scale) != len(layers):
        raise ValueError(f"lr_scale must hold {len(layers)} numbers, got {len(opt.lr_scale)}")
    problem = _problem(layers, target, inputs, mask)
    if fast and isinstance(opt, (GD, Momentum)):
        run = _fast.train_in_place(problem, layers, opt, steps=steps, log_every=log_every,
                                   tol=tol, progress=progress)
        return trajectory(*run[:4])
    grads = [np.empty_like(W) for W in layers]

    def objective(params: list[np.ndarray]) -> tuple[float, Any]:
        value = problem.forward(params)

        def gradients() -> list[np.ndarray]:
            problem.backward(params, grads)
            return grads
        return value, gradients

    uniform = all(W.shape == layers[0].shape for W in layers)
    run = training.run(objective, layers, opt, steps=steps, log_every=log_every, tol=tol,
                       snapshot=np.stack if uniform else None, progress=progress,
                       desc=f"{opt.name} x{len(layers)}")
    return trajectory(*run[:4])


# ---------------------------------------------------------------------------------------------
# Diagnostics
# ---------------------------------------------------------------------------------------------

def balancedness(weights: ArrayLike) -> np.ndarray:
    """``D_l = W_{l+1}^T W_{l+1} - W_l W_l^T`` for ``l = 1 .. L-1``: ``(..., L-1, d, d)``.
    Conserved by gradient flow; GD adds ``lr^2 (G_{l+1}^T G_{l+1} - G_l G_l^T)`` per step."""
    W = as_matrix_stack("weights", weights)
    if W.ndim < 3 or W.shape[-3] < 2:
        raise ValueError(f"weights must be a (..., L, d, d) stack with L >= 2, got {W.shape}")
    upper = W[..., 1:, :, :]
    lower = W[..., :-1, :, :]
    return np.swapaxes(upper, -1, -2) @ upper - lower @ np.swapaxes(lower, -1, -2)


def large_singular_subspaces(W: ArrayLike, rho: float, *,
                             threshold: float = 1e-7) -> tuple[np.ndarray, np.ndarray]:
    """Left and right singular vectors of ``W`` whose singular values differ from ``rho`` by
    more than ``threshold`` (the learned block, found from the weights alone)."""
    M = as_float_array("W", W, ndim=2)
    rho = as_float("rho", rho)
    threshold = as_float("threshold", threshold, minimum=0.0)
    U, s, Vt = np.linalg.svd(M)
    keep = np.abs(s - rho) > threshold
    return U[:, keep], Vt[keep].T


def layer_alignment(weights: ArrayLike, rho: ArrayLike, *,
                    threshold: float = 1e-7) -> np.ndarray:
    """Alignment of consecutive layers found from the trained weights alone (notebook 01,
    section 4).

    For every snapshot ``s`` and ``l = 1 .. L-1``: the sine of the largest principal angle
    between the left singular vectors of ``W_l`` and the right singular vectors of ``W_{l+1}``
    whose singular values differ from ``rho[s]`` by more than ``threshold`` (``sin theta =
    ||(I - A A^T) B||_2`` of the smaller space ``B`` against the larger). ``weights``:
    ``(S, L, d, d)``; returns ``(S, L-1)`` with NaN where a layer has no such vectors.
    """
    W = as_float_array("weights", weights, ndim=4)
    rhos = as_float_array("rho", rho, ndim=1)
    if rhos.shape[0] != W.shape[0]:
        raise ValueError(f"rho must hold one value per snapshot ({W.shape[0]}), got "
                         f"{rhos.shape}")
    threshold = as_float("threshold", threshold, minimum=0.0)
    U, s, Vt = np.linalg.svd(W)
    keep = np.abs(s - rhos[:, None, None]) > threshold
    out = np.full((W.shape[0], W.shape[1] - 1), np.nan)
    for t in range(W.shape[0]):
        for l in range(W.shape[1] - 1):
            A = U[t, l][:, keep[t, l]]
            B = Vt[t, l + 1][keep[t, l + 1]].T
            if A.shape[1] and B.shape[1]:
                out[t, l] = float(linalg.subspace_distance(A, B))
    return out
