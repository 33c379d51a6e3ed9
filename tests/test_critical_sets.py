"""Tests of theory.critical_sets: derivatives against finite differences, the embedding and
reduction operators, the Hessian criterion, null neurons, gradient flow and bad input."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import assert_gradient_matches
from theory import critical_sets as cs
from theory.activations import ACTIVATIONS
from theory.fitting import central_difference

X1 = np.array([0.1, 0.5, 1.5, 4.0, 10.0])[:, None]
Y1 = np.array([0.3, 0.2, 0.9, 0.4, 1.0])


def _random_problem(rng, n=7, d=2, m=3):
    X = rng.standard_normal((n, d))
    y = rng.standard_normal(n)
    theta = rng.standard_normal(m * (d + 1))
    return theta, X, y


@pytest.fixture(scope="module")
def narrow_critical():
    pts = cs.find_critical_points(X1, Y1, 1, np.random.default_rng(3), n_starts=6)
    assert pts, "no critical point found"
    return pts[0]


# ---------------------------------------------------------------- derivatives -------------

@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "swish"])
@pytest.mark.parametrize("bias", [False, True])
def test_gradient_matches_central_differences(activation, bias):
    rng = np.random.default_rng(0)
    theta, X, y = _random_problem(rng, d=2 if not bias else 1, m=3)
    if bias:
        X = cs.with_bias(X)
        theta = rng.standard_normal(3 * 3)
    g = cs.gradient(theta, X, y, activation)
    assert_gradient_matches(lambda th: cs.loss(th, X, y, activation), g, theta,
                            rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "swish"])
def test_hessian_matches_differences_of_the_gradient(activation):
    rng = np.random.default_rng(1)
    theta, X, y = _random_problem(rng)
    H = cs.hessian(theta, X, y, activation)
    np.testing.assert_allclose(H, H.T, atol=1e-14)
    for i in range(theta.size):             # row i: the gradient of dR/dtheta_i
        assert_gradient_matches(lambda th, i=i: cs.gradient(th, X, y, activation)[i], H[i],
                                theta, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "swish"])
def test_activations_are_the_shared_ones(name):
    """The network evaluates theory.activations' sigma exactly; an analytic Activation object
    is accepted as well as its name, and a non-analytic one (ReLU) is refused."""
    rng = np.random.default_rng(8)
    theta, X, _ = _random_problem(rng)
    a, W = cs.unpack(theta, 2)
    act = ACTIVATIONS[name]
    np.testing.assert_array_equal(cs.forward(theta, X, name), act.fn(X @ W.T) @ a)
    np.testing.assert_array_equal(cs.forward(theta, X, act), cs.forward(theta, X, name))
    np.testing.assert_allclose(cs.forward(theta, X, ACTIVATIONS["erf"]),
                               ACTIVATIONS["erf"].fn(X @ W.T) @ a, rtol=1e-14)
    for relu in ("relu", ACTIVATIONS["relu"]):
        with pytest.raises(ValueError, match="activation"):
            cs.hessian(theta, X, np.zeros(len(X)), relu)


def test_forward_is_the_sum_of_neurons_and_loss_is_half_squared_error():
    rng = np.random.default_rng(2)
    theta, X, y = _random_problem(rng)
    a, W = cs.unpack(theta, 2)
    expected = sum(a[k] * np.tanh(X @ W[k]) for k in range(3))
    np.testing.assert_allclose(cs.forward(theta, X), expected, rtol=1e-14)
    assert cs.loss(theta, X, y) == pytest.approx(0.5 * np.sum((expected - y) ** 2), rel=1e-14)
    np.testing.assert_allclose(cs.pack(a, W), theta)


def test_with_bias_folds_a_bias_into_the_last_weight():
    theta = np.array([2.0, 0.5, -0.3])            # a = 2, w = 0.5, b = -0.3
    x = np.linspace(-1, 1, 5)
    np.testing.assert_allclose(cs.forward(theta, cs.with_bias(x)), 2 * np.tanh(0.5 * x - 0.3))


# ---------------------------------------------------------------- critical points ---------

def test_critical_point_finder_returns_polished_critical_points(narrow_critical):
    p = narrow_critical
    assert p.grad_norm < 1e-10
    assert np.linalg.norm(cs.gradient(p.theta, X1, Y1)) < 1e-10
    assert p.loss == pytest.approx(cs.loss(p.theta, X1, Y1))
    np.testing.assert_allclose(p.eigenvalues, np.linalg.eigvalsh(cs.hessian(p.theta, X1, Y1)))


def test_critical_point_finder_is_deterministic():
    a = cs.find_critical_points(X1, Y1, 1, np.random.default_rng(4), n_starts=3)
    b = cs.find_critical_points(X1, Y1, 1, np.random.default_rng(4), n_starts=3)
    assert len(a) == len(b)
    for p, q in zip(a, b):
        np.testing.assert_array_equal(p.theta, q.theta)


def test_newton_polish_converges_quadratically_from_nearby(narrow_critical):
    start = narrow_critical.theta + 1e-3
    polished = cs.newton_polish(start, X1, Y1, steps=8)
    np.testing.assert_allclose(polished, narrow_critical.theta, atol=1e-10)


# ---------------------------------------------------------------- operators ---------------

@given(lam=st.floats(-5, 5), seed=st.integers(0, 2**16), k=st.integers(0, 2))
@settings(max_examples=40, deadline=None)
def test_split_preserves_the_output_and_reduction_inverts_it(lam, seed, k):
    rng = np.random.default_rng(seed)
    theta, X, _ = _random_problem(rng)
    wide = cs.split_neuron(theta, 2, k, lam)
    assert cs.width_of(wide, 2) == 4
    np.testing.assert_allclose(cs.forward(wide, X), cs.forward(theta, X), atol=1e-12)
    reduced = cs.reduce_network(wide, 2)
    if abs(lam) > 1e-8 and abs(1 - lam) > 1e-8:
        np.testing.assert_allclose(reduced, theta, atol=1e-12)
    np.testing.assert_allclose(cs.forward(reduced, X), cs.forward(theta, X), atol=1e-12)


@given(lam=st.floats(-5, 5), seed=st.integers(0, 2**16))
@settings(max_examples=30, deadline=None)
def test_flip_split_and_null_embedding_preserve_the_output(lam, seed):
    rng = np.random.default_rng(seed)
    theta, X, _ = _random_problem(rng)
    flipped = cs.flip_split_neuron(theta, 2, 1, lam)
    np.testing.assert_allclose(cs.forward(flipped, X), cs.forward(theta, X), atol=1e-12)
    null = cs.null_embed(theta, 2, rng.standard_normal(2))
    np.testing.assert_allclose(cs.forward(null, X), cs.forward(theta, X), atol=1e-15)
    for wide in (flipped, null):
        np.testing.assert_allclose(cs.forward(cs.reduce_network(wide, 2), X),
                                   cs.forward(theta, X), atol=1e-12)


def test_reduction_merges_flips_drops_zero_neurons_and_keeps_order():
    theta = cs.pack([1.0, 2.0, -0.5, 0.0, 3.0, 4.0], [[1.0], [2.0], [-1.0], [5.0], [0.0], [1.0]])
    reduced = cs.reduce_network(theta, 1)
    # neurons at w = 1: 1 + 0.5 (flip of w = -1 with a = -0.5) + 4 = 5.5; w = 2 kept;
    # a = 0 dropped; w = 0 dropped since tanh(0) = 0
    np.testing.assert_allclose(reduced, cs.pack([5.5, 2.0], [[1.0], [2.0]]))
    # sigmoid is not odd and sigmoid(0) != 0: no flip merge, w = 0 kept
    reduced_sig = cs.reduce_network(theta, 1, "sigmoid")
    assert cs.width_of(reduced_sig, 1) == 4


def test_reduction_of_a_cancelling_pair_keeps_a_valid_network():
    theta = cs.pack([1.0, -1.0], [[0.7], [0.7]])
    np.testing.assert_array_equal(cs.reduce_network(theta, 1), np.zeros(2))


def test_embedding_then_reduction_returns_the_critical_point(narrow_critical):
    theta = narrow_critical.theta
    for lam in (-1.0, 0.3, 2.0):
        np.testing.assert_allclose(cs.reduce_network(cs.split_neuron(theta, 1, 0, lam), 1),
                                   theta, atol=1e-14)
        np.testing.assert_allclose(
            cs.reduce_network(cs.flip_split_neuron(theta, 1, 0, lam), 1), theta, atol=1e-14)
    np.testing.assert_allclose(cs.reduce_network(cs.null_embed(theta, 1, [0.4]), 1), theta)


def test_split_line_is_critical_with_constant_loss(narrow_critical):
    theta = narrow_critical.theta
    scan = cs.branch_scan(theta, X1, Y1, 0, np.linspace(-2, 3, 11))
    assert np.max(scan.grad_norms) < 1e-10
    np.testing.assert_allclose(scan.losses, narrow_critical.loss, atol=1e-13)
    assert scan.eigenvalues.shape == (11, 4)
    flip = cs.branch_scan(theta, X1, Y1, 0, np.linspace(-2, 3, 5), kind="flip")
    assert np.max(flip.grad_norms) < 1e-10
    for th in scan.thetas:
        assert cs.split_line_residual(th, theta, 1, 0) < 1e-14


# ---------------------------------------------------------------- Hessian criterion -------

@pytest.mark.parametrize("lam", [-1.3, 0.25, 0.5, 2.0])
def test_quadratic_form_along_the_split_direction_holds_at_any_point(lam):
    # v^T H v = lam (1 - lam) delta^T B delta for every theta (not only critical ones)
    rng = np.random.default_rng(5)
    theta, X, y = _random_problem(rng)
    delta = rng.standard_normal(2)
    wide = cs.split_neuron(theta, 2, 1, lam)
    v = cs.split_direction(theta, 2, 1, lam, delta)
    lhs = v @ cs.hessian(wide, X, y) @ v
    rhs = lam * (1 - lam) * delta @ cs.fa_matrix(theta, X, y, 1) @ delta
    assert lhs == pytest.approx(rhs, rel=1e-10, abs=1e-12)
    # and v does not change the output to first order: d/ds f(wide + s v, x_i) = 0 at s = 0
    df = [central_difference(lambda s, i=i: cs.forward(wide + s[0] * v, X)[i], np.zeros(1))[0]
          for i in range(len(X))]
    np.testing.assert_allclose(df, 0, atol=1e-8)


def test_fa_matrix_is_symmetric_and_matches_its_definition():
    rng = np.random.default_rng(6)
    theta, X, y = _random_problem(rng)
    B = cs.fa_matrix(theta, X, y, 2)
    a, W = cs.unpack(theta, 2)
    e = cs.residuals(theta, X, y)
    z = X @ W[2]
    expected = sum(a[2] * e[i] * (-2 * np.tanh(z[i]) / np.cosh(z[i]) ** 2)
                   * np.outer(X[i], X[i]) for i in range(len(y)))
    np.testing.assert_allclose(B, expected, rtol=1e-12)
    np.testing.assert_allclose(B, B.T)


def test_inertia_counts_and_predicted_inertia_matches_the_split_hessian(narrow_critical):
    assert cs.inertia([-2.0, -1e-12, 0.0, 3.0], 1e-9) == (1, 2, 1)
    theta = narrow_critical.theta
    B = cs.fa_matrix(theta, X1, Y1, 0)
    for lam in (-1.0, 0.0, 0.5, 1.0, 1.5):
        eig = np.linalg.eigvalsh(cs.hessian(cs.split_neuron(theta, 1, 0, lam), X1, Y1))
        tol = 1e-8 * np.max(np.abs(eig))
        assert cs.inertia(eig, tol) == cs.predicted_split_inertia(
            narrow_critical.eigenvalues, B, lam, tol)


# ---------------------------------------------------------------- null neurons ------------

def test_null_neuron_at_zero_has_the_block_hessian(narrow_critical):
    theta = narrow_critical.theta
    wide = cs.null_embed(theta, 1)
    assert np.linalg.norm(cs.gradient(wide, X1, Y1)) < 1e-10
    H = cs.hessian(wide, X1, Y1)
    perm = np.concatenate([cs.neuron_indices(2, 1, 0), cs.neuron_indices(2, 1, 1)])
    c = cs.residuals(theta, X1, Y1) @ X1[:, 0]
    expected = np.zeros((4, 4))
    expected[:2, :2] = cs.hessian(theta, X1, Y1)
    expected[2, 3] = expected[3, 2] = c
    np.testing.assert_allclose(H[np.ix_(perm, perm)], expected, atol=1e-12)


def test_null_function_roots_are_critical_null_positions(narrow_critical):
    theta = narrow_critical.theta
    w_bar = theta[1]
    roots = cs.null_function_roots(theta, X1, Y1, w_max=6, extra=(0.0, w_bar, -w_bar))
    assert np.any(np.abs(roots) < 1e-12) and np.any(np.abs(roots - w_bar) < 1e-9)
    np.testing.assert_allclose(roots, -roots[::-1], atol=1e-9)     # phi is odd for tanh
    for r in roots:
        wide = cs.null_embed(theta, 1, [r])
        assert np.linalg.norm(cs.gradient(wide, X1, Y1)) < 1e-10
        assert cs.null_function(np.array([r]), theta, X1, Y1) == pytest.approx(0, abs=1e-12)
    # away from a root the gradient of the null neuron's output weight is phi(w') != 0
    wide = cs.null_embed(theta, 1, [2.0])
    g = cs.gradient(wide, X1, Y1)
    assert g[1] == pytest.approx(cs.null_function(np.array([2.0]), theta, X1, Y1))
    assert abs(g[1]) > 1e-6


# ---------------------------------------------------------------- gradient flow -----------

def test_gradient_flow_decreases_the_loss_and_stays_at_a_critical_point(narrow_critical):
    rng = np.random.default_rng(7)
    theta0 = narrow_critical.theta + 0.05 * rng.standard_normal(2)
    flow = cs.gradient_flow(theta0, X1, Y1, 50.0, n_eval=30)
    assert np.all(np.diff(flow.losses) <= 1e-12)
    assert flow.losses[-1] == pytest.approx(narrow_critical.loss, abs=1e-8)
    still = cs.gradient_flow(narrow_critical.theta, X1, Y1, 10.0, n_eval=5)
    np.testing.assert_allclose(still.thetas[-1], narrow_critical.theta, atol=1e-10)


# ---------------------------------------------------------------- bad input ---------------

def test_bad_inputs_raise_value_errors_naming_the_argument():
    theta = np.array([1.0, 0.5])
    with pytest.raises(ValueError, match="theta"):
        cs.loss(np.ones(3), X1, Y1)                      # length not a multiple of d + 1
    with pytest.raises(ValueError, match="y"):
        cs.loss(theta, X1, Y1[:3])                       # mismatched shapes
    with pytest.raises(ValueError, match="X"):
        cs.forward(theta, np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="theta"):
        cs.gradient(np.array([np.nan, 1.0]), X1, Y1)
    with pytest.raises(ValueError, match="y"):
        cs.hessian(theta, X1, np.full(5, np.inf))
    with pytest.raises(ValueError, match="lam"):
        cs.split_neuron(theta, 1, 0, np.nan)
    with pytest.raises(ValueError, match="lam"):
        cs.split_neuron(theta, 1, 0, np.inf)
    with pytest.raises(ValueError, match="lam"):
        cs.flip_split_neuron(theta, 1, 0, np.inf)
    with pytest.raises(ValueError, match="k"):
        cs.split_neuron(theta, 1, 1, 0.5)
    with pytest.raises(ValueError, match="width"):
        cs.find_critical_points(X1, Y1, 0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="m"):
        cs.neuron_indices(0, 1, 0)
    with pytest.raises(ValueError, match="d"):
        cs.unpack(theta, 0)
    with pytest.raises(ValueError, match="theta"):
        cs.unpack(np.zeros(0), 1)                        # width 0
    with pytest.raises(ValueError, match="rng"):
        cs.find_critical_points(X1, Y1, 1, 3)
    with pytest.raises(ValueError, match="w_new"):
        cs.null_embed(theta, 1, [1.0, 2.0])
    with pytest.raises(ValueError, match="delta"):
        cs.split_direction(theta, 1, 0, 0.5, [1.0, 2.0])
    with pytest.raises(ValueError, match="B"):
        cs.predicted_split_inertia([1.0], np.ones((2, 3)), 0.5, 1e-8)
    with pytest.raises(ValueError, match="zero_tol"):
        cs.inertia([1.0], -1.0)
    with pytest.raises(ValueError, match="activation"):
        cs.forward(theta, X1, "relu")
    with pytest.raises(ValueError, match="activation"):
        cs.flip_split_neuron(theta, 1, 0, 0.5, "sigmoid")
    with pytest.raises(ValueError, match="kind"):
        cs.branch_scan(theta, X1, Y1, 0, [0.5], kind="bogus")
    with pytest.raises(ValueError, match="t_max"):
        cs.gradient_flow(theta, X1, Y1, -1.0)
    with pytest.raises(ValueError, match="d = 1"):
        cs.null_function_roots(np.ones(3), np.ones((4, 2)), np.ones(4))
    with pytest.raises(ValueError, match="w"):
        cs.null_function(np.ones(2), theta, X1, Y1)
    with pytest.raises(ValueError, match="theta_wide"):
        cs.split_line_residual(theta, theta, 1, 0)
    with pytest.raises(ValueError, match="a"):
        cs.pack([1.0, 2.0], [[1.0]])
    with pytest.raises(ValueError, match="tol"):
        cs.reduce_network(theta, 1, tol=-1.0)
    with pytest.raises(ValueError, match="y"):
        cs.residuals(theta, X1, np.ones((5, 1)))
    with pytest.raises(ValueError, match="theta"):
        cs.loss_and_gradient(np.ones(5), X1, Y1)
    with pytest.raises(ValueError, match="theta"):
        cs.width_of(np.ones(5), 1)
    with pytest.raises(ValueError, match="X"):
        cs.with_bias(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="steps"):
        cs.newton_polish(theta, X1, Y1, steps=-1)
    with pytest.raises(ValueError, match="k"):
        cs.fa_matrix(theta, X1, Y1, 2)
    with pytest.raises(ValueError, match="w_max"):
        cs.null_function_roots(theta, X1, Y1, w_max=0.0)
    with pytest.raises(ValueError, match="lambdas"):
        cs.branch_scan(theta, X1, Y1, 0, [0.5, np.nan])
    with pytest.raises(ValueError, match="method"):
        cs.gradient_flow(theta, X1, Y1, 1.0, method="Euler")
    with pytest.raises(ValueError, match="n_starts"):
        cs.find_critical_points(X1, Y1, 1, np.random.default_rng(0), n_starts=0)
    with pytest.raises(ValueError, match="eigenvalues"):
        cs.inertia([np.inf], 1e-8)
    with pytest.raises(ValueError, match="lam"):
        cs.predicted_split_inertia([1.0], np.eye(1), np.nan, 1e-8)


def test_divergence_error_is_a_value_error():
    assert issubclass(cs.DivergenceError, ValueError)
    with pytest.raises(cs.DivergenceError):
        cs.newton_polish(np.array([1e308, 1.0]), X1, Y1, steps=2)


# ------------------------------------------------- blind search and the predicted set -------

def _images(theta):
    """The 8 images of a width-2, d = 1 point under neuron permutation and per-neuron flips,
    each with a flag: exactly one neuron flipped (which maps L1 to L2 and back)."""
    # written independently of the library's own enumeration, which the distance function uses
    a, w = np.asarray(theta[:2], dtype=float), np.asarray(theta[2:], dtype=float)
    out = []
    for order in ([0, 1], [1, 0]):
        for signs in itertools.product((1.0, -1.0), repeat=2):
            s = np.array(signs)
            out.append((np.concatenate([s * a[order], s * w[order]]), s[0] * s[1] < 0))
    return out


def test_search_returns_only_critical_points_and_accounts_for_every_start():
    search = cs.search_critical_points(X1, Y1, 2, np.random.default_rng(1), n_starts=12)
    assert len(search.thetas) + search.n_unconverged + search.n_saturated == 12
    assert search.thetas.shape == (len(search.grad_norms), 4)
    for theta in search.thetas:
        assert np.linalg.norm(cs.gradient(theta, X1, Y1)) < 1e-10
    again = cs.search_critical_points(X1, Y1, 2, np.random.default_rng(1), n_starts=12)
    np.testing.assert_array_equal(search.thetas, again.thetas)       # seeded


def test_search_finds_saddles_not_only_minima(narrow_critical):
    """Width 1 on X1: the zero network (a saddle: eigenvalues +-|sum_i e_i x_i|) and the
    minimum found by BFGS are both zeros of the gradient."""
    search = cs.search_critical_points(X1, Y1, 1, np.random.default_rng(0), n_starts=20)
    found = [cs.reduce_network(th, 1) for th in search.thetas]
    star = narrow_critical.theta
    assert any(np.allclose(np.abs(q), np.abs(star), atol=1e-8) for q in found)
    assert any(np.allclose(q, 0.0) for q in found)
    eig = np.linalg.eigvalsh(cs.hessian(np.zeros(2), X1, Y1))
    assert eig[0] < 0 < eig[1]


def test_predicted_set_distance_vanishes_on_embedded_points(narrow_critical):
    star = narrow_critical.theta
    roots = cs.null_function_roots(star, X1, Y1, w_max=8.0, n_grid=4001,
                                   extra=(0.0, star[1], -star[1]))
    points = {"L1": [cs.split_neuron(star, 1, 0, lam) for lam in (-1.3, 0.4, 2.2)],
              "L2": [cs.flip_split_neuron(star, 1, 0, lam) for lam in (-1.3, 0.4, 2.2)]}
    sample_dependent = [r for r in roots if abs(r) > 1e-6 and abs(abs(r) - abs(star[1])) > 1e-6]
    assert sample_dependent
    points["null at 0"] = [cs.null_embed(star, 1, [0.0])]
    points["null at a sample-dependent root"] = [cs.null_embed(star, 1, [r])
                                                 for r in sample_dependent]
    for label, thetas in points.items():
        for theta in thetas:
            for image, one_flip in _images(theta):   # the set is invariant under both
                dist, got = cs.width2_critical_set_distance(image, star, roots)
                swapped = {"L1": "L2", "L2": "L1"}.get(label, label) if one_flip else label
                assert dist < 1e-12 and got == swapped
            # the narrow point may be given in either sign
            assert cs.width2_critical_set_distance(theta, -star, roots)[0] < 1e-12


def test_predicted_set_distance_off_the_set(narrow_critical):
    """A point off the set: the distance is positive and no larger than the distance to any
    particular point of the set (it is a minimum over the set)."""
    star = narrow_critical.theta
    roots = cs.null_function_roots(star, X1, Y1, w_max=8.0, extra=(0.0, star[1], -star[1]))
    rng = np.random.default_rng(4)
    for _ in range(20):
        theta = rng.standard_normal(4)
        dist, _ = cs.width2_critical_set_distance(theta, star, roots)
        assert dist > 0
        for lam in np.linspace(-2, 3, 11):
            assert dist <= np.linalg.norm(theta - cs.split_neuron(star, 1, 0, lam)) + 1e-12
        for r in roots:
            assert dist <= np.linalg.norm(theta - cs.null_embed(star, 1, [r])) + 1e-12
    # the exact distance of (theta*, 0, w') from the null point at the nearest root
    w_off = 0.5 * (roots[-1] + roots[-2])
    dist, _ = cs.width2_critical_set_distance(cs.null_embed(star, 1, [w_off]), star, roots)
    assert dist <= np.min(np.abs(roots - w_off)) + 1e-12


def test_predicted_set_of_the_zero_function_is_null_pairs():
    roots = np.array([-1.0, 0.0, 2.0])
    dist, label = cs.width2_critical_set_distance([0.0, 0.0, 2.0, -1.0], [0.0, 0.0], roots)
    assert dist == 0.0 and label == "null pair"
    dist, _ = cs.width2_critical_set_distance([0.3, 0.0, 2.0, 0.0], [0.0, 0.0], roots)
    assert dist == pytest.approx(0.3)


def test_search_and_distance_bad_input():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="width"):
        cs.search_critical_points(X1, Y1, 0, rng)
    with pytest.raises(ValueError, match="n_starts"):
        cs.search_critical_points(X1, Y1, 1, rng, n_starts=0)
    with pytest.raises(ValueError, match="gtol"):
        cs.search_critical_points(X1, Y1, 1, rng, gtol=0.0)
    with pytest.raises(ValueError, match="y"):
        cs.search_critical_points(X1, Y1[:3], 1, rng)
    with pytest.raises((ValueError, TypeError), match="rng"):
        cs.search_critical_points(X1, Y1, 1, 3)
    with pytest.raises(ValueError, match="theta_wide"):
        cs.width2_critical_set_distance(np.ones(6), [1.0, 1.0], [0.0])
    with pytest.raises(ValueError, match="theta_narrow"):
        cs.width2_critical_set_distance(np.ones(4), [1.0, 1.0, 1.0], [0.0])
    with pytest.raises(ValueError, match="roots"):
        cs.width2_critical_set_distance(np.ones(4), [1.0, 1.0], [np.nan])
    with pytest.raises(ValueError, match="activation"):
        cs.width2_critical_set_distance(np.ones(4), [1.0, 1.0], [0.0], activation="sigmoid")
