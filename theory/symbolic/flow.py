"""Gradient flows derived by sympy and integrated by scipy.

:func:`derive_flow` turns a loss ``L(theta)`` written in sympy (scalar symbols, matrices of
symbols or ``MatrixSymbol`` s) into the gradient flow ``d theta / dt = -grad L(theta)``, shown in
LaTeX and lambdified to numpy (:class:`GradientFlow`); :func:`integrate_flow` integrates it with
:func:`scipy.integrate.solve_ivp` (DOP853 at stated tolerances); :func:`gradient_descent` runs
``theta_{k+1} = theta_k - h grad L``, the explicit Euler scheme of the flow;
:func:`symbolic_residual` simplifies an expression that should vanish (piecewise functions
included). The checks built on them are in :mod:`theory.symbolic.check`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp
from numpy.typing import ArrayLike
from scipy.integrate import solve_ivp

from .._validate import as_float, as_int

__all__ = ["GradientFlow", "derive_flow", "integrate_flow", "gradient_descent",
           "symbolic_residual", "RTOL", "ATOL"]

#: Default solver tolerances of :func:`integrate_flow` (DOP853, an 8th-order Runge-Kutta).
RTOL, ATOL = 1e-10, 1e-12

# --------------------------------------------------------------------------------------------
# symbolic helpers
# --------------------------------------------------------------------------------------------
def symbolic_residual(expr: Any) -> Any:
    """``expr`` reduced as far as sympy can: 0 when it vanishes identically.

    Scalars go through ``doit``; piecewise functions (``Max``, ``Heaviside``, ``Abs``) are
    rewritten as ``Piecewise`` and folded branch by branch. Then: a polynomial is expanded (its
    canonical form, so a non-zero result is a proof of non-vanishing), a rational function is
    cancelled (likewise canonical), anything else goes through ``simplify``. Matrices are reduced
    entrywise. The returned expression is the "term that fails" when it is not 0. Use exact
    coefficients (integers, ``Rational`` or symbols with ``constants``): floats can leave
    round-off terms such as ``1e-17*x``.
    """
    if isinstance(expr, sp.MatrixBase):
        return expr.applyfunc(symbolic_residual)
    if not isinstance(expr, sp.Basic):
        raise TypeError(f"expr must be a sympy expression, got {type(expr).__name__}")
    e = _relu_as_heaviside(sp.sympify(expr).doit())
    if e.has(sp.Max, sp.Min, sp.Abs, sp.Piecewise, sp.sign):
        e = sp.piecewise_fold(_expand_pieces(sp.piecewise_fold(e.rewrite(sp.Piecewise))))
    expanded = sp.expand(e)
    if expanded == 0:
        return sp.Integer(0)
    if expanded.is_polynomial() and not expanded.has(sp.Piecewise):
        # the expanded form of a polynomial is canonical: non-zero here means non-zero
        return sp.factor_terms(expanded)
    if expanded.is_rational_function() and not expanded.has(sp.Piecewise):
        cancelled = sp.cancel(e)          # canonical p/q: non-zero here means non-zero
        return sp.Integer(0) if cancelled == 0 else sp.factor(cancelled)
    if _nonzero_at_a_point(e):            # a witness: skip the (slow) simplify
        return sp.factor_terms(expanded)
    simplified = sp.simplify(e)
    if simplified == 0:
        return sp.Integer(0)
    return min((simplified, expanded), key=sp.count_ops)


def _nonzero_at_a_point(e: Any, n_points: int = 3) -> bool:
    """True when ``e`` evaluates (30 digits) to a clearly non-zero number at one of a few
    fixed pseudo-random points (positive symbols get positive values): a proof that ``e`` does
    not vanish identically. False means "looks zero": ``simplify`` then decides."""
    symbols = sorted(e.free_symbols, key=str)
    gen = np.random.default_rng(20240611)          # fixed: the witness points are not data
    for _ in range(n_points):
        values = {}
        for s in symbols:
            v = sp.Rational(int(gen.integers(1, 1000)), 997)
            values[s] = v if (s.is_positive or s.is_nonnegative) else v * int(gen.choice([-1, 1]))
        try:
            value = complex(e.subs(values).evalf(30))
        except (TypeError, ValueError):
            continue
        if np.isfinite(value) and abs(value) > 1e-12:
            return True
    return False


def _relu_as_heaviside(e: Any) -> Any:
    """``max(0, z) -> z H(z)``, ``min(0, z) -> z (1 - H(z))`` and ``z delta(z) -> 0``: exact
    identities (both sides vanish at ``z = 0``) under which ``relu(z) - z relu'(z)`` expands to
    0 without splitting into the ``2^n`` sign patterns of a ``Piecewise``."""
    def zero_and_other(x: Any) -> Any:
        args = x.args
        if len(args) == 2 and (args[0] == 0 or args[1] == 0):
            return args[1] if args[0] == 0 else args[0]
        return None

    e = e.replace(lambda x: isinstance(x, sp.Max) and zero_and_other(x) is not None,
                  lambda x: zero_and_other(x) * sp.Heaviside(zero_and_other(x)))
    e = e.replace(lambda x: isinstance(x, sp.Min) and zero_and_other(x) is not None,
                  lambda x: zero_and_other(x) * (1 - sp.Heaviside(zero_and_other(x))))
    if e.has(sp.DiracDelta):
        e = sp.expand(e).replace(
            lambda x: isinstance(x, sp.Mul) and any(
                isinstance(f, sp.DiracDelta) and len(f.args) == 1 and
                sp.expand(f.args[0]) in [sp.expand(g) for g in x.args if g is not f]
                for f in x.args),
            lambda x: sp.Integer(0))
    return e


def _expand_pieces(e: Any) -> Any:
    """Expand each branch of a Piecewise (after folding)."""
    if isinstance(e, sp.Piecewise):
        return sp.Piecewise(*[(sp.expand(v), c) for v, c in e.args])
    return e


def _is_symbol_matrix(x: object) -> bool:
    return isinstance(x, sp.MatrixBase) and all(isinstance(s, sp.Symbol) for s in x)


def _explicit(ms: sp.MatrixSymbol) -> sp.Matrix:
    """Explicit real entry symbols ``name_ij`` (1-based) for a MatrixSymbol."""
    r, c = ms.shape
    if not (isinstance(r, (int, sp.Integer)) and isinstance(c, (int, sp.Integer))):
        raise ValueError(f"params: the MatrixSymbol {ms.name} needs a numeric shape, "
                         f"got {ms.shape}")
    return sp.Matrix(int(r), int(c), lambda i, j: sp.Symbol(f"{ms.name}_{i + 1}{j + 1}", real=True))


def _as_expr(name: str, value: Any, substitutions: dict) -> Any:
    """A sympy scalar expression or Matrix, with MatrixSymbols replaced by explicit entries."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (sp.Basic, sp.MatrixBase)):
        raise TypeError(f"{name} must be a sympy expression or matrix, got {type(value).__name__}")
    if substitutions:
        value = value.subs(substitutions)
    value = value.doit()
    if isinstance(value, sp.MatrixBase):
        value = sp.Matrix(value)
        if value.shape == (1, 1):
            value = value[0, 0]
    elif isinstance(value, sp.MatrixExpr):
        value = sp.Matrix(value.as_explicit())
    return value


# --------------------------------------------------------------------------------------------
# the flow
# --------------------------------------------------------------------------------------------
@dataclass
class GradientFlow:
    """The gradient flow ``d theta/dt = -grad L(theta)`` of a sympy loss.

    ``params`` are the parameters as given (symbols or explicit symbol matrices), ``state`` the
    flat list of their scalar entries (row-major, in the order of ``params``), ``rhs`` the column
    ``-dL/d state`` (a sympy Matrix), ``constants`` the numbers substituted for the loss's other
    symbols in every numerical evaluation. ``rate(y)`` is the lambdified right-hand side and
    ``loss_value(y)`` the lambdified loss, both on flat float vectors.
    """

    loss: sp.Expr
    params: list
    state: list
    rhs: sp.Matrix
    constants: dict
    substitutions: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        c = {k: sp.Float(v) if not isinstance(v, sp.Basic) else v
             for k, v in self.constants.items()}
        self._rate = sp.lambdify((self.state,), list(self.rhs.subs(c)), modules="numpy", cse=True)
        self._loss = sp.lambdify((self.state,), self.loss.subs(c), modules="numpy", cse=True)

    @property
    def dimension(self) -> int:
        return len(self.state)

    def rate(self, y: ArrayLike) -> np.ndarray:
        """``-grad L`` at the flat state ``y`` (float vector of length :attr:`dimension`)."""
        y = self.as_state("y", y)
        return np.asarray(self._rate(y), dtype=float).reshape(-1)

    def loss_value(self, y: ArrayLike) -> float:
        """The loss at the flat state ``y``."""
        return float(self._loss(self.as_state("y", y)))

    def as_state(self, name: str, y: object) -> np.ndarray:
        """``y`` as a finite flat float vector: a flat sequence of :attr:`dimension` numbers,
        or a list with one number/array per parameter (flattened row-major)."""
        if isinstance(y, (list, tuple)) and len(y) == len(self.params) and any(
                np.ndim(v) > 0 for v in y):
            try:
                parts = [np.asarray(v, dtype=float).reshape(-1) for v in y]
            except (TypeError, ValueError):
                raise TypeError(f"{name} must hold real numbers") from None
            y = np.concatenate(parts) if parts else np.zeros(0)
        try:
            arr = np.asarray(y, dtype=float).reshape(-1)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be a real vector of length {self.dimension}, "
                            f"got {type(y).__name__}") from None
        if arr.size != self.dimension:
            raise ValueError(f"{name} must have {self.dimension} entries (one per entry of "
                             f"{[str(p) for p in self.params]}), got {arr.size}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be finite (found NaN or inf)")
        return arr

    def unpack(self, y: ArrayLike) -> list[Any]:
        """Split a flat state into one float (scalar parameter) or array (matrix) per parameter."""
        y = self.as_state("y", y)
        out: list[Any] = []
        k = 0
        for p in self.params:
            if isinstance(p, sp.MatrixBase):
                n = p.rows * p.cols
                out.append(y[k:k + n].reshape(p.shape))
                k += n
            else:
                out.append(float(y[k]))
                k += 1
        return out

    def latex(self) -> str:
        """The flow as a LaTeX ``aligned`` block, one line per parameter."""
        lines, k = [], 0
        for p in self.params:
            if isinstance(p, sp.MatrixBase):
                n = p.rows * p.cols
                block = sp.Matrix(p.rows, p.cols, list(self.rhs[k:k + n]))
                lines.append(rf"\dot{{{sp.latex(p)}}} &= {sp.latex(block)}")
                k += n
            else:
                lines.append(rf"\dot{{{sp.latex(p)}}} &= {sp.latex(self.rhs[k])}")
                k += 1
        return r"\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}"

    def _repr_latex_(self) -> str:
        return "$" + self.latex() + "$"

    def quantity(self, name: str, candidate: object, extra: Sequence[Any] = ()) -> Any:
        """A candidate expression over the state, the constants and ``extra`` symbols (with
        MatrixSymbols expanded); ``ValueError`` naming ``name`` for any other free symbol."""
        expr = _as_expr(name, candidate, self.substitutions)
        allowed = set(self.state) | set(self.constants) | set(extra)
        stray = expr.free_symbols - allowed
        if stray:
            raise ValueError(f"{name} depends on {sorted(map(str, stray))}, which are neither "
                             f"parameters of the flow nor constants")
        return expr


def derive_flow(loss: Any, params: Sequence[Any], constants: dict | None = None) -> GradientFlow:
    """Derive the gradient flow ``d theta/dt = -grad_theta L`` of a scalar sympy ``loss``.

    ``params``: a list of parameters, each a real ``sympy.Symbol``, a ``sympy.Matrix`` of
    symbols (e.g. :func:`theory.symbolic.matrix_symbols`) or a ``sympy.MatrixSymbol`` with a
    numeric shape (replaced by explicit entries ``W_ij``). ``constants``: numbers for every other
    free symbol of the loss (kept symbolic in the derivation, substituted in the numerics).
    The gradient is taken entrywise, ``(dL/dW)_ij = dL/dW_ij``.
    """
    if isinstance(params, (sp.Basic, sp.MatrixBase)) or not isinstance(params, (list, tuple)):
        raise TypeError(f"params must be a list of symbols or symbol matrices, got "
                        f"{type(params).__name__}")
    if not params:
        raise ValueError("params must not be empty")
    substitutions, explicit = {}, []
    for i, p in enumerate(params):
        if isinstance(p, sp.MatrixSymbol):
            substitutions[p] = _explicit(p)
            explicit.append(substitutions[p])
        elif isinstance(p, sp.Symbol) or _is_symbol_matrix(p):
            explicit.append(sp.Matrix(p) if isinstance(p, sp.MatrixBase) else p)
        else:
            raise TypeError(f"params[{i}] must be a sympy Symbol, a Matrix of Symbols or a "
                            f"MatrixSymbol, got {p!r}")
    state = [s for p in explicit for s in (p if isinstance(p, sp.MatrixBase) else [p])]
    if len(set(state)) != len(state):
        raise ValueError("params must not repeat a symbol")
    loss = _as_expr("loss", loss, substitutions)
    if isinstance(loss, sp.MatrixBase) or not isinstance(loss, sp.Expr):
        raise ValueError(f"loss must be a scalar expression, got a {type(loss).__name__}"
                         + (f" of shape {loss.shape}" if hasattr(loss, "shape") else ""))
    if constants is None:
        constants = {}
    if not isinstance(constants, dict):
        raise TypeError(f"constants must be a dict {{symbol: number}}, "
                        f"got {type(constants).__name__}")
    for k, v in constants.items():
        if not isinstance(k, sp.Symbol):
            raise TypeError(f"constants keys must be sympy Symbols, got {k!r}")
        if k in state:
            raise ValueError(f"constants: {k} is a parameter, not a constant")
        as_float(f"constants[{k}]", v)
    stray = loss.free_symbols - set(state) - set(constants)
    if stray:
        raise ValueError(f"loss depends on {sorted(map(str, stray))}: list them in params or "
                         f"give them values in constants")
    if loss.has(sp.I) or any(s.is_real is False for s in state):
        raise ValueError("loss must be real: use real symbols")
    rhs = sp.Matrix([-sp.diff(loss, s) for s in state])
    return GradientFlow(loss, explicit, state, rhs, dict(constants), substitutions)


def _as_flow(flow: object) -> GradientFlow:
    if not isinstance(flow, GradientFlow):
        raise TypeError(f"flow must be a GradientFlow from derive_flow, got {type(flow).__name__}")
    return flow


class _Budget(Exception):
    pass


def integrate_flow(flow: GradientFlow, y0: ArrayLike, T: float, *, rtol: float = RTOL,
                   atol: float = ATOL, max_evaluations: int = 200_000) -> Any:
    """Integrate the flow from ``y0`` over ``[0, T]`` with ``solve_ivp`` (DOP853, dense output).

    Returns the ``OdeResult`` (``sol(t)`` evaluates the state). Raises ``RuntimeError`` when the
    solver fails (e.g. blow-up before ``T``) or needs more than ``max_evaluations`` evaluations
    of the right-hand side: a non-smooth flow (a ReLU kink on which the flow slides) or a stiff
    one, which an explicit adaptive solver cannot integrate at these tolerances.
    """
    flow = _as_flow(flow)
    y0 = flow.as_state("y0", y0)
    T = as_float("T", T, minimum=0.0, strict_minimum=True)
    rtol = as_float("rtol", rtol, minimum=0.0, strict_minimum=True)
    atol = as_float("atol", atol, minimum=0.0, strict_minimum=True)
    max_evaluations = as_int("max_evaluations", max_evaluations, minimum=1)
    f = flow._rate
    count = [0]

    def rhs(t: float, y: np.ndarray) -> np.ndarray:
        count[0] += 1
        if count[0] > max_evaluations:
            raise _Budget(t)
        return np.asarray(f(y), dtype=float).reshape(-1)

    try:
        res = solve_ivp(rhs, (0.0, T), y0, method="DOP853", rtol=rtol, atol=atol,
                        dense_output=True)
    except _Budget as stop:
        raise RuntimeError(f"solve_ivp needed more than max_evaluations = {max_evaluations} "
                           f"evaluations and stalled at t = {stop.args[0]:.6g} < T = {T:g}: "
                           "the flow may be non-smooth there (e.g. sliding along a ReLU kink) "
                           "or stiff") from None
    if not res.success:
        raise RuntimeError(f"solve_ivp failed before T = {T:g}: {res.message}")
    return res


def gradient_descent(flow: GradientFlow, y0: ArrayLike, h: float, n_steps: int) -> np.ndarray:
    """Gradient descent ``theta_{k+1} = theta_k + h rhs(theta_k)``; returns all ``n_steps + 1``
    iterates as rows (the explicit Euler scheme of the flow)."""
    flow = _as_flow(flow)
    y = flow.as_state("y0", y0)
    h = as_float("h", h, minimum=0.0, strict_minimum=True)
    n_steps = as_int("n_steps", n_steps, minimum=0)
    f = flow._rate
    out = np.empty((n_steps + 1, y.size))
    out[0] = y
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(n_steps):
            y = y + h * np.asarray(f(y), dtype=float).reshape(-1)
            out[k + 1] = y
    return out
