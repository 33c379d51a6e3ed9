"""Deep linear networks (law of parsimony, arXiv:2306.01154): oracles for every public function
of theory.deep_linear, theory.compression, theory.matrix_completion, theory.separation and the
fast paths of theory.fast.deep_linear."""

import math

import numpy as np
import pytest
from conftest import assert_gradient_matches
from scipy.stats import ortho_group

from theory import compression as cn
from theory import deep_linear as dl
from theory import linalg
from theory import matrix_completion as mc
from theory import separation as sep
from theory import training
from theory.fast import completion as fast_mc
from theory.fast import deep_linear as fast_dl
from theory.optimizers import make_optimizer


def assert_layer_gradients_match(weights, grads, target, **kw):
    """Every layer gradient equals the central differences of the loss in that layer."""
    layers = [np.array(W, dtype=float) for W in weights]
    for l, G in enumerate(grads):
        def fun(Wl, l=l):
            return dl.loss(layers[:l] + [Wl] + layers[l + 1:], target, **kw)
        assert_gradient_matches(fun, G, layers[l], rtol=0, atol=1e-7)


def small_problem(rng, d=12, r=2, L=3, eps=0.3):
    Phi = dl.low_rank_target(d, [3.0, 1.5][:r], rng)
    W0 = dl.orthogonal_init(d, L, eps, rng)
    return Phi, W0


# -- initialisation and data ------------------------------------------------------------------
def old_haar_draw(n, rng, size=()):
    """The hand-written draw this collection used before ``scipy.stats.ortho_group``: QR of a
    Gaussian batch with the signs of ``diag R`` moved into ``Q`` (Mezzadri 2007)."""
    Q, R = np.linalg.qr(rng.standard_normal(tuple(size) + (n, n)))
    signs = np.sign(np.diagonal(R, axis1=-2, axis2=-1))
    signs[signs == 0] = 1.0
    return Q * signs[..., None, :]


@pytest.mark.parametrize("n, size", [(6, ()), (5, (3,)), (4, (2, 3)), (1, ())])
def test_ortho_group_draw_is_bit_identical_to_the_old_formula(n, size):
    # a batch of shape `size` is prod(size) draws of ortho_group, reshaped
    old = old_haar_draw(n, np.random.default_rng(7), size)
    if n == 1:
        new = dl._haar(1, np.random.default_rng(7))
    else:
        count = int(np.prod(size)) if size else None
        new = ortho_group.rvs(n, size=count or 1, random_state=np.random.default_rng(7))
        new = np.asarray(new).reshape(tuple(size) + (n, n))
    np.testing.assert_array_equal(new, old)
    # and the init draws through it: eps O_l layer after layer, from one generator
    W = dl.orthogonal_init(5, 3, 0.4, np.random.default_rng(3))
    rng = np.random.default_rng(3)
    np.testing.assert_array_equal(W, np.stack([0.4 * old_haar_draw(5, rng) for _ in range(3)]))


def test_haar_draw_is_orthogonal_and_sign_fixed(rng):
    Q = dl._haar(6, rng)
    np.testing.assert_allclose(Q.T @ Q, np.eye(6), atol=1e-13)
    # sign fix: the R factor of Q itself has a positive diagonal
    _, R = np.linalg.qr(Q)
    assert np.all(np.abs(np.abs(np.diag(R)) - 1) < 1e-12)
    assert dl._haar(1, rng).shape == (1, 1) and abs(dl._haar(1, rng)[0, 0]) == 1.0


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
    M = mc.observation_mask((10, 10), 0.35, rng)
    assert M.sum() == 35 and set(np.unique(M)) <= {0.0, 1.0}


def test_classification_data(rng):
    X, Y, labels = sep.classification_data(3, 4, rng)
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
    X = ortho_group.rvs(N, random_state=rng)[:d]          # X X^T = I
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
    assert_layer_gradients_match(W, G, Phi)


def test_gradients_rectangular_with_inputs_and_mask(rng):
    W = dl.orthogonal_init(5, 3, 0.9, rng, d_in=4, d_out=3)
    X, Y = rng.standard_normal((4, 6)), rng.standard_normal((3, 6))
    _, G = dl.loss_and_gradients(W, Y, inputs=X)
    assert_layer_gradients_match(W, G, Y, inputs=X)
    Wsq = rng.standard_normal((2, 4, 4))
    Phi = rng.standard_normal((4, 4))
    M = mc.observation_mask((4, 4), 0.5, rng)
    _, G = dl.loss_and_gradients(Wsq, Phi, mask=M)
    assert_layer_gradients_match(Wsq, G, Phi, mask=M)


# -- training ---------------------------------------------------------------------------------
def test_train_gd_matches_manual_steps(rng):
    Phi, W0 = small_problem(rng, d=6)
    traj = dl.train(W0, Phi, lr=0.05, steps=5, log_every=2)
    W = W0.copy()
    manual = [W.copy()]
    for _ in range(5):
        W = W - 0.05 * dl.layer_gradients(W, Phi)
        manual.append(W.copy())
    np.testing.assert_array_equal(traj.steps, [0, 2, 4, 5])
    np.testing.assert_allclose(traj.snapshots, np.stack([manual[i] for i in (0, 2, 4, 5)]),
                               atol=1e-14)
    np.testing.assert_allclose(traj.losses, [dl.loss(M, Phi) for M in manual], rtol=1e-12)
    assert traj.n_steps == 5 and not traj.converged
    assert isinstance(traj, training.Trajectory)
    np.testing.assert_allclose(traj.layer(2), traj.snapshots[:, 1])
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


def test_train_adam_first_step_is_sign_step(rng):
    Phi, W0 = small_problem(rng, d=5)
    traj = dl.train(W0, Phi, lr=1e-3, steps=1, optimizer="adam", adam_eps=1e-30)
    G = dl.layer_gradients(W0, Phi)
    np.testing.assert_allclose(traj.final, W0 - 1e-3 * np.sign(G), atol=1e-12)


def test_train_rectangular_and_tol_stop(rng):
    X, Y, _ = sep.classification_data(2, 3, rng)
    W0 = dl.orthogonal_init(6, 3, 0.9, rng, d_out=2)
    traj = dl.train(W0, Y, inputs=X, lr=0.2, steps=5000, tol=1e-8, log_every=100)
    assert traj.converged and traj.losses[-1] < 1e-8 <= traj.losses[-2]
    assert isinstance(traj.snapshots, tuple) and traj.layer(3).shape[1:] == (2, 6)
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
    fr = cn.invariant_frame(W0, Phi, 2)
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
    traj = dl.train(W0, Phi, lr=0.05, steps=300, log_every=50)
    fr = cn.invariant_frame(W0, Phi, 2)
    rho = cn.complement_scalar_gd(0.3, 0.05, 300, 3)[traj.steps]
    off, comp, blocks = cn.block_residual(traj.snapshots, fr, rho)
    assert off.max() < 1e-12 and comp.max() < 1e-12
    np.testing.assert_allclose(blocks[0], 0.3 * np.broadcast_to(np.eye(4), (3, 4, 4)),
                               atol=1e-14)
    # and the structure is non-trivial: the upper block has moved
    assert np.linalg.norm(blocks[-1] - blocks[0]) > 0.1


def test_momentum_trajectory_is_block_diagonal_with_momentum_scalar(rng):
    Phi, W0 = small_problem(rng)
    traj = dl.train(W0, Phi, lr=0.02, steps=200, optimizer="momentum", log_every=20)
    fr = cn.invariant_frame(W0, Phi, 2)
    rho = cn.complement_scalar_gd(0.3, 0.02, 200, 3, momentum=0.9)[traj.steps]
    off, comp, _ = cn.block_residual(traj.snapshots, fr, rho)
    assert off.max() < 1e-11 and comp.max() < 1e-11


def test_thin_and_truncated_frames_span_the_same_S(rng):
    Phi, W0 = small_problem(rng)
    full = cn.invariant_frame(W0, Phi, 2)
    thin = cn.invariant_frame(W0, Phi, 2, thin=True)
    fast = cn.invariant_frame(W0, Phi, 2, thin=True, svd="truncated", rng=rng)
    assert thin.thin and not full.thin and thin.U.shape == (3, 12, 4)
    for fr in (thin, fast):
        for l in range(3):      # same spans of the first 2r columns, layer by layer
            assert linalg.subspace_distance(fr.U[l], full.U[l][:, :4]) < 1e-12
            assert linalg.subspace_distance(fr.V[l], full.V[l][:, :4]) < 1e-12
    # the compressed chain from a thin frame gives the same loss curve
    a = cn.train_compressed(full, Phi, lr=0.05, steps=30)
    b = cn.train_compressed(fast, Phi, lr=0.05, steps=30)
    np.testing.assert_allclose(a.losses, b.losses, rtol=1e-11)
    with pytest.raises(ValueError, match="full frame"):
        cn.block_residual(W0[None], thin, 0.3)
    with pytest.raises(ValueError, match="rng"):
        cn.invariant_frame(W0, Phi, 2, svd="truncated")
    with pytest.raises(ValueError, match="svd"):
        cn.invariant_frame(W0, Phi, 2, svd="lanczos")


def assert_same_run(fast, plain, atol=1e-14, rtol=1e-12):
    np.testing.assert_array_equal(fast.steps, plain.steps)
    assert fast.converged == plain.converged and fast.n_steps == plain.n_steps
    np.testing.assert_allclose(fast.losses, plain.losses, rtol=rtol)
    for a, b in zip(fast.snapshots, plain.snapshots):
        np.testing.assert_allclose(a, b, rtol=0, atol=atol)
    for a, b in zip(fast.final, plain.final):
        np.testing.assert_allclose(a, b, rtol=0, atol=atol)


# -- fast paths (theory.fast.deep_linear) == the plain loop on theory.training.run --------------
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "not-fused"])
@pytest.mark.parametrize("case", ["gd", "momentum", "inputs", "mask", "lr_scale",
                                  "momentum+lr_scale", "rectangular"])
def test_fast_path_equals_the_plain_loop(rng, case, fused, monkeypatch):
    # d = 70 > SMALL_WIDTH: the whole-stack loop; the small-chain loop is tested below. With
    # fused, every step must go through the updates fused into the products (counted).
    calls = []
    if fused:
        if not fast_dl.blas.available():
            pytest.skip("numpy's BLAS is not an OpenBLAS")
        real = fast_dl._fused_backward
        monkeypatch.setattr(fast_dl, "_fused_backward",
                            lambda *args: calls.append(1) or real(*args))
    else:
        monkeypatch.setattr(fast_dl.blas, "available", lambda: False)
    d = 70 if case in ("gd", "momentum") else 9
    Phi, W0 = small_problem(rng, d=d, L=3)
    kw = dict(lr=0.03, steps=25, log_every=4)
    if case == "momentum":
        kw.update(optimizer="momentum", momentum=0.8)
    elif case == "inputs":
        X = rng.standard_normal((d, 12)) / math.sqrt(12)
        Phi = rng.standard_normal((d, 12))
        kw.update(inputs=X)
    elif case == "mask":
        kw.update(mask=mc.observation_mask((d, d), 0.5, rng))
    elif case == "lr_scale":
        kw.update(lr_scale=[0.5, 1.0, 2.0])
    elif case == "momentum+lr_scale":
        kw.update(optimizer="momentum", momentum=0.9, lr_scale=[0.0, 1.0, 1.5])
    elif case == "rectangular":
        W0 = dl.orthogonal_init(5, 3, 0.9, rng, d_in=4, d_out=3)
        X, Phi = rng.standard_normal((4, 6)) / math.sqrt(6), rng.standard_normal((3, 6))
        kw.update(inputs=X, lr=0.05)
    if fused:                       # the layers here are smaller than fused=None fuses
        monkeypatch.setattr(fast_dl, "FUSE_MIN_ENTRIES", 1)
    fast = dl.train(W0, Phi, **kw)
    plain = dl.train(W0, Phi, fast=False, **kw)
    assert_same_run(fast, plain)
    assert fast.n_steps == 25 and np.all(np.isfinite(fast.losses))
    assert len(calls) == (25 if fused else 0)


def test_small_chain_loop_equals_the_plain_loop(rng):
    # the lean GD loop for small square layers keeps train's snapshots, tol stop and losses
    Phi, W0 = small_problem(rng, d=6, L=3)
    assert 6 <= fast_dl.SMALL_WIDTH
    for kw in (dict(steps=23, log_every=5), dict(steps=20, log_every=5), dict(steps=0),
               dict(steps=500, log_every=7, tol=1e-3), dict(steps=5, tol=1e9)):
        assert_same_run(dl.train(W0, Phi, lr=0.05, **kw),
                        dl.train(W0, Phi, lr=0.05, fast=False, **kw))
    assert dl.train(W0, Phi, lr=0.05, steps=500, tol=1e-3).converged
    with pytest.raises(dl.DivergenceError, match="grew more than"):
        dl.train(W0, 1e6 * Phi, lr=1.0, steps=3)
    Phi4, W04 = small_problem(rng, d=9, L=4)
    assert_same_run(dl.train(W04, Phi4, lr=0.03, steps=40),
                    dl.train(W04, Phi4, lr=0.03, steps=40, fast=False), atol=1e-13)
    one = dl.train(W0[:1], Phi, lr=0.03, steps=3)                        # L = 1
    np.testing.assert_allclose(one.final[0], W0[0] - 0.03 * (W0[0] - Phi) * (1 - (1 - 0.03) ** 3)
                               / 0.03, atol=1e-14)
    assert_same_run(one, dl.train(W0[:1], Phi, lr=0.03, steps=3, fast=False))


def test_fast_train_in_place_validates_its_arguments(rng):
    Phi, W0 = small_problem(rng, d=5)
    problem = dl._problem(list(W0), Phi, None, None)
    gd = make_optimizer("gd", lr=0.1)
    with pytest.raises(TypeError, match="problem"):
        fast_dl.train_in_place(None, list(W0), gd, steps=2)
    with pytest.raises(TypeError, match="optimizer"):
        fast_dl.train_in_place(problem, list(W0), make_optimizer("adam", lr=0.1), steps=2)
    with pytest.raises(TypeError, match="layers"):
        fast_dl.train_in_place(problem, W0, gd, steps=2)
    with pytest.raises(ValueError, match="steps"):
        fast_dl.train_in_place(problem, list(W0), gd, steps=-1)
    with pytest.raises(ValueError, match="lr_scale"):
        fast_dl.train_in_place(problem, list(W0), make_optimizer("gd", lr=0.1,
                                                                   lr_scale=[1.0]), steps=2)
    with pytest.raises(TypeError, match="fused"):
        fast_dl.train_in_place(problem, list(W0), gd, steps=2, fused="yes")
    one = dl._problem(list(W0[:1]), Phi, None, None)
    with pytest.raises(ValueError, match="fused"):                 # L = 1: nothing to fuse
        fast_dl.train_in_place(one, list(W0[:1]), gd, steps=2, fused=True)


def test_frame_degenerate_input_raises(rng):
    # O = I and a symmetric Phi: span(V_Phi) = span(U_Phi), dim S = r < 2r
    V = ortho_group.rvs(8, random_state=rng)[:, :2]
    Phi = V @ np.diag([2.0, 1.0]) @ V.T
    W0 = 0.5 * np.broadcast_to(np.eye(8), (3, 8, 8)).copy()
    with pytest.raises(ValueError, match="dim S < 2r"):
        cn.invariant_frame(W0, Phi, 2)
    with pytest.raises(ValueError, match="rank"):
        cn.invariant_frame(W0, Phi, 5)


def test_complement_scalars():
    rho = cn.complement_scalar_gd(0.5, 0.1, 3, 2)
    expected = [0.5]
    for _ in range(3):
        expected.append(expected[-1] - 0.1 * expected[-1] ** 3)
    np.testing.assert_allclose(rho, expected, rtol=1e-15)
    # flow closed form solves rho' = -rho^{2L-1}
    t = np.array([0.0, 0.7, 3.0])
    r = cn.complement_scalar_flow(0.4, t, 3)
    h = 1e-6
    deriv = (cn.complement_scalar_flow(0.4, t + h, 3) - cn.complement_scalar_flow(0.4, t + 2 * h, 3)
             ) / (-h)
    np.testing.assert_allclose(deriv, -r**5, rtol=1e-4)
    assert r[0] == pytest.approx(0.4)
    np.testing.assert_allclose(cn.complement_scalar_flow(0.4, t, 1), 0.4 * np.exp(-t))
    # GD converges to the flow at rate eta
    flow = cn.complement_scalar_flow(0.3, 200, 3)
    e1 = abs(cn.complement_scalar_gd(0.3, 0.1, 2000, 3)[-1] - flow)
    e2 = abs(cn.complement_scalar_gd(0.3, 0.05, 4000, 3)[-1] - flow)
    assert 1.8 < e1 / e2 < 2.2
    assert cn.complement_loss(0.5, 2, 4) == pytest.approx(0.5 * 4 * 0.5**4)


def test_complement_scalar_divergence_raises():
    with pytest.raises(dl.DivergenceError):
        cn.complement_scalar_gd(10.0, 1.0, 50, 3)


def test_compressed_network_reproduces_full_trajectory(rng):
    Phi, W0 = small_problem(rng)
    traj = dl.train(W0, Phi, lr=0.05, steps=200, log_every=40)
    fr = cn.invariant_frame(W0, Phi, 2)
    comp = cn.train_compressed(fr, Phi, lr=0.05, steps=200, log_every=40)
    rho = cn.complement_scalar_gd(0.3, 0.05, 200, 3)
    rec = cn.compressed_end_to_end(comp.snapshots, fr, rho[comp.steps])
    np.testing.assert_allclose(rec, dl.end_to_end(traj.snapshots), atol=1e-12)
    np.testing.assert_allclose(traj.losses, comp.losses + cn.complement_loss(rho, 3, 8),
                               atol=1e-12)
    init, phi_tilde = cn.compressed_problem(fr, Phi)
    # Phi~ carries all of Phi: same singular values
    np.testing.assert_allclose(np.linalg.svd(phi_tilde, compute_uv=False)[:2], [3.0, 1.5])
    np.testing.assert_allclose(init, 0.3 * np.broadcast_to(np.eye(4), (3, 4, 4)))


def test_factored_compressed_network_product(rng):
    Phi, W0 = small_problem(rng)
    fr = cn.invariant_frame(W0, Phi, 2)
    net = cn.factored_compressed_network(fr)
    assert [W.shape for W in net] == [(4, 12), (4, 4), (4, 4), (4, 4), (12, 4)]
    k = 4
    # product = W_{L:1}(0) projected on S: eps^L U_{L,1} V_{1,1}^T
    np.testing.assert_allclose(dl.end_to_end(net),
                               0.3**3 * fr.U[-1][:, :k] @ fr.V[0][:, :k].T, atol=1e-14)
    # with frozen outer factors (gamma = 0) it trains like the 2r chain (rho^L term dropped)
    outer = dl.train(net, Phi, lr=0.05, steps=50, lr_scale=[0, 1, 1, 1, 0])
    chain = cn.train_compressed(fr, Phi, lr=0.05, steps=50)
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
    U = ortho_group.rvs(6, random_state=rng)
    V = ortho_group.rvs(6, random_state=rng)
    s = np.array([3.0, 0.5, 0.5, 0.5, 0.5, 0.1])
    left, right = dl.large_singular_subspaces(U @ np.diag(s) @ V.T, 0.5)
    assert left.shape == (6, 2) and right.shape == (6, 2)
    P = left @ left.T
    assert np.linalg.norm(P @ U[:, [0, 5]] - U[:, [0, 5]]) < 1e-10


def test_layer_alignment_is_exact_on_a_gd_trajectory(rng):
    Phi, W0 = small_problem(rng)
    traj = dl.train(W0, Phi, lr=0.05, steps=100, log_every=20)
    rho = cn.complement_scalar_gd(0.3, 0.05, 100, 3)[traj.steps]
    sines = dl.layer_alignment(traj.snapshots, rho)
    assert sines.shape == (6, 2)
    assert np.all(np.isnan(sines[0]))          # at init every singular value equals rho
    assert np.nanmax(sines[1:]) < 1e-10
    # unrelated random layers are not aligned
    W = rng.standard_normal((1, 3, 12, 2)) @ rng.standard_normal((1, 3, 2, 12))   # rank 2
    assert np.nanmin(dl.layer_alignment(W, np.array([0.0]))) > 0.5


def test_completion_errors():
    Phi = np.arange(4.0).reshape(2, 2)
    M = np.array([[1.0, 0.0], [0.0, 1.0]])
    train, test = mc.completion_errors(Phi + np.array([[1.0, 2.0], [0.0, 0.0]]), Phi, M)
    assert train == pytest.approx(0.5 * 1 / 4) and test == pytest.approx(0.5 * 4 / 4)


def test_feature_separation_closed_forms(rng):
    K, n = 3, 4
    X, Y, labels = sep.classification_data(K, n, rng)
    N = K * n
    W = 0.5 * np.broadcast_to(np.eye(N), (3, N, N)).copy()
    D = sep.feature_separation(W, X, labels)
    # D_0 closed form; scaling every feature by the same factor keeps D
    np.testing.assert_allclose(D, sep.separation_d0(n, N) * np.ones(3), rtol=1e-12)
    # a layer that kills within-class directions only: D_1 = 0 ... use projector onto means
    means = X @ Y.T / n
    Pm = means @ np.linalg.pinv(means)
    D = sep.feature_separation(np.stack([Pm, np.eye(N)]), X, labels)
    assert D[1] < 1e-24


def test_separation_d0_and_predicted_rate():
    assert sep.separation_d0(10, 50) == pytest.approx(0.9 / (0.1 - 0.02))
    assert sep.predicted_separation_ratio(0.5, 10, 4) == pytest.approx(0.25 * 10 ** -0.25)


# -- bad input ------------------------------------------------------------------------------
@pytest.mark.parametrize("call, match", [
    (lambda r: dl.orthogonal_init(0, 2, 1.0, r), "width"),
    (lambda r: dl.orthogonal_init(3, 2, 1.0, "seed"), "rng"),
    (lambda r: dl.orthogonal_init(4, 3, -1.0, r), "eps"),
    (lambda r: dl.orthogonal_init(4, 0, 1.0, r), "depth"),
    (lambda r: dl.gaussian_init(4, 2, 0.0, r), "eps"),
    (lambda r: dl.low_rank_target(3, [1.0, -1.0], r), "singular_values"),
    (lambda r: dl.low_rank_target(2, [1.0, 1.0, 1.0], r), "singular_values"),
    (lambda r: mc.observation_mask((3, 3), 1.5, r), "fraction"),
    (lambda r: sep.classification_data(1, 3, r), "n_classes"),
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
    (lambda r: dl.train(np.ones((2, 3, 3)), np.ones((3, 3)), lr=0.1, steps=3, log_every=0),
     "log_every"),
    (lambda r: dl.train(np.ones((2, 3, 3)), np.ones((3, 3)), lr=0.1, steps=3, optimizer="sgd"),
     "optimizer"),
    (lambda r: dl.train(np.ones((2, 3, 3)), np.ones((3, 3)), lr=0.1, steps=3, lr_scale=[1.0]),
     "lr_scale"),
    (lambda r: dl.train(np.ones((2, 3, 3)), np.ones((3, 3)), lr=0.1, steps=3, tol=-1.0), "tol"),
    (lambda r: dl.train(np.ones((2, 3, 3)), np.ones((3, 3)), lr=0.1, steps=3, betas=0.9,
                        optimizer="adam"),
     "betas"),
    (lambda r: dl.train(np.ones((2, 3, 3)), np.ones((3, 3)), lr=0.1, steps=3, betas=(0.9,),
                        optimizer="adam"),
     "betas"),
    (lambda r: dl.train(np.ones((2, 3, 3)), np.ones((3, 3)), lr=0.1, steps=3,
                        optimizer=np.ones(2)), "optimizer"),
    (lambda r: mc.observation_mask((3, 0), 0.5, r), "shape"),
    (lambda r: mc.observation_mask(-3, 0.5, r), "shape"),
    (lambda r: mc.observation_mask((), 0.5, r), "shape"),
    (lambda r: mc.observation_mask((3, 3), 0.5, 0), "rng"),
    (lambda r: cn.invariant_frame(np.ones((2, 3, 3)), np.ones((3, 3)), 1), "weights0"),
    (lambda r: cn.invariant_frame(np.ones((2, 3, 4)), np.ones((3, 3)), 1), "weights0"),
    (lambda r: cn.invariant_frame(dl.orthogonal_init(4, 2, 1.0, r), np.ones((3, 3)), 1), "target"),
    (lambda r: cn.invariant_frame(dl.orthogonal_init(4, 2, 1.0, r), np.ones((4, 4)), 0), "rank"),
    (lambda r: cn.rotated_blocks(np.ones((2, 4, 4)), "frame"), "frame"),
    (lambda r: cn.complement_scalar_gd(0.0, 0.1, 3, 2), "eps"),
    (lambda r: cn.complement_scalar_gd(0.1, 0.1, 3, 0), "depth"),
    (lambda r: cn.complement_scalar_flow(0.1, -1.0, 2), "time"),
    (lambda r: cn.complement_loss(0.1, 2, -1), "m"),
    (lambda r: cn.compressed_problem("frame", np.ones((3, 3))), "frame"),
    (lambda r: cn.compressed_end_to_end(np.ones((3, 3)), "frame", 0.1), "frame"),
    (lambda r: cn.factored_compressed_network(None), "frame"),
    (lambda r: dl.balancedness(np.ones((1, 3, 3))), "weights"),
    (lambda r: dl.large_singular_subspaces(np.ones(3), 0.1), "W"),
    (lambda r: sep.feature_separation(np.ones((2, 3, 3)), np.ones((3, 4)), np.array([0, 0, 1])),
     "labels"),
    (lambda r: sep.feature_separation(np.ones((2, 3, 3)), np.ones((2, 4)), np.array([0, 0, 1, 1])),
     "inputs"),
    (lambda r: sep.separation_d0(5, 5), "n_samples"),
    (lambda r: sep.predicted_separation_ratio(0.5, 0, 2), "per_class"),
    (lambda r: dl.layer_alignment(np.ones((2, 3, 3)), np.ones(2)), "weights"),
    (lambda r: dl.layer_alignment(np.ones((2, 2, 3, 3)), np.ones(3)), "rho"),
    (lambda r: mc.completion_errors(np.ones((2, 2)), np.ones((2, 3)), np.ones((2, 2))), "shape"),
])
def test_bad_input_raises_value_error_naming_the_argument(rng, call, match):
    with pytest.raises(ValueError, match=match):
        call(rng)


@pytest.mark.parametrize("shape", [None, "3x3", 2.5, (3.0, 3)])
def test_observation_mask_shape_of_the_wrong_kind(rng, shape):
    with pytest.raises(TypeError, match="shape"):
        mc.observation_mask(shape, 0.5, rng)


def test_frame_functions_validate_shapes(rng):
    Phi, W0 = small_problem(rng)
    fr = cn.invariant_frame(W0, Phi, 2)
    with pytest.raises(ValueError, match="weights"):
        cn.block_residual(np.ones((2, 3, 5, 5)), fr, 0.1)
    with pytest.raises(ValueError, match="rho"):
        cn.block_residual(np.stack([W0, W0]), fr, np.ones(3))
    with pytest.raises(ValueError, match="target"):
        cn.compressed_problem(fr, np.ones((3, 3)))
    with pytest.raises(ValueError, match="blocks"):
        cn.compressed_end_to_end(np.ones((2, 3, 3, 3)), fr, np.ones(2))
    with pytest.raises(ValueError, match="l must be"):
        dl.train(W0, Phi, lr=0.1, steps=1).layer(4)


# -- matrix completion on the observed entries --------------------------------------------------
def completion_problem(rng, d=14, r=2, fraction=0.3):
    Phi = dl.low_rank_target(d, [3.0, 1.5][:r], rng)
    M = mc.observation_mask((d, d), fraction, rng)
    return Phi, M


def test_observed_entries_are_row_major_and_match_the_mask(rng):
    Phi, M = completion_problem(rng)
    rows, cols, vals = mc.observed_entries(Phi, M)
    assert rows.size == M.sum()
    np.testing.assert_array_equal(rows * 14 + cols, np.flatnonzero(M))
    np.testing.assert_array_equal(vals, Phi[M == 1])


def test_masked_residual_equals_the_dense_reference(rng):
    # random factors of a rectangular product, random (not sorted) observed pairs
    A, B = rng.standard_normal((9, 4)), rng.standard_normal((4, 7))
    target = rng.standard_normal((9, 7))
    M = mc.observation_mask((9, 7), 0.4, rng)
    rows, cols, vals = mc.observed_entries(target, M)
    shuffle = rng.permutation(rows.size)
    gathered = mc.masked_residual(A, B, rows[shuffle], cols[shuffle], vals[shuffle])
    dense = mc.masked_residual_dense(A, B, target, M)
    np.testing.assert_allclose(gathered, dense[rows[shuffle], cols[shuffle]], rtol=0,
                               atol=1e-14)
    assert np.all(dense[M == 0] == 0)
    # half the squared residual is the masked sum loss of the two-layer network (B, A)
    assert np.isclose(0.5 * gathered @ gathered, dl.loss([B, A], target, mask=M), rtol=1e-13)


@pytest.mark.parametrize("block", [1, 7, 20, 10**6])
def test_blocked_residual_equals_the_gathered_one(rng, block, monkeypatch):
    # blocks of one row, of a few rows (not dividing d_out), of whole rows, and one block;
    # row 3 observes nothing, so a block may hold no pair
    monkeypatch.setattr(fast_mc, "RESIDUAL_BLOCK", block)
    A, B = rng.standard_normal((11, 4)), rng.standard_normal((4, 6))
    M = mc.observation_mask((11, 6), 0.5, rng)
    M[3] = 0
    rows, cols, vals = mc.observed_entries(rng.standard_normal((11, 6)), M)
    blocked = fast_mc.BlockedResidual(rows, cols, vals, 11, 6)
    np.testing.assert_allclose(blocked(A, B), mc.masked_residual(A, B, rows, cols, vals),
                               rtol=0, atol=1e-14)
    np.testing.assert_allclose(blocked(2 * A, B), mc.masked_residual(2 * A, B, rows, cols, vals),
                               rtol=0, atol=1e-14)            # a second call, same buffers
    with pytest.raises(ValueError, match="sorted by row"):
        fast_mc.BlockedResidual(rows[::-1], cols[::-1], vals[::-1], 11, 6)


@pytest.mark.parametrize("gather", [False, True])
def test_train_observed_residual_paths_agree(rng, gather, monkeypatch):
    # the gathering residual (sparse observations) and the blocked one give the same run
    monkeypatch.setattr(mc, "GATHER_BELOW_DENSITY", 1.1 if gather else 0.0)
    Phi, M = completion_problem(rng)
    rows, cols, vals = mc.observed_entries(Phi, M)
    net = mc.narrow_network(4, 3, 14, 0.3, rng)
    dense = dl.train(net, Phi, mask=M, lr=0.05, steps=30)
    run = mc.train_observed(net, rows, cols, vals, lr=0.05, steps=30)
    np.testing.assert_allclose(run.losses, dense.losses, rtol=1e-12, atol=1e-15)
    for a, b in zip(run.final, dense.final):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-13)


def test_train_observed_equals_dense_masked_training(rng):
    Phi, M = completion_problem(rng)
    rows, cols, vals = mc.observed_entries(Phi, M)
    W0 = dl.orthogonal_init(14, 3, 0.3, rng)
    net = cn.factored_compressed_network(cn.invariant_frame(W0, M * Phi, 2))
    scale = [0.1, 1.0, 1.0, 1.0, 0.1]
    dense = dl.train(net, Phi, mask=M, lr=0.05, steps=60, lr_scale=scale, log_every=20)
    sparse = mc.train_observed(net, rows, cols, vals, lr=0.05, steps=60, lr_scale=scale,
                               log_every=20)
    np.testing.assert_allclose(sparse.losses, dense.losses, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(sparse.steps, dense.steps)
    for a, b in zip(sparse.snapshots, dense.snapshots):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-13)
    # a depth-2 narrow network, every layer trained, observed pairs in shuffled order
    narrow = mc.narrow_network(4, 2, 14, 0.3, rng)
    order = rng.permutation(rows.size)
    dense = dl.train(narrow, Phi, mask=M, lr=0.05, steps=40)
    sparse = mc.train_observed(narrow, rows[order], cols[order], vals[order], lr=0.05, steps=40)
    np.testing.assert_allclose(sparse.losses, dense.losses, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(sparse.final[0], dense.final[0], rtol=0, atol=1e-13)


def test_train_observed_frozen_factors_stay_and_tol_stops(rng):
    Phi, M = completion_problem(rng)
    rows, cols, vals = mc.observed_entries(Phi, M)
    net = mc.narrow_network(4, 3, 14, 0.5, rng)
    run = mc.train_observed(net, rows, cols, vals, lr=0.05, steps=50, lr_scale=[0, 1, 0])
    np.testing.assert_array_equal(run.final[0], net[0])
    np.testing.assert_array_equal(run.final[2], net[2])
    assert not np.allclose(run.final[1], net[1])
    stop = mc.train_observed(net, rows, cols, vals, lr=0.05, steps=500, tol=run.losses[10])
    assert stop.converged and stop.n_steps <= 11


def test_narrow_network_shapes_and_orthogonality(rng):
    net = mc.narrow_network(4, 3, 10, 0.5, rng)
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
    H = sep.relu_features(W, X)
    np.testing.assert_allclose(H[2], W[1] @ W[0] @ X, rtol=1e-14)
    labels = np.array([0, 0, 0, 1, 1, 1])
    np.testing.assert_allclose(sep.feature_separation(W, X, labels, activation="relu"),
                               sep.feature_separation(W, X, labels), rtol=1e-13)


def test_relu_gradients_match_finite_differences(rng):
    W = [rng.standard_normal((4, 3)), rng.standard_normal((4, 4)), rng.standard_normal((2, 4))]
    X, Y = rng.standard_normal((3, 5)), rng.standard_normal((2, 5))
    value, grads = sep.relu_loss_and_gradients(W, Y, X)
    for l, G in enumerate(grads):
        def fun(Wl, l=l):
            return sep.relu_loss_and_gradients(W[:l] + [Wl] + W[l + 1:], Y, X)[0]
        assert_gradient_matches(fun, G, W[l], rtol=0, atol=1e-6)
    out = W[2] @ np.maximum(W[1] @ np.maximum(W[0] @ X, 0), 0)
    assert np.isclose(value, 0.5 * np.sum((out - Y) ** 2))


def test_train_relu_decreases_the_loss_and_stops_at_tol(rng):
    X, Y, _ = sep.classification_data(3, 4, rng)
    W0 = dl.orthogonal_init(12, 3, 0.8, rng, d_out=3)
    start = sep.relu_loss_and_gradients(W0, Y, X)[0]
    run = sep.train_relu(W0, Y, X, lr=0.05, steps=300)
    assert run.n_steps == 300 and not run.converged
    assert sep.relu_loss_and_gradients(run.final, Y, X)[0] < 0.5 * start
    np.testing.assert_array_equal(run.steps, [0, 300])
    assert run.losses[-1] == pytest.approx(sep.relu_loss_and_gradients(run.final, Y, X)[0])
    # the same iterates as W <- W - lr G by hand
    W = [M.copy() for M in W0]
    for _ in range(3):
        grads = sep.relu_loss_and_gradients(W, Y, X)[1]
        W = [M - 0.05 * G for M, G in zip(W, grads)]
    for a, b in zip(sep.train_relu(W0, Y, X, lr=0.05, steps=3).final, W):
        np.testing.assert_array_equal(a, b)
    stop = sep.train_relu(W0, Y, X, lr=0.05, steps=300, tol=0.5 * start)
    assert stop.converged and stop.n_steps < 300


@pytest.mark.parametrize("call, match", [
    (lambda r: mc.masked_residual(np.ones((3, 2)), np.ones((3, 3)), [0], [0], [1.0]), "left"),
    (lambda r: mc.masked_residual(np.ones((3, 2)), np.ones((2, 3)), [0, 1], [0], [1.0]),
     "rows, cols and values"),
    (lambda r: mc.masked_residual(np.ones((3, 2)), np.ones((2, 3)), [3], [0], [1.0]), "rows"),
    (lambda r: mc.masked_residual(np.ones((3, 2)), np.ones((2, 3)), [0], [-1], [1.0]), "cols"),
    (lambda r: mc.masked_residual_dense(np.ones((3, 2)), np.ones((2, 3)), np.ones((3, 3)),
                                        np.ones((2, 3))), "target and mask"),
    (lambda r: mc.observed_entries(np.ones((2, 2)), np.zeros((2, 2))), "mask"),
    (lambda r: mc.observed_entries(np.ones((2, 2)), 0.5 * np.ones((2, 2))), "mask"),
    (lambda r: mc.train_observed([np.ones((2, 3))], [0], [0], [1.0], lr=0.1, steps=1),
     "weights0"),
    (lambda r: mc.train_observed([np.ones((2, 3)), np.ones((3, 2))], [0, 0], [1, 1], [1.0, 2.0],
                                 lr=0.1, steps=1), "repeat"),
    (lambda r: mc.train_observed([np.ones((2, 3)), np.ones((3, 2))], [0], [1], [1.0], lr=0.1,
                                 steps=1, lr_scale=[1.0]), "lr_scale"),
    (lambda r: mc.train_observed([np.ones((2, 3)), np.ones((3, 2))], [0], [1], [1.0], lr=0.0,
                                 steps=1), "lr"),
    (lambda r: mc.narrow_network(3, 1, 5, 0.1, r), "depth"),
    (lambda r: dl.uniform_init(3, 2, 0.0, r), "eps"),
    (lambda r: sep.feature_separation(np.ones((2, 3, 3)), np.ones((3, 4)), np.array([0, 0, 1, 1]),
                                     activation="tanh"), "activation"),
    (lambda r: sep.relu_features([np.ones((2, 3))], np.ones((4, 2))), "inputs"),
    (lambda r: sep.relu_loss_and_gradients([np.ones((2, 3))], np.ones((3, 5)), np.ones((3, 5))),
     "target"),
    (lambda r: sep.train_relu([np.ones((2, 3))], np.ones((2, 5)), np.ones((3, 5)), lr=-1.0,
                             steps=3), "lr"),
])
def test_new_functions_raise_value_error_naming_the_argument(rng, call, match):
    with pytest.raises(ValueError, match=match):
        call(rng)


@pytest.mark.parametrize("bad", [[0.5], ["a"], None])
def test_index_arrays_of_the_wrong_kind(bad):
    with pytest.raises(TypeError, match="rows"):
        mc.masked_residual(np.ones((3, 2)), np.ones((2, 3)), bad, [0], [1.0])


@pytest.mark.parametrize("momentum", [None, 0.9])
def test_blocked_threaded_stack_update_is_bit_identical_to_the_plain_one(rng, momentum,
                                                                          monkeypatch):
    # the update by blocks on several threads does every element's operations in the plain
    # order, so it must equal the four whole-stack passes exactly, at any block and thread count
    W, G, b = (rng.standard_normal((3, 40, 50)) for _ in range(3))
    lr = 0.037
    expected_b = b * momentum + G if momentum is not None else None
    expected_W = W - lr * (expected_b if momentum is not None else G)
    monkeypatch.setattr(fast_dl, "UPDATE_MIN_PART", 700)
    for block, threads in [(6000, 1), (1000, 1), (999, 2), (128, 3), (7, 2)]:
        monkeypatch.setattr(fast_dl, "UPDATE_BLOCK", block)
        W1, G1, b1 = W.copy(), G.copy(), b.copy()
        with fast_dl._StackUpdate(W1, G1, b1 if momentum is not None else G1, lr, momentum,
                                  threads) as update:
            assert len(update._parts) == threads
            update.step()
        np.testing.assert_array_equal(W1, expected_W)
        if momentum is not None:
            np.testing.assert_array_equal(b1, expected_b)
    with pytest.raises(ValueError, match="threads"):
        fast_dl._StackUpdate(W, G, b, lr, momentum, 0)


@pytest.mark.parametrize("fuse_min", [1, 10**9], ids=["fused", "not-fused"])
@pytest.mark.parametrize("optimizer", ["gd", "momentum"])
def test_fast_path_with_small_blocks_and_threads_equals_the_plain_loop(rng, optimizer, fuse_min,
                                                                        monkeypatch):
    monkeypatch.setattr(fast_dl, "FUSE_MIN_ENTRIES", fuse_min)
    monkeypatch.setattr(fast_dl, "UPDATE_BLOCK", 500)
    monkeypatch.setattr(fast_dl, "UPDATE_MIN_PART", 2000)
    monkeypatch.setattr(fast_dl, "_update_threads", lambda: 3)
    Phi, W0 = small_problem(rng, d=70, L=3)
    kw = dict(lr=0.03, steps=25, log_every=4, optimizer=optimizer)
    if optimizer == "momentum":
        kw.update(momentum=0.8)
    fast = dl.train(W0, Phi, **kw)
    assert_same_run(fast, dl.train(W0, Phi, fast=False, **kw))
