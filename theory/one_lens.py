"""One measurement for five papers: the dimension of what training learned.

Notebook 06 reads each of the five settings of this collection through the same lens, the
numerical rank of a matrix that records what was learned (a weight change, or the matrix of
learned features), computed with :func:`theory.linalg.singular_values`:

    rank_tau(M) = #{ i : sigma_i(M) > tau * sigma_1(M) },        rank_tau(0) = 0,

a relative threshold, so that the count does not depend on the scale of ``M``. Equivalently it is
the epsilon-rank (:func:`theory.linalg.epsilon_rank`) of the normalised Gram matrix
``M^T M / sigma_1(M)^2`` at ``epsilon = tau^2`` (:func:`normalised_gram`).

For a deep linear network from ``W_l(0) = eps O_l`` (Yaras et al., arXiv:2306.01154) every layer
also shrinks uniformly outside the learned block: ``W_l(t) = U_l diag(W~_l(t), rho(t) I) V_l^T``
(the exact form is our reconstruction, see notebook 01). :func:`change_beyond_shrinkage` removes
that uniform part with a *measured* scalar, the median singular value, so that no prediction
enters the measurement.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from . import linalg
from ._validate import as_float, as_matrix_stack

__all__ = ["relative_rank", "relative_spectrum", "normalised_gram", "change_beyond_shrinkage"]


def relative_spectrum(M: ArrayLike) -> np.ndarray:
    """Singular values of every matrix in a stack divided by the largest one, descending.

    ``M``: ``(..., m, n)``; returns ``(..., min(m, n))``. A zero matrix gives all zeros.
    """
    M = as_matrix_stack("M", M)
    s = linalg.singular_values(M)
    top = s[..., :1]
    return np.divide(s, top, out=np.zeros_like(s), where=top > 0)


def relative_rank(M: ArrayLike, tau: float) -> np.ndarray:
    """Numerical rank ``#{i: sigma_i(M) > tau sigma_1(M)}`` of every matrix in a stack.

    ``M``: ``(..., m, n)``; ``0 < tau < 1``. Returns an integer array over the batch axes; a zero
    matrix has rank 0. Invariant under ``M -> c M`` for every ``c != 0``.
    """
    M = as_matrix_stack("M", M)
    tau = as_float("tau", tau, minimum=0.0, maximum=1.0, strict_minimum=True)
    if tau >= 1.0:
        raise ValueError(f"tau must be below 1, got {tau}")
    s = linalg.singular_values(M)
    return np.count_nonzero((s > tau * s[..., :1]) & (s[..., :1] > 0), axis=-1)


def normalised_gram(M: ArrayLike) -> np.ndarray:
    """``M^T M / sigma_1(M)^2`` for every matrix of a stack (zero stays zero).

    Its eigenvalues are ``(sigma_i / sigma_1)^2``, so
    ``linalg.epsilon_rank(normalised_gram(M), tau**2) == relative_rank(M, tau)``.
    """
    M = as_matrix_stack("M", M)
    G = np.swapaxes(M, -1, -2) @ M
    G = 0.5 * (G + np.swapaxes(G, -1, -2))
    top = linalg.singular_values(M)[..., :1, None] ** 2
    return np.divide(G, top, out=np.zeros_like(G), where=top > 0)


def change_beyond_shrinkage(W: ArrayLike, W0: ArrayLike) -> np.ndarray:
    """``W - (med sigma(W) / med sigma(W0)) W0``: the change of a layer beyond a uniform rescaling.

    ``W``: ``(..., d, d)`` (e.g. snapshots x layers), ``W0``: the initial layers, broadcast
    against ``W``; ``med sigma`` is the median singular value of each matrix. For
    ``W0 = eps O`` (orthogonal ``O``) and ``W = U diag(B, rho I_{d-k}) V^T`` with ``U = O V`` and
    ``d - k > d/2``, the median singular value of ``W`` is ``rho`` and the result is
    ``U diag(B - rho I_k, 0) V^T``, of rank at most ``k`` (Yaras et al., arXiv:2306.01154,
    abstract; block form ours, notebook 01).
    """
    W = as_matrix_stack("W", W)
    W0 = as_matrix_stack("W0", W0)
    if W.shape[-2:] != W0.shape[-2:]:
        raise ValueError(f"W and W0 must hold matrices of the same shape, got {W.shape[-2:]} "
                         f"and {W0.shape[-2:]}")
    try:
        np.broadcast_shapes(W.shape, W0.shape)
    except ValueError:
        raise ValueError(f"the batch axes of W {W.shape[:-2]} and W0 {W0.shape[:-2]} do not "
                         "broadcast") from None
    med0 = np.median(linalg.singular_values(W0), axis=-1)
    if np.any(med0 <= 0):
        raise ValueError("W0 must have a positive median singular value")
    med = np.median(linalg.singular_values(W), axis=-1)
    return W - (med / med0)[..., None, None] * W0

