"""Fast path of :func:`theory.giant_step.single_step_protocol` (its plain version is
``theory.giant_step._single_step_plain``).

The same draws and the same numbers to round-off (``tests/test_two_layer.py``), faster in
four ways:

* every phase runs on lanes (:mod:`theory.fast.lanes`): as many threads as BLAS may use, each
  taking the next row chunk and doing all of its work (products on one BLAS thread, element-wise
  passes, draws) so that no core waits while another does serial work. Sums over chunks are
  taken in chunk order and the draws come from one stream in chunk order, so the numbers do not
  depend on the number of lanes, nor on which lane did what;
* the step batch is drawn, and labelled chunk by chunk while the chunk is in cache, by one lane
  (the draws release the GIL while they fill an array, and only that lane touches the
  Generator) while the other lanes compute the first product X W0^T of each chunk as soon as
  it is drawn (:func:`_step_in_lanes`);
* the batch lives on ordinary pages, not huge ones (:mod:`theory.fast.memory`): its first
  touch costs the kernel less on the virtual machines this collection is measured on; with a
  :class:`theory.fast.memory.Workspace` (``workspace=``), the batch and the lanes' work
  spaces keep their pages from one call to the next, and only the first call touches them;
* the ridge Gram matrix is summed chunk by chunk, each term a symmetric rank-k update
  (:func:`theory.fast.ridge.lane_gram`), and the test set is drawn chunk by chunk into each
  lane's buffer (:func:`_test_errors_in_lanes`), so its n_test x d inputs never sit in memory
  at once: fresh memory is slow to touch on some virtual machines (bench/README.md);
* the element-wise passes between the products (the ReLU, its mask, M = mask r) are those of
  :mod:`theory.fast.kernels`: two passes over a chunk instead of four where numba is
  installed, the same bits either way; so are the draws of the batch and the test set, the
  numbers of numpy's Generator drawn by numba's implementation of it, three times faster.

Only numpy's BLAS is called on the lanes: scipy's OpenBLAS runs one call at a time across
threads.

Dandi et al., arXiv:2305.18270, official ``single_step`` notebook [code]; notebook 02, section 7.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from functools import partial

import numpy as np
from threadpoolctl import threadpool_limits

from ..activations import ACTIVATIONS
from ..errors import DivergenceError, check_loss
from ..linalg import row_chunks
from ..two_layer import (Target, _ridge_core, _ridge_from_gram, gaussian_init, make_target,
                         sample_batch)
from . import kernels
from .lanes import Board, blas_threads, run_lanes
from .memory import block as view
from .memory import Workspace
from .ridge import lane_gram

__all__: list[str] = []      # called by theory.giant_step.single_step_protocol on validated input


def _draw_rows(rng: np.random.Generator, target: Target, X: np.ndarray, y: np.ndarray,
               rows: slice) -> None:
    """Fill ``X[rows]`` with standard normals and ``y[rows] = target(X[rows])`` (the drawer's
    job, chunk by chunk: the labels are computed while the chunk is in cache, and the
    Generator fills rows in order, so the numbers are those of ``sample_batch``)."""
    kernels.standard_normal(rng, X[rows])
    y[rows] = target(X[rows])


def _scratch(lanes: int, rows: int, d: int, p: int, workspace: Workspace | None = None
             ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each lane's work space for all phases, on ordinary pages (:mod:`theory.fast.memory`):
    ``(floats, bools)`` with room for a (rows, p) and a (rows, d) block and a (d, p) term,
    and for a (rows, p) mask. Taken from ``workspace`` (a fresh one by default) once a call,
    so its first touch is paid at most once a call."""
    space = Workspace() if workspace is None else workspace
    return [(space.take(f"lane {j}", rows * (p + d) + d * p),
             space.take(f"lane {j} mask", rows * p, bool)) for j in range(max(1, lanes))]


def _step_in_lanes(pool: Executor, scratch: Sequence[tuple[np.ndarray, np.ndarray]],
                   X: np.ndarray, y: np.ndarray, draw: Callable[[slice], None],
                   W0: np.ndarray, a0: np.ndarray, chunk: int,
                   after_fit: Callable[[], None] = lambda: None,
                   forward_lanes: int | None = None
                   ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, float, int]:
    """The protocol's ReLU gradient at W0 on a batch drawn while it is stepped, on lanes.

    One lane, the drawer, calls ``draw(rows)`` for the row chunks of ``X`` and ``y`` in order
    (:func:`_draw_rows`), then computes the linear fit ``A, B = linear_fit(X, y)`` and the
    offset A + X B, then calls ``after_fit()`` (the caller's next draw, if any), then steps
    chunks like the others. Meanwhile ``forward_lanes`` lanes (default: all the others) compute
    the first product X W0^T of each chunk as soon as it is drawn and keep sigma'(W0 x) as a
    boolean mask packed in bits (p / 8 bytes a sample, :func:`theory.fast.kernels.relu_and_pack`)
    and f(x); once the offset is known, the lanes take the chunks in order, give those stepped
    early their second product and step the others in one pass. Each chunk's term of the
    gradient, X_c^T M_c (d x p, the transposed gradient: OpenBLAS runs it faster than
    M_c^T X_c on these shapes), and of the loss is added in chunk order, so the numbers are
    those of ``batch_gradient(X, y, W0, a0, "relu", chunk, offset=A + X @ B)`` to round-off
    whatever the lanes and however fast the draws. There is a
    lane for each work space of ``scratch`` (:func:`_scratch`); ``pool`` needs one free worker
    for each but the first, and at least one (the drawer); the caller holds BLAS to one thread.
    Returns ``(A, B, offset, grad, loss, early)``, ``early`` the number of chunks stepped in two
    passes.
    """
    n, d = X.shape
    p = W0.shape[0]
    lanes = len(scratch)
    a_scaled = a0 / np.sqrt(p)
    slices = list(row_chunks(n, chunk))
    rows_max = min(chunk, n)
    f0 = np.empty(n)                               # f(x; W0, a0)
    # sigma'(W0 x) = 1{<w_i, x> > 0} of the chunks stepped early, packed 8 to a byte: fresh
    # memory is slow to touch on the machines we measure, and (un)packing a chunk takes 0.2 ms
    packed: list[np.ndarray | None] = [None] * len(slices)
    acc = np.zeros((d, p))                         # sum of X^T M: the transposed gradient
    loss = [0.0]
    board = Board()

    def block(flat: np.ndarray, k: int, start: int = 0) -> np.ndarray:
        """The Fortran-ordered (rows, p) block of chunk k on ``flat[start:]``: numpy computes
        X_c W0^T faster into it than into a C-ordered one, and M = mask r too."""
        s = slices[k]
        return view(flat, start, s.stop - s.start, p, order="F")

    def forward(k: int, floats: np.ndarray) -> np.ndarray:
        """Z = X_c W0^T of the k-th chunk, into the lane's work space."""
        return np.matmul(X[slices[k]], W0.T, out=block(floats, k))

    def forward_early(k: int, space: tuple[np.ndarray, np.ndarray]) -> None:
        floats, bools = space
        Z = forward(k, floats)
        bits = np.empty((-(-Z.shape[0] // 8), p), np.uint8, order="F")
        packed[k] = kernels.relu_and_pack(Z, bits, block(bools, k))
        f0[slices[k]] = Z @ a_scaled

    def step_chunks(space: tuple[np.ndarray, np.ndarray]) -> None:
        """Take chunks in order until none is left: their terms of the gradient and loss."""
        floats, bools = space
        term = view(floats, rows_max * p, d, p)
        _, _, offset, early = board.get("fit")
        with np.errstate(over="ignore", invalid="ignore"):
            while (k := board.claim("step", len(slices))) is not None:
                s = slices[k]
                bits = None
                if k < early:
                    board.wait_count(("forwarded", k), 1)
                    bits, packed[k] = packed[k], None
                    assert bits is not None            # set before ("forwarded", k) was bumped
                else:
                    Z = kernels.relu(forward(k, floats))
                    f0[s] = Z @ a_scaled
                r = y[s] - f0[s]
                r -= offset[s]
                M = (kernels.mask_times_rows(Z, r, block(bools, k)) if bits is None
                     else kernels.bits_times_rows(bits, r, block(floats, k)))
                np.matmul(X[s].T, M, out=term)
                squares = float(r @ r)
                with board.turn("sum", k):
                    np.add(acc, term, out=acc)
                    loss[0] += squares

    def drawer() -> None:
        for s in slices:
            board.check()
            draw(s)
            board.bump("drawn")
        A, B = float(np.mean(y)), X.T @ y / n      # linear_fit, without re-validating X
        offset = A + X @ B
        board.publish("fit", (A, B, offset, board.close("forward")))
        after_fit()
        if lanes > 1:
            step_chunks(scratch[-1])

    def lane(forwards: bool, space: tuple[np.ndarray, np.ndarray]) -> Callable[[], None]:
        def run() -> None:
            with np.errstate(over="ignore", invalid="ignore"):
                while forwards and (k := board.claim("forward", len(slices))) is not None:
                    board.wait_count("drawn", k + 1)
                    forward_early(k, space)
                    board.bump(("forwarded", k))
            step_chunks(space)
        return run

    others = lanes - 1 if lanes > 1 else 1         # the lanes besides the drawer
    forward_lanes = others if forward_lanes is None else forward_lanes
    jobs = [lane(j < forward_lanes, scratch[j]) for j in range(others)]
    run_lanes(pool, board, [jobs[0], drawer, *jobs[1:]])      # the first on this thread
    A, B, offset, early = board.get("fit")
    grad = acc.T
    grad *= -a_scaled[:, None] / n
    return A, B, offset, grad, loss[0] / (2.0 * n), early


def _test_errors_in_lanes(pool: Executor, scratch: Sequence[tuple[np.ndarray, np.ndarray]],
                          n_test: int, d: int, target: Target,
                          rng: np.random.Generator, A: float, B: np.ndarray,
                          readouts: Sequence[tuple[np.ndarray, np.ndarray]],
                          chunk: int) -> list[float]:
    """Test MSE of each readout ``(W, a)`` and, last, of the linear predictor A + x.B.

    The test set is ``sample_batch(n_test, d, target, rng)`` drawn chunk by chunk, in chunk
    order, into each lane's ``(chunk, d)`` buffer (the Generator fills rows in order, so the
    draws are the same), and each chunk's squared errors are kept, so every mean is that of
    the whole test set: (1/n_test) sum_nu (y_nu - A - x_nu.B - sigma(W x_nu).a/sqrt p)^2.
    A lane for each work space of ``scratch`` (:func:`_scratch`); ``pool`` needs a free
    worker for each but the first; the caller holds BLAS to one thread.
    """
    squared = np.empty((len(readouts) + 1, n_test))
    scaled = [(W, a / np.sqrt(W.shape[0])) for W, a in readouts]
    slices = list(row_chunks(n_test, chunk))
    rows_max = min(chunk, n_test)
    board = Board()

    p = readouts[0][0].shape[0]

    def lane(floats: np.ndarray) -> None:
        inputs = view(floats, rows_max * p, rows_max, d)
        while (k := board.claim("chunk", len(slices))) is not None:
            s = slices[k]
            rows = s.stop - s.start
            buf = view(floats, 0, rows, p, order="F")      # X W^T is faster into Fortran order
            with board.turn("draw", k):
                Xt = kernels.standard_normal(rng, inputs[:rows])
            yt = target(Xt)
            lin = A + Xt @ B
            squared[-1, s] = (yt - lin) ** 2
            for j, (W, a_scaled) in enumerate(scaled):
                Z = np.matmul(Xt, W.T, out=buf)
                squared[j, s] = (yt - (lin + kernels.relu(Z) @ a_scaled)) ** 2

    run_lanes(pool, board, [partial(lane, floats) for floats, _ in scratch])
    return [float(np.mean(row)) for row in squared]


def single_step_errors(d: int, p: int, n: int, rng: np.random.Generator, lam: float,
                       lr_scale: float, n_test: int, readout: str, random_features: bool,
                       chunk: int, workspace: Workspace | None = None
                       ) -> tuple[np.ndarray, float, float, float]:
    """The single-step protocol on validated input: ``(W1, one_step, random_features, linear)``.

    Same arguments, draws and numbers as ``theory.giant_step._single_step_plain``; on as many
    lanes as BLAS may use threads when it is called, each lane calling BLAS on one thread. The
    batch, its labels and the lanes' work spaces come from ``workspace`` when one is given
    (kept for the next call), else from a fresh one (freed with the call).
    """
    target = make_target("giant_step_teacher")
    W0, a0 = gaussian_init(d, p, rng)
    lr = lr_scale * np.sqrt(n * p)
    lanes = blas_threads()
    workspace = Workspace() if workspace is None else workspace
    fresh: list[tuple[np.ndarray, np.ndarray]] = []

    def draw_fresh() -> None:
        if readout == "fresh":
            fresh.append(sample_batch(n, d, target, rng))

    with ThreadPoolExecutor(max_workers=max(lanes - 1, 1)) as pool, \
            threadpool_limits(limits=1, user_api="blas"):
        scratch = _scratch(lanes, min(chunk, max(n, n_test)), d, p, workspace)
        X, y = workspace.take("batch", (n, d)), workspace.take("labels", n)
        A, B, offset, grad, loss, _ = _step_in_lanes(
            pool, scratch, X, y, partial(_draw_rows, rng, target, X, y), W0, a0, chunk,
            after_fit=draw_fresh)
        with np.errstate(over="ignore", invalid="ignore"):
            W1 = W0 - lr * grad
        check_loss(1, loss)
        if not np.all(np.isfinite(W1)):
            raise DivergenceError(1, loss, "the weights became non-finite")
        if fresh:
            del X, y, offset
            X, y = fresh.pop()
            offset = A + X @ B
        y_pre = y - offset
        readouts = []
        for W in ((W1, W0) if random_features else (W1,)):
            if p > n:                                # features in memory: the plain solve
                a = _ridge_core(X, y_pre, W, lam, ACTIVATIONS["relu"], chunk)
            else:
                a = _ridge_from_gram(*lane_gram(pool, [f for f, _ in scratch], X, y_pre, W,
                                                chunk), lam)
            readouts.append((W, a))
        del X, y, y_pre, offset
        errors = _test_errors_in_lanes(pool, scratch, n_test, d, target, rng, A, B, readouts,
                                       chunk)
    return W1, errors[0], errors[1] if random_features else float("nan"), errors[-1]
