"""Symbolic derivations for notebook 05 (epsilon-rank and the staircase), all ours.

After J. Yang, Y. Zhao, Q. Zhu, arXiv:2412.05144. The paper's body was not available; these
five derivations support our reconstruction (docs/05_effective_rank_staircase.md) and are
labelled as ours:

* :func:`orthonormal_sine_gram` (S1): ``int_{-1}^{1} sin(j pi x) sin(k pi x) dx = delta_jk``,
  hence the Eckart-Young tail ``tau_r^2 = K - r`` of lower bound B, and with amplitudes ``c_k``
  the sum of the ``K - r`` smallest ``c_k^2``;
* :func:`relu_pair_gram` (S2): the Gram matrix of two ReLU neurons with nearby kinks, its exact
  determinant and the small-``delta`` eigenvalue ``lambda_min ~ L_c delta^2 / 8``;
* :func:`duplicate_neuron_symmetry` (S3): gradient flow keeps duplicated neurons duplicated;
* :func:`bound_identities` (S4): the two norm identities behind Props A and B;
* :func:`frozen_feature_flow` (S5): the flow of the output weights with frozen features.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sympy as sp

from .._validate import as_float, as_int, as_sympy
from .common import frobenius_sq, is_zero

__all__ = ["orthonormal_sine_gram", "sine_tail_energy", "relu_pair_gram",
           "relu_pair_min_eigenvalue", "duplicate_neuron_symmetry", "cayley_orthogonal",
           "bound_identities",
           "frozen_feature_flow"]

x = sp.Symbol("x", real=True)


def _rational_residual(expr: sp.Expr) -> sp.Expr:
    """``expr`` as one fraction with an expanded numerator (0 iff ``expr`` vanishes identically).

    Much faster than ``simplify`` on the rational functions of the Cayley parametrisation.
    """
    numerator, denominator = sp.fraction(sp.together(expr))
    numerator = sp.expand(numerator)
    return sp.Integer(0) if numerator == 0 else numerator / denominator


# -- S1 ---------------------------------------------------------------------------------------
def orthonormal_sine_gram(n_targets: int) -> sp.Matrix:
    """``G_jk = int_{-1}^{1} sin(j pi x) sin(k pi x) dx`` for ``j, k = 1..K`` (exact).

    Sympy returns the identity: the targets of the multi-output experiment are orthonormal.
    """
    n_targets = as_int("n_targets", n_targets, minimum=1)
    return sp.Matrix(n_targets, n_targets,
                     lambda j, k: sp.integrate(sp.sin((j + 1) * sp.pi * x)
                                               * sp.sin((k + 1) * sp.pi * x), (x, -1, 1)))


def sine_tail_energy(amplitudes: Iterable[object], r: int) -> sp.Expr:
    """``tau_r^2`` for targets ``c_k sin(k pi x)``: the sum of the ``K - r`` smallest ``c_k^2``.

    The target Gram matrix is ``diag(c_k^2)`` (S1), its eigenvalues are the ``c_k^2``, and the
    Eckart-Young-Mirsky tail drops the ``r`` largest.
    """
    if isinstance(amplitudes, (str, bytes)) or not hasattr(amplitudes, "__iter__"):
        raise TypeError("amplitudes must be a sequence of numbers, got "
                        f"{type(amplitudes).__name__}")
    values: list[sp.Expr] = [as_sympy(f"amplitudes[{k}]", c) for k, c in enumerate(amplitudes)]
    if not values:
        raise ValueError("amplitudes must not be empty")
    r = as_int("r", r, minimum=0, maximum=len(values))
    gram = sp.diag(*[c**2 for c in values])
    eigenvalues = sorted(gram.eigenvals(multiple=True), key=lambda v: float(v), reverse=True)
    return sp.nsimplify(sum(eigenvalues[r:], sp.Integer(0)))


# -- S2 ---------------------------------------------------------------------------------------
def relu_pair_gram() -> dict[str, Any]:
    """Two ReLU neurons on ``[0, 1]`` with kinks at ``c`` and ``c + delta``.

    ``phi_1 = (x - c)_+``, ``phi_2 = (x - c - delta)_+``; with ``L = 1 - c`` the Gram matrix is
    ``M_11 = L^3/3``, ``M_22 = (L - delta)^3/3``, ``M_12 = int_{c+delta}^1 (x-c)(x-c-delta) dx``.
    Returns a dict with ``M``, ``det`` (factored), the claimed closed form
    ``delta^2 (L - delta)^3 (3L + delta) / 36``, the leading term of
    ``lambda_min ~ det / tr`` as ``delta -> 0`` (``L delta^2 / 8``) and the symbols.
    """
    c, delta, L = sp.symbols("c delta L_c", positive=True)
    m11 = sp.integrate((x - c) ** 2, (x, c, 1))
    m22 = sp.integrate((x - c - delta) ** 2, (x, c + delta, 1))
    m12 = sp.integrate((x - c) * (x - c - delta), (x, c + delta, 1))
    M = sp.Matrix([[m11, m12], [m12, m22]]).subs(c, 1 - L).applyfunc(sp.expand)
    det = sp.factor(M.det())
    closed_form = delta**2 * (L - delta) ** 3 * (3 * L + delta) / 36
    ratio_leading = sp.limit(det / M.trace() / delta**2, delta, 0)
    return {"M": M, "det": det, "closed_form": closed_form,
            "det_matches": is_zero(det - closed_form),
            "lambda_min_leading": sp.simplify(ratio_leading) * delta**2,
            "symbols": (c, delta, L)}


def relu_pair_min_eigenvalue(L_value: float, delta_value: float) -> float:
    """Exact smallest eigenvalue of the S2 Gram matrix at numeric ``L_c`` and ``delta``.

    Requires ``0 < L_c <= 1`` (the first kink inside ``[0, 1]``) and ``0 <= delta < L_c``.
    """
    L_float = as_float("L_value", L_value, minimum=0.0, maximum=1.0, strict_minimum=True)
    delta_float = as_float("delta_value", delta_value, minimum=0.0)
    if delta_float >= L_float:
        raise ValueError(f"delta_value must be < L_value, got {delta_float} >= {L_float}")
    data = relu_pair_gram()
    _, delta, L = data["symbols"]
    M = data["M"].subs({L: sp.nsimplify(L_value), delta: sp.nsimplify(delta_value)})
    return float(min(sp.re(v.evalf(30)) for v in M.eigenvals(multiple=True)))


# -- S3 ---------------------------------------------------------------------------------------
def duplicate_neuron_symmetry() -> dict[str, Any]:
    """Gradients of a two-neuron tanh model agree on the duplicated set.

    ``u = a1 tanh(w1 x + b1) + a2 tanh(w2 x + b2)``, per-sample loss ``(u - y)^2``. Returns the
    differences ``dl/d(a1, w1, b1) - dl/d(a2, w2, b2)`` restricted to ``a1=a2, w1=w2, b1=b2``
    (sympy simplifies each to 0) and the flag. A sum over samples keeps the property, so the
    duplicated set is invariant under gradient flow: the two neurons stay collinear and their
    Gram matrix stays singular.
    """
    a1, w1, b1, a2, w2, b2, y = sp.symbols("a1 w1 b1 a2 w2 b2 y", real=True)
    u = a1 * sp.tanh(w1 * x + b1) + a2 * sp.tanh(w2 * x + b2)
    loss = (u - y) ** 2
    duplicate = {a2: a1, w2: w1, b2: b1}
    diffs = sp.Matrix([sp.diff(loss, p) - sp.diff(loss, q)
                       for p, q in ((a1, a2), (w1, w2), (b1, b2))]).subs(duplicate)
    diffs = diffs.applyfunc(sp.simplify)
    return {"loss": loss, "differences": diffs, "invariant": is_zero(diffs)}


# -- S4 ---------------------------------------------------------------------------------------
def cayley_orthogonal(n: int, name: str = "s") -> tuple[sp.Matrix, list[sp.Symbol]]:
    """An exactly orthogonal ``n x n`` matrix ``Q = (I - S)(I + S)^{-1}``, ``S`` skew-symmetric.

    Returns ``(Q, params)``; ``Q^T Q = I`` holds identically in the parameters.
    """
    n = as_int("n", n, minimum=1)
    params = []
    S = sp.zeros(n, n)
    for i in range(n):
        for j in range(i + 1, n):
            p = sp.Symbol(f"{name}_{i + 1}{j + 1}", real=True)
            params.append(p)
            S[i, j], S[j, i] = p, -p
    identity = sp.eye(n)
    return (identity - S) * (identity + S).inv(), params


def bound_identities(n: int = 2, r: int = 1) -> dict[str, Any]:
    """The two identities behind Props A and B, on an ``n x n`` symbolic SVD.

    With ``Phi_W = U diag(sigma) V^T`` (``U``, ``V`` exactly orthogonal, Cayley form) and the
    tail ``E = sum_{k>r} sigma_k u_k v_k^T``:

    1. ``||E a||^2 = sum_{k>r} sigma_k^2 (v_k . a)^2`` (the error term in Prop A), and
    2. ``sigma_{r+1}^2 ||A||_F^2 - ||E A||_F^2 = sum_{k<=r} sigma_{r+1}^2 ||v_k^T A||^2
       + sum_{k>r} (sigma_{r+1}^2 - sigma_k^2) ||v_k^T A||^2``, a sum of non-negative terms
       when ``sigma`` is sorted, so ``||E A||_F <= sigma_{r+1} ||A||_F`` (Prop B; with
       ``sigma_{r+1}^2 <= eps`` this is the ``sqrt(eps) ||A||_F`` slack).

    Returns a dict of the two residuals (both simplify to 0) and the flags.
    """
    n = as_int("n", n, minimum=2, maximum=4)
    r = as_int("r", r, minimum=0, maximum=n - 1)
    U, _ = cayley_orthogonal(n, "p")
    V, _ = cayley_orthogonal(n, "q")
    sigma = sp.symbols(f"sigma_1:{n + 1}", positive=True)
    a = sp.Matrix(sp.symbols(f"a_1:{n + 1}", real=True))
    A = sp.Matrix(n, 2, lambda i, j: sp.Symbol(f"A_{i + 1}{j + 1}", real=True))
    E = sp.zeros(n, n)
    for k in range(r, n):
        E += sigma[k] * U[:, k] * V[:, k].T
    lhs1 = frobenius_sq(E * a)
    rhs1 = sum((sigma[k] ** 2 * (V[:, k].T * a)[0] ** 2 for k in range(r, n)), sp.Integer(0))
    residual1 = _rational_residual(lhs1 - rhs1)
    s_next = sigma[r]
    lhs2 = s_next**2 * frobenius_sq(A) - frobenius_sq(E * A)
    rows = [frobenius_sq(V[:, k].T * A) for k in range(n)]
    rhs2 = sum((s_next**2 * rows[k] for k in range(r)), sp.Integer(0)) \
        + sum(((s_next**2 - sigma[k] ** 2) * rows[k] for k in range(r, n)), sp.Integer(0))
    residual2 = _rational_residual(lhs2 - rhs2)
    return {"residual_A": residual1, "residual_B": residual2,
            "identity_A": residual1 == 0, "identity_B": residual2 == 0}


# -- S5 ---------------------------------------------------------------------------------------
def frozen_feature_flow() -> dict[str, Any]:
    """Output-weight flow with frozen features, diagonalised.

    ``da/dt = -2 (M a - Phi_W^T f_W)``; with ``e_k = v_k . (a - a*)`` each mode obeys
    ``de_k/dt = -2 lambda_k e_k`` (solved by ``dsolve``: ``e_k(0) exp(-2 lambda_k t)``), the loss is
    ``L = L_inf + sum_k lambda_k e_k^2`` (checked as the polynomial identity
    ``||Phi a - f||^2 - ||Phi a* - f||^2 = (a - a*)^T M (a - a*) + 2 (a - a*)^T (M a* - Phi^T f)``
    on a 3 x 2 example, whose last term vanishes at the least-squares solution ``a*``) and
    therefore ``L(t) = L_inf + sum_k lambda_k e_k(0)^2 exp(-4 lambda_k t)``; discrete GD with
    step ``eta`` multiplies ``e_k`` by ``1 - 2 eta lambda_k`` per step (``rsolve``).
    """
    t = sp.Symbol("t", nonnegative=True)
    lam, e0, eta = sp.symbols("lambda_k e_k0 eta", positive=True)
    e = sp.Function("e_k")
    flow = sp.dsolve(sp.Eq(e(t).diff(t), -2 * lam * e(t)), e(t), ics={e(0): e0})
    step = sp.Symbol("n", integer=True, nonnegative=True)
    g = sp.Function("g")
    discrete = sp.rsolve(g(step + 1) - (1 - 2 * eta * lam) * g(step), g(step), {g(0): e0})
    # quadratic identity on a 3 x 2 example: for any a*,
    # ||Phi a - f||^2 - ||Phi a* - f||^2 - (a - a*)^T M (a - a*) = 2 (a - a*)^T (M a* - Phi^T f),
    # which vanishes when a* solves the normal equations M a* = Phi^T f (polynomial, exact).
    Phi = sp.Matrix(3, 2, lambda i, j: sp.Symbol(f"phi_{i + 1}{j + 1}", real=True))
    f = sp.Matrix(sp.symbols("f_1:4", real=True))
    a = sp.Matrix(sp.symbols("a_1:3", real=True))
    a_star = sp.Matrix(sp.symbols("astar_1:3", real=True))
    M = Phi.T * Phi
    lhs = frobenius_sq(Phi * a - f) - frobenius_sq(Phi * a_star - f)
    rhs = ((a - a_star).T * M * (a - a_star))[0] \
        + 2 * ((a - a_star).T * (M * a_star - Phi.T * f))[0]
    residual = sp.expand(lhs - rhs)
    loss_t = sp.Symbol("L_inf") + lam * flow.rhs**2
    return {"flow": flow, "discrete": discrete, "loss_mode": sp.simplify(loss_t),
            "flow_ok": sp.simplify(flow.rhs - e0 * sp.exp(-2 * lam * t)) == 0,
            "discrete_ok": sp.simplify(discrete - e0 * (1 - 2 * eta * lam) ** step) == 0,
            "quadratic_residual": residual, "quadratic_ok": residual == 0}
