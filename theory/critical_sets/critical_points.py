"""Critical points of two-layer networks: search, Hessian classification, null neurons, flows.

On the model of :mod:`theory.critical_sets.model` (``R(theta) = 1/2 sum_i e_i^2``):

* search -- :func:`find_critical_points` (multistart BFGS, for minima) and
  :func:`search_critical_points` (Levenberg-Marquardt on ``grad R = 0``, saddles included),
  both polished by Newton's method (:func:`newton_polish`);
* the Hessian criterion on a split line (Fukumizu & Amari 2000 "FA00" Thm 3, as restated in
  Martinelli et al. arXiv:2506.14951 "M25" App. A.1; derived in ``docs/04_critical_sets.md``,
  "Saddle branches"): ``B_k = a_k sum_i e_i sigma''(w_k . x_i) x_i x_i^T`` (:func:`fa_matrix`)
  and, at a critical point, ``inertia(H_wide) = inertia(H_narrow) + (0, 1, 0) +
  inertia(lam (1 - lam) B_k)`` (:func:`inertia`, :func:`predicted_split_inertia`);
* null neurons -- ``phi(w) = sum_i e_i sigma(w . x_i)`` (ZZL25 Prop. 4.2.1,
  :func:`null_function`) and its roots (:func:`null_function_roots`);
* :func:`branch_scan` -- loss, gradient norm and spectrum along a split line;
* :func:`gradient_flow` -- ``d theta / dt = -grad R`` by ``scipy.integrate.solve_ivp`` (escape
  from saddles). Its result is a :class:`FlowResult` of ODE output times, not a
  :class:`~theory.training.Trajectory` of discrete steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.optimize
from numpy.typing import ArrayLike
from scipy.integrate import solve_ivp

from .._validate import as_float, as_float_array, as_generator, as_int
from ..errors import DivergenceError, check_loss
from ..progress import progress as _progress
from .model import (ActivationLike, _activation, _as_data, _as_inputs, _as_problem,
                    _preactivations, forward, gradient, hessian, loss, loss_and_gradient)
from .operators import _canonical, flip_split_neuron, reduce_network, split_neuron

__all__ = ["CriticalPoint", "newton_polish", "find_critical_points",
           "RootSearch", "search_critical_points",
           "fa_matrix", "inertia", "predicted_split_inertia",
           "null_function", "null_function_roots",
           "BranchScan", "branch_scan", "FlowResult", "gradient_flow"]


# --------------------------------------------------------------------------------------------
# Search
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CriticalPoint:
    """A polished critical point: parameters, loss, gradient norm, Hessian eigenvalues."""

    theta: np.ndarray
    loss: float
    grad_norm: float
    eigenvalues: np.ndarray


def newton_polish(theta: ArrayLike, X: ArrayLike, y: ArrayLike,
                  activation: ActivationLike = "tanh", *, steps: int = 20,
                  tol: float = 1e-13) -> np.ndarray:
    """Newton iterations ``theta <- theta - H^+ grad`` (least-squares step, so that a singular
    Hessian does not break it); stops early once ``||grad|| < tol``. A non-finite loss raises
    :class:`~theory.errors.DivergenceError`."""
    point, X, y, _, _ = _as_data(theta, X, y)
    steps = as_int("steps", steps, minimum=0)
    tol = as_float("tol", tol, minimum=0.0)
    for step in range(steps):
        value, g = loss_and_gradient(point, X, y, activation)
        check_loss(step, value)
        if np.linalg.norm(g) < tol:
            break
        H = hessian(point, X, y, activation)
        point = point - scipy.linalg.lstsq(H, g, cond=1e-14)[0]
    return point.copy()


def _multistart_settings(X: ArrayLike, y: ArrayLike, width: int, rng: np.random.Generator,
                         n_starts: int, init_scale: float, gtol: float, max_abs: float,
                         max_cond: float
                         ) -> tuple[np.ndarray, int, int, float, float, float, float,
                                    np.random.Generator]:
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


def find_critical_points(X: ArrayLike, y: ArrayLike, width: int, rng: np.random.Generator,
                         activation: ActivationLike = "tanh", *, n_starts: int = 20,
                         init_scale: float = 1.0, gtol: float = 1e-10, newton_steps: int = 20,
                         bfgs_maxiter: int = 500, max_abs: float = 1e3, max_cond: float = 1e10,
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
    act = _activation(activation)
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


@dataclass(frozen=True)
class RootSearch:
    """Outcome of :func:`search_critical_points`: one critical point per converged start (not
    merged, so that repeated hits can be counted) and the tallies of the other starts."""

    thetas: np.ndarray
    grad_norms: np.ndarray
    n_starts: int
    n_unconverged: int
    n_saturated: int


def search_critical_points(X: ArrayLike, y: ArrayLike, width: int, rng: np.random.Generator,
                           activation: ActivationLike = "tanh", *, n_starts: int = 50,
                           init_scale: float = 1.5, gtol: float = 1e-10, max_abs: float = 1e2,
                           max_cond: float = 1e10, max_nfev: int = 400) -> RootSearch:
    """Zeros of ``grad R`` from random starts, **saddles included**.

    Each start ``theta_0 = init_scale * N(0, I)`` (drawn from ``rng``) is driven to a zero of the
    system ``grad R(theta) = 0`` by Levenberg-Marquardt with Jacobian ``H(theta)``
    (``scipy.optimize.least_squares``, method ``"lm"``: it minimises ``||grad R||^2``, so it is
    attracted by saddles and maxima as much as by minima), then polished by Newton
    (:func:`newton_polish`). A start counts as converged when ``||grad R|| < gtol``.

    Converged points that are critical only in floating point are set apart as *saturated*:
    a parameter above ``max_abs`` (a channel to infinity, M25) or a reduced network
    (:func:`~theory.critical_sets.reduce_network`) whose Hessian has condition number above
    ``max_cond`` (a neuron with ``|w . x_i| >~ 15`` everywhere, where ``tanh'`` is below
    round-off).
    """
    X, width, n_starts, init_scale, gtol, max_abs, max_cond, rng = _multistart_settings(
        X, y, width, rng, n_starts, init_scale, gtol, max_abs, max_cond)
    max_nfev = as_int("max_nfev", max_nfev, minimum=1)
    d = X.shape[1]
    y = np.asarray(y, dtype=float)
    act = _activation(activation)
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


# --------------------------------------------------------------------------------------------
# The Hessian criterion on a split line
# --------------------------------------------------------------------------------------------

def fa_matrix(theta: ArrayLike, X: ArrayLike, y: ArrayLike, k: int,
              activation: ActivationLike = "tanh") -> np.ndarray:
    """``B_k = a_k sum_i e_i sigma''(w_k . x_i) x_i x_i^T`` (FA00 Thm 3 as restated in M25 App. A.1;
    docs/04_critical_sets.md), a symmetric ``d x d`` matrix."""
    theta, X, y, m, d = _as_data(theta, X, y)
    k = as_int("k", k, minimum=0, maximum=m - 1)
    act = _activation(activation)
    assert act.second_derivative is not None          # _activation insists on it
    e = forward(theta, X, act) - y
    a, W, Z = _preactivations(theta, X, m, d)
    weights = a[k] * e * act.second_derivative(Z[:, k])
    return np.einsum("i,ij,il->jl", weights, X, X)


def inertia(eigenvalues: ArrayLike, zero_tol: float) -> tuple[int, int, int]:
    """``(n_negative, n_zero, n_positive)`` of a list of eigenvalues, counting ``|lambda| <=
    zero_tol`` as zero."""
    eig = as_float_array("eigenvalues", eigenvalues, min_ndim=1)
    zero_tol = as_float("zero_tol", zero_tol, minimum=0.0)
    eig = eig.ravel()
    return (int(np.sum(eig < -zero_tol)), int(np.sum(np.abs(eig) <= zero_tol)),
            int(np.sum(eig > zero_tol)))


def predicted_split_inertia(narrow_eigenvalues: ArrayLike, B: ArrayLike, lam: float,
                            zero_tol: float) -> tuple[int, int, int]:
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

def null_function(w: ArrayLike, theta: ArrayLike, X: ArrayLike, y: ArrayLike,
                  activation: ActivationLike = "tanh") -> np.ndarray:
    """``phi(w) = sum_i e_i sigma(w . x_i)``: the gradient in the output weight of a null neuron
    ``(0, w)`` added to ``theta`` (ZZL25 Prop. 4.2.1). ``w`` has shape ``(..., d)``."""
    theta, X, y, _, d = _as_data(theta, X, y)
    act = _activation(activation)
    w = as_float_array("w", w, min_ndim=1)
    if w.shape[-1] != d:
        raise ValueError(f"w must have last axis of length d = {d}, got shape {w.shape}")
    e = forward(theta, X, act) - y
    return act.fn(w @ X.T) @ e


def null_function_roots(theta: ArrayLike, X: ArrayLike, y: ArrayLike,
                        activation: ActivationLike = "tanh", *, w_max: float = 5.0,
                        n_grid: int = 2001, extra: ArrayLike = (),
                        tol: float = 1e-12) -> np.ndarray:
    """Roots of ``phi`` on ``[-w_max, w_max]`` for ``d = 1``: sign changes on a grid, plus the
    ``extra`` candidates (e.g. ``0`` and ``+-w_bar``, double roots a sign scan misses), each
    polished by Newton on ``phi`` (simple roots) and kept when ``|phi| <= tol``; sorted, unique."""
    theta, X, y, _, d = _as_data(theta, X, y)
    if d != 1:
        raise ValueError(f"X must have d = 1 input for the root scan, got d = {d}")
    w_max = as_float("w_max", w_max, minimum=0.0, strict_minimum=True)
    n_grid = as_int("n_grid", n_grid, minimum=3)
    tol = as_float("tol", tol, minimum=0.0)
    extra_w = (as_float_array("extra", extra, min_ndim=1).ravel() if np.size(extra)
               else np.zeros(0))
    act = _activation(activation)
    e = forward(theta, X, act) - y
    x = X[:, 0]

    def phi(w: ArrayLike) -> np.ndarray:
        return act.fn(np.multiply.outer(w, x)) @ e

    def dphi(w: ArrayLike) -> np.ndarray:
        return act.derivative(np.multiply.outer(w, x)) @ (e * x)

    grid = np.linspace(-w_max, w_max, n_grid)
    values = phi(grid)
    change = np.nonzero(values[:-1] * values[1:] < 0)[0]
    candidates = []
    for j in change:
        candidates.append(scipy.optimize.brentq(lambda w: float(phi(w)), grid[j], grid[j + 1],
                                                xtol=1e-15, rtol=4 * np.finfo(float).eps))
    candidates.extend(grid[values == 0.0])
    candidates.extend(extra_w)
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


def branch_scan(theta: ArrayLike, X: ArrayLike, y: ArrayLike, k: int, lambdas: ArrayLike,
                activation: ActivationLike = "tanh", *, kind: str = "split",
                progress: bool = False) -> BranchScan:
    """Evaluate ``R``, ``||grad R||`` and ``eig(H)`` along ``lam -> T_lam theta`` for the plain
    split (``kind="split"``) or the sign-flipped split (``kind="flip"``) of neuron ``k``.
    The spectra are computed by one batched ``eigvalsh`` call."""
    theta, X, y, m, d = _as_data(theta, X, y)
    k = as_int("k", k, minimum=0, maximum=m - 1)
    lambdas = as_float_array("lambdas", lambdas, ndim=1)
    if kind not in ("split", "flip"):
        raise ValueError(f"kind must be 'split' or 'flip', got {kind!r}")
    act = _activation(activation)
    if kind == "split":
        thetas = np.array([split_neuron(theta, d, k, lam) for lam in lambdas])
    else:
        thetas = np.array([flip_split_neuron(theta, d, k, lam, act) for lam in lambdas])
    losses, grads, hessians = [], [], []
    for th in _progress(thetas, enable=progress, desc="branch scan"):
        value, g = loss_and_gradient(th, X, y, act)
        losses.append(value)
        grads.append(np.linalg.norm(g))
        hessians.append(hessian(th, X, y, act))
    return BranchScan(lambdas, thetas, np.array(losses), np.array(grads),
                      np.linalg.eigvalsh(np.array(hessians)))


# --------------------------------------------------------------------------------------------
# Gradient flow
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FlowResult:
    """A gradient-flow trajectory ``d theta / dt = -grad R``: output times, states, losses.

    Not a :class:`~theory.training.Trajectory`: its points are the ODE solution at chosen
    times ``t`` (log-spaced), not the iterates ``0 .. n_steps`` of a discrete optimizer."""

    t: np.ndarray
    thetas: np.ndarray
    losses: np.ndarray


def gradient_flow(theta0: ArrayLike, X: ArrayLike, y: ArrayLike, t_max: float,
                  activation: ActivationLike = "tanh", *, n_eval: int = 200,
                  rtol: float = 1e-10, atol: float = 1e-12,
                  method: str = "LSODA") -> FlowResult:
    """Integrate ``d theta / dt = -grad R(theta)`` with ``solve_ivp`` (Jacobian ``-H``) on
    ``[0, t_max]``, output at ``n_eval`` log-spaced times (plus ``t = 0``).

    Raises :class:`~theory.errors.DivergenceError` (at a time ``t``) if the loss becomes
    non-finite or the solver fails.
    """
    theta0, X, y, _, _ = _as_data(theta0, X, y)
    t_max = as_float("t_max", t_max, minimum=0.0, strict_minimum=True)
    n_eval = as_int("n_eval", n_eval, minimum=2)
    rtol = as_float("rtol", rtol, minimum=0.0, strict_minimum=True)
    atol = as_float("atol", atol, minimum=0.0, strict_minimum=True)
    if method not in ("LSODA", "Radau", "BDF", "RK45", "DOP853"):
        raise ValueError(f"method must be a solve_ivp method name, got {method!r}")
    act = _activation(activation)
    t_eval = np.concatenate([[0.0], np.geomspace(min(1e-3, t_max), t_max, n_eval - 1)])
    t_eval = np.unique(t_eval)

    def rhs(_t: float, th: np.ndarray) -> np.ndarray:
        return -gradient(th, X, y, act)

    def jac(_t: float, th: np.ndarray) -> np.ndarray:
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
