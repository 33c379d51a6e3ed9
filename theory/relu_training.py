"""Gradient descent for the ReLU truncation flow (T. Chen, arXiv:2501.07400; our
reconstruction, docs/03_dynamical_truncation.md Secs. 5, 7 and 8).

Three trainers, each a plain gradient-descent run of :func:`theory.training.run` with
:func:`theory.optimizers.make_optimizer` ``("gd", lr=...)``, returning a
:class:`theory.training.Trajectory`:

* :func:`gradient_descent_thresholds`: ``theta <- theta - lr grad C`` on the thresholds of
  the adapted case, the time discretisation of the effective flow (E1)/(E2) of
  :mod:`theory.relu_thresholds`.  While the truncation pattern is fixed the error
  ``theta_i - m_k`` contracts by ``1 - lr k/N`` per step.
* :func:`gradient_descent_biases`: the network's own training, plain GD on its hidden biases
  ``b_1..b_L`` (weights frozen) with the gradient of ordinary backpropagation
  (:func:`theory.relu_flow.network_bias_gradient`).  It induces
  ``theta' = -J J^T grad_theta C_in`` on the thresholds (docs Sec. 7).
* :func:`cumulative_gradient_descent`: GD on one truncation layer's cumulative ``(W, beta)``
  with the closed-form gradients of :func:`theory.relu_flow.input_cost_gradients`, for a
  batch of independent runs (docs Sec. 8).

Each raises :class:`theory.errors.DivergenceError` when the loss becomes non-finite or grows
more than ``GROWTH_BOUND``-fold.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import _relu_validate as rv
from ._validate import as_float_array
from .errors import DivergenceError
from .optimizers import make_optimizer
from .relu_flow import _bias_gradient, _bias_residuals, check_network
from .relu_thresholds import _velocity
from .training import Trajectory, run

__all__ = ["gradient_descent_thresholds", "gradient_descent_biases",
           "cumulative_gradient_descent", "CumulativeTrajectory"]

Params = list[np.ndarray]


def gradient_descent_thresholds(theta0: ArrayLike, X: ArrayLike, Ybar: ArrayLike, *, lr: float,
                                steps: int, groups: ArrayLike | None = None,
                                metric: ArrayLike | None = None, log_every: int = 1,
                                progress: bool = False) -> Trajectory:
    """``theta <- theta - lr grad C`` with the gradient of
    :func:`theory.relu_thresholds.diagonal_cost` (minus the effective velocity (E1)/(E2)).

    Returns a :class:`~theory.training.Trajectory` whose ``snapshots`` are the thresholds,
    shape ``(n_logged, K, M)``, and ``losses`` the cost at every step, ``(steps + 1,)``.
    """
    Xa = rv.points("X", X)
    Yb = rv.targets("Ybar", Ybar, Xa)
    g, K = rv.groups(groups, Xa.shape[0])
    theta = rv.thresholds("theta0", theta0, K, Xa.shape[1])
    G = rv.metric(metric, Xa.shape[1])
    optimizer = make_optimizer("gd", lr=lr)

    def objective(params: Params) -> tuple[float, Any]:
        th = params[0]
        R = np.maximum(Xa, th[g]) - Yb
        loss = 0.5 * float(np.sum(R * (R if G is None else R @ G))) / Xa.shape[0]
        return loss, lambda: [-_velocity(th, Xa, Yb, g, K, G, Xa < th[g])]

    snaps, logged, losses, converged, final = run(
        objective, [theta], optimizer, steps=steps, log_every=log_every,
        snapshot=lambda ps: ps[0].copy(), progress=progress, desc="GD")
    return Trajectory(np.stack(snaps), logged, losses, converged, final[0])


def gradient_descent_biases(weights: Sequence[ArrayLike], biases: Sequence[ArrayLike],
                            X: ArrayLike, Ybar: ArrayLike, *, lr: float, steps: int,
                            log_every: int = 1, progress: bool = False) -> Trajectory:
    """Plain GD on the hidden biases ``b_1..b_L`` (weights frozen) of the network cost of
    :func:`theory.relu_flow.network_bias_cost`.

    Returns a :class:`~theory.training.Trajectory` whose ``snapshots`` are the hidden biases,
    shape ``(n_logged, L, M)``; :func:`theory.relu_flow.induced_thresholds` turns them into
    the thresholds ``theta^(l) = -beta^(l)``.
    """
    Ws, bs = check_network(weights, biases)
    if len(Ws) < 2:
        raise ValueError("weights must hold at least one hidden layer and the output layer")
    Xa = rv.points("X", X, Ws[0].shape[0])
    Yb = rv.targets("Ybar", Ybar, Xa)
    optimizer = make_optimizer("gd", lr=lr)

    def objective(params: Params) -> tuple[float, Any]:
        current = list(params[0]) + [bs[-1]]
        pres, resid, Wc = _bias_residuals(Ws, current, Xa, Yb)
        loss = 0.5 * float(np.sum(resid * resid)) / Xa.shape[0]
        return loss, lambda: [_bias_gradient(Ws, pres, resid, Wc)]

    snaps, logged, losses, converged, final = run(
        objective, [np.stack(bs[:-1])], optimizer, steps=steps, log_every=log_every,
        snapshot=lambda ps: ps[0].copy(), progress=progress, desc="GD biases")
    return Trajectory(np.stack(snaps), logged, losses, converged, final[0])


class CumulativeTrajectory(Trajectory):
    """A :class:`~theory.training.Trajectory` of :func:`cumulative_gradient_descent`:
    ``snapshots = (weights, betas)`` with shapes ``(n_logged, B, M, M)`` and
    ``(n_logged, B, M)``; ``final = (W, beta)``; ``losses`` ``(steps + 1, B)``."""

    @property
    def weights(self) -> np.ndarray:
        """The cumulative weights ``W`` at the logged steps, ``(n_logged, B, M, M)``."""
        return np.asarray(self.snapshots[0])

    @property
    def betas(self) -> np.ndarray:
        """The cumulative biases ``beta = -theta`` at the logged steps, ``(n_logged, B, M)``."""
        return np.asarray(self.snapshots[1])


def _batch(name: str, value: ArrayLike, shapes: tuple[tuple[int, ...], ...],
           full: tuple[int, ...]) -> np.ndarray:
    arr = as_float_array(name, value)
    if arr.shape not in shapes:
        raise ValueError(f"{name} must have shape {' or '.join(map(str, shapes))}, got "
                         f"{arr.shape}")
    return np.broadcast_to(arr, full).copy()


def cumulative_gradient_descent(W0: ArrayLike, beta0: ArrayLike, X: ArrayLike, Ybar: ArrayLike,
                                *, lr: float, steps: int, diagonal: bool = False,
                                log_every: int = 1) -> CumulativeTrajectory:
    """Gradient descent on one truncation layer's cumulative ``(W, beta)`` for ``C_in``.

    ``C_in = (1/2n) sum_j |tau_{W,beta}(x_j) - ybar_j|^2`` with the gradients of
    :func:`theory.relu_flow.input_cost_gradients` (docs Sec. 8)::

        dC/dbeta = -(1/n) sum_j Pi_j^T r_j,
        dC/dW    = -(1/n) sum_j [P_j a_j u_j^T - a_j (Pi_j u_j)^T]

    with ``r_j = tau(x_j) - ybar_j``, ``u_j = x_j + beta``, ``a_j = W^{-T} r_j``.  Batched:
    ``X``/``Ybar`` of shape ``(B, n, M)`` (or ``(n, M)``), ``W0`` ``(B, M, M)`` or ``(M, M)``,
    ``beta0`` ``(B, M)`` or ``(M,)``.  ``diagonal=True`` keeps only the diagonal of the
    weight gradient (the adapted constraint; that diagonal vanishes for diagonal ``W``, so a
    diagonal ``W0`` then stays fixed and ``theta = -beta`` follows GD on (E1)).

    Also raises :class:`~theory.errors.DivergenceError` when a weight becomes singular.
    """
    Xa = as_float_array("X", X)
    if Xa.ndim == 2:
        Xa = Xa[None]
    if Xa.ndim != 3:
        raise ValueError(f"X must have shape (n, M) or (B, n, M), got {Xa.shape}")
    B, n, M = Xa.shape
    Yb = as_float_array("Ybar", Ybar)
    if Yb.ndim == 2:
        Yb = Yb[None]
    if Yb.shape != Xa.shape:
        raise ValueError(f"Ybar must have the shape of X {Xa.shape}, got {Yb.shape}")
    W = _batch("W0", W0, ((M, M), (B, M, M)), (B, M, M))
    for b in range(B):
        rv.square_invertible("W0", W[b])
    beta = _batch("beta0", beta0, ((M,), (B, M)), (B, M))
    if not isinstance(diagonal, bool):
        raise TypeError(f"diagonal must be a bool, got {diagonal!r}")
    mask = np.eye(M) if diagonal else np.ones((M, M))
    optimizer = make_optimizer("gd", lr=lr)
    step, last_loss = [0], [float("nan")]

    def objective(params: Params) -> tuple[np.ndarray, Any]:
        W, beta = params
        t, step[0] = step[0], step[0] + 1
        if t > 0 and np.any(np.linalg.cond(W) > rv.COND_LIMIT):
            raise DivergenceError(t, last_loss[0], "a weight became singular")
        U = Xa + beta[:, None, :]
        pre = np.einsum("bnk,bik->bni", U, W)
        P = pre < 0
        PiU = np.linalg.solve(W, np.swapaxes(np.where(P, pre, 0.0), 1, 2))  # (B, M, n)
        R = Xa - np.swapaxes(PiU, 1, 2) - Yb                                # tau - ybar
        loss = 0.5 * np.sum(R * R, axis=(1, 2)) / n
        last_loss[0] = float(np.max(loss))

        def grads() -> Params:
            A = np.swapaxes(np.linalg.solve(np.swapaxes(W, 1, 2),
                                            np.swapaxes(R, 1, 2) / n), 1, 2)  # a_j rows
            PA = np.where(P, A, 0.0)
            g_beta = -np.einsum("bni,bik->bk", PA, W)
            g_W = -(np.einsum("bni,bnk->bik", PA, U)
                    - np.einsum("bni,bkn->bik", A, PiU))
            return [mask * g_W, g_beta]
        return loss, grads

    snaps, logged, losses, converged, final = run(
        objective, [W, beta], optimizer, steps=steps, log_every=log_every,
        snapshot=lambda ps: (ps[0].copy(), ps[1].copy()))
    history = (np.stack([s[0] for s in snaps]), np.stack([s[1] for s in snaps]))
    return CumulativeTrajectory(history, logged, losses, converged, (final[0], final[1]))
