"""Fits and finite differences shared by the notebooks.

* :func:`log_linear_fit`: the least-squares line through ``(x_i, log y_i)``
  (``scipy.stats.linregress``): a geometric rate ``y ~ C exp(slope x)`` such as the per-layer
  feature-separation factor (Yaras et al. arXiv:2306.01154) or the decay of a threshold's
  error along a flow.
* :func:`log_slopes`: the same slope for every column of a matrix at once.
* :func:`central_difference`: the central finite-difference gradient that checks every
  hand-written gradient of the collection, error ``O(h^2)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.stats import linregress

from ._validate import as_float, as_float_array

__all__ = ["LogLinearFit", "log_linear_fit", "log_slopes", "central_difference"]


@dataclass(frozen=True)
class LogLinearFit:
    """``log y = intercept + slope x`` by least squares; ``r2``: coefficient of
    determination of that line; ``slope_stderr``: standard error of the slope."""

    slope: float
    intercept: float
    r2: float
    slope_stderr: float

    @property
    def ratio(self) -> float:
        """``exp(slope)``: the factor by which ``y`` changes per unit of ``x``."""
        return math.exp(self.slope)


def _xy(x: object, y: object) -> tuple[np.ndarray, np.ndarray]:
    y_arr = as_float_array("y", y, ndim=1)
    x_arr = (np.arange(y_arr.size, dtype=float) if x is None
             else as_float_array("x", x, ndim=1))
    if x_arr.shape != y_arr.shape or y_arr.size < 2:
        raise ValueError(f"x and y must have the same shape with >= 2 points, got "
                         f"{x_arr.shape} and {y_arr.shape}")
    if not np.all(np.isfinite(x_arr)) or not np.all(np.isfinite(y_arr)) or np.any(y_arr <= 0):
        raise ValueError("y must be finite and positive and x finite")
    if np.ptp(x_arr) == 0:
        raise ValueError("x must not be constant")
    return x_arr, y_arr


def log_linear_fit(x: object, y: object) -> LogLinearFit:
    """The line through ``(x_i, log y_i)`` (``x=None``: ``x_i = i``), by
    ``scipy.stats.linregress``. Needs ``y > 0`` and at least 2 points (3 for ``slope_stderr``
    to be finite)."""
    x_arr, y_arr = _xy(x, y)
    log_y = np.log(y_arr)
    if np.ptp(log_y) == 0:
        return LogLinearFit(0.0, float(log_y[0]), 1.0, 0.0)
    res = linregress(x_arr, log_y)
    stderr = float(res.stderr) if x_arr.size > 2 else math.nan
    return LogLinearFit(float(res.slope), float(res.intercept), float(res.rvalue) ** 2, stderr)


def log_slopes(x: object, Y: object) -> np.ndarray:
    """Least-squares slope of ``log |Y[:, k]|`` against ``x`` for every column ``k``
    (``x=None``: ``x_i = i``): ``sum (x - xbar)(log|Y_k| - mean) / sum (x - xbar)^2``."""
    Y_arr = as_float_array("Y", Y, ndim=2)
    if Y_arr.shape[0] < 2:
        raise ValueError(f"Y must have shape (T >= 2, n), got {Y_arr.shape}")
    if not np.all(np.isfinite(Y_arr)) or np.any(Y_arr == 0):
        raise ValueError("Y must be finite and non-zero")
    x_arr = (np.arange(Y_arr.shape[0], dtype=float) if x is None
             else as_float_array("x", x, ndim=1))
    if x_arr.shape != (Y_arr.shape[0],) or np.ptp(x_arr) == 0:
        raise ValueError(f"x must hold {Y_arr.shape[0]} distinct-valued points")
    xc = x_arr - x_arr.mean()
    logs = np.log(np.abs(Y_arr))
    return (xc @ (logs - logs.mean(axis=0))) / float(xc @ xc)


def central_difference(fun: Callable[[np.ndarray], float], x: object,
                       h: float = 1e-6) -> np.ndarray:
    """Central finite-difference gradient of a scalar ``fun`` at the array ``x``:
    ``(fun(x + h e_i) - fun(x - h e_i)) / (2h)`` for every entry ``i``."""
    x_arr = as_float_array("x", x)
    h = as_float("h", h, minimum=0.0, strict_minimum=True)
    if not callable(fun):
        raise ValueError("fun must be callable")
    grad = np.zeros_like(x_arr, dtype=float)
    for idx in np.ndindex(x_arr.shape):
        e = np.zeros_like(x_arr, dtype=float)
        e[idx] = h
        grad[idx] = (fun(x_arr + e) - fun(x_arr - e)) / (2 * h)
    return grad
