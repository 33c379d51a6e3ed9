"""Giant-step modules against oracles: finite differences, exact Hermite coefficients, lstsq;
the fast paths against the plain functions."""

import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np
import pytest
import scipy.linalg
import sympy as sp
from conftest import assert_gradient_matches
from scipy.integrate import quad
from scipy.special import eval_hermitenorm
from threadpoolctl import threadpool_limits

from theory import giant_step as gs
from theory import two_layer as tl
from theory import two_layer_predictions as tp
from theory.activations import gaussian_expectation, hermite_coefficients, mean_derivative_sq
from theory.errors import DivergenceError
from theory.fast import giant_step as fast_gs
from theory.fast import ridge as fast_ridge
from theory.linalg import row_chunks
from theory.symbolic import two_layer as sym
from theory.symbolic.common import max_discrepancy


def small_problem(rng, n=40, d=7, p=6):
    X = rng.standard_normal((n, d))
    W = rng.standard_normal((p, d)) / np.sqrt(d)
    a = rng.standard_normal(p) / np.sqrt(p)
    y = np.sin(X[:, 0]) + X[:, 1] * X[:, 2]
    return X, y, W, a


def loss_value(X, y, W, a, activation, offset=None):
    f = tl.network_output(X, W, a, activation)
    r = y - f - (0 if offset is None else offset)
    return 0.5 * np.mean(r**2)


# -- gradient ---------------------------------------------------------------------------------
@pytest.mark.parametrize("activation", ["relu", "tanh", "erf"])
def test_gradient_matches_central_finite_differences(rng, activation):
    X, y, W, a = small_problem(rng)
    offset = 0.3 * X[:, 3]
    grad, loss = tl.batch_gradient(X, y, W, a, activation, chunk=7, offset=offset)
    assert loss == pytest.approx(loss_value(X, y, W, a, activation, offset), rel=1e-12)
    assert_gradient_matches(lambda V: loss_value(X, y, V, a, activation, offset), grad, W)


def test_gradient_and_outputs_do_not_depend_on_the_chunk_size(rng):
    X, y, W, a = small_problem(rng, n=53)
    g1, l1 = tl.batch_gradient(X, y, W, a, chunk=5)
    g2, l2 = tl.batch_gradient(X, y, W, a, chunk=1000)
    np.testing.assert_allclose(g1, g2, rtol=1e-12, atol=1e-14)
    assert l1 == pytest.approx(l2, rel=1e-12)
    np.testing.assert_allclose(tl.network_output(X, W, a, chunk=4),
                               tl.features(X, W) @ a, rtol=1e-12, atol=1e-14)


def test_symbolic_gradient_equals_closed_form_and_numpy():
    grad, closed, diff = sym.batch_gradient_check(d=3, p=2, n=2)
    assert all(e == 0 for e in diff)
    # sympy's gradient with sigma = tanh against the numpy gradient at random points
    sigma = sp.Function("sigma")
    expr = grad.subs(sigma, sp.tanh).doit()
    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    names = [s.name for s in symbols]

    def numeric(*values):
        v = dict(zip(names, values))
        W = np.array([[v[f"W_{i}{j}"] for j in (1, 2, 3)] for i in (1, 2)])
        X = np.array([[v[f"x_{m}{j}"] for j in (1, 2, 3)] for m in (1, 2)])
        a = np.array([v["a_1"], v["a_2"]])
        y = np.array([v["y_1"], v["y_2"]])
        return tl.batch_gradient(X, y, W, a, "tanh")[0]

    err = max_discrepancy(expr, symbols, numeric, np.random.default_rng(3), n_points=3)
    assert err < 1e-12


def test_one_giant_step_is_the_gradient_step_on_a_fresh_batch(rng):
    target = tl.make_target("x1+x1x2")
    W0, a = tl.symmetric_init(12, 8, rng)
    state = rng.bit_generator.state
    traj = tl.giant_steps(W0, a, target, n=30, lr=2.5, steps=2, rng=rng)
    replay = np.random.default_rng()
    replay.bit_generator.state = state
    X, y = tl.sample_batch(30, 12, target, replay)
    W1 = W0 - 2.5 * tl.batch_gradient(X, y, W0, a)[0]
    np.testing.assert_allclose(traj[1], W1, rtol=1e-13, atol=1e-14)
    X2, y2 = tl.sample_batch(30, 12, target, replay)     # step 2 draws a new batch
    W2 = W1 - 2.5 * tl.batch_gradient(X2, y2, W1, a)[0]
    np.testing.assert_allclose(traj[2], W2, rtol=1e-12, atol=1e-13)


def test_giant_steps_raise_divergence_error_on_overflow(rng):
    W0, a = tl.symmetric_init(6, 4, rng)
    with pytest.raises(DivergenceError, match="step"):
        tl.giant_steps(W0, a, tl.make_target("x1"), n=10, lr=1e305, steps=4, rng=rng)


def test_symmetric_init_gives_the_zero_function_and_unit_rows(rng):
    W0, a = tl.symmetric_init(9, 10, rng)
    np.testing.assert_allclose(np.linalg.norm(W0, axis=1), 1.0, rtol=1e-13)
    np.testing.assert_array_equal(W0[:5], W0[5:])
    np.testing.assert_array_equal(a[:5], -a[5:])
    np.testing.assert_allclose(np.abs(a), 1 / np.sqrt(10), rtol=1e-14)
    X = rng.standard_normal((20, 9))
    np.testing.assert_allclose(tl.network_output(X, W0, a), 0.0, atol=1e-14)


def test_gaussian_init_scales(rng):
    W0, a = tl.gaussian_init(400, 2000, rng)
    assert np.mean(np.sum(W0**2, axis=1)) == pytest.approx(1.0, rel=0.02)
    assert np.sum(a**2) == pytest.approx(1.0, rel=0.2)


def test_learning_rate_formula():
    assert tl.learning_rate(2.0, 100, 64, leap=1) == pytest.approx(200.0)
    assert tl.learning_rate(1.0, 100, 64, leap=2) == pytest.approx(800.0)


def test_protocol_step_is_deterministic_in_the_seed():
    r1 = gs.single_step_protocol(16, 24, 200, np.random.default_rng(5), n_test=500)
    r2 = gs.single_step_protocol(16, 24, 200, np.random.default_rng(5), n_test=500)
    assert r1 == r2
    assert np.isfinite([r1.one_step, r1.random_features, r1.linear]).all()
    assert r1.flops == gs.protocol_flops(200, 16, 24, 500)


@pytest.mark.parametrize("lanes", [1, 2, 3])
def test_fast_protocol_equals_the_plain_protocol_with_more_features_than_samples(lanes):
    """p > n: the readout solves with the features in memory; the rest runs on lanes."""
    args = (12, 50, 40, np.random.default_rng(2), 0.5, 10.0, 90, "same", True, 16)
    with threadpool_limits(limits=lanes, user_api="blas"):
        W_fast, *fast = fast_gs.single_step_errors(*args)
    W_plain, *plain = gs._single_step_plain(12, 50, 40, np.random.default_rng(2), *args[4:])
    np.testing.assert_allclose(W_fast, W_plain, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(fast, plain, rtol=1e-10)


def test_fast_protocol_gives_the_same_bits_on_any_number_of_blas_threads():
    """One lane per BLAS thread, each calling BLAS on one thread, sums in chunk order: the
    numbers of the protocol do not depend on the thread count (the checked outputs rely on
    it, tests/test_determinism.py)."""
    results = []
    for threads in (1, 2, 3):
        with threadpool_limits(limits=threads, user_api="blas"):
            results.append(fast_gs.single_step_errors(
                30, 40, 700, np.random.default_rng(6), 1.0, 10.0, 300, "same", True, 64))
    for W1, *errors in results[1:]:
        np.testing.assert_array_equal(W1, results[0][0])
        assert errors == list(results[0][1:])


@pytest.mark.parametrize("readout", ["same", "fresh"])
def test_fast_protocol_equals_the_plain_protocol(readout):
    """Worker-thread draws + dsyrk ridge give the plain version's draws and numbers."""
    args = (40, 60, 1000)
    settings = (1.0, 10.0, 700, readout, True, 128)       # lam, lr_scale, n_test, ..., chunk
    W_fast, *fast = fast_gs.single_step_errors(*args, np.random.default_rng(11), *settings)
    W_plain, *plain = gs._single_step_plain(*args, np.random.default_rng(11), *settings)
    np.testing.assert_allclose(W_fast, W_plain, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(fast, plain, rtol=1e-10)
    assert fast[0] < fast[1]                     # one step beats random features here
    public = [gs.single_step_protocol(*args, np.random.default_rng(11), n_test=700,
                                      readout=readout, chunk=128, fast=flag)
              for flag in (True, False)]
    assert public[0].one_step == fast[0] and public[1].one_step == plain[0]


def test_protocol_with_a_workspace_gives_the_same_bits_as_without(monkeypatch):
    """A workspace passed from call to call (batch sizes up and down, so its buffers are reused
    and grown) changes no number, even when it holds garbage: every array taken from it is
    written before it is read."""
    ws = gs.Workspace()
    kw = dict(n_test=300, chunk=64)
    for n in (700, 300, 900):
        for buffer in ws._buffers.values():        # poison what the last call left
            buffer[...] = np.nan if buffer.dtype.kind == "f" else True
        with_ws = gs.single_step_protocol(30, 40, n, np.random.default_rng(n), workspace=ws,
                                          **kw)
        assert with_ws == gs.single_step_protocol(30, 40, n, np.random.default_rng(n), **kw)
    assert ws.nbytes >= 900 * 30 * 8                # the batch of the largest call is kept
    taken = []
    real_take = gs.Workspace.take
    monkeypatch.setattr(gs.Workspace, "take",
                        lambda self, name, *args: taken.append(name) or real_take(self, name,
                                                                                   *args))
    gs.single_step_protocol(30, 40, 500, np.random.default_rng(1), workspace=ws, **kw)
    assert {"batch", "labels", "lane 0"} <= set(taken)
    with pytest.raises(TypeError, match="workspace"):
        gs.single_step_protocol(30, 40, 500, np.random.default_rng(1), workspace={}, **kw)
    with pytest.raises(ValueError, match="workspace"):
        gs.single_step_protocol(30, 40, 500, np.random.default_rng(1), workspace=ws,
                                fast=False, **kw)


def _lanes(count):
    """A pool for ``count`` lanes and the lanes' work spaces for d = 9, p = 14, 64-row chunks."""
    return ThreadPoolExecutor(max(count - 1, 1)), fast_gs._scratch(count, 64, 9, 14)


@pytest.mark.parametrize("lanes, forward_lanes, pause",
                         [(1, None, 0.0), (2, None, 0.0), (2, None, 0.01), (2, 0, 0.01),
                          (3, None, 0.01), (3, 1, 0.0)])
def test_step_in_lanes_equals_the_gradient_whatever_the_lanes_and_draws(
        rng, lanes, forward_lanes, pause):
    """Chunks stepped while the batch is drawn (two passes) and after it (one pass), on one to
    three lanes, with quick and slow draws: the gradient of the whole batch every time."""
    target = tl.make_target("giant_step_teacher")
    X_ref, y_ref = tl.sample_batch(300, 9, target, rng)
    W0, a0 = tl.gaussian_init(9, 14, rng)
    X, y = np.full_like(X_ref, np.nan), np.full_like(y_ref, np.nan)

    def draw(rows):                                # the batch, chunk by chunk, slowly or not
        time.sleep(pause)
        X[rows], y[rows] = X_ref[rows], y_ref[rows]

    pool, scratch = _lanes(lanes)
    with pool:
        A, B, offset, grad, loss, early = fast_gs._step_in_lanes(
            pool, scratch, X, y, draw, W0, a0, 64, forward_lanes=forward_lanes)
    A_ref, B_ref = tl.linear_fit(X_ref, y_ref)
    grad_ref, loss_ref = tl.batch_gradient(X_ref, y_ref, W0, a0, chunk=64,
                                           offset=A_ref + X_ref @ B_ref)
    assert A == A_ref
    np.testing.assert_array_equal(B, B_ref)
    np.testing.assert_allclose(grad, grad_ref, rtol=1e-13, atol=1e-15)
    assert loss == pytest.approx(loss_ref, rel=1e-14)
    if forward_lanes == 0:
        assert early == 0                          # every chunk stepped in one pass
    elif pause:
        assert early >= 1                          # a slow draw: the first chunk went early


def _copy_rows(X, y, rows, X_ref, y_ref):
    X[rows], y[rows] = X_ref[rows], y_ref[rows]


def test_step_in_lanes_gives_the_same_bits_on_any_number_of_lanes(rng):
    target = tl.make_target("giant_step_teacher")
    X_ref, y_ref = tl.sample_batch(300, 9, target, rng)
    W0, a0 = tl.gaussian_init(9, 14, rng)
    results = []
    for lanes in (1, 2, 3):
        X, y = np.empty_like(X_ref), np.empty_like(y_ref)
        draw = partial(_copy_rows, X, y, X_ref=X_ref, y_ref=y_ref)
        pool, scratch = _lanes(lanes)
        with pool:
            results.append(fast_gs._step_in_lanes(pool, scratch, X, y, draw, W0, a0, 64)[3:5])
    for grad, loss in results[1:]:
        np.testing.assert_array_equal(grad, results[0][0])
        assert loss == results[0][1]


def test_step_in_lanes_raises_the_drawers_error_and_leaves_no_lane_waiting(rng):
    W0, a0 = tl.gaussian_init(9, 14, rng)
    X, y = np.zeros((300, 9)), np.zeros(300)

    def draw(rows):
        if rows.start >= 128:
            raise OSError("disk on fire")

    pool, scratch = _lanes(2)
    with pool, pytest.raises(OSError, match="disk on fire"):
        fast_gs._step_in_lanes(pool, scratch, X, y, draw, W0, a0, 64)


def test_draw_rows_chunk_by_chunk_equals_sample_batch():
    """The drawer's chunked fill gives sample_batch's inputs and labels to the last bit."""
    target = tl.make_target("giant_step_teacher")
    rng = np.random.default_rng(8)
    X, y = np.empty((300, 9)), np.empty(300)
    for rows in row_chunks(300, 64):
        fast_gs._draw_rows(rng, target, X, y, rows)
    X_ref, y_ref = tl.sample_batch(300, 9, target, np.random.default_rng(8))
    np.testing.assert_array_equal(X, X_ref)
    np.testing.assert_array_equal(y, y_ref)
    assert rng.standard_normal() == np.random.default_rng(8).standard_normal(300 * 9 + 1)[-1]


@pytest.mark.parametrize("lanes", [1, 2, 3])
def test_test_errors_in_lanes_equal_the_whole_test_set(rng, lanes):
    """Chunked draws in chunk order into each lane's buffer: the same test set and the same
    means as sample_batch, on any number of lanes, and the Generator left where it would be."""
    target = tl.make_target("giant_step_teacher")
    d, p, n_test = 9, 14, 300
    readouts = [(rng.standard_normal((p, d)), rng.standard_normal(p)) for _ in range(2)]
    A, B = 0.3, rng.standard_normal(d)
    stream = np.random.default_rng(4)
    pool, scratch = _lanes(lanes)
    with pool:
        got = fast_gs._test_errors_in_lanes(pool, scratch, n_test, d, target, stream, A, B,
                                            readouts, chunk=64)
    reference_stream = np.random.default_rng(4)
    Xt, yt = tl.sample_batch(n_test, d, target, reference_stream)
    lin = A + Xt @ B
    want = [tl.mean_squared_error(Xt, yt, W, a, offset=lin) for W, a in readouts]
    want.append(float(np.mean((yt - lin) ** 2)))
    np.testing.assert_allclose(got, want, rtol=1e-13)
    assert got[0] != got[1]                      # the two readouts are told apart
    assert stream.standard_normal() == reference_stream.standard_normal()


def test_one_step_beats_random_features_when_the_step_is_giant():
    res = gs.one_step_vs_random_features(64, 128, tl.make_target("x1+he2(x1)/2"), n_step=256,
                                         n_ridge=1024, n_test=2000, c=2.0, lam=0.1,
                                         rng=np.random.default_rng(0))
    assert res.one_step < res.random_features
    assert res.one_step < res.linear


# -- ridge --------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(50, 12), (9, 30)])
def test_ridge_matches_lstsq_on_the_augmented_system(rng, shape):
    Phi = rng.standard_normal(shape)
    y = rng.standard_normal(shape[0])
    lam = 0.37
    aug = np.vstack([Phi, np.sqrt(lam) * np.eye(shape[1])])
    ref = np.linalg.lstsq(aug, np.concatenate([y, np.zeros(shape[1])]), rcond=None)[0]
    np.testing.assert_allclose(tl.ridge_solve(Phi, y, lam), ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("n", [200, 5])
def test_streamed_ridge_readout_equals_dense_ridge(rng, n):
    X = rng.standard_normal((n, 7))
    W = rng.standard_normal((11, 7))
    y = rng.standard_normal(n)
    offset = 0.1 * X[:, 0]
    ref = tl.ridge_solve(tl.features(X, W), y - offset, 0.5)
    for fast in (True, False):
        got = tl.ridge_readout(X, y, W, 0.5, chunk=17, offset=offset, fast=fast)
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_blas_gram_equals_the_numpy_gram(rng, activation):
    X = rng.standard_normal((203, 9))
    W = rng.standard_normal((13, 9))
    y = rng.standard_normal(203)
    fn = np.tanh if activation == "tanh" else (lambda Z: np.maximum(Z, 0.0))
    G, rhs = fast_ridge.streamed_gram(X, y, W, fn, 50)
    Phi = fn(X @ W.T)
    np.testing.assert_allclose(G, Phi.T @ Phi, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(G, G.T)
    np.testing.assert_allclose(rhs, Phi.T @ y, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("lanes", [1, 2, 3])
def test_lane_gram_equals_the_streamed_gram_on_any_number_of_lanes(rng, lanes):
    """ReLU Gram matrix and right-hand side summed on lanes (numpy's BLAS, terms added in chunk
    order): those of gram_core, and the same bits on any number of lanes."""
    X = rng.standard_normal((203, 9))
    W = rng.standard_normal((13, 9))
    y = rng.standard_normal(203)
    relu = lambda Z: np.maximum(Z, 0.0)                                       # noqa: E731
    G_ref, rhs_ref = fast_ridge.gram_core(X, y, W, relu, 50)
    with ThreadPoolExecutor(max(lanes - 1, 1)) as pool:
        G, rhs = fast_ridge.lane_gram(pool, [np.empty(50 * 13) for _ in range(lanes)],
                                      X, y, W, 50)
        G1, rhs1 = fast_ridge.lane_gram(pool, [np.empty(50 * 13)], X, y, W, 50)
    np.testing.assert_allclose(G, G_ref, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(rhs, rhs_ref, rtol=1e-13, atol=1e-13)
    np.testing.assert_array_equal(G, G.T)
    np.testing.assert_array_equal(G, G1)
    np.testing.assert_array_equal(rhs, rhs1)


def test_mean_squared_error_and_linear_fit(rng):
    X, y, W, a = small_problem(rng)
    f = tl.network_output(X, W, a)
    assert tl.mean_squared_error(X, y, W, a) == pytest.approx(np.mean((y - f) ** 2), rel=1e-13)
    assert tl.mean_squared_error(X, y, W, a, offset=y - f) == pytest.approx(0.0, abs=1e-28)
    A, B = tl.linear_fit(X, y)
    assert A == pytest.approx(y.mean())
    np.testing.assert_allclose(B, X.T @ y / len(y))


# -- overlaps -----------------------------------------------------------------------------------
def test_neuron_cosines_and_subspace_overlap():
    W = np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 2.0]])
    U = np.eye(3)[:, :2]
    np.testing.assert_allclose(tl.neuron_cosines(W, U), [[0.6, 0.8], [0.0, 0.0]])
    np.testing.assert_allclose(tl.subspace_overlap(W, U), [1.0, 0.0])


def test_mean_abs_cosines_averages_neuron_cosines_over_a_trajectory(rng):
    traj = rng.standard_normal((3, 8, 6))
    U = np.linalg.qr(rng.standard_normal((6, 2)))[0]
    got = tl.mean_abs_cosines(traj, U)
    ref = np.array([np.abs(tl.neuron_cosines(W, U)).mean(axis=0) for W in traj])
    np.testing.assert_allclose(got, ref, rtol=1e-13)


def test_spike_alignment_of_an_exact_rank_one_update(rng):
    u = np.zeros(10)
    u[0] = 1.0
    v = np.array([np.cos(0.3), np.sin(0.3)] + [0.0] * 8)
    delta = np.outer(rng.standard_normal(7), v)
    align, s = tl.spike_alignment(delta, u, k=2)
    assert align == pytest.approx(np.cos(0.3), rel=1e-12)
    assert s[1] < 1e-12 * s[0]


def test_principal_angles_to_matches_scipy(rng):
    delta = rng.standard_normal((20, 9))
    U = np.linalg.qr(rng.standard_normal((9, 2)))[0]
    _, _, Vt = np.linalg.svd(delta)
    ref = np.sort(scipy.linalg.subspace_angles(Vt[:2].T, U))
    np.testing.assert_allclose(tl.principal_angles_to(delta, U), ref, atol=1e-10)


def test_specialisation_ratio_extremes(rng):
    U = np.eye(5)[:, :2]
    collapsed = np.outer(rng.choice([-1.0, 1.0], 50), [1.0, 1.0, 0, 0, 0])
    collapsed[:, 2:] += rng.standard_normal((50, 3))
    assert tl.specialisation_ratio(collapsed, U) == pytest.approx(0.0, abs=1e-12)
    angles = np.linspace(0, np.pi, 40, endpoint=False)
    spread = np.zeros((40, 5))
    spread[:, 0], spread[:, 1] = np.cos(angles), np.sin(angles)
    assert tl.specialisation_ratio(spread, U) == pytest.approx(1.0, rel=1e-12)


def test_learned_specialisation_uses_only_the_learned_neurons(rng):
    d = 6
    U = np.eye(d)[:, :2]
    angles = np.linspace(0, np.pi, 30, endpoint=False)
    learned = np.zeros((30, d))
    learned[:, 0], learned[:, 1] = np.cos(angles), np.sin(angles)
    learned[:, 2:] = 0.5 * rng.standard_normal((30, d - 2)) / np.sqrt(d)
    # unlearned neurons: tiny V*-overlap, all along e1, which would pull the plain ratio down
    unlearned = np.zeros((20, d))
    unlearned[:, 0] = 1e-3
    unlearned[:, 2] = 1.0
    W = np.concatenate([learned, unlearned])
    ratio, fraction = tl.learned_specialisation(W, U, 0.4)
    assert fraction == pytest.approx(30 / 50)
    assert ratio == pytest.approx(tl.specialisation_ratio(learned, U), rel=1e-12)
    assert ratio == pytest.approx(1.0, abs=0.05)
    assert tl.specialisation_ratio(W, U) < 0.7          # the all-neuron ratio is diluted
    # learned neurons sharing one direction of V*: ratio 0, whatever the others do
    shared = learned.copy()
    shared[:, :2] = [1.0, 1.0]
    ratio, _ = tl.learned_specialisation(np.concatenate([shared, unlearned]), U, 0.4)
    assert ratio == pytest.approx(0.0, abs=1e-12)
    # invariant under a rotation of the input space that preserves V*
    Q = np.eye(d)
    Q[2:, 2:] = np.linalg.qr(rng.standard_normal((d - 2, d - 2)))[0]
    np.testing.assert_allclose(tl.learned_specialisation(W @ Q.T, U, 0.4),
                               tl.learned_specialisation(W, U, 0.4), rtol=1e-10)
    # fewer than two learned neurons: nan ratio, fraction still reported
    ratio, fraction = tl.learned_specialisation(unlearned, U, 0.4)
    assert np.isnan(ratio) and fraction == 0.0


# -- Hermite coefficients and predictions ---------------------------------------------------------
def test_relu_and_erf_hermite_coefficients_are_exact():
    s2pi = 1 / np.sqrt(2 * np.pi)
    np.testing.assert_allclose(hermite_coefficients("relu", 5),
                               [s2pi, 0.5, s2pi, 0, -s2pi, 0], atol=1e-14)
    np.testing.assert_allclose(hermite_coefficients("erf", 3),
                               [0, 2 / np.sqrt(3 * np.pi), 0, -4 / (3 * np.sqrt(3 * np.pi))],
                               atol=1e-13)
    exact_relu = [float(v) for v in sym.relu_hermite(5)]
    exact_erf = [float(v) for v in sym.erf_hermite(3)]
    np.testing.assert_allclose(hermite_coefficients("relu", 5), exact_relu, atol=1e-14)
    np.testing.assert_allclose(hermite_coefficients("erf", 3), exact_erf, atol=1e-13)


def test_tanh_hermite_coefficients_against_adaptive_quadrature():
    got = hermite_coefficients("tanh", 5)
    for k in range(6):
        ref = quad(lambda x, k=k: np.tanh(x) * eval_hermitenorm(k, x) * np.exp(-x * x / 2)
                   / np.sqrt(2 * np.pi), -40, 40, epsabs=1e-14, limit=200)[0]
        assert got[k] == pytest.approx(ref, abs=1e-10)
    np.testing.assert_allclose(got[[1, 3, 5]], [0.6057, -0.3636, 0.6852], atol=5e-5)


def test_mean_derivative_squares():
    assert mean_derivative_sq("relu") == pytest.approx(0.5, abs=1e-15)
    assert mean_derivative_sq("erf") == pytest.approx(4 / (np.pi * np.sqrt(5)), abs=1e-13)
    assert mean_derivative_sq("tanh") == pytest.approx(0.4644, abs=5e-5)


@pytest.mark.parametrize("m", range(7))
def test_branch_quadrature_is_exact_for_half_line_monomials(m):
    got = gaussian_expectation(branches=(lambda z: 0 * z, lambda z: z**m))
    assert got == pytest.approx(float(sym.half_line_moment(m)), rel=1e-11)


def test_target_statistics_against_sympy():
    x1, x2, x3 = sp.symbols("x1 x2 x3")
    cases = {"x1+x1x2": (x1 + x1 * x2, [x1, x2]),
             "x1+x2x3": (x1 + x2 * x3, [x1, x2, x3]),
             "giant_step_teacher": (sum((z + (z**2 - 1) / 2 + (z**4 - 6 * z**2 + 3) / 24) / 2
                                        for z in (x1, x2)), [x1, x2])}
    for name, (expr, variables) in cases.items():
        stats = tp.target_statistics(tl.make_target(name))
        c0, c1, _ = sym.target_hermite(expr, variables)
        assert stats["mean"] == pytest.approx(float(c0), abs=1e-13)
        np.testing.assert_allclose(stats["c1"], [float(v) for v in c1], atol=1e-13)
        assert stats["mean_sq"] == pytest.approx(
            float(sym.gaussian_moment_expectation(sp.expand(expr**2), variables)), rel=1e-13)


def test_closed_form_predictions_match_their_sympy_expressions():
    expr, (c, a, mu1, C1, Ey2, Es2, alpha) = sym.neuron_cosine_expression()
    values = {c: 1.3, a: 1.0, mu1: 0.5, C1: 1.2, Ey2: 2.0, Es2: 0.5, alpha: 3.0}
    assert tp.predicted_neuron_cosine(1.3, 3.0, 0.5, 1.2, 2.0, 0.5) == pytest.approx(
        float(expr.subs(values)), rel=1e-14)
    assert tp.predicted_neuron_cosine(1, 2, 0.5, 1, 1, 0.5) == pytest.approx(0.5 / np.sqrt(1.5))
    sexpr, (C1s, Ey2s, alphas) = sym.spike_cosine_expression()
    assert tp.predicted_spike_cosine(2, 1, 2) == pytest.approx(
        float(sexpr.subs({C1s: 1, Ey2s: 2, alphas: 2})), rel=1e-14)
    assert tp.best_linear_error(tl.make_target("x1+he2(x1)/2")) == pytest.approx(0.5, abs=1e-13)


# -- symbolic identities -----------------------------------------------------------------------
def test_mehler_stein_and_staircase_identities():
    table, rho = sym.mehler_table(4)
    expected = sp.diag(*[sp.factorial(k) * rho**k for k in range(5)])
    assert sp.simplify(table - expected) == sp.zeros(5, 5)
    assert sym.stein_identity_residual(5) == 0
    value, stein, (m1, m2) = sym.staircase_coefficient(4)
    assert sp.simplify(value - stein) == 0
    assert sp.simplify(value.subs(m1, 0)) == 0          # no overlap with x1: nothing to learn
    q = sym.relu_second_derivative_mean()
    assert sp.simplify(q[0] - 1 / (sp.sqrt(2 * sp.pi) * q[1])) == 0
    assert sym.lr_exponent()[0] == 1
    assert all(sym.tanh_is_odd_hermite(5))


def test_symbolic_target_hermite_examples():
    x1, x2 = sp.symbols("x1 x2")
    c0, c1, c2 = sym.target_hermite(x1 + x1 * x2, [x1, x2])
    assert c0 == 0 and c1 == sp.Matrix([1, 0]) and c2 == sp.Matrix([[0, 1], [1, 0]])
    _, c1, _ = sym.target_hermite((4 * x1 + x1**2 + x2) / 2, [x1, x2])
    assert c1 == sp.Matrix([2, sp.Rational(1, 2)])


# -- bad input ---------------------------------------------------------------------------------
def test_bad_inputs_raise_value_errors_naming_the_argument(rng):
    X, y, W, a = small_problem(rng)
    target = tl.make_target("x1")
    bad_X = X.copy()
    bad_X[0, 0] = np.nan
    cases = [
        (lambda: tl.features(X, W, "softplus"), "activation"),
        (lambda: tl.make_target("x9"), "name"),
        (lambda: tp.target_statistics("x1"), "target"),
        (lambda: tl.symmetric_init(5, 7, rng), "p"),
        (lambda: tl.symmetric_init(-1, 4, rng), "d"),
        (lambda: tl.symmetric_init(5, 4, None), "rng"),
        (lambda: tl.gaussian_init(0, 4, rng), "d"),
        (lambda: tl.learning_rate(-1.0, 4, 4), "c"),
        (lambda: tl.learning_rate(1.0, 4, 4, leap=0.5), "leap"),
        (lambda: tl.sample_batch(0, 4, target, rng), "n"),
        (lambda: tl.sample_batch(4, 2, tl.make_target("x1+x2x3"), rng), "d"),
        (lambda: tl.sample_batch(4, 4, target, rng, noise=-1.0), "noise"),
        (lambda: tl.features(X, W[:, :3]), "W"),
        (lambda: tl.network_output(bad_X, W, a), "X"),
        (lambda: tl.network_output(X, W, a[:3]), "a"),
        (lambda: tl.network_output(X, W, a, chunk=0), "chunk"),
        (lambda: tl.batch_gradient(X, y[:5], W, a), "y"),
        (lambda: tl.batch_gradient(X, y, W, a, offset=y[:3]), "offset"),
        (lambda: tl.giant_steps(W, a, target, n=5, lr=0.0, rng=rng), "lr"),
        (lambda: tl.giant_steps(W, a, target, n=5, lr=1.0, steps=0, rng=rng), "steps"),
        (lambda: tl.giant_steps(W, a, "x1", n=5, lr=1.0, rng=rng), "target"),
        (lambda: tl.ridge_solve(X, y, 0.0), "lam"),
        (lambda: tl.ridge_solve(X, y[:4], 1.0), "y"),
        (lambda: tl.ridge_solve(X[0], y, 1.0), "Phi"),
        (lambda: tl.ridge_readout(X, y, W, -1.0), "lam"),
        (lambda: tl.ridge_readout(X, y, W[:, :2], 1.0), "W"),
        (lambda: tl.ridge_readout(X, y, W, 1.0, offset=y[:2]), "offset"),
        (lambda: tl.mean_squared_error(X, y, W, a, offset=np.ones(2)), "offset"),
        (lambda: tl.linear_fit(X, y[:3]), "y"),
        (lambda: tl.neuron_cosines(W, np.ones((3, 1))), "U"),
        (lambda: tl.neuron_cosines(W, 2 * np.eye(7)[:, :2]), "U"),
        (lambda: tl.neuron_cosines(np.zeros((2, 7)), np.eye(7)[:, :2]), "W"),
        (lambda: tl.spike_alignment(W, np.ones(3)), "u"),
        (lambda: tl.mean_abs_cosines(W, np.eye(7)[:, :2]), "trajectory"),
        (lambda: tl.mean_abs_cosines(np.zeros((2, 3, 7)), np.eye(7)[:, :2]), "trajectory"),
        (lambda: tl.spike_alignment(W, np.ones(7), k=0), "k"),
        (lambda: tl.principal_angles_to(W, np.eye(7)[:, :2], k=99), "k"),
        (lambda: tl.specialisation_ratio(W, np.eye(7)[:, :1]), "U"),
        (lambda: tl.learned_specialisation(W, np.eye(7)[:, :1], 0.4), "U"),
        (lambda: tl.learned_specialisation(W, np.eye(7)[:, :2], 1.5), "threshold"),
        (lambda: tl.learned_specialisation(W, np.eye(7)[:, :2], np.nan), "threshold"),
        (lambda: gaussian_expectation(None), "fn"),
        (lambda: gaussian_expectation(np.sin, n_nodes=1), "n_nodes"),
        (lambda: gaussian_expectation(branches=(np.sin,)), "branches"),
        (lambda: hermite_coefficients("relu", -1), "k_max"),
        (lambda: mean_derivative_sq("relu", n_nodes=10_000), "n_nodes"),
        (lambda: tp.predicted_neuron_cosine(1, 0, 0.5, 1, 1, 0.5), "alpha"),
        (lambda: tp.predicted_neuron_cosine(1, 1, 0.5, -1, 1, 0.5), "c1_norm"),
        (lambda: tp.predicted_spike_cosine(2, 0, 0), "c1_norm"),
        (lambda: tp.predicted_spike_cosine(-2, 1, 1), "alpha"),
        (lambda: tp.best_linear_error(None), "target"),
        (lambda: gs.one_step_vs_random_features(8, 8, target, n_step=8, n_ridge=0, n_test=5,
                                                c=1, lam=1, rng=rng), "n_ridge"),
        (lambda: gs.single_step_protocol(8, 8, 16, rng, readout="reuse"), "readout"),
        (lambda: gs.single_step_protocol(8, 8, 16, rng, lam=0.0), "lam"),
        (lambda: gs.protocol_flops(0, 8, 8, 10), "n"),
        (lambda: gs.protocol_flops(10, 8, 8, -1), "n_test"),
        (lambda: tl.subspace_overlap(W, np.eye(3)), "U"),
        (lambda: tp.target_statistics(target, n_nodes=1), "n_nodes"),
        (lambda: sym.target_hermite(sp.Integer(1), []), "variables"),
        (lambda: sym.batch_gradient_check(d=0), "d"),
        (lambda: sym.relu_hermite(-1), "k_max"),
        (lambda: sym.erf_hermite(-1), "k_max"),
        (lambda: sym.half_line_moment(-1), "m"),
        (lambda: sym.gaussian_moment_expectation(sp.Integer(1), []), "variables"),
        (lambda: sym.mehler_table(-1), "k_max"),
        (lambda: sym.stein_identity_residual(1), "degree"),
        (lambda: sym.staircase_coefficient(1), "degree"),
        (lambda: sym.tanh_is_odd_hermite(-1), "k_max"),
    ]
    for call, name in cases:
        with pytest.raises(ValueError, match=name):
            call()


def test_wrong_types_raise_type_errors(rng):
    with pytest.raises(TypeError, match="d"):
        tl.symmetric_init(5.5, 4, rng)
    with pytest.raises(TypeError, match="threshold"):
        tl.learned_specialisation(np.ones((3, 4)), np.eye(4)[:, :2], "0.4")
    with pytest.raises(TypeError, match="X"):
        tl.features(np.array([["a"]]), np.ones((1, 1)))
