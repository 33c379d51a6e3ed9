"""One training loop and one result type for every trainer of the collection.

A trainer supplies ``objective(params) -> (loss, grads)``: the loss at the current parameters
and their gradients (``grads`` may be a zero-argument callable, evaluated only when a step is
taken, so that the last iterate costs a forward pass only). :func:`run` iterates

    loss_t = L(theta_t),  theta_{t+1} = optimizer.update(theta_t, grad L(theta_t))

for ``t = 0 .. steps`` (``steps`` updates), records every loss, keeps a snapshot every
``log_every`` steps and at the last iterate, stops early once the loss falls below ``tol``,
and raises :class:`~theory.errors.DivergenceError` as soon as the loss is non-finite or has
grown more than ``GROWTH_BOUND``-fold (:func:`~theory.errors.check_loss`). A batch of
independent runs has an array loss (one entry per run); ``tol`` then applies to the largest.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validate import as_float, as_int
from .errors import check_loss
from .optimizers import Optimizer
from .progress import progress as _progress

__all__ = ["Trajectory", "run"]

Params = list[np.ndarray]
Objective = Callable[[Params], tuple[Any, Any]]


@dataclass(frozen=True)
class Trajectory:
    """A training run.

    ``snapshots``: the parameters at the logged steps, stacked along a leading time axis (its
    type is the trainer's: an array, a tuple of arrays, a network); ``steps``: the step of each
    snapshot; ``losses``: the loss at every iterate ``0 .. n_steps`` (a leading axis of
    ``n_steps + 1``, then one axis per batch of runs); ``converged``: whether the loss fell
    below the tolerance; ``final``: the parameters after the last step.
    """

    snapshots: Any
    steps: np.ndarray
    losses: np.ndarray
    converged: bool
    final: Any

    @property
    def n_steps(self) -> int:
        """Number of parameter updates performed."""
        return int(self.losses.shape[0] - 1)


def run(objective: Objective, params0: Sequence[np.ndarray], optimizer: Optimizer, *,
        steps: int, log_every: int = 1, tol: float | None = None,
        snapshot: Callable[[Params], Any] | None = None, progress: bool = False,
        desc: str = "training") -> tuple[list[Any], np.ndarray, np.ndarray, bool, Params]:
    """Train from ``params0``; returns ``(snapshots, snapshot_steps, losses, converged,
    final_params)`` for the trainer to pack into a :class:`Trajectory`.

    ``snapshot(params)`` makes the logged copy (default: a copy of every array).
    """
    steps = as_int("steps", steps, minimum=0)
    log_every = as_int("log_every", log_every, minimum=1)
    tol = None if tol is None else as_float("tol", tol, minimum=0.0)
    if not callable(objective):
        raise TypeError("objective must be callable")
    params: Params = [np.array(p, dtype=float) for p in params0]
    take = snapshot if snapshot is not None else (lambda ps: [p.copy() for p in ps])
    state: Any = optimizer.init(params)
    snaps: list[Any] = []
    snap_steps: list[int] = []
    losses: list[Any] = []
    converged = False
    initial = None
    with np.errstate(over="ignore", invalid="ignore"):
        for t in _progress(range(steps + 1), enable=progress, desc=desc):
            loss, grads = objective(params)
            if initial is None:
                initial = loss
            check_loss(t, loss, initial)
            losses.append(loss)
            converged = tol is not None and bool(np.max(loss) < tol)
            last = converged or t == steps
            if t % log_every == 0 or last:
                snaps.append(take(params))
                snap_steps.append(t)
            if last:
                break
            if callable(grads):
                grads = grads()
            params, state = optimizer.update(params, grads, state)
    return snaps, np.asarray(snap_steps), np.asarray(losses, dtype=float), converged, params
