"""The one exception every trainer raises when training diverges."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from ._validate import as_float

__all__ = ["DivergenceError", "check_loss", "GROWTH_BOUND"]

#: A loss that grows by more than this factor over its initial value counts as diverged.
GROWTH_BOUND = 1e8


class DivergenceError(ValueError):
    """Training diverged: the loss became non-finite or grew by more than a set factor.

    Carries where it happened (``step``: an iteration, or a time for a flow, with
    ``unit="t ="``) and the ``loss``; its message ends with the hint to lower the learning rate.
    A subclass of ``ValueError``, so a bad learning rate is reported like other bad input.
    """

    def __init__(self, step: float, loss: float, reason: str = "the loss became non-finite", *,
                 unit: str = "step") -> None:
        self.step = step
        self.loss = float(loss)
        super().__init__(f"training diverged at {unit} {step:g}: {reason} "
                         f"(loss = {self.loss:.6g}); lower the learning rate")


def check_loss(step: float, loss: object, initial_loss: object = None,
               growth_bound: float = GROWTH_BOUND) -> Any:
    """Return ``loss``, or raise :class:`DivergenceError` if it is non-finite or exceeds
    ``growth_bound * initial_loss`` (when ``initial_loss`` is given and positive).

    ``loss`` is a number, or an array with one loss per run of a batch of independent runs
    (``initial_loss`` then has the same shape); the error names the first run that diverged.
    """
    as_float("step", step, minimum=0.0)      # an iteration or a time; kept as given
    growth_bound = as_float("growth_bound", growth_bound, minimum=0.0, strict_minimum=True)
    if isinstance(loss, np.ndarray) and loss.ndim > 0:
        return _check_batch(step, loss, initial_loss, growth_bound)
    value = _real_scalar("loss", loss)
    if initial_loss is not None:
        initial_loss = as_float("initial_loss", initial_loss)
    if not math.isfinite(value):
        raise DivergenceError(step, value)
    if initial_loss is not None and initial_loss > 0 and value > growth_bound * initial_loss:
        raise DivergenceError(step, value, f"the loss grew more than {growth_bound:.0e}-fold")
    return loss


def _check_batch(step: float, loss: np.ndarray, initial_loss: object,
                 growth_bound: float) -> np.ndarray:
    if loss.dtype.kind not in "iuf":
        raise TypeError(f"loss must hold real numbers, got dtype {loss.dtype}")
    bad = ~np.isfinite(loss)
    if np.any(bad):
        run = tuple(int(i) for i in np.argwhere(bad)[0])
        raise DivergenceError(step, float(loss[run]), f"the loss of run {run} became non-finite")
    if initial_loss is not None:
        initial = np.asarray(initial_loss, dtype=float)
        if initial.shape != loss.shape:
            raise ValueError(f"initial_loss has shape {initial.shape}, loss {loss.shape}")
        grown = (initial > 0) & (loss > growth_bound * initial)
        if np.any(grown):
            run = tuple(int(i) for i in np.argwhere(grown)[0])
            raise DivergenceError(step, float(loss[run]), f"the loss of run {run} grew more "
                                  f"than {growth_bound:.0e}-fold")
    return loss


def _real_scalar(name: str, value: object) -> float:
    """``value`` as a float, NaN and inf included (they are the divergence being detected)."""
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
        return float(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    return float(value)
