"""Symbolic derivations for the critical-sets notebook ``notebooks/04_critical_sets.py``.

Setting: ``n`` explicit samples ``(x_i, y_i)`` with ``x_i`` in ``R^d``, an **undefined** activation
``sigma = sympy.Function('sigma')`` (so every identity holds for any C^2 activation), and the
loss ``R = 1/2 sum_i (f(x_i) - y_i)^2``. The narrow network has the neuron to split ``(a, w)``
and one spectator neuron ``(c, v)``; the wide network has ``(a_A, w_A), (a_B, w_B), (c, v)`` and
the splitting embedding ``T_lam`` sets ``a_A = lam a, a_B = (1 - lam) a, w_A = w_B = w``.

Each public function returns residual expressions that must simplify to exactly zero; the
notebook displays them and :func:`vanishes` checks them. All identities are derived here (the
target paper's body was not available); they are the algebra behind the method note
``docs/04_critical_sets.md`` (operators, predicted critical set, Hessian criterion).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .._validate import as_int, as_sympy

__all__ = ["sigma", "SplitSetting", "split_setting", "vanishes", "width_m_network",
           "split_output_difference", "split_gradient_identity", "split_quadratic_form",
           "split_cross_terms", "multi_split_quadratic_form", "null_neuron_hessian",
           "null_function_identities"]

#: The undefined activation.
sigma = sp.Function("sigma")


def vanishes(expr: object) -> bool:
    """True when ``expr`` (scalar, Matrix, list/tuple or dict of scalars) is identically zero:
    ``expand`` first (fast, enough for these polynomial-in-sigma identities), then ``simplify``."""
    if isinstance(expr, sp.MatrixBase):
        return all(vanishes(e) for e in expr)
    if isinstance(expr, dict):
        return all(vanishes(e) for e in expr.values())
    if isinstance(expr, (list, tuple)):
        return all(vanishes(e) for e in expr)
    expr = as_sympy("expr", expr)
    if isinstance(expr, dict):
        return all(vanishes(e) for e in expr.values())
    e = sp.expand(sp.sympify(expr).doit())
    return e == 0 or sp.simplify(e) == 0


def _vec(name: str, d: int) -> sp.Matrix:
    if d == 1:
        return sp.Matrix([sp.Symbol(name, real=True)])
    return sp.Matrix([sp.Symbol(f"{name}_{j + 1}", real=True) for j in range(d)])


def _dot(u: sp.Matrix, x: sp.Matrix) -> sp.Expr:
    return (u.T * x)[0, 0]


def width_m_network(m: int, n: int, d: int = 1) -> tuple[list[sp.Expr], list[sp.Matrix],
                                                         list[sp.Symbol], sp.Expr, sp.Matrix,
                                                         sp.Matrix]:
    """Symbols and exact derivatives of a width-``m`` network ``f = sum_k a_k sigma(w_k . x)``:
    returns ``(params, X, y, R, grad, H)`` with ``params = (a_1..a_m, w_1..w_m)`` (the layout of
    :mod:`theory.critical_sets`), ``X`` an ``n x d`` symbol matrix and ``y`` the targets."""
    m = as_int("m", m, minimum=1)
    n = as_int("n", n, minimum=1)
    d = as_int("d", d, minimum=1)
    a = [sp.Symbol(f"a_{k + 1}", real=True) for k in range(m)]
    W = [_vec(f"w_{k + 1}", d) for k in range(m)]
    X = [_vec(f"x_{i + 1}", d) for i in range(n)]
    y = [sp.Symbol(f"y_{i + 1}", real=True) for i in range(n)]
    f = [sum(a[k] * sigma(_dot(W[k], X[i])) for k in range(m)) for i in range(n)]
    R = sp.Rational(1, 2) * sum((f[i] - y[i]) ** 2 for i in range(n))
    params = a + [wkj for wk in W for wkj in wk]
    grad = sp.Matrix([sp.diff(R, p) for p in params])
    H = sp.hessian(R, params)
    return params, X, y, R, grad, H


@dataclass(frozen=True)
class SplitSetting:
    """Symbols of the split setting (see the module docstring)."""

    n: int
    d: int
    X: list[sp.Matrix]
    y: list[sp.Symbol]
    lam: sp.Symbol
    a: sp.Symbol
    w: sp.Matrix
    c: sp.Symbol
    v: sp.Matrix
    aA: sp.Symbol
    aB: sp.Symbol
    wA: sp.Matrix
    wB: sp.Matrix
    delta: sp.Matrix

    @property
    def narrow_params(self) -> list[sp.Expr]:
        """``(a, w, c, v)``: the narrow network's parameters."""
        return [self.a, *self.w, self.c, *self.v]

    @property
    def wide_params(self) -> list[sp.Expr]:
        """``(a_A, a_B, w_A, w_B, c, v)``: the wide network's parameters."""
        return [self.aA, self.aB, *self.wA, *self.wB, self.c, *self.v]

    def embedding(self) -> dict[sp.Expr, sp.Expr]:
        """The substitution ``T_lam``: wide symbols -> narrow expressions."""
        sub = {self.aA: self.lam * self.a, self.aB: (1 - self.lam) * self.a}
        sub.update({wa: wn for wa, wn in zip(self.wA, self.w)})
        sub.update({wb: wn for wb, wn in zip(self.wB, self.w)})
        return sub

    def f_narrow(self, x: sp.Matrix) -> sp.Expr:
        """``a sigma(w.x) + c sigma(v.x)``."""
        return self.a * sigma(_dot(self.w, x)) + self.c * sigma(_dot(self.v, x))

    def f_wide(self, x: sp.Matrix) -> sp.Expr:
        """``a_A sigma(w_A.x) + a_B sigma(w_B.x) + c sigma(v.x)``."""
        return (self.aA * sigma(_dot(self.wA, x)) + self.aB * sigma(_dot(self.wB, x))
                + self.c * sigma(_dot(self.v, x)))

    def loss_narrow(self) -> sp.Expr:
        """``R_n = 1/2 sum_i (f_narrow(x_i) - y_i)^2``."""
        return sp.Rational(1, 2) * sum((self.f_narrow(x) - yi) ** 2
                                       for x, yi in zip(self.X, self.y))

    def loss_wide(self) -> sp.Expr:
        """``R = 1/2 sum_i (f_wide(x_i) - y_i)^2``."""
        return sp.Rational(1, 2) * sum((self.f_wide(x) - yi) ** 2
                                       for x, yi in zip(self.X, self.y))

    def residuals_narrow(self) -> list[sp.Expr]:
        """``e_i = f_narrow(x_i) - y_i``."""
        return [self.f_narrow(x) - yi for x, yi in zip(self.X, self.y)]

    def fa_form(self, delta: sp.Matrix) -> sp.Expr:
        """``delta^T B delta`` with ``B = a sum_i e_i sigma''(w.x_i) x_i x_i^T``."""
        z = sp.Symbol("z", real=True)
        d2 = sp.diff(sigma(z), z, 2)
        return self.a * sum(e * d2.subs(z, _dot(self.w, x)) * _dot(delta, x) ** 2
                            for e, x in zip(self.residuals_narrow(), self.X))


def split_setting(n: int = 3, d: int = 1) -> SplitSetting:
    """The symbols of the split setting with ``n`` samples in dimension ``d``."""
    n = as_int("n", n, minimum=1)
    d = as_int("d", d, minimum=1)
    X = [_vec(f"x_{i + 1}", d) for i in range(n)]
    y = [sp.Symbol(f"y_{i + 1}", real=True) for i in range(n)]

    def sym(name: str) -> sp.Symbol:
        return sp.Symbol(name, real=True)

    return SplitSetting(n, d, X, y, sym("lambda"), sym("a"), _vec("w", d), sym("c"),
                        _vec("v", d), sym("a_A"), sym("a_B"), _vec("w_A", d), _vec("w_B", d),
                        _vec("delta", d))


def _check_setting(s: object) -> None:
    if not isinstance(s, SplitSetting):
        raise TypeError(f"s must be a SplitSetting (see split_setting), got {type(s).__name__}")


def split_output_difference(s: SplitSetting) -> sp.Expr:
    """``f_wide(T_lam theta, x) - f_narrow(theta, x)`` at a generic input ``x`` (should be 0)."""
    _check_setting(s)
    x = _vec("x", s.d)
    return s.f_wide(x).xreplace(s.embedding()) - s.f_narrow(x)


def split_gradient_identity(s: SplitSetting) -> dict[str, sp.Expr]:
    """Residuals of the gradient identity at ``T_lam theta`` (EP21; FA00 Thm 1), valid without
    assuming criticality: ``dR/da_A = dR/da_B = dR_n/da``, ``dR/dw_A = lam dR_n/dw``,
    ``dR/dw_B = (1 - lam) dR_n/dw``, spectator components unchanged."""
    _check_setting(s)
    Rw, Rn = s.loss_wide(), s.loss_narrow()
    emb = s.embedding()

    def g(R: sp.Expr, p: sp.Expr) -> sp.Expr:
        return sp.diff(R, p)

    def wide(p: sp.Expr) -> sp.Expr:
        return g(Rw, p).xreplace(emb)

    out = {"a_A": wide(s.aA) - g(Rn, s.a), "a_B": wide(s.aB) - g(Rn, s.a),
           "c": wide(s.c) - g(Rn, s.c)}
    for j in range(s.d):
        out[f"w_A[{j}]"] = wide(s.wA[j]) - s.lam * g(Rn, s.w[j])
        out[f"w_B[{j}]"] = wide(s.wB[j]) - (1 - s.lam) * g(Rn, s.w[j])
        out[f"v[{j}]"] = wide(s.v[j]) - g(Rn, s.v[j])
    return out


def _split_vector(s: SplitSetting) -> sp.Matrix:
    """``v = (0, 0, (1 - lam) delta, -lam delta, 0, 0)`` in the wide layout."""
    zeros = [0] * (1 + s.d)
    return sp.Matrix([0, 0, *((1 - s.lam) * s.delta), *(-s.lam * s.delta), *zeros])


def _second_directional(s: SplitSetting, u: sp.Matrix, v: sp.Matrix) -> sp.Expr:
    """``u^T H_wide(T_lam theta) v = sum_pq u_p v_q d^2R/dp dq`` over the non-zero entries of the
    (sparse) directions only, then the substitution ``T_lam``."""
    R = s.loss_wide()
    total = sp.Integer(0)
    for p, up in zip(s.wide_params, u):
        if up == 0:
            continue
        dRp = sp.diff(R, p)
        for q, vq in zip(s.wide_params, v):
            if vq != 0:
                total += up * vq * sp.diff(dRp, q)
    return total.xreplace(s.embedding()).doit()


def split_quadratic_form(s: SplitSetting) -> tuple[sp.Expr, sp.Expr]:
    """``(v^T H v, lam (1 - lam) delta^T B delta)`` at ``T_lam theta``; their difference is zero for
    every ``theta`` (FA00 Thm 3; derived here)."""
    _check_setting(s)
    v = _split_vector(s)
    return _second_directional(s, v, v), s.lam * (1 - s.lam) * s.fa_form(s.delta)


def split_cross_terms(s: SplitSetting) -> dict[str, sp.Expr]:
    """Residuals ``u^T H v - expected`` at ``T_lam theta`` for the output-preserving directions
    ``u`` (FA00 Thm 3; derived here), each identically 0:

    * ``u = e_{a_A}``: expected ``(1 - lam) delta . g_w / a`` with ``g_w = dR_narrow/dw``;
    * ``u = e_{a_B}``: expected ``-lam delta . g_w / a``;
    * ``u = e_{a_A} - e_{a_B}`` (the branch tangent): expected ``delta . g_w / a``;
    * the shared-``w`` direction ``(0, 0, eps, eps, 0, 0)`` and the spectator ``c, v``: 0.

    So ``v`` decouples from every output-preserving direction exactly when ``g_w = 0`` (a
    critical point) and ``a != 0``.
    """
    _check_setting(s)
    v = _split_vector(s)
    gw = sp.Matrix([sp.diff(s.loss_narrow(), wj) for wj in s.w])
    dim = len(s.wide_params)

    def unit(i: int) -> sp.Matrix:
        u = sp.zeros(dim, 1)
        u[i] = 1
        return u

    proj = _dot(s.delta, gw) / s.a
    out = {"a_A": _second_directional(s, unit(0), v) - (1 - s.lam) * proj,
           "a_B": _second_directional(s, unit(1), v) + s.lam * proj,
           "branch a_A - a_B": _second_directional(s, unit(0) - unit(1), v) - proj}
    eps = _vec("epsilon", s.d)
    shared = sp.Matrix([0, 0, *eps, *eps, *([0] * (1 + s.d))])
    out["shared w"] = _second_directional(s, shared, v)
    out["c"] = _second_directional(s, unit(2 + 2 * s.d), v)
    for j in range(s.d):
        out[f"v[{j}]"] = _second_directional(s, unit(3 + 2 * s.d + j), v)
    return out


def multi_split_quadratic_form(s_copies: int = 3, n: int = 3) -> tuple[sp.Expr, sp.Expr]:
    """Split one neuron (``d = 1``) into ``s`` copies with ratios ``lam_j`` (``sum lam_j = 1``)
    and perturb the copies' input weights by ``delta_j`` with ``sum_j lam_j delta_j = 0``.
    Returns ``(v^T H v, b sum_j lam_j delta_j^2)`` with ``b = a sum_i e_i sigma''(w x_i) x_i^2``
    (equal; derived here)."""
    s_copies = as_int("s_copies", s_copies, minimum=2)
    n = as_int("n", n, minimum=1)
    x = [sp.Symbol(f"x_{i + 1}", real=True) for i in range(n)]
    y = [sp.Symbol(f"y_{i + 1}", real=True) for i in range(n)]
    a, w = sp.symbols("a w", real=True)
    lam = list(sp.symbols(f"lambda_1:{s_copies}", real=True))
    lam.append(1 - sum(lam))
    delta = list(sp.symbols(f"delta_1:{s_copies}", real=True))
    delta.append(-sum(l_j * d_j for l_j, d_j in zip(lam[:-1], delta)) / lam[-1])
    aj = [sp.Symbol(f"a_{j + 1}", real=True) for j in range(s_copies)]
    wj = [sp.Symbol(f"w_{j + 1}", real=True) for j in range(s_copies)]
    R = sp.Rational(1, 2) * sum((sum(aj[j] * sigma(wj[j] * x[i]) for j in range(s_copies))
                                 - y[i]) ** 2 for i in range(n))
    t_ = sp.Symbol("t_", real=True)
    point = {aj[j]: lam[j] * a for j in range(s_copies)}
    point.update({wj[j]: w + t_ * delta[j] for j in range(s_copies)})
    quad = sp.diff(R.subs(point, simultaneous=True), t_, 2).subs(t_, 0).doit()
    z = sp.Symbol("z", real=True)
    d2 = sp.diff(sigma(z), z, 2)
    e = [a * sigma(w * x[i]) - y[i] for i in range(n)]
    b = a * sum(e[i] * d2.subs(z, w * x[i]) * x[i] ** 2 for i in range(n))
    return quad, b * sum(l_j * d_j ** 2 for l_j, d_j in zip(lam, delta))


def null_neuron_hessian(n: int = 3, d: int = 1) -> sp.Matrix:
    """``H_wide(theta, 0, 0) - blockdiag(H_narrow, [[0, c^T], [c, 0]])`` with
    ``c = sigma'(0) sum_i e_i x_i``, after substituting ``sigma(0) = 0``
    (derived here). Narrow network: one neuron ``(a, w)``; wide layout reordered to
    ``(a, w, a_new, w_new)``. Should vanish."""
    n = as_int("n", n, minimum=1)
    d = as_int("d", d, minimum=1)
    X = [_vec(f"x_{i + 1}", d) for i in range(n)]
    y = [sp.Symbol(f"y_{i + 1}", real=True) for i in range(n)]
    a, a_new = sp.symbols("a a_new", real=True)
    w, w_new = _vec("w", d), _vec("u", d)
    f_n = [a * sigma(_dot(w, x)) for x in X]
    f_w = [a * sigma(_dot(w, x)) + a_new * sigma(_dot(w_new, x)) for x in X]
    Rn = sp.Rational(1, 2) * sum((f - yi) ** 2 for f, yi in zip(f_n, y))
    Rw = sp.Rational(1, 2) * sum((f - yi) ** 2 for f, yi in zip(f_w, y))
    narrow = [a, *w]
    wide = narrow + [a_new, *w_new]
    at_null = {a_new: 0, **{u: 0 for u in w_new}}
    Hw = sp.hessian(Rw, wide).subs(at_null, simultaneous=True).doit()
    Hw = Hw.subs(sigma(0), 0)
    Hn = sp.hessian(Rn, narrow)
    z = sp.Symbol("z", real=True)
    d1_at0 = sp.diff(sigma(z), z).subs(z, 0)
    e = [f - yi for f, yi in zip(f_n, y)]
    c = sp.zeros(d, 1)
    for ei, x in zip(e, X):
        c += d1_at0 * ei * x
    block = sp.zeros(d + 1, d + 1)
    block[0, 1:] = c.T
    block[1:, 0] = c
    expected = sp.diag(Hn, block)
    return Hw - expected


def null_function_identities(n: int = 3) -> tuple[sp.Expr, sp.Expr]:
    """For ``d = 1`` and ``phi(u) = sum_i e_i sigma(u x_i)`` (residuals of the narrow neuron
    ``(a, w)``): returns ``(phi(w) - dR/da, a phi'(w) - dR/dw)``, both identically 0, so at a
    critical point with ``a != 0``, ``w`` is a double root of ``phi`` (derived here)."""
    n = as_int("n", n, minimum=1)
    x = [sp.Symbol(f"x_{i + 1}", real=True) for i in range(n)]
    y = [sp.Symbol(f"y_{i + 1}", real=True) for i in range(n)]
    a, w, u = sp.symbols("a w u", real=True)
    e = [a * sigma(w * xi) - yi for xi, yi in zip(x, y)]
    R = sp.Rational(1, 2) * sum(ei ** 2 for ei in e)
    phi = sum(ei * sigma(u * xi) for ei, xi in zip(e, x))
    dphi = sp.diff(phi, u)
    return (phi.subs(u, w) - sp.diff(R, a),
            (a * dphi).subs(u, w).doit() - sp.diff(R, w))
