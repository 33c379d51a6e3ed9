"""Lower bounds of the loss in terms of the epsilon-rank, and epsilon as a time scale (ours).

The paper (J. Yang, Y. Zhao, Q. Zhu, arXiv:2412.05144, abstract) proves that a lower bound of
the loss is negatively correlated with the epsilon-rank of the last hidden layer; its theorem
was not available to us. We prove and use two bounds of our own
(docs/05_effective_rank_staircase.md, section 4). With the bias-augmented
``Phi_W = diag(sqrt w) [Phi, 1] = sum_k sigma_k u_k v_k^T``, ``r = #{sigma_k^2 > eps}`` and
``P_r`` the projector on ``u_1..u_r``:

* Prop A (:func:`lower_bound_a`): ``L >= (||(I - P_r) f_W|| - sqrt(eps) ||a||)_+^2``;
* Prop B (:func:`lower_bound_b`, :func:`tail_energy`): ``L >= (tau_r - sqrt(eps) ||A||_F)_+^2``
  with ``tau_r^2 = sum_{j > r} s_j(F_W)^2``, the Eckart-Young tail of the targets.

With the hidden layers frozen, GD on the output weights decays along the eigenvector ``v_k`` of
the Gram matrix ``M`` as ``(1 - 2 lr lambda_k)^t`` (:func:`frozen_feature_gd`, derivation S5):
a direction with ``lambda_k < eps`` needs ``>~ 1 / (2 lr eps)`` steps.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .. import training
from .._validate import as_float, as_float_array, as_int
from ..optimizers import make_optimizer

__all__ = ["lower_bound_a", "lower_bound_b", "tail_energy", "frozen_feature_gd"]


def lower_bound_a(features: ArrayLike, w: ArrayLike, f: ArrayLike, a: ArrayLike,
                  eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Prop A (ours): ``L >= (||(I - P_r) f_W|| - sqrt(eps) ||a||)_+^2`` for every ``a``.

    ``features``: ``(..., N, n)`` **bias-augmented** feature matrix ``Phi`` (append the constant
    column and put the output bias into ``a``); ``f``: ``(N, K)`` targets; ``a``: ``(..., n, K)``
    output weights; ``r = #{k: sigma_k(Phi_W)^2 > eps}`` and ``P_r`` projects on the top-``r``
    left singular vectors of ``Phi_W = diag(sqrt w) Phi``. For ``K > 1`` the norms are
    Frobenius norms and ``(I - P_r)`` acts column by column; the proof is unchanged.
    Returns ``(bound, r)`` over the batch axes. Consistent with the paper's negative
    correlation between a loss lower bound and the epsilon-rank (arXiv:2412.05144, abstract),
    but not the paper's theorem.
    """
    feats = as_float_array("features", features, min_ndim=2)
    w_arr = as_float_array("w", w, ndim=1)
    f_arr = as_float_array("f", f, ndim=2)
    a_arr = as_float_array("a", a, min_ndim=2)
    eps = as_float("eps", eps, minimum=0.0)
    N, n = feats.shape[-2:]
    if w_arr.shape[0] != N or f_arr.shape[0] != N:
        raise ValueError(f"w and f must have {N} rows like features, got {w_arr.shape}, "
                         f"{f_arr.shape}")
    if a_arr.shape[-2:] != (n, f_arr.shape[1]):
        raise ValueError(f"a must have trailing shape {(n, f_arr.shape[1])}, got {a_arr.shape}")
    Phi_W = np.sqrt(w_arr)[:, None] * feats
    f_W = np.sqrt(w_arr)[:, None] * f_arr
    U, s, _ = np.linalg.svd(Phi_W, full_matrices=False)
    r = np.count_nonzero(s * s > eps, axis=-1)
    coeff = np.swapaxes(U, -1, -2) @ f_W                           # (..., n, K)
    keep = np.arange(s.shape[-1]) < r[..., None]                   # top-r directions
    captured = np.sum(np.where(keep[..., None], coeff, 0.0) ** 2, axis=(-2, -1))
    residual = np.sqrt(np.maximum(np.sum(f_W * f_W) - captured, 0.0))
    slack = np.sqrt(eps) * np.sqrt(np.sum(a_arr * a_arr, axis=(-2, -1)))
    return np.maximum(residual - slack, 0.0) ** 2, r


def tail_energy(targets: ArrayLike, w: ArrayLike) -> np.ndarray:
    """``tau_r^2 = sum_{j > r} s_j^2`` for ``r = 0..K``, from the SVD of ``F_W = diag(sqrt w) F``.

    By Eckart-Young-Mirsky ``tau_r`` is the distance from ``F_W`` to the matrices of rank
    ``<= r`` (our Prop B); for orthonormal targets ``tau_r^2 = K - r`` (derivation S1).
    """
    F = as_float_array("targets", targets, ndim=2)
    w_arr = as_float_array("w", w, ndim=1)
    if w_arr.shape[0] != F.shape[0]:
        raise ValueError(f"w has {w_arr.shape[0]} weights for {F.shape[0]} rows of targets")
    s = np.linalg.svd(np.sqrt(w_arr)[:, None] * F, compute_uv=False)
    sq = s * s
    tails = np.concatenate([np.cumsum(sq[::-1])[::-1], [0.0]])
    K = F.shape[1]
    if tails.size < K + 1:                                         # N < K: pad with zeros
        tails = np.concatenate([tails, np.zeros(K + 1 - tails.size)])
    return tails[:K + 1]


def lower_bound_b(tails: ArrayLike, r: ArrayLike, A: ArrayLike, eps: float) -> np.ndarray:
    """Prop B (ours, theta-free target term): ``L >= (tau_r - sqrt(eps) ||A||_F)_+^2``.

    ``tails``: output of :func:`tail_energy`; ``r``: bias-augmented epsilon-ranks (any shape,
    values above ``K`` clip to ``tau = 0``); ``A``: ``(..., n, K)`` bias-augmented output
    weights with batch shape equal to ``r``'s.
    """
    tail_arr = as_float_array("tails", tails, ndim=1)
    r_arr = np.asarray(r)
    if r_arr.dtype.kind not in "iu" or np.any(r_arr < 0):
        raise ValueError("r must be an array of non-negative integers")
    A_arr = as_float_array("A", A, min_ndim=2)
    eps = as_float("eps", eps, minimum=0.0)
    if A_arr.shape[:-2] != r_arr.shape:
        raise ValueError(f"A has batch shape {A_arr.shape[:-2]}, r has shape {r_arr.shape}")
    tau = np.sqrt(tail_arr[np.minimum(r_arr, tail_arr.size - 1)])
    slack = np.sqrt(eps) * np.sqrt(np.sum(A_arr * A_arr, axis=(-2, -1)))
    return np.asarray(np.maximum(tau - slack, 0.0) ** 2)


def frozen_feature_gd(features: ArrayLike, w: ArrayLike, f: ArrayLike, *, lr: float,
                      steps: int) -> tuple[np.ndarray, np.ndarray]:
    """GD on the output weights only, hidden layers frozen, from ``a = 0``.

    ``L(a) = ||Phi_W a - f_W||^2``, ``a <- a - 2 lr (M a - Phi_W^T f_W)`` (on
    :func:`theory.training.run`). Along an eigenvector ``v_k`` of ``M`` the error
    ``e_k = v_k . (a - a*)`` obeys ``e_k(t) = (1 - 2 lr lambda_k)^t e_k(0)`` (derivation S5).
    ``features``: ``(N, n)``; ``f``: ``(N,)`` or ``(N, 1)``. Returns ``(lambdas, errors)``:
    eigenvalues of ``M`` (descending) and ``e_k(t)`` for ``t = 0..steps``, shape
    ``(steps + 1, n)``; ``e_k`` is read off the gradient, ``v_k . grad = 2 lambda_k e_k``, so
    no pseudo-inverse is needed. Raises :class:`~theory.errors.DivergenceError` when the loss
    becomes non-finite or grows ``GROWTH_BOUND``-fold (``lr`` too large).
    """
    feats = as_float_array("features", features, ndim=2)
    w_arr = as_float_array("w", w, ndim=1)
    if np.any(w_arr < 0):
        raise ValueError("w must be non-negative (quadrature weights)")
    f_arr = as_float_array("f", f, min_ndim=1)
    f_arr = f_arr.reshape(f_arr.shape[0], -1)
    if f_arr.shape[1] != 1 or f_arr.shape[0] != feats.shape[0] \
            or w_arr.shape[0] != feats.shape[0]:
        raise ValueError(f"f must be one target of length {feats.shape[0]} and w match it")
    lr = as_float("lr", lr, minimum=0.0, strict_minimum=True)
    steps = as_int("steps", steps, minimum=1)
    Phi_W = np.sqrt(w_arr)[:, None] * feats
    f_W = np.sqrt(w_arr) * f_arr[:, 0]
    M = Phi_W.T @ Phi_W
    b = Phi_W.T @ f_W
    lam, V = np.linalg.eigh(M)
    lam, V = lam[::-1], V[:, ::-1]
    if np.any(lam == 0):
        raise ValueError("features (weighted by w) must give a Gram matrix with no exactly zero "
                         "eigenvalue: e_k is undefined along its null space")
    errors: list[np.ndarray] = []

    def objective(params: list[np.ndarray]) -> tuple[float, list[np.ndarray]]:
        a = params[0]
        grad = 2.0 * (M @ a - b)
        errors.append((V.T @ grad) / (2.0 * lam))
        return float(np.sum((Phi_W @ a - f_W) ** 2)), [grad]

    training.run(objective, [np.zeros(M.shape[0])], make_optimizer("gd", lr=lr), steps=steps,
                 log_every=steps)
    return lam, np.array(errors)
