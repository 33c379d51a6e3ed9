"""The effective threshold flow of adapted ReLU networks and its exact solutions (T. Chen,
arXiv:2501.07400; our reconstruction, docs/03_dynamical_truncation.md Secs. 4-6).

Only the abstract and the opening of Sec. 1 of the paper could be read; the equations here
are **ours** (see :mod:`theory.relu_flow` for the network and the cumulative parameters).
With adapted (positive diagonal) cumulative weights the truncation map is
``tau(x)_i = max(x_i, theta_i)`` with the threshold ``theta = -beta`` (docs Sec. 4), and the
Euclidean gradient flow of the input-layer cost ``C_in = (1/2N) sum_j |T(x_j) - ybar_j|^2`` in
``theta`` is (E1)::

    d theta_i / ds = -(1/N) sum_{j in T_i(s)} (theta_i - ybar_{j,i}),   T_i = {j: x_{j,i} < theta_i}

and with the standard output cost (metric ``G = W^(L+1)^T W^(L+1)``) it is (E2)::

    d theta / ds = -(1/N) sum_j P_j G (tau(x_j) - ybar_j).

Between kinks (E1) is linear: ``theta(s) = m_k + (theta_k - m_k) exp(-(k/N)(s - s_k))`` with
``k`` truncated points of mean target ``m_k``; the exponential rate ``k/N`` grows with every
truncated point (docs Sec. 6).  This module gives the flow's right-hand side, its exact
piecewise-exponential solution (:class:`ThresholdPath`), the closed-form crossing times, an
event-driven ``solve_ivp`` integration (:class:`FlowSolution`), the spectral-gap solution of
(E2) after full truncation, and the within-cluster spread that measures collapse.

Thresholds may be grouped: ``groups[j]`` says which threshold vector acts on point ``j``
(one group = one shared truncation map; one group per cluster = one network per cluster,
the separated setting of docs Sec. 6).  The truncation convention is strict: a point exactly on
a threshold is *not* truncated (Heaviside ``H(0) = 0``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.integrate
from numpy.typing import ArrayLike

from . import _relu_validate as rv
from ._validate import as_choice, as_float, as_float_array, as_int

__all__ = [
    "diagonal_pattern", "diagonal_truncation", "diagonal_cost", "effective_velocity",
    "ThresholdPath", "exact_threshold_path", "crossing_times_beyond",
    "FlowSolution", "integrate_threshold_flow", "spectral_gap_solution", "spectral_gap_rate",
    "within_cluster_spread",
]


# ---------------------------------------------------------------------------------------
# the adapted truncation, its cost and the flow (E1)/(E2) (docs Secs. 4-5)
# ---------------------------------------------------------------------------------------
def diagonal_pattern(X: ArrayLike, theta: ArrayLike, groups: ArrayLike | None = None
                     ) -> np.ndarray:
    """``(N, M)`` boolean: ``x_{j,i} < theta_{g(j), i}`` (point ``j`` truncated in coordinate i)."""
    Xa = rv.points("X", X)
    g, K = rv.groups(groups, Xa.shape[0])
    th = rv.thresholds("theta", theta, K, Xa.shape[1])
    return Xa < th[g]


def diagonal_truncation(X: ArrayLike, theta: ArrayLike, groups: ArrayLike | None = None
                        ) -> np.ndarray:
    """``tau(x)_i = max(x_i, theta_i)`` (docs Sec. 4), each point with its group's threshold."""
    Xa = rv.points("X", X)
    g, K = rv.groups(groups, Xa.shape[0])
    th = rv.thresholds("theta", theta, K, Xa.shape[1])
    return np.maximum(Xa, th[g])


def diagonal_cost(theta: ArrayLike, X: ArrayLike, Ybar: ArrayLike,
                  groups: ArrayLike | None = None, metric: ArrayLike | None = None) -> float:
    """``(1/2N) sum_j r_j^T G r_j`` with ``r_j = max(x_j, theta) - ybar_j`` (``G = I`` default:
    the input-layer cost; ``G = W^(L+1)^T W^(L+1)``: the standard cost)."""
    Xa = rv.points("X", X)
    Yb = rv.targets("Ybar", Ybar, Xa)
    R = diagonal_truncation(Xa, theta, groups) - Yb
    G = rv.metric(metric, Xa.shape[1])
    GR = R if G is None else R @ G
    return 0.5 * float(np.sum(R * GR)) / Xa.shape[0]


def _velocity(theta: np.ndarray, X: np.ndarray, Ybar: np.ndarray, g: np.ndarray, K: int,
              G: np.ndarray | None, P: np.ndarray) -> np.ndarray:
    """E1/E2 right-hand side for a given pattern ``P`` (no validation)."""
    R = np.where(P, theta[g], X) - Ybar
    GR = R if G is None else R @ G
    contrib = np.where(P, GR, 0.0)
    vel = np.zeros_like(theta)
    np.add.at(vel, g, contrib)
    return -vel / X.shape[0]


def effective_velocity(theta: ArrayLike, X: ArrayLike, Ybar: ArrayLike,
                       groups: ArrayLike | None = None,
                       metric: ArrayLike | None = None) -> np.ndarray:
    """The effective flow ``d theta/ds`` (docs Sec. 5, (E1); (E2) when ``metric`` is given).

    ``-(1/N) sum_{j in group} P_j G (max(x_j, theta) - ybar_j)``, with ``P_j`` the strict
    truncation pattern; ``G = I`` gives (E1):
    ``d theta_i/ds = -(|T_i|/N)(theta_i - <ybar_i>_{T_i})``.  Equals minus the gradient of
    :func:`diagonal_cost` away from kinks.  Shape ``(K, M)``.
    """
    Xa = rv.points("X", X)
    Yb = rv.targets("Ybar", Ybar, Xa)
    g, K = rv.groups(groups, Xa.shape[0])
    th = rv.thresholds("theta", theta, K, Xa.shape[1])
    G = rv.metric(metric, Xa.shape[1])
    return _velocity(th, Xa, Yb, g, K, G, Xa < th[g])


# ---------------------------------------------------------------------------------------
# exact piecewise-exponential solution of (E1) for one coordinate of one group (docs Sec. 6)
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ThresholdPath:
    """Exact solution of the scalar flow ``theta' = -(1/N) sum_{x_j < theta} (theta - ybar_j)``.

    Segment ``k`` starts at ``starts[k]`` from ``values[k]`` with ``counts[k]`` truncated points
    whose mean target is ``means[k]``: ``theta(s) = m + (theta_k - m) exp(-(c/N)(s - s_k))``.
    ``crossings`` are the kink times (``starts[1:]``); ``end`` says how the path ends:
    ``"converges"`` (to ``means[-1]``), ``"dead"`` (no truncated point: frozen) or
    ``"stuck"`` (a Filippov sliding point on a data value: frozen).
    """

    starts: np.ndarray
    values: np.ndarray
    counts: np.ndarray
    means: np.ndarray
    n_total: int
    end: str

    @property
    def crossings(self) -> np.ndarray:
        """The kink times ``s_1, s_2, ...``."""
        return self.starts[1:]

    @property
    def limit(self) -> float:
        """``theta(s -> infinity)``."""
        return float(self.means[-1]) if self.end == "converges" else float(self.values[-1])

    def rates(self) -> np.ndarray:
        """The exponential rate ``k/N`` on each segment."""
        return self.counts / self.n_total

    def __call__(self, s: ArrayLike) -> np.ndarray:
        s_arr = np.asarray(s, dtype=float)
        k = np.clip(np.searchsorted(self.starts, s_arr, side="right") - 1, 0, None)
        frozen = (self.counts[k] == 0) | ((k == len(self.starts) - 1) & (self.end != "converges"))
        decay = np.exp(-self.rates()[k] * (s_arr - self.starts[k]))
        moving = self.means[k] + (self.values[k] - self.means[k]) * decay
        return np.where(frozen, self.values[k], moving)


def exact_threshold_path(x: ArrayLike, ybar: ArrayLike, theta0: float, n_total: int,
                         max_segments: int = 10_000) -> ThresholdPath:
    """Piecewise-exponential solution of (E1) for one threshold and the points it acts on.

    ``x``, ``ybar``: coordinates and targets of the points of the group, shape ``(n,)``;
    ``theta0``: initial threshold; ``n_total``: the ``N`` of the ``1/N`` normalisation.
    Between kinks the flow is ``theta' = -(k/N)(theta - m_k)`` (``m_k`` the mean target of the
    ``k`` truncated points); the next kink is the nearest data value in the direction of
    motion, reached at ``dt = (N/k) ln[(theta_k - m_k)/(x_next - m_k)]`` if it lies before
    ``m_k`` (docs Sec. 6).  A threshold with no truncated point freezes
    (dead bias); one whose new region pushes it back sticks at the data value (sliding).
    """
    xa = as_float_array("x", x, ndim=1)
    yb = as_float_array("ybar", ybar, ndim=1)
    if yb.shape != xa.shape:
        raise ValueError(f"ybar must have the shape of x {xa.shape}, got {yb.shape}")
    theta = as_float("theta0", theta0)
    n_total = as_int("n_total", n_total, minimum=xa.size)
    max_segments = as_int("max_segments", max_segments, minimum=1)
    starts: list[float] = []
    values: list[float] = []
    counts: list[int] = []
    means: list[float] = []
    s, end = 0.0, ""
    truncated = xa < theta
    for _ in range(max_segments):
        k = int(truncated.sum())
        m = float(yb[truncated].mean()) if k else theta
        starts.append(s)
        values.append(theta)
        counts.append(k)
        means.append(m)
        if k == 0:
            end = "dead"
            break
        if theta == m:
            end = "converges"
            break
        if theta < m:
            ahead = xa[~truncated]
            nxt = ahead.min() if ahead.size else np.inf
            if not nxt < m:
                end = "converges"
                break
            new_truncated = truncated | (xa == nxt)
        else:
            behind = xa[truncated]
            nxt = behind.max()
            if not nxt > m:
                end = "converges"
                break
            new_truncated = truncated & (xa != nxt)
        s += (n_total / k) * np.log((theta - m) / (nxt - m))
        theta = float(nxt)
        truncated = new_truncated
        k_new = int(truncated.sum())
        m_new = float(yb[truncated].mean()) if k_new else theta
        direction = np.sign(m - values[-1])
        if k_new and np.sign(m_new - theta) != direction:
            # the flow on the far side of the kink points back: Filippov sliding point
            starts.append(s)
            values.append(theta)
            counts.append(k_new)
            means.append(m_new)
            end = "stuck"
            break
    else:
        raise ValueError(f"max_segments={max_segments} reached")
    return ThresholdPath(np.array(starts), np.array(values), np.array(counts, dtype=int),
                         np.array(means), n_total, end)


def crossing_times_beyond(x: ArrayLike, ybar: float, theta0: float, n_total: int) -> np.ndarray:
    """Closed-form crossing times of the one-cluster solution (docs Sec. 6).

    The common target lies beyond the cluster.

    With sorted data ``x_(1) < ... < x_(n) < ybar`` and ``k0 >= 1`` points below ``theta0``::

        s_{k+1} - s_k = (N/k) ln[(ybar - theta(s_k)) / (ybar - x_(k+1))],  theta(s_k) = x_(k).

    Returns the times at which points ``k0+1, ..., n`` are truncated.
    """
    xs = np.sort(as_float_array("x", x, ndim=1))
    yb = as_float("ybar", ybar)
    theta = as_float("theta0", theta0)
    n_total = as_int("n_total", n_total, minimum=xs.size)
    if not yb > xs.max():
        raise ValueError("ybar must lie beyond the cluster (ybar > max x)")
    if not xs.min() < theta < yb:
        raise ValueError("theta0 must truncate at least one point and lie below ybar")
    k0 = int(np.sum(xs < theta))
    ks = np.arange(k0, xs.size)
    prev = np.concatenate([[theta], xs[k0:-1]])
    steps = (n_total / ks) * np.log((yb - prev) / (yb - xs[k0:]))
    return np.cumsum(steps)


# ---------------------------------------------------------------------------------------
# event-driven integration with solve_ivp
# ---------------------------------------------------------------------------------------
@dataclass
class FlowSolution:
    """Output of :func:`integrate_threshold_flow`: a solution of the ODE (E1)/(E2), not a
    training run (its time is the flow time ``s``, and it carries the kink events).

    ``s``: evaluation times; ``theta``: ``(len(s), K, M)``; ``events``: one row per kink
    ``(time, group, coordinate, point, direction)`` (direction +1: point truncated, -1:
    released); ``frozen``: ``(K, M)`` boolean, coordinates stuck at a sliding point;
    ``segments``: ``(s_start, s_stop, pattern)`` of every smooth piece.
    """

    s: np.ndarray
    theta: np.ndarray
    events: np.ndarray
    frozen: np.ndarray
    segments: list[tuple[float, float, np.ndarray]] = field(default_factory=list, repr=False)

    def event_times(self, group: int, coord: int, direction: int = 1) -> np.ndarray:
        """Times at which a point crosses threshold ``(group, coord)`` in ``direction``."""
        rows = self.events[(self.events[:, 1] == group) & (self.events[:, 2] == coord)
                           & (self.events[:, 4] == direction)]
        return rows[:, 0]


def integrate_threshold_flow(X: ArrayLike, Ybar: ArrayLike, theta0: ArrayLike, s_end: float, *,
                             groups: ArrayLike | None = None, metric: ArrayLike | None = None,
                             s_eval: ArrayLike | None = None, rtol: float = 1e-10,
                             atol: float = 1e-12, method: str = "RK45",
                             max_events: int = 100_000) -> FlowSolution:
    """Integrate (E1)/(E2) with ``scipy.integrate.solve_ivp``, stopping at every kink.

    Between kinks the truncation pattern is frozen and the flow is a smooth linear ODE; one
    terminal event per threshold and direction watches the nearest data value above (the next
    point to truncate) and the largest truncated value below (the next to release).  At an
    event the threshold is snapped onto the data value and the pattern is updated; if the
    flow on the new side points back (a Filippov sliding point) the coordinate is frozen
    there, which is exact when the coordinates decouple (``metric`` diagonal or ``None``).
    """
    Xa = rv.points("X", X)
    Yb = rv.targets("Ybar", Ybar, Xa)
    g, K = rv.groups(groups, Xa.shape[0])
    M = Xa.shape[1]
    theta = rv.thresholds("theta0", theta0, K, M)
    s_end = as_float("s_end", s_end, minimum=0.0, strict_minimum=True)
    G = rv.metric(metric, M)
    method = as_choice("method", method, {"RK45", "DOP853", "Radau", "LSODA"})
    max_events = as_int("max_events", max_events, minimum=1)
    decoupled = G is None or np.allclose(G, np.diag(np.diag(G)))
    s_grid = np.linspace(0.0, s_end, 201) if s_eval is None else as_float_array(
        "s_eval", s_eval, ndim=1)
    if np.any(np.diff(s_grid) < 0) or s_grid[0] < 0 or s_grid[-1] > s_end:
        raise ValueError("s_eval must be sorted and lie in [0, s_end]")
    P = Xa < theta[g]
    frozen = np.zeros((K, M), dtype=bool)
    out = np.empty((s_grid.size, K, M))
    events: list[tuple[float, int, int, int, int]] = []
    segments: list[tuple[float, float, np.ndarray]] = []
    s = 0.0
    members = [np.flatnonzero(g == a) for a in range(K)]

    def rhs_for(P_fixed: np.ndarray, frozen_fixed: np.ndarray
                ) -> Callable[[float, np.ndarray], np.ndarray]:
        def rhs(_t: float, y: np.ndarray) -> np.ndarray:
            v = _velocity(y.reshape(K, M), Xa, Yb, g, K, G, P_fixed)
            v[frozen_fixed] = 0.0
            return v.ravel()
        return rhs

    for _ in range(max_events):
        cands = []                                   # (group, coord, point, direction)
        for a in range(K):
            for i in range(M):
                if frozen[a, i]:
                    continue
                idx = members[a]
                free, trunc = idx[~P[idx, i]], idx[P[idx, i]]
                if free.size:
                    cands.append((a, i, int(free[np.argmin(Xa[free, i])]), +1))
                if trunc.size:
                    cands.append((a, i, int(trunc[np.argmax(Xa[trunc, i])]), -1))
        ev_funcs: list[Any] = []
        for a, i, j, d in cands:
            def ev(_t: float, y: np.ndarray, a: int = a, i: int = i, j: int = j) -> float:
                return float(y[a * M + i] - Xa[j, i])
            ev.terminal, ev.direction = True, d     # type: ignore[attr-defined]  # solve_ivp
            ev_funcs.append(ev)
        sol = scipy.integrate.solve_ivp(rhs_for(P.copy(), frozen.copy()), (s, s_end),
                                        theta.ravel(), method=method, rtol=rtol, atol=atol,
                                        events=ev_funcs or None, dense_output=True)
        if sol.status == -1:
            raise RuntimeError(f"solve_ivp failed at s={s}: {sol.message}")
        s_stop = float(sol.t[-1])
        mask = (s_grid >= s) & (s_grid <= s_stop)
        if mask.any():
            out[mask] = sol.sol(s_grid[mask]).T.reshape(-1, K, M)
        segments.append((s, s_stop, P.copy()))
        theta = sol.y[:, -1].reshape(K, M).copy()
        if sol.status == 0:
            break
        hit = [n for n, te in enumerate(sol.t_events) if te.size]
        s = s_stop
        for n in hit:
            a, i, j, d = cands[n]
            theta[a, i] = Xa[j, i]
            same = members[a][Xa[members[a], i] == Xa[j, i]]
            P[same, i] = d > 0
            events.append((s, a, i, j, d))
            v = _velocity(theta, Xa, Yb, g, K, G, P)[a, i]
            if np.sign(v) != d:
                if not decoupled and v != 0.0:
                    raise NotImplementedError(
                        f"sliding mode at s={s:.6g} (group {a}, coordinate {i}) with a "
                        "non-diagonal metric is not supported")
                frozen[a, i] = True
    else:
        raise RuntimeError(f"max_events={max_events} reached")
    return FlowSolution(s_grid, out, np.array(events, dtype=float).reshape(-1, 5), frozen,
                        segments)


# ---------------------------------------------------------------------------------------
# standard cost: spectral gap (docs Sec. 6)
# ---------------------------------------------------------------------------------------
def spectral_gap_solution(theta0: ArrayLike, ybar: ArrayLike, metric: ArrayLike | None,
                          rate_scale: float, s: ArrayLike) -> np.ndarray:
    """Solution of ``theta' = -c G (theta - ybar)`` through ``G = V diag(lam) V^T``::

        theta(s) = ybar + V exp(-c lam s) V^T (theta0 - ybar);   shape ``(len(s), M)``.

    This is (E2) once the cluster is fully truncated, with ``c = n/N`` (docs Sec. 6);
    ``metric=None`` is the identity (the Euclidean reading).
    """
    th0 = as_float_array("theta0", theta0, ndim=1)
    yb = as_float_array("ybar", ybar, ndim=1)
    if yb.shape != th0.shape:
        raise ValueError(f"ybar must have shape {th0.shape}, got {yb.shape}")
    G = rv.metric(metric, th0.size)
    if G is None:
        G = np.eye(th0.size)
    c = as_float("rate_scale", rate_scale, minimum=0.0)
    sa = as_float_array("s", s, ndim=1)
    lam, V = np.linalg.eigh(G)
    coef = V.T @ (th0 - yb)
    return yb + (np.exp(-c * np.outer(sa, lam)) * coef) @ V.T


def spectral_gap_rate(metric: ArrayLike, n: int, n_total: int) -> float:
    """``(n/N) lambda_min(G)``: the late-time rate of (E2) for a fully truncated cluster."""
    n_total = as_int("n_total", n_total, minimum=1)
    n = as_int("n", n, minimum=0, maximum=n_total)
    G = as_float_array("metric", metric, ndim=2)
    rv.metric(G, G.shape[0])                    # validates: square, symmetric, definite
    return n / n_total * float(np.linalg.eigvalsh(G)[0])


# ---------------------------------------------------------------------------------------
# neural-collapse metric (docs Sec. 6)
# ---------------------------------------------------------------------------------------
def within_cluster_spread(Z: ArrayLike, labels: ArrayLike) -> np.ndarray:
    """``V_alpha = mean_{j in alpha} |z_j - mean_alpha z|^2`` for every cluster ``alpha``.

    ``Z``: ``(..., N, M)`` (leading axes e.g. time); ``labels``: ``(N,)`` integers 0..K-1.
    Returns ``(..., K)``.  Zero for a cluster collapsed to one point (NC1).
    """
    Za = as_float_array("Z", Z, min_ndim=2)
    lab, K = rv.groups(labels, Za.shape[-2], "labels")
    onehot = np.eye(K)[lab]                                   # (N, K)
    counts = onehot.sum(axis=0)
    means = np.einsum("nk,...nm->...km", onehot, Za) / counts[:, None]
    dev = Za - means[..., lab, :]
    return np.einsum("nk,...n->...k", onehot, np.sum(dev * dev, axis=-1)) / counts
