"""Symbolic (sympy) derivations: shared helpers in :mod:`.common`, one module per paper,
gradient flows derived by sympy and integrated by scipy in :mod:`.flow`, and :mod:`.check` to
check a derivation of your own (GD order, conserved quantity, closed form) against them."""

from .check import (ClosedFormReport, ConservationReport, GradientFlow, OrderReport,
                    check_closed_form, check_conserved, check_gd_order, derive_flow,
                    gradient_descent, integrate_flow, symbolic_residual)
from .common import (frobenius_sq, is_zero, lambdify_numpy, matrix_gradient, matrix_symbols,
                     max_discrepancy)

__all__ = ["frobenius_sq", "is_zero", "lambdify_numpy", "matrix_gradient", "matrix_symbols",
           "max_discrepancy", "GradientFlow", "derive_flow", "integrate_flow",
           "gradient_descent", "check_gd_order", "check_conserved", "check_closed_form",
           "symbolic_residual", "OrderReport", "ConservationReport", "ClosedFormReport"]
