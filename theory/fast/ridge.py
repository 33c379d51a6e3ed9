"""Fast path of the streamed ridge readout of :func:`theory.two_layer.ridge_readout`.

The plain loop (``theory.two_layer._ridge_core`` with ``fast=False``) sums, over row chunks
``c`` of the data,

    G   = sum_c Phi_c^T Phi_c,        rhs = sum_c Phi_c^T y_c,        Phi_c = sigma(X_c W^T),

with two numpy products per chunk. :func:`streamed_gram` gives the same sums with half the
flops for G: the symmetric rank-k update ``dsyrk`` computes only one triangle (the lower one:
OpenBLAS's lower ``dsyrk`` of a Fortran-ordered chunk runs about 7 % faster than the upper one
on this collection's machines, with bit-identical entries). :func:`lane_gram` sums the same
on several threads at once. Equal to the plain loop to round-off (``tests/test_two_layer.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from functools import partial

import numpy as np
from scipy.linalg.blas import dgemm, dgemv, dsyrk

from .._validate import as_float_array, as_int
from ..linalg import row_chunks
from . import blas, kernels
from .lanes import Board, run_lanes
from .memory import block

__all__ = ["streamed_gram"]      # lane_gram: for the fast giant step, on validated input


def streamed_gram(X: np.ndarray, y: np.ndarray, W: np.ndarray,
                  activate: Callable[[np.ndarray], np.ndarray],
                  chunk: int) -> tuple[np.ndarray, np.ndarray]:
    """``(G, rhs)``: G = sum_c Phi_c^T Phi_c (full, symmetric) and rhs = sum_c Phi_c^T y_c.

    ``activate(Z)`` returns sigma(Z) and may overwrite Z (a temporary). Every product of the
    loop goes through ``scipy.linalg.blas`` (features by ``dgemm``, Gram matrix by ``dsyrk``,
    right-hand side by ``dgemv``): numpy and scipy ship separate OpenBLAS builds, each with its
    own thread pool, and interleaving numpy's product with scipy's ``dsyrk`` chunk after chunk
    leaves one pool's idle threads spinning while the other works (half the speed on two
    cores). The feature chunk is Fortran-ordered ``(chunk, p)`` and written in place, so no
    call copies its operands.
    """
    X = as_float_array("X", X, ndim=2)
    y = as_float_array("y", y, ndim=1)
    W = as_float_array("W", W, ndim=2)
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"y must have one label per row of X: {y.shape[0]} vs {X.shape[0]}")
    if W.shape[1] != X.shape[1]:
        raise ValueError(f"W must have {X.shape[1]} columns, got {W.shape[1]}")
    if not callable(activate):
        raise TypeError("activate must be callable")
    chunk = as_int("chunk", chunk, minimum=1)
    return gram_core(X, y, W, activate, chunk)


def gram_core(X: np.ndarray, y: np.ndarray, W: np.ndarray,
              activate: Callable[[np.ndarray], np.ndarray],
              chunk: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`streamed_gram` on validated input (no pass over X to check it)."""
    n, p = X.shape[0], W.shape[0]
    G = np.zeros((p, p), order="F")
    rhs = np.zeros(p)
    WT = W.T                                     # (d, p), Fortran-ordered view: no copy
    buf = np.empty((min(chunk, n), p), order="F")
    for s in row_chunks(n, chunk):
        rows = s.stop - s.start
        out = buf if rows == buf.shape[0] else None  # a short last chunk gets its own array
        # X[s].T is a Fortran-ordered (d, rows) view: Phi = X[s] W^T with no copy.
        Phi = dgemm(1.0, X[s].T, WT, trans_a=1, c=out, overwrite_c=True)
        Phi = activate(Phi)
        G = dsyrk(1.0, Phi, beta=1.0, c=G, trans=1, lower=1, overwrite_c=True)
        rhs = dgemv(1.0, Phi, y[s], beta=1.0, y=rhs, trans=1, overwrite_y=True)
    return np.tril(G) + np.tril(G, -1).T, rhs


def lane_gram(pool: Executor, scratch: Sequence[np.ndarray], X: np.ndarray, y: np.ndarray,
              W: np.ndarray, chunk: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`gram_core` for the ReLU features sigma(z) = max(z, 0), on lanes
    (:mod:`theory.fast.lanes`) that call numpy's BLAS on one thread each.

    Each lane takes the next row chunk c, computes Phi_c = max(X_c W^T, 0), its Gram term
    Phi_c^T Phi_c and Phi_c^T y_c, and adds the two terms to G and rhs in chunk order, so the
    numbers are the same on any number of lanes. The Gram term is the upper triangle of the
    symmetric rank-k update ``cblas_dsyrk`` of numpy's BLAS
    (:func:`theory.fast.blas.syrk_upper`), the one numpy runs for ``A.T @ A`` before it copies
    the triangle: the same bits, without the copy; G's lower triangle is filled once, at the
    end (numpy's ``A.T @ A`` runs where that routine is not found). Only numpy's BLAS is
    called: scipy's OpenBLAS runs one call at a time across threads (bench/README.md). Equal
    to :func:`gram_core` to round-off. A lane for each float64 array of ``scratch`` (a work
    space of at least min(chunk, n) p entries); ``pool`` needs a free worker for each but the
    first; the caller holds BLAS to one thread.
    """
    n, p = X.shape[0], W.shape[0]
    G, rhs = np.zeros((p, p)), np.zeros(p)
    slices = list(row_chunks(n, chunk))
    board = Board()
    upper = blas.available()      # the upper triangle of each term only, and no copy of it

    def lane(space: np.ndarray) -> None:
        term = np.zeros((p, p))
        while (k := board.claim("chunk", len(slices))) is not None:
            s = slices[k]
            # Fortran-ordered (rows, p): numpy's BLAS computes X W^T faster into it
            Phi = block(space, 0, s.stop - s.start, p, order="F")
            Phi = kernels.relu(np.matmul(X[s], W.T, out=Phi))
            if upper:
                blas.syrk_upper(Phi.T, term)
            else:
                np.matmul(Phi.T, Phi, out=term)
            projection = Phi.T @ y[s]
            with board.turn("sum", k):
                np.add(G, term, out=G)
                np.add(rhs, projection, out=rhs)

    run_lanes(pool, board, [partial(lane, space) for space in scratch])
    if upper:
        G += np.triu(G, 1).T
    return G, rhs
