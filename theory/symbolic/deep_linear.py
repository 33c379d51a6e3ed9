"""Sympy derivations for the law of parsimony (Yaras et al., arXiv:2306.01154; the derivations
of docs/01_law_of_parsimony.md).

Everything here is a reconstruction (**[ours]**) that supports the paper's abstract:

* the layer gradients of ``1/2 ||W_L ... W_1 - Phi||_F^2`` against the closed form
  ``G_l = W_{L:l+1}^T E W_{l-1:1}^T`` (2x2 symbol matrices, ``L = 3``);
* balancedness ``D_l = W_{l+1}^T W_{l+1} - W_l W_l^T``: one GD step changes it by exactly
  ``eta^2 (G_{l+1}^T G_{l+1} - G_l G_l^T)`` (the first-order term cancels), so it is conserved by
  gradient flow;
* the first GD step from ``eps I`` on ``Phi = u v^T`` moves ``W_1`` only inside ``span{u, v}``;
* the complement ODE ``rho' = -rho^{2L-1}`` and its closed form, and the local error of the GD map;
* the scalar balanced dynamics ``w' = -w^{L-1}(w^L - phi)``: the logistic solution for ``L = 2``
  and the plateau length ``eps^{2-L} / ((L-2) phi)`` for ``L >= 3``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sympy as sp

from .._validate import as_int
from .common import frobenius_sq, matrix_gradient, matrix_symbols

__all__ = [
    "chain",
    "layer_gradients",
    "gradient_discrepancy",
    "balancedness_expansion",
    "balancedness_first_order",
    "first_step_off_span",
    "complement_flow",
    "complement_ode_residual",
    "complement_local_error",
    "end_to_end_law",
    "logistic_solution",
    "logistic_residual",
    "plateau_time",
    "plateau_leading_term",
]


def _product(mats: Sequence[Any]) -> Any:
    out = sp.eye(mats[0].shape[1])
    for M in mats:
        out = M * out
    return out


def chain(depth: int = 3, n: int = 2) -> tuple[list[sp.Matrix], sp.Matrix]:
    """Symbol matrices ``W_1 .. W_L`` and ``Phi`` (``n x n``) for the symbolic checks."""
    depth = as_int("depth", depth, minimum=1)
    n = as_int("n", n, minimum=1)
    Ws = [matrix_symbols(f"w{l + 1}", n, n) for l in range(depth)]
    Phi = matrix_symbols("phi", n, n)
    return Ws, Phi


def layer_gradients(Ws: Sequence[sp.Matrix], Phi: sp.Matrix) -> list[sp.Matrix]:
    """Closed-form gradients ``G_l = W_{L:l+1}^T (W_{L:1} - Phi) W_{l-1:1}^T``
    (docs/01_law_of_parsimony.md, section 1)."""
    if isinstance(Ws, (str, bytes)) or not hasattr(Ws, "__len__") or not len(Ws):
        raise TypeError(f"Ws must be a non-empty list of square sympy matrices, got {Ws!r}")
    if not isinstance(Phi, sp.MatrixBase) or Phi.rows != Phi.cols:
        raise TypeError(f"Phi must be a square sympy Matrix, got {type(Phi).__name__}")
    if not all(isinstance(W, sp.MatrixBase) and W.shape == Phi.shape for W in Ws):
        raise TypeError(f"Ws must hold sympy matrices of the shape of Phi {Phi.shape}")
    E = _product(Ws) - Phi
    n = Phi.shape[0]
    grads = []
    for l in range(len(Ws)):
        above = _product(Ws[l + 1:]) if l + 1 < len(Ws) else sp.eye(n)
        below = _product(Ws[:l]) if l > 0 else sp.eye(n)
        grads.append(above.T * E * below.T)
    return grads


def gradient_discrepancy(depth: int = 3, n: int = 2) -> list[sp.Matrix]:
    """Entrywise derivative of ``1/2 sum_ij (W_{L:1} - Phi)_ij^2`` minus the closed form, expanded.

    Returns the list of ``L`` difference matrices (all zero when the closed form is right).
    """
    Ws, Phi = chain(depth, n)
    loss = frobenius_sq(_product(Ws) - Phi) / 2
    closed = layer_gradients(Ws, Phi)
    return [(matrix_gradient(loss, W) - G).applyfunc(sp.expand) for W, G in zip(Ws, closed)]


def balancedness_expansion(n: int = 2) -> Any:
    """``D(W - eta G) - D(W)`` for generic symbol matrices, as a polynomial in ``eta``.

    ``D = B^T B - A A^T`` for consecutive layers ``A = W_l``, ``B = W_{l+1}`` with generic
    "gradients" ``G_A``, ``G_B``. Returns ``(eta, first, second, remainder)``: the coefficients of
    ``eta`` and ``eta^2`` and the expanded difference minus both (zero: the expansion is exact).
    """
    n = as_int("n", n, minimum=1)
    eta = sp.Symbol("eta", positive=True)
    A, B = matrix_symbols("a", n, n), matrix_symbols("b", n, n)
    GA, GB = matrix_symbols("ga", n, n), matrix_symbols("gb", n, n)

    def D(X: sp.Matrix, Y: sp.Matrix) -> sp.Matrix:
        return Y.T * Y - X * X.T

    diff = (D(A - eta * GA, B - eta * GB) - D(A, B)).applyfunc(sp.expand)
    first = -(B.T * GB + GB.T * B - A * GA.T - GA * A.T)
    second = GB.T * GB - GA * GA.T
    remainder = (diff - eta * first - eta**2 * second).applyfunc(sp.expand)
    return eta, first, second, remainder


def balancedness_first_order(depth: int = 3, n: int = 2) -> list[sp.Matrix]:
    """The ``eta``-coefficient of ``D_l`` after one GD step with the true gradients:
    ``W_{l+1}^T G_{l+1} - G_l W_l^T`` (its symmetric part is the coefficient), expanded, for
    every ``l = 1 .. L-1``. All zero: both equal ``W_{L:l+1}^T E W_{l:1}^T``."""
    Ws, Phi = chain(depth, n)
    G = layer_gradients(Ws, Phi)
    return [(Ws[l + 1].T * G[l + 1] - G[l] * Ws[l].T).applyfunc(sp.expand)
            for l in range(len(Ws) - 1)]


def first_step_off_span(depth: int = 3) -> Any:
    """One GD step from ``W_l = eps I_3`` (``O = I``) on ``Phi = u v^T`` (numeric ``u, v``).

    Returns ``(M, P_perp)`` with ``M = W_1(1) - (eps - eta eps^{2L-1}) I`` and ``P_perp`` the
    projector onto ``span{u, v}^perp``; ``P_perp M`` and ``M P_perp`` simplify to zero.
    """
    L = as_int("depth", depth, minimum=1)
    eps, eta = sp.symbols("epsilon eta", positive=True)
    u = sp.Matrix([1, 2, -1])
    v = sp.Matrix([0, 1, 3])
    Phi = u * v.T
    Ws = [eps * sp.eye(3) for _ in range(L)]
    G1 = layer_gradients(Ws, Phi)[0]
    W1 = Ws[0] - eta * G1
    M = (W1 - (eps - eta * eps ** (2 * L - 1)) * sp.eye(3)).applyfunc(sp.simplify)
    basis = sp.Matrix.hstack(u, v)
    P = basis * (basis.T * basis).inv() * basis.T
    P_perp = sp.eye(3) - P
    return M, P_perp


def complement_flow(depth: int | None = None) -> tuple[Any, Any, Any, Any]:
    """``rho(t) = (eps^{2-2L} + (2L-2) t)^{1/(2-2L)}`` (symbolic ``L`` when ``depth`` is None)."""
    t = sp.Symbol("t", nonnegative=True)
    eps = sp.Symbol("epsilon", positive=True)
    L = sp.Symbol("L", positive=True, integer=True) if depth is None else \
        sp.Integer(as_int("depth", depth, minimum=2))
    rho = (eps ** (2 - 2 * L) + (2 * L - 2) * t) ** (1 / (2 - 2 * L))
    return rho, t, eps, L


def complement_ode_residual(depth: int | None = None) -> tuple[Any, Any]:
    """``rho' + rho^{2L-1}`` and ``rho(0) - eps`` for :func:`complement_flow`, simplified."""
    rho, t, eps, L = complement_flow(depth)
    residual = sp.diff(rho, t) + rho ** (2 * L - 1)
    residual = sp.simplify(sp.powsimp(sp.powdenest(residual, force=True), force=True))
    initial = sp.simplify(sp.powdenest(rho.subs(t, 0), force=True) - eps)
    return residual, initial


def complement_local_error(depth: int) -> tuple[Any, Any]:
    """Leading term of ``rho_GD(one step) - rho_flow(eta)``: ``-(2L-1)/2 eps^{4L-3} eta^2``.

    Returns ``(series_difference, expected)``."""
    depth = as_int("depth", depth, minimum=1)
    rho, t, eps, L = complement_flow(depth)
    eta = sp.Symbol("eta", positive=True)
    gd = eps - eta * eps ** (2 * L - 1)
    flow = sp.series(rho.subs(t, eta), eta, 0, 3).removeO()
    diff = sp.expand(sp.powsimp(gd - flow, force=True))
    expected = -sp.Rational(2 * int(L) - 1, 2) * eps ** (4 * L - 3) * eta**2
    return diff, expected


def end_to_end_law(depth: int | None = None) -> Any:
    """From ``w' = -w^{L-1}(w^L - phi)`` to ``p = w^L``: returns ``p' - (-L p^{2-2/L}(p - phi))``
    expressed in ``w`` and simplified (zero)."""
    w, phi = sp.symbols("w phi", positive=True)
    L = sp.Symbol("L", positive=True) if depth is None else sp.Integer(depth)
    w_dot = -w ** (L - 1) * (w**L - phi)
    p = w**L
    p_dot = sp.diff(p, w) * w_dot
    law = -L * p ** (2 - 2 / L) * (p - phi)
    return sp.simplify(sp.powsimp(sp.expand_power_base(p_dot - law, force=True), force=True))


def logistic_solution() -> tuple[Any, Any, Any, Any]:
    """``u(t) = phi / (1 + (phi/eps^2 - 1) e^{-2 phi t})`` for ``u = w^2`` at ``L = 2``."""
    t = sp.Symbol("t", nonnegative=True)
    phi, eps = sp.symbols("phi epsilon", positive=True)
    u = phi / (1 + (phi / eps**2 - 1) * sp.exp(-2 * phi * t))
    return u, t, phi, eps


def logistic_residual() -> tuple[Any, Any]:
    """``u' - 2u(phi - u)`` and ``u(0) - eps^2`` for :func:`logistic_solution`, simplified."""
    u, t, phi, eps = logistic_solution()
    return sp.simplify(sp.diff(u, t) - 2 * u * (phi - u)), sp.simplify(u.subs(t, 0) - eps**2)


def plateau_time(depth: int) -> tuple[Any, tuple[Any, Any, Any]]:
    """Implicit flow time ``t(p) = int_{eps^L}^p dq / (L q^{2-2/L} (phi - q))`` as a sympy
    ``Integral`` (unevaluated; sympy evaluates it for ``L = 3, 4`` in logs and arctans)."""
    L = as_int("depth", depth, minimum=2)
    q, p = sp.symbols("q p", positive=True)
    phi, eps = sp.symbols("phi epsilon", positive=True)
    integrand = 1 / (L * q ** (2 - sp.Rational(2, L)) * (phi - q))
    return sp.Integral(integrand, (q, eps**L, p)), (p, phi, eps)


def plateau_leading_term(depth: int | None = None) -> tuple[Any, Any]:
    """Leading small-``eps`` plateau length for ``L >= 3``:
    ``int_{eps^L}^oo dq / (L phi q^{2-2/L}) = eps^{2-L} / ((L-2) phi)``.

    Returns ``(integral_value, expected)`` (symbolic ``L > 2`` when ``depth`` is None)."""
    q = sp.Symbol("q", positive=True)
    phi, eps = sp.symbols("phi epsilon", positive=True)
    if depth is None:
        k = sp.Symbol("k", positive=True)   # L = 2 + k, k > 0
        L_val = 2 + k
    else:
        L_val = sp.Integer(as_int("depth", depth, minimum=3))
    value = sp.integrate(1 / (L_val * phi * q ** (2 - 2 / L_val)), (q, eps**L_val, sp.oo))
    expected = eps ** (2 - L_val) / ((L_val - 2) * phi)
    value = sp.simplify(sp.powsimp(sp.powdenest(value, force=True), force=True))
    return value, expected
