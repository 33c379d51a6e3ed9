"""Sympy derivations for the effective gradient flow of ReLU training (T. Chen, arXiv:2501.07400).

All of it is **our reconstruction** (the paper's body was not available); see
``theory/relu_flow.py``, ``theory/relu_thresholds.py`` and ``docs/03_dynamical_truncation.md``.
The derivations work region by region: on a fixed truncation pattern every ``max``/ReLU is
replaced by its branch, so the expressions are polynomial/rational and ``simplify`` can decide
the identities exactly.

* :func:`flow_on_region`         1-D cost on the region x_1<..<x_K<theta<x_{K+1}<..: gradient
                                  ``(K/N)(theta - ybar)``, ``dsolve`` of the flow, crossing time;
* :func:`two_layer_identities`   sigma o A^(l) = A^(l) o tau^(l), beta^(2) sum formula and the
                                  two-layer representation on a fixed activation pattern;
* :func:`projector_identities`   Pi^2 = Pi, dPi = W^{-1}[P, dW W^{-1}] W, the closed-form gradient
                                  in W, whose diagonal vanishes for diagonal W;
* :func:`scalar_metric_factor`   J J^T for two scalar layers and the factor (1 + theta^2)/w^2 by
                                  which the per-parameter flow of one scalar layer rescales (E1);
* :func:`spectral_gap_ode`       theta' = -c G (theta - ybar) solved through G's eigendecomposition.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numbers

import sympy as sp

from .._validate import as_int
from .common import is_zero, matrix_symbols

__all__ = ["flow_on_region", "two_layer_identities", "projector_identities",
           "scalar_metric_factor", "spectral_gap_ode", "relu_on_pattern", "truncation_on_pattern"]


def _vanishes(expr: Any) -> bool:
    """Exact zero test: ``cancel`` (fast, decisive for rational functions), then ``simplify``."""
    entries = list(expr) if isinstance(expr, sp.MatrixBase) else [expr]
    return all(sp.cancel(e) == 0 or is_zero(e) for e in entries)


def _pattern_matrix(pattern: Sequence[int]) -> sp.Matrix:
    """``diag(pattern)`` for a 0/1 tuple (1 = coordinate truncated, i.e. pre-activation < 0)."""
    if isinstance(pattern, (str, bytes)) or not hasattr(pattern, "__iter__"):
        raise TypeError(f"pattern must be a tuple of 0/1 entries, got {type(pattern).__name__}")
    pattern = tuple(pattern)
    if not pattern:
        raise ValueError("pattern must not be empty")
    if any(not isinstance(p, numbers.Integral) or p not in (0, 1) for p in pattern):
        raise ValueError(f"pattern must hold 0/1 entries, got {pattern!r}")
    return sp.diag(*[sp.Integer(p) for p in pattern])


def _column(name: str, value: Any, n: int) -> sp.Matrix:
    """A sympy column of length ``n`` (``TypeError`` naming ``name`` otherwise)."""
    if not isinstance(value, sp.MatrixBase) or value.shape != (n, 1):
        raise TypeError(f"{name} must be a sympy column Matrix of length {n}, got {value!r}")
    return value


def relu_on_pattern(z: sp.Matrix, pattern: Sequence[int]) -> sp.Matrix:
    """``relu(z)`` on the region where ``z_i < 0`` exactly for ``pattern_i = 1``: ``(I - P) z``."""
    P = _pattern_matrix(pattern)
    z = _column("z", z, P.shape[0])
    return (sp.eye(P.shape[0]) - P) * z


def truncation_on_pattern(W: sp.Matrix, beta: sp.Matrix, x: sp.Matrix,
                          pattern: Sequence[int]) -> sp.Matrix:
    """``tau(x) = x - W^{-1} P W (x + beta)`` on a fixed pattern (docs Sec. 3)."""
    P = _pattern_matrix(pattern)
    n = P.shape[0]
    if not isinstance(W, sp.MatrixBase) or W.shape != (n, n):
        raise TypeError(f"W must be a sympy Matrix of shape {(n, n)}, got {W!r}")
    beta, x = _column("beta", beta, n), _column("x", x, n)
    return x - W.inv() * P * W * (x + beta)


def flow_on_region(n_points: int = 3, n_truncated: int = 2) -> dict:
    """1-D input cost on one truncation region, its gradient, the flow and the crossing time.

    ``C = (1/2N) sum_j (max(x_j, theta) - ybar)^2``; on ``x_1<..<x_K<theta<x_{K+1}<..`` each
    ``Max`` is replaced by its branch, giving ``dC/dtheta = (K/N)(theta - ybar)``.  The flow
    ``theta' = -(K/N)(theta - ybar)`` is solved with ``dsolve`` and the time at which
    ``theta`` reaches ``x_{K+1}`` with ``solve``.  Returns a dict of sympy objects and checks.
    """
    N = as_int("n_points", n_points, minimum=2)
    K = as_int("n_truncated", n_truncated, minimum=1, maximum=N - 1)
    theta, ybar, theta0 = sp.symbols("theta ybar theta_0", real=True)
    s = sp.Symbol("s", nonnegative=True)
    xs = sp.symbols(f"x1:{N + 1}", real=True)
    cost = sum((sp.Max(x, theta) - ybar) ** 2 for x in xs) / (2 * N)
    branch = {sp.Max(x, theta): (theta if j < K else x) for j, x in enumerate(xs)}
    cost_region = cost.subs(branch)
    gradient = sp.factor(sp.diff(cost_region, theta))
    th = sp.Function("theta")
    ode = sp.Eq(th(s).diff(s), -sp.Rational(K, N) * (th(s) - ybar))
    solution = sp.dsolve(ode, th(s), ics={th(0): theta0}).rhs
    expected_solution = ybar + (theta0 - ybar) * sp.exp(-sp.Rational(K, N) * s)
    target = xs[K]
    # crossing: solve ybar + (theta0 - ybar) e^{-Ks/N} = x_{K+1} for s (positive symbols
    # d0 = ybar - theta0 > d1 = ybar - x_{K+1} > 0 keep the logarithm real)
    d0, d1 = sp.symbols("d_0 d_1", positive=True)
    crossing_eq = sp.Eq(solution.subs({theta0: ybar - d0}), ybar - d1)
    roots = sp.solve(crossing_eq, s)
    ratio = sp.simplify(sp.exp(sp.expand(roots[0] * sp.Rational(K, N))))   # = d0 / d1
    crossing = sp.Rational(N, K) * sp.log(ratio.subs({d0: ybar - theta0, d1: ybar - target}))
    expected_crossing = sp.Rational(N, K) * sp.log((ybar - theta0) / (ybar - target))
    return {
        "cost": cost, "cost_region": cost_region, "gradient": gradient,
        "gradient_ok": is_zero(gradient - sp.Rational(K, N) * (theta - ybar)),
        "ode": ode, "solution": solution,
        "solution_ok": is_zero(solution - expected_solution),
        "crossing_time": crossing,
        "crossing_ok": len(roots) == 1 and is_zero(
            sp.expand_log(crossing - expected_crossing, force=True)),
        "symbols": {"theta": theta, "ybar": ybar, "theta0": theta0, "s": s, "x": xs},
    }


def two_layer_identities(pattern1: Sequence[int] = (1, 0),
                         pattern2: Sequence[int] = (0, 1)) -> dict:
    """Two layers, ``M = 2``, symbolic ``W_1, W_2, b_1, b_2, x`` on fixed activation patterns.

    Checks (each a residual that must simplify to zero):
    ``relu(A^(l) z) - A^(l)(tau^(l)(z))`` for ``l = 1, 2``;
    ``beta^(2) - [W_1^{-1} b_1 + (W_2 W_1)^{-1} b_2]``;
    ``x^(2) - A^(2)(tau^(2)(tau^(1)(x)))`` (docs Sec. 3).
    """
    W1, W2 = matrix_symbols("v", 2, 2), matrix_symbols("w", 2, 2)
    b1, b2 = matrix_symbols("b", 2, 1), matrix_symbols("c", 2, 1)
    x = matrix_symbols("x", 2, 1)
    Wc1, Wc2 = W1, W2 * W1
    bc1, bc2 = b1, W2 * b1 + b2
    beta1, beta2 = Wc1.inv() * bc1, Wc2.inv() * bc2
    z = matrix_symbols("z", 2, 1)
    res_layer1 = relu_on_pattern(Wc1 * z + bc1, pattern1) - Wc1 * (
        truncation_on_pattern(Wc1, beta1, z, pattern1) + beta1)
    res_layer2 = relu_on_pattern(Wc2 * z + bc2, pattern2) - Wc2 * (
        truncation_on_pattern(Wc2, beta2, z, pattern2) + beta2)
    res_beta2 = beta2 - (W1.inv() * b1 + (W2 * W1).inv() * b2)
    x1 = relu_on_pattern(W1 * x + b1, pattern1)
    x2 = relu_on_pattern(W2 * x1 + b2, pattern2)
    chain = truncation_on_pattern(Wc2, beta2, truncation_on_pattern(Wc1, beta1, x, pattern1),
                                  pattern2)
    res_network = x2 - Wc2 * (chain + beta2)
    return {
        "beta2": sp.simplify(beta2),
        "layer1_ok": _vanishes(res_layer1), "layer2_ok": _vanishes(res_layer2),
        "beta2_ok": _vanishes(res_beta2), "network_ok": _vanishes(res_network),
    }


def projector_identities(pattern: Sequence[int] = (1, 0)) -> dict:
    """Oblique projector ``Pi = W^{-1} P W`` for a symbolic 2x2 ``W``.

    Returns the residuals' verdicts for ``Pi^2 = Pi``, for ``dPi/dW_kl = W^{-1}[P, E_kl W^{-1}] W``
    (every entry ``kl``), and for the closed-form gradient of the one-point cost
    ``c = |tau(x) - ybar|^2 / 2`` in ``W`` (``beta`` fixed)::

        dc/dW = -(P a u^T - a (Pi u)^T),   u = x + beta,  a = W^{-T}(tau(x) - ybar),

    together with that gradient for diagonal ``W`` (its diagonal must vanish).
    """
    P = _pattern_matrix(pattern)
    W = matrix_symbols("w", 2, 2)
    beta, x = matrix_symbols("beta", 2, 1), matrix_symbols("x", 2, 1)
    ybar = matrix_symbols("y", 2, 1)
    Winv = W.inv()
    Pi = Winv * P * W
    ok_derivative = True
    for k in range(2):
        for l in range(2):
            E = sp.zeros(2, 2)
            E[k, l] = 1
            formula = Winv * (P * E * Winv - E * Winv * P) * W
            ok_derivative &= _vanishes(Pi.diff(W[k, l]) - formula)
    u = x + beta
    tau = x - Pi * u
    r = tau - ybar
    cost = (r.T * r)[0, 0] / 2
    grad_sym = sp.Matrix(2, 2, lambda k, l: sp.diff(cost, W[k, l]))
    a = Winv.T * r
    grad_closed = -(P * a * u.T - a * (Pi * u).T)
    diag_subs = {W[0, 1]: 0, W[1, 0]: 0}
    grad_diag = sp.simplify(grad_closed.subs(diag_subs))
    return {
        "Pi": sp.simplify(Pi),
        "idempotent_ok": _vanishes(Pi * Pi - Pi),
        "derivative_ok": ok_derivative,
        "gradient_ok": _vanishes(grad_sym - grad_closed),
        "gradient_diagonal_W": grad_diag,
        "diagonal_vanishes_ok": all(sp.simplify(grad_diag[i, i]) == 0 for i in range(2)),
        "offdiagonal_nonzero": any(sp.simplify(grad_diag[i, k]) != 0
                                   for i in range(2) for k in range(2) if i != k),
    }


def scalar_metric_factor() -> dict:
    """Chain rule from per-layer parameters to thresholds, scalar layers (docs Sec. 7).

    Two scalar layers ``w_1, w_2``: ``beta^(1) = b_1/w_1``, ``beta^(2) = b_1/w_1 + b_2/(w_2 w_1)``,
    ``J = d(beta)/d(b)`` and ``J J^T`` (block formula ``sum_{k<=min(l,l')} (W^(k))^{-2}``).
    One scalar layer with ``theta = -b/w`` and a cost ``C(theta)``: the flow
    ``(w', b') = -grad C`` induces ``theta' = -(1 + theta^2)/w^2 C'(theta)``, i.e. (E1) times the
    metric factor ``(1 + theta^2)/w^2``.
    """
    w1, w2 = sp.symbols("w_1 w_2", positive=True)
    b1, b2, w, b = sp.symbols("b_1 b_2 w b", real=True)
    betas = sp.Matrix([b1 / w1, b1 / w1 + b2 / (w2 * w1)])
    J = betas.jacobian(sp.Matrix([b1, b2]))
    JJt = sp.simplify(J * J.T)
    block = sp.Matrix([[1 / w1**2, 1 / w1**2], [1 / w1**2, 1 / w1**2 + 1 / (w1 * w2)**2]])
    Cp = sp.Function("C")
    theta = -b / w
    cost = Cp(theta)
    w_dot, b_dot = -sp.diff(cost, w), -sp.diff(cost, b)
    theta_dot = sp.diff(theta, w) * w_dot + sp.diff(theta, b) * b_dot
    th = sp.Symbol("theta", real=True)
    cprime = sp.Subs(sp.Derivative(Cp(th), th), th, theta).doit()
    factor = sp.simplify(theta_dot / (-cprime))
    factor_theta = sp.simplify(factor.subs(b, -th * w))
    return {
        "J": J, "JJt": JJt, "JJt_ok": _vanishes(JJt - block),
        "theta_dot": sp.simplify(theta_dot), "metric_factor": factor_theta,
        "metric_factor_ok": _vanishes(factor_theta - (1 + th**2) / w**2),
    }


def spectral_gap_ode(G: Any = None) -> dict:
    """``theta' = -c G (theta - ybar)`` for a symmetric positive-definite 2x2 ``G``.

    ``G = V D V^{-1}`` (``diagonalize``),
    ``theta(s) = ybar + V exp(-c D s) V^{-1}(theta_0 - ybar)``; the ODE residual and the initial
    condition are checked to vanish, and the slowest rate ``c lambda_min`` is returned.  ``G``
    defaults to the fully symbolic ``[[g11, g12], [g12, g22]]``.
    """
    c, s = sp.symbols("c s", positive=True)
    if G is None:
        g11, g22 = sp.symbols("g_11 g_22", positive=True)
        g12 = sp.Symbol("g_12", real=True)
        G = sp.Matrix([[g11, g12], [g12, g22]])
    G = sp.Matrix(G)
    if G.shape != (2, 2) or not _vanishes(G - G.T):
        raise ValueError("G must be a symmetric 2x2 matrix")
    e0 = matrix_symbols("e", 2, 1)
    V, D = G.diagonalize()
    expD = sp.diag(*[sp.exp(-c * D[i, i] * s) for i in range(2)])
    error = V * expD * V.inv() * e0                     # theta(s) - ybar
    residual = error.diff(s) + c * G * error
    lam = [D[0, 0], D[1, 1]]
    return {
        "eigenvalues": lam, "error": error,
        "ode_ok": _vanishes(residual),
        "initial_ok": _vanishes(error.subs(s, 0) - e0),
        "slowest_rate": c * sp.Min(*lam),
    }
