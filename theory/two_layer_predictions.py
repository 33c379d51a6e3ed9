"""Closed-form predictions for one giant step (notebook 02, ``docs/02_giant_step.md`` section 3).

Our derivations, consistent with the abstracts of Dandi et al. (arXiv:2305.18270) and Ba et al.
(arXiv:2205.01445); the sympy versions are in :mod:`theory.symbolic.two_layer`:

* Gaussian moments of a target y = g(W* x): E[y], E[y^2] and C1 = E[y h] (h = W* x), exact by
  tensor Gauss-Hermite quadrature (:func:`target_statistics`);
* the cosine of a neuron with C1/||C1|| after one step at n = alpha d, lr = c p,

      cos = c a mu1 ||C1|| / sqrt(1 + c^2 a^2 (mu1^2 ||C1||^2 + E[y^2] E[sigma'^2] / alpha)),

  (:func:`predicted_neuron_cosine`; mu_k and E[sigma'^2] from :mod:`theory.activations`);
* the alignment of the rank-one spike, sqrt(alpha ||C1||^2 / (alpha ||C1||^2 + E[y^2]))
  (:func:`predicted_spike_cosine`);
* the population error of the best linear predictor, E[y^2] - E[y]^2 - ||C1||^2
  (:func:`best_linear_error`).
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np
from numpy.polynomial import hermite_e

from ._validate import as_float, as_int
from .two_layer import Target

__all__ = ["TargetMoments", "target_statistics", "predicted_neuron_cosine",
           "predicted_spike_cosine", "best_linear_error"]


class TargetMoments(TypedDict):
    """Gaussian moments of a target: E[y], E[y^2] and C1 = E[y h], shape ``(r,)``."""

    mean: float
    mean_sq: float
    c1: np.ndarray

def target_statistics(target: Target, n_nodes: int = 12) -> TargetMoments:
    """Exact Gaussian moments of a polynomial target by tensor Gauss-Hermite quadrature.

    Returns ``mean = E[y]``, ``mean_sq = E[y^2]`` and ``c1 = E[y h]`` (the first Hermite
    coefficient vector C1, h = W* x). Exact when ``g`` is a polynomial of degree
    ``< n_nodes`` in each coordinate (all targets of :data:`theory.two_layer.TARGETS`).
    """
    if not isinstance(target, Target):
        raise ValueError("target must be a Target (see make_target)")
    n_nodes = as_int("n_nodes", n_nodes, minimum=2, maximum=64)
    x, w = hermite_e.hermegauss(n_nodes)
    w = w / np.sqrt(2.0 * np.pi)
    grids = np.meshgrid(*([x] * target.rank), indexing="ij")
    H = np.stack([g.ravel() for g in grids], axis=1)
    weights = np.ones(1)
    for _ in range(target.rank):
        weights = np.multiply.outer(weights, w).ravel()
    y = target.fn(H)
    return {"mean": float(weights @ y), "mean_sq": float(weights @ (y * y)),
            "c1": (weights * y) @ H}


def predicted_neuron_cosine(c: float, alpha: float, mu1: float, c1_norm: float,
                            mean_y_sq: float, mean_dsigma_sq: float,
                            a_tilde: float = 1.0) -> float:
    """Cosine of a neuron with v* = C1/||C1|| after one step at n = alpha d, lr = c p [ours].

    cos = c a mu1 ||C1|| / sqrt(1 + c^2 a^2 (mu1^2 ||C1||^2 + E[y^2] E[sigma'^2] / alpha)),
    with a = sqrt(p) a_i (unit-norm w_i at init, f = 0 at init, large d).
    """
    c = as_float("c", c, minimum=0.0)
    alpha = as_float("alpha", alpha, minimum=0.0, strict_minimum=True)
    mu1 = as_float("mu1", mu1)
    c1_norm = as_float("c1_norm", c1_norm, minimum=0.0)
    mean_y_sq = as_float("mean_y_sq", mean_y_sq, minimum=0.0)
    mean_dsigma_sq = as_float("mean_dsigma_sq", mean_dsigma_sq, minimum=0.0)
    a_tilde = as_float("a_tilde", a_tilde)
    with np.errstate(over="ignore", invalid="ignore"):
        signal = np.float64(c) * a_tilde * mu1 * c1_norm
        noise_sq = np.float64(c * a_tilde) * (c * a_tilde) * mean_y_sq * mean_dsigma_sq / alpha
        value = abs(signal) / np.sqrt(1.0 + signal * signal + noise_sq)
    if not np.isfinite(value):
        raise ValueError("c, a_tilde, mu1, c1_norm, mean_y_sq, mean_dsigma_sq and alpha give a "
                         "non-finite prediction (overflow): use O(1) values")
    return float(value)


def predicted_spike_cosine(alpha: float, c1_norm: float, mean_y_sq: float) -> float:
    """|<v_1, v*>| of the rank-one spike, sqrt(alpha ||C1||^2 / (alpha ||C1||^2 + E[y^2])) [ours].

    The spike direction is the linear estimator X^T y / n, whose noise has squared norm
    E[y^2] d / n around the signal C1 (consistent with Ba et al., abstract).
    """
    alpha = as_float("alpha", alpha, minimum=0.0, strict_minimum=True)
    c1_norm = as_float("c1_norm", c1_norm, minimum=0.0)
    mean_y_sq = as_float("mean_y_sq", mean_y_sq, minimum=0.0)
    with np.errstate(over="ignore", invalid="ignore"):
        signal = np.float64(alpha) * c1_norm * c1_norm
        if signal + mean_y_sq == 0:
            raise ValueError("c1_norm and mean_y_sq cannot both be 0")
        value = np.sqrt(signal / (signal + mean_y_sq))
    if not np.isfinite(value):
        raise ValueError("alpha, c1_norm and mean_y_sq give a non-finite prediction "
                         "(overflow): use O(1) values")
    return float(value)


def best_linear_error(target: Target) -> float:
    """Population error of the best linear predictor E[y] + x.C1: E[y^2] - E[y]^2 - ||C1||^2."""
    stats = target_statistics(target)
    return stats["mean_sq"] - stats["mean"] ** 2 - float(stats["c1"] @ stats["c1"])
