"""The shared divergence error."""

import math

import pytest

from theory.errors import DivergenceError, check_loss


def test_non_finite_loss_raises_with_step_loss_and_hint():
    with pytest.raises(DivergenceError) as info:
        check_loss(17, math.inf)
    assert info.value.step == 17 and math.isinf(info.value.loss)
    message = str(info.value)
    assert "step 17" in message and "lower the learning rate" in message
    assert isinstance(info.value, ValueError)
    with pytest.raises(DivergenceError, match="step 3"):
        check_loss(3, math.nan)


def test_growth_bound():
    assert check_loss(5, 99.0, initial_loss=1.0, growth_bound=100.0) == 99.0
    with pytest.raises(DivergenceError, match="grew more than"):
        check_loss(5, 101.0, initial_loss=1.0, growth_bound=100.0)


@pytest.mark.parametrize("kwargs, kind, name", [
    ({"step": -1, "loss": 1.0}, ValueError, "step"),
    ({"step": "3", "loss": 1.0}, TypeError, "step"),
    ({"step": 3, "loss": "1.0"}, TypeError, "loss"),
    ({"step": 3, "loss": None}, TypeError, "loss"),
    ({"step": 3, "loss": [1.0, 2.0]}, TypeError, "loss"),
    ({"step": 3, "loss": 1.0, "initial_loss": float("nan")}, ValueError, "initial_loss"),
    ({"step": 3, "loss": 1.0, "growth_bound": 0.0}, ValueError, "growth_bound"),
])
def test_check_loss_bad_input_names_the_argument(kwargs, kind, name):
    with pytest.raises(kind, match=name) as info:
        check_loss(**kwargs)
    assert not isinstance(info.value, DivergenceError)


def test_check_loss_accepts_numpy_scalars():
    import numpy as np
    assert check_loss(np.int64(2), np.float32(0.5)) == 0.5
    assert check_loss(0.25, np.array(1.5)) == 1.5          # a flow reports a time


def test_flow_divergence_names_the_time():
    error = DivergenceError(2.5, float("nan"), "the ODE solver failed", unit="t =")
    assert "at t = 2.5: the ODE solver failed" in str(error) and error.step == 2.5


def test_trainers_share_the_one_exception_type():
    from theory import critical_sets, deep_linear, effective_rank
    assert effective_rank.DivergenceError is DivergenceError
    assert deep_linear.DivergenceError is DivergenceError
    assert critical_sets.DivergenceError is DivergenceError


def test_every_trainer_stops_on_growth_before_overflow():
    """A learning rate a little too large makes the loss grow geometrically; each trainer
    stops once it has grown GROWTH_BOUND-fold, with a finite loss in the error."""
    import numpy as np

    from theory import deep_linear, effective_rank, relu_training
    from theory.errors import GROWTH_BOUND

    rng = np.random.default_rng(0)
    W0 = deep_linear.orthogonal_init(4, 2, 1.0, rng)
    target = np.eye(4)
    with pytest.raises(DivergenceError, match="grew more than") as info:
        deep_linear.train(W0, target, lr=1.2, steps=5000)
    assert np.isfinite(info.value.loss)
    assert info.value.loss > GROWTH_BOUND * deep_linear.loss(W0, target)

    x, w = effective_rank.gauss_legendre_grid(16)
    net = effective_rank.xavier_init((1, 3, 1), rng, n_runs=2)
    with pytest.raises(DivergenceError, match="grew more than"):
        effective_rank.train(net, x, w, effective_rank.staircase_target(x), steps=400, lr=30.0,
                             optimizer="gd", log_every=1)

    # every point truncated, error factor 1 - lr k/N = -1.5 per step: the loss grows 2.25x
    X = np.array([[0.0], [1.0]])
    target = np.full((2, 1), 1e6)
    with pytest.raises(DivergenceError, match="grew more than"):
        relu_training.gradient_descent_thresholds([1e6 - 0.5], X, target, lr=2.5, steps=100)
