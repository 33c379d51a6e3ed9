"""Reading a loss curve against an epsilon-rank curve: plateaus, drops, rank gains, layer order.

The paper's staircase claim (J. Yang, Y. Zhao, Q. Zhu, arXiv:2412.05144, abstract) is that
the loss falls in steps while the epsilon-rank of the last hidden layer rises in steps, at the
same times; v3 adds that each hidden layer has a higher epsilon-rank than the one before it.
The operational definitions that turn these statements into numbers are ours (notebook 05,
section 3; docs/05_effective_rank_staircase.md):

* a *plateau* is a window of at least ``min_length`` steps with ``max L / min L - 1 <
  rel_change`` (:func:`find_plateau`, :func:`find_plateaus`);
* a *drop* starts at ``t`` when ``L(t + window) < (1 - fraction) L(t)`` (:func:`find_drop`);
* the rank gained over drop windows and over flat windows (:func:`window_rank_gains`) and the
  share of checkpoints at which the epsilon-rank rises with depth (:func:`layer_order_share`);
* Spearman correlations with tie-averaged ranks (:func:`tie_averaged_spearman`) and the first
  step below a level (:func:`steps_to_reach`).
"""

from __future__ import annotations

import numpy as np
import scipy.stats
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike

from .._validate import as_float, as_float_array, as_int

__all__ = ["find_plateau", "find_plateaus", "find_drop", "tie_averaged_spearman",
           "steps_to_reach", "window_rank_gains", "layer_order_share"]


def _check_loss_curve(loss: ArrayLike) -> np.ndarray:
    curve = as_float_array("loss", loss, ndim=1)
    if np.any(curve <= 0):
        raise ValueError("loss must be positive")
    return curve


def find_plateau(loss: ArrayLike, *, min_length: int = 100, rel_change: float = 0.02,
                 start: int = 0, max_loss: float | None = None) -> tuple[int, int] | None:
    """First window ``[s, e]`` of at least ``min_length`` steps where the loss is flat.

    Flat means ``max L / min L - 1 < rel_change`` over the window; the window with the
    smallest start ``s >= start`` is extended to the right while it stays flat. With
    ``max_loss`` only windows whose minimum loss exceeds ``max_loss`` count (notebook 05,
    section 5: "no plateau above 0.5").
    Returns ``(s, e)`` as step indices, or ``None`` when there is no such window.
    Our operational definition of the paper's loss plateau (notebook 05, section 3).
    """
    curve = _check_loss_curve(loss)
    min_length = as_int("min_length", min_length, minimum=1)
    rel_change = as_float("rel_change", rel_change, minimum=0.0, strict_minimum=True)
    start = as_int("start", start, minimum=0)
    if max_loss is not None:
        max_loss = as_float("max_loss", max_loss)
    n = curve.size
    if n <= min_length:
        return None
    windows = sliding_window_view(curve, min_length + 1)        # windows[s] = L[s..s+min_length]
    hi, lo = windows.max(axis=1), windows.min(axis=1)
    flat = hi / lo - 1.0 < rel_change
    if max_loss is not None:
        flat &= lo > max_loss
    flat[:start] = False
    candidates = np.flatnonzero(flat)
    if candidates.size == 0:
        return None
    s = int(candidates[0])
    e = s + min_length
    top, bottom = curve[s:e + 1].max(), curve[s:e + 1].min()
    while e + 1 < n:
        nh, nl = max(top, curve[e + 1]), min(bottom, curve[e + 1])
        if nh / nl - 1.0 >= rel_change or (max_loss is not None and nl <= max_loss):
            break
        top, bottom, e = nh, nl, e + 1
    return s, e


def find_plateaus(loss: ArrayLike, *, min_length: int = 100,
                  rel_change: float = 0.02) -> list[tuple[int, int]]:
    """All disjoint plateaus of :func:`find_plateau`, left to right: a list of ``(s, e)``."""
    curve = _check_loss_curve(loss)
    found: list[tuple[int, int]] = []
    start = 0
    while True:
        window = find_plateau(curve, min_length=min_length, rel_change=rel_change, start=start)
        if window is None:
            return found
        found.append(window)
        start = window[1] + 1


def find_drop(loss: ArrayLike, *, start: int, window: int = 100,
              fraction: float = 0.2) -> int | None:
    """First step ``t >= start`` with ``L(t + window) < (1 - fraction) L(t)``, or ``None``.

    Our operational definition of a loss drop (notebook 05, section 3).
    """
    curve = _check_loss_curve(loss)
    start = as_int("start", start, minimum=0)
    window = as_int("window", window, minimum=1)
    fraction = as_float("fraction", fraction, minimum=0.0, maximum=1.0)
    if start + window >= curve.size:
        return None
    ratio = curve[start + window:] / curve[start:curve.size - window]
    hits = np.flatnonzero(ratio < 1.0 - fraction)
    return None if hits.size == 0 else start + int(hits[0])


def tie_averaged_spearman(a: ArrayLike, b: ArrayLike) -> float:
    """Spearman rank correlation with tie-averaged ranks (``scipy.stats.spearmanr``).

    The epsilon-rank is integer-valued with long runs of ties; average ranks keep the ties
    from inflating the correlation (docs/05_effective_rank_staircase.md).
    """
    a_arr = as_float_array("a", a, ndim=1)
    b_arr = as_float_array("b", b, ndim=1)
    if a_arr.shape != b_arr.shape or a_arr.size < 3:
        raise ValueError(f"a and b must have the same length >= 3, got {a_arr.shape}, "
                         f"{b_arr.shape}")
    if np.ptp(a_arr) == 0 or np.ptp(b_arr) == 0:
        raise ValueError("a and b must not be constant (the correlation is undefined)")
    return float(scipy.stats.spearmanr(a_arr, b_arr).statistic)


def _check_steps(name: str, steps: ArrayLike, length: int | None = None) -> np.ndarray:
    arr = np.asarray(steps)
    if arr.ndim != 1 or arr.dtype.kind not in "iu" or (length is None and arr.size < 2) \
            or (length is not None and arr.size != length):
        want = "of >= 2 steps" if length is None else f"of length {length}"
        raise ValueError(f"{name} must be a 1-D integer array {want}")
    return arr


def window_rank_gains(loss: ArrayLike, ranks: ArrayLike, log_steps: ArrayLike, *,
                      window: int = 100, drop: float = 0.2,
                      flat: float = 0.02) -> tuple[np.ndarray, np.ndarray]:
    """Rank gained over loss-drop windows and over flat windows of one run.

    For every window ``[t, t + window]`` that starts at a logged step ``t`` (``log_steps`` must
    be evenly spaced and ``window`` a multiple of the spacing), the gain is
    ``r(t + window) - r(t)``. A window is a *drop* when ``L(t + window) < (1 - drop) L(t)`` and
    *flat* when ``max L / min L - 1 < flat`` over the window (our operational definitions,
    notebook 05, section 3). ``loss``: ``(steps + 1,)`` loss at every step; ``ranks``: ``(T,)``
    epsilon-ranks at ``log_steps``. Returns ``(gains_at_drops, gains_at_flats)`` (integer
    arrays, possibly empty). Their contrast tests the paper's "loss drops coincide with rank
    jumps" (arXiv:2412.05144, abstract) against a rank that grows independently of the loss.
    """
    curve = _check_loss_curve(loss)
    rank_arr = np.asarray(ranks)
    if rank_arr.ndim != 1 or rank_arr.dtype.kind not in "iu":
        raise ValueError(f"ranks must be a 1-D integer array, got {rank_arr.dtype} "
                         f"{rank_arr.shape}")
    steps = _check_steps("log_steps", log_steps)
    if rank_arr.shape != steps.shape:
        raise ValueError(f"ranks has {rank_arr.size} entries for {steps.size} log_steps")
    spacing = np.diff(steps)
    if np.any(spacing != spacing[0]) or spacing[0] <= 0 or steps[0] < 0 \
            or steps[-1] >= curve.size:
        raise ValueError("log_steps must be evenly spaced, increasing, inside the loss curve")
    window = as_int("window", window, minimum=1)
    if window % spacing[0]:
        raise ValueError(f"window ({window}) must be a multiple of the log spacing "
                         f"({spacing[0]})")
    drop = as_float("drop", drop, minimum=0.0, maximum=1.0, strict_minimum=True)
    flat = as_float("flat", flat, minimum=0.0, strict_minimum=True)
    k = window // int(spacing[0])
    drops, flats = [], []
    for i in range(steps.size - k):
        t0, t1 = int(steps[i]), int(steps[i + k])
        gain = int(rank_arr[i + k] - rank_arr[i])
        segment = curve[t0:t1 + 1]
        if curve[t1] < (1.0 - drop) * curve[t0]:
            drops.append(gain)
        elif segment.max() / segment.min() - 1.0 < flat:
            flats.append(gain)
    return np.array(drops, dtype=int), np.array(flats, dtype=int)


def layer_order_share(layer_ranks: ArrayLike, log_steps: ArrayLike, *, start: int = 200,
                      strict: bool = True) -> np.ndarray:
    """Share of checkpoints after ``start`` at which the epsilon-rank rises with depth.

    ``layer_ranks``: ``(n_layers, T, *runs)`` epsilon-ranks of the hidden layers, first layer
    first; ``log_steps``: ``(T,)``. With ``strict=True`` a checkpoint counts when
    ``r(layer l+1) > r(layer l)`` for every ``l`` (the paper's "each hidden layer has a higher
    epsilon-rank than the previous one", arXiv:2412.05144 v3, abstract); with ``strict=False``
    when ``r(layer l+1) >= r(layer l)``. Returns the share per run, shape ``runs``.
    """
    ranks = np.asarray(layer_ranks)
    if ranks.ndim < 2 or ranks.dtype.kind not in "iu" or ranks.shape[0] < 2:
        raise ValueError("layer_ranks must be an integer array (n_layers >= 2, T, *runs)")
    steps = _check_steps("log_steps", log_steps, length=ranks.shape[1])
    start = as_int("start", start, minimum=0)
    if not isinstance(strict, (bool, np.bool_)):
        raise TypeError(f"strict must be a bool, got {strict!r}")
    later = steps > start
    if not np.any(later):
        raise ValueError(f"no checkpoint after start={start}")
    steps_up = np.diff(ranks[:, later], axis=0)
    ordered = np.all(steps_up > 0 if strict else steps_up >= 0, axis=0)
    return np.asarray(ordered.mean(axis=0))


def steps_to_reach(loss: ArrayLike, level: float) -> np.ndarray:
    """First step index with ``loss < level`` along axis 0 (``-1`` where never reached)."""
    curves = as_float_array("loss", loss, min_ndim=1)
    level = as_float("level", level)
    below = curves < level
    first = np.argmax(below, axis=0)
    return np.asarray(np.where(below.any(axis=0), first, -1))
