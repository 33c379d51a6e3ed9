"""Lanes: a few threads that share the row chunks of one phase, each calling BLAS on one thread.

On two cores, one BLAS call split over two threads leaves a core idle (or spinning, which costs
the same) whenever the caller does anything else: the element-wise passes between products,
the serial random-number draws, Python itself. Two lanes, each a thread that takes the next
row chunk and does all of that chunk's work with single-threaded BLAS, keep both cores busy,
and a single-threaded product runs at least as fast per core as a two-threaded one on these
shapes (bench/README.md).

The numbers must not depend on which lane did what, nor on the number of lanes: every sum
over chunks is taken in chunk order (:meth:`Board.turn`), every product runs on one BLAS
thread, and the random draws, which come from one stream, are taken in chunk order too.

:class:`Board` is what the lanes of one phase share (counters under one condition variable);
:func:`run_lanes` runs the lanes and re-raises the first error of any of them, after which no
lane is left waiting.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterator, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from typing import Any

from threadpoolctl import ThreadpoolController

__all__: list[str] = []      # for the fast paths, on their own validated input


class LaneFailed(RuntimeError):
    """Raised in a lane that waits on the board after another lane has failed."""


class Board:
    """Counters shared by the lanes of one phase, and values published once.

    * :meth:`claim` hands out 0, 1, 2, ... (one number to one lane) until a limit, or until the
      key is :meth:`close`\\ d;
    * :meth:`bump` / :meth:`wait_count` count events (chunks drawn, chunks done) and wait for
      them;
    * :meth:`turn` lets the k-th user of a key in only after users 0, ..., k-1 have left: the
      way to sum over chunks in chunk order;
    * :meth:`publish` / :meth:`get` hand a value from one lane to the others.

    After :meth:`fail` every wait and claim raises :class:`LaneFailed`, so a lane stops at its
    next chunk.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._counts: defaultdict[Hashable, int] = defaultdict(int)
        self._closed: set[Hashable] = set()
        self._values: dict[str, Any] = {}
        self._failed = False

    def _wait(self, ready: Callable[[], bool]) -> None:
        while not ready():                       # called with the condition held
            self.check()
            self._cond.wait()

    def check(self) -> None:
        """Raise :class:`LaneFailed` if another lane has failed (for lanes that do not wait)."""
        if self._failed:
            raise LaneFailed("another lane failed")

    def claim(self, key: Hashable, limit: int) -> int | None:
        """The next number of ``key`` (0, 1, ...), or None once ``limit`` is reached or the
        key is closed; :class:`LaneFailed` once another lane has failed."""
        with self._cond:
            self.check()
            k = self._counts[key]
            if k >= limit or key in self._closed:
                return None
            self._counts[key] = k + 1
            return k

    def close(self, key: Hashable) -> int:
        """No more claims of ``key``; returns how many were handed out."""
        with self._cond:
            self._closed.add(key)
            return self._counts[key]

    def bump(self, key: Hashable) -> None:
        """Count one more event of ``key``."""
        with self._cond:
            self._counts[key] += 1
            self._cond.notify_all()

    def wait_count(self, key: Hashable, count: int) -> None:
        """Wait until ``key`` has been bumped ``count`` times."""
        with self._cond:
            self._wait(lambda: self._counts[key] >= count)

    @contextmanager
    def turn(self, key: Hashable, k: int) -> Iterator[None]:
        """Enter as the k-th user of ``key`` once users 0, ..., k-1 have left."""
        self.wait_count(("turn", key), k)
        try:
            yield
        finally:
            self.bump(("turn", key))

    def publish(self, name: str, value: Any) -> None:
        with self._cond:
            self._values[name] = value
            self._cond.notify_all()

    def get(self, name: str) -> Any:
        """The value published as ``name``, waiting for it."""
        with self._cond:
            self._wait(lambda: name in self._values)
            return self._values[name]

    def fail(self) -> None:
        with self._cond:
            self._failed = True
            self._cond.notify_all()


def run_lanes(pool: Executor, board: Board, lanes: Sequence[Callable[[], None]]) -> None:
    """Run ``lanes[0]`` on this thread and the others in ``pool`` (which must have a free
    worker for each); return when all are done. If a lane raises, the board fails (so no
    other lane waits for it) and the first error that is not :class:`LaneFailed` is re-raised.
    """
    def guarded(lane: Callable[[], None]) -> None:
        try:
            lane()
        except BaseException:
            board.fail()
            raise

    futures = [pool.submit(guarded, lane) for lane in lanes[1:]]
    errors: list[BaseException] = []
    try:
        guarded(lanes[0])
    except BaseException as error:               # noqa: BLE001 (re-raised below)
        errors.append(error)
    for future in futures:
        try:
            future.result()
        except BaseException as error:           # noqa: BLE001 (re-raised below)
            errors.append(error)
    if errors:
        raise next((e for e in errors if not isinstance(e, LaneFailed)), errors[0])


def blas_threads() -> int:
    """The number of threads the loaded BLAS libraries may use now (the smallest, at least 1):
    the number of lanes that fills them."""
    counts = [lib["num_threads"] for lib in ThreadpoolController().info()
              if lib["user_api"] == "blas"]
    return max(1, min(counts, default=1))
