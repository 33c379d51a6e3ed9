"""``C <- alpha op(A) op(B) + beta C`` in numpy's own BLAS library, for updates fused into a
product.

``np.matmul`` always writes ``A @ B`` into its output (``alpha = 1``, ``beta = 0``), so an
update such as ``W <- W - lr G`` or ``b <- mu b + G`` needs the product in a buffer and then
passes over three or five arrays. BLAS's ``dgemm`` does both at once: the kernel adds the
scaled product into ``C`` as it computes it. scipy exposes ``dgemm`` (``scipy.linalg.blas``),
but from its own copy of OpenBLAS, whose threads compete with numpy's when the two alternate
in a loop (bench/README.md). :func:`gemm` therefore calls ``cblas_dgemm`` of the OpenBLAS that
numpy itself loaded: the same library, the same threads, the same ``threadpoolctl`` limits as
every ``np.matmul`` of the loop.

:func:`available` says whether that library was found (numpy's wheels ship OpenBLAS; a numpy
built on another BLAS, or a platform without ``dlopen``, has none): callers keep a plain path
for when it is not.
"""

from __future__ import annotations

import ctypes
import functools
import os
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["available", "gemm", "syrk_upper"]

_ROW_MAJOR, _NO_TRANS, _TRANS, _UPPER = 101, 111, 112, 121


@functools.cache
def _routine(name: str) -> Callable[..., None] | None:
    """``cblas_<name>`` (``dgemm`` or ``dsyrk``) of the OpenBLAS numpy loaded, or None.

    The library is found among those ``threadpoolctl`` sees in the process, as the one under
    numpy's installation (numpy's wheels keep it in ``numpy.libs``), and opened with
    ``RTLD_NOLOAD``, so that a second copy is never loaded. The integer width (32 or 64 bits)
    is read from ``openblas_get_config``."""
    from threadpoolctl import ThreadpoolController

    np.ones((2, 2)) @ np.ones((2, 2))             # numpy loads its BLAS on first use
    root = os.path.dirname(os.path.dirname(os.path.abspath(np.__file__)))
    numpy_dir = os.path.join(root, "numpy")
    for controller in ThreadpoolController().select(internal_api="openblas").lib_controllers:
        path = os.path.abspath(controller.filepath)
        if not (path.startswith(numpy_dir + os.sep) or path.startswith(numpy_dir + ".libs")):
            continue
        try:
            lib = ctypes.CDLL(path, mode=getattr(os, "RTLD_NOLOAD", 0))
        except OSError:
            return None
        for prefix in ("scipy_", ""):
            for suffix in ("64_", ""):
                try:
                    routine = getattr(lib, f"{prefix}cblas_{name}{suffix}")
                    config = getattr(lib, f"{prefix}openblas_get_config{suffix}")
                except AttributeError:
                    continue
                config.restype = ctypes.c_char_p
                wide = b"USE64BITINT" in (config() or b"")
                index = ctypes.c_int64 if wide else ctypes.c_int32
                flag, real, pointer = ctypes.c_int, ctypes.c_double, ctypes.c_void_p
                routine.argtypes = {
                    # order, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc
                    "dgemm": [flag, flag, flag, index, index, index, real, pointer, index,
                              pointer, index, real, pointer, index],
                    # order, uplo, trans, n, k, alpha, a, lda, beta, c, ldc
                    "dsyrk": [flag, flag, flag, index, index, real, pointer, index, real,
                              pointer, index]}[name]
                routine.restype = None
                return routine
    return None


def available() -> bool:
    """Whether :func:`gemm` and :func:`syrk_upper` can run (numpy's BLAS is an OpenBLAS
    exporting ``cblas_dgemm`` and ``cblas_dsyrk``)."""
    return _routine("dgemm") is not None and _routine("dsyrk") is not None


def _operand(name: str, a: Any) -> tuple[int, int, int]:
    """``(address, transpose flag, leading dimension)`` of a float64 matrix that is C-ordered
    or the transpose of a C-ordered one (``M.T``, a view)."""
    if not isinstance(a, np.ndarray) or a.ndim != 2 or a.dtype != np.float64:
        raise TypeError(f"{name} must be a 2-d float64 array")
    if a.flags.c_contiguous:
        return a.ctypes.data, _NO_TRANS, max(1, a.shape[1])
    if a.T.flags.c_contiguous:
        return a.ctypes.data, _TRANS, max(1, a.shape[0])
    raise ValueError(f"{name} must be C-ordered or the transpose of a C-ordered array")


def gemm(a: np.ndarray, b: np.ndarray, out: np.ndarray, *, alpha: float = 1.0,
         beta: float = 0.0) -> np.ndarray:
    """``out <- alpha a @ b + beta out`` in place, in numpy's BLAS (``cblas_dgemm``), and
    return ``out``.

    ``a`` and ``b`` are float64 matrices, each C-ordered or the transpose of a C-ordered one
    (``M.T`` costs no copy); ``out`` is C-ordered and must not overlap them. With ``beta = 0``
    the old content of ``out`` is not read. The result equals ``alpha (a @ b) + beta out`` to
    round-off (BLAS adds the product into ``out`` in blocks of the inner dimension), not to the
    last bit. Raises ``RuntimeError`` where :func:`available` is False.
    """
    dgemm = _routine("dgemm")
    if dgemm is None:
        raise RuntimeError("numpy's BLAS is not an OpenBLAS with cblas_dgemm; use np.matmul")
    pa, trans_a, lda = _operand("a", a)
    pb, trans_b, ldb = _operand("b", b)
    if not isinstance(out, np.ndarray) or out.ndim != 2 or out.dtype != np.float64 \
            or not out.flags.c_contiguous or not out.flags.writeable:
        raise TypeError("out must be a writeable C-ordered 2-d float64 array")
    (m, k), (k2, n) = a.shape, b.shape
    if k != k2 or out.shape != (m, n):
        raise ValueError(f"shapes do not match: a {a.shape} @ b {b.shape} into out {out.shape}")
    if np.may_share_memory(out, a) or np.may_share_memory(out, b):
        raise ValueError("out must not overlap a or b")
    if m and n:
        dgemm(_ROW_MAJOR, trans_a, trans_b, m, n, k, float(alpha), pa, lda, pb, ldb,
              float(beta), out.ctypes.data, max(1, n))
    return out


def syrk_upper(a: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The upper triangle of ``out`` <- ``a @ a.T`` in place, in numpy's BLAS
    (``cblas_dsyrk``), and return ``out``; its strict lower triangle is not touched.

    ``a`` is a float64 (n, k) matrix, C-ordered or the transpose of a C-ordered one; ``out`` a
    writeable C-ordered (n, n) float64 matrix that does not overlap it. This is the symmetric
    rank-k update numpy itself calls for ``a @ a.T`` (which then copies the upper triangle into
    the lower one), so the upper triangle is the same to the last bit. Raises ``RuntimeError``
    where :func:`available` is False.
    """
    dsyrk = _routine("dsyrk")
    if dsyrk is None:
        raise RuntimeError("numpy's BLAS is not an OpenBLAS with cblas_dsyrk; use np.matmul")
    pa, trans, lda = _operand("a", a)
    if not isinstance(out, np.ndarray) or out.ndim != 2 or out.dtype != np.float64 \
            or not out.flags.c_contiguous or not out.flags.writeable:
        raise TypeError("out must be a writeable C-ordered 2-d float64 array")
    n, k = a.shape
    if out.shape != (n, n):
        raise ValueError(f"shapes do not match: a {a.shape} @ a.T into out {out.shape}")
    if np.may_share_memory(out, a):
        raise ValueError("out must not overlap a")
    if n:
        dsyrk(_ROW_MAJOR, _UPPER, trans, n, k, 1.0, pa, lda, 0.0, out.ctypes.data, max(1, n))
    return out
