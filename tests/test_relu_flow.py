"""Tests for theory.relu_flow, theory.relu_thresholds, theory.relu_training and
theory.symbolic.relu_flow (reconstruction of arXiv:2501.07400).

Every closed form is held against an independent computation: the network forward pass,
finite differences, solve_ivp, or a sympy derivation.
"""

import numpy as np
import pytest
import scipy.integrate
import sympy as sp
from conftest import assert_gradient_matches

from theory import relu_flow as rf
from theory import relu_thresholds as rth
from theory import relu_training as rtr
from theory.errors import DivergenceError
from theory.fitting import log_linear_fit
from theory.symbolic import relu_flow as srf
from theory.training import Trajectory


# ------------------------------------------------------------------ fixtures
def random_network(rng, M=3, L=3, diagonal=False):
    if diagonal:
        Ws = [np.diag(rng.uniform(0.5, 2.0, M)) for _ in range(L)]
    else:
        Ws = [rng.standard_normal((M, M)) + 2 * np.eye(M) for _ in range(L)]
    Ws.append(rng.standard_normal((M, M)) + 2 * np.eye(M))
    bs = [rng.standard_normal(M) for _ in range(L + 1)]
    return Ws, bs


def two_clusters(rng, n=6, spread=0.3):
    mus = np.array([[0.0, 0.0], [3.0, -1.0]])
    labels = np.repeat([0, 1], n)
    X = mus[labels] + spread * rng.standard_normal((2 * n, 2))
    Ybar = mus[labels] + 1.5
    theta0 = np.array([[np.sort(X[labels == a, i])[:2].mean() for i in range(2)]
                       for a in range(2)])
    return X, Ybar, labels, theta0


def kink_margin_reference(Wc, betas, X):
    """Smallest |pre-activation| over layers, points and coordinates (loop version)."""
    Z, margin = X, np.inf
    for W, beta in zip(Wc, betas):
        for z in Z:
            margin = min(margin, np.abs(W @ (z + beta)).min())
        Z = rf.truncation_map(W, beta, Z)
    return margin


# ------------------------------------------------------------------ representation and depth
@pytest.mark.parametrize("L", [0, 1, 3])
def test_representation_matches_forward(L):
    rng = np.random.default_rng(1)
    Ws, bs = random_network(rng, M=3, L=L)
    X = 2 * rng.standard_normal((25, 3))
    assert np.allclose(rf.forward(Ws, bs, X), rf.representation(Ws, bs, X), atol=1e-11)


def test_cumulative_bias_sum_and_affine_form():
    rng = np.random.default_rng(2)
    Ws, bs = random_network(rng)
    Wc, bc, beta = rf.cumulative_parameters(Ws, bs)
    assert np.allclose(beta, rf.cumulative_bias_sum(Ws, bs), atol=1e-12)
    # A^(l)(x) = W^(l)(x + beta^(l)) equals the composition of the affine maps
    x = rng.standard_normal(3)
    h = x
    for l, (W, b) in enumerate(zip(Ws, bs)):
        h = W @ h + b
        assert np.allclose(h, Wc[l] @ (x + beta[l]), atol=1e-10)


def test_projector_idempotent_and_truncation_form():
    rng = np.random.default_rng(3)
    W = rng.standard_normal((3, 3)) + 2 * np.eye(3)
    beta = rng.standard_normal(3)
    X = 2 * rng.standard_normal((30, 3))
    Pi = rf.truncation_projector(W, beta, X)
    assert np.allclose(Pi @ Pi, Pi, atol=1e-12)
    tau = X - np.einsum("nij,nj->ni", Pi, X + beta)
    assert np.allclose(tau, rf.truncation_map(W, beta, X), atol=1e-12)
    # tau is a retraction onto the cone: tau(tau(x)) = tau(x)
    assert np.allclose(rf.truncation_map(W, beta, tau), tau, atol=1e-12)


def test_diagonal_chain_is_max_of_thresholds():
    rng = np.random.default_rng(4)
    Ws, bs = random_network(rng, M=3, L=4, diagonal=True)
    Wc, _, beta = rf.cumulative_parameters(Ws, bs)
    X = rng.standard_normal((40, 3))
    theta_hat = (-beta[:-1]).max(axis=0)
    assert np.allclose(rf.truncate_chain(Wc[:-1], beta[:-1], X), np.maximum(X, theta_hat))
    assert np.allclose(rth.diagonal_truncation(X, theta_hat), np.maximum(X, theta_hat))


def test_pullback_and_standard_cost_metric():
    rng = np.random.default_rng(5)
    Ws, bs = random_network(rng, M=2, L=1, diagonal=True)
    X = rng.standard_normal((10, 2))
    Y = rng.standard_normal((10, 2))
    Ybar = rf.pullback_targets(Ws, bs, Y)
    Wc, _, beta = rf.cumulative_parameters(Ws, bs)
    assert np.allclose((Ybar + beta[-1]) @ Wc[-1].T, Y, atol=1e-12)
    standard = 0.5 * np.sum((rf.forward(Ws, bs, X) - Y) ** 2) / 10
    G = rf.output_metric(Ws, bs)
    assert np.isclose(rth.diagonal_cost(-beta[0], X, Ybar, metric=G), standard, rtol=1e-12)


# ------------------------------------------------------------------ gradients vs finite differences
def test_input_cost_gradients_match_finite_differences():
    rng = np.random.default_rng(6)
    Ws, bs = random_network(rng, M=3, L=2)
    Wc, _, beta = rf.cumulative_parameters(Ws, bs)
    X = rng.standard_normal((15, 3))
    Ybar = rng.standard_normal((15, 3))
    Wc, beta = Wc[:-1], beta[:-1]
    margin = rf.kink_margin(Wc, beta, X)
    assert np.isclose(margin, kink_margin_reference(Wc, beta, X)) and margin > 1e-3
    gW, gb = rf.input_cost_gradients(Wc, beta, X, Ybar)
    assert_gradient_matches(lambda b: rf.input_cost(Wc, b, X, Ybar), gb, beta, h=1e-6,
                            rtol=0.0, atol=1e-7 * np.abs(gb).max())
    assert_gradient_matches(lambda W: rf.input_cost(W, beta, X, Ybar), gW, Wc, h=1e-6,
                            rtol=0.0, atol=1e-7 * np.abs(gW).max())


def test_diagonal_weight_gradient_has_zero_diagonal():
    rng = np.random.default_rng(7)
    W = np.diag([1.3, 0.7])
    X, Ybar, _, _ = two_clusters(rng)
    beta = -np.array([0.1, 0.2])
    gW, _ = rf.input_cost_gradients(W[None], beta[None], X, Ybar)
    assert np.allclose(np.diag(gW[0]), 0.0, atol=1e-15)
    assert np.abs(gW[0] - np.diag(np.diag(gW[0]))).max() > 1e-3   # the ansatz is not invariant


@pytest.mark.parametrize("metric", [None, np.array([[4.0, 1.0], [1.0, 0.74]])])
def test_effective_velocity_is_minus_gradient(metric):
    rng = np.random.default_rng(8)
    X, Ybar, labels, theta0 = two_clusters(rng)
    theta = theta0 + 0.137
    v = rth.effective_velocity(theta, X, Ybar, labels, metric)
    assert_gradient_matches(lambda t: rth.diagonal_cost(t, X, Ybar, labels, metric), -v, theta,
                            h=1e-7, rtol=1e-7, atol=1e-10)


def test_e1_is_count_times_distance_to_mean_target():
    rng = np.random.default_rng(9)
    X, Ybar, labels, theta0 = two_clusters(rng)
    theta = theta0 + 0.2
    v = rth.effective_velocity(theta, X, Ybar, labels)
    P = rth.diagonal_pattern(X, theta, labels)
    N = X.shape[0]
    for a in range(2):
        for i in range(2):
            T = (labels == a) & P[:, i]
            assert np.isclose(v[a, i], -(T.sum() / N) * (theta[a, i] - Ybar[T, i].mean()))


def test_network_bias_gradient_matches_chain_rule_and_fd():
    rng = np.random.default_rng(10)
    Ws, bs = random_network(rng, M=2, L=2)
    X = rng.standard_normal((12, 2))
    Ybar = rng.standard_normal((12, 2))
    Wc, _, beta = rf.cumulative_parameters(Ws, bs)
    _, gb = rf.input_cost_gradients(Wc[:-1], beta[:-1], X, Ybar)
    J = rf.bias_jacobian(Ws[:-1])
    g_net = rf.network_bias_gradient(Ws, bs, X, Ybar)
    assert np.allclose(g_net.ravel(), J.T @ gb.ravel(), atol=1e-12)

    def cost(b):
        bb = list(b) + [bs[-1]]
        T = rf.pullback_targets(Ws, bb, rf.forward(Ws, bb, X))
        return 0.5 * np.sum((T - Ybar) ** 2) / 12
    assert_gradient_matches(cost, g_net, np.stack(bs[:-1]), h=1e-6, rtol=1e-5, atol=1e-8)
    # the cost of the forward pass is C_in of the truncation chain (representation identity)
    assert np.isclose(rf.network_bias_cost(Ws, bs, X, Ybar), cost(np.stack(bs[:-1])),
                      rtol=1e-12)
    assert np.isclose(rf.network_bias_cost(Ws, bs, X, Ybar),
                      rf.input_cost(Wc[:-1], beta[:-1], X, Ybar), rtol=1e-10)


def test_bias_metric_block_formula_and_identity_case():
    rng = np.random.default_rng(11)
    Ws, _ = random_network(rng, M=2, L=3)
    JJ = rf.bias_metric(Ws[:-1])
    Wc = [Ws[0], Ws[1] @ Ws[0], Ws[2] @ Ws[1] @ Ws[0]]
    for l in range(3):
        for m in range(3):
            block = sum(np.linalg.inv(Wc[k]) @ np.linalg.inv(Wc[k]).T
                        for k in range(min(l, m) + 1))
            assert np.allclose(JJ[2 * l:2 * l + 2, 2 * m:2 * m + 2], block)
    assert np.allclose(rf.bias_metric([np.eye(2)]), np.eye(2))


def test_bias_gradient_descent_induces_preconditioned_flow():
    rng = np.random.default_rng(12)
    X, Ybar, _, _ = two_clusters(rng)
    Ws = [np.diag([1.5, 0.8]), np.diag([0.6, 1.2]), np.array([[2.0, 0.5], [0.0, 0.7]])]
    bs = [np.array([0.3, 0.3]), np.array([0.2, -0.4]), np.zeros(2)]
    lr = 1e-4
    run = rtr.gradient_descent_biases(Ws, bs, X, Ybar, lr=lr, steps=3)
    assert isinstance(run, Trajectory) and run.n_steps == 3
    assert np.array_equal(run.steps, np.arange(4)) and run.snapshots.shape == (4, 2, 2)
    assert np.array_equal(run.final, run.snapshots[-1])
    thetas = rf.induced_thresholds(Ws[:-1], run.snapshots)
    Wc, _, _ = rf.cumulative_parameters(Ws, bs)
    JJ = rf.bias_metric(Ws[:-1])
    for t in range(3):
        _, gb = rf.input_cost_gradients(Wc[:-1], -thetas[t], X, Ybar)
        predicted = JJ @ gb.ravel()       # theta' = -J J^T grad_theta C, grad_theta = -grad_beta
        assert np.allclose((thetas[t + 1] - thetas[t]).ravel() / lr, predicted, rtol=1e-8,
                           atol=1e-12)
        # every step is b <- b - lr grad_b C, and the loss recorded is the network cost
        current = list(run.snapshots[t]) + [bs[-1]]
        step = run.snapshots[t] - lr * rf.network_bias_gradient(Ws, current, X, Ybar)
        assert np.array_equal(run.snapshots[t + 1], step)
        assert run.losses[t] == rf.network_bias_cost(Ws, current, X, Ybar)


def test_induced_thresholds_are_minus_the_cumulative_biases():
    rng = np.random.default_rng(25)
    Ws, bs = random_network(rng, M=2, L=3)
    _, _, beta = rf.cumulative_parameters(Ws, bs)
    theta = rf.induced_thresholds(Ws[:-1], np.stack(bs[:-1]))
    assert np.array_equal(theta, -beta[:-1])
    # linear in the biases, theta = -J b, and applied snapshot by snapshot to a stack
    J = rf.bias_jacobian(Ws[:-1])
    stack = rng.standard_normal((4, 3, 2))
    thetas = rf.induced_thresholds(Ws[:-1], stack)
    assert thetas.shape == (4, 3, 2)
    for t in range(4):
        assert np.allclose(thetas[t].ravel(), -J @ stack[t].ravel(), atol=1e-12)
    with pytest.raises(ValueError, match="hidden_biases must have shape"):
        rf.induced_thresholds(Ws[:-1], np.zeros((2, 2)))
    with pytest.raises(ValueError, match="hidden_biases"):
        rf.induced_thresholds(Ws[:-1], np.zeros(6))
    with pytest.raises(ValueError, match="hidden_weights"):
        rf.induced_thresholds([], np.zeros((1, 2)))


# ------------------------------------------------------------------ exact solution vs integration
def test_exact_path_matches_solve_ivp_and_crossing_formula():
    rng = np.random.default_rng(13)
    X, Ybar, labels, theta0 = two_clusters(rng)
    N = X.shape[0]
    s = np.linspace(0, 60, 3001)
    sol = rth.integrate_threshold_flow(X, Ybar, theta0, 60.0, groups=labels, s_eval=s)
    for a in range(2):
        for i in range(2):
            pts = labels == a
            path = rth.exact_threshold_path(X[pts, i], Ybar[pts, i], theta0[a, i], N)
            assert path.end == "converges"
            assert np.allclose(path(s), sol.theta[:, a, i], atol=1e-8)
            closed = rth.crossing_times_beyond(X[pts, i], Ybar[pts][0, i], theta0[a, i], N)
            assert np.allclose(path.crossings, closed, rtol=1e-12)
            assert np.allclose(sol.event_times(a, i), closed, rtol=1e-7)
            assert np.array_equal(path.counts, np.arange(1, pts.sum() + 1))


def test_segment_rates_are_count_over_N():
    path = rth.exact_threshold_path(np.array([0.0, 0.5, 1.0]), np.full(3, 3.0), 0.25, 7)
    s = np.linspace(path.starts[1] + 1e-3, path.starts[2] - 1e-3, 50)
    slope = log_linear_fit(s, 3.0 - path(s)).slope
    assert np.isclose(slope, -2 / 7, rtol=1e-10)


def test_dead_bias_and_untruncation_and_sliding():
    x = np.array([0.0, 1.0, 2.0])
    # dead: threshold below every point never moves
    dead = rth.exact_threshold_path(x, np.full(3, 5.0), -1.0, 3)
    assert dead.end == "dead" and np.all(dead(np.linspace(0, 10, 5)) == -1.0)
    # untruncation: targets below the cluster pull the threshold down through the data
    down = rth.exact_threshold_path(x, np.full(3, 0.5), 3.0, 3)
    assert down.end == "converges" and np.isclose(down.limit, 0.5)
    assert list(down.counts) == [3, 2, 1]        # x=2 and x=1 released, x=0 stays
    # sliding: below x=1 the flow points up, above it down -> stuck at 1
    stuck = rth.exact_threshold_path(x, np.array([2.0, 0.0, 0.0]), 0.5, 3)
    assert stuck.end == "stuck" and stuck.limit == 1.0
    sol = rth.integrate_threshold_flow(x[:, None], np.array([[2.0], [0.0], [0.0]]), [0.5], 20.0,
                                      s_eval=np.linspace(0, 20, 101))
    assert sol.frozen[0, 0] and np.allclose(sol.theta[:, 0, 0], stuck(sol.s), atol=1e-9)


def test_overlapping_clusters_converge_to_mean_target_of_final_set():
    rng = np.random.default_rng(14)
    X = np.vstack([0.3 * rng.standard_normal((5, 1)), 0.5 + 0.3 * rng.standard_normal((5, 1))])
    Ybar = np.vstack([np.full((5, 1), 1.5), np.full((5, 1), 2.0)])
    theta0 = [np.sort(X[:, 0])[1] - 1e-3]
    sol = rth.integrate_threshold_flow(X, Ybar, theta0, 120.0, s_eval=[0.0, 120.0])
    final = X[:, 0] < sol.theta[-1, 0, 0]
    assert final.all()
    assert np.isclose(sol.theta[-1, 0, 0], Ybar[final, 0].mean(), atol=1e-9)


def test_gradient_descent_contraction_factor():
    x = np.array([0.0, 0.4, 0.9, 1.3])
    Ybar = np.full((4, 1), 3.0)
    lr, N = 0.5, 4
    run = rtr.gradient_descent_thresholds([1.0], x[:, None], Ybar, lr=lr, steps=40)
    assert isinstance(run, Trajectory) and run.snapshots.shape == (41, 1, 1)
    th = run.snapshots[:, 0, 0]
    k = (x[None, :] < th[:-1, None]).sum(axis=1)
    same = k == (x[None, :] < th[1:, None]).sum(axis=1)
    ratio = (th[1:] - 3.0) / (th[:-1] - 3.0)
    assert np.allclose(ratio[same], 1 - lr * k[same] / N, atol=1e-12)
    assert np.all(np.diff(run.losses) <= 1e-15)
    for t in (0, 7, 40):
        assert np.isclose(run.losses[t], rth.diagonal_cost(run.snapshots[t], x[:, None], Ybar),
                          rtol=1e-14)
    # log_every keeps every k-th iterate and the last; the losses stay per step
    every = rtr.gradient_descent_thresholds([1.0], x[:, None], Ybar, lr=lr, steps=40,
                                            log_every=15)
    assert np.array_equal(every.steps, [0, 15, 30, 40])
    assert np.array_equal(every.snapshots, run.snapshots[[0, 15, 30, 40]])
    assert np.array_equal(every.losses, run.losses)


def test_gradient_descent_thresholds_is_gd_on_the_velocity():
    rng = np.random.default_rng(26)
    X, Ybar, labels, theta0 = two_clusters(rng)
    G = np.array([[4.0, 1.0], [1.0, 0.74]])
    run = rtr.gradient_descent_thresholds(theta0, X, Ybar, lr=0.05, steps=5, groups=labels,
                                          metric=G)
    for t in range(5):
        v = rth.effective_velocity(run.snapshots[t], X, Ybar, labels, G)
        assert np.allclose(run.snapshots[t + 1], run.snapshots[t] + 0.05 * v, rtol=0,
                           atol=1e-15)


def test_gradient_descent_divergence_error():
    X = np.array([[0.0], [1.0]])
    with pytest.raises(DivergenceError, match="step 1") as info:
        rtr.gradient_descent_thresholds([0.5], X, np.array([[1e100], [1e100]]), lr=1e250,
                                        steps=5)
    assert info.value.step == 1 and isinstance(info.value, ValueError)
    Ws = [np.eye(1), np.eye(1)]
    with pytest.raises(DivergenceError, match="step 1"):
        rtr.gradient_descent_biases(Ws, [np.array([-0.5]), np.zeros(1)], X,
                                    np.array([[1e100], [1e100]]), lr=1e250, steps=3)
    # every point truncated, error factor 1 - lr k/N = -1.5 per step: the loss grows 2.25x
    with pytest.raises(DivergenceError, match="grew more than"):
        rtr.gradient_descent_biases(Ws, [np.array([-(1e6 - 0.5)]), np.zeros(1)], X,
                                    np.full((2, 1), 1e6), lr=2.5, steps=100)


def test_spectral_gap_solution_solves_the_ode_and_matches_flow():
    G = np.array([[4.0, 1.0], [1.0, 0.74]])
    ybar, theta0 = np.array([2.0, 1.0]), np.array([1.5, 0.6])
    s = np.linspace(0, 5, 11)
    closed = rth.spectral_gap_solution(theta0, ybar, G, 0.5, s)
    ref = scipy.integrate.solve_ivp(lambda t, y: -0.5 * G @ (y - ybar), (0, 5), theta0,
                                    t_eval=s, rtol=1e-11, atol=1e-13).y.T
    assert np.allclose(closed, ref, atol=1e-9)
    # a cluster already fully truncated (theta above every point): (E2) is this linear ODE
    rng = np.random.default_rng(15)
    X = 0.1 * rng.standard_normal((4, 2))
    Ybar = np.tile(ybar, (4, 1))
    sol = rth.integrate_threshold_flow(np.vstack([X, X + 10]), np.vstack([Ybar, Ybar + 10]),
                                      np.vstack([theta0, theta0 + 10]), 5.0,
                                      groups=np.repeat([0, 1], 4), metric=G, s_eval=s)
    assert np.allclose(sol.theta[:, 0], closed, atol=1e-9)
    assert np.isclose(rth.spectral_gap_rate(G, 4, 8), 0.5 * np.linalg.eigvalsh(G)[0])


def test_within_cluster_spread():
    rng = np.random.default_rng(16)
    Z = rng.standard_normal((3, 7, 2))
    labels = np.array([0, 0, 1, 1, 1, 2, 2])
    V = rth.within_cluster_spread(Z, labels)
    for t in range(3):
        for a in range(3):
            pts = Z[t, labels == a]
            assert np.isclose(V[t, a], np.mean(np.sum((pts - pts.mean(0)) ** 2, axis=1)))
    Z[:, labels == 1] = 4.0
    assert np.all(rth.within_cluster_spread(Z, labels)[:, 1] == 0.0)


def test_truncation_spread_is_monotone_in_theta():
    rng = np.random.default_rng(17)
    X = rng.standard_normal((9, 2))
    thetas = np.linspace(-3, 3, 200)
    V = [rth.within_cluster_spread(np.maximum(X, t), np.zeros(9, dtype=int))[0] for t in thetas]
    assert np.all(np.diff(V) <= 1e-14) and V[-1] == 0.0


# ------------------------------------------------------------------ symbolic module
def test_symbolic_region_flow_and_crossing_time():
    out = srf.flow_on_region(3, 2)
    assert out["gradient_ok"] and out["solution_ok"] and out["crossing_ok"]
    sy = out["symbols"]
    f = sp.lambdify((sy["theta0"], sy["ybar"], sy["x"][2]), out["crossing_time"])
    x = np.array([0.0, 0.4, 1.0])
    closed = rth.crossing_times_beyond(x, 2.5, 0.6, 3)
    assert np.isclose(f(0.6, 2.5, 1.0), closed[0], rtol=1e-12)


def test_symbolic_two_layer_and_projector_identities():
    out = srf.two_layer_identities((1, 0), (0, 1))
    assert out["layer1_ok"] and out["layer2_ok"] and out["beta2_ok"] and out["network_ok"]
    proj = srf.projector_identities((1, 0))
    assert proj["idempotent_ok"] and proj["derivative_ok"] and proj["gradient_ok"]
    assert proj["diagonal_vanishes_ok"] and proj["offdiagonal_nonzero"]


def test_symbolic_metric_factor_and_spectral_gap():
    out = srf.scalar_metric_factor()
    assert out["JJt_ok"] and out["metric_factor_ok"]
    gap = srf.spectral_gap_ode(sp.Matrix([[4, 1], [1, sp.Rational(37, 50)]]))
    assert gap["ode_ok"] and gap["initial_ok"]
    c = sp.Symbol("c", positive=True)
    G = np.array([[4.0, 1.0], [1.0, 0.74]])
    rate = float(gap["slowest_rate"].subs(c, 1))
    assert np.isclose(rate, np.linalg.eigvalsh(G)[0], rtol=1e-12)


def test_symbolic_bad_inputs():
    with pytest.raises(ValueError, match="n_truncated"):
        srf.flow_on_region(3, 3)
    with pytest.raises(ValueError, match="pattern"):
        srf.projector_identities((2, 0))
    with pytest.raises(ValueError, match="G"):
        srf.spectral_gap_ode(sp.Matrix([[1, 2], [0, 1]]))


# ------------------------------------------------------------------ bad inputs
def test_bad_network_inputs():
    rng = np.random.default_rng(18)
    Ws, bs = random_network(rng, M=2, L=1)
    X = rng.standard_normal((4, 2))
    with pytest.raises(ValueError, match=r"weights\[0\] must be square"):
        rf.forward([np.ones((2, 3))] + Ws[1:], bs, X)
    with pytest.raises(ValueError, match=r"weights\[1\] is singular"):
        rf.forward([Ws[0], np.ones((2, 2))], bs, X)
    with pytest.raises(ValueError, match=r"weights\[1\] must have shape"):
        rf.forward([Ws[0], np.eye(3)], bs, X)
    with pytest.raises(ValueError, match=r"biases\[0\]"):
        rf.forward(Ws, [np.ones(3), bs[1]], X)
    with pytest.raises(ValueError, match="biases"):
        rf.forward(Ws, bs[:1], X)
    with pytest.raises(ValueError, match="X must have 2 columns"):
        rf.forward(Ws, bs, np.ones((4, 3)))
    with pytest.raises(ValueError, match="X must contain only finite"):
        rf.representation(Ws, bs, np.full((2, 2), np.nan))
    with pytest.raises(ValueError, match="W is singular"):
        rf.truncation_map(np.zeros((2, 2)), np.zeros(2), X)
    with pytest.raises(ValueError, match="beta"):
        rf.truncation_projector(np.eye(2), np.zeros(3), X)
    with pytest.raises(ValueError, match="Wc"):
        rf.truncate_chain(np.eye(2), np.zeros((1, 2)), X)
    with pytest.raises(ValueError, match="Y must have 2 columns"):
        rf.pullback_targets(Ws, bs, np.ones((3, 1)))
    with pytest.raises(ValueError, match="hidden_weights"):
        rf.bias_jacobian([])
    with pytest.raises(ValueError, match=r"hidden_weights\[0\] is singular"):
        rf.bias_metric([np.zeros((2, 2))])


def test_within_cluster_spread_bad_inputs():
    Z = np.arange(12.0).reshape(4, 3)
    with pytest.raises(ValueError, match="labels must be an integer array"):
        rth.within_cluster_spread(Z, np.array([0.0, 0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="labels must use every label"):
        rth.within_cluster_spread(Z, np.array([0, 0, 2, 2]))
    with pytest.raises(ValueError, match="labels must be non-negative"):
        rth.within_cluster_spread(Z, np.array([0, -1, 1, 1]))
    with pytest.raises(ValueError, match="Z"):
        rth.within_cluster_spread(np.ones(4), np.array([0, 0, 1, 1]))


def test_bad_flow_inputs():
    rng = np.random.default_rng(19)
    X, Ybar, labels, theta0 = two_clusters(rng)
    with pytest.raises(ValueError, match="Ybar must have the shape"):
        rth.effective_velocity(theta0, X, Ybar[:-1], labels)
    with pytest.raises(ValueError, match="Ybar must have the shape"):
        rf.input_cost(np.eye(2)[None], np.zeros((1, 2)), X, Ybar[:, :1])
    with pytest.raises(ValueError, match="groups"):
        rth.diagonal_truncation(X, theta0, labels[:-1])
    with pytest.raises(ValueError, match="groups"):
        rth.diagonal_truncation(X, theta0, labels + 1)
    with pytest.raises(ValueError, match="theta"):
        rth.diagonal_pattern(X, theta0[0], labels)
    with pytest.raises(ValueError, match="metric must be positive definite"):
        rth.diagonal_cost(theta0, X, Ybar, labels, -np.eye(2))
    with pytest.raises(ValueError, match="metric must be symmetric"):
        rth.effective_velocity(theta0, X, Ybar, labels, np.array([[1.0, 0.5], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="s_end"):
        rth.integrate_threshold_flow(X, Ybar, theta0, -1.0, groups=labels)
    with pytest.raises(ValueError, match="s_eval"):
        rth.integrate_threshold_flow(X, Ybar, theta0, 1.0, groups=labels, s_eval=[0.5, 0.1])
    with pytest.raises(ValueError, match="method"):
        rth.integrate_threshold_flow(X, Ybar, theta0, 1.0, groups=labels, method="Euler")
    with pytest.raises(ValueError, match="lr"):
        rtr.gradient_descent_thresholds(theta0, X, Ybar, lr=0.0, steps=3, groups=labels)
    with pytest.raises(ValueError, match="steps"):
        rtr.gradient_descent_thresholds(theta0, X, Ybar, lr=0.1, steps=-1, groups=labels)
    with pytest.raises(ValueError, match="log_every"):
        rtr.gradient_descent_thresholds(theta0, X, Ybar, lr=0.1, steps=2, groups=labels,
                                        log_every=0)
    with pytest.raises(ValueError, match="theta0"):
        rtr.gradient_descent_thresholds(theta0[0], X, Ybar, lr=0.1, steps=2, groups=labels)
    Ws = [np.eye(2), np.eye(2)]
    with pytest.raises(ValueError, match="lr"):
        rtr.gradient_descent_biases(Ws, [np.zeros(2)] * 2, X, Ybar, lr=-1.0, steps=2)
    with pytest.raises(ValueError, match="weights must hold at least one hidden layer"):
        rtr.gradient_descent_biases(Ws[:1], [np.zeros(2)], X, Ybar, lr=0.1, steps=2)
    with pytest.raises(ValueError, match="Ybar must have the shape"):
        rtr.gradient_descent_biases(Ws, [np.zeros(2)] * 2, X, Ybar[:-1], lr=0.1, steps=2)
    with pytest.raises(ValueError, match="ybar"):
        rth.exact_threshold_path(np.zeros(3), np.zeros(2), 0.0, 3)
    with pytest.raises(ValueError, match="n_total"):
        rth.exact_threshold_path(np.zeros(3), np.zeros(3), 0.0, 2)
    with pytest.raises(ValueError, match="ybar must lie beyond"):
        rth.crossing_times_beyond(np.array([0.0, 1.0]), 0.5, 0.2, 2)
    with pytest.raises(ValueError, match="theta0"):
        rth.crossing_times_beyond(np.array([0.0, 1.0]), 2.0, -0.5, 2)
    with pytest.raises(ValueError, match="rate_scale"):
        rth.spectral_gap_solution(np.zeros(2), np.ones(2), np.eye(2), -1.0, [0.0])
    with pytest.raises(ValueError, match="ybar"):
        rth.spectral_gap_solution(np.zeros(2), np.ones(3), np.eye(2), 1.0, [0.0])
    with pytest.raises(ValueError, match="n"):
        rth.spectral_gap_rate(np.eye(2), 5, 4)
    with pytest.raises(ValueError, match="labels|groups"):
        rth.within_cluster_spread(np.zeros((4, 2)), np.array([0, 0, 2, 2]))
    with pytest.raises(ValueError, match="Z"):
        rth.within_cluster_spread(np.zeros(4), np.zeros(4, dtype=int))
    with pytest.raises(ValueError, match="betas"):
        rf.kink_margin(np.eye(2)[None], np.zeros((2, 2)), X)
    with pytest.raises(ValueError, match="hidden layer"):
        rf.network_bias_gradient([np.eye(2)], [np.zeros(2)], X, Ybar)
    with pytest.raises(ValueError, match="Ybar"):
        rf.network_bias_cost([np.eye(2)] * 2, [np.zeros(2)] * 2, X, Ybar[:, :1])


def test_symbolic_identity_check_is_not_vacuous():
    W1 = srf.matrix_symbols("v", 2, 2)
    b1, z = srf.matrix_symbols("b", 2, 1), srf.matrix_symbols("z", 2, 1)
    beta = W1.inv() * b1
    # the identity relu(A z) = A tau(z) needs the same pattern on both sides
    same = srf.relu_on_pattern(W1 * z + b1, (1, 0)) - W1 * (
        srf.truncation_on_pattern(W1, beta, z, (1, 0)) + beta)
    mixed = srf.relu_on_pattern(W1 * z + b1, (1, 0)) - W1 * (
        srf.truncation_on_pattern(W1, beta, z, (0, 1)) + beta)
    assert srf._vanishes(same) and not srf._vanishes(mixed)


# ------------------------------------------------------------------ depth map, weight training
def test_diagonal_depth_map_matches_forward_and_needs_the_largest_threshold():
    rng = np.random.default_rng(21)
    Ws, bs = random_network(rng, M=3, L=4, diagonal=True)
    X = 2 * rng.standard_normal((50, 3))
    out = rf.diagonal_depth_map(Ws, bs, X)
    assert np.allclose(out, rf.forward(Ws, bs, X), atol=1e-11)
    # depth is redundant: one hidden layer with W_1 = I and threshold max_l theta^(l) gives the
    # same network function
    Wc, _, beta = rf.cumulative_parameters(Ws, bs)
    theta_hat = (-beta[:-1]).max(axis=0)
    shallow_W = [np.eye(3), Wc[-1]]
    shallow_b = [-theta_hat, Wc[-1] @ (theta_hat + beta[-1])]
    assert np.allclose(rf.forward(shallow_W, shallow_b, X), out, atol=1e-10)
    # no hidden layer: the affine map alone
    assert np.allclose(rf.diagonal_depth_map(Ws[-1:], bs[-1:], X), X @ Ws[-1].T + bs[-1])


def test_diagonal_depth_map_bad_inputs():
    rng = np.random.default_rng(22)
    Ws, bs = random_network(rng, M=2, L=2, diagonal=True)
    X = rng.standard_normal((4, 2))
    with pytest.raises(ValueError, match=r"weights\[1\] must be a positive diagonal"):
        rf.diagonal_depth_map([Ws[0], np.array([[1.0, 0.2], [0.0, 1.0]]), Ws[2]], bs, X)
    with pytest.raises(ValueError, match=r"weights\[0\] must be a positive diagonal"):
        rf.diagonal_depth_map([-Ws[0], Ws[1], Ws[2]], bs, X)
    with pytest.raises(ValueError, match="X must have 2 columns"):
        rf.diagonal_depth_map(Ws, bs, np.ones((3, 3)))


def test_cumulative_gradient_descent_step_and_batch():
    rng = np.random.default_rng(23)
    X = 0.3 * rng.standard_normal((3, 6, 2))
    Y = np.full_like(X, 1.5)
    W0 = np.eye(2) + 0.2 * rng.standard_normal((3, 2, 2))
    beta0 = -np.sort(X, axis=1)[:, :2].mean(axis=1)
    run = rtr.cumulative_gradient_descent(W0, beta0, X, Y, lr=0.05, steps=4)
    assert isinstance(run, rtr.CumulativeTrajectory) and isinstance(run, Trajectory)
    Ws, betas, losses = run.weights, run.betas, run.losses
    assert Ws.shape == (5, 3, 2, 2) and betas.shape == (5, 3, 2) and losses.shape == (5, 3)
    assert np.array_equal(run.final[0], Ws[-1]) and np.array_equal(run.final[1], betas[-1])
    for b in range(3):
        # every step is W <- W - lr grad_W C_in, beta <- beta - lr grad_beta C_in
        gW, gb = rf.input_cost_gradients(Ws[2, b][None], betas[2, b][None], X[b], Y[b])
        assert np.allclose(Ws[3, b], Ws[2, b] - 0.05 * gW[0], atol=1e-13)
        assert np.allclose(betas[3, b], betas[2, b] + -0.05 * gb[0], atol=1e-13)
        assert np.isclose(losses[2, b], rf.input_cost(Ws[2, b][None], betas[2, b][None],
                                                       X[b], Y[b]), rtol=1e-12)
        # the batch is a stack of independent runs
        single = rtr.cumulative_gradient_descent(W0[b], beta0[b], X[b], Y[b], lr=0.05, steps=4)
        assert np.allclose(single.weights[:, 0], Ws[:, b], atol=1e-13)
    rec = rtr.cumulative_gradient_descent(W0, beta0, X, Y, lr=0.05, steps=5, log_every=2)
    assert np.array_equal(rec.steps, [0, 2, 4, 5])          # steps 0, 2, 4 and the last, 5
    assert rec.weights.shape[0] == 4 and rec.losses.shape == (6, 3)


def test_cumulative_gradient_descent_diagonal_constraint_is_e1():
    """Diagonal W: the weight gradient has no diagonal, so W stays put and theta = -beta
    follows gradient descent on (E1)."""
    rng = np.random.default_rng(24)
    X = 0.3 * rng.standard_normal((8, 2))
    Y = np.full_like(X, 1.5)
    theta0 = np.sort(X, axis=0)[:2].mean(axis=0)
    W0 = np.diag([1.3, 0.7])
    run = rtr.cumulative_gradient_descent(W0, -theta0, X, Y, lr=0.1, steps=50, diagonal=True)
    assert np.array_equal(run.weights[-1, 0], W0)
    thetas = rtr.gradient_descent_thresholds(theta0, X, Y, lr=0.1, steps=50).snapshots
    assert np.allclose(-run.betas[:, 0], thetas[:, 0], atol=1e-12)
    # without the constraint the off-diagonal entries move
    Wu = rtr.cumulative_gradient_descent(W0, -theta0, X, Y, lr=0.1, steps=50).weights
    assert np.abs(Wu[-1, 0] - np.diag(np.diag(Wu[-1, 0]))).max() > 1e-3


def test_cumulative_gradient_descent_stops_when_a_weight_becomes_singular():
    X = np.array([[0.0, 0.0], [1.0, -1.0], [-1.0, 1.0]])
    W0 = np.array([[1.0, 1.0], [1.0, 1.0 + 1e-10]])         # condition number 4e10: accepted
    with pytest.raises(DivergenceError, match="step 1: a weight became singular"):
        rtr.cumulative_gradient_descent(W0, np.array([0.5, -0.5]), X, np.full_like(X, 2.0),
                                        lr=300.0, steps=5)


def test_cumulative_gradient_descent_bad_inputs():
    X = np.zeros((5, 2))
    with pytest.raises(ValueError, match="X"):
        rtr.cumulative_gradient_descent(np.eye(2), np.zeros(2), np.zeros(5), X, lr=0.1, steps=2)
    with pytest.raises(ValueError, match="Ybar"):
        rtr.cumulative_gradient_descent(np.eye(2), np.zeros(2), X, X[:-1], lr=0.1, steps=2)
    with pytest.raises(ValueError, match="W0"):
        rtr.cumulative_gradient_descent(np.eye(3), np.zeros(2), X, X, lr=0.1, steps=2)
    with pytest.raises(ValueError, match="W0 is singular"):
        rtr.cumulative_gradient_descent(np.zeros((2, 2)), np.zeros(2), X, X, lr=0.1, steps=2)
    with pytest.raises(ValueError, match="beta0"):
        rtr.cumulative_gradient_descent(np.eye(2), np.zeros(3), X, X, lr=0.1, steps=2)
    with pytest.raises(ValueError, match="lr"):
        rtr.cumulative_gradient_descent(np.eye(2), np.zeros(2), X, X, lr=0.0, steps=2)
    with pytest.raises(ValueError, match="steps"):
        rtr.cumulative_gradient_descent(np.eye(2), np.zeros(2), X, X, lr=0.1, steps=-1)
    with pytest.raises(ValueError, match="log_every"):
        rtr.cumulative_gradient_descent(np.eye(2), np.zeros(2), X, X, lr=0.1, steps=2, log_every=0)
    with pytest.raises(TypeError, match="diagonal"):
        rtr.cumulative_gradient_descent(np.eye(2), np.zeros(2), X, X, lr=0.1, steps=2, diagonal=1)
