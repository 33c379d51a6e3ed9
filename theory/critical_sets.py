"""Critical sets of two-layer networks: embedding and reduction operators, saddle branches.

Reproduction of the claims of L. Zhang, Y. Zhang, T. Luo, *Geometry of Critical Sets and
Existence of Saddle Branches for Two-layer Neural Networks*, arXiv:2405.17501 (ZZL24). Only the
abstract and introduction of ZZL24 could be read; the model, the operators and the Hessian
criterion below are our reconstruction, written out in the method note ``docs/04_critical_sets.md``,
from the follow-up arXiv:2505.13582 (ZZL25), the embedding-principle papers (EP21, EP22) and
Fukumizu & Amari (2000, FA00).

Model (ZZL25 sec. 3; docs/04_critical_sets.md, "Setting")::

    f(theta, x) = sum_k a_k sigma(w_k . x),      theta = (a_1..a_m, w_1..w_m),
    R(theta)    = 1/2 sum_i (f(theta, x_i) - y_i)^2,   e_i = f(theta, x_i) - y_i.

Parameter layout: a flat vector ``theta = concat(a, W.ravel())`` with ``a`` of shape ``(m,)`` and
``W`` of shape ``(m, d)``, so that ``len(theta) = m (d + 1)``. A bias is folded in by appending a
constant 1 to every input (:func:`with_bias`), which makes the last coordinate of ``w_k`` the
bias of neuron ``k``.

Operators (EP21, EP22; two-layer forms ours, docs/04_critical_sets.md, "Operators"):

* :func:`split_neuron` -- neuron ``k`` becomes ``(lam a_k, w_k)`` and a new last neuron
  ``((1 - lam) a_k, w_k)`` (EP21 splitting embedding, FA00's gamma-map);
* :func:`flip_split_neuron` -- the sign-flipped twin ``(lam a_k, w_k), (-(1 - lam) a_k, -w_k)``
  for odd activations;
* :func:`null_embed` -- a new last neuron ``(0, w')`` (null embedding for ``w' = 0``);
* :func:`reduce_network` -- the reduction operator: merge equal (or, for odd sigma, opposite)
  input weights, drop zero output weights and zero input weights when sigma(0) = 0.

Hessian criterion (FA00 Thm 3; derived here, docs/04_critical_sets.md, "Saddle branches"):
``B_k = a_k sum_i e_i sigma''(w_k . x_i) x_i x_i^T`` and, for ``v = ((1 - lam) delta, -lam delta)``
on the input weights of the two copies, ``v^T H v = lam (1 - lam) delta^T B_k delta``; at a critical
point ``inertia(H_wide) = inertia(H_narrow) + (0, 1, 0) + inertia(lam (1 - lam) B_k)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.optimize
from scipy.integrate import solve_ivp

from ._validate import as_float, as_float_array, as_generator, as_int
from .errors import DivergenceError
from .progress import progress as _progress

__all__ = [
    "Activation", "ACTIVATIONS", "get_activation", "DivergenceError",
    "pack", "unpack", "width_of", "with_bias", "neuron_indices",
    "forward", "residuals", "loss", "gradient", "hessian", "loss_and_gradient",
    "CriticalPoint", "newton_polish", "find_critical_points",
    "split_neuron", "flip_split_neuron", "null_embed", "reduce_network",
    "split_direction", "fa_matrix", "inertia", "predicted_split_inertia",
    "null_function", "null_function_roots",
    "BranchScan", "branch_scan", "split_line_residual",
    "FlowResult", "gradient_flow",
    "RootSearch", "search_critical_points", "width2_critical_set_distance",
]


# --------------------------------------------------------------------------------------------
# Activations
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Activation:
    """A smooth activation with its first two derivatives.

    ``odd`` marks ``sigma(-z) = -sigma(z)`` (enables the sign-flip operators); ``zero_at_origin``
    marks ``sigma(0) = 0`` (then a neuron with ``w = 0`` contributes nothing).
    """

    name: str
    f: Callable[[np.ndarray], np.ndarray]
    df: Callable[[np.ndarray], np.ndarray]
    d2f: Callable[[np.ndarray], np.ndarray]
    odd: bool = False
    zero_at_origin: bool = False


def _tanh_d1(z):
    t = np.tanh(z)
    return 1.0 - t * t


def _tanh_d2(z):
    t = np.tanh(z)
    return -2.0 * t * (1.0 - t * t)


def _sigmoid(z):
    # 1/(1 + exp(-z)) without overflow: 0.5 (1 + tanh(z/2))
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _sigmoid_d1(z):
    s = _sigmoid(z)
    return s * (1.0 - s)


def _sigmoid_d2(z):
    s = _sigmoid(z)
    return s * (1.0 - s) * (1.0 - 2.0 * s)


def _swish(z):
    return z * _sigmoid(z)


def _swish_d1(z):
    s = _sigmoid(z)
    return s + z * s * (1.0 - s)


def _swish_d2(z):
    s = _sigmoid(z)
    ds = s * (1.0 - s)
    return 2.0 * ds + z * ds * (1.0 - 2.0 * s)


#: Built-in activations (analytic, not polynomials: ZZL25 Assumption 3.1).
ACTIVATIONS = {
    "tanh": Activation("tanh", np.tanh, _tanh_d1, _tanh_d2, odd=True, zero_at_origin=True),
    "sigmoid": Activation("sigmoid", _sigmoid, _sigmoid_d1, _sigmoid_d2),
    "swish": Activation("swish", _swish, _swish_d1, _swish_d2, zero_at_origin=True),
}


def get_activation(activation) -> Activation:
    """An :class:`Activation` from a name in :data:`ACTIVATIONS` or an :class:`Activation`."""
    if isinstance(activation, Activation):
        return activation
    if isinstance(activation, str) and activation in ACTIVATIONS:
        return ACTIVATIONS[activation]
    raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)} or an Activation, "
                     f"got {activation!r}")


# --------------------------------------------------------------------------------------------
# Parameter layout and validation
# --------------------------------------------------------------------------------------------

def pack(a, W) -> np.ndarray:
    """The flat parameter vector ``concat(a, W.ravel())`` from ``a (m,)`` and ``W (m, d)``."""
    a = as_float_array("a", a, ndim=1)
    W = as_float_array("W", W, ndim=2)
    if W.shape[0] != a.shape[0]:
        raise ValueError(f"W must have one row per output weight: a has {a.shape[0]} entries, "
                         f"W has shape {W.shape}")
    return np.concatenate([a, W.ravel()])


def width_of(theta, d: int) -> int:
    """The width ``m`` of a flat parameter vector for input dimension ``d``."""
    d = as_int("d", d, minimum=1)
    theta = as_float_array("theta", theta, ndim=1)
    if theta.size % (d + 1):
        raise ValueError(f"theta must have length m (d + 1) = m * {d + 1}, got {theta.size}")
    return theta.size // (d + 1)


def unpack(theta, d: int) -> tuple[np.ndarray, np.ndarray]:
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


def with_bias(X) -> np.ndarray:
    """Inputs with a constant 1 appended: ``w . (x, 1) = w_x . x + b`` folds in a bias."""
    X = _as_inputs(X)
    return np.hstack([X, np.ones((X.shape[0], 1))])


def _as_inputs(X) -> np.ndarray:
    """Inputs as an ``(n, d)`` float array (a 1-D array is read as ``d = 1``)."""
    X = as_float_array("X", X, min_ndim=1)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise ValueError(f"X must be 1-D (n,) or 2-D (n, d), got shape {X.shape}")
    return X


def _as_problem(theta, X, y=None):
    """Validated ``(theta, X, y, m, d)``."""
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


# --------------------------------------------------------------------------------------------
# Network, loss, gradient, Hessian (vectorized over data and neurons)
# --------------------------------------------------------------------------------------------

def _preactivations(theta, X, m, d):
    a = theta[:m]
    W = theta[m:].reshape(m, d)
    return a, W, X @ W.T                          # Z[i, k] = w_k . x_i


def forward(theta, X, activation="tanh") -> np.ndarray:
    """Network outputs ``f(theta, x_i) = sum_k a_k sigma(w_k . x_i)`` for every row of ``X``."""
    theta, X, _, m, d = _as_problem(theta, X)
    act = get_activation(activation)
    a, _, Z = _preactivations(theta, X, m, d)
    return act.f(Z) @ a


def residuals(theta, X, y, activation="tanh") -> np.ndarray:
    """``e_i = f(theta, x_i) - y_i = d/df [1/2 (f - y)^2]`` (ZZL25 sec. 3)."""
    theta, X, y, _, _ = _as_problem(theta, X, y)
    return forward(theta, X, activation) - y


def loss(theta, X, y, activation="tanh") -> float:
    """Empirical loss ``R(theta) = 1/2 sum_i (f(theta, x_i) - y_i)^2``."""
    e = residuals(theta, X, y, activation)
    with np.errstate(over="ignore", invalid="ignore"):
        return float(0.5 * e @ e)


def _jacobian_parts(theta, X, y, act, m, d):
    """Residuals, sigma-values and the Jacobian ``J[i, :] = d f(x_i) / d theta``."""
    a, W, Z = _preactivations(theta, X, m, d)
    S, S1 = act.f(Z), act.df(Z)
    e = S @ a - y
    # d f_i / d w_kj = a_k sigma'(w_k . x_i) x_ij, laid out as W.ravel()
    Jw = (S1 * a)[:, :, None] * X[:, None, :]
    J = np.concatenate([S, Jw.reshape(X.shape[0], m * d)], axis=1)
    return e, Z, S1, J


def loss_and_gradient(theta, X, y, activation="tanh") -> tuple[float, np.ndarray]:
    """``(R, grad R)`` with ``dR/da_k = sum_i e_i sigma(w_k.x_i)`` and
    ``dR/dw_k = a_k sum_i e_i sigma'(w_k.x_i) x_i`` (ZZL25 sec. 3)."""
    theta, X, y, m, d = _as_problem(theta, X, y)
    act = get_activation(activation)
    with np.errstate(over="ignore", invalid="ignore"):     # non-finite values are reported
        e, _, _, J = _jacobian_parts(theta, X, y, act, m, d)  # by the value, not a warning
        return float(0.5 * e @ e), J.T @ e


def gradient(theta, X, y, activation="tanh") -> np.ndarray:
    """``grad R(theta)`` (see :func:`loss_and_gradient`)."""
    return loss_and_gradient(theta, X, y, activation)[1]


def hessian(theta, X, y, activation="tanh") -> np.ndarray:
    """Exact Hessian ``H = J^T J + sum_i e_i grad^2 f(x_i)``.

    The second-order part is block-diagonal over neurons:
    ``d^2 f / da_k dw_k = sigma'(w_k.x) x`` and ``d^2 f / dw_k dw_k = a_k sigma''(w_k.x) x x^T``;
    all other second derivatives of ``f`` vanish.
    """
    theta, X, y, m, d = _as_problem(theta, X, y)
    act = get_activation(activation)
    e, Z, S1, J = _jacobian_parts(theta, X, y, act, m, d)
    a = theta[:m]
    H = J.T @ J
    # mixed a_k, w_k block: sum_i e_i sigma'(z_ik) x_i            -> (m, d)
    C = np.einsum("i,ik,ij->kj", e, S1, X)
    # w_k, w_k block: a_k sum_i e_i sigma''(z_ik) x_i x_i^T      -> (m, d, d)
    S2 = act.d2f(Z)
    D = a[:, None, None] * np.einsum("i,ik,ij,il->kjl", e, S2, X, X)
    k = np.arange(m)
    w_idx = m + k[:, None] * d + np.arange(d)[None, :]            # (m, d)
    H[k[:, None], w_idx] += C
    H[w_idx, k[:, None]] += C
    H[w_idx[:, :, None], w_idx[:, None, :]] += D
    return H


# --------------------------------------------------------------------------------------------
# Critical points
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CriticalPoint:
    """A polished critical point: parameters, loss, gradient norm, Hessian eigenvalues."""

    theta: np.ndarray
    loss: float
    grad_norm: float
    eigenvalues: np.ndarray


def newton_polish(theta, X, y, activation="tanh", *, steps: int = 20,
                  tol: float = 1e-13) -> np.ndarray:
    """Newton iterations ``theta <- theta - H^+ grad`` (least-squares step, so that a singular
    Hessian does not break it); stops early once ``||grad|| < tol``."""
    theta, X, y, _, _ = _as_problem(theta, X, y)
    steps = as_int("steps", steps, minimum=0)
    tol = as_float("tol", tol, minimum=0.0)
    theta = theta.copy()
    for step in range(steps):
        value, g = loss_and_gradient(theta, X, y, activation)
        if not np.isfinite(value):
            raise DivergenceError(step, value, "Newton polishing produced a non-finite loss")
        if np.linalg.norm(g) < tol:
            break
        H = hessian(theta, X, y, activation)
        theta = theta - scipy.linalg.lstsq(H, g, cond=1e-14)[0]
    return theta


def _canonical(theta, d, odd):
    """Sort neurons and (for odd sigma) flip each to a non-negative first input weight, so that
    permutations and sign flips of the same point compare equal."""
    a, W = unpack(theta, d)
    if odd:
        s = np.where(W[:, 0] < 0, -1.0, 1.0)
        a, W = a * s, W * s[:, None]
    order = np.lexsort(np.vstack([a, W.T[::-1]]))
    return pack(a[order], W[order])


def _multistart_settings(X, y, width, rng, n_starts, init_scale, gtol, max_abs, max_cond):
    """The validated settings shared by the two multistart searches (each bad value raises a
    ``ValueError`` naming its argument); checks ``(X, y)`` against a width-``width`` network."""
    X = _as_inputs(X)
    width = as_int("width", width, minimum=1)
    n_starts = as_int("n_starts", n_starts, minimum=1)
    init_scale = as_float("init_scale", init_scale, minimum=0.0, strict_minimum=True)
    gtol = as_float("gtol", gtol, minimum=0.0, strict_minimum=True)
    max_abs = as_float("max_abs", max_abs, minimum=0.0, strict_minimum=True)
    max_cond = as_float("max_cond", max_cond, minimum=1.0)
    rng = as_generator("rng", rng)
    _as_problem(np.zeros(width * (X.shape[1] + 1)), X, y)
    return X, width, n_starts, init_scale, gtol, max_abs, max_cond, rng


def find_critical_points(X, y, width: int, rng: np.random.Generator, activation="tanh", *,
                         n_starts: int = 20, init_scale: float = 1.0, gtol: float = 1e-10,
                         newton_steps: int = 20, bfgs_maxiter: int = 500, max_abs: float = 1e3,
                         max_cond: float = 1e10,
                         progress: bool = False) -> list[CriticalPoint]:
    """Multistart BFGS (``gtol = 1e-12``) then Newton polishing; keeps the points with
    ``||grad R|| < gtol``, merged up to permutation (and sign flips for odd sigma), sorted by loss.
    Each point is returned in a canonical form: neurons sorted and, for odd sigma, flipped so
    that the first input weight is non-negative.

    Starts are ``init_scale * N(0, I)`` draws from ``rng``. Points with a parameter above
    ``max_abs`` or a Hessian condition number above ``max_cond`` are discarded: they are
    near-critical points on a channel to infinity (``a -> infinity, w -> 0``, M25), not critical
    points.
    """
    X, width, n_starts, init_scale, gtol, max_abs, max_cond, rng = _multistart_settings(
        X, y, width, rng, n_starts, init_scale, gtol, max_abs, max_cond)
    bfgs_maxiter = as_int("bfgs_maxiter", bfgs_maxiter, minimum=1)
    act = get_activation(activation)
    d = X.shape[1]
    starts = init_scale * rng.standard_normal((n_starts, width * (d + 1)))
    found: list[CriticalPoint] = []
    for theta0 in _progress(starts, enable=progress, desc="critical points"):
        res = scipy.optimize.minimize(loss_and_gradient, theta0, args=(X, y, act), jac=True,
                                      method="BFGS",
                                      options={"gtol": 1e-12, "maxiter": bfgs_maxiter})
        if not np.all(np.isfinite(res.x)):
            continue
        theta = newton_polish(res.x, X, y, act, steps=newton_steps)
        value, g = loss_and_gradient(theta, X, y, act)
        if (not np.isfinite(value) or np.linalg.norm(g) >= gtol
                or np.max(np.abs(theta)) > max_abs):
            continue
        theta = _canonical(theta, d, act.odd)     # same loss, gradient norm and spectrum
        if any(np.max(np.abs(theta - p.theta)) < 1e-6 for p in found):
            continue
        value, g = loss_and_gradient(theta, X, y, act)
        eig = np.linalg.eigvalsh(hessian(theta, X, y, act))
        if np.max(np.abs(eig)) > max_cond * np.min(np.abs(eig)):
            continue
        found.append(CriticalPoint(theta, value, float(np.linalg.norm(g)), eig))
    return sorted(found, key=lambda p: (p.loss, tuple(np.round(p.theta, 8))))


# --------------------------------------------------------------------------------------------
# Embedding and reduction operators
# --------------------------------------------------------------------------------------------

def _theta_d(theta, d):
    d = as_int("d", d, minimum=1)
    m = width_of(theta, d)
    return np.asarray(theta, dtype=float), d, m


def split_neuron(theta, d: int, k: int, lam) -> np.ndarray:
    """Splitting embedding ``T_lam`` (EP21; FA00's gamma-map): neuron ``k`` becomes
    ``(lam a_k, w_k)`` and a new last neuron ``((1 - lam) a_k, w_k)`` is appended."""
    theta, d, m = _theta_d(theta, d)
    k = as_int("k", k, minimum=0, maximum=m - 1)
    lam = as_float("lam", lam)
    a, W = unpack(theta, d)
    a_new = np.append(a, (1.0 - lam) * a[k])
    a_new[k] = lam * a[k]
    return pack(a_new, np.vstack([W, W[k]]))


def flip_split_neuron(theta, d: int, k: int, lam, activation="tanh") -> np.ndarray:
    """Sign-flipped split for odd sigma (ours; docs/04_critical_sets.md): ``(lam a_k, w_k)``
    and a new last neuron ``(-(1 - lam) a_k, -w_k)``; the output is unchanged since
    ``-(1 - lam) a sigma(-w.x) = (1 - lam) a sigma(w.x)``."""
    if not get_activation(activation).odd:
        raise ValueError("activation must be odd for the sign-flipped split")
    theta, d, m = _theta_d(theta, d)
    k = as_int("k", k, minimum=0, maximum=m - 1)
    lam = as_float("lam", lam)
    a, W = unpack(theta, d)
    a_new = np.append(a, -(1.0 - lam) * a[k])
    a_new[k] = lam * a[k]
    return pack(a_new, np.vstack([W, -W[k]]))


def null_embed(theta, d: int, w_new=None) -> np.ndarray:
    """Null-neuron embedding (EP22, ZZL25 section 4.1): append ``(a, w) = (0, w_new)``
    (``w_new = 0`` by default)."""
    theta, d, m = _theta_d(theta, d)
    w_new = np.zeros(d) if w_new is None else as_float_array("w_new", w_new, ndim=1)
    if w_new.shape != (d,):
        raise ValueError(f"w_new must have shape ({d},), got {w_new.shape}")
    a, W = unpack(theta, d)
    return pack(np.append(a, 0.0), np.vstack([W, w_new]))


def reduce_network(theta, d: int, activation="tanh", *, tol: float = 1e-8) -> np.ndarray:
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
    act = get_activation(activation)
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


# --------------------------------------------------------------------------------------------
# The Hessian criterion on a split line
# --------------------------------------------------------------------------------------------

def split_direction(theta, d: int, k: int, lam, delta) -> np.ndarray:
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


def fa_matrix(theta, X, y, k: int, activation="tanh") -> np.ndarray:
    """``B_k = a_k sum_i e_i sigma''(w_k . x_i) x_i x_i^T`` (FA00 Thm 3 as restated in M25 App. A.1;
    docs/04_critical_sets.md), a symmetric ``d x d`` matrix."""
    theta, X, y, m, d = _as_problem(theta, X, y)
    k = as_int("k", k, minimum=0, maximum=m - 1)
    act = get_activation(activation)
    e = forward(theta, X, act) - y
    a, W, Z = _preactivations(theta, X, m, d)
    weights = a[k] * e * act.d2f(Z[:, k])
    return np.einsum("i,ij,il->jl", weights, X, X)


def inertia(eigenvalues, zero_tol) -> tuple[int, int, int]:
    """``(n_negative, n_zero, n_positive)`` of a list of eigenvalues, counting ``|lambda| <=
    zero_tol`` as zero."""
    eig = as_float_array("eigenvalues", eigenvalues, min_ndim=1)
    zero_tol = as_float("zero_tol", zero_tol, minimum=0.0)
    eig = eig.ravel()
    return (int(np.sum(eig < -zero_tol)), int(np.sum(np.abs(eig) <= zero_tol)),
            int(np.sum(eig > zero_tol)))


def predicted_split_inertia(narrow_eigenvalues, B, lam, zero_tol) -> tuple[int, int, int]:
    """``inertia(H_narrow) + (0, 1, 0) + inertia(lam (1 - lam) B)`` (Sylvester's law of inertia
    applied to the block-diagonalised split Hessian; derived here, docs/04_critical_sets.md)."""
    B = as_float_array("B", B, ndim=2)
    if B.shape[0] != B.shape[1]:
        raise ValueError(f"B must be square, got shape {B.shape}")
    lam = as_float("lam", lam)
    narrow = inertia(narrow_eigenvalues, zero_tol)
    split = inertia(np.linalg.eigvalsh(lam * (1.0 - lam) * B), zero_tol)
    return (narrow[0] + split[0], narrow[1] + 1 + split[1], narrow[2] + split[2])


# --------------------------------------------------------------------------------------------
# Null neurons
# --------------------------------------------------------------------------------------------

def null_function(w, theta, X, y, activation="tanh") -> np.ndarray:
    """``phi(w) = sum_i e_i sigma(w . x_i)``: the gradient in the output weight of a null neuron
    ``(0, w)`` added to ``theta`` (ZZL25 Prop. 4.2.1). ``w`` has shape ``(..., d)``."""
    theta, X, y, _, d = _as_problem(theta, X, y)
    act = get_activation(activation)
    w = as_float_array("w", w, min_ndim=1)
    if w.shape[-1] != d:
        raise ValueError(f"w must have last axis of length d = {d}, got shape {w.shape}")
    e = forward(theta, X, act) - y
    return act.f(w @ X.T) @ e


def null_function_roots(theta, X, y, activation="tanh", *, w_max: float = 5.0,
                        n_grid: int = 2001, extra=(), tol: float = 1e-12) -> np.ndarray:
    """Roots of ``phi`` on ``[-w_max, w_max]`` for ``d = 1``: sign changes on a grid, plus the
    ``extra`` candidates (e.g. ``0`` and ``+-w_bar``, double roots a sign scan misses), each
    polished by Newton on ``phi`` (simple roots) and kept when ``|phi| <= tol``; sorted, unique."""
    theta, X, y, _, d = _as_problem(theta, X, y)
    if d != 1:
        raise ValueError(f"X must have d = 1 input for the root scan, got d = {d}")
    w_max = as_float("w_max", w_max, minimum=0.0, strict_minimum=True)
    n_grid = as_int("n_grid", n_grid, minimum=3)
    tol = as_float("tol", tol, minimum=0.0)
    extra = np.atleast_1d(as_float_array("extra", extra, min_ndim=1) if len(extra) else
                          np.zeros(0))
    act = get_activation(activation)
    e = forward(theta, X, act) - y
    x = X[:, 0]
    phi = lambda w: act.f(np.multiply.outer(w, x)) @ e            # noqa: E731
    dphi = lambda w: act.df(np.multiply.outer(w, x)) @ (e * x)     # noqa: E731
    grid = np.linspace(-w_max, w_max, n_grid)
    values = phi(grid)
    change = np.nonzero(values[:-1] * values[1:] < 0)[0]
    candidates = []
    for j in change:
        candidates.append(scipy.optimize.brentq(lambda w: float(phi(w)), grid[j], grid[j + 1],
                                                xtol=1e-15, rtol=4 * np.finfo(float).eps))
    candidates.extend(grid[values == 0.0])
    candidates.extend(extra)
    roots: list[float] = []
    for w in candidates:
        for _ in range(5):                       # Newton refinement of simple roots
            slope = dphi(w)
            if abs(slope) < 1e-8:
                break
            w = w - phi(w) / slope
        if abs(phi(w)) <= tol and not any(abs(w - r) < 1e-9 for r in roots):
            roots.append(float(w))
    return np.array(sorted(roots))


# --------------------------------------------------------------------------------------------
# Scans along a branch
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BranchScan:
    """Loss, gradient norm and Hessian spectrum (ascending) at every point of a branch."""

    parameter: np.ndarray
    thetas: np.ndarray
    losses: np.ndarray
    grad_norms: np.ndarray
    eigenvalues: np.ndarray


def branch_scan(theta, X, y, k: int, lambdas, activation="tanh", *, kind: str = "split",
                progress: bool = False) -> BranchScan:
    """Evaluate ``R``, ``||grad R||`` and ``eig(H)`` along ``lam -> T_lam theta`` for the plain
    split (``kind="split"``) or the sign-flipped split (``kind="flip"``) of neuron ``k``.
    The spectra are computed by one batched ``eigvalsh`` call."""
    theta, X, y, m, d = _as_problem(theta, X, y)
    k = as_int("k", k, minimum=0, maximum=m - 1)
    lambdas = as_float_array("lambdas", lambdas, ndim=1)
    if kind not in ("split", "flip"):
        raise ValueError(f"kind must be 'split' or 'flip', got {kind!r}")
    act = get_activation(activation)
    embed = ((lambda lam: split_neuron(theta, d, k, lam)) if kind == "split"
             else (lambda lam: flip_split_neuron(theta, d, k, lam, act)))
    thetas = np.array([embed(lam) for lam in lambdas])
    losses, grads, hessians = [], [], []
    for th in _progress(thetas, enable=progress, desc="branch scan"):
        value, g = loss_and_gradient(th, X, y, act)
        losses.append(value)
        grads.append(np.linalg.norm(g))
        hessians.append(hessian(th, X, y, act))
    return BranchScan(lambdas, thetas, np.array(losses), np.array(grads),
                      np.linalg.eigvalsh(np.array(hessians)))


def split_line_residual(theta_wide, theta_narrow, d: int, k: int) -> float:
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
# Gradient flow
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FlowResult:
    """A gradient-flow trajectory ``d theta / dt = -grad R``: times, states, losses."""

    t: np.ndarray
    thetas: np.ndarray
    losses: np.ndarray


def gradient_flow(theta0, X, y, t_max, activation="tanh", *, n_eval: int = 200,
                  rtol: float = 1e-10, atol: float = 1e-12, method: str = "LSODA") -> FlowResult:
    """Integrate ``d theta / dt = -grad R(theta)`` with ``solve_ivp`` (Jacobian ``-H``) on
    ``[0, t_max]``, output at ``n_eval`` log-spaced times (plus ``t = 0``).

    Raises :class:`DivergenceError` if the loss becomes non-finite or the solver fails.
    """
    theta0, X, y, _, _ = _as_problem(theta0, X, y)
    t_max = as_float("t_max", t_max, minimum=0.0, strict_minimum=True)
    n_eval = as_int("n_eval", n_eval, minimum=2)
    rtol = as_float("rtol", rtol, minimum=0.0, strict_minimum=True)
    atol = as_float("atol", atol, minimum=0.0, strict_minimum=True)
    if method not in ("LSODA", "Radau", "BDF", "RK45", "DOP853"):
        raise ValueError(f"method must be a solve_ivp method name, got {method!r}")
    act = get_activation(activation)
    t_eval = np.concatenate([[0.0], np.geomspace(min(1e-3, t_max), t_max, n_eval - 1)])
    t_eval = np.unique(t_eval)

    def rhs(_t, th):
        return -gradient(th, X, y, act)

    def jac(_t, th):
        return -hessian(th, X, y, act)

    kwargs = {} if method in ("RK45", "DOP853") else {"jac": jac}
    sol = solve_ivp(rhs, (0.0, t_max), theta0, method=method, t_eval=t_eval, rtol=rtol,
                    atol=atol, **kwargs)
    if not sol.success or not np.all(np.isfinite(sol.y)):
        raise DivergenceError(sol.t[-1] if sol.t.size else 0.0, np.nan,
                              f"the ODE solver failed ({sol.message})", unit="t =")
    thetas = sol.y.T
    losses = np.array([loss(th, X, y, act) for th in thetas])
    if not np.all(np.isfinite(losses)):
        bad = int(np.argmax(~np.isfinite(losses)))
        raise DivergenceError(sol.t[bad], losses[bad], unit="t =")
    return FlowResult(sol.t, thetas, losses)


# --------------------------------------------------------------------------------------------
# The whole critical set: a search for every zero of the gradient, and the predicted set
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RootSearch:
    """Outcome of :func:`search_critical_points`: one critical point per converged start (not
    merged, so that repeated hits can be counted) and the tallies of the other starts."""

    thetas: np.ndarray
    grad_norms: np.ndarray
    n_starts: int
    n_unconverged: int
    n_saturated: int


def search_critical_points(X, y, width: int, rng: np.random.Generator, activation="tanh", *,
                           n_starts: int = 50, init_scale: float = 1.5, gtol: float = 1e-10,
                           max_abs: float = 1e2, max_cond: float = 1e10,
                           max_nfev: int = 400) -> RootSearch:
    """Zeros of ``grad R`` from random starts, **saddles included**.

    Each start ``theta_0 = init_scale * N(0, I)`` (drawn from ``rng``) is driven to a zero of the
    system ``grad R(theta) = 0`` by Levenberg-Marquardt with Jacobian ``H(theta)``
    (``scipy.optimize.least_squares``, method ``"lm"``: it minimises ``||grad R||^2``, so it is
    attracted by saddles and maxima as much as by minima), then polished by Newton
    (:func:`newton_polish`). A start counts as converged when ``||grad R|| < gtol``.

    Converged points that are critical only in floating point are set apart as *saturated*:
    a parameter above ``max_abs`` (a channel to infinity, M25) or a reduced network
    (:func:`reduce_network`) whose Hessian has condition number above ``max_cond`` (a neuron
    with ``|w . x_i| >~ 15`` everywhere, where ``tanh'`` is below round-off).
    """
    X, width, n_starts, init_scale, gtol, max_abs, max_cond, rng = _multistart_settings(
        X, y, width, rng, n_starts, init_scale, gtol, max_abs, max_cond)
    max_nfev = as_int("max_nfev", max_nfev, minimum=1)
    d = X.shape[1]
    y = np.asarray(y, dtype=float)
    act = get_activation(activation)
    starts = init_scale * rng.standard_normal((n_starts, width * (d + 1)))
    thetas, norms, unconverged, saturated = [], [], 0, 0
    with np.errstate(over="ignore", invalid="ignore"):
        for theta0 in starts:
            res = scipy.optimize.least_squares(
                lambda th: gradient(th, X, y, act), theta0,
                jac=lambda th: hessian(th, X, y, act), method="lm",
                xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=max_nfev)
            theta = res.x
            if np.all(np.isfinite(theta)):
                theta = newton_polish(theta, X, y, act, steps=10)
            g = gradient(theta, X, y, act) if np.all(np.isfinite(theta)) else np.array([np.inf])
            if not np.all(np.isfinite(g)) or np.linalg.norm(g) >= gtol:
                unconverged += 1
                continue
            if np.max(np.abs(theta)) > max_abs:
                saturated += 1
                continue
            reduced = reduce_network(theta, d, act)
            eig = np.abs(np.linalg.eigvalsh(hessian(reduced, X, y, act)))
            if np.max(eig) > max_cond * np.min(eig):
                saturated += 1
                continue
            thetas.append(theta)
            norms.append(float(np.linalg.norm(g)))
    p = width * (d + 1)
    return RootSearch(np.array(thetas).reshape(-1, p), np.array(norms), n_starts, unconverged,
                      saturated)


def _flip_variants(theta):
    """The 8 images of a width-2, d = 1 point ``(a1, a2, w1, w2)`` under neuron permutation and
    the odd-activation flips ``(a_k, w_k) -> (-a_k, -w_k)``, with a flag 'exactly one flip'."""
    a1, a2, w1, w2 = theta
    out = []
    for (b1, v1), (b2, v2) in (((a1, w1), (a2, w2)), ((a2, w2), (a1, w1))):
        for s1 in (1.0, -1.0):
            for s2 in (1.0, -1.0):
                out.append((np.array([s1 * b1, s2 * b2, s1 * v1, s2 * v2]), s1 * s2 < 0))
    return out


def width2_critical_set_distance(theta_wide, theta_narrow, roots,
                                 activation="tanh") -> tuple[float, str]:
    """Euclidean distance of a width-2 point (``d = 1``) from the critical set that our
    reconstruction predicts for the output function of the width-1 critical point
    ``theta_narrow = (a, w_bar)`` (docs/04_critical_sets.md, "The predicted critical set"),
    and the name of the nearest piece. ``roots`` are the roots of
    ``phi(w) = sum_i e_i sigma(w x_i)`` at ``theta_narrow`` (:func:`null_function_roots`).

    For ``a != 0`` the set is the union, over neuron permutations and the flips
    ``(a_k, w_k) -> (-a_k, -w_k)`` of an odd activation, of

    * the split line ``L1 = {(lam a, (1 - lam) a, w_bar, w_bar)}`` (its one-flip image is the
      flipped line ``L2``), and
    * the null points ``(a, 0, w_bar, r)`` for every root ``r`` of ``phi``.

    For the zero network (``a = 0``; minimal width 0) it is the set of null pairs
    ``(0, 0, r1, r2)``. Labels: ``"L1"``, ``"L2"``, ``"null at 0"``, ``"null at +-w_bar"``,
    ``"null at a sample-dependent root"``, ``"null pair"``.
    """
    if not get_activation(activation).odd:
        raise ValueError("activation must be odd (the predicted set uses the flip symmetry)")
    theta_wide = as_float_array("theta_wide", theta_wide, ndim=1)
    if theta_wide.shape != (4,):
        raise ValueError(f"theta_wide must be a width-2, d = 1 point of length 4, "
                         f"got shape {theta_wide.shape}")
    theta_narrow = as_float_array("theta_narrow", theta_narrow, ndim=1)
    if theta_narrow.shape != (2,):
        raise ValueError(f"theta_narrow must be a width-1, d = 1 point of length 2, "
                         f"got shape {theta_narrow.shape}")
    roots = as_float_array("roots", roots, ndim=1)
    a, w_bar = theta_narrow
    if w_bar < 0:
        a, w_bar = -a, -w_bar
    best, label = np.inf, ""
    for p, one_flip in _flip_variants(theta_wide):
        if abs(a) > 1e-12:
            q0 = np.array([0.0, a, w_bar, w_bar])
            u = np.array([a, -a, 0.0, 0.0])
            r = p - q0
            dist = float(np.linalg.norm(r - (r @ u) / (u @ u) * u))
            if dist < best:
                best, label = dist, "L2" if one_flip else "L1"
            for root in roots:
                dist = float(np.linalg.norm(p - np.array([a, 0.0, w_bar, root])))
                if dist < best:
                    best = dist
                    label = ("null at 0" if abs(root) < 1e-9 else
                             "null at +-w_bar" if abs(abs(root) - w_bar) < 1e-9 else
                             "null at a sample-dependent root")
        else:
            for r1 in roots:
                for r2 in roots:
                    dist = float(np.linalg.norm(p - np.array([0.0, 0.0, r1, r2])))
                    if dist < best:
                        best, label = dist, "null pair"
    return float(best), label
