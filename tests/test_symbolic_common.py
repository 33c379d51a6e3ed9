"""Shared sympy helpers, pinned by the deep-linear chain rule and by numeric oracles."""

import numpy as np
import pytest
import sympy as sp

from theory.symbolic import (frobenius_sq, is_zero, lambdify_numpy, matrix_gradient, matrix_symbols,
                             max_discrepancy)


def test_chain_gradient_of_three_layer_product_matches_closed_form():
    """grad_{W_l} 1/2||W3 W2 W1 - Phi||^2 = W_{L:l+1}^T (W_{L:1} - Phi) W_{l-1:1}^T."""
    W1, W2, W3 = (matrix_symbols(f"w{l}", 2, 2) for l in (1, 2, 3))
    Phi = matrix_symbols("phi", 2, 2)
    residual = W3 * W2 * W1 - Phi
    loss = frobenius_sq(residual) / 2
    eye = sp.eye(2)
    closed = {
        1: (W3 * W2).T * residual * eye,
        2: W3.T * residual * W1.T,
        3: eye * residual * (W2 * W1).T,
    }
    for l, W in ((1, W1), (2, W2), (3, W3)):
        assert is_zero(sp.expand(matrix_gradient(loss, W) - closed[l]))
    # and a wrong closed form (missing transpose) is caught
    assert not is_zero(sp.expand(matrix_gradient(loss, W2) - W3 * residual * W1.T))


def test_matrix_symbols_shape_and_names():
    M = matrix_symbols("a", 2, 3)
    assert M.shape == (2, 3)
    assert str(M[1, 2]) == "a_23"
    assert M[0, 0].is_real


def test_lambdify_and_max_discrepancy_detect_a_wrong_function():
    x, y = sp.symbols("x y", real=True)
    expr = sp.sin(x) * y**2
    rng = np.random.default_rng(0)
    assert max_discrepancy(expr, [x, y], lambda a, b: np.sin(a) * b**2, rng) < 1e-14
    assert max_discrepancy(expr, [x, y], lambda a, b: np.sin(a) * b, rng) > 1e-3
    f = lambdify_numpy([x, y], sp.Matrix([[x, y], [y, x]]))
    np.testing.assert_array_equal(f(1.0, 2.0), [[1.0, 2.0], [2.0, 1.0]])


@pytest.mark.parametrize("call, name", [
    (lambda: matrix_symbols("", 2, 2), "name"),
    (lambda: matrix_symbols("a", 0, 2), "rows"),
    (lambda: matrix_symbols("a", 2, -1), "cols"),
    (lambda: matrix_gradient(sp.Symbol("x"), "not a matrix"), "M"),
    (lambda: matrix_gradient(sp.Symbol("x"), sp.Matrix([[sp.Symbol("x") + 1]])), "M"),
    (lambda: max_discrepancy(sp.Symbol("x"), [sp.Symbol("x")], lambda a: a, 0), "rng"),
    (lambda: max_discrepancy(sp.Symbol("x"), [sp.Symbol("x")], lambda a: a,
                             np.random.default_rng(0), n_points=0), "n_points"),
    (lambda: max_discrepancy(sp.Symbol("x"), [sp.Symbol("x")], lambda a: a,
                             np.random.default_rng(0), scale=0.0), "scale"),
    (lambda: max_discrepancy(sp.log(sp.Symbol("x")), [sp.Symbol("x")], np.log,
                             np.random.default_rng(0), n_points=20), "numeric"),
    (lambda: max_discrepancy(sp.exp(sp.Symbol("x")), [sp.Symbol("x")], np.exp,
                             np.random.default_rng(0), scale=1e300), "scale"),
    (lambda: is_zero(float("nan")), "expr"),
])
def test_bad_input(call, name):
    with pytest.raises(ValueError, match=name):
        call()


@pytest.mark.parametrize("call, name", [
    (lambda: frobenius_sq([[1, 2]]), "M"),
    (lambda: frobenius_sq(np.ones((2, 2))), "M"),
    (lambda: lambdify_numpy("x y", sp.Symbol("x")), "symbols"),
    (lambda: lambdify_numpy([sp.Symbol("x"), "y"], sp.Symbol("x")), "symbols"),
    (lambda: lambdify_numpy(np.zeros(0), sp.Symbol("x")), "symbols"),
    (lambda: lambdify_numpy([sp.Symbol("x")], "x + 1"), "expr"),
    (lambda: lambdify_numpy([sp.Symbol("x")], None), "expr"),
    (lambda: is_zero("0"), "expr"),
    (lambda: is_zero(None), "expr"),
    (lambda: is_zero(np.zeros(2)), "expr"),
    (lambda: max_discrepancy(sp.Symbol("x"), [sp.Symbol("x")], None, np.random.default_rng(0)),
     "numeric"),
])
def test_wrong_kind_of_input_raises_type_error(call, name):
    with pytest.raises(TypeError, match=name):
        call()


def test_plain_numbers_are_sympy_constants():
    assert is_zero(0) and not is_zero(1.5)
    np.testing.assert_array_equal(lambdify_numpy([], sp.Integer(3))(), 3.0)
