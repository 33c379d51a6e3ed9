"""Element-wise passes and normal draws of the fast giant step, compiled where numba is installed.

Between its matrix products, a chunk of the giant step (:mod:`theory.fast.giant_step`) passes
over its (rows, p) block Z = X_c W0^T several times: numpy writes the mask 1{Z > 0}, the ReLU
max(Z, 0), then M = 1{Z > 0} r (a boolean array cast to float, row by row). Each pass reads or
writes 32 MB at the benchmark's size, from memory, on a core whose neighbour is running a
matrix product. The functions here do the same with fewer passes: one for the ReLU (and the
packed mask, for a chunk whose mask is kept until its residual is known), one for M.

Each function has its numpy version beside it (``_numpy_*``), which runs where numba is not
installed; the two give the same bits (``tests/test_fast_kernels.py``): the ReLU is numpy's
``maximum(z, 0.0)`` (NaN kept, -0.0 made +0.0), M is ``float(z > 0) * r_i``, and the bits are
those of ``np.packbits(mask, axis=0)``. No pass sums anything, so the bits do not depend on
the vector instructions either compiler uses. Every pass takes a Fortran-ordered float64
block, as the giant step's lanes lay them out, and works in place; each compiled one releases
the GIL, so the lanes run them at once.

The giant step's standard normals (:func:`standard_normal`) are numpy's Generator stream,
drawn by numba's own implementation of numpy's ``Generator.standard_normal`` (the same
ziggurat on the same bit generator, whose state it advances): it calls the bit generator
without numpy's per-draw indirections, three times faster here (bench/README.md). Before the
compiled draws are used, they are checked against numpy's on a stream of 2^18 draws; where
they differ (a numba that does not follow the installed numpy), numpy draws instead.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable

import numpy as np

__all__: list[str] = []      # for the fast giant step and its bench, on validated input


def _numpy_relu(Z: np.ndarray) -> None:
    np.maximum(Z, 0.0, out=Z)


def _numpy_relu_and_pack(Z: np.ndarray, bits: np.ndarray, mask: np.ndarray) -> None:
    bits[:] = np.packbits(np.greater(Z, 0.0, out=mask), axis=0)
    np.maximum(Z, 0.0, out=Z)


def _numpy_mask_times_rows(Z: np.ndarray, r: np.ndarray, mask: np.ndarray) -> None:
    np.multiply(np.greater(Z, 0.0, out=mask), r[:, None], out=Z)


def _numpy_bits_times_rows(bits: np.ndarray, r: np.ndarray, out: np.ndarray) -> None:
    mask = np.unpackbits(bits, axis=0, count=out.shape[0]).view(bool)
    np.multiply(mask, r[:, None], out=out)


def _numpy_standard_normal(rng: np.random.Generator, out: np.ndarray) -> None:
    rng.standard_normal(out=out, dtype=out.dtype)


# The loops numba compiles (the passes column by column: the blocks are Fortran-ordered), with
# the numpy versions' arguments (``mask``, numpy's work space, unused). In Python they would
# be far slower than numpy; without numba the numpy versions above run instead.

def _relu_loops(Z: np.ndarray) -> None:
    rows, p = Z.shape
    for j in range(p):
        for i in range(rows):
            z = Z[i, j]
            Z[i, j] = z if (z > 0.0 or z != z) else 0.0      # numpy's maximum(z, 0.0)


def _relu_and_pack_loops(Z: np.ndarray, bits: np.ndarray, mask: np.ndarray) -> None:
    rows, p = Z.shape
    for j in range(p):
        for b in range(bits.shape[0]):
            byte = 0
            for t in range(min(8, rows - 8 * b)):
                z = Z[8 * b + t, j]
                if z > 0.0:
                    byte |= 128 >> t                           # np.packbits: big-endian bits
                Z[8 * b + t, j] = z if (z > 0.0 or z != z) else 0.0
            bits[b, j] = byte


def _mask_times_rows_loops(Z: np.ndarray, r: np.ndarray, mask: np.ndarray) -> None:
    rows, p = Z.shape
    for j in range(p):
        for i in range(rows):
            Z[i, j] = (1.0 if Z[i, j] > 0.0 else 0.0) * r[i]


def _bits_times_rows_loops(bits: np.ndarray, r: np.ndarray, out: np.ndarray) -> None:
    rows, p = out.shape
    full = rows // 8
    for j in range(p):
        for b in range(full):                    # a byte at a time: 8 rows, one vector
            byte = bits[b, j]
            for t in range(8):
                out[8 * b + t, j] = float((byte >> (7 - t)) & 1) * r[8 * b + t]
        for i in range(8 * full, rows):
            out[i, j] = float((bits[i >> 3, j] >> (7 - (i & 7))) & 1) * r[i]


def _standard_normal_loops(rng: np.random.Generator, out: np.ndarray) -> None:
    rows, d = out.shape
    for i in range(rows):                        # row by row: numpy's order for a C array
        for j in range(d):
            out[i, j] = rng.standard_normal()


_NUMPY: dict[str, Callable[..., None]] = {
    "relu": _numpy_relu, "relu_and_pack": _numpy_relu_and_pack,
    "mask_times_rows": _numpy_mask_times_rows, "bits_times_rows": _numpy_bits_times_rows,
    "standard_normal": _numpy_standard_normal}
_LOOPS: dict[str, Callable[..., None]] = {
    "relu": _relu_loops, "relu_and_pack": _relu_and_pack_loops,
    "mask_times_rows": _mask_times_rows_loops, "bits_times_rows": _bits_times_rows_loops,
    "standard_normal": _standard_normal_loops}


def _same_draws(draw: Callable[..., None], size: int = 1 << 18, seed: int = 20231113) -> bool:
    """Whether ``draw(rng, out)`` gives numpy's standard normals of a Generator stream, to the
    bit, and leaves the bit generator where numpy leaves it."""
    ours, numpy_rng = np.random.default_rng(seed), np.random.default_rng(seed)
    drawn = np.empty((size // 64, 64))
    draw(ours, drawn)
    expected = numpy_rng.standard_normal(drawn.shape)
    return (drawn.tobytes() == expected.tobytes()
            and ours.bit_generator.state == numpy_rng.bit_generator.state)


def _compile() -> dict[str, Callable[..., None]] | None:
    """The loops compiled by numba (cached on disk, releasing the GIL) and run once on small
    blocks of the giant step's types, so no lane compiles them, the draws checked against
    numpy's (:func:`_same_draws`); None without numba."""
    try:
        import numba
    except ImportError:
        return None
    if getattr(numba.config, "DISABLE_JIT", False):   # the loops would run in Python: numpy
        return None
    try:
        compiled: dict[str, Callable[..., None]] = {
            name: numba.njit(nogil=True, cache=True, boundscheck=False)(loops)
            for name, loops in _LOOPS.items()}
    except RuntimeError:                         # no writable place for numba's cache
        compiled = {name: numba.njit(nogil=True, boundscheck=False)(loops)
                    for name, loops in _LOOPS.items()}
    Z, r = np.zeros((9, 2), order="F"), np.zeros(9)
    bits = np.zeros((2, 2), np.uint8, order="F")
    compiled["relu"](Z)
    compiled["relu_and_pack"](Z, bits, Z > 0.0)
    compiled["mask_times_rows"](Z, r, Z > 0.0)
    compiled["bits_times_rows"](bits, r, Z)
    if not _same_draws(compiled["standard_normal"]):
        warnings.warn("numba's standard normal draws differ from numpy's here: numpy draws",
                      RuntimeWarning, stacklevel=2)
        compiled["standard_normal"] = _numpy_standard_normal
    return compiled


_KERNELS: dict[str, Callable[..., None]] | None = None
_LOADED = False
_LOCK = threading.Lock()


def _kernel(name: str) -> Callable[..., None] | None:
    global _KERNELS, _LOADED
    with _LOCK:
        if not _LOADED:
            _KERNELS, _LOADED = _compile(), True
    return None if _KERNELS is None else _KERNELS[name]


def compiled() -> bool:
    """Whether the compiled versions run (numba is installed)."""
    return _kernel("relu") is not None


def _run(name: str, *arguments: object) -> None:
    """The compiled loop ``name`` on ``arguments``, or its numpy version without numba."""
    (_kernel(name) or _NUMPY[name])(*arguments)


def relu(Z: np.ndarray) -> np.ndarray:
    """Z <- max(Z, 0) in place (NaN kept), as ``np.maximum(Z, 0.0, out=Z)``; returns Z."""
    _run("relu", Z)
    return Z


def relu_and_pack(Z: np.ndarray, bits: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``bits <- np.packbits(1{Z > 0}, axis=0)`` (``(ceil(rows / 8), p)`` uint8, Fortran-ordered
    for the compiled loop), then Z <- max(Z, 0), in one pass; returns ``bits``. ``mask``, a
    boolean block of Z's shape and order, is the numpy version's work space."""
    _run("relu_and_pack", Z, bits, mask)
    return bits


def mask_times_rows(Z: np.ndarray, r: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Z_ij <- 1{Z_ij > 0} r_i in place (0 for NaN), as ``np.multiply(Z > 0, r[:, None])``:
    the ReLU's derivative times the residual of each row (the giant step's M); returns Z.
    ``mask``, a boolean block of Z's shape and order, is the numpy version's work space."""
    _run("mask_times_rows", Z, r, mask)
    return Z


def bits_times_rows(bits: np.ndarray, r: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out_ij <- m_ij r_i, with m the mask :func:`relu_and_pack` packed into ``bits`` from a
    block of ``out``'s shape; returns ``out``."""
    _run("bits_times_rows", bits, r, out)
    return out


def standard_normal(rng: np.random.Generator, out: np.ndarray) -> np.ndarray:
    """out <- standard normals from ``rng``, as ``rng.standard_normal(out=out, dtype=out.dtype)``:
    the same numbers, and ``rng`` left in the same state; returns ``out``. For a C-ordered
    float64 ``out`` of two axes, the compiled draws run (releasing the GIL); otherwise numpy's.
    Unlike numpy's, the compiled draws do not take the bit generator's lock: one thread at a
    time may draw from ``rng``, as in the giant step."""
    if out.ndim == 2 and out.flags.c_contiguous and out.dtype == np.float64:
        _run("standard_normal", rng, out)
    else:
        _numpy_standard_normal(rng, out)
    return out
