"""Check your own derivation: gradient flows derived by sympy, checked by scipy.

Given a loss ``L(theta)`` written in sympy over scalar symbols, matrices of symbols or
``MatrixSymbol`` s, this module

* derives the **gradient flow** ``d theta / dt = -grad L(theta)`` (:func:`derive_flow`), shows it
  in LaTeX and lambdifies it to numpy;
* integrates it with :func:`scipy.integrate.solve_ivp` (DOP853 at stated tolerances,
  :func:`integrate_flow`) and runs **gradient descent** ``theta_{k+1} = theta_k - h grad L``, the
  explicit Euler scheme of the flow (:func:`gradient_descent`);
* measures the gap between GD and the flow at a fixed time ``T`` for steps ``h, h/2, h/4, ...``
  and its observed order (the slope of ``log gap`` against ``log h``; 1 for Euler's method,
  whose global error is ``C(T) h + O(h^2)``): :func:`check_gd_order`;
* checks a candidate **conserved quantity** ``Q(theta)``: symbolically (``dQ/dt = grad Q . theta'``
  simplifies to 0, otherwise the residual is reported) and numerically (its drift along the
  integrated flow stays at the solver's tolerance; along GD it is ``O(h)``, because one step
  changes ``Q`` by ``O(h^2)`` when ``dQ/dt = 0``): :func:`check_conserved`;
* checks a candidate **closed-form solution** ``theta(t) = S(t, p)`` over start parameters ``p``:
  the ODE residual ``dS/dt + grad L(S)`` simplifies to 0, and ``S`` agrees with the integrated
  flow started at ``S(0, p)`` for random ``p`` drawn from a numpy ``Generator``:
  :func:`check_closed_form`.

Each check returns a report (:class:`OrderReport`, :class:`ConservationReport`,
:class:`ClosedFormReport`) with a verdict, the numbers behind it and, when the derivation is
wrong, the term that fails; ``report.record(ledger, ...)`` adds it to a
:class:`theory.claims.Ledger` as an evidence claim.

The flows are those of the papers' settings (deep linear networks, arXiv:2306.01154 section 2;
two-layer networks, arXiv:2405.17501 section 2); the checks themselves are generic numerical
analysis (Euler's method is first order; see any text on ODE solvers, e.g. Hairer, Norsett &
Wanner, *Solving ODEs I*, section II.3).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
import sympy as sp
from scipy.integrate import solve_ivp

from .._validate import as_float, as_generator, as_int
from ..fitting import log_linear_fit

__all__ = ["GradientFlow", "derive_flow", "integrate_flow", "gradient_descent",
           "check_gd_order", "check_conserved", "check_closed_form", "symbolic_residual",
           "OrderReport", "ConservationReport", "ClosedFormReport"]

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


def _step_ladder(T: float, h: float, levels: int) -> tuple[list[float], list[int]]:
    steps = [h / 2**k for k in range(levels)]
    counts = []
    for s in steps:
        n = int(round(T / s))
        if n < 1 or abs(n * s - T) > 1e-9 * T:
            raise ValueError(f"T must be a whole number of steps h/2^k: T = {T:g}, step {s:g}")
        counts.append(n)
    return steps, counts


def _slope(steps: Sequence[float], values: ArrayLike) -> tuple[float, float]:
    """Least-squares slope of log(values) on log(steps) and its standard error."""
    values = np.asarray(values, dtype=float)
    if np.any(~np.isfinite(values)) or np.any(values <= 0):
        return float("nan"), float("nan")
    fit = log_linear_fit(np.log(steps), values)
    return fit.slope, fit.slope_stderr


def _fmt(x: float | None, digits: int = 3) -> str:
    return "nan" if x is None or not np.isfinite(x) else f"{x:.{digits}g}"


# --------------------------------------------------------------------------------------------
# reports
# --------------------------------------------------------------------------------------------
class _Report:
    """Common part: ``holds`` (bool), ``verdict`` (text) and :meth:`record`."""

    @property
    def holds(self) -> bool:
        raise NotImplementedError

    @property
    def verdict(self) -> str:
        raise NotImplementedError

    @property
    def consistent(self) -> bool:
        """Symbolic and numerical verdicts agree (always, for a report with only one)."""
        return True

    def summary(self) -> str:
        raise NotImplementedError

    def record(self, ledger: Any, id: str, statement: str, *, alternative: str, source: str,
               expect: bool = True) -> bool:
        """Record this check in ``ledger`` as an **evidence** claim (relation ``true``).

        With ``expect=True`` the claim holds when the check holds (sympy and the numerics both
        accept). ``expect=False`` records a rejection ("the tool rejects this wrong candidate"):
        it holds only when sympy and the numerics *both* reject, never on an inconclusive split.
        ``alternative`` says what would have failed it. Returns the claim's verdict.
        """
        if not isinstance(expect, bool):
            raise TypeError(f"expect must be a bool, got {expect!r}")
        outcome = self.holds if expect else (not self.holds and self.consistent)
        return ledger.check(id, statement, bool(outcome), True, relation="true",
                            kind="evidence", alternative=alternative, source=source)

    def __repr__(self) -> str:
        return self.summary()

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self.summary())


@dataclass(repr=False)
class OrderReport(_Report):
    """GD-to-flow gaps at time ``T`` for steps ``h, h/2, ...`` and the observed order.

    ``gaps[k] = max_i |theta_GD(T; steps[k])_i - theta_flow(T)_i|``; ``order`` is the fitted
    slope of ``log gap`` on ``log h`` (``order_stderr`` its standard error), ``ratios`` the
    successive ``gap(h) / gap(h/2)`` (2 for order 1). ``holds`` when ``order`` lies in
    ``[expected - band, expected + band]``.
    """

    T: float
    steps: list
    gaps: np.ndarray
    ratios: np.ndarray
    order: float
    order_stderr: float
    expected: float
    band: float
    rtol: float
    atol: float

    @property
    def holds(self) -> bool:
        return bool(np.isfinite(self.order) and abs(self.order - self.expected) <= self.band)

    @property
    def verdict(self) -> str:
        return (f"order {self.expected:g} confirmed" if self.holds
                else f"order {self.expected:g} REJECTED")

    def summary(self) -> str:
        lines = [f"GD vs flow at T = {self.T:g} (flow: DOP853, rtol = {self.rtol:g}, "
                 f"atol = {self.atol:g}): {self.verdict}"]
        for s, g in zip(self.steps, self.gaps):
            lines.append(f"  h = {s:<8g} max |GD - flow| = {_fmt(g)}")
        lines.append("  successive ratios: " + ", ".join(f"{r:.3f}" for r in self.ratios))
        lines.append(f"  observed order (slope of log gap on log h) = {self.order:.3f} "
                     f"+- {self.order_stderr:.3f}; expected {self.expected:g} +- {self.band:g}")
        return "\n".join(lines)


def check_gd_order(flow: GradientFlow, y0: ArrayLike, T: float, h: float, *, levels: int = 3,
                   expected: float = 1.0, band: float = 0.1, rtol: float = RTOL,
                   atol: float = ATOL) -> OrderReport:
    """Run GD from ``y0`` at steps ``h, h/2, ..., h/2^(levels-1)`` up to time ``T`` and compare
    with the integrated flow at ``T``.

    GD is the explicit Euler scheme of the flow, so its global error at a fixed time is
    ``C(T) h + O(h^2)``: the observed order (fitted log-log slope) should be ``expected = 1``
    within ``band``. ``T`` must be a whole number of each step.
    """
    flow = _as_flow(flow)
    y0 = flow.as_state("y0", y0)
    T = as_float("T", T, minimum=0.0, strict_minimum=True)
    h = as_float("h", h, minimum=0.0, strict_minimum=True)
    levels = as_int("levels", levels, minimum=3, maximum=12)
    expected = as_float("expected", expected)
    band = as_float("band", band, minimum=0.0, strict_minimum=True)
    steps, counts = _step_ladder(T, h, levels)
    exact = integrate_flow(flow, y0, T, rtol=rtol, atol=atol).sol(T)
    gaps = np.array([np.max(np.abs(gradient_descent(flow, y0, s, n)[-1] - exact))
                     for s, n in zip(steps, counts)])
    order, stderr = _slope(steps, gaps)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = gaps[:-1] / gaps[1:]
    return OrderReport(T, steps, gaps, ratios, order, stderr, expected, band, rtol, atol)


class _TwoSidedReport(_Report):
    """A check decided by sympy *and* by the numerics: it holds when both accept, and is
    INCONCLUSIVE (never a pass) when they disagree. Subclasses define ``symbolic_holds``,
    ``numeric_holds`` and ``_TEXT``."""

    _TEXT: tuple[str, str, str, str, str, str]

    @property
    def symbolic_holds(self) -> bool:
        raise NotImplementedError

    @property
    def numeric_holds(self) -> bool:
        raise NotImplementedError

    @property
    def holds(self) -> bool:
        return self.symbolic_holds and self.numeric_holds

    @property
    def consistent(self) -> bool:
        return self.symbolic_holds == self.numeric_holds

    @property
    def verdict(self) -> str:
        yes, no, sym_yes, sym_no, num_yes, num_no = self._TEXT
        if self.holds:
            return yes
        if not self.consistent:
            return ("INCONCLUSIVE: sympy and the numerics disagree ("
                    + (sym_yes if self.symbolic_holds else sym_no)
                    + ", numerics " + (num_yes if self.numeric_holds else num_no) + ")")
        return no


@dataclass(repr=False)
class ConservationReport(_TwoSidedReport):
    """Symbolic and numerical check of a candidate conserved quantity ``Q``.

    ``rate`` is ``dQ/dt`` along the flow as reduced by :func:`symbolic_residual` (0 when
    conserved; otherwise the failing terms, entrywise for a matrix ``Q``); ``failing`` lists
    ``(index, expression)`` of its non-zero entries. Numbers: ``flow_drift`` =
    ``max_t max_ij |Q(theta(t)) - Q(theta(0))|`` along the integrated flow,
    ``gd_drifts[k]`` the same along GD at ``steps[k]``, ``gd_order`` their fitted log-log
    slope, ``scale = max |Q(theta(0))|`` (for reading the drifts).

    ``holds`` when the rate is 0, ``flow_drift <= flow_tol`` and ``gd_order >= 1 - band`` (or
    every GD drift is below ``flow_tol``: GD conserves ``Q`` as well). ``consistent`` tells
    whether the symbolic and numerical verdicts agree.
    """

    candidate: object
    rate: object
    failing: list
    T: float
    steps: list
    gd_drifts: np.ndarray
    gd_order: float
    flow_drift: float
    flow_tol: float
    scale: float
    band: float
    rtol: float
    atol: float

    @property
    def symbolic_holds(self) -> bool:
        return not self.failing

    @property
    def gd_holds(self) -> bool:
        """GD drift falls at least like ``h`` (or GD conserves ``Q`` to ``flow_tol`` too)."""
        if np.all(self.gd_drifts <= self.flow_tol):
            return True
        return bool(np.isfinite(self.gd_order) and self.gd_order >= 1.0 - self.band)

    @property
    def numeric_holds(self) -> bool:
        return bool(self.flow_drift <= self.flow_tol and self.gd_holds)

    # verdict texts of _TwoSidedReport: holds, fails, sympy yes/no, numerics yes/no
    _TEXT = ("conserved", "NOT conserved", "symbolic rate 0", "symbolic rate non-zero",
             "conserved", "drift")

    def failing_term(self, max_chars: int = 300) -> str:
        """The first non-zero entry of ``dQ/dt`` (entry index for a matrix), as text."""
        if not self.failing:
            return ""
        index, expr = self.failing[0]
        where = f"entry {index}: " if index is not None else ""
        text = str(sp.factor(expr) if sp.count_ops(expr) < 400 else expr)
        return where + (text if len(text) <= max_chars else text[:max_chars] + " ...")

    def summary(self) -> str:
        lines = [f"candidate Q = {_short(self.candidate)}: {self.verdict}",
                 "  symbolic dQ/dt along the flow: "
                 + ("0" if self.symbolic_holds else
                    f"non-zero in {len(self.failing)} "
                    f"entr{'y' if len(self.failing) == 1 else 'ies'}"),
                 f"  drift along the integrated flow (DOP853, rtol = {self.rtol:g}, "
                 f"atol = {self.atol:g}) up to T = {self.T:g}: {_fmt(self.flow_drift, 2)} "
                 f"(tolerance {self.flow_tol:g}; max |Q(0)| = {_fmt(self.scale)})",
                 "  drift along GD: " + ", ".join(f"h = {s:g}: {_fmt(d, 3)}"
                                                  for s, d in zip(self.steps, self.gd_drifts)),
                 f"  observed order of the GD drift = {_fmt(self.gd_order)} "
                 f"(>= {1 - self.band:g} when conserved by the flow; ~0 when not)"]
        if self.failing:
            lines.append("  failing term dQ/dt = " + self.failing_term())
        return "\n".join(lines)


def _short(expr: object, n: int = 120) -> str:
    text = str(expr)
    return text if len(text) <= n else text[:n] + " ..."


def _failing_entries(residual: Any) -> list:
    if isinstance(residual, sp.MatrixBase):
        return [((i, j), residual[i, j]) for i in range(residual.rows)
                for j in range(residual.cols) if residual[i, j] != 0]
    return [] if residual == 0 else [(None, residual)]


def _rate_along(flow: GradientFlow, Q: Any) -> Any:
    """``dQ/dt = sum_s dQ/ds * rhs_s`` (entrywise for a matrix Q)."""
    def d(q: Any) -> Any:
        return sum((sp.diff(q, s) * r for s, r in zip(flow.state, flow.rhs)), sp.Integer(0))
    return Q.applyfunc(d) if isinstance(Q, sp.MatrixBase) else d(Q)


def _numeric(flow: GradientFlow, expr: Any, extra: tuple = ()) -> Callable[..., Any]:
    c = {k: sp.Float(v) for k, v in flow.constants.items()}
    args = (flow.state,) + tuple(extra)
    target = expr.subs(c)
    f = sp.lambdify(args, target if not isinstance(target, sp.MatrixBase) else list(target),
                    modules="numpy", cse=True)

    def g(y: np.ndarray, *more: Any) -> Any:
        with np.errstate(all="ignore"):
            return np.asarray(f(y, *more), dtype=float).reshape(-1)
    return g


def check_conserved(flow: GradientFlow, candidate: Any, y0: ArrayLike, T: float, h: float, *,
                    levels: int = 3,
                    flow_tol: float = 1e-7, band: float = 0.15, n_times: int = 201,
                    rtol: float = RTOL, atol: float = ATOL) -> ConservationReport:
    """Check that ``candidate`` (scalar or matrix expression of the parameters and constants)
    is conserved by the flow.

    Symbolic: ``dQ/dt = grad Q . (-grad L)`` reduced by :func:`symbolic_residual`.
    Numerical, from ``y0`` up to time ``T``: the drift ``max |Q(theta(t)) - Q(theta(0))|`` along
    the integrated flow (at ``n_times`` times) must be ``<= flow_tol``, and along GD at steps
    ``h, h/2, ...`` it must fall at least like ``h`` (observed order ``>= 1 - band``): for a
    conserved ``Q`` one GD step changes ``Q`` by ``O(h^2)``, so ``T/h`` steps by ``O(h)``; a
    quantity the flow does not conserve drifts by ``O(1)`` whatever ``h``. The thresholds
    ``flow_tol = 1e-7`` (the solver runs at ``rtol = 1e-10``; measured drifts of conserved
    quantities are ~1e-11) and ``band = 0.15`` (measured orders 0.99-1.03) sit far from both.
    """
    flow = _as_flow(flow)
    Q = flow.quantity("candidate", candidate)
    y0 = flow.as_state("y0", y0)
    T = as_float("T", T, minimum=0.0, strict_minimum=True)
    h = as_float("h", h, minimum=0.0, strict_minimum=True)
    levels = as_int("levels", levels, minimum=3, maximum=12)
    flow_tol = as_float("flow_tol", flow_tol, minimum=0.0, strict_minimum=True)
    band = as_float("band", band, minimum=0.0, strict_minimum=True)
    n_times = as_int("n_times", n_times, minimum=2)
    steps, counts = _step_ladder(T, h, levels)

    residual = symbolic_residual(_rate_along(flow, Q))
    failing = _failing_entries(residual)

    q = _numeric(flow, Q)
    q0 = q(y0)
    sol = integrate_flow(flow, y0, T, rtol=rtol, atol=atol).sol
    ys = sol(np.linspace(0.0, T, n_times)).T
    flow_drift = float(max(np.max(np.abs(q(y) - q0)) for y in ys))
    gd_drifts = np.array([float(max(np.max(np.abs(q(y) - q0))
                                    for y in gradient_descent(flow, y0, s, n)))
                          for s, n in zip(steps, counts)])
    gd_order, _ = _slope(steps, gd_drifts)
    return ConservationReport(Q, residual, failing, T, steps, gd_drifts, gd_order, flow_drift,
                              flow_tol, float(np.max(np.abs(q0))), band, rtol, atol)


@dataclass(repr=False)
class ClosedFormReport(_TwoSidedReport):
    """Symbolic and numerical check of a candidate closed-form solution ``theta(t) = S(t, p)``.

    ``residual`` is ``dS/dt - rhs(S)`` reduced by :func:`symbolic_residual` (per state entry);
    ``failing`` lists ``(state symbol, expression)`` of its non-zero entries. Numbers:
    ``errors[k] = max_t max_i |S(t, p_k) - theta_flow(t)_i|`` over ``n_times`` times in
    ``[0, T]``, for random start parameters ``p_k`` (``starts``), the flow integrated from
    ``S(0, p_k)``. ``holds`` when the residual is 0 and ``max(errors) <= match_tol``.
    """

    solution: list
    residual: sp.Matrix
    failing: list
    T: float
    starts: list
    errors: np.ndarray
    match_tol: float
    rtol: float
    atol: float
    seed_note: str

    @property
    def symbolic_holds(self) -> bool:
        return not self.failing

    @property
    def max_error(self) -> float:
        return float(np.max(self.errors))

    @property
    def numeric_holds(self) -> bool:
        return bool(np.isfinite(self.max_error) and self.max_error <= self.match_tol)

    _TEXT = ("solves the flow", "does NOT solve the flow", "ODE residual 0",
             "ODE residual non-zero", "agree", "disagree")

    def failing_term(self, max_chars: int = 300) -> str:
        """The first non-zero entry of the ODE residual ``dS/dt - rhs(S)``, as text."""
        if not self.failing:
            return ""
        sym, expr = self.failing[0]
        if sp.count_ops(expr) < 200:
            expr = sp.factor(expr)
        text = f"d{sym}/dt - rhs = {expr}"
        return text if len(text) <= max_chars else text[:max_chars] + " ..."

    def summary(self) -> str:
        lines = [f"candidate closed form: {self.verdict}",
                 "  symbolic ODE residual dS/dt - rhs(S): "
                 + ("0" if self.symbolic_holds else f"non-zero in {len(self.failing)} of "
                    f"{len(self.residual)} entries"),
                 f"  against the integrated flow (DOP853, rtol = {self.rtol:g}, atol = "
                 f"{self.atol:g}) on [0, {self.T:g}] from {len(self.starts)} random starts "
                 f"({self.seed_note}): max error = {_fmt(self.max_error, 2)} "
                 f"(tolerance {self.match_tol:g})"]
        if self.failing:
            lines.append("  failing term: " + self.failing_term())
        return "\n".join(lines)


def check_closed_form(flow: GradientFlow, solution: Any, t: Any, ranges: Any, rng: Any, *,
                      T: float,
                      n_starts: int = 5, match_tol: float = 1e-7, n_times: int = 101,
                      rtol: float = RTOL, atol: float = ATOL) -> ClosedFormReport:
    """Check a candidate closed-form solution of the flow.

    ``solution``: a dict (or, for matrix parameters, which are not hashable, a list of pairs)
    mapping every parameter (symbol, symbol matrix or MatrixSymbol given to
    :func:`derive_flow`) to its expression in the time symbol ``t``, start parameters and the
    flow's constants (a family of solutions, e.g. the balanced starts ``w_1 = w_2 = w_0``).
    ``ranges``: ``{start parameter: (low, high)}`` for every start parameter; each of the
    ``n_starts`` random starts draws them uniformly with ``rng`` (a numpy Generator).

    Symbolic: ``dS/dt - rhs(S)`` must reduce to 0 (:func:`symbolic_residual`). Numerical: the
    flow integrated from ``S(0, p)`` must agree with ``S(t, p)`` within ``match_tol`` (max over
    entries and ``n_times`` times in ``[0, T]``).
    """
    flow = _as_flow(flow)
    if not isinstance(t, sp.Symbol):
        raise TypeError(f"t must be a sympy Symbol, got {t!r}")
    if t in flow.state or t in flow.constants:
        raise ValueError(f"t = {t} is already a parameter or constant of the flow")
    if isinstance(solution, dict):
        pairs = list(solution.items())
    elif isinstance(solution, (list, tuple)) and all(
            isinstance(p, (list, tuple)) and len(p) == 2 for p in solution):
        pairs = [tuple(p) for p in solution]
    else:
        raise TypeError(f"solution must be a dict {{parameter: expression}} or a list of "
                        f"(parameter, expression) pairs, got {type(solution).__name__}")
    if not isinstance(ranges, dict) or not ranges:
        raise TypeError(f"ranges must be a non-empty dict {{start parameter: (low, high)}}, "
                        f"got {ranges!r}")
    rng = as_generator("rng", rng)
    T = as_float("T", T, minimum=0.0, strict_minimum=True)
    n_starts = as_int("n_starts", n_starts, minimum=1)
    match_tol = as_float("match_tol", match_tol, minimum=0.0, strict_minimum=True)
    n_times = as_int("n_times", n_times, minimum=2)
    start_params = []
    for k, bounds in ranges.items():
        if not isinstance(k, sp.Symbol):
            raise TypeError(f"ranges keys must be sympy Symbols, got {k!r}")
        if k in flow.state or k in flow.constants or k == t:
            raise ValueError(f"ranges: {k} is a parameter, constant or the time, not a start "
                             "parameter")
        if not (isinstance(bounds, (tuple, list)) and len(bounds) == 2):
            raise ValueError(f"ranges[{k}] must be a pair (low, high), got {bounds!r}")
        lo = as_float(f"ranges[{k}] low", bounds[0])
        hi = as_float(f"ranges[{k}] high", bounds[1])
        if not lo < hi:
            raise ValueError(f"ranges[{k}] must have low < high, got {bounds!r}")
        start_params.append((k, lo, hi))

    # one expression per state entry, in state order
    by_state: dict = {}
    for key, value in pairs:
        if isinstance(key, sp.MatrixSymbol):
            key = flow.substitutions.get(key, key)
        expr = flow.quantity(f"solution[{key}]", value, extra=[t] + [p for p, _, _ in start_params])
        if isinstance(key, sp.MatrixBase):
            if not isinstance(expr, sp.MatrixBase) or expr.shape != key.shape:
                raise ValueError(f"solution[{key}] must be a matrix of shape {key.shape}")
            by_state.update(zip(list(key), list(expr)))
        elif isinstance(key, sp.Symbol):
            if isinstance(expr, sp.MatrixBase):
                raise ValueError(f"solution[{key}] must be a scalar expression")
            by_state[key] = expr
        else:
            raise TypeError(f"solution keys must be parameters of the flow, got {key!r}")
    missing = [s for s in flow.state if s not in by_state]
    unknown = [s for s in by_state if s not in flow.state]
    if missing or unknown:
        raise ValueError(f"solution must give every parameter entry and nothing else: missing "
                         f"{[str(s) for s in missing]}, unknown {[str(s) for s in unknown]}")
    S = sp.Matrix([by_state[s] for s in flow.state])
    used = S.free_symbols - {t} - set(flow.constants)
    unused_missing = used - {p for p, _, _ in start_params}
    if unused_missing:
        raise ValueError(f"ranges must give a range for the start parameters "
                         f"{sorted(map(str, unused_missing))}")

    rhs_on_S = flow.rhs.subs(dict(zip(flow.state, S)), simultaneous=True)
    residual = symbolic_residual(S.diff(t) - rhs_on_S)
    failing = [(s, residual[i]) for i, s in enumerate(flow.state) if residual[i] != 0]

    c = {k: sp.Float(v) for k, v in flow.constants.items()}
    pars = [p for p, _, _ in start_params]
    S_num = sp.lambdify([t] + pars, list(S.subs(c)), modules="numpy", cse=True)
    times = np.linspace(0.0, T, n_times)
    starts, errors = [], []
    for _ in range(n_starts):
        p = [float(rng.uniform(lo, hi)) for _, lo, hi in start_params]
        starts.append(dict(zip(map(str, pars), p)))
        with np.errstate(all="ignore"):
            y0 = np.asarray([np.broadcast_to(v, ()) for v in S_num(0.0, *p)], dtype=float)
            closed = np.array([np.asarray(S_num(tt, *p), dtype=float).reshape(-1)
                               for tt in times])
        y0 = flow.as_state("the closed form at t = 0", y0)
        sol = integrate_flow(flow, y0, T, rtol=rtol, atol=atol).sol
        errors.append(float(np.max(np.abs(sol(times).T - closed))))
    ranges_text = ", ".join(f"{p} ~ U({lo:g}, {hi:g})" for p, lo, hi in start_params)
    return ClosedFormReport(pairs, residual, failing, T, starts, np.array(errors),
                            match_tol, rtol, atol, ranges_text)
