"""Large work arrays backed by ordinary (4 KiB) pages rather than transparent huge pages.

numpy asks Linux for transparent huge pages (``madvise(MADV_HUGEPAGE)``) on every array of
4 MiB or more. On a virtual machine whose host takes freed memory back within seconds, the
first touch of that memory then costs the kernel more per byte with huge pages than with
ordinary ones. On the third bench machine (bench/README.md, 2026-12-05), filling a fresh 1 GiB
array took 1.0-2.3 s of kernel time with huge pages and 0.3-1.2 s with ordinary pages; the
giant-step bench, whose batch alone is 1 GiB, ran about 0.5 s faster per run (kernel time
0.9-1.6 s instead of 1.7-2.8 s). On the second bench machine the two kinds of page cost the
same within noise. Where huge pages are cheap, ordinary ones cost a little more: 0.36 s per GiB
against 0.19 s on the third machine when the huge pages were freed by the same process a moment
before.

:func:`empty_small_pages` gives such an array without touching numpy's process-wide setting:
an anonymous private ``mmap`` (zero-filled on first touch, freed with the array), advised
``MADV_NOHUGEPAGE``. Where ``mmap.MADV_NOHUGEPAGE`` does not exist (not Linux) it is
``np.empty``. Nothing in the array's values depends on the pages behind it.
"""

from __future__ import annotations

import mmap
from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import DTypeLike

from .._validate import as_int

__all__ = ["Workspace", "empty_small_pages"]

#: numpy's own threshold for huge pages: smaller arrays never get them anyway.
HUGE_PAGE_THRESHOLD = 4 << 20


def empty_small_pages(shape: int | Sequence[int], dtype: DTypeLike = np.float64
                      ) -> np.ndarray:
    """An uninitialised C-ordered array, like ``np.empty(shape, dtype)``, on 4 KiB pages.

    Arrays under 4 MiB, or on a system without ``MADV_NOHUGEPAGE``, come from ``np.empty``.
    Untouched pages of the mapping cost no memory, so a large array of which only some rows
    are written uses only those rows' pages.
    """
    sizes = shape if isinstance(shape, Sequence) else (shape,)
    dims = tuple(as_int("shape", size, minimum=0) for size in sizes)
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if nbytes < HUGE_PAGE_THRESHOLD or not hasattr(mmap, "MADV_NOHUGEPAGE"):
        return np.empty(dims, dtype=dtype)
    pages = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    pages.madvise(mmap.MADV_NOHUGEPAGE)
    return np.frombuffer(pages, dtype=dtype).reshape(dims)


class Workspace:
    """Work arrays kept from one call to the next, so that their pages are touched once.

    The first touch of fresh memory costs the kernel time on the virtual machines we measure
    (0.3-2.3 s per GiB, see above), and a function that allocates a 1 GiB batch on every call
    pays it on every call. A function taking ``workspace=`` draws its large arrays from it
    instead: :meth:`take` returns an uninitialised C-ordered array, a view into a flat buffer
    kept under ``name`` (on ordinary pages, :func:`empty_small_pages`), allocated on the first
    call and again only when a later call needs more. Arrays under different names never share
    memory; an array taken under a name is overwritten by the next :meth:`take` of that name,
    so a workspace serves one call at a time (not two threads or two calls at once). The
    functions that take one write every array they take before reading it, so none of their
    results depends on what a workspace held (``tests/test_two_layer.py`` poisons it).
    """

    def __init__(self) -> None:
        self._buffers: dict[tuple[str, str], np.ndarray] = {}

    def take(self, name: str, shape: int | Sequence[int], dtype: DTypeLike = np.float64
             ) -> np.ndarray:
        """An uninitialised C-ordered array of ``shape`` and ``dtype`` on the buffer ``name``."""
        if not isinstance(name, str) or not name:
            raise TypeError(f"name must be a non-empty string, got {name!r}")
        sizes = shape if isinstance(shape, Sequence) else (shape,)
        dims = tuple(as_int("shape", size, minimum=0) for size in sizes)
        dtype = np.dtype(dtype)
        size = int(np.prod(dims, dtype=np.int64))
        key = (name, dtype.str)
        flat = self._buffers.get(key)
        if flat is None or flat.size < size:
            self._buffers.pop(key, None)              # free the old buffer before the new one
            flat = self._buffers[key] = empty_small_pages(size, dtype)
        return flat[:size].reshape(dims)

    @property
    def nbytes(self) -> int:
        """Bytes held by the buffers."""
        return sum(flat.nbytes for flat in self._buffers.values())


def block(flat: np.ndarray, start: int, rows: int, cols: int,
          order: Literal["C", "F"] = "C") -> np.ndarray:
    """The contiguous (rows, cols) array, C- or Fortran-ordered, on ``flat[start:]``: a view
    into a flat work space allocated once (for any ``rows`` up to the space's size, so a short
    last chunk is contiguous too). Raises ``ValueError`` if the space is too small."""
    if start < 0 or start + rows * cols > flat.size:
        raise ValueError(f"flat has {flat.size} entries, too few for a ({rows}, {cols}) block "
                         f"at {start}")
    return flat[start:start + rows * cols].reshape((rows, cols), order=order)
