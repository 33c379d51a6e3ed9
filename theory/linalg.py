"""Vectorized SVD core shared by every notebook.

Every function accepts stacks: the trailing two axes hold a matrix, every leading axis is a
batch axis (time, layer, seed), so that a diagnostic over a whole training trajectory is one
call into LAPACK's batched drivers instead of a Python loop over snapshots.

Conventions
-----------
* Singular values come in descending order.
* Principal angles between the column spans of ``A`` (n x a) and ``B`` (n x b) are the
  ``k = min(a, b)`` numbers ``0 <= theta_1 <= ... <= theta_k <= pi/2`` with
  ``cos theta_i = sigma_i(Q_A^T Q_B)`` (Bjorck & Golub 1973). Their cosines lose all accuracy
  for tiny angles (``arccos(1 - theta^2/2)`` resolves nothing below ~1e-8), so we also compute
  the sines as the singular values of the residual ``Q_P - Q_Q (Q_Q^T Q_P)`` of the smaller
  space ``P`` projected on the larger ``Q`` (Knyazev & Argentati 2002) and return
  ``arctan2(sin, cos)``, accurate across the whole range ``[0, pi/2]``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from numpy.typing import ArrayLike

from ._validate import as_choice, as_float, as_int, as_matrix_stack

__all__ = [
    "row_chunks",
    "singular_values",
    "principal_angles",
    "subspace_distance",
    "epsilon_rank",
    "top_subspace",
    "orthonormal_basis",
]


def singular_values(W: ArrayLike) -> np.ndarray:
    """Singular values of every matrix in a stack, descending.

    ``W`` has shape ``(..., m, n)``; the result has shape ``(..., min(m, n))``.
    """
    W = as_matrix_stack("W", W)
    return np.linalg.svd(W, compute_uv=False)


def orthonormal_basis(A: ArrayLike, *, name: str = "A", rtol: float | None = None) -> np.ndarray:
    """Orthonormal basis (left singular vectors) of the column span of each matrix in a stack.

    ``A`` has shape ``(..., n, a)`` with ``a <= n``; the columns must be linearly independent
    (smallest singular value above ``rtol * largest``, ``rtol = max(n, a) * machine eps`` by
    default), otherwise a ``ValueError`` naming ``name`` is raised: a rank-deficient "basis"
    does not span an ``a``-dimensional space and its principal angles would be meaningless.
    """
    A = as_matrix_stack(name, A)
    n, a = A.shape[-2:]
    if a > n:
        raise ValueError(f"{name} has more columns ({a}) than rows ({n}); "
                         "its columns cannot be linearly independent")
    U, s, _ = np.linalg.svd(A, full_matrices=False)
    tol = (max(n, a) * np.finfo(A.dtype).eps) if rtol is None else rtol
    if np.any(s[..., -1] <= tol * s[..., 0]) or np.any(s[..., 0] == 0):
        raise ValueError(f"{name} has linearly dependent columns (rank < {a}) in at least one "
                         "matrix of the stack")
    return U


def principal_angles(A: ArrayLike, B: ArrayLike) -> np.ndarray:
    """Principal angles (radians, ascending) between the column spans of ``A`` and ``B``.

    ``A``: ``(..., n, a)``, ``B``: ``(..., n, b)``, leading axes broadcast against each other.
    Returns ``(..., min(a, b))`` angles in ``[0, pi/2]``, computed as ``arctan2(sin, cos)``
    from two SVDs so that angles of 1e-12 rad are as accurate as angles near pi/2
    (see the module docstring). Columns need not be orthonormal, but must be independent.
    """
    QA = orthonormal_basis(A, name="A")
    QB = orthonormal_basis(B, name="B")
    if QA.shape[-2] != QB.shape[-2]:
        raise ValueError(f"A and B must have the same number of rows, got {QA.shape[-2]} "
                         f"and {QB.shape[-2]}")
    try:
        np.broadcast_shapes(QA.shape[:-2], QB.shape[:-2])
    except ValueError:
        raise ValueError(f"the batch axes of A {QA.shape[:-2]} and B {QB.shape[:-2]} "
                         "do not broadcast") from None
    # P is the smaller space, Q the larger: the residual of P off Q carries all k sines.
    P, Q = (QA, QB) if QA.shape[-1] <= QB.shape[-1] else (QB, QA)
    QtP = np.swapaxes(Q, -1, -2) @ P
    cosines = np.linalg.svd(QtP, compute_uv=False)          # descending -> ascending angles
    sines = np.linalg.svd(P - Q @ QtP, compute_uv=False)[..., ::-1]  # ascending
    angles = np.arctan2(np.clip(sines, 0.0, 1.0), np.clip(cosines, 0.0, 1.0))
    return angles


def subspace_distance(A: ArrayLike, B: ArrayLike) -> np.ndarray:
    """Sine of the largest principal angle between the column spans of ``A`` and ``B``.

    Zero iff one span contains the other; 1 when some direction of the smaller span is
    orthogonal to the larger one. Shape: the broadcast batch shape.
    """
    return np.sin(principal_angles(A, B)[..., -1])


def epsilon_rank(G: ArrayLike, eps: float) -> np.ndarray:
    """Number of eigenvalues of the symmetric PSD matrix ``G`` strictly above ``eps``.

    ``G``: ``(..., n, n)``; returns an integer array over the batch axes,
    ``r_eps(G) = #{k : lambda_k(G) > eps}``.

    Counting the spectrum above an absolute tolerance is the numerical rank of numerical linear
    algebra (the number of singular values above a tolerance; e.g. G. H. Golub and
    C. F. Van Loan, *Matrix Computations*, 4th ed., 2013, section 5.4.1 "Numerical rank and the
    SVD"; P. C. Hansen, *Rank-Deficient and Discrete Ill-Posed Problems*, SIAM 1998, section 3.1,
    where the numerical epsilon-rank is the smallest rank within distance eps in the 2-norm).
    For a Gram matrix ``G = Phi_W^T Phi_W`` it equals the numerical ``sqrt(eps)``-rank of
    ``Phi_W``. Yang, Zhao & Zhu (arXiv:2412.05144, abstract) study an epsilon-rank of the
    neuron functions of the last hidden layer; only their abstract was available to us, so the
    Gram-matrix form and its quadrature normalisation used in notebook 05 are our
    reconstruction (docs/05_effective_rank_staircase.md), not a definition quoted from them.
    ``G`` must be symmetric to a relative tolerance of 1e-8 of its largest entry.
    """
    G = as_matrix_stack("G", G)
    eps = as_float("eps", eps, minimum=0.0)
    if G.shape[-1] != G.shape[-2]:
        raise ValueError(f"G must be square, got shape {G.shape}")
    scale = np.max(np.abs(G)) if G.size else 0.0
    if np.max(np.abs(G - np.swapaxes(G, -1, -2))) > 1e-8 * max(scale, np.finfo(float).tiny):
        raise ValueError("G must be symmetric")
    eigenvalues = np.linalg.eigvalsh(G)
    return np.count_nonzero(eigenvalues > eps, axis=-1)


def top_subspace(W: ArrayLike, k: int, side: str = "left") -> np.ndarray:
    """Orthonormal basis of the top-``k`` singular subspace of each matrix in a stack.

    ``side="left"`` gives the ``(..., m, k)`` leading left singular vectors, ``side="right"``
    the ``(..., n, k)`` leading right singular vectors. ``1 <= k <= min(m, n)``. The basis is
    determined only up to rotation within the subspace (and not at all when sigma_k equals
    sigma_{k+1}); compare subspaces with :func:`principal_angles`, never vectors.
    """
    W = as_matrix_stack("W", W)
    side = as_choice("side", side, {"left", "right"})
    k = as_int("k", k, minimum=1, maximum=min(W.shape[-2:]))
    U, _, Vh = np.linalg.svd(W, full_matrices=False)
    if side == "left":
        return U[..., :, :k]
    return np.swapaxes(Vh[..., :k, :], -1, -2)


def row_chunks(n: int, chunk: int) -> Iterator[slice]:
    """Slices ``[0, chunk), [chunk, 2 chunk), ...`` covering ``range(n)``: the row blocks in
    which a batch too large for memory is processed."""
    n = as_int("n", n, minimum=0)
    chunk = as_int("chunk", chunk, minimum=1)
    for start in range(0, n, chunk):
        yield slice(start, min(start + chunk, n))
