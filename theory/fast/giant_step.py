"""Fast path of :func:`theory.giant_step.single_step_protocol` (its plain version is
``theory.giant_step._single_step_plain``).

The same draws and the same numbers to round-off (``tests/test_two_layer.py``), faster in
four ways:

* the draws of the step batch, and its labels chunk by chunk while the chunk is in cache (and
  the fresh ridge batch, if any), run in one worker thread, in the serial order, while the
  main thread computes: numpy's Generator releases the GIL while it fills an array and only
  the worker touches the Generator, so the numbers are exactly those of a serial run. The
  first product X W0^T of each row chunk starts as soon as that chunk is drawn
  (:func:`_step_while_drawing`), with BLAS held to one thread while the worker draws
  (:class:`_OneBlasThreadWhile`): two BLAS threads beside a drawing thread put three busy
  threads on two cores, and the products then lose more than the draws cost;
* the batch lives on ordinary pages, not huge ones (:mod:`theory.fast.memory`): its first
  touch costs the kernel less on the virtual machines this collection is measured on;
* the test set is drawn chunk by chunk into one buffer once the readouts are known
  (:func:`_streamed_test_errors`), so its n_test x d inputs never sit in memory at once: fresh
  memory is slow to touch on some virtual machines (bench/README.md);
* the ridge Gram matrix is summed by ``dsyrk`` (:func:`theory.fast.ridge.streamed_gram`).

Dandi et al., arXiv:2305.18270, official ``single_step`` notebook [code]; notebook 02, section 7.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

from ..activations import ACTIVATIONS
from ..errors import DivergenceError, check_loss
from ..linalg import row_chunks
from ..two_layer import Target, _ridge_core, gaussian_init, make_target, sample_batch
from .memory import empty_small_pages

__all__: list[str] = []      # called by theory.giant_step.single_step_protocol on validated input


class _OneBlasThreadWhile:
    """BLAS held to one thread while ``pending`` runs (the worker drawing on the other core).

    ``poll()`` lifts the limit as soon as ``pending`` is done; leaving the ``with`` block lifts
    it in any case. With one BLAS thread already (``threadpoolctl`` limits set by the caller)
    it changes nothing. OpenBLAS splits a product between threads by blocks of its output, so
    the numbers should not depend on when the limit is lifted; measured, they do not (the
    bench's test error and notebook 02's outputs are unchanged to the last bit, and
    ``tests/test_determinism.py`` compares one and two threads).
    """

    def __init__(self, pending: Future[Any]) -> None:
        self._pending = pending
        self._limiter: Any = None

    def __enter__(self) -> _OneBlasThreadWhile:
        if not self._pending.done():
            self._limiter = ThreadpoolController().limit(limits=1, user_api="blas")
        return self

    def _restore(self) -> None:
        if self._limiter is not None:
            self._limiter.restore_original_limits()
            self._limiter = None

    def poll(self) -> None:
        """Restore the caller's thread count once the pending work is done."""
        if self._pending.done():
            self._restore()

    def __exit__(self, *exc_info: object) -> None:
        self._restore()


def _draw_rows(rng: np.random.Generator, target: Target, X: np.ndarray, y: np.ndarray,
               rows: slice) -> None:
    """Fill ``X[rows]`` with standard normals and ``y[rows] = target(X[rows])`` (the worker's
    job, chunk by chunk: the labels are computed while the chunk is in cache, and the
    Generator fills rows in order, so the numbers are those of ``sample_batch``)."""
    rng.standard_normal(out=X[rows])
    y[rows] = target(X[rows])


def _step_while_drawing(X: np.ndarray, y: np.ndarray, drawn: Sequence[Future[Any]],
                        W0: np.ndarray, a0: np.ndarray, chunk: int,
                        poll: Callable[[], None] = lambda: None
                        ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, float]:
    """The protocol's ReLU gradient at W0 on a labelled batch that another thread is drawing.

    ``drawn[k]`` is the future of the k-th row chunk of ``X`` and ``y`` (chunks of ``chunk``
    rows, filled in order: :func:`_draw_rows`). Gives the numbers of
    ``A, B = linear_fit(X, y)`` and ``batch_gradient(X, y, W0, a0, "relu", chunk,
    offset=A + X @ B)`` to round-off, but the first product X W0^T of each chunk starts as soon
    as that chunk is drawn, so the serial random-number generation overlaps the matrix
    products. The gradient needs the offset A + x.B, known only once the whole batch is drawn:
    the chunks stepped before that keep sigma'(W0 x) as a boolean mask (p bytes a sample) and
    f(x), and get their second product once the offset is known; the later chunks are stepped
    in one pass. The sums run over the chunks in order either way, so the numbers do not
    depend on when the draws finish. The second product is summed as X^T M (d x p), which
    OpenBLAS runs faster than M^T X on these shapes. ``poll()`` is called before each chunk's
    products (the caller's hook to change the BLAS thread count). Returns
    ``(A, B, offset, grad, loss)``.
    """
    n, p = X.shape[0], W0.shape[0]
    a_scaled = a0 / np.sqrt(p)
    slices = list(row_chunks(n, chunk))
    f0 = np.empty(n)                               # f(x; W0, a0)
    buf = np.empty((min(chunk, n), p))
    # sigma'(W0 x) = 1{<w_i, x> > 0} of the chunks stepped early: only their rows are touched
    masks = empty_small_pages((n, p), dtype=bool)
    early = 0                                      # how many chunks were stepped early
    while early < len(slices) and not drawn[-1].done():
        s = slices[early]
        drawn[early].result()
        poll()
        Z = np.matmul(X[s], W0.T, out=buf[:s.stop - s.start])
        np.greater(Z, 0.0, out=masks[s])
        f0[s] = np.maximum(Z, 0.0, out=Z) @ a_scaled
        early += 1
    for fill in drawn:
        fill.result()
    A, B = float(np.mean(y)), X.T @ y / n          # linear_fit, without re-validating X
    offset = A + X @ B
    acc = np.zeros((X.shape[1], p))                # sum of X^T M: the transposed gradient
    loss = 0.0
    mask = np.empty((min(chunk, n), p), dtype=bool)
    with np.errstate(over="ignore", invalid="ignore"):
        for k, s in enumerate(slices):
            rows = s.stop - s.start
            poll()
            if k < early:
                m = masks[s]
            else:
                Z = np.matmul(X[s], W0.T, out=buf[:rows])
                m = np.greater(Z, 0.0, out=mask[:rows])
                f0[s] = np.maximum(Z, 0.0, out=Z) @ a_scaled
            r = y[s] - f0[s]
            r -= offset[s]
            M = np.multiply(m, r[:, None], out=buf[:rows])
            acc += X[s].T @ M
            loss += float(r @ r)
    grad = acc.T
    grad *= -a_scaled[:, None] / n
    return A, B, offset, grad, loss / (2.0 * n)


def _streamed_test_errors(n_test: int, d: int, target: Target, rng: np.random.Generator,
                          A: float, B: np.ndarray,
                          readouts: Sequence[tuple[np.ndarray, np.ndarray]],
                          chunk: int) -> list[float]:
    """Test MSE of each readout ``(W, a)`` and, last, of the linear predictor A + x.B.

    The test set is ``sample_batch(n_test, d, target, rng)`` drawn chunk by chunk into one
    ``(chunk, d)`` buffer (the Generator fills rows in order, so the draws are the same), and
    each chunk's squared errors are kept, so every mean is that of the whole test set:
    (1/n_test) sum_nu (y_nu - A - x_nu.B - sigma(W x_nu).a/sqrt p)^2.
    """
    squared = np.empty((len(readouts) + 1, n_test))
    inputs = np.empty((min(chunk, n_test), d))
    buf = np.empty((min(chunk, n_test), readouts[0][0].shape[0]))
    scaled = [(W, a / np.sqrt(W.shape[0])) for W, a in readouts]
    for s in row_chunks(n_test, chunk):
        rows = s.stop - s.start
        Xt = rng.standard_normal(out=inputs[:rows])
        yt = target(Xt)
        lin = A + Xt @ B
        squared[-1, s] = (yt - lin) ** 2
        for k, (W, a_scaled) in enumerate(scaled):
            Z = np.matmul(Xt, W.T, out=buf[:rows])
            squared[k, s] = (yt - (lin + np.maximum(Z, 0.0, out=Z) @ a_scaled)) ** 2
    return [float(np.mean(row)) for row in squared]


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
        X, y = empty_small_pages((n, d)), np.empty(n)
        drawn = [worker.submit(_draw_rows, rng, target, X, y, s) for s in row_chunks(n, chunk)]
        fresh = worker.submit(sample_batch, n, d, target, rng) if readout == "fresh" else None
        with _OneBlasThreadWhile(drawn[-1] if fresh is None else fresh) as throttle:
            A, B, offset, grad, loss = _step_while_drawing(X, y, drawn, W0, a0, chunk,
                                                           throttle.poll)
        with np.errstate(over="ignore", invalid="ignore"):
            W1 = W0 - lr * grad
        check_loss(1, loss)
        if not np.all(np.isfinite(W1)):
            raise DivergenceError(1, loss, "the weights became non-finite")
        if fresh is not None:
            del X, y, offset
            X, y = fresh.result()
            offset = A + X @ B
    y_pre = y - offset
    readouts = [(W, _ridge_core(X, y_pre, W, lam, relu, chunk))
                for W in ((W1, W0) if random_features else (W1,))]
    del X, y, y_pre, offset
    errors = _streamed_test_errors(n_test, d, target, rng, A, B, readouts, chunk)
    return W1, errors[0], errors[1] if random_features else float("nan"), errors[-1]
