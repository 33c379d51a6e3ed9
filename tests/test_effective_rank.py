"""Tests for theory.effective_rank (epsilon-rank and the staircase, notebook 05)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from conftest import assert_gradient_matches

from theory import effective_rank as er
from theory import fitting, linalg, optimizers
from theory.effective_rank.network import _minibatch_weights
from theory.symbolic import effective_rank as sym


@pytest.fixture
def grid():
    return er.gauss_legendre_grid(64)


def small_net(activation="tanh", widths=(1, 5, 4, 2), n_runs=3, seed=0):
    net = er.xavier_init(widths, np.random.default_rng(seed), n_runs=n_runs,
                         activation=activation)
    rng = np.random.default_rng(seed + 100)       # non-zero biases so every term is exercised
    return er.MLP(net.weights, tuple(0.3 * rng.standard_normal(b.shape) for b in net.biases),
                  activation)


# ----------------------------------------------------------------------------------------------
# quadrature, targets
# ----------------------------------------------------------------------------------------------
def test_gauss_legendre_integrates_polynomials_exactly():
    x, w = er.gauss_legendre_grid(5, domain=(0.0, 2.0))
    assert x.shape == (5, 1) and w.shape == (5,)
    assert np.isclose(w.sum(), 2.0, rtol=0, atol=1e-14)
    for degree in range(10):                                     # exact up to degree 2n - 1
        exact = 2.0 ** (degree + 1) / (degree + 1)
        assert np.isclose(np.sum(w * x[:, 0] ** degree), exact, rtol=1e-13)


def test_sine_targets_are_orthonormal_and_tail_is_k_minus_r():
    x, w = er.gauss_legendre_grid(200)
    F = er.sine_targets(x, 8)
    gram = F.T @ (w[:, None] * F)
    np.testing.assert_allclose(gram, np.eye(8), atol=1e-12)
    np.testing.assert_allclose(er.tail_energy(F, w), 8 - np.arange(9), atol=1e-10)
    c = 2.0 ** (-np.arange(1, 5) / 2)
    tails = er.tail_energy(er.sine_targets(x, 4, c), w)
    np.testing.assert_allclose(tails, [np.sum(np.sort(c**2)[:4 - r]) for r in range(5)],
                               atol=1e-12)


def test_staircase_target_has_unit_energy_per_component():
    x, w = er.gauss_legendre_grid(200)
    f = er.staircase_target(x)
    assert np.isclose(np.sum(w * f[:, 0] ** 2), 3.0, atol=1e-10)


# ----------------------------------------------------------------------------------------------
# backpropagation
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_backpropagation_matches_central_differences(activation, grid):
    x, w = grid
    net = small_net(activation)
    f = er.sine_targets(x, 2)
    loss, grads = er.loss_and_gradient(net, x, w, f)
    assert loss.shape == (3,)
    params = net.params()
    for i, p in enumerate(params):
        def total_loss(q, i=i):
            # runs are independent: the gradient of the summed loss is each run's gradient
            trial = params[:i] + [q] + params[i + 1:]
            return float(np.sum(er.loss_and_gradient(net.with_params(trial), x, w, f)[0]))

        assert_gradient_matches(total_loss, grads[i], p, rtol=1e-6, atol=1e-6)


def test_loss_is_the_weighted_squared_error(grid):
    x, w = grid
    net = small_net()
    f = er.sine_targets(x, 2)
    u = er.network_output(net, x)
    loss, _ = er.loss_and_gradient(net, x, w, f)
    np.testing.assert_allclose(loss, np.sum(w[:, None] * (u - f) ** 2, axis=(-2, -1)),
                               rtol=1e-13)


def test_runs_are_independent(grid):
    x, w = grid
    net = small_net(n_runs=3)
    f = er.sine_targets(x, 2)
    loss, grads = er.loss_and_gradient(net, x, w, f)
    single = er.select_run(net, 1)
    loss1, grads1 = er.loss_and_gradient(single, x, w, f)
    assert np.isclose(loss1, loss[1], rtol=1e-14)
    for g, g1 in zip(grads, grads1):
        np.testing.assert_allclose(g[1], g1, rtol=1e-12, atol=1e-14)


# ----------------------------------------------------------------------------------------------
# Gram matrix against exact integrals (sympy)
# ----------------------------------------------------------------------------------------------
def relu_pair_net(c, delta):
    """One hidden layer of two ReLU neurons (x - c)_+ and (x - c - delta)_+."""
    W1 = np.array([[1.0, 1.0]])
    b1 = np.array([-c, -c - delta])
    return er.MLP((W1, np.ones((2, 1))), (b1, np.zeros(1)), "relu")


def test_quadrature_gram_matches_sympy_integrals_for_relu_pair():
    c_val, d_val = 0.25, 0.125
    data = sym.relu_pair_gram()
    c, delta, L = data["symbols"]
    exact = np.array(data["M"].subs({L: 1 - sp.Rational(1, 4), delta: sp.Rational(1, 8)}),
                     dtype=float)
    # split the quadrature at the kinks: the features are then polynomials on each piece, and
    # Gauss-Legendre is exact (sum of the piecewise Gram matrices)
    gram = np.zeros((2, 2))
    for lo, hi in ((0.0, c_val), (c_val, c_val + d_val), (c_val + d_val, 1.0)):
        x, w = er.gauss_legendre_grid(3, domain=(lo, hi))
        gram += er.gram_matrix(er.hidden_features(relu_pair_net(c_val, d_val), x)[-1], w)
    np.testing.assert_allclose(gram, exact, rtol=1e-13)
    # an unsplit grid converges to the same integrals
    x, w = er.gauss_legendre_grid(400, domain=(0.0, 1.0))
    gram = er.gram_matrix(er.hidden_features(relu_pair_net(c_val, d_val), x)[-1], w)
    np.testing.assert_allclose(gram, exact, rtol=1e-5)
    assert np.isclose(np.linalg.det(gram), float(data["closed_form"].subs(
        {L: 0.75, delta: 0.125})), rtol=1e-3)


def test_quadrature_gram_matches_sympy_for_tanh_features():
    # phi_1 = tanh(x), phi_2 = tanh(x)^2 ... the Gram entries int tanh^k are elementary
    t = sp.Symbol("t", real=True)
    exact = np.array([[float(sp.integrate(sp.tanh(t) ** (i + j), (t, -1, 1))) for j in (1, 2)]
                      for i in (1, 2)])
    x, w = er.gauss_legendre_grid(40)
    features = np.concatenate([np.tanh(x), np.tanh(x) ** 2], axis=1)
    np.testing.assert_allclose(er.gram_matrix(features, w), exact, rtol=1e-12, atol=1e-15)


def test_gram_matrix_bias_column_and_symmetry(grid):
    x, w = grid
    feats = er.hidden_features(small_net(), x)[-1]
    G = er.gram_matrix(feats, w)
    Gb = er.gram_matrix(feats, w, bias=True)
    assert G.shape == (3, 4, 4) and Gb.shape == (3, 5, 5)
    np.testing.assert_allclose(Gb[..., :4, :4], G, rtol=1e-14)
    np.testing.assert_allclose(Gb[..., -1, -1], 2.0, rtol=1e-14)      # int 1 dx = |Omega|
    np.testing.assert_array_equal(G, np.swapaxes(G, -1, -2))
    assert np.all(np.linalg.eigvalsh(G) > -1e-12)


def test_epsilon_rank_trajectory_counts_eigenvalues(grid):
    x, w = grid
    G = er.gram_matrix(er.hidden_features(small_net(), x)[-1], w)
    eps = [1e-1, 1e-3]
    ranks = er.epsilon_rank_trajectory(G, eps)
    lam = np.linalg.eigvalsh(G)
    for i, e in enumerate(eps):
        np.testing.assert_array_equal(ranks[i], np.sum(lam > e, axis=-1))
    rel = er.relative_epsilon_rank(G, 1e-2)
    np.testing.assert_array_equal(rel, np.sum(lam > 1e-2 * lam[..., -1:], axis=-1))
    # scaling the features by c multiplies the eigenvalues by c^2 (why an absolute eps is
    # scale-dependent, docs/05_effective_rank_staircase.md)
    np.testing.assert_array_equal(er.epsilon_rank_trajectory(100 * G, [1e-1 * 100])[0],
                                  ranks[0])


def test_layer_epsilon_ranks_shape_and_values(grid):
    x, w = grid
    net = small_net(widths=(1, 6, 5, 4, 1))
    ranks = er.layer_epsilon_ranks(net, x, w, 1e-3)
    assert ranks.shape == (3, 3)
    feats = er.hidden_features(net, x)
    for l in range(3):
        np.testing.assert_array_equal(ranks[l], linalg.epsilon_rank(er.gram_matrix(feats[l], w),
                                                                     1e-3))


# ----------------------------------------------------------------------------------------------
# optimizers and training
# ----------------------------------------------------------------------------------------------
def test_adam_two_steps_by_hand():
    params = [np.array([1.0, -2.0])]
    g1, g2 = [np.array([0.5, -1.0])], [np.array([0.1, 0.3])]
    adam = optimizers.make_optimizer("adam", lr=0.1)      # the optimizer of train(optimizer="adam")
    p1, state = adam.update(params, g1, adam.init(params))
    p2, state = adam.update(p1, g2, state)
    # by hand, coordinate by coordinate (b1 = 0.9, b2 = 0.999, eps = 1e-8)
    expected = []
    for p0, a, b in ((1.0, 0.5, 0.1), (-2.0, -1.0, 0.3)):
        m1, v1 = 0.1 * a, 0.001 * a * a
        step1 = 0.1 * (m1 / 0.1) / ((v1 / 0.001) ** 0.5 + 1e-8)
        m2, v2 = 0.9 * m1 + 0.1 * b, 0.999 * v1 + 0.001 * b * b
        step2 = 0.1 * (m2 / (1 - 0.81)) / ((v2 / (1 - 0.998001)) ** 0.5 + 1e-8)
        expected.append(p0 - step1 - step2)
    np.testing.assert_allclose(p2[0], expected, rtol=1e-14)
    assert state.t == 2
    # the first Adam step moves every coordinate by lr * sign(g) (up to eps)
    np.testing.assert_allclose(p1[0], [1.0 - 0.1, -2.0 + 0.1], rtol=1e-7)
    # hand values of the first coordinate, written out
    assert np.isclose(p2[0][0], 1.0 - 0.1 * 0.5 / (0.5 + 1e-8)
                      - 0.1 * (0.055 / 0.19) / ((0.00025975 / 0.001999) ** 0.5 + 1e-8),
                      rtol=1e-14)


def test_train_adam_decreases_loss_and_is_deterministic(grid):
    x, w = grid
    f = er.staircase_target(x)
    net = er.xavier_init((1, 8, 8, 1), np.random.default_rng(3), n_runs=2)
    run = er.train(net, x, w, f, steps=200, lr=5e-3, log_every=50)
    again = er.train(net, x, w, f, steps=200, lr=5e-3, log_every=50)
    np.testing.assert_array_equal(run.losses, again.losses)
    assert run.losses.shape == (201, 2)
    np.testing.assert_array_equal(run.steps, [0, 50, 100, 150, 200])
    assert run.snapshots.weights[0].shape == (5, 2, 1, 8)
    assert np.all(run.losses[-1] < run.losses[0])
    # the logged snapshots reproduce the recorded losses
    loss_at_log, _ = er.loss_and_gradient(run.snapshots, x, w, f)
    np.testing.assert_allclose(loss_at_log, run.losses[run.steps], rtol=1e-12)
    final_loss, _ = er.loss_and_gradient(run.final, x, w, f)
    np.testing.assert_allclose(final_loss, run.losses[-1], rtol=1e-12)


def test_train_gd_matches_manual_updates(grid):
    x, w = grid
    f = er.sine_targets(x, 1)
    net = small_net(widths=(1, 4, 1), n_runs=1)
    run = er.train(net, x, w, f, steps=3, lr=0.01, optimizer="gd", log_every=1)
    params = net.params()
    for _ in range(3):
        _, grads = er.loss_and_gradient(net.with_params(params), x, w, f)
        params = [p - 0.01 * g for p, g in zip(params, grads)]
    for p, q in zip(params, run.final.params()):
        np.testing.assert_array_equal(p, q)


def test_train_adam_is_the_shared_loop_with_the_shared_adam(grid):
    # train() adds nothing to theory.training.run + theory.optimizers: the same numbers, bit
    # for bit, as a hand-written loop over loss_and_gradient and Adam.update
    x, w = grid
    f = er.staircase_target(x)
    net = small_net(widths=(1, 5, 4, 1), n_runs=2)
    run = er.train(net, x, w, f, steps=6, lr=0.01, log_every=3)
    adam = optimizers.make_optimizer("adam", lr=0.01)
    params = net.params()
    state = adam.init(params)
    losses = []
    for t in range(7):
        loss, grads = er.loss_and_gradient(net.with_params(params), x, w, f)
        losses.append(loss)
        if t < 6:
            params, state = adam.update(params, grads, state)
    np.testing.assert_array_equal(run.losses, np.array(losses))
    for p, q in zip(params, run.final.params()):
        np.testing.assert_array_equal(p, q)
    np.testing.assert_array_equal(run.steps, [0, 3, 6])
    assert run.n_steps == 6 and not run.converged


def test_train_sgd_full_batch_without_momentum_is_gd(grid):
    # batch = all N points: every minibatch weight is (N/N) w_i = w_i, so SGD is GD exactly
    x, w = grid
    f = er.staircase_target(x)
    net = small_net(widths=(1, 4, 3, 1), n_runs=2)
    gd = er.train(net, x, w, f, steps=6, lr=0.01, optimizer="gd", log_every=2)
    sgd = er.train(net, x, w, f, steps=6, lr=0.01, optimizer="sgd", log_every=2,
                   batch_size=x.shape[0], rng=np.random.default_rng(0))
    np.testing.assert_allclose(sgd.losses, gd.losses, rtol=1e-13)
    for p, q in zip(sgd.final.params(), gd.final.params()):
        np.testing.assert_allclose(p, q, rtol=1e-12, atol=1e-15)


def test_train_sgd_momentum_matches_heavy_ball(grid):
    x, w = grid
    f = er.sine_targets(x, 1)
    net = small_net(widths=(1, 4, 1), n_runs=1)
    run = er.train(net, x, w, f, steps=4, lr=0.01, optimizer="sgd", log_every=1,
                   batch_size=x.shape[0], rng=np.random.default_rng(0), momentum=0.7)
    params = net.params()
    velocity = [np.zeros_like(p) for p in params]
    for _ in range(4):
        _, grads = er.loss_and_gradient(net.with_params(params), x, w, f)
        velocity = [0.7 * v + g for v, g in zip(velocity, grads)]
        params = [p - 0.01 * v for p, v in zip(params, velocity)]
    for p, q in zip(params, run.final.params()):
        np.testing.assert_allclose(p, q, rtol=1e-12, atol=1e-15)


def test_minibatch_weights_draw_b_points_and_are_unbiased():
    rng = np.random.default_rng(5)
    w = np.linspace(0.5, 1.5, 10)
    draws = np.stack([_minibatch_weights(rng, w, (3,), 4) for _ in range(4000)])
    assert draws.shape == (4000, 3, 10)
    np.testing.assert_array_equal(np.count_nonzero(draws, axis=-1), 4)     # exactly B points
    chosen = draws[draws > 0].reshape(-1)
    np.testing.assert_allclose(np.sort(np.unique(np.round(chosen / w.max(), 12)))[-1], 2.5)
    # E[(N/B) w_i 1[i in batch]] = w_i: the minibatch loss is an unbiased estimate of L
    np.testing.assert_allclose(draws.mean(axis=(0, 1)), w, rtol=0.05)


def test_train_sgd_is_deterministic_and_learns(grid):
    x, w = grid
    f = er.staircase_target(x)
    net = er.xavier_init((1, 8, 8, 1), np.random.default_rng(3), n_runs=2)
    kwargs = dict(steps=300, lr=0.02, optimizer="sgd", log_every=50, batch_size=16,
                  momentum=0.5)
    run = er.train(net, x, w, f, rng=np.random.default_rng(1), **kwargs)
    again = er.train(net, x, w, f, rng=np.random.default_rng(1), **kwargs)
    other = er.train(net, x, w, f, rng=np.random.default_rng(2), **kwargs)
    np.testing.assert_array_equal(run.losses, again.losses)
    assert not np.array_equal(run.losses, other.losses)
    assert np.all(run.losses[-1] < run.losses[0])
    # the recorded loss is the full loss of the logged snapshot, not the minibatch estimate
    loss_at_log, _ = er.loss_and_gradient(run.snapshots, x, w, f)
    np.testing.assert_allclose(loss_at_log, run.losses[run.steps], rtol=1e-12)


def test_train_raises_divergence_error(grid):
    x, w = grid
    f = er.staircase_target(x)
    net = er.xavier_init((1, 4, 1), np.random.default_rng(0), n_runs=2)
    with pytest.raises(er.DivergenceError, match="step"):
        er.train(net, x, w, f, steps=200, lr=1e200, optimizer="gd", log_every=1)
    assert issubclass(er.DivergenceError, ValueError)


# ----------------------------------------------------------------------------------------------
# structured first layer
# ----------------------------------------------------------------------------------------------
def test_structured_first_layer_places_centres():
    net = er.xavier_init((1, 9, 4, 1), np.random.default_rng(0), n_runs=2)
    s = er.structured_first_layer(net, np.random.default_rng(1), gamma=15.0)
    W, b = s.weights[0], s.biases[0]
    assert W.shape == (2, 1, 9)
    np.testing.assert_allclose(np.abs(W), 15.0)
    np.testing.assert_allclose(-b / W[:, 0, :], np.broadcast_to(np.linspace(-1, 1, 9), (2, 9)),
                               atol=1e-14)
    np.testing.assert_array_equal(s.weights[1], net.weights[1])      # other layers untouched
    # d-dimensional input: unit directions times gamma, centres inside the box
    net2 = er.xavier_init((3, 6, 1), np.random.default_rng(0))
    s2 = er.structured_first_layer(net2, np.random.default_rng(2), gamma=5.0)
    np.testing.assert_allclose(np.linalg.norm(s2.weights[0], axis=0), 5.0)


def test_structured_first_layer_raises_initial_rank():
    x, w = er.gauss_legendre_grid(200)
    net = er.xavier_init((1, 32, 32, 32, 1), np.random.default_rng(0), n_runs=2)
    s = er.structured_first_layer(net, np.random.default_rng(1))
    r_x = linalg.epsilon_rank(er.gram_matrix(er.hidden_features(net, x)[-1], w), 1e-3)
    r_s = linalg.epsilon_rank(er.gram_matrix(er.hidden_features(s, x)[-1], w), 1e-3)
    assert np.all(r_s >= r_x + 5)


# ----------------------------------------------------------------------------------------------
# plateaus, drops, statistics
# ----------------------------------------------------------------------------------------------
def synthetic_staircase():
    steps = np.arange(1000)
    return 3.0 - 1.0 / (1 + np.exp(-(steps - 300) / 10.0)) - 1.5 / (1 + np.exp(-(steps - 700) / 10))


def test_find_plateau_and_drop_on_a_synthetic_staircase():
    loss = synthetic_staircase()
    s, e = er.find_plateau(loss)
    assert s == 0 and 200 < e < 300
    ratio = loss[e:e + 101].max() / loss[e:e + 101].min()
    assert ratio - 1 >= 0.02 or e + 100 >= loss.size
    drop = er.find_drop(loss, start=e)
    assert drop is not None and loss[drop + 100] < 0.8 * loss[drop]
    assert np.all(loss[e:drop][100:] / loss[e:drop][:-100] >= 0.8)
    s2, e2 = er.find_plateau(loss, start=e + 1)
    assert 300 < s2 < 700
    assert er.find_plateau(loss, max_loss=2.5) == (0, e)
    windows = er.find_plateaus(loss)
    assert windows[0] == (s, e) and windows[1] == (s2, e2)
    assert all(b[0] > a[1] for a, b in zip(windows, windows[1:]))
    assert er.find_plateau(np.linspace(3, 1, 1000)) is None
    assert er.find_drop(np.ones(300), start=0) is None


def test_tie_averaged_spearman_and_steps_to_reach():
    a = np.array([1.0, 2.0, 2.0, 3.0, 4.0])
    b = -np.array([0.0, 1.0, 1.0, 1.0, 2.0])
    ra = np.array([1, 2.5, 2.5, 4, 5])
    rb = -np.array([1, 3, 3, 3, 5.0])
    expected = np.corrcoef(ra, rb)[0, 1]
    assert np.isclose(er.tie_averaged_spearman(a, b), expected, rtol=1e-14)
    loss = np.array([[3.0, 3.0], [1.0, 2.0], [0.4, 1.0]])
    np.testing.assert_array_equal(er.steps_to_reach(loss, 0.5), [2, -1])


# ----------------------------------------------------------------------------------------------
# lower bounds and frozen features
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("eps", [1e-1, 1e-3, 0.0])
def test_lower_bound_a_never_exceeds_the_loss(eps):
    rng = np.random.default_rng(5)
    x, w = er.gauss_legendre_grid(50)
    # nearly collinear features so that some eigenvalues fall below eps
    base = rng.standard_normal((50, 3))
    features = np.concatenate([base, base @ rng.standard_normal((3, 4)) + 1e-2
                               * rng.standard_normal((50, 4)), np.ones((50, 1))], axis=1)
    f = er.staircase_target(x)
    a = rng.standard_normal((20, 8, 1))
    a_ls = np.linalg.lstsq(np.sqrt(w)[:, None] * features, np.sqrt(w)[:, None] * f,
                           rcond=None)[0][None]
    for coeffs in (a, a_ls):
        lb, r = er.lower_bound_a(np.broadcast_to(features, coeffs.shape[:1] + features.shape),
                                 w, f, coeffs, eps)
        loss = np.sum(w[:, None] * (features @ coeffs - f) ** 2, axis=(-2, -1))
        assert np.all(loss >= lb - 1e-12)
        assert np.all(r == linalg.epsilon_rank(features.T @ (w[:, None] * features), eps))
    # at a = 0 the slack vanishes and the bound is the energy of f off the top-r directions
    lb0, r0 = er.lower_bound_a(features, w, f, np.zeros((8, 1)), eps)
    U, s, _ = np.linalg.svd(np.sqrt(w)[:, None] * features, full_matrices=False)
    fw = np.sqrt(w) * f[:, 0]
    top = U[:, :int(r0)]
    assert np.isclose(lb0, np.sum((fw - top @ (top.T @ fw)) ** 2), rtol=1e-10)


def test_lower_bound_b_never_exceeds_the_loss_and_is_monotone():
    rng = np.random.default_rng(6)
    x, w = er.gauss_legendre_grid(100)
    F = er.sine_targets(x, 4)
    tails = er.tail_energy(F, w)
    assert np.all(np.diff(tails) <= 1e-15)
    for eps in (1e-1, 1e-2):
        features = np.concatenate([np.tanh(rng.standard_normal((1, 6)) * x
                                           + rng.standard_normal(6)), np.ones((100, 1))], axis=1)
        A = rng.standard_normal((30, 7, 4))
        G = features.T @ (w[:, None] * features)
        r = np.full(30, linalg.epsilon_rank(G, eps))
        lb = er.lower_bound_b(tails, r, A, eps)
        loss = np.sum(w[:, None] * (features @ A - F) ** 2, axis=(-2, -1))
        assert np.all(loss >= lb - 1e-12)
    # clipping of r above K, and the value at A = 0
    np.testing.assert_allclose(er.lower_bound_b(tails, np.array([0, 2, 9]),
                                                np.zeros((3, 2, 4)), 1e-3), [4.0, 2.0, 0.0],
                               atol=1e-10)


def test_frozen_feature_gd_follows_geometric_decay():
    x, w = er.gauss_legendre_grid(80)
    features = np.tanh(np.array([[1.0, 2.0, 4.0]]) * x + np.array([0.1, -0.3, 0.5]))
    f = er.staircase_target(x)
    lr = 0.25 / np.linalg.eigvalsh(er.gram_matrix(features, w))[-1]
    lam, errors = er.frozen_feature_gd(features, w, f, lr=lr, steps=15)
    np.testing.assert_allclose(lam, np.linalg.eigvalsh(er.gram_matrix(features, w))[::-1],
                               rtol=1e-12)
    t = np.arange(16)[:, None]
    np.testing.assert_allclose(errors, errors[0] * (1 - 2 * lr * lam) ** t, rtol=1e-8,
                               atol=1e-12)
    rates = fitting.log_slopes(None, errors)
    np.testing.assert_allclose(rates, np.log(np.abs(1 - 2 * lr * lam)), atol=1e-8)


# ----------------------------------------------------------------------------------------------
# symbolic derivations
# ----------------------------------------------------------------------------------------------
def test_symbolic_derivations_hold():
    assert sym.orthonormal_sine_gram(3) == sp.eye(3)
    assert sym.sine_tail_energy([1, sp.sqrt(2) / 2, sp.Rational(1, 2)], 1) == sp.Rational(3, 4)
    pair = sym.relu_pair_gram()
    assert pair["det_matches"]
    _, delta, L = pair["symbols"]
    assert sp.simplify(pair["lambda_min_leading"] - L * delta**2 / 8) == 0
    assert sym.duplicate_neuron_symmetry()["invariant"]
    ids = sym.bound_identities(3, 1)
    assert ids["identity_A"] and ids["identity_B"]
    flow = sym.frozen_feature_flow()
    assert flow["flow_ok"] and flow["discrete_ok"] and flow["quadratic_ok"]
    Q, params = sym.cayley_orthogonal(3)
    values = dict(zip(params, [0.3, -1.2, 0.7]))
    Qn = np.array(Q.subs(values), dtype=float)
    np.testing.assert_allclose(Qn.T @ Qn, np.eye(3), atol=1e-14)


def test_relu_pair_min_eigenvalue_matches_numpy_and_threshold():
    lam = sym.relu_pair_min_eigenvalue(1.0, 0.0894)
    data = sym.relu_pair_gram()
    _, delta, L = data["symbols"]
    M = np.array(data["M"].subs({L: 1.0, delta: 0.0894}), dtype=float)
    assert np.isclose(lam, np.linalg.eigvalsh(M)[0], rtol=1e-10)
    assert abs(lam - 1e-3) < 2e-4            # delta ~ sqrt(8 eps / L_c) puts lambda_min near eps


# ----------------------------------------------------------------------------------------------
# bad input
# ----------------------------------------------------------------------------------------------
def test_bad_inputs_raise_value_errors_naming_the_argument(grid):
    x, w = grid
    f = er.staircase_target(x)
    net = small_net(widths=(1, 4, 1), n_runs=1)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="n_points"):
        er.gauss_legendre_grid(0)
    with pytest.raises(ValueError, match="domain"):
        er.gauss_legendre_grid(4, domain=(1.0, -1.0))
    with pytest.raises(ValueError, match="x"):
        er.staircase_target(np.ones((3, 2)))
    with pytest.raises(ValueError, match="amplitudes"):
        er.sine_targets(x, 3, amplitudes=[1.0, 2.0])
    with pytest.raises(ValueError, match="widths"):
        er.xavier_init((1, 4), rng)
    with pytest.raises(ValueError, match=r"widths\[1\]"):
        er.xavier_init((1, -4, 1), rng)
    with pytest.raises(ValueError, match="rng"):
        er.xavier_init((1, 4, 1), 0)
    with pytest.raises(ValueError, match="activation"):
        er.xavier_init((1, 4, 1), rng, activation="sigmoid")
    with pytest.raises(ValueError, match="gamma"):
        er.structured_first_layer(net, rng, gamma=-1.0)
    with pytest.raises(ValueError, match="net"):
        er.hidden_features("not a net", x)
    with pytest.raises(ValueError, match="x"):
        er.network_output(net, np.ones((5, 3)))
    bad_x = x.copy()
    bad_x[0, 0] = np.nan
    with pytest.raises(ValueError, match="x"):
        er.loss_and_gradient(net, bad_x, w, f)
    with pytest.raises(ValueError, match="w"):
        er.loss_and_gradient(net, x, -w, f)
    with pytest.raises(ValueError, match="f"):
        er.loss_and_gradient(net, x, w, f[:10])
    with pytest.raises(ValueError, match="f"):
        er.loss_and_gradient(net, x, w, np.ones((x.shape[0], 2)))
    with pytest.raises(ValueError, match="steps"):
        er.train(net, x, w, f, steps=-1, lr=1e-3)
    with pytest.raises(ValueError, match="log_every"):
        er.train(net, x, w, f, steps=10, lr=1e-3, log_every=3)
    with pytest.raises(ValueError, match="optimizer"):
        er.train(net, x, w, f, steps=10, lr=1e-3, optimizer="rmsprop", log_every=5)
    with pytest.raises(ValueError, match="batch_size"):
        er.train(net, x, w, f, steps=10, lr=1e-3, optimizer="sgd", log_every=5)
    with pytest.raises(ValueError, match="batch_size"):
        er.train(net, x, w, f, steps=10, lr=1e-3, optimizer="sgd", log_every=5,
                 batch_size=x.shape[0] + 1, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="batch_size"):
        er.train(net, x, w, f, steps=10, lr=1e-3, optimizer="sgd", log_every=5,
                 batch_size=2.5, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="rng"):
        er.train(net, x, w, f, steps=10, lr=1e-3, optimizer="sgd", log_every=5,
                 batch_size=4, rng=0)
    with pytest.raises(ValueError, match="momentum"):
        er.train(net, x, w, f, steps=10, lr=1e-3, optimizer="sgd", log_every=5,
                 batch_size=4, rng=np.random.default_rng(0), momentum=1.0)
    with pytest.raises(ValueError, match="batch_size"):
        er.train(net, x, w, f, steps=10, lr=1e-3, log_every=5, batch_size=4)
    with pytest.raises(ValueError, match="features"):
        er.gram_matrix(np.ones(4), w)
    with pytest.raises(ValueError, match="w"):
        er.gram_matrix(np.ones((x.shape[0] + 1, 2)), w)
    with pytest.raises(ValueError, match="eps_values"):
        er.epsilon_rank_trajectory(np.eye(2), [-1.0])
    with pytest.raises(ValueError, match="eps"):
        er.relative_epsilon_rank(np.eye(2), -1.0)
    with pytest.raises(ValueError, match="eps"):
        er.layer_epsilon_ranks(net, x, w, np.nan)
    with pytest.raises(ValueError, match="loss"):
        er.find_plateau(np.array([1.0, -1.0, 2.0]))
    with pytest.raises(ValueError, match="min_length"):
        er.find_plateau(np.ones(10), min_length=0)
    with pytest.raises(ValueError, match="window"):
        er.find_drop(np.ones(10), start=0, window=0)
    with pytest.raises(ValueError, match="a and b"):
        er.tie_averaged_spearman(np.arange(4.0), np.arange(3.0))
    with pytest.raises(ValueError, match="constant"):
        er.tie_averaged_spearman(np.ones(4), np.arange(4.0))
    with pytest.raises(ValueError, match="level"):
        er.steps_to_reach(np.ones(3), np.inf)
    with pytest.raises(ValueError, match="a must"):
        er.lower_bound_a(np.ones((x.shape[0], 2)), w, f, np.ones((3, 1)), 1e-3)
    with pytest.raises(ValueError, match="eps"):
        er.lower_bound_a(np.ones((x.shape[0], 2)), w, f, np.ones((2, 1)), -1.0)
    with pytest.raises(ValueError, match="targets"):
        er.tail_energy(np.ones(4), w)
    with pytest.raises(ValueError, match="r must"):
        er.lower_bound_b(np.ones(3), np.array([-1]), np.ones((1, 2, 2)), 1e-3)
    with pytest.raises(ValueError, match="A has"):
        er.lower_bound_b(np.ones(3), np.array([1, 2]), np.ones((1, 2, 2)), 1e-3)
    with pytest.raises(ValueError, match="lr"):
        er.frozen_feature_gd(np.ones((x.shape[0], 2)), w, f, lr=0.0, steps=3)
    with pytest.raises(ValueError, match="steps"):
        er.frozen_feature_gd(np.ones((x.shape[0], 2)), w, f, lr=0.1, steps=0)
    with pytest.raises(ValueError, match="n_targets"):
        sym.orthonormal_sine_gram(0)
    with pytest.raises(ValueError, match="r"):
        sym.sine_tail_energy([1, 2], 3)
    with pytest.raises(ValueError, match="n"):
        sym.bound_identities(5, 1)
    with pytest.raises(ValueError, match="index"):
        er.select_run(small_net(n_runs=2), 2)
    with pytest.raises(ValueError, match="batch axis"):
        er.select_run(er.select_run(small_net(n_runs=2), 0), 0)
    with pytest.raises(ValueError, match="features"):
        er.with_constant_column(np.ones(3))
    with pytest.raises(ValueError, match="loss"):
        er.find_plateaus(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="delta_value"):
        sym.relu_pair_min_eigenvalue(0.5, 0.6)
    with pytest.raises(ValueError, match="L_value"):
        sym.relu_pair_min_eigenvalue(0.0, 0.1)
    with pytest.raises(ValueError, match="n"):
        sym.cayley_orthogonal(0)
    with pytest.raises(ValueError, match="amplitudes"):
        sym.sine_tail_energy([], 0)
    with pytest.raises(ValueError, match="snapshots"):
        er.stack_snapshots([])


def test_bad_inputs_of_the_list_and_curve_functions(grid):
    x, w = grid
    f = er.staircase_target(x)
    net = small_net(widths=(1, 4, 1), n_runs=1)
    other = small_net(widths=(1, 3, 1), n_runs=1)
    with pytest.raises(TypeError, match="snapshots"):
        er.stack_snapshots(None)
    with pytest.raises(TypeError, match="snapshots"):
        er.stack_snapshots(np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"snapshots\[1\]"):
        er.stack_snapshots([net, "not a net"])
    with pytest.raises(ValueError, match=r"snapshots\[1\] differs"):
        er.stack_snapshots([net, other])
    stacked = er.stack_snapshots((net, net))
    assert stacked.weights[0].shape == (2,) + net.weights[0].shape
    with pytest.raises(ValueError, match="optimizer"):
        er.train(net, x, w, f, steps=2, lr=1e-3, log_every=1, optimizer=["gd"])
    with pytest.raises(TypeError, match="desc"):
        er.train(net, x, w, f, steps=2, lr=1e-3, log_every=1, desc=None)
    features = np.tanh(np.array([[1.0, 2.0]]) * x + np.array([0.1, -0.3]))
    with pytest.raises(ValueError, match="w must be non-negative"):
        er.frozen_feature_gd(features, -w, f, lr=0.1, steps=3)
    with pytest.raises(ValueError, match="features"):
        er.frozen_feature_gd(np.hstack([features, np.zeros_like(x)]), w, f, lr=0.1, steps=3)
    with pytest.raises(er.DivergenceError, match="lower the learning rate"):
        er.frozen_feature_gd(features, w, f, lr=1e300, steps=3)


# ----------------------------------------------------------------------------------------------
# drop-vs-flat windows and the layer-wise ordering
# ----------------------------------------------------------------------------------------------
def test_window_rank_gains_on_a_hand_made_staircase():
    # loss: flat 3.0 for steps 0..200, falls to 1.0 by step 300, flat again to step 600
    loss = np.concatenate([np.full(201, 3.0), np.linspace(3.0, 1.0, 101)[1:], np.full(300, 1.0)])
    log_steps = np.arange(0, 601, 20)
    ranks = np.where(log_steps < 240, 1, 4)                      # one jump, inside the drop
    drops, flats = er.window_rank_gains(loss, ranks, log_steps, window=100)
    # drop windows start at t with L(t + 100) < 0.8 L(t): t = 140..280; the jump at 240 lies
    # inside those starting at t = 140..220
    np.testing.assert_array_equal(drops, [3, 3, 3, 3, 3, 0, 0, 0])
    assert flats.size > 0 and np.all(flats == 0)
    # a rank that climbs steadily, ignoring the loss, gains as much on flat windows as at drops
    steady = (log_steps // 100).astype(int)
    d2, f2 = er.window_rank_gains(loss, steady, log_steps, window=100)
    assert np.mean(d2 >= 1) == np.mean(f2 >= 1) == 1.0


def test_window_rank_gains_bad_input():
    loss, steps = np.ones(101), np.arange(0, 101, 20)
    with pytest.raises(ValueError, match="ranks"):
        er.window_rank_gains(loss, np.ones(6), steps)
    with pytest.raises(ValueError, match="ranks"):
        er.window_rank_gains(loss, np.ones(5, int), steps)
    with pytest.raises(ValueError, match="log_steps"):
        er.window_rank_gains(loss, np.ones(6, int), np.array([0, 20, 50, 60, 80, 100]))
    with pytest.raises(ValueError, match="window"):
        er.window_rank_gains(loss, np.ones(6, int), steps, window=30)
    with pytest.raises(ValueError, match="drop"):
        er.window_rank_gains(loss, np.ones(6, int), steps, drop=0.0)
    with pytest.raises(ValueError, match="loss"):
        er.window_rank_gains(-loss, np.ones(6, int), steps)


def test_layer_order_share_strict_and_weak():
    steps = np.array([0, 100, 200, 300, 400])
    # two runs: run 0 strictly increasing with depth after step 200, run 1 has a tie at 300
    r = np.zeros((3, 5, 2), dtype=int)
    r[:, :, 0] = np.array([1, 2, 3])[:, None]
    r[:, :, 1] = np.array([1, 3, 3])[:, None]
    r[:, 4, 1] = [1, 2, 3]
    np.testing.assert_allclose(er.layer_order_share(r, steps, start=200), [1.0, 0.5])
    np.testing.assert_allclose(er.layer_order_share(r, steps, start=200, strict=False),
                               [1.0, 1.0])
    # reversing the layers reverses every comparison
    np.testing.assert_allclose(er.layer_order_share(r[::-1], steps, start=200), [0.0, 0.0])
    with pytest.raises(ValueError, match="start"):
        er.layer_order_share(r, steps, start=400)
    with pytest.raises(ValueError, match="layer_ranks"):
        er.layer_order_share(r[:1], steps)
    with pytest.raises(ValueError, match="log_steps"):
        er.layer_order_share(r, steps[:3])
    with pytest.raises(TypeError, match="strict"):
        er.layer_order_share(r, steps, strict="yes")


def test_xavier_init_takes_widths_as_a_sequence_or_an_array():
    from_tuple = er.xavier_init((1, 4, 3, 1), np.random.default_rng(0), n_runs=2)
    from_array = er.xavier_init(np.array([1, 4, 3, 1]), np.random.default_rng(0), n_runs=2)
    for a, b in zip(from_tuple.params(), from_array.params()):
        np.testing.assert_array_equal(a, b)
    # Xavier-normal: W ~ N(0, 2 / (fan_in + fan_out)), zero biases
    wide = er.xavier_init((200, 300, 1), np.random.default_rng(1))
    assert abs(np.std(wide.weights[0]) - np.sqrt(2.0 / 500)) < 0.02 * np.sqrt(2.0 / 500)
    assert not np.any(wide.biases[0])
