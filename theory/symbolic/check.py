"""Check your own derivation: gradient flows derived by sympy (:mod:`.flow`), checked by scipy.

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
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp
from numpy.typing import ArrayLike

from .._validate import as_float, as_generator, as_int
from ..fitting import log_linear_fit
from .flow import (ATOL, RTOL, GradientFlow, _as_flow, derive_flow, gradient_descent,
                   integrate_flow, symbolic_residual)

__all__ = ["GradientFlow", "derive_flow", "integrate_flow", "gradient_descent",
           "check_gd_order", "check_conserved", "check_closed_form", "symbolic_residual",
           "OrderReport", "ConservationReport", "ClosedFormReport"]


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
