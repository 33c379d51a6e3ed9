"""The shared layer: activations, optimizers, the training loop, fits, tables."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import assert_gradient_matches
from scipy.integrate import quad

from theory import activations, fitting, optimizers, tables, training
from theory.errors import DivergenceError, check_loss

# ------------------------------------------------------------------ activations ----------

SMOOTH = ["tanh", "erf", "sigmoid", "swish"]


@pytest.mark.parametrize("name", SMOOTH + ["linear"])
def test_derivatives_match_central_differences(name):
    act = activations.ACTIVATIONS[name]
    z = np.linspace(-2.5, 2.5, 11)
    h = 1e-5
    np.testing.assert_allclose(act.derivative(z), (act.fn(z + h) - act.fn(z - h)) / (2 * h),
                               rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(act.second_derivative(z),
                               (act.derivative(z + h) - act.derivative(z - h)) / (2 * h),
                               rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("name", list(activations.ACTIVATIONS))
def test_structural_flags_hold(name):
    act = activations.ACTIVATIONS[name]
    z = np.linspace(-3, 3, 13)
    if act.odd:
        np.testing.assert_allclose(act.fn(-z), -act.fn(z), atol=1e-15)
    else:
        assert np.max(np.abs(act.fn(-z) + act.fn(z))) > 1e-3
    assert (abs(float(act.fn(np.zeros(1))[0])) < 1e-15) == act.zero_at_origin
    h = act.fn(z)
    np.testing.assert_allclose(act.slope(z, h), act.derivative(z), atol=1e-15)


def test_relu_hermite_coefficients_have_their_closed_form():
    # mu_0 = 1/sqrt(2 pi), mu_1 = 1/2, mu_2 = 1/sqrt(2 pi), mu_3 = 0, mu_4 = -1/sqrt(2 pi)
    c = 1 / math.sqrt(2 * math.pi)
    np.testing.assert_allclose(activations.hermite_coefficients("relu", 5),
                               [c, 0.5, c, 0.0, -c, 0.0], atol=1e-13)
    assert activations.mean_derivative_sq("relu") == pytest.approx(0.5, abs=1e-14)


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "swish"])
def test_hermite_coefficients_match_adaptive_quadrature(name):
    act = activations.ACTIVATIONS[name]
    he = [lambda x: 1.0, lambda x: x, lambda x: x * x - 1, lambda x: x**3 - 3 * x]
    ref = [quad(lambda x, f=f: float(act.fn(np.array(x))) * f(x) * math.exp(-x * x / 2)
                / math.sqrt(2 * math.pi), -np.inf, np.inf)[0] for f in he]
    np.testing.assert_allclose(activations.hermite_coefficients(name, 3), ref, atol=1e-10)


def test_odd_activations_have_no_even_hermite_coefficients():
    mus = activations.hermite_coefficients("tanh", 6)
    np.testing.assert_allclose(mus[::2], 0.0, atol=1e-14)
    assert abs(mus[1]) > 0.5


def test_get_activation_refusals_name_the_argument():
    with pytest.raises(ValueError, match="activation"):
        activations.get_activation("softplus")
    with pytest.raises(ValueError, match="activation"):
        activations.get_activation("relu", choices=("tanh",))
    with pytest.raises(ValueError, match="analytic"):
        activations.get_activation("relu", analytic=True)
    assert activations.get_activation("swish", analytic=True).name == "swish"


# ------------------------------------------------------------------ optimizers -----------

def _quadratic(A, b):
    """Loss 1/2 x^T A x - b^T x and its gradient."""
    def objective(params):
        x = params[0]
        return 0.5 * x @ A @ x - b @ x, [A @ x - b]
    return objective


def test_gd_on_a_quadratic_follows_its_closed_form():
    # x_t - x* = (I - lr A)^t (x_0 - x*)
    A = np.diag([1.0, 3.0])
    b = np.array([1.0, -2.0])
    x_star = np.linalg.solve(A, b)
    opt = optimizers.make_optimizer("gd", lr=0.1)
    x = [np.zeros(2)]
    state = opt.init(x)
    for _ in range(25):
        _, g = _quadratic(A, b)(x)
        x, state = opt.update(x, g, state)
    expected = x_star + np.linalg.matrix_power(np.eye(2) - 0.1 * A, 25) @ (-x_star)
    np.testing.assert_allclose(x[0], expected, rtol=1e-13)


def test_heavy_ball_matches_its_two_step_recursion():
    # x_{t+1} = x_t - lr g_t + mu (x_t - x_{t-1}) for heavy ball with b <- mu b + g
    A = np.diag([0.5, 2.0])
    b = np.array([1.0, 1.0])
    opt = optimizers.make_optimizer("momentum", lr=0.05, momentum=0.8)
    x = [np.array([1.0, -1.0])]
    state = opt.init(x)
    xs = [x[0]]
    for _ in range(10):
        _, g = _quadratic(A, b)(x)
        x, state = opt.update(x, g, state)
        xs.append(x[0])
    for t in range(1, 10):
        g = A @ xs[t] - b
        np.testing.assert_allclose(xs[t + 1], xs[t] - 0.05 * g + 0.8 * (xs[t] - xs[t - 1]),
                                   rtol=1e-12, atol=1e-14)


def test_adam_first_step_moves_every_coordinate_by_lr():
    # at t = 1 the bias-corrected step is lr g / (|g| + eps): lr sign(g) up to eps
    opt = optimizers.make_optimizer("adam", lr=1e-2)
    g = [np.array([3.0, -0.2, 1e-3])]
    x, state = opt.update([np.zeros(3)], g, opt.init(g))
    np.testing.assert_allclose(x[0], -1e-2 * np.sign(g[0]), rtol=1e-4)
    assert state.t == 1


def test_lr_scale_scales_each_parameter():
    opt = optimizers.make_optimizer("gd", lr=0.5, lr_scale=[0.0, 2.0])
    new, _ = opt.update([np.ones(2), np.ones(3)], [np.ones(2), np.ones(3)])
    np.testing.assert_array_equal(new[0], np.ones(2))
    np.testing.assert_array_equal(new[1], np.zeros(3))


def test_optimizers_do_not_modify_their_inputs():
    for name in ("gd", "momentum", "adam"):
        opt = optimizers.make_optimizer(name, lr=0.1)
        p, g = [np.ones(3)], [np.full(3, 2.0)]
        state = opt.init(p)
        opt.update(p, g, state)
        np.testing.assert_array_equal(p[0], np.ones(3))
        np.testing.assert_array_equal(g[0], np.full(3, 2.0))


@pytest.mark.parametrize("kwargs, name", [
    (dict(name="sgd2", lr=0.1), "optimizer"), (dict(name="gd", lr=-1.0), "lr"),
    (dict(name="momentum", lr=0.1, momentum=1.0), "momentum"),
    (dict(name="adam", lr=0.1, betas=(0.9,)), "betas"),
    (dict(name="gd", lr=0.1, lr_scale=[-1.0]), "lr_scale"),
])
def test_make_optimizer_refusals_name_the_argument(kwargs, name):
    with pytest.raises((ValueError, TypeError), match=name):
        optimizers.make_optimizer(kwargs.pop("name"), **kwargs)


def test_update_refuses_mismatched_gradients():
    opt = optimizers.make_optimizer("gd", lr=0.1)
    with pytest.raises(ValueError, match="grads"):
        opt.update([np.ones(2)], [np.ones(3)])


# ------------------------------------------------------------------ training loop --------

def test_run_records_every_loss_and_the_logged_snapshots():
    A = np.diag([1.0, 2.0])
    b = np.zeros(2)
    opt = optimizers.make_optimizer("gd", lr=0.1)
    snaps, steps, losses, converged, final = training.run(
        _quadratic(A, b), [np.ones(2)], opt, steps=10, log_every=4)
    np.testing.assert_array_equal(steps, [0, 4, 8, 10])
    assert losses.shape == (11,) and not converged
    x10 = np.array([0.9**10, 0.8**10])            # (1 - lr a_i)^t
    np.testing.assert_allclose(final[0], x10, rtol=1e-14)
    np.testing.assert_allclose(snaps[-1][0], x10, rtol=1e-14)
    np.testing.assert_allclose(losses[10], 0.5 * x10 @ A @ x10, rtol=1e-13)


def test_run_stops_at_the_tolerance_and_evaluates_lazy_gradients_only_when_stepping():
    calls = []

    def objective(params):
        x = params[0]
        def grads():
            calls.append(1)
            return [x]
        return 0.5 * float(x @ x), grads

    opt = optimizers.make_optimizer("gd", lr=0.5)
    _, steps, losses, converged, _ = training.run(objective, [np.ones(1)], opt, steps=100,
                                                  tol=1e-3)
    # loss_t = 0.5 * 0.25^t < 1e-3  first at t = 5
    assert converged and losses.size == 6 and steps[-1] == 5 and len(calls) == 5


def test_run_raises_on_divergence_naming_the_step():
    opt = optimizers.make_optimizer("gd", lr=3.0)          # |1 - 3 * 1| = 2 > 1: diverges
    with pytest.raises(DivergenceError, match="step"):
        training.run(_quadratic(np.eye(1), np.zeros(1)), [np.ones(1)], opt, steps=200)


def test_batched_losses_name_the_run_that_diverged():
    with pytest.raises(DivergenceError, match=r"run \(1,\)"):
        check_loss(3, np.array([1.0, np.nan]))
    with pytest.raises(DivergenceError, match=r"run \(0,\)"):
        check_loss(3, np.array([1e9, 1.0]), np.array([1.0, 1.0]))


def test_trajectory_counts_its_steps():
    traj = training.Trajectory([], np.array([0]), np.zeros((8, 3)), False, None)
    assert traj.n_steps == 7


# ------------------------------------------------------------------ fits -----------------

def test_log_linear_fit_recovers_an_exact_exponential():
    x = np.linspace(0, 3, 7)
    fit = fitting.log_linear_fit(x, 2.0 * np.exp(-0.7 * x))
    assert fit.slope == pytest.approx(-0.7, abs=1e-13)
    assert fit.intercept == pytest.approx(math.log(2.0), abs=1e-13)
    assert fit.r2 == pytest.approx(1.0, abs=1e-13)
    assert fit.ratio == pytest.approx(math.exp(-0.7))


def test_log_linear_fit_defaults_to_index_abscissa_and_flags_curvature():
    fit = fitting.log_linear_fit(None, 3.0 ** np.arange(5))
    assert fit.ratio == pytest.approx(3.0, rel=1e-12)
    curved = fitting.log_linear_fit(None, np.exp(np.arange(6.0) ** 2))
    assert curved.r2 < 0.99


def test_log_slopes_equal_the_column_by_column_fit():
    rng = np.random.default_rng(0)
    Y = np.exp(rng.standard_normal((9, 4))) * np.sign(rng.standard_normal((9, 4)))
    slopes = fitting.log_slopes(None, Y)
    for k in range(4):
        assert slopes[k] == pytest.approx(fitting.log_linear_fit(None, np.abs(Y[:, k])).slope,
                                          abs=1e-12)


@pytest.mark.parametrize("x, y, name", [([0, 1], [1.0, -1.0], "y"), ([0, 1, 2], [1, 2], "x"),
                                        ([1, 1, 1], [1, 2, 3], "x")])
def test_log_linear_fit_refusals_name_the_argument(x, y, name):
    with pytest.raises(ValueError, match=name):
        fitting.log_linear_fit(x, y)


def test_central_difference_is_exact_for_quadratics():
    A = np.array([[2.0, 1.0], [1.0, 4.0]])
    x = np.array([0.3, -1.2])
    assert_gradient_matches(lambda v: 0.5 * v @ A @ v, A @ x, x, rtol=1e-9, atol=1e-10)


# ------------------------------------------------------------------ tables ---------------

def test_text_table_aligns_columns_and_wraps_cells():
    out = tables.text_table(["a", "bb"], [["xyz", ["1", "22"]], ["", "3"]])
    assert out.split("\n") == ["a    bb", "---  --", "xyz  1", "     22", "     3"]


def test_markdown_table_aligns_and_escapes():
    out = tables.markdown_table(["x", "n"], [["a|b", "1"]], align="lr")
    assert out.split("\n") == ["| x | n |", "|---|---:|", "| a\\|b | 1 |"]
    with pytest.raises(ValueError, match="rows"):
        tables.markdown_table(["x"], [["1", "2"]])
    with pytest.raises(ValueError, match="align"):
        tables.markdown_table(["x"], [["1"]], align="q")


# ------------------------------------------------------------------ batching, progress -------

@pytest.mark.parametrize("n, chunk", [(0, 3), (7, 3), (9, 3), (5, 10)])
def test_row_chunks_tile_the_rows_in_order(n, chunk):
    from theory.linalg import row_chunks

    slices = list(row_chunks(n, chunk))
    covered = [i for s in slices for i in range(s.start, s.stop)]
    assert covered == list(range(n))
    assert all(0 < s.stop - s.start <= chunk for s in slices)
    with pytest.raises(ValueError, match="chunk"):
        list(row_chunks(n, 0))


def test_counter_is_off_when_disabled():
    from theory.progress import counter

    assert counter(5, desc="x", unit="y", enable=False) is None
