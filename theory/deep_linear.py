"""Deep linear networks and the law of parsimony (Yaras et al., arXiv:2306.01154).

Setting (docs/01_law_of_parsimony.md, section 1). A depth-``L`` linear network
``f(X) = W_L ... W_1 X = W_{L:1} X`` is
trained by full-batch gradient descent on the **sum** loss

    l(W) = 1/2 || W_{L:1} X - Y ||_F^2          (no mean; a step size eta acts on this sum),

or, for matrix completion, ``l(W) = 1/2 || M o (W_{L:1} - Phi) ||_F^2`` with a 0/1 mask ``M``.
With whitened data (``X X^T = I``) the loss is ``1/2 ||W_{L:1} - Phi||_F^2 + const`` with
``Phi = Y X^T``, so a whitened problem is passed as ``target=Phi`` with ``inputs=None``.

The gradient of layer ``l`` is ``G_l = W_{L:l+1}^T B W_{l-1:1}^T`` with ``B = (W_{L:1} X - Y) X^T``
(empty products are identities). All ``L`` gradients come out of one pass: prefix products
``P_l = W_{l:1}`` forward, then ``A_l = W_{L:l+1}^T B`` backward (``A_{l-1} = W_l^T A_l``) and
``G_l = A_l P_{l-1}^T``; for square layers that is ``3 (L - 1)`` matrix products per step.

The law of parsimony, in the exact form reconstructed here (docs/01_law_of_parsimony.md,
section 2, **[ours]**,
consistent with the paper's abstract and the official code): from ``W_l(0) = eps O_l`` with
Haar-orthogonal ``O_l`` and rank-``r`` ``Phi = U_Phi Sigma V_Phi^T``, let
``S = span(V_Phi) + span(O^T U_Phi)`` (``O = O_L ... O_1``, ``dim S = 2r`` generically) and
``V_1 = [V_{1,1} | V_{1,2}]`` with ``range V_{1,1} = S``; ``U_l = O_l V_l``, ``V_{l+1} = U_l``.
Then for every step ``t`` of GD (or heavy-ball momentum)

    W_l(t) = U_l diag(W~_l(t), rho(t) I_{d-2r}) V_l^T,    W~_l(0) = eps I_{2r},

where ``rho`` follows the scalar map ``rho <- rho (1 - eta rho^{2L-2})`` and the ``2r x 2r`` chain
``W~`` is plain GD on ``1/2 ||W~_{L:1} - Phi~||^2`` with ``Phi~ = U_{L,1}^T Phi V_{1,1}``. Hence the
compressed network reproduces the full trajectory exactly at cost ``O(L (2r)^3)`` per step.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np

from . import linalg
from ._validate import (as_choice, as_float, as_float_array, as_generator, as_int,
                        as_matrix_stack, as_shape)
from .errors import GROWTH_BOUND, DivergenceError, check_loss
from .progress import progress as _progress

_FLOAT_MAX = sys.float_info.max

__all__ = [
    "DivergenceError",
    "haar_orthogonal",
    "orthogonal_init",
    "gaussian_init",
    "low_rank_target",
    "observation_mask",
    "classification_data",
    "end_to_end",
    "loss",
    "loss_and_gradients",
    "layer_gradients",
    "Trajectory",
    "train",
    "Frame",
    "invariant_frame",
    "rotated_blocks",
    "block_residual",
    "complement_scalar_gd",
    "complement_scalar_flow",
    "complement_loss",
    "compressed_problem",
    "train_compressed",
    "compressed_end_to_end",
    "factored_compressed_network",
    "balancedness",
    "feature_separation",
    "separation_d0",
    "predicted_separation_ratio",
    "log_linear_fit",
    "large_singular_subspaces",
    "layer_alignment",
    "completion_errors",
    "observed_entries",
    "masked_residual",
    "masked_residual_dense",
    "train_observed",
    "narrow_network",
    "uniform_init",
    "relu_features",
    "relu_loss_and_gradients",
    "train_relu",
]


# ---------------------------------------------------------------------------------------------
# Initialisation and data
# ---------------------------------------------------------------------------------------------

def _check_rng(rng) -> np.random.Generator:
    return as_generator("rng", rng)


def haar_orthogonal(n: int, rng, size: tuple | int | None = None) -> np.ndarray:
    """Haar-distributed orthogonal ``n x n`` matrices (QR of a Gaussian, signs fixed).

    ``Q R = G`` with ``G`` i.i.d. N(0, 1); multiplying column ``j`` of ``Q`` by ``sign(R_jj)``
    makes the factorisation unique and ``Q`` exactly Haar (Mezzadri 2007). ``size`` prepends
    batch axes (one independent matrix per batch entry).
    """
    n = as_int("n", n, minimum=1)
    rng = _check_rng(rng)
    batch = () if size is None else ((size,) if isinstance(size, int) else tuple(size))
    for b in batch:
        as_int("size", b, minimum=1)
    G = rng.standard_normal(batch + (n, n))
    Q, R = np.linalg.qr(G)
    signs = np.sign(np.diagonal(R, axis1=-2, axis2=-1))
    signs[signs == 0] = 1.0
    return Q * signs[..., None, :]


def _layer_shapes(width: int, depth: int, d_in: int | None, d_out: int | None):
    width = as_int("width", width, minimum=1)
    depth = as_int("depth", depth, minimum=1)
    d_in = width if d_in is None else as_int("d_in", d_in, minimum=1)
    d_out = width if d_out is None else as_int("d_out", d_out, minimum=1)
    if depth == 1:
        return [(d_out, d_in)]
    return [(width, d_in)] + [(width, width)] * (depth - 2) + [(d_out, width)]


def _pack(layers):
    """A ``(L, m, n)`` stack when every layer has the same shape, else a tuple of matrices."""
    if all(W.shape == layers[0].shape for W in layers):
        return np.stack(layers)
    return tuple(layers)


def orthogonal_init(width: int, depth: int, eps: float, rng, *, d_in: int | None = None,
                    d_out: int | None = None):
    """``W_l(0) = eps O_l`` with independent Haar-orthogonal ``O_l`` (paper's initialisation).

    Square layers (``d_in = d_out = width``) give a ``(depth, width, width)`` array. A
    rectangular first or last layer is ``eps`` times the leading rows/columns of a Haar
    ``max(m, n)``-square matrix (as in the official code) and the result is a tuple of layers.
    """
    eps = as_float("eps", eps, minimum=0.0, strict_minimum=True)
    shapes = _layer_shapes(width, depth, d_in, d_out)
    rng = _check_rng(rng)
    layers = []
    for m, n in shapes:
        Q = haar_orthogonal(max(m, n), rng)
        layers.append(eps * Q[:m, :n])
    return _pack(layers)


def gaussian_init(width: int, depth: int, eps: float, rng, *, d_in: int | None = None,
                  d_out: int | None = None):
    """I.i.d. Gaussian layers rescaled to the Frobenius norm of ``eps`` times a (semi-)orthogonal
    matrix of the same shape, ``||W_l||_F = eps sqrt(min(m, n))`` (the official code's "norm"
    init, used in the paper's init-type experiment)."""
    eps = as_float("eps", eps, minimum=0.0, strict_minimum=True)
    shapes = _layer_shapes(width, depth, d_in, d_out)
    rng = _check_rng(rng)
    layers = []
    for m, n in shapes:
        G = rng.standard_normal((m, n))
        layers.append(G * (eps * math.sqrt(min(m, n)) / np.linalg.norm(G)))
    return _pack(layers)


def low_rank_target(d: int, singular_values, rng, *, d_out: int | None = None) -> np.ndarray:
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
    rng = _check_rng(rng)
    U = haar_orthogonal(d_out, rng)[:, :r]
    V = haar_orthogonal(d, rng)[:, :r]
    return (U * s) @ V.T


def observation_mask(shape, fraction: float, rng) -> np.ndarray:
    """A 0/1 float mask with exactly ``floor(fraction * #entries)`` ones at random positions."""
    shape = as_shape("shape", shape)
    fraction = as_float("fraction", fraction, minimum=0.0, maximum=1.0)
    rng = _check_rng(rng)
    size = int(np.prod(shape))
    flat = np.zeros(size)
    flat[rng.permutation(size)[: int(math.floor(fraction * size))]] = 1.0
    return flat.reshape(shape)


def classification_data(n_classes: int, per_class: int, rng):
    """The paper's class-separation data: ``X`` an ``N x N`` Haar-orthogonal matrix
    (columns = samples, ``N = K n``),
    one-hot ``Y`` (``K x N``) and integer labels (``n`` samples per class, in blocks)."""
    K = as_int("n_classes", n_classes, minimum=2)
    n = as_int("per_class", per_class, minimum=1)
    rng = _check_rng(rng)
    N = K * n
    labels = np.repeat(np.arange(K), n)
    X = haar_orthogonal(N, rng)
    Y = np.zeros((K, N))
    Y[labels, np.arange(N)] = 1.0
    return X, Y, labels


# ---------------------------------------------------------------------------------------------
# Forward map, loss and gradients
# ---------------------------------------------------------------------------------------------

def _as_layers(name: str, weights) -> list[np.ndarray]:
    """Validate a network: a ``(L, m, n)`` stack or a sequence of chaining matrices."""
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


def end_to_end(weights) -> np.ndarray:
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
    layers = _as_layers("weights", weights)
    P = layers[0]
    for W in layers[1:]:
        P = W @ P
    return P


class _Problem:
    """Validated loss data and preallocated work buffers for one network shape.

    ``target`` is ``Phi`` (whitened / matrix completion) or ``Y`` (with ``inputs``).
    """

    def __init__(self, shapes, target, inputs, mask):
        self.shapes = shapes
        d_out, d_in = shapes[-1][0], shapes[0][1]
        self.target = as_float_array("target", target, ndim=2)
        if inputs is not None and mask is not None:
            raise ValueError("give inputs or mask, not both")
        if inputs is None:
            if self.target.shape != (d_out, d_in):
                raise ValueError(f"target must have shape {(d_out, d_in)} (the end-to-end "
                                 f"shape), got {self.target.shape}")
            self.inputs = None
        else:
            self.inputs = as_float_array("inputs", inputs, ndim=2)
            if self.inputs.shape[0] != d_in:
                raise ValueError(f"inputs must have {d_in} rows, got {self.inputs.shape}")
            if self.target.shape != (d_out, self.inputs.shape[1]):
                raise ValueError(f"target must have shape {(d_out, self.inputs.shape[1])}, got "
                                 f"{self.target.shape}")
        if mask is None:
            self.mask = None
        else:
            self.mask = as_float_array("mask", mask, ndim=2)
            if self.mask.shape != self.target.shape:
                raise ValueError(f"mask must have the shape of target {self.target.shape}, got "
                                 f"{self.mask.shape}")
            if not np.all((self.mask == 0) | (self.mask == 1)):
                raise ValueError("mask must contain only 0 and 1")
        L = len(shapes)
        self.prefix: list = [None] + [np.empty((m, d_in)) for m, _ in shapes[1:]]
        self.back = [np.empty((m, d_in)) for m, _ in shapes[:-1]]
        self.residual = np.empty(self.target.shape)
        self.B = np.empty((d_out, d_in)) if inputs is not None else None
        self.L = L

    def forward(self, layers) -> float:
        """Prefix products, residual and the loss at ``layers`` (kept for the backward pass)."""
        P = layers[0]
        for l in range(1, self.L):
            np.matmul(layers[l], P, out=self.prefix[l])
            P = self.prefix[l]
        R = self.residual
        if self.inputs is None:
            np.subtract(P, self.target, out=R)
            if self.mask is not None:
                np.multiply(R, self.mask, out=R)
            self.grad_end = R
        else:
            np.matmul(P, self.inputs, out=R)
            R -= self.target
            self.grad_end = np.matmul(R, self.inputs.T, out=self.B)
        return 0.5 * float(np.vdot(R, R))

    def backward(self, layers, grads) -> None:
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

    def loss_and_grads(self, layers, grads) -> float:
        """Fill ``grads`` with the layer gradients at ``layers``; return the loss."""
        value = self.forward(layers)
        self.backward(layers, grads)
        return value


def _shapes(layers):
    return [W.shape for W in layers]


def loss_and_gradients(weights, target, *, inputs=None, mask=None):
    """The sum loss and every layer gradient in one pass (docs/01_law_of_parsimony.md, section 1).

    ``l = 1/2 ||W_{L:1} X - Y||_F^2`` (``inputs=X``, ``target=Y``), or with ``inputs=None``
    ``l = 1/2 ||M o (W_{L:1} - Phi)||_F^2`` (``target=Phi``, ``mask=M`` optional, 0/1 entries).
    ``G_l = W_{L:l+1}^T B W_{l-1:1}^T`` with ``B = dl/dW_{L:1}``. Returns ``(loss, grads)`` where
    ``grads`` matches the layout of ``weights`` (a stack or a tuple).
    """
    layers = _as_layers("weights", weights)
    problem = _Problem(_shapes(layers), target, inputs, mask)
    grads = [np.empty_like(W) for W in layers]
    with np.errstate(over="ignore", invalid="ignore"):
        value = problem.loss_and_grads(layers, grads)
    return value, _pack(grads)


def layer_gradients(weights, target, *, inputs=None, mask=None):
    """Only the gradients of :func:`loss_and_gradients`."""
    return loss_and_gradients(weights, target, inputs=inputs, mask=mask)[1]


def loss(weights, target, *, inputs=None, mask=None):
    """The sum loss ``1/2 ||W_{L:1} X - Y||_F^2`` (or masked / whitened form, see above).

    A trajectory stack ``(..., L, d, d)`` (whitened or masked only) gives one loss per snapshot.
    """
    if isinstance(weights, np.ndarray) and weights.ndim > 3:
        if inputs is not None:
            raise ValueError("inputs are not supported for a trajectory stack")
        target = as_float_array("target", target, ndim=2)
        R = end_to_end(weights) - target
        if mask is not None:
            mask = as_float_array("mask", mask, ndim=2)
            if mask.shape != target.shape:
                raise ValueError("mask must have the shape of target")
            R = R * mask
        return 0.5 * np.sum(R * R, axis=(-2, -1))
    layers = _as_layers("weights", weights)
    problem = _Problem(_shapes(layers), target, inputs, mask)
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

@dataclass(frozen=True)
class Trajectory:
    """A training run.

    ``weights``: snapshots, ``(S, L, m, n)`` when every layer has the same shape, otherwise a
    tuple of per-layer stacks ``(S, m_l, n_l)``; ``steps``: the step index of each snapshot
    (``S``,); ``losses``: the loss at every iterate ``0 .. n_steps`` (``n_steps + 1``,);
    ``converged``: whether the loss fell below ``tol``.
    """

    weights: np.ndarray | tuple
    steps: np.ndarray
    losses: np.ndarray
    converged: bool

    @property
    def n_steps(self) -> int:
        """Number of parameter updates performed."""
        return int(self.losses.size - 1)

    def layer(self, l: int) -> np.ndarray:
        """Snapshots of layer ``l`` (1-based), shape ``(S, m_l, n_l)``."""
        L = len(self.weights) if isinstance(self.weights, tuple) else self.weights.shape[1]
        l = as_int("l", l, minimum=1, maximum=L)
        if isinstance(self.weights, tuple):
            return self.weights[l - 1]
        return self.weights[:, l - 1]

    @property
    def final(self):
        """The last snapshot (a ``(L, m, n)`` stack or a tuple of matrices)."""
        if isinstance(self.weights, tuple):
            return tuple(W[-1] for W in self.weights)
        return self.weights[-1]


def train(weights0, target, *, lr: float, steps: int, inputs=None, mask=None,
          optimizer: str = "gd", momentum: float = 0.9, betas=(0.9, 0.999),
          adam_eps: float = 1e-8, lr_scale=None, stride: int = 1, tol: float | None = None,
          progress: bool = False) -> Trajectory:
    """Full-batch training of a deep linear network on the sum loss (see :func:`loss`).

    * ``optimizer="gd"``: ``W_l <- W_l - eta G_l``;
    * ``"momentum"`` (heavy ball, optax convention): ``b_l <- mu b_l + G_l``,
      ``W_l <- W_l - eta b_l``;
    * ``"adam"``: the standard bias-corrected Adam (negative control: its entrywise scaling
      breaks the invariant block structure).

    ``lr_scale``: optional per-layer multipliers of ``eta`` (``gamma`` for the outer factors of
    the compressed network, docs/01_law_of_parsimony.md, section 4). Snapshots every
    ``stride`` steps (and the last
    iterate); training stops after ``steps`` updates or when the loss falls below ``tol``.
    Raises :class:`DivergenceError` (step and loss) as soon as the loss is non-finite or has
    grown more than ``GROWTH_BOUND``-fold over its initial value.

    Plain GD on square layers of width ``<= _SMALL_WIDTH`` without ``inputs``, ``mask`` or
    ``lr_scale`` (e.g. the ``2r x 2r`` compressed chain) runs in the lean loop
    :func:`_train_small_gd`; every other run takes the plain loop below (six matrix products per
    step for ``L = 3``, then the update). All paths give the same trajectory up to round-off.
    """
    layers = [W.copy() for W in _as_layers("weights0", weights0)]
    lr = as_float("lr", lr, minimum=0.0, strict_minimum=True)
    steps = as_int("steps", steps, minimum=0)
    stride = as_int("stride", stride, minimum=1)
    optimizer = as_choice("optimizer", optimizer, {"gd", "momentum", "adam"})
    momentum = as_float("momentum", momentum, minimum=0.0, maximum=1.0)
    if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
        raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    b1, b2 = (as_float("betas", b, minimum=0.0, maximum=1.0) for b in betas)
    adam_eps = as_float("adam_eps", adam_eps, minimum=0.0, strict_minimum=True)
    tol = None if tol is None else as_float("tol", tol, minimum=0.0)
    L = len(layers)
    if lr_scale is None:
        rates = None
    else:
        scales = as_float_array("lr_scale", lr_scale, ndim=1)
        if scales.size != L or np.any(scales < 0):
            raise ValueError(f"lr_scale must hold {L} non-negative numbers")
        rates = [lr * float(s) for s in scales]
    problem = _Problem(_shapes(layers), target, inputs, mask)

    uniform = all(W.shape == layers[0].shape for W in layers)
    if optimizer == "gd" and rates is None and uniform and inputs is None and mask is None \
            and layers[0].shape[0] == layers[0].shape[1] <= _SMALL_WIDTH:
        return _train_small_gd(np.stack(layers), problem.target, lr, steps, stride, tol,
                               progress)
    if uniform:  # one contiguous stack, views per layer: vectorised updates and snapshots
        stack = np.stack(layers)
        layers = list(stack)
        gstack = np.empty_like(stack)
        grads = list(gstack)
    else:
        grads = [np.empty_like(W) for W in layers]
    if optimizer != "gd" and uniform:
        state_stack = np.zeros_like(stack)
        state = list(state_stack)
    else:
        state = [np.zeros_like(W) for W in layers] if optimizer != "gd" else []
    state2 = [np.zeros_like(W) for W in layers] if optimizer == "adam" else []

    def snapshot():
        return stack.copy() if uniform else [W.copy() for W in layers]

    snaps, snap_steps = [], []
    losses = np.empty(steps + 1)
    converged = False
    t = 0
    iterator = _progress(range(steps + 1), enable=progress, desc=f"{optimizer} x{L}")
    with np.errstate(over="ignore", invalid="ignore"):
        for t in iterator:
            value = problem.forward(layers)
            losses[t] = value
            check_loss(t, value, losses[0])
            converged = tol is not None and value < tol
            last = converged or t == steps
            if t % stride == 0 or last:
                snaps.append(snapshot())
                snap_steps.append(t)
            if last:
                break
            problem.backward(layers, grads)
            if optimizer == "gd" and rates is None and uniform:
                # two passes over the stack; a BLAS-fused update was no faster in wall time
                np.multiply(gstack, lr, out=gstack)
                np.subtract(stack, gstack, out=stack)
            elif optimizer == "momentum" and rates is None and uniform:
                state_stack *= momentum                  # b <- mu b + G, W <- W - eta b
                state_stack += gstack
                np.multiply(state_stack, lr, out=gstack)
                np.subtract(stack, gstack, out=stack)
            elif optimizer in ("gd", "momentum"):
                for l in range(L):
                    step = grads[l]
                    if optimizer == "momentum":
                        state[l] *= momentum
                        state[l] += grads[l]
                        step = np.multiply(state[l], 1.0, out=grads[l])
                    step *= lr if rates is None else rates[l]
                    layers[l] -= step
            else:
                k = t + 1
                for l in range(L):
                    g = grads[l]
                    state[l] *= b1
                    state[l] += (1 - b1) * g
                    state2[l] *= b2
                    state2[l] += (1 - b2) * g * g
                    m_hat = state[l] / (1 - b1**k)
                    v_hat = state2[l] / (1 - b2**k)
                    rate = lr if rates is None else rates[l]
                    layers[l] -= rate * m_hat / (np.sqrt(v_hat) + adam_eps)
    losses = losses[: t + 1]
    weights: np.ndarray | tuple[np.ndarray, ...]
    if uniform:
        weights = np.stack(snaps)
    else:
        weights = tuple(np.stack([s[l] for s in snaps]) for l in range(L))
    return Trajectory(weights, np.asarray(snap_steps), losses, bool(converged))


#: Widest square layer for which :func:`train` runs plain GD through :func:`_train_small_gd`
#: (the ``2r x 2r`` compressed chain); wider layers take the plain loop of :func:`train`.
_SMALL_WIDTH = 64


def _train_small_gd(stack: np.ndarray, target: np.ndarray, lr: float, steps: int, stride: int,
                    tol: float | None, progress: bool) -> Trajectory:
    """Plain GD on a whitened chain of small square layers (the compressed network).

    The same iteration, loss, snapshots and stopping rules as :func:`train` (which validates
    the arguments and calls this for ``optimizer="gd"`` without ``lr_scale``, ``inputs`` or
    ``mask`` and square layers of width ``<= _SMALL_WIDTH``). For ``2r x 2r`` layers a step costs
    far more in per-call overhead than in arithmetic, so the step is cut to ``3L + 1`` numpy
    calls, all writing into buffers allocated once:

    * forward: ``P_l = W_l P_{l-1}`` (``L - 1`` products), ``R = P_L - Phi``, ``||R||^2``;
    * backward: ``G_l = A_l P_{l-1}^T`` and ``A_{l-1} = W_l^T A_l`` (``A_L = R``, ``A_1 = G_1``),
      ``2 (L - 1)`` products;
    * update: ``G <- eta G`` and ``W <- W - G`` on the whole ``(L, k, k)`` stack.

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
                if t % stride == 0:
                    snaps.append(stack.copy())
                    snap_steps.append(t)
    if snap_steps[-1] != t:
        snaps.append(stack.copy())
        snap_steps.append(t)
    losses = 0.5 * np.array(squares, dtype=float)
    return Trajectory(np.stack(snaps), np.asarray(snap_steps), losses, bool(converged))


# ---------------------------------------------------------------------------------------------
# The invariant frame and the block structure (docs/01_law_of_parsimony.md, section 2, [ours])
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Frame:
    """The rotated bases of the law of parsimony.

    ``U[l-1]``, ``V[l-1]``: orthogonal ``d x d`` matrices with ``U_l = O_l V_l``,
    ``V_{l+1} = U_l``; the first ``k = 2r`` columns of ``V_1`` span ``S``.
    ``eps``: the init scale; ``rank``: ``r``.
    """

    U: np.ndarray
    V: np.ndarray
    rank: int
    eps: float

    @property
    def k(self) -> int:
        """Block size ``2r``."""
        return 2 * self.rank

    @property
    def depth(self) -> int:
        return self.U.shape[0]

    @property
    def d(self) -> int:
        return self.U.shape[1]

    @property
    def thin(self) -> bool:
        """True when only the first ``2r`` columns of ``U_l, V_l`` are kept."""
        return self.U.shape[2] != self.U.shape[1]


def _init_scale(weights0) -> tuple[np.ndarray, float]:
    """Split ``W_l(0) = eps O_l`` into ``O`` (L, d, d) and the common scale ``eps``.

    Orthogonality is checked on a few fixed probe vectors (``O_l^T O_l x = x``), which costs
    ``O(L d^2)`` instead of the ``O(L d^3)`` of forming every Gram matrix.
    """
    W = as_float_array("weights0", weights0, ndim=3)
    L, m, n = W.shape
    if m != n:
        raise ValueError(f"weights0 must hold square layers, got shape {W.shape}")
    eps = math.sqrt(float(np.vdot(W, W)) / (L * n))
    if eps == 0:
        raise ValueError("weights0 must not be zero")
    O = W / eps
    probes = np.random.default_rng(0).standard_normal((n, 3))
    back = np.swapaxes(O, -1, -2) @ (O @ probes)
    if np.max(np.abs(back - probes)) > 1e-10 * np.max(np.abs(probes)):
        raise ValueError("weights0 must be eps times orthogonal matrices with a common eps "
                         "(orthogonal init); the invariant frame is undefined otherwise")
    return O, eps


def _top_singular_vectors(Phi: np.ndarray, r: int, method: str, rng):
    """Top-``r`` left and right singular vectors: a full SVD, or a randomized range finder
    (Halko, Martinsson & Tropp 2011) with ``r + 10`` probes and two power iterations, which costs
    ``O(d^2 r)`` and is exact to round-off when ``rank(Phi) <= r``."""
    if method == "exact":
        U, _, Vt = np.linalg.svd(Phi)
        return U[:, :r], Vt[:r].T
    k = min(r + 10, min(Phi.shape))
    Q, _ = np.linalg.qr(Phi @ rng.standard_normal((Phi.shape[1], k)))
    for _ in range(2):
        Q, _ = np.linalg.qr(Phi.T @ Q)
        Q, _ = np.linalg.qr(Phi @ Q)
    Ub, _, Vt = np.linalg.svd(Q.T @ Phi, full_matrices=False)
    return (Q @ Ub)[:, :r], Vt[:r].T


def invariant_frame(weights0, target, rank: int, *, tol: float = 1e-8, thin: bool = False,
                    svd: str = "exact", rng=None) -> Frame:
    """Build ``S = span(V_Phi) + span(O^T U_Phi)`` and the chained bases ``U_l, V_l``.

    ``weights0``: ``(L, d, d)`` with ``W_l(0) = eps O_l``; ``target``: ``Phi`` (d x d); the top
    ``rank`` singular vectors of ``Phi`` are used (exact when ``Phi`` has rank ``r``).
    ``V_{1,1}`` is an orthonormal basis of ``S`` from the SVD of ``[V_Phi, O^T U_Phi]``,
    ``V_{1,2}`` its orthogonal complement; ``U_l = O_l V_l`` and ``V_{l+1} = U_l``.
    ``thin=True`` keeps only the first ``2r`` columns (all the compressed network needs; cost
    ``O(L d^2 r)`` plus the SVD of ``Phi``); ``svd="randomized"`` (with ``rng``) replaces the full
    SVD of ``Phi`` by an ``O(d^2 r)`` randomized one.
    Raises ``ValueError`` when ``dim S < 2r`` (smallest singular value of ``[V_Phi, O^T U_Phi]``
    below ``tol``), e.g. ``O = I`` with a symmetric ``Phi``, or when ``d < 2r``.
    """
    O, eps = _init_scale(weights0)
    L, d, _ = O.shape
    Phi = as_float_array("target", target, ndim=2)
    if Phi.shape != (d, d):
        raise ValueError(f"target must have shape {(d, d)}, got {Phi.shape}")
    r = as_int("rank", rank, minimum=1)
    if 2 * r > d:
        raise ValueError(f"rank must satisfy 2 rank <= d = {d}, got rank = {r}")
    tol = as_float("tol", tol, minimum=0.0)
    svd = as_choice("svd", svd, {"exact", "randomized"})
    if svd == "randomized":
        rng = _check_rng(rng)
    Uphi, Vphi = _top_singular_vectors(Phi, r, svd, rng)
    OtU = Uphi
    for l in range(L - 1, -1, -1):          # O^T U = O_1^T ... O_L^T U
        OtU = O[l].T @ OtU
    span = np.hstack([Vphi, OtU])
    Q, s, _ = np.linalg.svd(span, full_matrices=not thin)
    if s[-1] <= tol:
        raise ValueError(f"dim S < 2r: span(V_Phi) and span(O^T U_Phi) overlap (smallest "
                         f"singular value {s[-1]:.2e} <= tol {tol:.1e}); the 2r-block frame is "
                         "ill-posed for this target and init")
    cols = Q.shape[1]                          # d, or 2r when thin; first 2r columns span S
    U = np.empty((L, d, cols))
    V = np.empty((L, d, cols))
    V[0] = Q
    for l in range(L):
        U[l] = O[l] @ V[l]
        if l + 1 < L:
            V[l + 1] = U[l]
    return Frame(U, V, r, eps)


def _require_full(frame) -> None:
    if not isinstance(frame, Frame):
        raise ValueError("frame must be a Frame from invariant_frame")
    if frame.U.shape[2] != frame.U.shape[1]:
        raise ValueError("frame must be a full frame (invariant_frame(..., thin=False)) here")


def rotated_blocks(weights, frame: Frame) -> np.ndarray:
    """``U_l^T W_l V_l`` for every layer and snapshot; ``weights`` is ``(..., L, d, d)``."""
    W = as_matrix_stack("weights", weights)
    _require_full(frame)
    if W.ndim < 3 or W.shape[-3:] != frame.U.shape:
        raise ValueError(f"weights must end with shape {frame.U.shape}, got {W.shape}")
    return np.swapaxes(frame.U, -1, -2) @ W @ frame.V


def block_residual(weights, frame: Frame, rho):
    """Deviation of a trajectory from the block form ``diag(W~_l, rho I)``.

    ``weights``: ``(S, L, d, d)``; ``rho``: ``(S,)`` complement scalars (or a scalar).
    Returns ``(off_diagonal, complement, blocks)``: the Frobenius norms (``(S, L)``) of the
    larger off-diagonal block of ``U_l^T W_l V_l`` and of ``lower block - rho I``, and the upper
    ``2r x 2r`` blocks ``W~_l`` (``(S, L, 2r, 2r)``).
    """
    R = rotated_blocks(weights, frame)
    k = frame.k
    rho = as_float_array("rho", rho)
    if rho.ndim > 1 or (rho.ndim == 1 and rho.shape[0] != R.shape[0]):
        raise ValueError(f"rho must be a scalar or hold one value per snapshot ({R.shape[0]})")
    rho = rho.reshape(rho.shape + (1,) * (R.ndim - rho.ndim - 2 if rho.ndim else 0))
    off = np.maximum(np.linalg.norm(R[..., :k, k:], axis=(-2, -1)),
                     np.linalg.norm(R[..., k:, :k], axis=(-2, -1)))
    m = frame.d - k
    lower = R[..., k:, k:] - np.asarray(rho)[..., None, None] * np.eye(m)
    comp = np.linalg.norm(lower, axis=(-2, -1)) if m else np.zeros(off.shape)
    return off, comp, R[..., :k, :k]


def complement_scalar_gd(eps: float, lr: float, steps: int, depth: int, *,
                         momentum: float = 0.0) -> np.ndarray:
    """The complement scalar under GD: ``rho_{t+1} = rho_t - eta rho_t^{2L-1}``, ``rho_0 = eps``.

    With ``momentum = mu > 0`` the heavy-ball map ``b <- mu b + rho^{2L-1}``,
    ``rho <- rho - eta b`` (the same optimizer as :func:`train`). Returns ``(steps + 1,)``.
    """
    eps = as_float("eps", eps, minimum=0.0, strict_minimum=True)
    lr = as_float("lr", lr, minimum=0.0, strict_minimum=True)
    steps = as_int("steps", steps, minimum=0)
    L = as_int("depth", depth, minimum=1)
    momentum = as_float("momentum", momentum, minimum=0.0, maximum=1.0)
    out = np.empty(steps + 1)
    rho, buf = eps, 0.0
    out[0] = rho
    p = 2 * L - 1
    for t in range(1, steps + 1):
        try:
            buf = momentum * buf + rho**p
            rho = rho - lr * buf
        except OverflowError:
            rho = math.inf
        if not math.isfinite(rho):
            raise DivergenceError(t, 0.5 * rho * rho)
        out[t] = rho
    return out


def complement_scalar_flow(eps: float, time, depth: int) -> np.ndarray:
    """Gradient-flow complement scalar: ``rho' = -rho^{2L-1}``, ``rho(0) = eps``, i.e.
    ``rho(t) = (eps^{2-2L} + (2L - 2) t)^{1/(2-2L)}`` (``L >= 2``; ``L = 1``: ``eps e^{-t}``)."""
    eps = as_float("eps", eps, minimum=0.0, strict_minimum=True)
    t = as_float_array("time", time)
    if np.any(t < 0):
        raise ValueError("time must be non-negative")
    L = as_int("depth", depth, minimum=1)
    if L == 1:
        return eps * np.exp(-t)
    q = 2 - 2 * L
    return (eps**q - q * t) ** (1.0 / q)


def complement_loss(rho, depth: int, m: int) -> np.ndarray:
    """The complement's share of the loss, ``1/2 m rho^{2L}`` (``m = d - 2r``)."""
    rho = as_float_array("rho", rho)
    L = as_int("depth", depth, minimum=1)
    m = as_int("m", m, minimum=0)
    return 0.5 * m * rho ** (2 * L)


# ---------------------------------------------------------------------------------------------
# Compressed network (docs/01_law_of_parsimony.md, section 4)
# ---------------------------------------------------------------------------------------------

def compressed_problem(frame: Frame, target):
    """The ``2r x 2r`` chain of the compressed network: ``(W~(0) = eps I_{2r} stack, Phi~)``
    with ``Phi~ = U_{L,1}^T Phi V_{1,1}``. Needs ``U_{L,1}^T Phi V_{1,2} = 0`` etc., which holds
    by construction of ``S`` for a rank-``r`` ``Phi``."""
    if not isinstance(frame, Frame):
        raise ValueError("frame must be a Frame from invariant_frame")
    Phi = as_float_array("target", target, ndim=2)
    if Phi.shape != (frame.d, frame.d):
        raise ValueError(f"target must have shape {(frame.d, frame.d)}, got {Phi.shape}")
    k = frame.k
    U1 = frame.U[-1][:, :k]
    V1 = frame.V[0][:, :k]
    phi_tilde = U1.T @ Phi @ V1
    init = frame.eps * np.broadcast_to(np.eye(k), (frame.depth, k, k)).copy()
    return init, phi_tilde


def train_compressed(frame: Frame, target, *, lr: float, steps: int, optimizer: str = "gd",
                     momentum: float = 0.9, stride: int = 1, tol: float | None = None,
                     progress: bool = False) -> Trajectory:
    """Train the ``2r x 2r`` chain on ``Phi~`` with the same step size (whitened case)."""
    init, phi_tilde = compressed_problem(frame, target)
    return train(init, phi_tilde, lr=lr, steps=steps, optimizer=optimizer, momentum=momentum,
                 stride=stride, tol=tol, progress=progress)


def compressed_end_to_end(blocks, frame: Frame, rho) -> np.ndarray:
    """``U_{L,1} W~_{L:1} V_{1,1}^T + rho^L U_{L,2} V_{1,2}^T`` for a stack of chains
    ``blocks`` of shape ``(..., L, 2r, 2r)`` and matching ``rho`` (scalar or ``(...,)``)."""
    _require_full(frame)
    B = as_matrix_stack("blocks", blocks)
    k = frame.k
    if B.ndim < 3 or B.shape[-3:] != (frame.depth, k, k):
        raise ValueError(f"blocks must end with shape {(frame.depth, k, k)}, got {B.shape}")
    rho = as_float_array("rho", rho)
    UL, V1 = frame.U[-1], frame.V[0]
    small = end_to_end(B)
    out = UL[:, :k] @ small @ V1[:, :k].T
    comp = UL[:, k:] @ V1[:, k:].T
    return out + (rho**frame.depth)[..., None, None] * comp


def factored_compressed_network(frame: Frame) -> tuple:
    """The depth-``(L+2)`` compressed network of the official code
    (docs/01_law_of_parsimony.md, section 4):
    ``[V_{1,1}^T, eps I_{2r} (L times), U_{L,1}]``; its product is
    ``U_{L,1} W~_{L:1} V_{1,1}^T`` (the ``rho^L`` complement is dropped). Train it with
    :func:`train` and ``lr_scale = [gamma, 1, ..., 1, gamma]`` (``gamma > 0`` for masks)."""
    if not isinstance(frame, Frame):
        raise ValueError("frame must be a Frame from invariant_frame")
    k = frame.k
    inner = [frame.eps * np.eye(k) for _ in range(frame.depth)]
    return tuple([frame.V[0][:, :k].T.copy()] + inner + [frame.U[-1][:, :k].copy()])


# ---------------------------------------------------------------------------------------------
# Diagnostics
# ---------------------------------------------------------------------------------------------

def balancedness(weights) -> np.ndarray:
    """``D_l = W_{l+1}^T W_{l+1} - W_l W_l^T`` for ``l = 1 .. L-1``: ``(..., L-1, d, d)``.
    Conserved by gradient flow; GD adds ``eta^2 (G_{l+1}^T G_{l+1} - G_l G_l^T)`` per step."""
    W = as_matrix_stack("weights", weights)
    if W.ndim < 3 or W.shape[-3] < 2:
        raise ValueError(f"weights must be a (..., L, d, d) stack with L >= 2, got {W.shape}")
    upper = W[..., 1:, :, :]
    lower = W[..., :-1, :, :]
    return np.swapaxes(upper, -1, -2) @ upper - lower @ np.swapaxes(lower, -1, -2)


def large_singular_subspaces(W, rho, *, threshold: float = 1e-7):
    """Left and right singular vectors of ``W`` whose singular values differ from ``rho`` by
    more than ``threshold`` (the learned block, found from the weights alone)."""
    W = as_float_array("W", W, ndim=2)
    rho = as_float("rho", rho)
    threshold = as_float("threshold", threshold, minimum=0.0)
    U, s, Vt = np.linalg.svd(W)
    keep = np.abs(s - rho) > threshold
    return U[:, keep], Vt[keep].T


def layer_alignment(weights, rho, *, threshold: float = 1e-7) -> np.ndarray:
    """Alignment of consecutive layers found from the trained weights alone (notebook 01,
    section 4).

    For every snapshot ``s`` and ``l = 1 .. L-1``: the sine of the largest principal angle
    between the left singular vectors of ``W_l`` and the right singular vectors of ``W_{l+1}``
    whose singular values differ from ``rho[s]`` by more than ``threshold`` (``sin theta =
    ||(I - A A^T) B||_2`` of the smaller space ``B`` against the larger). ``weights``:
    ``(S, L, d, d)``; returns ``(S, L-1)`` with NaN where a layer has no such vectors.
    """
    W = as_float_array("weights", weights, ndim=4)
    rho = as_float_array("rho", rho, ndim=1)
    if rho.shape[0] != W.shape[0]:
        raise ValueError(f"rho must hold one value per snapshot ({W.shape[0]}), got {rho.shape}")
    threshold = as_float("threshold", threshold, minimum=0.0)
    U, s, Vt = np.linalg.svd(W)
    keep = np.abs(s - rho[:, None, None]) > threshold
    out = np.full((W.shape[0], W.shape[1] - 1), np.nan)
    for t in range(W.shape[0]):
        for l in range(W.shape[1] - 1):
            A = U[t, l][:, keep[t, l]]
            B = Vt[t, l + 1][keep[t, l + 1]].T
            if A.shape[1] and B.shape[1]:
                out[t, l] = float(linalg.subspace_distance(A, B))
    return out


def completion_errors(end_to_end_matrix, target, mask):
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


def _class_scatter(H, labels):
    """``tr Sigma_W`` and ``tr Sigma_B`` of features ``H`` (features x samples)."""
    classes = np.unique(labels)
    means = np.stack([H[:, labels == k].mean(axis=1) for k in classes], axis=1)
    centred = H - means[:, np.searchsorted(classes, labels)]
    within = float(np.sum(centred * centred)) / H.shape[1]
    spread = means - H.mean(axis=1, keepdims=True)
    between = float(np.sum(spread * spread)) / classes.size
    return within, between


def feature_separation(weights, inputs, labels, *, activation: str = "linear") -> np.ndarray:
    """``D_l = tr Sigma_W / tr Sigma_B`` of the features ``h_l = W_{l:1} X``, ``l = 0 .. L-1``
    (the official code's metric, docs/01_law_of_parsimony.md; the final output is not
    included). ``Sigma_W = 1/N sum_i (h_i - mu_{y_i}) (h_i - mu_{y_i})^T``,
    ``Sigma_B = 1/K sum_k (mu_k - mu_G)(mu_k - mu_G)^T``. ``activation="relu"``: the features
    ``h_l = max(W_l h_{l-1}, 0)`` of the ReLU network (:func:`relu_features`)."""
    activation = as_choice("activation", activation, {"linear", "relu"})
    layers = _as_layers("weights", weights)
    X = as_float_array("inputs", inputs, ndim=2)
    if X.shape[0] != layers[0].shape[1]:
        raise ValueError(f"inputs must have {layers[0].shape[1]} rows, got {X.shape}")
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != X.shape[1] or labels.dtype.kind not in "iu":
        raise ValueError("labels must be a 1-D integer array with one label per column of inputs")
    if np.unique(labels).size < 2:
        raise ValueError("labels must contain at least two classes")
    out = []
    H = X
    for l in range(len(layers)):
        within, between = _class_scatter(H, labels)
        out.append(within / between)
        H = layers[l] @ H
        if activation == "relu":
            H = np.maximum(H, 0.0)
    return np.asarray(out)


def separation_d0(per_class: int, n_samples: int) -> float:
    """``D_0 = (1 - 1/n) / (1/n - 1/N)`` for orthonormal inputs, ``n`` samples per class."""
    n = as_int("per_class", per_class, minimum=1)
    N = as_int("n_samples", n_samples, minimum=1)
    if N <= n:
        raise ValueError("n_samples must exceed per_class (at least two classes)")
    return (1 - 1 / n) / (1 / n - 1 / N)


def predicted_separation_ratio(eps: float, per_class: int, depth: int) -> float:
    """Per-layer factor of ``D_l`` predicted here (**[ours]**): ``eps^2 n^{-1/L}``."""
    eps = as_float("eps", eps, minimum=0.0, strict_minimum=True)
    n = as_int("per_class", per_class, minimum=1)
    L = as_int("depth", depth, minimum=1)
    return eps**2 * n ** (-1.0 / L)


def log_linear_fit(values):
    """Least-squares line through ``log values[l]`` against ``l``: returns ``(ratio, r2)`` with
    ``ratio = exp(slope)`` (the per-layer factor) and the coefficient of determination."""
    v = as_float_array("values", values, ndim=1)
    if v.size < 3 or np.any(v <= 0):
        raise ValueError("values must hold at least 3 positive numbers")
    x = np.arange(v.size, dtype=float)
    y = np.log(v)
    slope, intercept = np.polyfit(x, y, 1)
    resid = y - (slope * x + intercept)
    total = np.sum((y - y.mean()) ** 2)
    r2 = 1.0 - float(np.sum(resid**2)) / float(total) if total > 0 else 1.0
    return float(math.exp(slope)), r2


# ---------------------------------------------------------------------------------------------
# Matrix completion on the observed entries only (paper's compressed-network experiments)
# ---------------------------------------------------------------------------------------------

def _index_array(name: str, value, bound: int) -> np.ndarray:
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


def observed_entries(target, mask):
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


def masked_residual(left, right, rows, cols, values) -> np.ndarray:
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
    i = _index_array("rows", rows, A.shape[0])
    j = _index_array("cols", cols, B.shape[1])
    v = as_float_array("values", values, ndim=1)
    if not i.size == j.size == v.size:
        raise ValueError(f"rows, cols and values must have one length, got {i.size}, {j.size}, "
                         f"{v.size}")
    return _gather_residual(A, B, i, j, v)


def _gather_residual(A, B, i, j, v) -> np.ndarray:
    """``sum_a A[i_s, a] B[a, j_s] - v_s`` without validation: one pass per inner index ``a``
    gathering from the rows of ``A^T`` and ``B`` (short, cache-resident vectors), which beats
    gathering ``k``-vectors per pair by 2-3x when ``k`` is small."""
    At = np.ascontiguousarray(A.T)
    acc = np.negative(v)
    for a in range(B.shape[0]):
        acc += At[a].take(i) * B[a].take(j)
    return acc


def masked_residual_dense(left, right, target, mask) -> np.ndarray:
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
    return M * (A @ B - Phi)


def train_observed(weights0, rows, cols, values, *, lr: float, steps: int, lr_scale=None,
                   stride: int = 1, tol: float | None = None, progress: bool = False):
    """Plain GD on the masked sum loss ``1/2 sum_s ((W_{L:1})_{i_s j_s} - v_s)^2`` at a cost
    set by the observed entries, for a chain whose first layer ``W_1`` (``k x d_in``) and last
    layer ``W_L`` (``d_out x k``) are the only wide ones (the compressed network
    ``[V_{1,1}^T, eps I_{2r} (L times), U_{L,1}]`` of the official code, or a narrow network).

    Same iteration as :func:`train` with ``mask`` (``G_l = W_{L:l+1}^T R W_{l-1:1}^T``, ``R``
    the masked residual), but ``R`` is kept as a ``scipy.sparse`` matrix with the observed
    pattern: the residual is gathered by :func:`masked_residual` from ``W_{L:2}`` and ``W_1``,
    and ``R W_1^T`` and ``R^T W_{L:2}`` are sparse-dense products, so a step costs
    ``O(n_obs k + d k^2 + L k^3)``, not ``O(d^2 k)``. ``lr_scale`` multiplies the step size per
    layer (``gamma`` on the outer factors). Needs ``L >= 2``. Returns a :class:`Trajectory`
    whose ``weights`` is a tuple of per-layer snapshot stacks.
    """
    from scipy import sparse

    layers = [W.copy() for W in _as_layers("weights0", weights0)]
    L = len(layers)
    if L < 2:
        raise ValueError("weights0 must hold at least two layers")
    d_out, d_in = layers[-1].shape[0], layers[0].shape[1]
    i = _index_array("rows", rows, d_out)
    j = _index_array("cols", cols, d_in)
    v = as_float_array("values", values, ndim=1)
    if not i.size == j.size == v.size:
        raise ValueError(f"rows, cols and values must have one length, got {i.size}, {j.size}, "
                         f"{v.size}")
    order = np.lexsort((j, i))                 # CSR order: the residual fills R.data directly
    i, j, v = i[order], j[order], v[order]
    if np.any((np.diff(i) == 0) & (np.diff(j) == 0)):
        raise ValueError("rows and cols must not repeat an (i, j) pair")
    lr = as_float("lr", lr, minimum=0.0, strict_minimum=True)
    steps = as_int("steps", steps, minimum=0)
    stride = as_int("stride", stride, minimum=1)
    tol = None if tol is None else as_float("tol", tol, minimum=0.0)
    if lr_scale is None:
        rates = [lr] * L
    else:
        scales = as_float_array("lr_scale", lr_scale, ndim=1)
        if scales.size != L or np.any(scales < 0):
            raise ValueError(f"lr_scale must hold {L} non-negative numbers")
        rates = [lr * float(s) for s in scales]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(i, minlength=d_out))])
    R = sparse.csr_matrix((np.zeros(i.size), j, indptr), shape=(d_out, d_in))
    perm = np.lexsort((i, j))                   # the same entries in the CSR order of R^T
    indptr_t = np.concatenate([[0], np.cumsum(np.bincount(j, minlength=d_in))])
    RT = sparse.csr_matrix((np.zeros(i.size), i[perm], indptr_t), shape=(d_in, d_out))

    def forward():
        # suffix[l] = W_{L:l+1} (d_out x k_l), l = 1 .. L-1 (0-based suffix[l-1])
        suffix: list = [None] * L
        suffix[L - 1] = layers[-1]
        for l in range(L - 2, 0, -1):
            suffix[l] = suffix[l + 1] @ layers[l]
        res = _gather_residual(suffix[1], layers[0], i, j, v)
        return suffix, res

    snaps, snap_steps = [], []
    losses = np.empty(steps + 1)
    converged, t = False, 0
    with np.errstate(over="ignore", invalid="ignore"):
        for t in _progress(range(steps + 1), enable=progress, desc=f"observed x{L}"):
            suffix, res = forward()
            value = 0.5 * float(res @ res)
            losses[t] = value
            check_loss(t, value, losses[0])
            converged = tol is not None and value < tol
            last = converged or t == steps
            if t % stride == 0 or last:
                snaps.append([W.copy() for W in layers])
                snap_steps.append(t)
            if last:
                break
            R.data[:] = res
            RT.data[:] = res[perm]
            T = np.asarray(R @ layers[0].T)                  # R W_1^T (d_out x k_1)
            grads = [np.asarray(RT @ suffix[1]).T]           # G_1 = W_{L:2}^T R
            below = None                                     # W_{l-1:2} (k x k), None = I
            for l in range(1, L):
                TB = T if below is None else T @ below.T     # R W_{l-1:1}^T
                grads.append(TB if l == L - 1 else suffix[l + 1].T @ TB)
                below = layers[l] if below is None else layers[l] @ below
            for l in range(L):
                if rates[l]:
                    layers[l] -= rates[l] * grads[l]
    losses = losses[: t + 1]
    weights = tuple(np.stack([s[l] for s in snaps]) for l in range(L))
    return Trajectory(weights, np.asarray(snap_steps), losses, bool(converged))


def narrow_network(width: int, depth: int, d: int, eps: float, rng) -> tuple:
    """A narrow orthogonally initialised network of the paper's compressed-vs-narrow
    comparison: ``W_1`` (``width x d``), ``depth - 2`` square ``width x width`` layers and
    ``W_L`` (``d x width``), each ``eps`` times a (semi-)orthogonal matrix."""
    width = as_int("width", width, minimum=1)
    depth = as_int("depth", depth, minimum=2)
    d = as_int("d", d, minimum=1)
    return tuple(orthogonal_init(width, depth, eps, rng, d_in=d, d_out=d))


# ---------------------------------------------------------------------------------------------
# Other initialisations and ReLU networks (paper's class-separation experiments)
# ---------------------------------------------------------------------------------------------

def uniform_init(width: int, depth: int, eps: float, rng, *, d_in: int | None = None,
                 d_out: int | None = None):
    """I.i.d. uniform ``U(-1, 1)`` layers rescaled to the Frobenius norm of ``eps`` times a
    (semi-)orthogonal matrix of the same shape, ``||W_l||_F = eps sqrt(min(m, n))`` (the
    official code's "unif" init, norm-matched like :func:`gaussian_init`)."""
    eps = as_float("eps", eps, minimum=0.0, strict_minimum=True)
    shapes = _layer_shapes(width, depth, d_in, d_out)
    rng = _check_rng(rng)
    layers = []
    for m, n in shapes:
        G = rng.uniform(-1.0, 1.0, (m, n))
        layers.append(G * (eps * math.sqrt(min(m, n)) / np.linalg.norm(G)))
    return _pack(layers)


def relu_features(weights, inputs) -> list:
    """Hidden features of the ReLU network ``f(X) = W_L s(W_{L-1} ... s(W_1 X))``,
    ``s(z) = max(z, 0)``: ``[X, h_1, ..., h_{L-1}]`` with ``h_l = s(W_l h_{l-1})`` (the output
    layer is linear and not included)."""
    layers = _as_layers("weights", weights)
    X = as_float_array("inputs", inputs, ndim=2)
    if X.shape[0] != layers[0].shape[1]:
        raise ValueError(f"inputs must have {layers[0].shape[1]} rows, got {X.shape}")
    H = [X]
    for W in layers[:-1]:
        H.append(np.maximum(W @ H[-1], 0.0))
    return H


def relu_loss_and_gradients(weights, target, inputs):
    """Sum loss ``1/2 ||f(X) - Y||_F^2`` of the ReLU network of :func:`relu_features` and its
    layer gradients (backpropagation: ``delta_L = f(X) - Y``, ``G_l = delta_l h_{l-1}^T``,
    ``delta_{l-1} = (W_l^T delta_l) o 1[W_{l-1} h_{l-2} > 0]``). Returns ``(loss, grads)``."""
    layers = _as_layers("weights", weights)
    H = relu_features(layers, inputs)
    Y = as_float_array("target", target, ndim=2)
    out = layers[-1] @ H[-1]
    if Y.shape != out.shape:
        raise ValueError(f"target must have shape {out.shape}, got {Y.shape}")
    delta = out - Y
    value = 0.5 * float(np.vdot(delta, delta))
    grads = [None] * len(layers)
    for l in range(len(layers) - 1, -1, -1):
        grads[l] = delta @ H[l].T
        if l:
            delta = (layers[l].T @ delta) * (H[l] > 0)
    return value, _pack(grads)


def train_relu(weights0, target, inputs, *, lr: float, steps: int, tol: float | None = None):
    """Full-batch GD on the ReLU network's sum loss (:func:`relu_loss_and_gradients`); stops
    after ``steps`` updates or once the loss is below ``tol``. Returns ``(final weights,
    n_steps, converged)``."""
    layers = [W.copy() for W in _as_layers("weights0", weights0)]
    lr = as_float("lr", lr, minimum=0.0, strict_minimum=True)
    steps = as_int("steps", steps, minimum=0)
    tol = None if tol is None else as_float("tol", tol, minimum=0.0)
    first = None
    for t in range(steps + 1):
        value, grads = relu_loss_and_gradients(layers, target, inputs)
        first = value if first is None else first
        if not math.isfinite(value) or value > GROWTH_BOUND * first > 0:
            raise DivergenceError(t, value)
        if (tol is not None and value < tol) or t == steps:
            return _pack(layers), t, bool(tol is not None and value < tol)
        for W, G in zip(layers, grads):
            W -= lr * G
