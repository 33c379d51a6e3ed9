"""Embedding and reduction operators of two-layer networks, and their symmetry images.

Operators (Zhang et al. NeurIPS 2021 "EP21", J. Mach. Learn. 2022 "EP22"; two-layer forms ours,
``docs/04_critical_sets.md``, "Operators"), on the flat layout of
:mod:`theory.critical_sets.model` (new neurons are appended last):

* :func:`split_neuron` -- ``T_lam``: neuron ``k = (a_k, w_k)`` becomes ``(lam a_k, w_k)`` and a
  new neuron ``((1 - lam) a_k, w_k)`` (EP21 splitting embedding, Fukumizu & Amari 2000's
  gamma-map);
* :func:`flip_split_neuron` -- for odd sigma, ``(lam a_k, w_k)`` and ``(-(1 - lam) a_k, -w_k)``;
* :func:`null_embed` -- a new neuron ``(0, w')`` (EP22; the null embedding for ``w' = 0``);
* :func:`reduce_network` -- merge equal (for odd sigma also opposite) input weights, drop zero
  output weights and, when ``sigma(0) = 0``, zero input weights;
* :func:`split_direction` -- ``v = ((1 - lam) delta, -lam delta)`` on the two copies' input
  weights, which leaves the output unchanged to first order.

Every embedding preserves the output function ``f(theta, .)``. The symmetries of the loss
are neuron permutations and, for odd sigma, the flips ``(a_k, w_k) -> (-a_k, -w_k)``;
:func:`width2_critical_set_distance` measures the distance of a width-2 point from the union
of the images of the predicted critical set under them (``docs/04_critical_sets.md``,
"The predicted critical set").
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .._validate import as_float, as_float_array, as_int
from .model import ActivationLike, _activation, _theta_d, neuron_indices, pack, unpack

__all__ = ["split_neuron", "flip_split_neuron", "null_embed", "reduce_network",
           "split_direction", "split_line_residual", "width2_critical_set_distance"]


def split_neuron(theta: ArrayLike, d: int, k: int, lam: float) -> np.ndarray:
    """Splitting embedding ``T_lam`` (EP21; FA00's gamma-map): neuron ``k`` becomes
    ``(lam a_k, w_k)`` and a new last neuron ``((1 - lam) a_k, w_k)`` is appended."""
    theta, d, m = _theta_d(theta, d)
    k = as_int("k", k, minimum=0, maximum=m - 1)
    lam = as_float("lam", lam)
    a, W = unpack(theta, d)
    a_new = np.append(a, (1.0 - lam) * a[k])
    a_new[k] = lam * a[k]
    return pack(a_new, np.vstack([W, W[k]]))


def flip_split_neuron(theta: ArrayLike, d: int, k: int, lam: float,
                      activation: ActivationLike = "tanh") -> np.ndarray:
    """Sign-flipped split for odd sigma (ours; docs/04_critical_sets.md): ``(lam a_k, w_k)``
    and a new last neuron ``(-(1 - lam) a_k, -w_k)``; the output is unchanged since
    ``-(1 - lam) a sigma(-w.x) = (1 - lam) a sigma(w.x)``."""
    if not _activation(activation).odd:
        raise ValueError("activation must be odd for the sign-flipped split")
    theta, d, m = _theta_d(theta, d)
    k = as_int("k", k, minimum=0, maximum=m - 1)
    lam = as_float("lam", lam)
    a, W = unpack(theta, d)
    a_new = np.append(a, -(1.0 - lam) * a[k])
    a_new[k] = lam * a[k]
    return pack(a_new, np.vstack([W, -W[k]]))


def null_embed(theta: ArrayLike, d: int, w_new: ArrayLike | None = None) -> np.ndarray:
    """Null-neuron embedding (EP22, ZZL25 section 4.1): append ``(a, w) = (0, w_new)``
    (``w_new = 0`` by default)."""
    theta, d, m = _theta_d(theta, d)
    w = np.zeros(d) if w_new is None else as_float_array("w_new", w_new, ndim=1)
    if w.shape != (d,):
        raise ValueError(f"w_new must have shape ({d},), got {w.shape}")
    a, W = unpack(theta, d)
    return pack(np.append(a, 0.0), np.vstack([W, w]))


def reduce_network(theta: ArrayLike, d: int, activation: ActivationLike = "tanh", *,
                   tol: float = 1e-8) -> np.ndarray:
    """Reduction operator (ours; docs/04_critical_sets.md, "Operators"), applied until nothing
    changes:

    1. merge neurons with equal input weights (``|w_j - w_k|_inf <= tol``): ``a <- a_j + a_k``;
       for odd sigma also opposite ones (``w_j = -w_k``): ``a <- a_j - a_k``;
    2. delete neurons with ``|a_k| <= tol`` and, when ``sigma(0) = 0``, with ``|w_k| <= tol``.

    Merging keeps the first neuron's ``w``. The output function is unchanged. If every neuron is
    deleted, one neuron ``(0, 0)`` is kept so that the result is a valid network.
    """
    theta, d, m = _theta_d(theta, d)
    tol = as_float("tol", tol, minimum=0.0)
    act = _activation(activation)
    a, W = unpack(theta, d)
    merged_a: list[float] = []
    merged_W: list[np.ndarray] = []
    for ak, wk in zip(a, W):
        for j, wj in enumerate(merged_W):
            if np.max(np.abs(wk - wj)) <= tol:
                merged_a[j] += ak
                break
            if act.odd and np.max(np.abs(wk + wj)) <= tol:
                merged_a[j] -= ak
                break
        else:
            merged_a.append(float(ak))
            merged_W.append(wk.copy())
    keep = [j for j, (ak, wk) in enumerate(zip(merged_a, merged_W))
            if abs(ak) > tol and not (act.zero_at_origin and np.max(np.abs(wk)) <= tol)]
    if not keep:
        return np.zeros(d + 1)
    return pack(np.array([merged_a[j] for j in keep]), np.array([merged_W[j] for j in keep]))


def split_direction(theta: ArrayLike, d: int, k: int, lam: float,
                    delta: ArrayLike) -> np.ndarray:
    """The direction ``v`` in the split network ``T_lam theta`` (new neuron last) that moves the
    two copies' input weights by ``(1 - lam) delta`` and ``-lam delta``; to first order it leaves
    the output unchanged (``lam a (1 - lam) delta - (1 - lam) a lam delta = 0``)."""
    theta, d, m = _theta_d(theta, d)
    k = as_int("k", k, minimum=0, maximum=m - 1)
    lam = as_float("lam", lam)
    delta = as_float_array("delta", delta, ndim=1)
    if delta.shape != (d,):
        raise ValueError(f"delta must have shape ({d},), got {delta.shape}")
    v = np.zeros((m + 1) * (d + 1))
    v[neuron_indices(m + 1, d, k)[1:]] = (1.0 - lam) * delta
    v[neuron_indices(m + 1, d, m)[1:]] = -lam * delta
    return v


def split_line_residual(theta_wide: ArrayLike, theta_narrow: ArrayLike, d: int, k: int) -> float:
    """Distance of a width-(m+1) point from the split line of neuron ``k`` (new neuron last):
    ``max(|w_k - w|, |w_new - w|, |a_k + a_new - a|, |rest - rest|)`` in the sup norm."""
    theta_wide, d, m_wide = _theta_d(theta_wide, d)
    theta_narrow, _, m = _theta_d(theta_narrow, d)
    if m_wide != m + 1:
        raise ValueError(f"theta_wide must have width m + 1 = {m + 1}, got {m_wide}")
    k = as_int("k", k, minimum=0, maximum=m - 1)
    a_w, W_w = unpack(theta_wide, d)
    a_n, W_n = unpack(theta_narrow, d)
    merged_a = a_w[:m].copy()
    merged_a[k] += a_w[m]
    return float(max(np.max(np.abs(merged_a - a_n)), np.max(np.abs(W_w[:m] - W_n)),
                     np.max(np.abs(W_w[m] - W_n[k]))))


# --------------------------------------------------------------------------------------------
# Symmetry images
# --------------------------------------------------------------------------------------------

def _canonical(theta: np.ndarray, d: int, odd: bool) -> np.ndarray:
    """Sort neurons and (for odd sigma) flip each to a non-negative first input weight, so that
    permutations and sign flips of the same point compare equal."""
    a, W = unpack(theta, d)
    if odd:
        s = np.where(W[:, 0] < 0, -1.0, 1.0)
        a, W = a * s, W * s[:, None]
    order = np.lexsort(np.vstack([a, W.T[::-1]]))
    return pack(a[order], W[order])


def _flip_variants(theta: np.ndarray) -> list[tuple[np.ndarray, bool]]:
    """The 8 images of a width-2, d = 1 point ``(a1, a2, w1, w2)`` under neuron permutation and
    the odd-activation flips ``(a_k, w_k) -> (-a_k, -w_k)``, with a flag 'exactly one flip'."""
    a1, a2, w1, w2 = theta
    out = []
    for (b1, v1), (b2, v2) in (((a1, w1), (a2, w2)), ((a2, w2), (a1, w1))):
        for s1 in (1.0, -1.0):
            for s2 in (1.0, -1.0):
                out.append((np.array([s1 * b1, s2 * b2, s1 * v1, s2 * v2]), s1 * s2 < 0))
    return out


def width2_critical_set_distance(theta_wide: ArrayLike, theta_narrow: ArrayLike,
                                 roots: ArrayLike,
                                 activation: ActivationLike = "tanh") -> tuple[float, str]:
    """Euclidean distance of a width-2 point (``d = 1``) from the critical set that our
    reconstruction predicts for the output function of the width-1 critical point
    ``theta_narrow = (a, w_bar)`` (docs/04_critical_sets.md, "The predicted critical set"),
    and the name of the nearest piece. ``roots`` are the roots of
    ``phi(w) = sum_i e_i sigma(w x_i)`` at ``theta_narrow``
    (:func:`theory.critical_sets.null_function_roots`).

    For ``a != 0`` the set is the union, over neuron permutations and the flips
    ``(a_k, w_k) -> (-a_k, -w_k)`` of an odd activation, of

    * the split line ``L1 = {(lam a, (1 - lam) a, w_bar, w_bar)}`` (its one-flip image is the
      flipped line ``L2``), and
    * the null points ``(a, 0, w_bar, r)`` for every root ``r`` of ``phi``.

    For the zero network (``a = 0``; minimal width 0) it is the set of null pairs
    ``(0, 0, r1, r2)``. Labels: ``"L1"``, ``"L2"``, ``"null at 0"``, ``"null at +-w_bar"``,
    ``"null at a sample-dependent root"``, ``"null pair"``.
    """
    if not _activation(activation).odd:
        raise ValueError("activation must be odd (the predicted set uses the flip symmetry)")
    wide = as_float_array("theta_wide", theta_wide, ndim=1)
    if wide.shape != (4,):
        raise ValueError(f"theta_wide must be a width-2, d = 1 point of length 4, "
                         f"got shape {wide.shape}")
    narrow = as_float_array("theta_narrow", theta_narrow, ndim=1)
    if narrow.shape != (2,):
        raise ValueError(f"theta_narrow must be a width-1, d = 1 point of length 2, "
                         f"got shape {narrow.shape}")
    root_values = as_float_array("roots", roots, ndim=1)
    a, w_bar = narrow
    if w_bar < 0:
        a, w_bar = -a, -w_bar
    best, label = np.inf, ""
    for p, one_flip in _flip_variants(wide):
        if abs(a) > 1e-12:
            q0 = np.array([0.0, a, w_bar, w_bar])
            u = np.array([a, -a, 0.0, 0.0])
            r = p - q0
            dist = float(np.linalg.norm(r - (r @ u) / (u @ u) * u))
            if dist < best:
                best, label = dist, "L2" if one_flip else "L1"
            for root in root_values:
                dist = float(np.linalg.norm(p - np.array([a, 0.0, w_bar, root])))
                if dist < best:
                    best = dist
                    label = ("null at 0" if abs(root) < 1e-9 else
                             "null at +-w_bar" if abs(abs(root) - w_bar) < 1e-9 else
                             "null at a sample-dependent root")
        else:
            for r1 in root_values:
                for r2 in root_values:
                    dist = float(np.linalg.norm(p - np.array([0.0, 0.0, r1, r2])))
                    if dist < best:
                        best, label = dist, "null pair"
    return float(best), label
