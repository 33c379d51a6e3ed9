"""Symbolic (sympy) derivations: shared helpers in :mod:`.common`, one module per paper."""

from .common import (
                     frobenius_sq,
                     is_zero,
                     lambdify_numpy,
                     matrix_gradient,
                     matrix_symbols,
                     max_discrepancy,
)

__all__ = ["frobenius_sq", "is_zero", "lambdify_numpy", "matrix_gradient", "matrix_symbols",
           "max_discrepancy"]
