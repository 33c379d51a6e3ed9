"""theory.symbolic.check: derive a gradient flow, check GD order, conserved quantities and
closed forms against cases with known answers and against wrong candidates."""

import numpy as np
import pytest
import sympy as sp

from theory.claims import Ledger
from theory.symbolic import frobenius_sq, matrix_symbols
from theory.symbolic.check import (ClosedFormReport, ConservationReport, OrderReport,
                                   check_closed_form, check_conserved, check_gd_order,
                                   derive_flow, gradient_descent, integrate_flow,
                                   symbolic_residual)

W1, W2 = sp.symbols("w_1 w_2", real=True)
PHI = sp.Symbol("varphi", positive=True)
T_SYM = sp.Symbol("t", nonnegative=True)
W0 = sp.Symbol("w_0", positive=True)


@pytest.fixture(scope="module")
def scalar_flow():
    """Two-layer scalar linear model 1/2 (w2 w1 - phi)^2, phi = 1."""
    return derive_flow((W2 * W1 - PHI) ** 2 / 2, [W1, W2], {PHI: 1.0})


def logistic(rate=2):
    return PHI / (1 + (PHI / W0**2 - 1) * sp.exp(-rate * PHI * T_SYM))


# -- derive_flow ------------------------------------------------------------------------------
def test_flow_is_minus_the_gradient_and_matches_finite_differences(scalar_flow):
    assert sp.expand(scalar_flow.rhs[0] + W2 * (W1 * W2 - PHI)) == 0
    assert sp.expand(scalar_flow.rhs[1] + W1 * (W1 * W2 - PHI)) == 0
    y = np.array([0.3, -0.7])
    eps = 1e-6
    fd = np.array([(scalar_flow.loss_value(y + eps * e) - scalar_flow.loss_value(y - eps * e))
                   / (2 * eps) for e in np.eye(2)])
    np.testing.assert_allclose(scalar_flow.rate(y), -fd, atol=1e-8)
    assert r"\dot{w_{1}}" in scalar_flow.latex()


def test_matrix_symbol_loss_gives_the_deep_linear_gradient():
    A, B = sp.MatrixSymbol("A", 2, 2), sp.MatrixSymbol("B", 2, 2)
    target = sp.Matrix([[1, 2], [0, 1]])
    E = B * A - target
    flow = derive_flow(sp.trace(E.T * E) / 2, [A, B])
    assert flow.dimension == 8
    rng = np.random.default_rng(0)
    y = rng.standard_normal(8)
    a, b = flow.unpack(y)
    err = b @ a - np.array([[1, 2], [0, 1]], dtype=float)
    expected = -np.concatenate([(b.T @ err).ravel(), (err @ a.T).ravel()])
    np.testing.assert_allclose(flow.rate(y), expected, atol=1e-12)
    # a list of arrays is accepted as a state and flattened row-major
    np.testing.assert_allclose(flow.as_state("y", [a, b]), y)


def test_gradient_descent_is_explicit_euler(scalar_flow):
    y0 = np.array([0.2, 0.5])
    traj = gradient_descent(scalar_flow, y0, 0.1, 2)
    step1 = y0 + 0.1 * scalar_flow.rate(y0)
    np.testing.assert_allclose(traj[1], step1)
    np.testing.assert_allclose(traj[2], step1 + 0.1 * scalar_flow.rate(step1))


def test_integrated_flow_matches_the_logistic_closed_form(scalar_flow):
    sol = integrate_flow(scalar_flow, [0.1, 0.1], 4.0).sol
    u = sp.lambdify(T_SYM, logistic().subs({PHI: 1, W0: 0.1}))
    for tt in (0.5, 2.0, 4.0):
        w = sol(tt)
        assert abs(w[0] * w[1] - u(tt)) < 1e-8


# -- GD order -----------------------------------------------------------------------------------
def test_gd_order_is_one_on_a_smooth_example(scalar_flow):
    report = check_gd_order(scalar_flow, [0.3, -0.2], 2.0, 0.02)
    assert isinstance(report, OrderReport)
    assert 0.9 <= report.order <= 1.1
    assert report.holds and "confirmed" in report.verdict
    assert np.all(np.abs(report.ratios - 2) < 0.1)


def test_gd_order_rejects_a_wrong_expected_order(scalar_flow):
    report = check_gd_order(scalar_flow, [0.3, -0.2], 2.0, 0.02, expected=2.0)
    assert not report.holds and "REJECTED" in report.verdict


def test_gd_order_on_matrix_flow():
    Ws = [matrix_symbols(f"w{l}", 2, 2) for l in (1, 2)]
    flow = derive_flow(frobenius_sq(Ws[1] * Ws[0] - sp.eye(2)) / 2, Ws)
    y0 = 0.5 * np.random.default_rng(2).standard_normal(8)
    assert 0.9 <= check_gd_order(flow, y0, 1.0, 0.01).order <= 1.1


# -- conserved quantities -----------------------------------------------------------------------
def test_balancedness_is_conserved_scalar(scalar_flow):
    report = check_conserved(scalar_flow, W1**2 - W2**2, [0.1, 0.4], 2.0, 0.02)
    assert isinstance(report, ConservationReport)
    assert report.holds and report.verdict == "conserved" and report.rate == 0
    assert report.flow_drift < 1e-8
    assert 0.85 <= report.gd_order <= 1.15


def test_wrong_sign_balancedness_is_rejected_with_its_rate(scalar_flow):
    report = check_conserved(scalar_flow, W1**2 + W2**2, [0.1, 0.4], 2.0, 0.02)
    assert not report.holds and report.consistent and report.verdict == "NOT conserved"
    # d/dt (w1^2 + w2^2) = -4 w1 w2 (w1 w2 - phi): the failing term
    assert sp.expand(report.rate + 4 * W1 * W2 * (W1 * W2 - PHI)) == 0
    assert "w_1" in report.failing_term()
    assert report.flow_drift > 0.1 and abs(report.gd_order) < 0.2


def test_matrix_balancedness_of_a_deep_linear_network():
    Ws = [matrix_symbols(f"w{l}", 2, 2) for l in (1, 2, 3)]
    flow = derive_flow(frobenius_sq(Ws[2] * Ws[1] * Ws[0] - sp.diag(1, 2)) / 2, Ws)
    y0 = 0.5 * np.random.default_rng(1).standard_normal(12)
    for l in (0, 1):
        good = check_conserved(flow, Ws[l + 1].T * Ws[l + 1] - Ws[l] * Ws[l].T, y0, 1.0, 0.01)
        assert good.holds, good.summary()
    bad = check_conserved(flow, Ws[1].T * Ws[1] + Ws[0] * Ws[0].T, y0, 1.0, 0.01)
    assert not bad.holds and bad.failing and bad.failing[0][0] == (0, 0)


def test_relu_neuron_balance_is_conserved_and_tanh_is_not():
    W = matrix_symbols("w", 2, 2)
    a = sp.Matrix(sp.symbols("a_1 a_2", real=True))
    X = [(1, sp.Rational(1, 4)), (sp.Rational(1, 2), 1), (sp.Rational(1, 4), sp.Rational(1, 2))]
    y = [1, sp.Rational(1, 2), sp.Rational(3, 4)]

    def loss(act):
        return sum((sum(a[k] * act(W[k, 0] * x0 + W[k, 1] * x1) for k in range(2)) - yi) ** 2
                   for (x0, x1), yi in zip(X, y)) / 6

    Q = sp.Matrix([a[k] ** 2 - W[k, 0] ** 2 - W[k, 1] ** 2 for k in range(2)])
    y0 = np.random.default_rng(3).standard_normal(6)
    y0[2:] = np.abs(y0[2:])                           # every unit active at the start
    relu = check_conserved(derive_flow(loss(lambda z: sp.Max(z, 0)), [a, W]), Q, y0, 1.0, 0.01)
    assert relu.holds, relu.summary()
    tanh = check_conserved(derive_flow(loss(sp.tanh), [a, W]), Q, y0, 1.0, 0.01)
    assert not tanh.holds and tanh.consistent


# -- closed forms -------------------------------------------------------------------------------
def test_logistic_closed_form_is_accepted(scalar_flow):
    u = logistic()
    report = check_closed_form(scalar_flow, {W1: sp.sqrt(u), W2: sp.sqrt(u)}, T_SYM,
                               {W0: (0.05, 0.5)}, np.random.default_rng(0), T=4.0)
    assert isinstance(report, ClosedFormReport)
    assert report.holds and report.max_error < 1e-8 and len(report.starts) == 5


def test_closed_form_off_by_a_factor_is_rejected(scalar_flow):
    u = logistic(rate=1)
    report = check_closed_form(scalar_flow, {W1: sp.sqrt(u), W2: sp.sqrt(u)}, T_SYM,
                               {W0: (0.05, 0.5)}, np.random.default_rng(0), T=4.0)
    assert not report.holds and report.consistent
    assert len(report.failing) == 2 and report.max_error > 1e-2
    assert "does NOT solve" in report.summary()


def test_matrix_closed_form_of_a_linear_flow():
    """L = 1/2 ||W - I||^2 has W(t) = I + (W0 - I) e^{-t}; e^{-2t} is wrong."""
    W = matrix_symbols("w", 2, 2)
    P = matrix_symbols("p", 2, 2)
    flow = derive_flow(frobenius_sq(W - sp.eye(2)) / 2, [W])
    ranges = {s: (-1.0, 1.0) for s in P}
    good = sp.eye(2) + (P - sp.eye(2)) * sp.exp(-T_SYM)
    bad = sp.eye(2) + (P - sp.eye(2)) * sp.exp(-2 * T_SYM)
    rng = np.random.default_rng(4)
    assert check_closed_form(flow, [(W, good)], T_SYM, ranges, rng, T=2.0).holds
    assert not check_closed_form(flow, [(W, bad)], T_SYM, ranges, rng, T=2.0).holds


def test_symbolic_residual_keeps_what_fails():
    x = sp.Symbol("x", real=True)
    assert symbolic_residual(sp.sin(x) ** 2 + sp.cos(x) ** 2 - 1) == 0
    assert symbolic_residual(sp.Max(x, 0) - x * sp.Heaviside(x)) == 0
    assert symbolic_residual((x + 1) ** 2 - x**2 - 1) == 2 * x


# -- ledger ------------------------------------------------------------------------------------
def test_record_writes_an_evidence_claim(scalar_flow):
    ledger = Ledger("test", seed=0)
    good = check_conserved(scalar_flow, W1**2 - W2**2, [0.1, 0.4], 1.0, 0.02)
    bad = check_conserved(scalar_flow, W1**2 + W2**2, [0.1, 0.4], 1.0, 0.02)
    assert good.record(ledger, "A", "[ours] conserved", alternative="x", source="derived here")
    assert bad.record(ledger, "B", "[ours] rejected", alternative="x", source="derived here",
                      expect=False)
    assert not bad.record(ledger, "C", "[ours] wrongly claimed", alternative="x",
                          source="derived here")
    assert [c.kind for c in ledger.claims] == ["evidence"] * 3
    assert [c.passed for c in ledger.claims] == [True, True, False]


# -- bad input ---------------------------------------------------------------------------------
def test_bad_loss_and_params():
    M = matrix_symbols("m", 2, 2)
    with pytest.raises(ValueError, match="loss"):
        derive_flow(M * M, [M])                       # a matrix, not a scalar
    with pytest.raises(TypeError, match="loss"):
        derive_flow("w_1**2", [W1])
    with pytest.raises(TypeError, match=r"params\[0\]"):
        derive_flow(W1**2, [W1 + 1])                  # not a symbol
    with pytest.raises(TypeError, match="params"):
        derive_flow(W1**2, W1)                        # not a list
    with pytest.raises(ValueError, match="params"):
        derive_flow(W1**2, [])
    with pytest.raises(ValueError, match="loss"):
        derive_flow((W1 - PHI) ** 2, [W1])            # phi has no value
    with pytest.raises(ValueError, match="constants"):
        derive_flow((W1 - PHI) ** 2, [W1], {PHI: float("nan")})


def test_bad_candidates_and_starts(scalar_flow):
    z = sp.Symbol("z", real=True)
    with pytest.raises(ValueError, match="candidate"):
        check_conserved(scalar_flow, W1**2 - z**2, [0.1, 0.2], 1.0, 0.1)
    with pytest.raises(ValueError, match="y0"):
        check_conserved(scalar_flow, W1**2 - W2**2, [0.1, np.nan], 1.0, 0.1)
    with pytest.raises(ValueError, match="y0"):
        check_gd_order(scalar_flow, [0.1, np.inf], 1.0, 0.1)
    with pytest.raises(ValueError, match="y0"):
        integrate_flow(scalar_flow, [0.1, 0.2, 0.3], 1.0)
    with pytest.raises(ValueError, match="T"):
        check_gd_order(scalar_flow, [0.1, 0.2], 1.05, 0.1)   # not a whole number of steps
    with pytest.raises(TypeError, match="flow"):
        check_gd_order("flow", [0.1, 0.2], 1.0, 0.1)
    u = logistic()
    with pytest.raises(ValueError, match="solution"):
        check_closed_form(scalar_flow, {W1: sp.sqrt(u) + z, W2: sp.sqrt(u)}, T_SYM,
                          {W0: (0.1, 0.5)}, np.random.default_rng(0), T=1.0)
    with pytest.raises(ValueError, match="solution"):
        check_closed_form(scalar_flow, {W1: sp.sqrt(u)}, T_SYM, {W0: (0.1, 0.5)},
                          np.random.default_rng(0), T=1.0)
    with pytest.raises(ValueError, match="ranges"):
        check_closed_form(scalar_flow, {W1: sp.sqrt(u), W2: sp.sqrt(u)}, T_SYM,
                          {W0: (0.5, 0.1)}, np.random.default_rng(0), T=1.0)
    with pytest.raises(ValueError, match="rng"):
        check_closed_form(scalar_flow, {W1: sp.sqrt(u), W2: sp.sqrt(u)}, T_SYM,
                          {W0: (0.1, 0.5)}, 0, T=1.0)


def test_integrate_flow_stops_at_its_evaluation_budget(scalar_flow):
    with pytest.raises(RuntimeError, match="max_evaluations"):
        integrate_flow(scalar_flow, [0.1, 0.1], 4.0, max_evaluations=10)
    with pytest.raises(ValueError, match="max_evaluations"):
        integrate_flow(scalar_flow, [0.1, 0.1], 4.0, max_evaluations=0)


def test_a_quantity_gd_conserves_exactly_is_accepted():
    """L = (x + y - 1)^2 / 2: x - y is conserved by the flow and by every GD step."""
    x, y = sp.symbols("x y", real=True)
    flow = derive_flow((x + y - 1) ** 2 / 2, [x, y])
    report = check_conserved(flow, x - y, [0.3, -0.4], 1.0, 0.1)
    assert report.holds and np.all(report.gd_drifts < 1e-12)
