"""Tests of theory.symbolic.critical_sets: the identities vanish, and sympy's derivatives of a
width-m network (with sigma = tanh substituted) agree with the numpy module."""

import numpy as np
import pytest
import sympy as sp

from theory import critical_sets as cs
from theory.symbolic import critical_sets as S


@pytest.fixture(scope="module")
def setting():
    return S.split_setting(3, 1)


def test_split_preserves_the_output(setting):
    assert S.vanishes(S.split_output_difference(setting))


def test_gradient_identity_holds_without_criticality(setting):
    residuals = S.split_gradient_identity(setting)
    assert set(residuals) == {"a_A", "a_B", "c", "w_A[0]", "w_B[0]", "v[0]"}
    assert S.vanishes(residuals)


def test_quadratic_form_along_the_split_direction(setting):
    lhs, rhs = S.split_quadratic_form(setting)
    assert S.vanishes(lhs - rhs)
    assert not S.vanishes(lhs)          # a genuine identity, not 0 = 0


def test_cross_terms(setting):
    assert S.vanishes(S.split_cross_terms(setting))


def test_quadratic_form_in_two_dimensions():
    s = S.split_setting(2, 2)
    lhs, rhs = S.split_quadratic_form(s)
    assert S.vanishes(lhs - rhs)


def test_multi_split_form():
    lhs, rhs = S.multi_split_quadratic_form(3, 2)
    assert S.vanishes(lhs - rhs)


def test_null_block_and_double_roots():
    assert S.vanishes(S.null_neuron_hessian(3, 1))
    assert S.vanishes(list(S.null_function_identities(3)))


def test_vanishes_detects_non_zero():
    x = sp.Symbol("x")
    assert not S.vanishes(x)
    assert S.vanishes(sp.sin(x) ** 2 + sp.cos(x) ** 2 - 1)


def test_sympy_derivatives_match_numpy_for_tanh():
    m, n, d = 2, 3, 2
    params, X, y, R, grad, H = S.width_m_network(m, n, d)
    x_syms = [xij for xi in X for xij in xi]
    symbols = params + x_syms + y
    to_tanh = lambda e: e.replace(S.sigma, sp.tanh).doit()       # noqa: E731
    f_grad = sp.lambdify(symbols, to_tanh(grad), "numpy")
    f_hess = sp.lambdify(symbols, to_tanh(H), "numpy")
    rng = np.random.default_rng(0)
    for _ in range(3):
        theta = rng.standard_normal(len(params))
        Xn = rng.standard_normal((n, d))
        yn = rng.standard_normal(n)
        args = [*theta, *Xn.ravel(), *yn]
        np.testing.assert_allclose(np.asarray(f_grad(*args), float).ravel(),
                                   cs.gradient(theta, Xn, yn), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(np.asarray(f_hess(*args), float),
                                   cs.hessian(theta, Xn, yn), rtol=1e-12, atol=1e-12)


def test_bad_sizes_raise():
    with pytest.raises(ValueError, match="n"):
        S.split_setting(0, 1)
    with pytest.raises(ValueError, match="d"):
        S.split_setting(3, 0)
    with pytest.raises(ValueError, match="m"):
        S.width_m_network(0, 3)
    with pytest.raises(ValueError, match="s_copies"):
        S.multi_split_quadratic_form(1)
    with pytest.raises(ValueError, match="n"):
        S.null_neuron_hessian(-1)
    with pytest.raises(ValueError, match="n"):
        S.null_function_identities(0)
