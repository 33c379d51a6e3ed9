"""The two-layer network of the critical-set notebook: parameter layout, loss, gradient, Hessian.

Model (Zhang, Zhang, Luo arXiv:2505.13582 "ZZL25", sec. 3; ``docs/04_critical_sets.md``,
"Setting")::

    f(theta, x) = sum_k a_k sigma(w_k . x),      theta = (a_1..a_m, w_1..w_m),
    R(theta)    = 1/2 sum_i (f(theta, x_i) - y_i)^2,   e_i = f(theta, x_i) - y_i,
    dR/da_k     = sum_i e_i sigma(w_k . x_i),
    dR/dw_k     = a_k sum_i e_i sigma'(w_k . x_i) x_i,
    H           = J^T J + sum_i e_i grad^2 f(x_i)      (J[i, :] = d f(x_i) / d theta).

Parameter layout: a flat vector ``theta = concat(a, W.ravel())`` with ``a`` of shape ``(m,)`` and
``W`` of shape ``(m, d)``, so that ``len(theta) = m (d + 1)``. A bias is folded in by appending a
constant 1 to every input (:func:`with_bias`), which makes the last coordinate of ``w_k`` the
bias of neuron ``k``.

The activation is ``"tanh"``, ``"sigmoid"`` or ``"swish"`` of
:data:`theory.activations.ACTIVATIONS` (or any analytic :class:`~theory.activations.Activation`
with a second derivative): the embedding results assume sigma analytic and not a polynomial
(ZZL25 Assumption 3.1), so ReLU is refused.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .._validate import as_float_array, as_int
from ..activations import Activation, get_activation

__all__ = ["pack", "unpack", "width_of", "with_bias", "neuron_indices", "forward", "residuals",
           "loss", "gradient", "hessian", "loss_and_gradient"]

#: Activations accepted by name (analytic, not polynomials: ZZL25 Assumption 3.1).
_CHOICES: tuple[str, ...] = ("tanh", "sigmoid", "swish")

ActivationLike = str | Activation


def _activation(activation: ActivationLike) -> Activation:
    """The :class:`~theory.activations.Activation` named ``activation`` (one of
    ``_CHOICES``), or ``activation`` itself if it is analytic with a second derivative;
    anything else (ReLU, an unknown name) raises a ``ValueError`` naming ``activation``."""
    return get_activation(activation, choices=_CHOICES, analytic=True)


# --------------------------------------------------------------------------------------------
# Parameter layout and validation
# --------------------------------------------------------------------------------------------

def pack(a: ArrayLike, W: ArrayLike) -> np.ndarray:
    """The flat parameter vector ``concat(a, W.ravel())`` from ``a (m,)`` and ``W (m, d)``."""
    a = as_float_array("a", a, ndim=1)
    W = as_float_array("W", W, ndim=2)
    if W.shape[0] != a.shape[0]:
        raise ValueError(f"W must have one row per output weight: a has {a.shape[0]} entries, "
                         f"W has shape {W.shape}")
    return np.concatenate([a, W.ravel()])


def width_of(theta: ArrayLike, d: int) -> int:
    """The width ``m`` of a flat parameter vector for input dimension ``d``."""
    d = as_int("d", d, minimum=1)
    theta = as_float_array("theta", theta, ndim=1)
    if theta.size % (d + 1):
        raise ValueError(f"theta must have length m (d + 1) = m * {d + 1}, got {theta.size}")
    return theta.size // (d + 1)


def unpack(theta: ArrayLike, d: int) -> tuple[np.ndarray, np.ndarray]:
    """``(a, W)`` with ``a (m,)`` and ``W (m, d)`` from a flat parameter vector."""
    m = width_of(theta, d)
    theta = np.asarray(theta, dtype=float)
    return theta[:m].copy(), theta[m:].reshape(m, d).copy()


def neuron_indices(m: int, d: int, k: int) -> np.ndarray:
    """Flat indices ``[a_k, w_k1..w_kd]`` of neuron ``k`` in a width-``m`` parameter vector."""
    m = as_int("m", m, minimum=1)
    d = as_int("d", d, minimum=1)
    k = as_int("k", k, minimum=0, maximum=m - 1)
    return np.concatenate([[k], m + k * d + np.arange(d)])


def with_bias(X: ArrayLike) -> np.ndarray:
    """Inputs with a constant 1 appended: ``w . (x, 1) = w_x . x + b`` folds in a bias."""
    X = _as_inputs(X)
    return np.hstack([X, np.ones((X.shape[0], 1))])


def _as_inputs(X: ArrayLike) -> np.ndarray:
    """Inputs as an ``(n, d)`` float array (a 1-D array is read as ``d = 1``)."""
    X = as_float_array("X", X, min_ndim=1)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise ValueError(f"X must be 1-D (n,) or 2-D (n, d), got shape {X.shape}")
    return X


def _as_problem(theta: ArrayLike, X: ArrayLike, y: ArrayLike | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, int, int]:
    """Validated ``(theta, X, y, m, d)`` (``y`` stays ``None`` when not given)."""
    X = _as_inputs(X)
    d = X.shape[1]
    theta = as_float_array("theta", theta, ndim=1)
    if theta.size % (d + 1):
        raise ValueError(f"theta must have length m (d + 1) with d = {d} (from X), "
                         f"got length {theta.size}")
    m = theta.size // (d + 1)
    if y is not None:
        y = as_float_array("y", y, ndim=1)
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"y must have one target per input: X has {X.shape[0]} rows, "
                             f"y has {y.shape[0]} entries")
    return theta, X, y, m, d


def _as_data(theta: ArrayLike, X: ArrayLike, y: ArrayLike
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """:func:`_as_problem` with targets: validated ``(theta, X, y, m, d)``."""
    theta, X, y_arr, m, d = _as_problem(theta, X, y)
    assert y_arr is not None
    return theta, X, y_arr, m, d


# --------------------------------------------------------------------------------------------
# Network, loss, gradient, Hessian (vectorized over data and neurons)
# --------------------------------------------------------------------------------------------

def _preactivations(theta: np.ndarray, X: np.ndarray, m: int, d: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(a, W, Z)`` with ``Z[i, k] = w_k . x_i`` for a validated problem."""
    a = theta[:m]
    W = theta[m:].reshape(m, d)
    return a, W, X @ W.T


def forward(theta: ArrayLike, X: ArrayLike, activation: ActivationLike = "tanh") -> np.ndarray:
    """Network outputs ``f(theta, x_i) = sum_k a_k sigma(w_k . x_i)`` for every row of ``X``."""
    theta, X, _, m, d = _as_problem(theta, X)
    act = _activation(activation)
    a, _, Z = _preactivations(theta, X, m, d)
    return act.fn(Z) @ a


def residuals(theta: ArrayLike, X: ArrayLike, y: ArrayLike,
              activation: ActivationLike = "tanh") -> np.ndarray:
    """``e_i = f(theta, x_i) - y_i = d/df [1/2 (f - y)^2]`` (ZZL25 sec. 3)."""
    theta, X, y, _, _ = _as_data(theta, X, y)
    return forward(theta, X, activation) - y


def loss(theta: ArrayLike, X: ArrayLike, y: ArrayLike,
         activation: ActivationLike = "tanh") -> float:
    """Empirical loss ``R(theta) = 1/2 sum_i (f(theta, x_i) - y_i)^2``."""
    e = residuals(theta, X, y, activation)
    with np.errstate(over="ignore", invalid="ignore"):
        return float(0.5 * e @ e)


def _jacobian_parts(theta: np.ndarray, X: np.ndarray, y: np.ndarray, act: Activation, m: int,
                    d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Residuals, pre-activations, sigma' values and the Jacobian
    ``J[i, :] = d f(x_i) / d theta``."""
    a, W, Z = _preactivations(theta, X, m, d)
    S, S1 = act.fn(Z), act.derivative(Z)
    e = S @ a - y
    # d f_i / d w_kj = a_k sigma'(w_k . x_i) x_ij, laid out as W.ravel()
    Jw = (S1 * a)[:, :, None] * X[:, None, :]
    J = np.concatenate([S, Jw.reshape(X.shape[0], m * d)], axis=1)
    return e, Z, S1, J


def loss_and_gradient(theta: ArrayLike, X: ArrayLike, y: ArrayLike,
                      activation: ActivationLike = "tanh") -> tuple[float, np.ndarray]:
    """``(R, grad R)`` with ``dR/da_k = sum_i e_i sigma(w_k.x_i)`` and
    ``dR/dw_k = a_k sum_i e_i sigma'(w_k.x_i) x_i`` (ZZL25 sec. 3)."""
    theta, X, y, m, d = _as_data(theta, X, y)
    act = _activation(activation)
    with np.errstate(over="ignore", invalid="ignore"):     # non-finite values are reported
        e, _, _, J = _jacobian_parts(theta, X, y, act, m, d)  # by the value, not a warning
        return float(0.5 * e @ e), J.T @ e


def gradient(theta: ArrayLike, X: ArrayLike, y: ArrayLike,
             activation: ActivationLike = "tanh") -> np.ndarray:
    """``grad R(theta)`` (see :func:`loss_and_gradient`)."""
    return loss_and_gradient(theta, X, y, activation)[1]


def hessian(theta: ArrayLike, X: ArrayLike, y: ArrayLike,
            activation: ActivationLike = "tanh") -> np.ndarray:
    """Exact Hessian ``H = J^T J + sum_i e_i grad^2 f(x_i)``.

    The second-order part is block-diagonal over neurons:
    ``d^2 f / da_k dw_k = sigma'(w_k.x) x`` and ``d^2 f / dw_k dw_k = a_k sigma''(w_k.x) x x^T``;
    all other second derivatives of ``f`` vanish.
    """
    theta, X, y, m, d = _as_data(theta, X, y)
    act = _activation(activation)
    assert act.second_derivative is not None          # _activation insists on it
    e, Z, S1, J = _jacobian_parts(theta, X, y, act, m, d)
    a = theta[:m]
    H = J.T @ J
    # mixed a_k, w_k block: sum_i e_i sigma'(z_ik) x_i            -> (m, d)
    C = np.einsum("i,ik,ij->kj", e, S1, X)
    # w_k, w_k block: a_k sum_i e_i sigma''(z_ik) x_i x_i^T      -> (m, d, d)
    S2 = act.second_derivative(Z)
    D = a[:, None, None] * np.einsum("i,ik,ij,il->kjl", e, S2, X, X)
    k = np.arange(m)
    w_idx = m + k[:, None] * d + np.arange(d)[None, :]            # (m, d)
    H[k[:, None], w_idx] += C
    H[w_idx, k[:, None]] += C
    H[w_idx[:, :, None], w_idx[:, None, :]] += D
    return H


def _theta_d(theta: ArrayLike, d: int) -> tuple[np.ndarray, int, int]:
    """Validated ``(theta, d, m)`` of a flat parameter vector for input dimension ``d``."""
    d = as_int("d", d, minimum=1)
    m = width_of(theta, d)
    return np.asarray(theta, dtype=float), d, m
