"""Activations and their Gaussian statistics, shared by every paper module.

An :class:`Activation` carries the function, its derivatives and the structural facts the
papers use: ``odd`` (``sigma(-z) = -sigma(z)``, the sign-flip symmetry of the critical-set
operators, Zhang et al. arXiv:2505.15475), ``zero_at_origin`` (a neuron with ``w = 0``
contributes nothing) and ``analytic`` (smooth and not a polynomial on the whole line, the
assumption of the critical-set embedding results). ReLU is piecewise linear: its Gaussian
expectations are computed exactly through its polynomial ``branches``.

The Hermite coefficients ``mu_k = E[sigma(xi) He_k(xi)]``, ``xi ~ N(0, 1)``, set the one-step
spike of the giant-step analysis (Dandi et al. arXiv:2305.18270, section 3; Ba et al.
arXiv:2205.01445): a target direction is learned in one step when ``mu_1 != 0`` and its
Hermite degree (leap) is 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.polynomial import hermite_e, laguerre
from scipy.special import erf

from ._validate import as_int

__all__ = ["Activation", "ACTIVATIONS", "get_activation", "gaussian_expectation",
           "hermite_coefficients", "mean_derivative_sq"]

Fn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Activation:
    """An activation ``sigma`` with its derivatives and structural facts.

    ``derivative_from_value`` (optional) gives ``sigma'(z)`` from ``h = sigma(z)`` when that is
    cheaper (tanh: ``1 - h^2``); ``branches = (left, right)`` (optional) are smooth functions
    with ``sigma = left`` on ``z < 0`` and ``right`` on ``z > 0`` (exact Gaussian expectations
    for polynomial branches, see :func:`gaussian_expectation`); ``derivative_branches`` is the
    same for ``sigma'``.
    """

    name: str
    fn: Fn
    derivative: Fn
    second_derivative: Fn | None = None
    derivative_from_value: Fn | None = None
    branches: tuple[Fn, Fn] | None = None
    derivative_branches: tuple[Fn, Fn] | None = None
    odd: bool = False
    zero_at_origin: bool = False
    analytic: bool = False

    def slope(self, z: np.ndarray, value: np.ndarray | None = None) -> np.ndarray:
        """``sigma'(z)``, from ``value = sigma(z)`` when the activation allows it."""
        if value is not None and self.derivative_from_value is not None:
            return self.derivative_from_value(value)
        return self.derivative(z)


def _relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0.0)


def _step(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z)
    return (z > 0).astype(z.dtype if z.dtype.kind == "f" else float)


def _tanh_d1(z: np.ndarray) -> np.ndarray:
    t = np.tanh(z)
    return 1.0 - t * t


def _tanh_d2(z: np.ndarray) -> np.ndarray:
    t = np.tanh(z)
    return -2.0 * t * (1.0 - t * t)


def _tanh_d1_from_value(h: np.ndarray) -> np.ndarray:
    return 1.0 - h * h


def _erf_d1(z: np.ndarray) -> np.ndarray:
    return 2.0 / np.sqrt(np.pi) * np.exp(-z * z)


def _erf_d2(z: np.ndarray) -> np.ndarray:
    return -2.0 * z * _erf_d1(z)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    # 1 / (1 + exp(-z)) without overflow: (1 + tanh(z / 2)) / 2
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _sigmoid_d1(z: np.ndarray) -> np.ndarray:
    s = _sigmoid(z)
    return s * (1.0 - s)


def _sigmoid_d2(z: np.ndarray) -> np.ndarray:
    s = _sigmoid(z)
    return s * (1.0 - s) * (1.0 - 2.0 * s)


def _swish(z: np.ndarray) -> np.ndarray:
    return z * _sigmoid(z)


def _swish_d1(z: np.ndarray) -> np.ndarray:
    s = _sigmoid(z)
    return s + z * s * (1.0 - s)


def _swish_d2(z: np.ndarray) -> np.ndarray:
    s = _sigmoid(z)
    ds = s * (1.0 - s)
    return 2.0 * ds + z * ds * (1.0 - 2.0 * s)


def _zero(z: np.ndarray) -> np.ndarray:
    return np.zeros_like(np.asarray(z, dtype=float))


def _identity(z: np.ndarray) -> np.ndarray:
    return np.asarray(z, dtype=float)


def _one(z: np.ndarray) -> np.ndarray:
    return np.ones_like(np.asarray(z, dtype=float))


#: The activations the notebooks use, by name.
ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation("relu", _relu, _step, branches=(_zero, _identity),
                       derivative_branches=(_zero, _one), zero_at_origin=True),
    "tanh": Activation("tanh", np.tanh, _tanh_d1, _tanh_d2, _tanh_d1_from_value, odd=True,
                       zero_at_origin=True, analytic=True),
    "erf": Activation("erf", erf, _erf_d1, _erf_d2, odd=True, zero_at_origin=True,
                      analytic=True),
    "sigmoid": Activation("sigmoid", _sigmoid, _sigmoid_d1, _sigmoid_d2, analytic=True),
    "swish": Activation("swish", _swish, _swish_d1, _swish_d2, zero_at_origin=True,
                        analytic=True),
    "linear": Activation("linear", _identity, _one, _zero, odd=True, zero_at_origin=True),
}


def get_activation(activation: str | Activation, *, choices: tuple[str, ...] | None = None,
                   analytic: bool = False) -> Activation:
    """An :class:`Activation` from its name in :data:`ACTIVATIONS` (or itself).

    ``choices`` restricts the names a caller accepts; ``analytic=True`` refuses an activation
    that is not analytic or lacks a second derivative (the critical-set operators need both).
    """
    allowed = sorted(choices if choices is not None else ACTIVATIONS)
    if isinstance(activation, Activation):
        act = activation
    elif isinstance(activation, str) and activation in allowed:
        act = ACTIVATIONS[activation]
    else:
        raise ValueError(f"activation must be one of {allowed} or an Activation, "
                         f"got {activation!r}")
    if analytic and (not act.analytic or act.second_derivative is None):
        raise ValueError(f"activation must be analytic with a second derivative, "
                         f"got {act.name!r}")
    return act


def gaussian_expectation(fn: Fn | None = None, *, branches: tuple[Fn, Fn] | None = None,
                         n_nodes: int = 200) -> float:
    """``E[fn(xi)]``, ``xi ~ N(0, 1)``, by Gauss-Hermite quadrature (``numpy.polynomial``).

    For a function smooth except at 0 pass ``branches=(left, right)`` (each smooth on the
    whole line): ``E[h] = E[left 1{x<0}] + E[right 1{x>0}]`` with
    ``E[h 1{x>0}] = E[h]/2 + E[h_odd 1{x>0}]`` and, by ``t = x^2/2``,
    ``E[h_odd 1{x>0}] = (2 pi)^{-1/2} int_0^inf (h_odd(x)/x)|_{x = sqrt(2t)} e^{-t} dt``
    (Gauss-Laguerre). Both rules are exact for polynomial branches (ReLU times ``He_k``).
    """
    n_nodes = as_int("n_nodes", n_nodes, minimum=2, maximum=350)
    x, w = hermite_e.hermegauss(n_nodes)
    w = w / np.sqrt(2.0 * np.pi)
    if branches is None:
        if fn is None or not callable(fn):
            raise ValueError("fn must be a callable (or pass branches)")
        return float(w @ fn(x))
    if fn is not None or len(branches) != 2 or not all(callable(b) for b in branches):
        raise ValueError("branches must be a pair of callables (left, right), without fn")
    t, wt = laguerre.laggauss(min(n_nodes, 150))
    r = np.sqrt(2.0 * t)

    def positive_half(h: Fn) -> float:
        odd_over_x = (h(r) - h(-r)) / (2.0 * r)
        return 0.5 * float(w @ h(x)) + float(wt @ odd_over_x) / np.sqrt(2.0 * np.pi)

    left, right = branches

    def flipped_left(z: np.ndarray) -> np.ndarray:  # E[left 1{x<0}] = E[left(-x) 1{x>0}]
        return left(-z)

    return positive_half(right) + positive_half(flipped_left)


def hermite_coefficients(activation: str | Activation = "relu", k_max: int = 5,
                         n_nodes: int = 200) -> np.ndarray:
    """``mu_k = E[sigma(xi) He_k(xi)]`` for ``k = 0 .. k_max`` (probabilists' Hermite).

    Gauss-Hermite quadrature; exact for ReLU through its polynomial branches.
    """
    act = get_activation(activation)
    k_max = as_int("k_max", k_max, minimum=0, maximum=40)
    mus = np.empty(k_max + 1)
    for k in range(k_max + 1):
        he = hermite_e.HermiteE.basis(k)
        mus[k] = gaussian_expectation(branches=_times(act.branches, he), n_nodes=n_nodes) \
            if act.branches is not None \
            else gaussian_expectation(_product(act.fn, he), n_nodes=n_nodes)
    return mus


def mean_derivative_sq(activation: str | Activation = "relu", n_nodes: int = 200) -> float:
    """``E[sigma'(xi)^2]``, ``xi ~ N(0, 1)``: the gradient-noise level of one giant step."""
    act = get_activation(activation)
    if act.derivative_branches is not None:
        left, right = act.derivative_branches
        return gaussian_expectation(branches=(_product(left, left), _product(right, right)),
                                    n_nodes=n_nodes)
    return gaussian_expectation(_product(act.derivative, act.derivative), n_nodes=n_nodes)


def _product(f: Callable[[np.ndarray], np.ndarray], g: Callable[[np.ndarray], np.ndarray]) -> Fn:
    def fg(z: np.ndarray) -> np.ndarray:
        return f(z) * g(z)
    return fg


def _times(branches: tuple[Fn, Fn], g: Callable[[np.ndarray], np.ndarray]) -> tuple[Fn, Fn]:
    return _product(branches[0], g), _product(branches[1], g)
