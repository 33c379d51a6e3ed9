"""Deep linear networks (law of parsimony): oracles for every function of theory.deep_linear."""

import math

import numpy as np
import pytest
from scipy.stats import ortho_group

from theory import deep_linear as dl


@pytest.fixture
def rng():
    return np.random.default_rng(2024)


def finite_difference_grads(weights, target, h=1e-6, **kw):
    layers = [np.array(W, dtype=float) for W in weights]
    grads = []
    for l, W in enumerate(layers):
        G = np.zeros_like(W)
        for idx in np.ndindex(W.shape):
            plus = [X.copy() for X in layers]
            minus = [X.copy() for X in layers]
            plus[l][idx] += h
            minus[l][idx] -= h
            G[idx] = (dl.loss(plus, target, **kw) - dl.loss(minus, target, **kw)) / (2 * h)
        grads.append(G)
    return grads


def small_problem(rng, d=12, r=2, L=3, eps=0.3):
    Phi = dl.low_rank_target(d, [3.0, 1.5][:r], rng)
    W0 = dl.orthogonal_init(d, L, eps, rng)
    return Phi, W0


# -- initialisation and data ------------------------------------------------------------------
def test_haar_orthogonal_is_orthogonal_and_sign_fixed(rng):
    Q = dl.haar_orthogonal(6, rng, size=(3,))
    assert Q.shape == (3, 6, 6)
    np.testing.assert_allclose(np.swapaxes(Q, -1, -2) @ Q, np.broadcast_to(np.eye(6), Q.shape),
                               atol=1e-13)
    # sign fix: the R factor of Q itself has a positive diagonal
    _, R = np.linalg.qr(Q[0])
    assert np.all(np.abs(np.abs(np.diag(R)) - 1) < 1e-12)


def test_haar_orthogonal_first_moment_matches_scipy_haar():
    # E[Q_11^2] = 1/n for a Haar matrix; check our draw and scipy's ortho_group agree
    ours = dl.haar_orthogonal(4, np.random.default_rng(0), size=4000)[:, 0, 0]
    ref = ortho_group.rvs(4, size=4000, random_state=np.random.default_rng(1))[:, 0, 0]
    assert abs(np.mean(ours**2) - 0.25) < 0.02 and abs(np.mean(ref**2) - 0.25) < 0.02
    assert abs(np.mean(ours)) < 0.03       # no sign bias


def test_orthogonal_init_square_and_rectangular(rng):
    W = dl.orthogonal_init(5, 3, 0.4, rng)
    assert W.shape == (3, 5, 5)
    np.testing.assert_allclose(W[1].T @ W[1], 0.16 * np.eye(5), atol=1e-14)
    R = dl.orthogonal_init(5, 3, 0.4, rng, d_in=7, d_out=2)
    assert [M.shape for M in R] == [(5, 7), (5, 5), (2, 5)]
    np.testing.assert_allclose(R[0] @ R[0].T, 0.16 * np.eye(5), atol=1e-14)
    np.testing.assert_allclose(R[2] @ R[2].T, 0.16 * np.eye(2), atol=1e-14)


def test_gaussian_init_matches_orthogonal_norm(rng):
    W = dl.gaussian_init(6, 2, 0.5, rng, d_out=3)
    assert np.isclose(np.linalg.norm(W[0]), 0.5 * math.sqrt(6))
    assert np.isclose(np.linalg.norm(W[1]), 0.5 * math.sqrt(3))


def test_low_rank_target_has_the_given_spectrum(rng):
    Phi = dl.low_rank_target(9, [3.0, 1.5], rng)
    s = np.linalg.svd(Phi, compute_uv=False)
    np.testing.assert_allclose(s[:2], [3.0, 1.5], rtol=1e-13)
    assert np.all(s[2:] < 1e-13)


def test_observation_mask_counts(rng):
    M = dl.observation_mask((10, 10), 0.35, rng)
    assert M.sum() == 35 and set(np.unique(M)) <= {0.0, 1.0}


def test_classification_data(rng):
    X, Y, labels = dl.classification_data(3, 4, rng)
    assert X.shape == (12, 12) and Y.shape == (3, 12)
    np.testing.assert_allclose(X @ X.T, np.eye(12), atol=1e-13)
    np.testing.assert_array_equal(Y.argmax(axis=0), labels)
    assert np.all(np.bincount(labels) == 4)


# -- loss and gradients -----------------------------------------------------------------------
def test_end_to_end_and_loss(rng):
    W = rng.standard_normal((3, 4, 4))
    P = W[2] @ W[1] @ W[0]
    np.testing.assert_allclose(dl.end_to_end(W), P, rtol=1e-13)
    Phi = rng.standard_normal((4, 4))
    assert np.isclose(dl.loss(W, Phi), 0.5 * np.sum((P - Phi) ** 2))
    traj = np.stack([W, 2 * W])
    np.testing.assert_allclose(dl.end_to_end(traj)[1], 8 * P, rtol=1e-13)
    np.testing.assert_allclose(dl.loss(traj, Phi), [dl.loss(W, Phi), dl.loss(2 * W, Phi)])


def test_whitened_loss_equals_phi_loss_up_to_a_constant(rng):
    d, N = 5, 9
    X = dl.haar_orthogonal(N, rng)[:d]          # X X^T = I
    Y = rng.standard_normal((d, N))
    Phi = Y @ X.T
    W1, W2 = rng.standard_normal((2, 3, d, d))
    c1 = dl.loss(W1, Y, inputs=X) - dl.loss(W1, Phi)
    c2 = dl.loss(W2, Y, inputs=X) - dl.loss(W2, Phi)
    assert np.isclose(c1, c2, rtol=1e-10)
    np.testing.assert_allclose(dl.layer_gradients(W1, Y, inputs=X), dl.layer_gradients(W1, Phi),
                               atol=1e-11)


@pytest.mark.parametrize("L", [1, 2, 3, 4])
def test_gradients_match_finite_differences(rng, L):
    W = rng.standard_normal((L, 4, 4)) * 0.8
    Phi = rng.standard_normal((4, 4))
    value, G = dl.loss_and_gradients(W, Phi)
    assert np.isclose(value, dl.loss(W, Phi))
    fd = finite_difference_grads(W, Phi)
    np.testing.assert_allclose(G, np.stack(fd), atol=1e-7)


def test_gradients_rectangular_with_inputs_and_mask(rng):
    W = dl.orthogonal_init(5, 3, 0.9, rng, d_in=4, d_out=3)
    X, Y = rng.standard_normal((4, 6)), rng.standard_normal((3, 6))
    _, G = dl.loss_and_gradients(W, Y, inputs=X)
    for g, f in zip(G, finite_difference_grads(W, Y, inputs=X)):
        np.testing.assert_allclose(g, f, atol=1e-7)
    Wsq = rng.standard_normal((2, 4, 4))
    Phi = rng.standard_normal((4, 4))
    M = dl.observation_mask((4, 4), 0.5, rng)
    _, G = dl.loss_and_gradients(Wsq, Phi, mask=M)
    np.testing.assert_allclose(G, np.stack(finite_difference_grads(Wsq, Phi, mask=M)), atol=1e-7)


# -- training ---------------------------------------------------------------------------------
def test_train_gd_matches_manual_steps(rng):
    Phi, W0 = small_problem(rng, d=6)
    traj = dl.train(W0, Phi, lr=0.05, steps=5, stride=2)
    W = W0.copy()
    manual = [W.copy()]
    for _ in range(5):
        W = W - 0.05 * dl.layer_gradients(W, Phi)
        manual.append(W.copy())
    np.testing.assert_array_equal(traj.steps, [0, 2, 4, 5])
    np.testing.assert_allclose(traj.weights, np.stack([manual[i] for i in (0, 2, 4, 5)]),
                               atol=1e-14)
    np.testing.assert_allclose(traj.losses, [dl.loss(M, Phi) for M in manual], rtol=1e-12)
    assert traj.n_steps == 5 and not traj.converged
    np.testing.assert_allclose(traj.layer(2), traj.weights[:, 1])
    np.testing.assert_allclose(traj.final, manual[-1], atol=1e-14)


def test_train_momentum_and_lr_scale_match_manual_steps(rng):
    Phi, W0 = small_problem(rng, d=6)
    traj = dl.train(W0, Phi, lr=0.02, steps=4, optimizer="momentum", momentum=0.9,
                    lr_scale=[0.5, 1.0, 2.0])
    W, buf = W0.copy(), np.zeros_like(W0)
    scale = np.array([0.5, 1.0, 2.0])[:, None, None]
    for _ in range(4):
        buf = 0.9 * buf + dl.layer_gradients(W, Phi)
        W = W - 0.02 * scale * buf
    np.testing.assert_allclose(traj.final, W, atol=1e-14)


def test_stacked_momentum_update_equals_the_per_layer_update(rng):
    # uniform layers without lr_scale take the whole-stack momentum update
    Phi, W0 = small_problem(rng, d=6)
    stacked = dl.train(W0, Phi, lr=0.02, steps=30, optimizer="momentum", momentum=0.8)
    per_layer = dl.train(W0, Phi, lr=0.02, steps=30, optimizer="momentum", momentum=0.8,
                         lr_scale=[1.0, 1.0, 1.0])
    np.testing.assert_allclose(stacked.weights, per_layer.weights, atol=1e-14)
    np.testing.assert_allclose(stacked.losses, per_layer.losses, rtol=1e-13)


def test_train_adam_first_step_is_sign_step(rng):
    Phi, W0 = small_problem(rng, d=5)
    traj = dl.train(W0, Phi, lr=1e-3, steps=1, optimizer="adam", adam_eps=1e-30)
    G = dl.layer_gradients(W0, Phi)
    np.testing.assert_allclose(traj.final, W0 - 1e-3 * np.sign(G), atol=1e-12)


def test_train_rectangular_and_tol_stop(rng):
    X, Y, _ = dl.classification_data(2, 3, rng)
    W0 = dl.orthogonal_init(6, 3, 0.9, rng, d_out=2)
    traj = dl.train(W0, Y, inputs=X, lr=0.2, steps=5000, tol=1e-8, stride=100)
    assert traj.converged and traj.losses[-1] < 1e-8 <= traj.losses[-2]
    assert isinstance(traj.weights, tuple) and traj.layer(3).shape[1:] == (2, 6)
    assert traj.steps[-1] == traj.n_steps


def test_train_raises_divergence_error_with_step_and_loss(rng):
    Phi, W0 = small_problem(rng, d=6, eps=1.0)
    with pytest.raises(dl.DivergenceError, match="step") as info:
        dl.train(W0, 50 * Phi, lr=5.0, steps=200)
    assert isinstance(info.value, ValueError) and info.value.step > 0
    # stopped either by a non-finite loss or by growth beyond GROWTH_BOUND x the initial loss
    initial = dl.loss(W0, 50 * Phi)
    assert not math.isfinite(info.value.loss) or info.value.loss > 1e8 * initial
    assert "lower the learning rate" in str(info.value)


# -- the invariant frame and the block structure ---------------------------------------------
def test_frame_is_orthogonal_and_chained(rng):
    Phi, W0 = small_problem(rng)
    fr = dl.invariant_frame(W0, Phi, 2)
    O = W0 / 0.3
    assert fr.k == 4 and fr.depth == 3 and fr.d == 12 and np.isclose(fr.eps, 0.3)
    for l in range(3):
        np.testing.assert_allclose(fr.U[l].T @ fr.U[l], np.eye(12), atol=1e-13)
        np.testing.assert_allclose(fr.U[l], O[l] @ fr.V[l], atol=1e-13)
        if l:
            np.testing.assert_allclose(fr.V[l], fr.U[l - 1], atol=1e-15)
    # S contains V_Phi and O^T U_Phi
    U, _, Vt = np.linalg.svd(Phi)
    S = fr.V[0][:, :4]
    Ototal = O[2] @ O[1] @ O[0]
    for B in (Vt[:2].T, Ototal.T @ U[:, :2]):
        assert np.linalg.norm(B - S @ (S.T @ B)) < 1e-12


def test_gd_trajectory_is_exactly_block_diagonal(rng):
    Phi, W0 = small_problem(rng)
    traj = dl.train(W0, Phi, lr=0.05, steps=300, stride=50)
    fr = dl.invariant_frame(W0, Phi, 2)
    rho = dl.complement_scalar_gd(0.3, 0.05, 300, 3)[traj.steps]
    off, comp, blocks = dl.block_residual(traj.weights, fr, rho)
    assert off.max() < 1e-12 and comp.max() < 1e-12
    np.testing.assert_allclose(blocks[0], 0.3 * np.broadcast_to(np.eye(4), (3, 4, 4)),
                               atol=1e-14)
    # and the structure is non-trivial: the upper block has moved
    assert np.linalg.norm(blocks[-1] - blocks[0]) > 0.1


def test_momentum_trajectory_is_block_diagonal_with_momentum_scalar(rng):
    Phi, W0 = small_problem(rng)
    traj = dl.train(W0, Phi, lr=0.02, steps=200, optimizer="momentum", stride=20)
    fr = dl.invariant_frame(W0, Phi, 2)
    rho = dl.complement_scalar_gd(0.3, 0.02, 200, 3, momentum=0.9)[traj.steps]
    off, comp, _ = dl.block_residual(traj.weights, fr, rho)
    assert off.max() < 1e-11 and comp.max() < 1e-11


def test_thin_and_randomized_frames_span_the_same_S(rng):
    Phi, W0 = small_problem(rng)
    full = dl.invariant_frame(W0, Phi, 2)
    thin = dl.invariant_frame(W0, Phi, 2, thin=True)
    fast = dl.invariant_frame(W0, Phi, 2, thin=True, svd="randomized", rng=rng)
    assert thin.thin and not full.thin and thin.U.shape == (3, 12, 4)
    for fr in (thin, fast):
        for l in range(3):      # same spans of the first 2r columns, layer by layer
            assert dl.linalg.subspace_distance(fr.U[l], full.U[l][:, :4]) < 1e-12
            assert dl.linalg.subspace_distance(fr.V[l], full.V[l][:, :4]) < 1e-12
    # the compressed chain from a thin frame gives the same loss curve
    a = dl.train_compressed(full, Phi, lr=0.05, steps=30)
    b = dl.train_compressed(fast, Phi, lr=0.05, steps=30)
    np.testing.assert_allclose(a.losses, b.losses, rtol=1e-11)
    with pytest.raises(ValueError, match="full frame"):
        dl.block_residual(W0[None], thin, 0.3)
    with pytest.raises(ValueError, match="rng"):
        dl.invariant_frame(W0, Phi, 2, svd="randomized")
    with pytest.raises(ValueError, match="svd"):
        dl.invariant_frame(W0, Phi, 2, svd="lanczos")


def test_stacked_gd_update_equals_the_per_layer_update(rng, monkeypatch):
    Phi, W0 = small_problem(rng, d=9, L=4)
    small = dl.train(W0, Phi, lr=0.03, steps=40)                         # small-chain loop
    plain = dl.train(W0, Phi, lr=0.03, steps=40, lr_scale=[1, 1, 1, 1])  # per-layer update
    monkeypatch.setattr(dl, "_SMALL_WIDTH", 0)
    stacked = dl.train(W0, Phi, lr=0.03, steps=40)                       # whole-stack update
    for run in (small, stacked):
        np.testing.assert_allclose(run.weights, plain.weights, atol=1e-13)
        np.testing.assert_allclose(run.losses, plain.losses, rtol=1e-12)
    one = dl.train(W0[:1], Phi, lr=0.03, steps=3)                        # L = 1
    np.testing.assert_allclose(one.final[0], W0[0] - 0.03 * (W0[0] - Phi) * (1 - (1 - 0.03) ** 3)
                               / 0.03, atol=1e-14)


def test_small_chain_loop_matches_the_generic_loop(rng):
    # the lean GD loop for small square layers keeps train's snapshots, tol stop and losses
    Phi, W0 = small_problem(rng, d=6, L=3)
    ones = [1.0, 1.0, 1.0]              # lr_scale sends train through the generic loop
    for kw in (dict(steps=23, stride=5), dict(steps=20, stride=5), dict(steps=0),
               dict(steps=500, stride=7, tol=1e-3), dict(steps=5, tol=1e9)):
        small = dl.train(W0, Phi, lr=0.05, **kw)
        plain = dl.train(W0, Phi, lr=0.05, lr_scale=ones, **kw)
        np.testing.assert_array_equal(small.steps, plain.steps)
        assert small.converged == plain.converged and small.n_steps == plain.n_steps
        np.testing.assert_allclose(small.weights, plain.weights, atol=1e-14)
        np.testing.assert_allclose(small.losses, plain.losses, rtol=1e-12)
    assert dl.train(W0, Phi, lr=0.05, steps=500, tol=1e-3).converged
    with pytest.raises(dl.DivergenceError, match="grew more than"):
        dl.train(W0, 1e6 * Phi, lr=1.0, steps=3)


def test_frame_degenerate_input_raises(rng):
    # O = I and a symmetric Phi: span(V_Phi) = span(U_Phi), dim S = r < 2r
    V = dl.haar_orthogonal(8, rng)[:, :2]
    Phi = V @ np.diag([2.0, 1.0]) @ V.T
    W0 = 0.5 * np.broadcast_to(np.eye(8), (3, 8, 8)).copy()
    with pytest.raises(ValueError, match="dim S < 2r"):
        dl.invariant_frame(W0, Phi, 2)
    with pytest.raises(ValueError, match="rank"):
        dl.invariant_frame(W0, Phi, 5)


def test_complement_scalars():
    rho = dl.complement_scalar_gd(0.5, 0.1, 3, 2)
    expected = [0.5]
    for _ in range(3):
        expected.append(expected[-1] - 0.1 * expected[-1] ** 3)
    np.testing.assert_allclose(rho, expected, rtol=1e-15)
    # flow closed form solves rho' = -rho^{2L-1}
    t = np.array([0.0, 0.7, 3.0])
    r = dl.complement_scalar_flow(0.4, t, 3)
    h = 1e-6
    deriv = (dl.complement_scalar_flow(0.4, t + h, 3) - dl.complement_scalar_flow(0.4, t + 2 * h, 3)
             ) / (-h)
    np.testing.assert_allclose(deriv, -r**5, rtol=1e-4)
    assert r[0] == pytest.approx(0.4)
    np.testing.assert_allclose(dl.complement_scalar_flow(0.4, t, 1), 0.4 * np.exp(-t))
    # GD converges to the flow at rate eta
    flow = dl.complement_scalar_flow(0.3, 200, 3)
    e1 = abs(dl.complement_scalar_gd(0.3, 0.1, 2000, 3)[-1] - flow)
    e2 = abs(dl.complement_scalar_gd(0.3, 0.05, 4000, 3)[-1] - flow)
    assert 1.8 < e1 / e2 < 2.2
    assert dl.complement_loss(0.5, 2, 4) == pytest.approx(0.5 * 4 * 0.5**4)


def test_complement_scalar_divergence_raises():
    with pytest.raises(dl.DivergenceError):
        dl.complement_scalar_gd(10.0, 1.0, 50, 3)


def test_compressed_network_reproduces_full_trajectory(rng):
    Phi, W0 = small_problem(rng)
    traj = dl.train(W0, Phi, lr=0.05, steps=200, stride=40)
    fr = dl.invariant_frame(W0, Phi, 2)
    comp = dl.train_compressed(fr, Phi, lr=0.05, steps=200, stride=40)
    rho = dl.complement_scalar_gd(0.3, 0.05, 200, 3)
    rec = dl.compressed_end_to_end(comp.weights, fr, rho[comp.steps])
    np.testing.assert_allclose(rec, dl.end_to_end(traj.weights), atol=1e-12)
    np.testing.assert_allclose(traj.losses, comp.losses + dl.complement_loss(rho, 3, 8),
                               atol=1e-12)
    init, phi_tilde = dl.compressed_problem(fr, Phi)
    # Phi~ carries all of Phi: same singular values
    np.testing.assert_allclose(np.linalg.svd(phi_tilde, compute_uv=False)[:2], [3.0, 1.5])
    np.testing.assert_allclose(init, 0.3 * np.broadcast_to(np.eye(4), (3, 4, 4)))


def test_factored_compressed_network_product(rng):
    Phi, W0 = small_problem(rng)
    fr = dl.invariant_frame(W0, Phi, 2)
    net = dl.factored_compressed_network(fr)
    assert [W.shape for W in net] == [(4, 12), (4, 4), (4, 4), (4, 4), (12, 4)]
    k = 4
    # product = W_{L:1}(0) projected on S: eps^L U_{L,1} V_{1,1}^T
    np.testing.assert_allclose(dl.end_to_end(net),
                               0.3**3 * fr.U[-1][:, :k] @ fr.V[0][:, :k].T, atol=1e-14)
    # with frozen outer factors (gamma = 0) it trains like the 2r chain (rho^L term dropped)
    outer = dl.train(net, Phi, lr=0.05, steps=50, lr_scale=[0, 1, 1, 1, 0])
    chain = dl.train_compressed(fr, Phi, lr=0.05, steps=50)
    np.testing.assert_allclose(outer.losses, chain.losses, atol=1e-13)
    np.testing.assert_allclose(np.stack(outer.final[1:4]), chain.final, atol=1e-14)


# -- diagnostics ------------------------------------------------------------------------------
def test_balancedness_zero_at_orthogonal_init_and_one_step_identity(rng):
    Phi, W0 = small_problem(rng)
    assert np.abs(dl.balancedness(W0)).max() < 1e-15
    W = W0 + 0.1 * rng.standard_normal(W0.shape)
    G = dl.layer_gradients(W, Phi)
    eta = 0.01
    change = dl.balancedness(W - eta * G) - dl.balancedness(W)
    remainder = eta**2 * (np.swapaxes(G[1:], -1, -2) @ G[1:] - G[:-1] @ np.swapaxes(G[:-1], -1, -2))
    np.testing.assert_allclose(change, remainder, atol=1e-14)


def test_large_singular_subspaces(rng):
    U = dl.haar_orthogonal(6, rng)
    V = dl.haar_orthogonal(6, rng)
    s = np.array([3.0, 0.5, 0.5, 0.5, 0.5, 0.1])
    left, right = dl.large_singular_subspaces(U @ np.diag(s) @ V.T, 0.5)
    assert left.shape == (6, 2) and right.shape == (6, 2)
    P = left @ left.T
    assert np.linalg.norm(P @ U[:, [0, 5]] - U[:, [0, 5]]) < 1e-10


def test_layer_alignment_is_exact_on_a_gd_trajectory(rng):
    Phi, W0 = small_problem(rng)
    traj = dl.train(W0, Phi, lr=0.05, steps=100, stride=20)
    rho = dl.complement_scalar_gd(0.3, 0.05, 100, 3)[traj.steps]
    sines = dl.layer_alignment(traj.weights, rho)
    assert sines.shape == (6, 2)
    assert np.all(np.isnan(sines[0]))          # at init every singular value equals rho
    assert np.nanmax(sines[1:]) < 1e-10
    # unrelated random layers are not aligned
    W = rng.standard_normal((1, 3, 12, 2)) @ rng.standard_normal((1, 3, 2, 12))   # rank 2
    assert np.nanmin(dl.layer_alignment(W, np.array([0.0]))) > 0.5


def test_completion_errors():
    Phi = np.arange(4.0).reshape(2, 2)
    M = np.array([[1.0, 0.0], [0.0, 1.0]])
    train, test = dl.completion_errors(Phi + np.array([[1.0, 2.0], [0.0, 0.0]]), Phi, M)
    assert train == pytest.approx(0.5 * 1 / 4) and test == pytest.approx(0.5 * 4 / 4)


def test_feature_separation_closed_forms(rng):
    K, n = 3, 4
    X, Y, labels = dl.classification_data(K, n, rng)
    N = K * n
    W = 0.5 * np.broadcast_to(np.eye(N), (3, N, N)).copy()
    D = dl.feature_separation(W, X, labels)
    # D_0 closed form; scaling every feature by the same factor keeps D
    np.testing.assert_allclose(D, dl.separation_d0(n, N) * np.ones(3), rtol=1e-12)
    # a layer that kills within-class directions only: D_1 = 0 ... use projector onto means
    means = X @ Y.T / n
    Pm = means @ np.linalg.pinv(means)
    D = dl.feature_separation(np.stack([Pm, np.eye(N)]), X, labels)
    assert D[1] < 1e-24


def test_separation_rate_and_fit():
    assert dl.separation_d0(10, 50) == pytest.approx(0.9 / (0.1 - 0.02))
    assert dl.predicted_separation_ratio(0.5, 10, 4) == pytest.approx(0.25 * 10 ** -0.25)
    ratio, r2 = dl.log_linear_fit(3.0 * 0.2 ** np.arange(6))
    assert ratio == pytest.approx(0.2) and r2 == pytest.approx(1.0)
    _, r2 = dl.log_linear_fit([1.0, 0.1, 1.0, 0.1])
    assert r2 < 0.5


# -- bad input ------------------------------------------------------------------------------
@pytest.mark.parametrize("call, match", [
    (lambda r: dl.haar_orthogonal(0, r), "n"),
    (lambda r: dl.haar_orthogonal(3, "seed"), "rng"),
    (lambda r: dl.orthogonal_init(4, 3, -1.0, r), "eps"),
    (lambda r: dl.orthogonal_init(4, 0, 1.0, r), "depth"),
    (lambda r: dl.gaussian_init(4, 2, 0.0, r), "eps"),
    (lambda r: dl.low_rank_target(3, [1.0, -1.0], r), "singular_values"),
    (lambda r: dl.low_rank_target(2, [1.0, 1.0, 1.0], r), "singular_values"),
    (lambda r: dl.observation_mask((3, 3), 1.5, r), "fraction"),
    (lambda r: dl.classification_data(1, 3, r), "n_classes"),
    (lambda r: dl.end_to_end(np.ones((2, 3))), "weights"),
    (lambda r: dl.end_to_end([np.ones((3, 2)), np.ones((3, 2))]), "weights"),
    (lambda r: dl.loss(np.ones((2, 3, 3)), np.ones((2, 2))), "target"),
    (lambda r: dl.loss(np.full((2, 3, 3), np.nan), np.ones((3, 3))), "weights"),
    (lambda r: dl.loss_and_gradients(np.ones((2, 3, 3)), np.ones((3, 3)),
                                     mask=np.full((3, 3), 0.5)),
     "mask"),
    (lambda r: dl.loss_and_gradients(np.ones((2, 3, 3)), np.ones((3, 4)), inputs=np.ones((2, 4))),
     "inputs"),
    (lambda r: dl.layer_gradients(np.ones((2, 3, 3)), np.ones((3, 3)), inputs=np.ones((3, 3)),
                                  mask=np.ones((3, 3))), "inputs or mask"),
    (lambda r: dl.train(np.ones((2, 3, 3)), np.ones((3, 3)), lr=-0.1, steps=3), "lr"),
    (lambda r: dl.train(np.ones((2, 3, 3)), np.ones((3, 3)), lr=0.1, steps=-3), "steps"),
    (lambda r: dl.train(np.ones((2, 3, 3)), np.ones((3, 3)), lr=0.1, steps=3, stride=0), "stride"),
    (lambda r: dl.train(np.ones((2, 3, 3)), np.ones((3, 3)), lr=0.1, steps=3, optimizer="sgd"),
     "optimizer"),
    (lambda r: dl.train(np.ones((2, 3, 3)), np.ones((3, 3)), lr=0.1, steps=3, lr_scale=[1.0]),
     "lr_scale"),
    (lambda r: dl.train(np.ones((2, 3, 3)), np.ones((3, 3)), lr=0.1, steps=3, tol=-1.0), "tol"),
    (lambda r: dl.train(np.ones((2, 3, 3)), np.ones((3, 3)), lr=0.1, steps=3, betas=0.9),
     "betas"),
    (lambda r: dl.train(np.ones((2, 3, 3)), np.ones((3, 3)), lr=0.1, steps=3, betas=(0.9,)),
     "betas"),
    (lambda r: dl.train(np.ones((2, 3, 3)), np.ones((3, 3)), lr=0.1, steps=3,
                        optimizer=np.ones(2)), "optimizer"),
    (lambda r: dl.observation_mask((3, 0), 0.5, r), "shape"),
    (lambda r: dl.observation_mask(-3, 0.5, r), "shape"),
    (lambda r: dl.observation_mask((), 0.5, r), "shape"),
    (lambda r: dl.observation_mask((3, 3), 0.5, 0), "rng"),
    (lambda r: dl.invariant_frame(np.ones((2, 3, 3)), np.ones((3, 3)), 1), "weights0"),
    (lambda r: dl.invariant_frame(np.ones((2, 3, 4)), np.ones((3, 3)), 1), "weights0"),
    (lambda r: dl.invariant_frame(dl.orthogonal_init(4, 2, 1.0, r), np.ones((3, 3)), 1), "target"),
    (lambda r: dl.invariant_frame(dl.orthogonal_init(4, 2, 1.0, r), np.ones((4, 4)), 0), "rank"),
    (lambda r: dl.rotated_blocks(np.ones((2, 4, 4)), "frame"), "frame"),
    (lambda r: dl.complement_scalar_gd(0.0, 0.1, 3, 2), "eps"),
    (lambda r: dl.complement_scalar_gd(0.1, 0.1, 3, 0), "depth"),
    (lambda r: dl.complement_scalar_flow(0.1, -1.0, 2), "time"),
    (lambda r: dl.complement_loss(0.1, 2, -1), "m"),
    (lambda r: dl.compressed_problem("frame", np.ones((3, 3))), "frame"),
    (lambda r: dl.compressed_end_to_end(np.ones((3, 3)), "frame", 0.1), "frame"),
    (lambda r: dl.factored_compressed_network(None), "frame"),
    (lambda r: dl.balancedness(np.ones((1, 3, 3))), "weights"),
    (lambda r: dl.large_singular_subspaces(np.ones(3), 0.1), "W"),
    (lambda r: dl.feature_separation(np.ones((2, 3, 3)), np.ones((3, 4)), np.array([0, 0, 1])),
     "labels"),
    (lambda r: dl.feature_separation(np.ones((2, 3, 3)), np.ones((2, 4)), np.array([0, 0, 1, 1])),
     "inputs"),
    (lambda r: dl.separation_d0(5, 5), "n_samples"),
    (lambda r: dl.predicted_separation_ratio(0.5, 0, 2), "per_class"),
    (lambda r: dl.log_linear_fit([1.0, -1.0, 2.0]), "values"),
    (lambda r: dl.layer_alignment(np.ones((2, 3, 3)), np.ones(2)), "weights"),
    (lambda r: dl.layer_alignment(np.ones((2, 2, 3, 3)), np.ones(3)), "rho"),
    (lambda r: dl.completion_errors(np.ones((2, 2)), np.ones((2, 3)), np.ones((2, 2))), "shape"),
])
def test_bad_input_raises_value_error_naming_the_argument(rng, call, match):
    with pytest.raises(ValueError, match=match):
        call(rng)


@pytest.mark.parametrize("shape", [None, "3x3", 2.5, (3.0, 3)])
def test_observation_mask_shape_of_the_wrong_kind(rng, shape):
    with pytest.raises(TypeError, match="shape"):
        dl.observation_mask(shape, 0.5, rng)


def test_frame_functions_validate_shapes(rng):
    Phi, W0 = small_problem(rng)
    fr = dl.invariant_frame(W0, Phi, 2)
    with pytest.raises(ValueError, match="weights"):
        dl.block_residual(np.ones((2, 3, 5, 5)), fr, 0.1)
    with pytest.raises(ValueError, match="rho"):
        dl.block_residual(np.stack([W0, W0]), fr, np.ones(3))
    with pytest.raises(ValueError, match="target"):
        dl.compressed_problem(fr, np.ones((3, 3)))
    with pytest.raises(ValueError, match="blocks"):
        dl.compressed_end_to_end(np.ones((2, 3, 3, 3)), fr, np.ones(2))
    with pytest.raises(ValueError, match="l must be"):
        dl.train(W0, Phi, lr=0.1, steps=1).layer(4)


# -- matrix completion on the observed entries --------------------------------------------------
def completion_problem(rng, d=14, r=2, fraction=0.3):
    Phi = dl.low_rank_target(d, [3.0, 1.5][:r], rng)
    M = dl.observation_mask((d, d), fraction, rng)
    return Phi, M


def test_observed_entries_are_row_major_and_match_the_mask(rng):
    Phi, M = completion_problem(rng)
    rows, cols, vals = dl.observed_entries(Phi, M)
    assert rows.size == M.sum()
    np.testing.assert_array_equal(rows * 14 + cols, np.flatnonzero(M))
    np.testing.assert_array_equal(vals, Phi[M == 1])


def test_masked_residual_equals_the_dense_reference(rng):
    # random factors of a rectangular product, random (not sorted) observed pairs
    A, B = rng.standard_normal((9, 4)), rng.standard_normal((4, 7))
    target = rng.standard_normal((9, 7))
    M = dl.observation_mask((9, 7), 0.4, rng)
    rows, cols, vals = dl.observed_entries(target, M)
    shuffle = rng.permutation(rows.size)
    gathered = dl.masked_residual(A, B, rows[shuffle], cols[shuffle], vals[shuffle])
    dense = dl.masked_residual_dense(A, B, target, M)
    np.testing.assert_allclose(gathered, dense[rows[shuffle], cols[shuffle]], rtol=0,
                               atol=1e-14)
    assert np.all(dense[M == 0] == 0)
    # half the squared residual is the masked sum loss of the two-layer network (B, A)
    assert np.isclose(0.5 * gathered @ gathered, dl.loss([B, A], target, mask=M), rtol=1e-13)


def test_train_observed_equals_dense_masked_training(rng):
    Phi, M = completion_problem(rng)
    rows, cols, vals = dl.observed_entries(Phi, M)
    W0 = dl.orthogonal_init(14, 3, 0.3, rng)
    net = dl.factored_compressed_network(dl.invariant_frame(W0, M * Phi, 2))
    scale = [0.1, 1.0, 1.0, 1.0, 0.1]
    dense = dl.train(net, Phi, mask=M, lr=0.05, steps=60, lr_scale=scale, stride=20)
    sparse = dl.train_observed(net, rows, cols, vals, lr=0.05, steps=60, lr_scale=scale,
                               stride=20)
    np.testing.assert_allclose(sparse.losses, dense.losses, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(sparse.steps, dense.steps)
    for a, b in zip(sparse.weights, dense.weights):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-13)
    # a depth-2 narrow network, every layer trained, observed pairs in shuffled order
    narrow = dl.narrow_network(4, 2, 14, 0.3, rng)
    order = rng.permutation(rows.size)
    dense = dl.train(narrow, Phi, mask=M, lr=0.05, steps=40)
    sparse = dl.train_observed(narrow, rows[order], cols[order], vals[order], lr=0.05, steps=40)
    np.testing.assert_allclose(sparse.losses, dense.losses, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(sparse.final[0], dense.final[0], rtol=0, atol=1e-13)


def test_train_observed_frozen_factors_stay_and_tol_stops(rng):
    Phi, M = completion_problem(rng)
    rows, cols, vals = dl.observed_entries(Phi, M)
    net = dl.narrow_network(4, 3, 14, 0.5, rng)
    run = dl.train_observed(net, rows, cols, vals, lr=0.05, steps=50, lr_scale=[0, 1, 0])
    np.testing.assert_array_equal(run.final[0], net[0])
    np.testing.assert_array_equal(run.final[2], net[2])
    assert not np.allclose(run.final[1], net[1])
    stop = dl.train_observed(net, rows, cols, vals, lr=0.05, steps=500, tol=run.losses[10])
    assert stop.converged and stop.n_steps <= 11


def test_narrow_network_shapes_and_orthogonality(rng):
    net = dl.narrow_network(4, 3, 10, 0.5, rng)
    assert [W.shape for W in net] == [(4, 10), (4, 4), (10, 4)]
    np.testing.assert_allclose(net[0] @ net[0].T, 0.25 * np.eye(4), atol=1e-14)
    np.testing.assert_allclose(net[2].T @ net[2], 0.25 * np.eye(4), atol=1e-14)


# -- other inits and ReLU networks ---------------------------------------------------------------
def test_uniform_init_matches_orthogonal_norm_and_is_bounded(rng):
    W = dl.uniform_init(6, 3, 0.5, rng, d_out=3)
    assert [M.shape for M in W] == [(6, 6), (6, 6), (3, 6)]
    assert np.isclose(np.linalg.norm(W[0]), 0.5 * math.sqrt(6))
    assert np.isclose(np.linalg.norm(W[2]), 0.5 * math.sqrt(3))
    # U(-1, 1) entries have max |w| <= 1 and rms 1/sqrt(3): max / rms is at most sqrt(3) and
    # close to it for many entries (a Gaussian layer of this size gives about 4.5)
    big = dl.uniform_init(200, 2, 1.0, np.random.default_rng(0))[0]
    peak = np.max(np.abs(big)) / np.sqrt(np.mean(big**2))
    assert math.sqrt(3) * 0.99 < peak <= math.sqrt(3) * 1.01


def test_relu_features_reduce_to_linear_features_for_nonnegative_data(rng):
    W = [np.abs(rng.standard_normal((5, 4))), np.abs(rng.standard_normal((5, 5))),
         rng.standard_normal((2, 5))]
    X = np.abs(rng.standard_normal((4, 6)))
    H = dl.relu_features(W, X)
    np.testing.assert_allclose(H[2], W[1] @ W[0] @ X, rtol=1e-14)
    labels = np.array([0, 0, 0, 1, 1, 1])
    np.testing.assert_allclose(dl.feature_separation(W, X, labels, activation="relu"),
                               dl.feature_separation(W, X, labels), rtol=1e-13)


def test_relu_gradients_match_finite_differences(rng):
    W = [rng.standard_normal((4, 3)), rng.standard_normal((4, 4)), rng.standard_normal((2, 4))]
    X, Y = rng.standard_normal((3, 5)), rng.standard_normal((2, 5))
    value, grads = dl.relu_loss_and_gradients(W, Y, X)
    h = 1e-6
    for l, Wl in enumerate(W):
        for idx in np.ndindex(Wl.shape):
            plus = [M.copy() for M in W]
            minus = [M.copy() for M in W]
            plus[l][idx] += h
            minus[l][idx] -= h
            fd = (dl.relu_loss_and_gradients(plus, Y, X)[0]
                  - dl.relu_loss_and_gradients(minus, Y, X)[0]) / (2 * h)
            assert abs(fd - grads[l][idx]) < 1e-6
    out = W[2] @ np.maximum(W[1] @ np.maximum(W[0] @ X, 0), 0)
    assert np.isclose(value, 0.5 * np.sum((out - Y) ** 2))


def test_train_relu_decreases_the_loss_and_stops_at_tol(rng):
    X, Y, _ = dl.classification_data(3, 4, rng)
    W0 = dl.orthogonal_init(12, 3, 0.8, rng, d_out=3)
    start = dl.relu_loss_and_gradients(W0, Y, X)[0]
    W, n, conv = dl.train_relu(W0, Y, X, lr=0.05, steps=300)
    assert n == 300 and not conv and dl.relu_loss_and_gradients(W, Y, X)[0] < 0.5 * start
    _, n2, conv2 = dl.train_relu(W0, Y, X, lr=0.05, steps=300, tol=0.5 * start)
    assert conv2 and n2 < 300


@pytest.mark.parametrize("call, match", [
    (lambda r: dl.masked_residual(np.ones((3, 2)), np.ones((3, 3)), [0], [0], [1.0]), "left"),
    (lambda r: dl.masked_residual(np.ones((3, 2)), np.ones((2, 3)), [0, 1], [0], [1.0]),
     "rows, cols and values"),
    (lambda r: dl.masked_residual(np.ones((3, 2)), np.ones((2, 3)), [3], [0], [1.0]), "rows"),
    (lambda r: dl.masked_residual(np.ones((3, 2)), np.ones((2, 3)), [0], [-1], [1.0]), "cols"),
    (lambda r: dl.masked_residual_dense(np.ones((3, 2)), np.ones((2, 3)), np.ones((3, 3)),
                                        np.ones((2, 3))), "target and mask"),
    (lambda r: dl.observed_entries(np.ones((2, 2)), np.zeros((2, 2))), "mask"),
    (lambda r: dl.observed_entries(np.ones((2, 2)), 0.5 * np.ones((2, 2))), "mask"),
    (lambda r: dl.train_observed([np.ones((2, 3))], [0], [0], [1.0], lr=0.1, steps=1),
     "weights0"),
    (lambda r: dl.train_observed([np.ones((2, 3)), np.ones((3, 2))], [0, 0], [1, 1], [1.0, 2.0],
                                 lr=0.1, steps=1), "repeat"),
    (lambda r: dl.train_observed([np.ones((2, 3)), np.ones((3, 2))], [0], [1], [1.0], lr=0.1,
                                 steps=1, lr_scale=[1.0]), "lr_scale"),
    (lambda r: dl.train_observed([np.ones((2, 3)), np.ones((3, 2))], [0], [1], [1.0], lr=0.0,
                                 steps=1), "lr"),
    (lambda r: dl.narrow_network(3, 1, 5, 0.1, r), "depth"),
    (lambda r: dl.uniform_init(3, 2, 0.0, r), "eps"),
    (lambda r: dl.feature_separation(np.ones((2, 3, 3)), np.ones((3, 4)), np.array([0, 0, 1, 1]),
                                     activation="tanh"), "activation"),
    (lambda r: dl.relu_features([np.ones((2, 3))], np.ones((4, 2))), "inputs"),
    (lambda r: dl.relu_loss_and_gradients([np.ones((2, 3))], np.ones((3, 5)), np.ones((3, 5))),
     "target"),
    (lambda r: dl.train_relu([np.ones((2, 3))], np.ones((2, 5)), np.ones((3, 5)), lr=-1.0,
                             steps=3), "lr"),
])
def test_new_functions_raise_value_error_naming_the_argument(rng, call, match):
    with pytest.raises(ValueError, match=match):
        call(rng)


@pytest.mark.parametrize("bad", [[0.5], ["a"], None])
def test_index_arrays_of_the_wrong_kind(bad):
    with pytest.raises(TypeError, match="rows"):
        dl.masked_residual(np.ones((3, 2)), np.ones((2, 3)), bad, [0], [1.0])
