"""Argument checks shared by the three modules of the ReLU truncation flow (Chen,
arXiv:2501.07400): :mod:`theory.relu_flow`, :mod:`theory.relu_thresholds` and
:mod:`theory.relu_training`. Each raises ``ValueError`` naming the argument."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._validate import as_float_array

#: Largest condition number accepted for an "invertible" weight.
COND_LIMIT = 1e12


def square_invertible(name: str, W: ArrayLike) -> np.ndarray:
    """``W`` as a float square matrix with condition number at most :data:`COND_LIMIT`."""
    arr = as_float_array(name, W, ndim=2)
    if arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name} must be square, got shape {arr.shape}")
    if np.linalg.cond(arr) > COND_LIMIT:
        raise ValueError(f"{name} is singular or nearly so (condition number > {COND_LIMIT:.0e})")
    return arr


def points(name: str, X: ArrayLike, M: int | None = None) -> np.ndarray:
    """Data points, shape ``(N, M)`` (``M`` checked when given)."""
    arr = as_float_array(name, X, ndim=2)
    if M is not None and arr.shape[1] != M:
        raise ValueError(f"{name} must have {M} columns (the input dimension), got {arr.shape}")
    return arr


def targets(name: str, Y: ArrayLike, X: np.ndarray) -> np.ndarray:
    """Targets with the shape of the data ``X``."""
    arr = as_float_array(name, Y, ndim=2)
    if arr.shape != X.shape:
        raise ValueError(f"{name} must have the shape of the data {X.shape}, got {arr.shape}")
    return arr


def groups(value: ArrayLike | None, n_points: int, name: str = "groups") -> tuple[np.ndarray, int]:
    """Integer group labels ``0..K-1`` (every label used) and ``K``; ``None``: one group."""
    if value is None:
        return np.zeros(n_points, dtype=int), 1
    g = np.asarray(value)
    if g.shape != (n_points,) or g.dtype.kind not in "iu":
        raise ValueError(f"{name} must be an integer array of shape ({n_points},), got "
                         f"{g.dtype} {g.shape}")
    if g.min() < 0:
        raise ValueError(f"{name} must be non-negative")
    n_groups = int(g.max()) + 1
    if np.any(np.bincount(g, minlength=n_groups) == 0):
        raise ValueError(f"{name} must use every label 0..K-1 at least once")
    return g.astype(int), n_groups


def thresholds(name: str, theta: ArrayLike, n_groups: int, M: int) -> np.ndarray:
    """A copy of the thresholds as ``(K, M)``; a vector is accepted for one group."""
    arr = as_float_array(name, theta)
    if arr.ndim == 1 and n_groups == 1:
        arr = arr[None, :]
    if arr.shape != (n_groups, M):
        raise ValueError(f"{name} must have shape {(n_groups, M)} (groups x dimension), got "
                         f"{arr.shape}")
    return arr.copy()


def metric(value: ArrayLike | None, M: int) -> np.ndarray | None:
    """A symmetric positive definite ``(M, M)`` metric, or ``None`` (the identity)."""
    if value is None:
        return None
    G = as_float_array("metric", value, ndim=2)
    if G.shape != (M, M):
        raise ValueError(f"metric must have shape {(M, M)}, got {G.shape}")
    if not np.allclose(G, G.T, rtol=1e-12, atol=1e-12):
        raise ValueError("metric must be symmetric")
    if np.linalg.eigvalsh(G).min() <= 0:
        raise ValueError("metric must be positive definite")
    return G
