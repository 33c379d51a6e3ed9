"""Symbolic derivations for the giant-step notebook (Dandi et al., arXiv:2305.18270).

Everything here is our derivation, consistent with the papers' abstracts:

* :func:`batch_gradient_check` differentiates L = (1/2n) sum (y - (1/sqrt p) a^T sigma(W x))^2
  at small symbolic sizes and compares it with the closed form used by
  :func:`theory.two_layer.batch_gradient` (pins the 1/n, 1/sqrt p and 1/2 factors);
* :func:`relu_hermite`, :func:`erf_hermite`: exact mu_k = E[sigma He_k];
* :func:`gaussian_moment_expectation`: exact E[polynomial] under independent N(0,1) variables
  (Isserlis: E[x^{2m}] = (2m-1)!!), from which :func:`target_hermite` builds C0, C1, C2;
* :func:`mehler_table`, :func:`stein_identity_residual`: E[He_j(xi) He_k(h)] = delta_jk k! rho^k and
  E[sigma'(xi) h] = rho E[sigma''(xi)];
* :func:`staircase_coefficient`: the step-2 component E[y sigma'(xi) x_2] for y = x1 + x1 x2;
* :func:`neuron_cosine_expression`, :func:`spike_cosine_expression`: the closed-form predictions.
"""

from __future__ import annotations

from collections.abc import Sequence

import sympy as sp

from .._validate import as_int, as_sympy
from .common import matrix_gradient, matrix_symbols

__all__ = ["batch_gradient_check", "relu_hermite", "half_line_moment", "erf_hermite",
           "tanh_is_odd_hermite",
           "gaussian_moment_expectation", "target_hermite", "mehler_table",
           "stein_identity_residual", "staircase_coefficient", "relu_second_derivative_mean",
           "neuron_cosine_expression", "spike_cosine_expression", "lr_exponent"]

XI = sp.Symbol("xi", real=True)


def batch_gradient_check(d: int = 3, p: int = 2, n: int = 2
                         ) -> tuple[sp.Matrix, sp.Matrix, sp.Matrix]:
    """Symbolic gradient of the batch loss vs the closed form; returns ``(grad, closed, diff)``.

    L = (1/2n) sum_nu (y_nu - (1/sqrt p) sum_i a_i sigma(w_i . x_nu))^2 with a generic
    ``sigma = sp.Function("sigma")``; closed form
    dL/dW_ij = -(1/n) sum_nu r_nu (a_i/sqrt p) sigma'(w_i . x_nu) x_nu,j. ``diff`` is their
    difference, which simplifies to the zero matrix.
    """
    d = as_int("d", d, minimum=1, maximum=6)
    p = as_int("p", p, minimum=1, maximum=6)
    n = as_int("n", n, minimum=1, maximum=6)
    sigma = sp.Function("sigma")
    W = matrix_symbols("W", p, d)
    X = matrix_symbols("x", n, d)
    a = sp.Matrix(p, 1, lambda i, _: sp.Symbol(f"a_{i + 1}", real=True))
    y = sp.Matrix(n, 1, lambda v, _: sp.Symbol(f"y_{v + 1}", real=True))
    pre = X * W.T                                            # (n, p) pre-activations
    f = [sum(a[i] * sigma(pre[v, i]) for i in range(p)) / sp.sqrt(p) for v in range(n)]
    r = [y[v] - f[v] for v in range(n)]
    loss = sum(rv**2 for rv in r) / (2 * n)
    grad = matrix_gradient(loss, W)
    closed = sp.Matrix(p, d, lambda i, j: -sum(
        r[v] * a[i] / sp.sqrt(p) * sp.Subs(sp.Derivative(sigma(XI), XI), XI, pre[v, i]).doit()
        * X[v, j] for v in range(n)) / n)
    diff = (grad - closed).applyfunc(sp.simplify)
    return grad, closed, diff


def _gauss(x: sp.Expr) -> sp.Expr:
    return sp.exp(-x**2 / 2) / sp.sqrt(2 * sp.pi)


def relu_hermite(k_max: int = 5) -> list[sp.Expr]:
    """Exact mu_k = E[relu(xi) He_k(xi)] = int_0^inf x He_k(x) phi(x) dx, k = 0..k_max."""
    k_max = as_int("k_max", k_max, minimum=0, maximum=12)
    x = sp.Symbol("x", real=True)
    return [sp.simplify(sum(coeff * half_line_moment(powers[0]) for powers, coeff in
                            sp.Poly(x * sp.hermite_prob(k, x), x).terms()))
            for k in range(k_max + 1)]


def half_line_moment(m: int) -> sp.Expr:
    """int_0^inf x^m phi(x) dx = 2^(m/2) Gamma((m+1)/2) / (2 sqrt(pi)) (exact)."""
    m = as_int("m", m, minimum=0)
    return sp.simplify(2 ** sp.Rational(m, 2) * sp.gamma(sp.Rational(m + 1, 2))
                       / (2 * sp.sqrt(sp.pi)))


def erf_hermite(k_max: int = 3) -> list[sp.Expr]:
    """Exact mu_k = E[erf(xi) He_k(xi)] by Stein's lemma: mu_k = E[erf^(k)(xi)], k = 0..k_max.

    erf^(k) for k >= 1 is a polynomial times exp(-x^2), so the Gaussian integral is closed form.
    """
    k_max = as_int("k_max", k_max, minimum=0, maximum=10)
    x = sp.Symbol("x", real=True)
    out = [sp.Integer(0)]  # erf is odd
    for k in range(1, k_max + 1):
        deriv = sp.diff(sp.erf(x), x, k)
        out.append(sp.simplify(sp.integrate(deriv * _gauss(x), (x, -sp.oo, sp.oo))))
    return out


def tanh_is_odd_hermite(k_max: int = 5) -> list[bool]:
    """The even-order Hermite integrands of tanh are odd functions: mu_{2m}(tanh) = 0 exactly."""
    k_max = as_int("k_max", k_max, minimum=0, maximum=12)
    x = sp.Symbol("x", real=True)
    return [sp.simplify(sp.tanh(-x) * sp.hermite_prob(k, -x) + sp.tanh(x) * sp.hermite_prob(k, x))
            == 0 for k in range(0, k_max + 1, 2)]


def _symbols(name: str, value: object) -> list[sp.Symbol]:
    """A non-empty list of sympy symbols (``TypeError``/``ValueError`` naming ``name``)."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(f"{name} must be a sequence of sympy symbols, got {type(value).__name__}")
    value = list(value)
    if not value:
        raise ValueError(f"{name} must be a non-empty sequence of symbols")
    if not all(isinstance(v, sp.Symbol) for v in value):
        raise TypeError(f"{name} must hold sympy symbols, got {value!r}")
    return value


def gaussian_moment_expectation(expr: sp.Expr, variables: Sequence[sp.Symbol]) -> sp.Expr:
    """E[expr] for a polynomial in independent N(0,1) ``variables`` (exact, Isserlis)."""
    variables = _symbols("variables", variables)
    expr = as_sympy("expr", expr)
    poly = sp.Poly(sp.expand(expr), *variables)
    total = sp.Integer(0)
    for powers, coeff in poly.terms():
        term = coeff
        for k in powers:
            term *= 0 if k % 2 else sp.factorial2(k - 1)
        total += term
    return sp.simplify(total)


def target_hermite(expr: sp.Expr, variables: Sequence[sp.Symbol]
                   ) -> tuple[sp.Expr, sp.Matrix, sp.Matrix]:
    """C0 = E[y], C1 = E[y h] (vector), C2 = E[y (h h^T - I)] (matrix) of a polynomial target."""
    variables = _symbols("variables", variables)
    expr = as_sympy("expr", expr)
    r = len(variables)
    c0 = gaussian_moment_expectation(expr, variables)
    c1 = sp.Matrix([gaussian_moment_expectation(expr * v, variables) for v in variables])
    c2 = sp.Matrix(r, r, lambda i, j: gaussian_moment_expectation(
        expr * (variables[i] * variables[j] - (1 if i == j else 0)), variables))
    return c0, c1, c2


def mehler_table(k_max: int = 4) -> tuple[sp.Matrix, sp.Symbol]:
    """Matrix E[He_j(xi) He_k(h)] for unit Gaussians with correlation rho, j, k = 0..k_max.

    xi = rho h + sqrt(1 - rho^2) z with h, z independent; Mehler's formula says the result is
    diag(k! rho^k). Returns ``(table, rho)``.
    """
    k_max = as_int("k_max", k_max, minimum=0, maximum=8)
    rho = sp.Symbol("rho", real=True)
    h, z = sp.symbols("h z", real=True)
    xi = rho * h + sp.sqrt(1 - rho**2) * z
    table = sp.Matrix(k_max + 1, k_max + 1, lambda j, k: sp.expand(gaussian_moment_expectation(
        sp.hermite_prob(j, xi) * sp.hermite_prob(k, h), [h, z])))
    return table, rho


def stein_identity_residual(degree: int = 5) -> sp.Expr:
    """E[sigma'(xi) h] - rho E[sigma''(xi)] for a generic polynomial sigma; simplifies to 0."""
    degree = as_int("degree", degree, minimum=2, maximum=10)
    rho = sp.Symbol("rho", real=True)
    h, z = sp.symbols("h z", real=True)
    coeffs = sp.symbols(f"s0:{degree + 1}", real=True)
    sigma = sum(c * XI**k for k, c in enumerate(coeffs))
    xi = rho * h + sp.sqrt(1 - rho**2) * z
    lhs = gaussian_moment_expectation(sp.diff(sigma, XI).subs(XI, xi) * h, [h, z])
    rhs = rho * gaussian_moment_expectation(sp.diff(sigma, XI, 2).subs(XI, xi), [h, z])
    return sp.simplify(sp.expand(lhs - rhs))


def staircase_coefficient(degree: int = 4
                          ) -> tuple[sp.Expr, sp.Expr, tuple[sp.Symbol, sp.Symbol]]:
    """Step-2 component E[y sigma'(xi) x_2] for y = x1 + x1 x2 and a generic polynomial sigma.

    xi = m1 x1 + m2 x2 + s z (s^2 = 1 - m1^2 - m2^2). Stein's lemma gives
    E[y sigma'(xi) x2] = E[sigma'(xi) x1] + m2 E[y sigma''(xi)] = m1 E[sigma''(xi)]
    + m2 E[y sigma''(xi)]: once w has an O(1) overlap m1 with x1, the new direction x2 gets an
    O(1) push proportional to m1 E[sigma''] (zero for odd sigma). Returns
    ``(value, stein_form, (m1, m2))``; ``value - stein_form`` simplifies to 0.
    """
    degree = as_int("degree", degree, minimum=2, maximum=8)
    m1, m2 = sp.symbols("m1 m2", real=True)
    x1, x2, z = sp.symbols("x1 x2 z", real=True)
    coeffs = sp.symbols(f"s0:{degree + 1}", real=True)
    sigma = sum(c * XI**k for k, c in enumerate(coeffs))
    xi = m1 * x1 + m2 * x2 + sp.sqrt(1 - m1**2 - m2**2) * z
    y = x1 + x1 * x2
    variables = [x1, x2, z]
    value = gaussian_moment_expectation(y * sp.diff(sigma, XI).subs(XI, xi) * x2, variables)
    d2 = sp.diff(sigma, XI, 2).subs(XI, xi)
    stein = (m1 * gaussian_moment_expectation(d2, variables)
             + m2 * gaussian_moment_expectation(y * d2, variables))
    return sp.expand(value), sp.expand(stein), (m1, m2)


def relu_second_derivative_mean() -> tuple[sp.Expr, sp.Symbol]:
    """E[relu''(xi)] for xi ~ N(0, q^2): the Gaussian density at 0, 1/(sqrt(2 pi) q)."""
    q = sp.Symbol("q", positive=True)
    x = sp.Symbol("x", real=True)
    density = sp.exp(-x**2 / (2 * q**2)) / (sp.sqrt(2 * sp.pi) * q)
    return sp.simplify(sp.integrate(sp.DiracDelta(x) * density, (x, -sp.oo, sp.oo))), q


def neuron_cosine_expression() -> tuple[sp.Expr, tuple[sp.Symbol, ...]]:
    """cos(w_i^1, v*) = c a mu1 |C1| / sqrt(1 + c^2 a^2 (mu1^2 |C1|^2 + E[y^2] E[sigma'^2]/alpha)).

    From w^1 = w^0 + c a (mu1 C1 + g), w^0 a unit vector orthogonal (at large d) to C1 and to
    the batch noise g, whose squared norm is E[y^2] E[sigma'^2] d / n. Returns the sympy
    expression and its symbols ``(c, a, mu1, C1, Ey2, Es2, alpha)``.
    """
    c, a, mu1, C1, Ey2, Es2, alpha = sp.symbols("c a mu_1 C_1 E_y2 E_s2 alpha", positive=True)
    signal = c * a * mu1 * C1
    noise_sq = (c * a) ** 2 * Ey2 * Es2 / alpha
    norm_sq = 1 + signal**2 + noise_sq
    return signal / sp.sqrt(norm_sq), (c, a, mu1, C1, Ey2, Es2, alpha)


def spike_cosine_expression() -> tuple[sp.Expr, tuple[sp.Symbol, ...]]:
    """|<v1, v*>| = sqrt(alpha |C1|^2 / (alpha |C1|^2 + E[y^2])) for the spike X^T y / n."""
    C1, Ey2, alpha = sp.symbols("C_1 E_y2 alpha", positive=True)
    return sp.sqrt(alpha * C1**2 / (alpha * C1**2 + Ey2)), (C1, Ey2, alpha)


def lr_exponent() -> tuple[sp.Expr, tuple[sp.Symbol, sp.Symbol]]:
    """Exponent of d in the order-l term: lr/p = d^((l-1)/2) times ||m||^(l-1) = d^(-(l-1)/2)."""
    d, ell = sp.symbols("d ell", positive=True)
    return sp.simplify(sp.powsimp(d ** ((ell - 1) / 2) * d ** (-(ell - 1) / 2))), (d, ell)
