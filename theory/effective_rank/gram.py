"""Gram matrices of the neuron functions and their epsilon-ranks.

After J. Yang, Y. Zhao, Q. Zhu, arXiv:2412.05144 (abstract): the neurons ``phi_j`` of the last
hidden layer are basis functions of the input, and their epsilon-rank is the lens on training.
Their Gram matrix on the domain Omega,

    M_ij = int_Omega phi_i phi_j dx  ~=  sum_q w_q phi_i(x_q) phi_j(x_q) = (Phi^T diag(w) Phi)_ij,

is computed by Gauss-Legendre quadrature (our convention, weights summing to ``|Omega|``), and
the epsilon-rank is the number of eigenvalues of ``M`` strictly above ``eps``
(:func:`theory.linalg.epsilon_rank`). Every function takes a stack of matrices (time x runs),
one batched call into LAPACK.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .. import linalg
from .._validate import as_float, as_float_array, as_int
from .network import MLP, hidden_features

__all__ = ["gauss_legendre_grid", "gram_matrix", "with_constant_column",
           "epsilon_rank_trajectory", "relative_epsilon_rank", "layer_epsilon_ranks"]


def gauss_legendre_grid(n_points: int,
                        domain: ArrayLike = (-1.0, 1.0)) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on ``domain = (lo, hi)``.

    Returns ``x`` of shape ``(n_points, 1)`` and ``w`` of shape ``(n_points,)`` with
    ``sum(w) = hi - lo``, so that ``sum_q w_q g(x_q) ~= int_lo^hi g(x) dx`` exactly for
    polynomials of degree ``< 2 n_points`` (our quadrature convention,
    docs/05_effective_rank_staircase.md).
    """
    n_points = as_int("n_points", n_points, minimum=1)
    box = as_float_array("domain", domain, ndim=1)
    if box.shape != (2,) or not box[1] > box[0]:
        raise ValueError(f"domain must be (lo, hi) with lo < hi, got {box.tolist()}")
    nodes, weights = np.polynomial.legendre.leggauss(n_points)
    half = 0.5 * (box[1] - box[0])
    x = box[0] + half * (nodes + 1.0)
    return x[:, None], half * weights


def gram_matrix(features: ArrayLike, w: ArrayLike, *, bias: bool = False) -> np.ndarray:
    """``M = Phi^T diag(w) Phi``, the quadrature Gram matrix of the neuron functions.

    ``features``: ``(..., N, n)`` values ``phi_k(x_i)``; ``w``: ``(N,)`` positive weights.
    With ``bias=True`` a constant column is appended (the output bias as a basis function),
    giving ``(..., n + 1, n + 1)``. ``M_ij ~= int phi_i phi_j dx`` (arXiv:2412.05144 via the
    abstract: the neurons of the last hidden layer as basis functions; the Gram form, quadrature
    and normalisation are ours, docs/05_effective_rank_staircase.md).
    """
    feats = as_float_array("features", features, min_ndim=2)
    w_arr = as_float_array("w", w, ndim=1)
    if w_arr.shape[0] != feats.shape[-2]:
        raise ValueError(f"w has {w_arr.shape[0]} weights for {feats.shape[-2]} points")
    if np.any(w_arr <= 0):
        raise ValueError("w must be positive quadrature weights")
    if bias:
        feats = with_constant_column(feats)
    weighted = np.sqrt(w_arr)[:, None] * feats
    gram = np.swapaxes(weighted, -1, -2) @ weighted
    return 0.5 * (gram + np.swapaxes(gram, -1, -2))


def with_constant_column(features: ArrayLike) -> np.ndarray:
    """``[Phi, 1]``: the feature matrix with the output bias as one more basis function."""
    feats = as_float_array("features", features, min_ndim=2)
    ones = np.ones(feats.shape[:-1] + (1,))
    return np.concatenate([feats, ones], axis=-1)


def epsilon_rank_trajectory(gram: ArrayLike, eps_values: ArrayLike) -> np.ndarray:
    """epsilon-ranks of a stack of Gram matrices for several ``eps``: shape ``(E, ...)``.

    Thin wrapper over :func:`theory.linalg.epsilon_rank` (count of eigenvalues ``> eps``).
    """
    eps_arr = as_float_array("eps_values", eps_values, ndim=1)
    if np.any(eps_arr < 0):
        raise ValueError("eps_values must be >= 0")
    return np.stack([linalg.epsilon_rank(gram, e) for e in eps_arr])


def relative_epsilon_rank(gram: ArrayLike, eps: float) -> np.ndarray:
    """Number of eigenvalues above ``eps * lambda_max`` (scale-free robustness check)."""
    gram_arr = as_float_array("gram", gram, min_ndim=2)
    eps = as_float("eps", eps, minimum=0.0)
    lam_max = np.linalg.eigvalsh(gram_arr)[..., -1]
    scale = np.where(lam_max > 0, lam_max, 1.0)
    return linalg.epsilon_rank(gram_arr / scale[..., None, None], eps)


def layer_epsilon_ranks(net: MLP, x: ArrayLike, w: ArrayLike, eps: float) -> np.ndarray:
    """epsilon-rank of every hidden layer: shape ``(n_hidden, *net.batch_shape)``.

    The paper (arXiv:2412.05144 v3, abstract) reports that deeper layers have higher
    epsilon-rank; this computes the per-layer counts with the neurons-only Gram matrix.
    """
    eps = as_float("eps", eps, minimum=0.0)
    layers = hidden_features(net, x)
    return np.stack([linalg.epsilon_rank(gram_matrix(h, w), eps) for h in layers])
