"""The law of parsimony and the compressed network (Yaras et al., arXiv:2306.01154, sections 3.1
and 3.3).

In the exact form reconstructed here (docs/01_law_of_parsimony.md, section 2, **[ours]**,
consistent with the paper's abstract and the official code): from ``W_l(0) = eps O_l`` with
Haar-orthogonal ``O_l`` and rank-``r`` ``Phi = U_Phi Sigma V_Phi^T``, let
``S = span(V_Phi) + span(O^T U_Phi)`` (``O = O_L ... O_1``, ``dim S = 2r`` generically) and
``V_1 = [V_{1,1} | V_{1,2}]`` with ``range V_{1,1} = S``; ``U_l = O_l V_l``, ``V_{l+1} = U_l``.
Then for every step ``t`` of GD (or heavy-ball momentum) on the whitened sum loss

    W_l(t) = U_l diag(W~_l(t), rho(t) I_{d-2r}) V_l^T,    W~_l(0) = eps I_{2r},

where ``rho`` follows the scalar map ``rho <- rho (1 - lr rho^{2L-2})`` and the ``2r x 2r``
chain ``W~`` is plain GD on ``1/2 ||W~_{L:1} - Phi~||^2`` with ``Phi~ = U_{L,1}^T Phi V_{1,1}``.
Hence the compressed network reproduces the full trajectory exactly at cost ``O(L (2r)^3)`` per
step (docs/01_law_of_parsimony.md, section 4).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.sparse.linalg import svds

from ._validate import as_choice, as_float, as_float_array, as_generator, as_int, as_matrix_stack
from .deep_linear import Trajectory, end_to_end, train
from .errors import DivergenceError

__all__ = [
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
]


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
        return int(self.U.shape[0])

    @property
    def d(self) -> int:
        return int(self.U.shape[1])

    @property
    def thin(self) -> bool:
        """True when only the first ``2r`` columns of ``U_l, V_l`` are kept."""
        return bool(self.U.shape[2] != self.U.shape[1])


def _init_scale(weights0: ArrayLike) -> tuple[np.ndarray, float]:
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


def _top_singular_vectors(Phi: np.ndarray, r: int, method: str,
                          rng: np.random.Generator | None) -> tuple[np.ndarray, np.ndarray]:
    """Top-``r`` left and right singular vectors: a full SVD (``O(d^3)``), or the truncated
    ``scipy.sparse.linalg.svds`` (ARPACK from a start vector drawn from ``rng``), which needs
    only products with ``Phi`` and ``Phi^T`` and is exact to round-off for the top ``r``."""
    if method == "exact" or rng is None:
        U, _, Vt = np.linalg.svd(Phi)
        return U[:, :r], Vt[:r].T
    U, s, Vt = svds(Phi, k=r, rng=rng)
    order = np.argsort(s)[::-1]                # svds returns ascending singular values
    return U[:, order], Vt[order].T


def invariant_frame(weights0: ArrayLike, target: ArrayLike, rank: int, *, tol: float = 1e-8,
                    thin: bool = False, svd: str = "exact",
                    rng: np.random.Generator | None = None) -> Frame:
    """Build ``S = span(V_Phi) + span(O^T U_Phi)`` and the chained bases ``U_l, V_l``.

    ``weights0``: ``(L, d, d)`` with ``W_l(0) = eps O_l``; ``target``: ``Phi`` (d x d); the top
    ``rank`` singular vectors of ``Phi`` are used (exact when ``Phi`` has rank ``r``).
    ``V_{1,1}`` is an orthonormal basis of ``S`` from the SVD of ``[V_Phi, O^T U_Phi]``,
    ``V_{1,2}`` its orthogonal complement; ``U_l = O_l V_l`` and ``V_{l+1} = U_l``.
    ``thin=True`` keeps only the first ``2r`` columns (all the compressed network needs; cost
    ``O(L d^2 r)`` plus the SVD of ``Phi``); ``svd="truncated"`` (with ``rng``) replaces the full
    SVD of ``Phi`` by the top-``r`` ``scipy.sparse.linalg.svds``.
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
    svd = as_choice("svd", svd, {"exact", "truncated"})
    if svd == "truncated":
        rng = as_generator("rng", rng)
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


def _as_frame(frame: object, *, full: bool = False) -> Frame:
    if not isinstance(frame, Frame):
        raise ValueError("frame must be a Frame from invariant_frame")
    if full and frame.thin:
        raise ValueError("frame must be a full frame (invariant_frame(..., thin=False)) here")
    return frame


def rotated_blocks(weights: ArrayLike, frame: Frame) -> np.ndarray:
    """``U_l^T W_l V_l`` for every layer and snapshot; ``weights`` is ``(..., L, d, d)``."""
    W = as_matrix_stack("weights", weights)
    frame = _as_frame(frame, full=True)
    if W.ndim < 3 or W.shape[-3:] != frame.U.shape:
        raise ValueError(f"weights must end with shape {frame.U.shape}, got {W.shape}")
    return np.swapaxes(frame.U, -1, -2) @ W @ frame.V


def block_residual(weights: ArrayLike, frame: Frame,
                   rho: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deviation of a trajectory from the block form ``diag(W~_l, rho I)``.

    ``weights``: ``(S, L, d, d)``; ``rho``: ``(S,)`` complement scalars (or a scalar).
    Returns ``(off_diagonal, complement, blocks)``: the Frobenius norms (``(S, L)``) of the
    larger off-diagonal block of ``U_l^T W_l V_l`` and of ``lower block - rho I``, and the upper
    ``2r x 2r`` blocks ``W~_l`` (``(S, L, 2r, 2r)``).
    """
    R = rotated_blocks(weights, frame)
    k = frame.k
    rhos = as_float_array("rho", rho)
    if rhos.ndim > 1 or (rhos.ndim == 1 and rhos.shape[0] != R.shape[0]):
        raise ValueError(f"rho must be a scalar or hold one value per snapshot ({R.shape[0]})")
    rhos = rhos.reshape(rhos.shape + (1,) * (R.ndim - rhos.ndim - 2 if rhos.ndim else 0))
    off = np.maximum(np.linalg.norm(R[..., :k, k:], axis=(-2, -1)),
                     np.linalg.norm(R[..., k:, :k], axis=(-2, -1)))
    m = frame.d - k
    lower = R[..., k:, k:] - np.asarray(rhos)[..., None, None] * np.eye(m)
    comp = np.linalg.norm(lower, axis=(-2, -1)) if m else np.zeros(off.shape)
    return off, comp, R[..., :k, :k]


# ---------------------------------------------------------------------------------------------
# The complement scalar rho
# ---------------------------------------------------------------------------------------------

def complement_scalar_gd(eps: float, lr: float, steps: int, depth: int, *,
                         momentum: float = 0.0) -> np.ndarray:
    """The complement scalar under GD: ``rho_{t+1} = rho_t - lr rho_t^{2L-1}``, ``rho_0 = eps``.

    With ``momentum = mu > 0`` the heavy-ball map ``b <- mu b + rho^{2L-1}``,
    ``rho <- rho - lr b`` (the same optimizer as :func:`theory.deep_linear.train`). Returns
    ``(steps + 1,)``. A scalar recursion, not a training run: it is iterated here directly.
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


def complement_scalar_flow(eps: float, time: ArrayLike, depth: int) -> np.ndarray:
    """Gradient-flow complement scalar: ``rho' = -rho^{2L-1}``, ``rho(0) = eps``, i.e.
    ``rho(t) = (eps^{2-2L} + (2L - 2) t)^{1/(2-2L)}`` (``L >= 2``; ``L = 1``: ``eps e^{-t}``)."""
    eps = as_float("eps", eps, minimum=0.0, strict_minimum=True)
    t = as_float_array("time", time)
    if np.any(t < 0):
        raise ValueError("time must be non-negative")
    L = as_int("depth", depth, minimum=1)
    if L == 1:
        return np.asarray(eps * np.exp(-t))
    q = 2 - 2 * L
    return np.asarray((eps**q - q * t) ** (1.0 / q))


def complement_loss(rho: ArrayLike, depth: int, m: int) -> np.ndarray:
    """The complement's share of the loss, ``1/2 m rho^{2L}`` (``m = d - 2r``)."""
    rhos = as_float_array("rho", rho)
    L = as_int("depth", depth, minimum=1)
    m = as_int("m", m, minimum=0)
    return np.asarray(0.5 * m * rhos ** (2 * L))


# ---------------------------------------------------------------------------------------------
# Compressed network (docs/01_law_of_parsimony.md, section 4)
# ---------------------------------------------------------------------------------------------

def compressed_problem(frame: Frame, target: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """The ``2r x 2r`` chain of the compressed network: ``(W~(0) = eps I_{2r} stack, Phi~)``
    with ``Phi~ = U_{L,1}^T Phi V_{1,1}``. Needs ``U_{L,1}^T Phi V_{1,2} = 0`` etc., which holds
    by construction of ``S`` for a rank-``r`` ``Phi``."""
    frame = _as_frame(frame)
    Phi = as_float_array("target", target, ndim=2)
    if Phi.shape != (frame.d, frame.d):
        raise ValueError(f"target must have shape {(frame.d, frame.d)}, got {Phi.shape}")
    k = frame.k
    U1 = frame.U[-1][:, :k]
    V1 = frame.V[0][:, :k]
    phi_tilde = U1.T @ Phi @ V1
    init = frame.eps * np.broadcast_to(np.eye(k), (frame.depth, k, k)).copy()
    return init, phi_tilde


def train_compressed(frame: Frame, target: ArrayLike, *, lr: float, steps: int,
                     optimizer: str = "gd", momentum: float = 0.9, log_every: int = 1,
                     tol: float | None = None, progress: bool = False) -> Trajectory:
    """Train the ``2r x 2r`` chain on ``Phi~`` with the same step size (whitened case)."""
    init, phi_tilde = compressed_problem(frame, target)
    return train(init, phi_tilde, lr=lr, steps=steps, optimizer=optimizer, momentum=momentum,
                 log_every=log_every, tol=tol, progress=progress)


def compressed_end_to_end(blocks: ArrayLike, frame: Frame, rho: ArrayLike) -> np.ndarray:
    """``U_{L,1} W~_{L:1} V_{1,1}^T + rho^L U_{L,2} V_{1,2}^T`` for a stack of chains
    ``blocks`` of shape ``(..., L, 2r, 2r)`` and matching ``rho`` (scalar or ``(...,)``)."""
    frame = _as_frame(frame, full=True)
    B = as_matrix_stack("blocks", blocks)
    k = frame.k
    if B.ndim < 3 or B.shape[-3:] != (frame.depth, k, k):
        raise ValueError(f"blocks must end with shape {(frame.depth, k, k)}, got {B.shape}")
    rhos = as_float_array("rho", rho)
    UL, V1 = frame.U[-1], frame.V[0]
    small = end_to_end(B)
    out = UL[:, :k] @ small @ V1[:, :k].T
    comp = UL[:, k:] @ V1[:, k:].T
    return np.asarray(out + (rhos**frame.depth)[..., None, None] * comp)


def factored_compressed_network(frame: Frame) -> tuple[np.ndarray, ...]:
    """The depth-``(L+2)`` compressed network of the official code
    (docs/01_law_of_parsimony.md, section 4):
    ``[V_{1,1}^T, eps I_{2r} (L times), U_{L,1}]``; its product is
    ``U_{L,1} W~_{L:1} V_{1,1}^T`` (the ``rho^L`` complement is dropped). Train it with
    :func:`theory.deep_linear.train` and ``lr_scale = [gamma, 1, ..., 1, gamma]`` (``gamma > 0``
    for masks), or on the observed entries with :func:`theory.matrix_completion.train_observed`.
    """
    frame = _as_frame(frame)
    k = frame.k
    inner = [frame.eps * np.eye(k) for _ in range(frame.depth)]
    return tuple([frame.V[0][:, :k].T.copy()] + inner + [frame.U[-1][:, :k].copy()])
