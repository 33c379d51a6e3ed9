"""Shared sympy helpers: matrix symbols, entrywise matrix gradients, lambdify, numeric checks.

Each paper's derivations live in their own module of :mod:`theory.symbolic`; they build on
these few helpers so that "compare a symbolic expression with a numeric function at random
points" is written once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import sympy as sp

from .._validate import as_float, as_generator, as_int, as_sympy

__all__ = ["matrix_symbols", "matrix_gradient", "frobenius_sq", "lambdify_numpy",
           "max_discrepancy", "is_zero"]


def matrix_symbols(name: str, rows: int, cols: int, **assumptions: bool) -> sp.Matrix:
    """A ``rows x cols`` matrix whose entries are the real symbols ``name_ij`` (1-based)."""
    if not isinstance(name, str) or not name:
        raise ValueError("name must be a non-empty string")
    rows = as_int("rows", rows, minimum=1)
    cols = as_int("cols", cols, minimum=1)
    assumptions.setdefault("real", True)
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}_{i + 1}{j + 1}", **assumptions))


def frobenius_sq(M: sp.Matrix) -> sp.Expr:
    """``||M||_F^2 = sum_ij M_ij^2`` (real entries)."""
    if not isinstance(M, sp.MatrixBase):
        raise TypeError(f"M must be a sympy Matrix, got {type(M).__name__}")
    return sum((entry**2 for entry in M), sp.Integer(0))


def matrix_gradient(loss: sp.Expr, M: sp.Matrix) -> sp.Matrix:
    """The matrix of partial derivatives ``(d loss / d M_ij)_ij`` (same shape as ``M``)."""
    if not isinstance(M, sp.MatrixBase):
        raise ValueError("M must be a sympy Matrix of symbols")
    for entry in M:
        if not isinstance(entry, sp.Symbol):
            raise ValueError("M must hold plain symbols, got an entry " + str(entry))
    return M.applyfunc(lambda m: sp.diff(loss, m))


def lambdify_numpy(symbols: Sequence[Any], expr: Any) -> Callable[..., np.ndarray]:
    """``sympy.lambdify`` to numpy; matrices come back as float ndarrays."""
    symbols = _as_symbols("symbols", symbols)
    expr = as_sympy("expr", expr)
    func = sp.lambdify(symbols, expr, modules="numpy")

    def wrapped(*args: Any) -> np.ndarray:
        return np.asarray(func(*args), dtype=float)

    return wrapped


def is_zero(expr: Any) -> bool:
    """True when sympy simplifies ``expr`` (a scalar or a matrix) to exactly zero."""
    expr = as_sympy("expr", expr)
    if isinstance(expr, sp.MatrixBase):
        return all(sp.simplify(e) == 0 for e in expr)
    return sp.simplify(expr) == 0


def max_discrepancy(expr: Any, symbols: Sequence[Any], numeric: Callable[..., Any],
                    rng: np.random.Generator, n_points: int = 5, scale: float = 1.0) -> float:
    """Largest relative discrepancy between ``expr`` and ``numeric`` at random points.

    Draws ``n_points`` points with i.i.d. N(0, scale^2) coordinates for ``symbols`` from
    ``rng``, evaluates the lambdified ``expr`` and ``numeric(*values)`` at each, and returns
    ``max |sym - num| / max(1, |sym|)`` over points and entries.
    """
    rng = as_generator("rng", rng)
    n_points = as_int("n_points", n_points, minimum=1)
    scale = as_float("scale", scale, minimum=0.0, strict_minimum=True)
    if not callable(numeric):
        raise TypeError(f"numeric must be callable, got {type(numeric).__name__}")
    symbols = _as_symbols("symbols", symbols)
    f = lambdify_numpy(symbols, expr)
    worst = 0.0
    for _ in range(n_points):
        values = scale * rng.standard_normal(len(symbols))
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # checked below
            sym = f(*values)
            num = np.asarray(numeric(*values), dtype=float)
        if sym.shape != num.shape:
            num = num.reshape(sym.shape)
        if not (np.all(np.isfinite(sym)) and np.all(np.isfinite(num))):
            raise ValueError(f"expr and numeric must be finite at the random points; got a "
                             f"non-finite value at scale = {scale:g}")
        err = np.max(np.abs(sym - num) / np.maximum(1.0, np.abs(sym)))
        worst = max(worst, float(err))
    return worst


def _as_symbols(name: str, symbols: object) -> list[Any]:
    """A sequence of sympy symbols (or other sympy objects lambdify accepts as arguments)."""
    if isinstance(symbols, (str, bytes, np.ndarray)) or not isinstance(symbols, Sequence):
        raise TypeError(f"{name} must be a list of sympy symbols, got {type(symbols).__name__}")
    symbols = list(symbols)
    for i, s in enumerate(symbols):
        if not isinstance(s, sp.Basic):
            raise TypeError(f"{name}[{i}] must be a sympy symbol, got {s!r}")
    return symbols
