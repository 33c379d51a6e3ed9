"""Fast path of :func:`theory.giant_step.single_step_protocol` (its plain version is
``theory.giant_step._single_step_plain``).

The same draws and the same numbers to round-off (``tests/test_two_layer.py``), faster in two
ways:

* every random draw after W0 runs in one worker thread, in the serial order (step batch chunk
  by chunk, then a fresh batch if any, then the test set), while the main thread computes:
  numpy's Generator releases the GIL while it fills an array and only the worker touches the
  Generator, so the numbers are exactly those of a serial run. The first product X W0^T of
  each row chunk starts as soon as that chunk is drawn (:func:`_step_while_drawing`);
* the ridge Gram matrix is summed by ``dsyrk`` (:func:`theory.fast.ridge.streamed_gram`).

Dandi et al., arXiv:2305.18270, official ``single_step`` notebook [code]; notebook 02, section 7.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from ..activations import ACTIVATIONS
from ..errors import DivergenceError, check_loss
from ..linalg import row_chunks
from ..two_layer import (Target, _output_core, _ridge_core, gaussian_init, make_target,
                         sample_batch)

__all__: list[str] = []      # called by theory.giant_step.single_step_protocol on validated input


def _later_draws(n_fresh: int, n_test: int, d: int, target: Target, rng: np.random.Generator
                 ) -> tuple[tuple[np.ndarray, np.ndarray] | None, tuple[np.ndarray, np.ndarray]]:
    """The protocol's draws after the step batch, in order: a fresh batch (if ``n_fresh``)
    and the test set. Returns ``(fresh or None, (X_test, y_test))``."""
    fresh = sample_batch(n_fresh, d, target, rng) if n_fresh else None
    return fresh, sample_batch(n_test, d, target, rng)


def _step_while_drawing(X: np.ndarray, drawn: Sequence[Future[Any]], target: Target,
                        W0: np.ndarray, a0: np.ndarray, chunk: int
                        ) -> tuple[np.ndarray, float, np.ndarray, np.ndarray, np.ndarray, float]:
    """The protocol's ReLU gradient at W0 on a batch X that another thread is still drawing.

    ``drawn[k]`` is the future of the standard-normal fill of the k-th row chunk of X (chunks
    of ``chunk`` rows, filled in order). Gives the numbers of ``y = target(X)``,
    ``A, B = linear_fit(X, y)`` and ``batch_gradient(X, y, W0, a0, "relu", chunk,
    offset=A + X @ B)``, but the first product X W0^T of each chunk starts as soon as that
    chunk is drawn, so the serial random-number generation overlaps the matrix products.
    The gradient needs the offset A + x.B, known only once the whole batch is drawn: the chunks
    stepped before that keep sigma'(W0 x) as a boolean mask (p bytes a sample) and f(x), and
    get their second product once the offset is known; the later chunks are stepped in one
    pass. The sums run over the chunks in order either way, so the numbers do not depend on
    when the draws finish. Returns ``(y, A, B, offset, grad, loss)``.
    """
    n, p = X.shape[0], W0.shape[0]
    a_scaled = a0 / np.sqrt(p)
    slices = list(row_chunks(n, chunk))
    f0 = np.empty(n)                               # f(x; W0, a0)
    buf = np.empty((min(chunk, n), p))
    early: list[np.ndarray] = []                   # sigma'(W0 x) = 1{<w_i, x> > 0}, per chunk
    while len(early) < len(slices) and not drawn[-1].done():
        s = slices[len(early)]
        drawn[len(early)].result()
        Z = np.matmul(X[s], W0.T, out=buf[:s.stop - s.start])
        early.append(Z > 0.0)
        f0[s] = np.maximum(Z, 0.0, out=Z) @ a_scaled
    for fill in drawn:
        fill.result()
    y = target(X)
    A, B = float(np.mean(y)), X.T @ y / n          # linear_fit, without re-validating X
    offset = A + X @ B
    acc = np.zeros_like(W0)
    loss = 0.0
    mask = np.empty((min(chunk, n), p), dtype=bool)
    with np.errstate(over="ignore", invalid="ignore"):
        for k, s in enumerate(slices):
            rows = s.stop - s.start
            if k < len(early):
                m = early[k]
            else:
                Z = np.matmul(X[s], W0.T, out=buf[:rows])
                m = np.greater(Z, 0.0, out=mask[:rows])
                f0[s] = np.maximum(Z, 0.0, out=Z) @ a_scaled
            r = y[s] - f0[s]
            r -= offset[s]
            M = np.multiply(m, r[:, None], out=buf[:rows])
            acc += M.T @ X[s]
            loss += float(r @ r)
    grad = acc
    grad *= -a_scaled[:, None] / n
    return y, A, B, offset, grad, loss / (2.0 * n)


def single_step_errors(d: int, p: int, n: int, rng: np.random.Generator, lam: float,
                       lr_scale: float, n_test: int, readout: str, random_features: bool,
                       chunk: int) -> tuple[np.ndarray, float, float, float]:
    """The single-step protocol on validated input: ``(W1, one_step, random_features, linear)``.

    Same arguments, draws and numbers as ``theory.giant_step._single_step_plain``.
    """
    target = make_target("giant_step_teacher")
    W0, a0 = gaussian_init(d, p, rng)
    lr = lr_scale * np.sqrt(n * p)
    relu = ACTIVATIONS["relu"]
    with ThreadPoolExecutor(max_workers=1) as worker:
        X = np.empty((n, d))
        drawn = [worker.submit(rng.standard_normal, out=X[s]) for s in row_chunks(n, chunk)]
        later = worker.submit(_later_draws, n if readout == "fresh" else 0, n_test, d, target,
                              rng)
        y, A, B, offset, grad, loss = _step_while_drawing(X, drawn, target, W0, a0, chunk)
        with np.errstate(over="ignore", invalid="ignore"):
            W1 = W0 - lr * grad
        check_loss(1, loss)
        if not np.all(np.isfinite(W1)):
            raise DivergenceError(1, loss, "the weights became non-finite")
        fresh, (Xt, yt) = later.result()
    if fresh is not None:
        del X, y, offset
        X, y = fresh
        offset = A + X @ B
    lin_t = A + Xt @ B
    errors = []
    y_pre = y - offset
    for W in ((W1, W0) if random_features else (W1,)):
        a_fit = _ridge_core(X, y_pre, W, lam, relu, chunk)
        pred = lin_t + _output_core(Xt, W, a_fit, relu, chunk)
        errors.append(float(np.mean((yt - pred) ** 2)))
    linear = float(np.mean((yt - lin_t) ** 2))
    return W1, errors[0], errors[1] if random_features else float("nan"), linear
