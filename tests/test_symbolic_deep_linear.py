"""Sympy derivations of the law-of-parsimony notebook (theory.symbolic.deep_linear)."""

import numpy as np
import pytest
import sympy as sp

from theory import compression as cn
from theory import deep_linear as dl
from theory.symbolic import deep_linear as sd
from theory.symbolic.common import lambdify_numpy


def all_zero(M):
    return all(sp.simplify(e) == 0 for e in M)


def test_layer_gradients_match_autodiff_of_the_loss():
    assert all(all_zero(M) for M in sd.gradient_discrepancy(3, 2))
    assert all(all_zero(M) for M in sd.gradient_discrepancy(2, 2))


def test_symbolic_gradients_match_numeric_gradients():
    Ws, Phi = sd.chain(3, 2)
    G = sd.layer_gradients(Ws, Phi)
    symbols = [s for W in Ws for s in W] + list(Phi)
    f = lambdify_numpy(symbols, sp.Matrix.vstack(*G))
    rng = np.random.default_rng(5)
    vals = rng.standard_normal(len(symbols))
    W = vals[:12].reshape(3, 2, 2)
    P = vals[12:].reshape(2, 2)
    np.testing.assert_allclose(f(*vals), np.vstack(dl.layer_gradients(W, P)), atol=1e-12)


def test_balancedness_expansion_is_exact_and_first_order_cancels():
    eta, first, second, remainder = sd.balancedness_expansion(2)
    assert all_zero(remainder)
    assert not all_zero(second)            # the eta^2 term is genuinely there
    assert all(all_zero(M) for M in sd.balancedness_first_order(3, 2))


def test_first_gd_step_stays_in_span_u_v():
    M, P_perp = sd.first_step_off_span(3)
    assert all_zero(P_perp * M) and all_zero(M * P_perp)
    assert not all_zero(M)


@pytest.mark.parametrize("L", [2, 3, 4, None])
def test_complement_ode_closed_form(L):
    residual, initial = sd.complement_ode_residual(L)
    assert residual == 0 and initial == 0


def test_complement_closed_form_matches_numeric():
    rho, t, eps, L = sd.complement_flow(3)
    f = sp.lambdify((eps, t), rho)
    assert f(0.3, 2.0) == pytest.approx(float(cn.complement_scalar_flow(0.3, 2.0, 3)), rel=1e-14)


@pytest.mark.parametrize("L", [2, 3, 4])
def test_complement_local_error_is_second_order(L):
    diff, expected = sd.complement_local_error(L)
    assert sp.simplify(diff - expected) == 0


def test_end_to_end_law_and_logistic_solution():
    assert sd.end_to_end_law() == 0 and sd.end_to_end_law(3) == 0
    assert sd.logistic_residual() == (0, 0)


@pytest.mark.parametrize("L", [3, 4, None])
def test_plateau_leading_term(L):
    value, expected = sd.plateau_leading_term(L)
    assert sp.simplify(value - expected) == 0


def test_plateau_integral_closed_form_for_L4_matches_quadrature():
    from scipy.integrate import quad
    integral, (p, phi, eps) = sd.plateau_time(4)
    closed = integral.doit()
    vals = {p: 1.0, phi: 2.0, eps: 0.3}
    got = complex(closed.subs(vals).evalf()).real
    ref, _ = quad(lambda q: 1 / (4 * q**1.5 * (2.0 - q)), 0.3**4, 1.0)
    assert got == pytest.approx(ref, rel=1e-10)


def test_bad_input():
    with pytest.raises(ValueError, match="depth"):
        sd.chain(0, 2)
    with pytest.raises(ValueError, match="n"):
        sd.balancedness_expansion(0)
    with pytest.raises(ValueError, match="depth"):
        sd.complement_flow(1)
    with pytest.raises(ValueError, match="depth"):
        sd.plateau_leading_term(2)
    with pytest.raises(ValueError, match="depth"):
        sd.plateau_time(1)
