"""Effective gradient flow and dynamical truncation of training data (T. Chen, arXiv:2501.07400).

Only the abstract and the opening of Sec. 1 of the paper could be read. The paper states
[abstract] that gradient descent on a Euclidean cost posed in the *input layer* of a ReLU
network, with weights adapted to the coordinate frame of the activations, is a flow of the
cumulative weights and biases that truncates clusters of training data at an exponential rate
that grows with the number of points already truncated, and that a cluster can be contracted
to one point (neural collapse, zero loss).  Every equation below is **our reconstruction** on
the truncation-map framework of Chen & Munoz Ewald (arXiv:2405.07098, eq. (1)); the setting,
the equations and what is reconstructed are written out in ``docs/03_dynamical_truncation.md``
(cited below as "docs Sec. N").

Network (all widths ``M``, every weight invertible)::

    x^(l) = relu(W_l x^(l-1) + b_l),  l = 1..L;        out = W_{L+1} x^(L) + b_{L+1}
    W^(l) = W_l ... W_1,  b^(l) = W_l b^(l-1) + b_l,   beta^(l) = (W^(l))^{-1} b^(l)
    tau_{W,beta}(x) = x - Pi_x (x + beta),  Pi_x = W^{-1} P_x W,  P_x = diag[W(x+beta) < 0]
    out = A^(L+1)(T(x)),  T = tau^(L) o ... o tau^(1)          (representation, docs Sec. 3)

Adapted (diagonal, positive) weights: ``tau(x)_i = max(x_i, theta_i)`` with the threshold
``theta = -beta``; the Euclidean gradient flow of the input-layer cost
``C_in = (1/2N) sum_j |T(x_j) - ybar_j|^2`` in ``theta`` is (E1)::

    d theta_i / ds = -(1/N) sum_{j in T_i(s)} (theta_i - ybar_{j,i}),   T_i = {j: x_{j,i} < theta_i}

and with the standard output cost (metric ``G = W^(L+1)^T W^(L+1)``) it is (E2)::

    d theta / ds = -(1/N) sum_j P_j G (tau(x_j) - ybar_j).

Thresholds may be grouped: ``groups[j]`` says which threshold vector acts on point ``j``
(one group = one shared truncation map; one group per cluster = one network per cluster,
the separated setting of docs Sec. 6).  The truncation convention is strict: a point exactly on a
threshold is *not* truncated (Heaviside ``H(0) = 0``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.integrate

from ._validate import as_choice, as_float, as_float_array, as_int
from .errors import DivergenceError, check_loss
from .progress import progress as _progress

__all__ = [
    "DivergenceError", "check_network", "forward", "cumulative_parameters",
    "cumulative_bias_sum", "truncation_pattern", "truncation_projector", "truncation_map",
    "truncate_chain", "representation", "pullback_targets", "output_metric",
    "input_cost", "input_cost_gradients", "kink_margin", "central_difference",
    "diagonal_truncation", "diagonal_pattern", "diagonal_cost", "effective_velocity",
    "ThresholdPath", "exact_threshold_path", "crossing_times_beyond",
    "FlowSolution", "integrate_threshold_flow", "gradient_descent_thresholds",
    "spectral_gap_solution", "spectral_gap_rate", "within_cluster_spread",
    "bias_jacobian", "bias_metric", "network_bias_gradient", "gradient_descent_biases",
    "fit_log_slope", "diagonal_depth_map", "cumulative_gradient_descent",
]


# ---------------------------------------------------------------------------------------
# validation helpers
# ---------------------------------------------------------------------------------------
_COND_LIMIT = 1e12


def _square_invertible(name: str, W) -> np.ndarray:
    W = as_float_array(name, W, ndim=2)
    if W.shape[0] != W.shape[1]:
        raise ValueError(f"{name} must be square, got shape {W.shape}")
    if np.linalg.cond(W) > _COND_LIMIT:
        raise ValueError(f"{name} is singular or nearly so (condition number > {_COND_LIMIT:.0e})")
    return W


def check_network(weights, biases) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Validate a network given as lists of ``L+1`` square invertible weights and biases.

    Returns float copies.  Raises ``ValueError`` naming ``weights[l]``/``biases[l]`` for a
    non-square, singular, non-finite or mis-sized entry, or for lists of different lengths.
    """
    if not isinstance(weights, (list, tuple)) or len(weights) < 1:
        raise ValueError("weights must be a non-empty list of square matrices")
    if not isinstance(biases, (list, tuple)) or len(biases) != len(weights):
        raise ValueError(f"biases must be a list of the same length as weights ({len(weights)})")
    Ws = [_square_invertible(f"weights[{l}]", W) for l, W in enumerate(weights)]
    M = Ws[0].shape[0]
    for l, W in enumerate(Ws):
        if W.shape != (M, M):
            raise ValueError(f"weights[{l}] must have shape {(M, M)} (equal widths), got {W.shape}")
    bs = [as_float_array(f"biases[{l}]", b, ndim=1) for l, b in enumerate(biases)]
    for l, b in enumerate(bs):
        if b.shape != (M,):
            raise ValueError(f"biases[{l}] must have shape {(M,)}, got {b.shape}")
    return Ws, bs


def _points(name: str, X, M: int | None = None) -> np.ndarray:
    X = as_float_array(name, X, ndim=2)
    if M is not None and X.shape[1] != M:
        raise ValueError(f"{name} must have {M} columns (the input dimension), got {X.shape}")
    return X


def _targets(name: str, Y, X: np.ndarray) -> np.ndarray:
    Y = as_float_array(name, Y, ndim=2)
    if Y.shape != X.shape:
        raise ValueError(f"{name} must have the shape of the data {X.shape}, got {Y.shape}")
    return Y


def _groups(groups, n_points: int, name: str = "groups") -> tuple[np.ndarray, int]:
    if groups is None:
        return np.zeros(n_points, dtype=int), 1
    g = np.asarray(groups)
    if g.shape != (n_points,) or g.dtype.kind not in "iu":
        raise ValueError(f"{name} must be an integer array of shape ({n_points},), got "
                         f"{g.dtype} {g.shape}")
    if g.min() < 0:
        raise ValueError(f"{name} must be non-negative")
    n_groups = int(g.max()) + 1
    if np.any(np.bincount(g, minlength=n_groups) == 0):
        raise ValueError(f"{name} must use every label 0..K-1 at least once")
    return g.astype(int), n_groups


def _thresholds(name: str, theta, n_groups: int, M: int) -> np.ndarray:
    theta = as_float_array(name, theta)
    if theta.ndim == 1 and n_groups == 1:
        theta = theta[None, :]
    if theta.shape != (n_groups, M):
        raise ValueError(f"{name} must have shape {(n_groups, M)} (groups x dimension), got "
                         f"{theta.shape}")
    return theta.copy()


def _metric(metric, M: int) -> np.ndarray | None:
    if metric is None:
        return None
    G = as_float_array("metric", metric, ndim=2)
    if G.shape != (M, M):
        raise ValueError(f"metric must have shape {(M, M)}, got {G.shape}")
    if not np.allclose(G, G.T, rtol=1e-12, atol=1e-12):
        raise ValueError("metric must be symmetric")
    if np.linalg.eigvalsh(G).min() <= 0:
        raise ValueError("metric must be positive definite")
    return G


# ---------------------------------------------------------------------------------------
# network, cumulative parameters, truncation maps (docs Secs. 2-3)
# ---------------------------------------------------------------------------------------
def forward(weights, biases, X) -> np.ndarray:
    """Network output ``W_{L+1} x^(L) + b_{L+1}`` with ``x^(l) = relu(W_l x^(l-1) + b_l)``.

    ``weights``/``biases``: lists of ``L+1`` entries (the last is the affine output layer);
    ``X``: data, shape ``(N, M)``.  Returns shape ``(N, M)``.
    """
    Ws, bs = check_network(weights, biases)
    h = _points("X", X, Ws[0].shape[0])
    for W, b in zip(Ws[:-1], bs[:-1]):
        h = np.maximum(h @ W.T + b, 0.0)
    return h @ Ws[-1].T + bs[-1]


def cumulative_parameters(weights, biases):
    """Cumulative ``W^(l) = W_l...W_1``, ``b^(l) = W_l b^(l-1) + b_l`` and ``beta^(l)``.

    ``beta^(l) = (W^(l))^{-1} b^(l)`` so that ``A^(l)(x) = W^(l)(x + beta^(l))`` (docs Sec. 2).
    Returns ``(Wc, bc, beta)`` with shapes ``(L+1, M, M)``, ``(L+1, M)``, ``(L+1, M)``.
    """
    Ws, bs = check_network(weights, biases)
    Wc_list, bc_list = [Ws[0]], [bs[0]]
    for W, b in zip(Ws[1:], bs[1:]):
        Wc_list.append(W @ Wc_list[-1])
        bc_list.append(W @ bc_list[-1] + b)
    Wc, bc = np.stack(Wc_list), np.stack(bc_list)
    beta = np.linalg.solve(Wc, bc[..., None])[..., 0]
    return Wc, bc, beta


def cumulative_bias_sum(weights, biases) -> np.ndarray:
    """``beta^(l) = sum_{k<=l} (W^(k))^{-1} b_k`` (docs Sec. 2), computed as a sum; ``(L+1, M)``."""
    Ws, bs = check_network(weights, biases)
    Wc, _, _ = cumulative_parameters(Ws, bs)
    terms = np.linalg.solve(Wc, np.stack(bs)[..., None])[..., 0]
    return np.cumsum(terms, axis=0)


def _cumulative(W, beta, M=None):
    W = _square_invertible("W", W)
    beta = as_float_array("beta", beta, ndim=1)
    if beta.shape != (W.shape[0],):
        raise ValueError(f"beta must have shape {(W.shape[0],)}, got {beta.shape}")
    if M is not None and W.shape[0] != M:
        raise ValueError(f"W must be {M} x {M} to act on the data, got {W.shape}")
    return W, beta


def truncation_pattern(W, beta, X) -> np.ndarray:
    """``P_x``: boolean ``(N, M)``, True where ``(W(x + beta))_i < 0`` (coordinate truncated)."""
    X = _points("X", X)
    W, beta = _cumulative(W, beta, X.shape[1])
    return (X + beta) @ W.T < 0


def truncation_projector(W, beta, X) -> np.ndarray:
    """Oblique projectors ``Pi_x = W^{-1} P_x W`` for every row of ``X``; shape ``(N, M, M)``.

    ``Pi_x`` is idempotent and ``tau(x) = x - Pi_x (x + beta)`` on each activation region
    (docs Sec. 3); ``d tau / d beta = -Pi_x``.
    """
    X = _points("X", X)
    W, beta = _cumulative(W, beta, X.shape[1])
    P = truncation_pattern(W, beta, X).astype(float)
    return np.linalg.solve(W, P[:, :, None] * W[None])


def truncation_map(W, beta, X) -> np.ndarray:
    """``tau_{W,beta}(x) = W^{-1}(relu(W(x+beta)) - W beta)``.

    arXiv:2405.07098 eq. (1), with the inverse of an invertible ``W`` (docs Sec. 3).
    """
    X = _points("X", X)
    W, beta = _cumulative(W, beta, X.shape[1])
    pre = (X + beta) @ W.T
    return np.linalg.solve(W, (np.maximum(pre, 0.0)).T).T - beta


def _chain_args(Wc, betas, X):
    X = _points("X", X)
    Wc = as_float_array("Wc", Wc, ndim=3)
    betas = as_float_array("betas", betas, ndim=2)
    M = X.shape[1]
    if Wc.shape[1:] != (M, M) or betas.shape != (Wc.shape[0], M):
        raise ValueError(f"Wc must have shape (L, {M}, {M}) and betas (L, {M}); got "
                         f"{Wc.shape} and {betas.shape}")
    for l in range(Wc.shape[0]):
        _square_invertible(f"Wc[{l}]", Wc[l])
    return Wc, betas, X


def truncate_chain(Wc, betas, X) -> np.ndarray:
    """``T(x) = tau^(L) o ... o tau^(1)(x)`` for cumulative ``Wc`` (L, M, M), ``betas`` (L, M)."""
    Wc, betas, Z = _chain_args(Wc, betas, X)
    for W, beta in zip(Wc, betas):
        Z = truncation_map(W, beta, Z)
    return Z


def representation(weights, biases, X) -> np.ndarray:
    """The network output written as ``A^(L+1)(T(x))``: truncations in input space, then one
    affine map with the cumulative output parameters (docs Sec. 3)."""
    Wc, _, beta = cumulative_parameters(weights, biases)
    Z = truncate_chain(Wc[:-1], beta[:-1], X) if len(Wc) > 1 else _points("X", X, Wc.shape[1])
    return (Z + beta[-1]) @ Wc[-1].T


def pullback_targets(weights, biases, Y) -> np.ndarray:
    """Labels pulled back to the input layer: ``ybar = (A^(L+1))^{-1} y`` (docs Sec. 5)."""
    Wc, _, beta = cumulative_parameters(weights, biases)
    Y = _points("Y", Y, Wc.shape[1])
    return np.linalg.solve(Wc[-1], Y.T).T - beta[-1]


def output_metric(weights, biases) -> np.ndarray:
    """``G = W^(L+1)^T W^(L+1)``: the standard cost is the input cost in this metric.

    See docs Sec. 5.
    """
    Wc, _, _ = cumulative_parameters(weights, biases)
    return Wc[-1].T @ Wc[-1]


def input_cost(Wc, betas, X, Ybar) -> float:
    """``C_in = (1/2N) sum_j |T(x_j) - ybar_j|^2`` for cumulative truncation parameters."""
    Wc, betas, X = _chain_args(Wc, betas, X)
    Ybar = _targets("Ybar", Ybar, X)
    R = truncate_chain(Wc, betas, X) - Ybar
    return 0.5 * float(np.sum(R * R)) / X.shape[0]


def input_cost_gradients(Wc, betas, X, Ybar):
    """Gradients of ``C_in`` in every cumulative ``W^(l)`` and ``beta^(l)`` (away from kinks).

    Per layer, with the adjoint ``g_j`` of ``z_j^(l)``, ``u_j = z_j^(l-1) + beta^(l)`` and
    ``a_j = W^{-T} g_j`` (docs Sec. 5, ``dPi = W^{-1}[P, dW W^{-1}] W``)::

        dC/dbeta = -sum_j Pi_j^T g_j,   dC/dW = -sum_j [P_j a_j u_j^T - a_j (Pi_j u_j)^T],
        g^(l-1) = (I - Pi)^T g^(l),     g^(L) = (T(x_j) - ybar_j) / N.

    Returns ``(grad_W, grad_beta)`` with the shapes of ``Wc`` and ``betas``.
    """
    Wc, betas, X = _chain_args(Wc, betas, X)
    Ybar = _targets("Ybar", Ybar, X)
    N = X.shape[0]
    inputs, Z = [], X
    for W, beta in zip(Wc, betas):
        inputs.append(Z)
        Z = truncation_map(W, beta, Z)
    g = (Z - Ybar) / N
    grad_W, grad_beta = np.zeros_like(Wc), np.zeros_like(betas)
    for l in range(len(Wc) - 1, -1, -1):
        W, U = Wc[l], inputs[l] + betas[l]
        pre = U @ W.T
        P = (pre < 0).astype(float)
        PiU = np.linalg.solve(W, (P * pre).T).T            # rows Pi_j u_j
        A = np.linalg.solve(W.T, g.T).T                    # rows a_j = W^{-T} g_j
        PiTg = (P * A) @ W                                 # rows Pi_j^T g_j
        grad_beta[l] = -PiTg.sum(axis=0)
        grad_W[l] = -((P * A).T @ U - A.T @ PiU)
        g = g - PiTg
    return grad_W, grad_beta


def kink_margin(Wc, betas, X) -> float:
    """Distance to the nearest kink: ``min |(W^(l)(z^(l-1) + beta^(l)))_i|`` over layers,
    points and coordinates.  Finite differences with steps well below it see one region."""
    Wc, betas, Z = _chain_args(Wc, betas, X)
    margin = np.inf
    for W, beta in zip(Wc, betas):
        margin = min(margin, float(np.abs((Z + beta) @ W.T).min()))
        Z = truncation_map(W, beta, Z)
    return margin


def central_difference(fun, x, h: float = 1e-6) -> np.ndarray:
    """Central finite-difference gradient of a scalar ``fun`` at the array ``x``."""
    x = as_float_array("x", x)
    h = as_float("h", h, minimum=0.0, strict_minimum=True)
    if not callable(fun):
        raise ValueError("fun must be callable")
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = h
        grad[idx] = (fun(x + e) - fun(x - e)) / (2 * h)
    return grad


# ---------------------------------------------------------------------------------------
# adapted (diagonal) case: thresholds, the effective flow (E1)/(E2)
# ---------------------------------------------------------------------------------------
def diagonal_pattern(X, theta, groups=None) -> np.ndarray:
    """``(N, M)`` boolean: ``x_{j,i} < theta_{g(j), i}`` (point ``j`` truncated in coordinate i)."""
    X = _points("X", X)
    g, K = _groups(groups, X.shape[0])
    theta = _thresholds("theta", theta, K, X.shape[1])
    return X < theta[g]


def diagonal_truncation(X, theta, groups=None) -> np.ndarray:
    """``tau(x)_i = max(x_i, theta_i)`` (docs Sec. 4), each point with its group's threshold."""
    X = _points("X", X)
    g, K = _groups(groups, X.shape[0])
    theta = _thresholds("theta", theta, K, X.shape[1])
    return np.maximum(X, theta[g])


def diagonal_cost(theta, X, Ybar, groups=None, metric=None) -> float:
    """``(1/2N) sum_j r_j^T G r_j`` with ``r_j = max(x_j, theta) - ybar_j`` (``G = I`` default:
    the input-layer cost; ``G = W^(L+1)^T W^(L+1)``: the standard cost)."""
    X = _points("X", X)
    Ybar = _targets("Ybar", Ybar, X)
    R = diagonal_truncation(X, theta, groups) - Ybar
    G = _metric(metric, X.shape[1])
    GR = R if G is None else R @ G
    return 0.5 * float(np.sum(R * GR)) / X.shape[0]


def _velocity(theta, X, Ybar, g, K, G, P):
    """E1/E2 right-hand side for a given pattern ``P`` (no validation)."""
    R = np.where(P, theta[g], X) - Ybar
    GR = R if G is None else R @ G
    contrib = np.where(P, GR, 0.0)
    vel = np.zeros_like(theta)
    np.add.at(vel, g, contrib)
    return -vel / X.shape[0]


def effective_velocity(theta, X, Ybar, groups=None, metric=None) -> np.ndarray:
    """The effective flow ``d theta/ds`` (docs Sec. 5, (E1); (E2) when ``metric`` is given).

    ``-(1/N) sum_{j in group} P_j G (max(x_j, theta) - ybar_j)``, with ``P_j`` the strict
    truncation pattern; ``G = I`` gives (E1):
    ``d theta_i/ds = -(|T_i|/N)(theta_i - <ybar_i>_{T_i})``.  Equals minus the gradient of
    :func:`diagonal_cost` away from kinks.  Shape ``(K, M)``.
    """
    X = _points("X", X)
    Ybar = _targets("Ybar", Ybar, X)
    g, K = _groups(groups, X.shape[0])
    theta = _thresholds("theta", theta, K, X.shape[1])
    G = _metric(metric, X.shape[1])
    return _velocity(theta, X, Ybar, g, K, G, X < theta[g])


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
        return self.starts[1:]

    @property
    def limit(self) -> float:
        """``theta(s -> infinity)``."""
        return float(self.means[-1]) if self.end == "converges" else float(self.values[-1])

    def rates(self) -> np.ndarray:
        """The exponential rate ``k/N`` on each segment."""
        return self.counts / self.n_total

    def __call__(self, s) -> np.ndarray:
        s = np.asarray(s, dtype=float)
        k = np.clip(np.searchsorted(self.starts, s, side="right") - 1, 0, None)
        frozen = (self.counts[k] == 0) | ((k == len(self.starts) - 1) & (self.end != "converges"))
        decay = np.exp(-self.rates()[k] * (s - self.starts[k]))
        moving = self.means[k] + (self.values[k] - self.means[k]) * decay
        return np.where(frozen, self.values[k], moving)


def exact_threshold_path(x, ybar, theta0, n_total: int,
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
    x = as_float_array("x", x, ndim=1)
    ybar = as_float_array("ybar", ybar, ndim=1)
    if ybar.shape != x.shape:
        raise ValueError(f"ybar must have the shape of x {x.shape}, got {ybar.shape}")
    theta = as_float("theta0", theta0)
    n_total = as_int("n_total", n_total, minimum=x.size)
    max_segments = as_int("max_segments", max_segments, minimum=1)
    starts, values, counts, means = [], [], [], []
    s, end = 0.0, None
    truncated = x < theta
    for _ in range(max_segments):
        k = int(truncated.sum())
        m = float(ybar[truncated].mean()) if k else theta
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
            ahead = x[~truncated]
            nxt = ahead.min() if ahead.size else np.inf
            if not nxt < m:
                end = "converges"
                break
            new_truncated = truncated | (x == nxt)
        else:
            behind = x[truncated]
            nxt = behind.max()
            if not nxt > m:
                end = "converges"
                break
            new_truncated = truncated & (x != nxt)
        s += (n_total / k) * np.log((theta - m) / (nxt - m))
        theta = float(nxt)
        truncated = new_truncated
        k_new = int(truncated.sum())
        m_new = float(ybar[truncated].mean()) if k_new else theta
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


def crossing_times_beyond(x, ybar: float, theta0: float, n_total: int) -> np.ndarray:
    """Closed-form crossing times of the one-cluster solution (docs Sec. 6).

    The common target lies beyond the cluster.

    With sorted data ``x_(1) < ... < x_(n) < ybar`` and ``k0 >= 1`` points below ``theta0``::

        s_{k+1} - s_k = (N/k) ln[(ybar - theta(s_k)) / (ybar - x_(k+1))],  theta(s_k) = x_(k).

    Returns the times at which points ``k0+1, ..., n`` are truncated.
    """
    x = np.sort(as_float_array("x", x, ndim=1))
    ybar = as_float("ybar", ybar)
    theta = as_float("theta0", theta0)
    n_total = as_int("n_total", n_total, minimum=x.size)
    if not ybar > x.max():
        raise ValueError("ybar must lie beyond the cluster (ybar > max x)")
    if not x.min() < theta < ybar:
        raise ValueError("theta0 must truncate at least one point and lie below ybar")
    k0 = int(np.sum(x < theta))
    ks = np.arange(k0, x.size)
    prev = np.concatenate([[theta], x[k0:-1]])
    steps = (n_total / ks) * np.log((ybar - prev) / (ybar - x[k0:]))
    return np.cumsum(steps)


# ---------------------------------------------------------------------------------------
# event-driven integration with solve_ivp
# ---------------------------------------------------------------------------------------
@dataclass
class FlowSolution:
    """Output of :func:`integrate_threshold_flow`.

    ``s``: evaluation times; ``theta``: ``(len(s), K, M)``; ``events``: one row per kink
    ``(time, group, coordinate, point, direction)`` (direction +1: point truncated, -1:
    released); ``frozen``: ``(K, M)`` boolean, coordinates stuck at a sliding point.
    """

    s: np.ndarray
    theta: np.ndarray
    events: np.ndarray
    frozen: np.ndarray
    segments: list = field(default_factory=list, repr=False)

    def event_times(self, group: int, coord: int, direction: int = 1) -> np.ndarray:
        rows = self.events[(self.events[:, 1] == group) & (self.events[:, 2] == coord)
                           & (self.events[:, 4] == direction)]
        return rows[:, 0]


def integrate_threshold_flow(X, Ybar, theta0, s_end: float, *, groups=None, metric=None,
                             s_eval=None, rtol: float = 1e-10, atol: float = 1e-12,
                             method: str = "RK45", max_events: int = 100_000) -> FlowSolution:
    """Integrate (E1)/(E2) with ``scipy.integrate.solve_ivp``, stopping at every kink.

    Between kinks the truncation pattern is frozen and the flow is a smooth linear ODE; one
    terminal event per threshold and direction watches the nearest data value above (the next
    point to truncate) and the largest truncated value below (the next to release).  At an
    event the threshold is snapped onto the data value and the pattern is updated; if the
    flow on the new side points back (a Filippov sliding point) the coordinate is frozen
    there, which is exact when the coordinates decouple (``metric`` diagonal or ``None``).
    """
    X = _points("X", X)
    Ybar = _targets("Ybar", Ybar, X)
    g, K = _groups(groups, X.shape[0])
    M = X.shape[1]
    theta = _thresholds("theta0", theta0, K, M)
    s_end = as_float("s_end", s_end, minimum=0.0, strict_minimum=True)
    G = _metric(metric, M)
    method = as_choice("method", method, {"RK45", "DOP853", "Radau", "LSODA"})
    decoupled = G is None or np.allclose(G, np.diag(np.diag(G)))
    s_eval = np.linspace(0.0, s_end, 201) if s_eval is None else as_float_array(
        "s_eval", s_eval, ndim=1)
    if np.any(np.diff(s_eval) < 0) or s_eval[0] < 0 or s_eval[-1] > s_end:
        raise ValueError("s_eval must be sorted and lie in [0, s_end]")
    P = X < theta[g]
    frozen = np.zeros((K, M), dtype=bool)
    out = np.empty((s_eval.size, K, M))
    events, segments = [], []
    s = 0.0
    members = [np.flatnonzero(g == a) for a in range(K)]

    def rhs_for(P_fixed, frozen_fixed):
        def rhs(_t, y):
            v = _velocity(y.reshape(K, M), X, Ybar, g, K, G, P_fixed)
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
                    cands.append((a, i, free[np.argmin(X[free, i])], +1))
                if trunc.size:
                    cands.append((a, i, trunc[np.argmax(X[trunc, i])], -1))
        ev_funcs = []
        for a, i, j, d in cands:
            def ev(_t, y, a=a, i=i, j=j):
                return y[a * M + i] - X[j, i]
            ev.terminal, ev.direction = True, d     # type: ignore[attr-defined]  # solve_ivp
            ev_funcs.append(ev)
        sol = scipy.integrate.solve_ivp(rhs_for(P.copy(), frozen.copy()), (s, s_end),
                                        theta.ravel(), method=method, rtol=rtol, atol=atol,
                                        events=ev_funcs or None, dense_output=True)
        if sol.status == -1:
            raise RuntimeError(f"solve_ivp failed at s={s}: {sol.message}")
        s_stop = float(sol.t[-1])
        mask = (s_eval >= s) & (s_eval <= s_stop)
        if mask.any():
            out[mask] = sol.sol(s_eval[mask]).T.reshape(-1, K, M)
        segments.append((s, s_stop, P.copy()))
        theta = sol.y[:, -1].reshape(K, M).copy()
        if sol.status == 0:
            break
        hit = [n for n, te in enumerate(sol.t_events) if te.size]
        s = s_stop
        for n in hit:
            a, i, j, d = cands[n]
            theta[a, i] = X[j, i]
            same = members[a][X[members[a], i] == X[j, i]]
            P[same, i] = d > 0
            events.append((s, a, i, j, d))
            v = _velocity(theta, X, Ybar, g, K, G, P)[a, i]
            if np.sign(v) != d:
                if not decoupled and v != 0.0:
                    raise NotImplementedError(
                        f"sliding mode at s={s:.6g} (group {a}, coordinate {i}) with a "
                        "non-diagonal metric is not supported")
                frozen[a, i] = True
    else:
        raise RuntimeError(f"max_events={max_events} reached")
    return FlowSolution(s_eval, out, np.array(events, dtype=float).reshape(-1, 5), frozen,
                        segments)


# ---------------------------------------------------------------------------------------
# gradient-descent discretisation
# ---------------------------------------------------------------------------------------
def gradient_descent_thresholds(theta0, X, Ybar, eta: float, steps: int, *, groups=None,
                                metric=None, progress: bool = False):
    """``theta <- theta - eta grad C`` with the gradient of :func:`diagonal_cost`.

    While the pattern is fixed the error ``theta_i - m_k`` contracts by ``1 - eta k/N`` per
    step (E1).  Returns ``(thetas, losses)`` of shapes ``(steps+1, K, M)``, ``(steps+1,)``;
    raises :class:`DivergenceError` when the loss becomes non-finite.
    """
    X = _points("X", X)
    Ybar = _targets("Ybar", Ybar, X)
    g, K = _groups(groups, X.shape[0])
    theta = _thresholds("theta0", theta0, K, X.shape[1])
    eta = as_float("eta", eta, minimum=0.0, strict_minimum=True)
    steps = as_int("steps", steps, minimum=0)
    G = _metric(metric, X.shape[1])
    thetas = np.empty((steps + 1, K, X.shape[1]))
    losses = np.empty(steps + 1)

    def loss_of(th):
        R = np.maximum(X, th[g]) - Ybar
        return 0.5 * float(np.sum(R * (R if G is None else R @ G))) / X.shape[0]

    thetas[0], losses[0] = theta, check_loss(0, loss_of(theta))
    with np.errstate(over="ignore", invalid="ignore"):
        for t in _progress(range(1, steps + 1), enable=progress, desc="GD"):
            theta = theta + eta * _velocity(theta, X, Ybar, g, K, G, X < theta[g])
            loss = loss_of(theta) if np.all(np.isfinite(theta)) else np.nan
            thetas[t], losses[t] = theta, check_loss(t, loss, losses[0])
    return thetas, losses


# ---------------------------------------------------------------------------------------
# standard cost: spectral gap (docs Sec. 6)
# ---------------------------------------------------------------------------------------
def spectral_gap_solution(theta0, ybar, metric, rate_scale: float, s) -> np.ndarray:
    """Solution of ``theta' = -c G (theta - ybar)`` through ``G = V diag(lam) V^T``::

        theta(s) = ybar + V exp(-c lam s) V^T (theta0 - ybar);   shape ``(len(s), M)``.

    This is (E2) once the cluster is fully truncated, with ``c = n/N`` (docs Sec. 6);
    ``metric=None`` is the identity (the Euclidean reading).
    """
    theta0 = as_float_array("theta0", theta0, ndim=1)
    ybar = as_float_array("ybar", ybar, ndim=1)
    if ybar.shape != theta0.shape:
        raise ValueError(f"ybar must have shape {theta0.shape}, got {ybar.shape}")
    G = _metric(metric, theta0.size)
    if G is None:
        G = np.eye(theta0.size)
    c = as_float("rate_scale", rate_scale, minimum=0.0)
    s = as_float_array("s", s, ndim=1)
    lam, V = np.linalg.eigh(G)
    coef = V.T @ (theta0 - ybar)
    return ybar + (np.exp(-c * np.outer(s, lam)) * coef) @ V.T


def spectral_gap_rate(metric, n: int, n_total: int) -> float:
    """``(n/N) lambda_min(G)``: the late-time rate of (E2) for a fully truncated cluster."""
    n_total = as_int("n_total", n_total, minimum=1)
    n = as_int("n", n, minimum=0, maximum=n_total)
    G = as_float_array("metric", metric, ndim=2)
    _metric(G, G.shape[0])                      # validates: square, symmetric, definite
    return n / n_total * float(np.linalg.eigvalsh(G)[0])


# ---------------------------------------------------------------------------------------
# neural-collapse metric (docs Sec. 6)
# ---------------------------------------------------------------------------------------
def within_cluster_spread(Z, labels) -> np.ndarray:
    """``V_alpha = mean_{j in alpha} |z_j - mean_alpha z|^2`` for every cluster ``alpha``.

    ``Z``: ``(..., N, M)`` (leading axes e.g. time); ``labels``: ``(N,)`` integers 0..K-1.
    Returns ``(..., K)``.  Zero for a cluster collapsed to one point (NC1).
    """
    Z = as_float_array("Z", Z, min_ndim=2)
    labels, K = _groups(labels, Z.shape[-2], "labels")
    onehot = np.eye(K)[labels]                               # (N, K)
    counts = onehot.sum(axis=0)
    means = np.einsum("nk,...nm->...km", onehot, Z) / counts[:, None]
    dev = Z - means[..., labels, :]
    return np.einsum("nk,...n->...k", onehot, np.sum(dev * dev, axis=-1)) / counts


# ---------------------------------------------------------------------------------------
# per-layer parametrisation: the induced metric on the thresholds (docs Sec. 7)
# ---------------------------------------------------------------------------------------
def bias_jacobian(hidden_weights) -> np.ndarray:
    """``J = d(beta^(1..L)) / d(b_1..b_L)``: block ``(l, k) = (W^(k))^{-1}`` for ``k <= l``.

    ``hidden_weights``: list of the ``L`` hidden weights.  Returns ``(L M, L M)``.
    """
    if not isinstance(hidden_weights, (list, tuple)) or not hidden_weights:
        raise ValueError("hidden_weights must be a non-empty list of square matrices")
    Ws = [_square_invertible(f"hidden_weights[{l}]", W) for l, W in enumerate(hidden_weights)]
    M = Ws[0].shape[0]
    if any(W.shape != (M, M) for W in Ws):
        raise ValueError("hidden_weights must all have the same square shape")
    L = len(Ws)
    Wc = [Ws[0]]
    for W in Ws[1:]:
        Wc.append(W @ Wc[-1])
    J = np.zeros((L * M, L * M))
    for l in range(L):
        for k in range(l + 1):
            J[l * M:(l + 1) * M, k * M:(k + 1) * M] = np.linalg.inv(Wc[k])
    return J


def bias_metric(hidden_weights) -> np.ndarray:
    """``J J^T``, block ``(l, l') = sum_{k <= min(l, l')} (W^(k))^{-1}(W^(k))^{-T}`` (docs Sec. 7).

    Gradient flow on the per-layer biases induces ``theta' = -J J^T grad_theta C``; (E1) is
    the same flow only when ``J J^T = I``.
    """
    J = bias_jacobian(hidden_weights)
    return J @ J.T


def network_bias_gradient(weights, biases, X, Ybar) -> np.ndarray:
    """Backpropagation through the ReLU network of the input-layer cost, in ``b_1..b_L``.

    ``C = (1/2N) sum_j |(A^(L+1))^{-1}(out_j) - ybar_j|^2`` with ``ybar`` held fixed, i.e.
    ``C_in`` written through the network (independent of the truncation formalism).  The
    pull-back ``(A^(L+1))^{-1} = (W^(L+1))^{-1}(.) - beta^(L+1)`` depends on every ``b_l``
    through ``d beta^(L+1)/d b_l = (W^(l))^{-1}``; that term is included.  Returns ``(L, M)``.
    """
    Ws, bs = check_network(weights, biases)
    X = _points("X", X, Ws[0].shape[0])
    Ybar = _targets("Ybar", Ybar, X)
    Wc, _, beta = cumulative_parameters(Ws, bs)
    pres, h = [], X
    for W, b in zip(Ws[:-1], bs[:-1]):
        pres.append(h @ W.T + b)
        h = np.maximum(pres[-1], 0.0)
    out = h @ Ws[-1].T + bs[-1]
    resid = np.linalg.solve(Wc[-1], out.T).T - beta[-1] - Ybar          # T(x_j) - ybar_j
    delta = np.linalg.solve(Wc[-1].T, resid.T).T / X.shape[0]            # dC/d out
    mean_resid = resid.sum(axis=0) / X.shape[0]
    grads = np.zeros((len(Ws) - 1, X.shape[1]))
    for l in range(len(Ws) - 2, -1, -1):
        delta = (delta @ Ws[l + 1]) * (pres[l] > 0)
        # through the hidden layers, then through the pull-back's own bias beta^(L+1)
        grads[l] = delta.sum(axis=0) - np.linalg.solve(Wc[l].T, mean_resid)
    return grads


def gradient_descent_biases(weights, biases, X, Ybar, eta: float, steps: int, *,
                            progress: bool = False):
    """Plain GD on the hidden biases ``b_1..b_L`` (weights frozen) of the network cost of
    :func:`network_bias_gradient`.  Returns ``(biases_traj, thetas)`` of shapes
    ``(steps+1, L, M)``: the biases and the induced thresholds ``theta^(l) = -beta^(l)``.
    Raises :class:`DivergenceError` when the cost gradient becomes non-finite."""
    Ws, bs = check_network(weights, biases)
    eta = as_float("eta", eta, minimum=0.0, strict_minimum=True)
    steps = as_int("steps", steps, minimum=0)
    L = len(Ws) - 1
    traj = np.empty((steps + 1, L, Ws[0].shape[0]))
    thetas = np.empty_like(traj)
    hidden = np.stack(bs[:-1])
    for t in _progress(range(steps + 1), enable=progress, desc="GD biases"):
        current = list(hidden) + [bs[-1]]
        traj[t] = hidden
        thetas[t] = -cumulative_parameters(Ws, current)[2][:-1]
        if t == steps:
            break
        with np.errstate(over="ignore", invalid="ignore"):
            hidden = hidden - eta * network_bias_gradient(Ws, current, X, Ybar)
        if not np.all(np.isfinite(hidden)):
            raise DivergenceError(t + 1, np.nan, "the biases became non-finite")
    return traj, thetas


# ---------------------------------------------------------------------------------------
# depth in the adapted case; training the cumulative weights too
# ---------------------------------------------------------------------------------------
def diagonal_depth_map(weights, biases, X) -> np.ndarray:
    """Network output of a ReLU net with positive diagonal hidden weights, written as

        out = A^(L+1)( max(x, max_l theta^(l)) ),   theta^(l) = -beta^(l)  (coordinate-wise),

    i.e. the ``L`` truncations collapse to one threshold per coordinate, the largest
    (docs/03_dynamical_truncation.md, Sec. 4).  The output layer may be any invertible
    matrix.  Raises ``ValueError`` naming ``weights[l]`` if a hidden weight is not positive
    diagonal.
    """
    Ws, bs = check_network(weights, biases)
    for l, W in enumerate(Ws[:-1]):
        if np.any(W - np.diag(np.diag(W)) != 0) or np.any(np.diag(W) <= 0):
            raise ValueError(f"weights[{l}] must be a positive diagonal matrix")
    X = _points("X", X, Ws[0].shape[0])
    Wc, _, beta = cumulative_parameters(Ws, bs)
    T = X if len(Ws) == 1 else np.maximum(X, (-beta[:-1]).max(axis=0))
    return (T + beta[-1]) @ Wc[-1].T


def cumulative_gradient_descent(W0, beta0, X, Ybar, eta: float, steps: int, *,
                                diagonal: bool = False, record_every: int = 1):
    """Gradient descent on one truncation layer's cumulative ``(W, beta)`` for ``C_in``.

    ``C_in = (1/2n) sum_j |tau_{W,beta}(x_j) - ybar_j|^2`` with the gradients of
    :func:`input_cost_gradients` (docs/03_dynamical_truncation.md, Sec. 8)::

        dC/dbeta = -(1/n) sum_j Pi_j^T r_j,
        dC/dW    = -(1/n) sum_j [P_j a_j u_j^T - a_j (Pi_j u_j)^T]

    with ``r_j = tau(x_j) - ybar_j``, ``u_j = x_j + beta``, ``a_j = W^{-T} r_j``.  Batched:
    ``X``/``Ybar`` of shape ``(B, n, M)`` (or ``(n, M)``), ``W0`` ``(B, M, M)`` or ``(M, M)``,
    ``beta0`` ``(B, M)`` or ``(M,)``.  ``diagonal=True`` keeps only the diagonal of the
    weight gradient (the adapted constraint; that diagonal vanishes for diagonal ``W``, so a
    diagonal ``W0`` then stays fixed and ``theta = -beta`` follows GD on (E1)).

    Returns ``(Ws, betas, losses)`` recorded every ``record_every`` steps (and at the last):
    shapes ``(R, B, M, M)``, ``(R, B, M)``, ``(R, B)``.  Raises :class:`DivergenceError` when
    the loss becomes non-finite or a weight becomes singular.
    """
    X = as_float_array("X", X)
    if X.ndim == 2:
        X = X[None]
    if X.ndim != 3 or X.shape[1] < 1 or X.shape[2] < 1:
        raise ValueError(f"X must have shape (n, M) or (B, n, M), got {X.shape}")
    B, n, M = X.shape
    Ybar = as_float_array("Ybar", Ybar)
    if Ybar.ndim == 2:
        Ybar = Ybar[None]
    if Ybar.shape != X.shape:
        raise ValueError(f"Ybar must have the shape of X {X.shape}, got {Ybar.shape}")
    W = as_float_array("W0", W0)
    if W.shape not in ((M, M), (B, M, M)):
        raise ValueError(f"W0 must have shape ({M}, {M}) or ({B}, {M}, {M}), got {W.shape}")
    W = np.broadcast_to(W, (B, M, M)).copy()
    for b in range(B):
        _square_invertible("W0", W[b])
    beta = as_float_array("beta0", beta0)
    if beta.shape not in ((M,), (B, M)):
        raise ValueError(f"beta0 must have shape ({M},) or ({B}, {M}), got {beta.shape}")
    beta = np.broadcast_to(beta, (B, M)).copy()
    eta = as_float("eta", eta, minimum=0.0, strict_minimum=True)
    steps = as_int("steps", steps, minimum=0)
    record_every = as_int("record_every", record_every, minimum=1)
    if not isinstance(diagonal, bool):
        raise TypeError(f"diagonal must be a bool, got {diagonal!r}")
    mask = np.eye(M) if diagonal else np.ones((M, M))
    rec = set(range(0, steps + 1, record_every)) | {steps}
    Ws, betas, losses = [], [], []
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps + 1):
            U = X + beta[:, None, :]
            pre = np.einsum("bnk,bik->bni", U, W)
            P = pre < 0
            PiU = np.linalg.solve(W, np.swapaxes(np.where(P, pre, 0.0), 1, 2))  # (B, M, n)
            R = X - np.swapaxes(PiU, 1, 2) - Ybar                                # tau - ybar
            loss = 0.5 * np.sum(R * R, axis=(1, 2)) / n
            if not np.all(np.isfinite(loss)):
                raise DivergenceError(t, float(np.max(loss)))
            if t in rec:
                Ws.append(W.copy())
                betas.append(beta.copy())
                losses.append(loss)
            if t == steps:
                break
            A = np.swapaxes(np.linalg.solve(np.swapaxes(W, 1, 2),
                                            np.swapaxes(R, 1, 2) / n), 1, 2)      # a_j rows
            PA = np.where(P, A, 0.0)
            g_beta = -np.einsum("bni,bik->bk", PA, W)
            g_W = -(np.einsum("bni,bnk->bik", PA, U)
                    - np.einsum("bni,bkn->bik", A, PiU))
            W = W - eta * mask * g_W
            beta = beta - eta * g_beta
            if np.any(np.linalg.cond(W) > _COND_LIMIT):
                raise DivergenceError(t + 1, float(np.max(loss)), "a weight became singular")
    return np.stack(Ws), np.stack(betas), np.stack(losses)


# ---------------------------------------------------------------------------------------
# fitting
# ---------------------------------------------------------------------------------------
def fit_log_slope(s, y) -> float:
    """Least-squares slope of ``log y`` against ``s`` (``y > 0``)."""
    s = as_float_array("s", s, ndim=1)
    y = as_float_array("y", y, ndim=1)
    if y.shape != s.shape or s.size < 2:
        raise ValueError(f"s and y must have the same shape with >= 2 points, got {s.shape}, "
                         f"{y.shape}")
    if np.any(y <= 0):
        raise ValueError("y must be positive")
    return float(np.polyfit(s, np.log(y), 1)[0])
