"""Experiments of notebook 02: one giant step + ridge readout, against random features.

Dandi, Krzakala, Loureiro, Pesce & Stephan, *How Two-Layer Neural Networks Learn, One (Giant)
Step at a Time* (arXiv:2305.18270, abstract and section 2), and Ba et al. (arXiv:2205.01445,
abstract): after one large first-layer step

    W1 = W0 - lr grad_W L(W0),       L(W) = (1/2n) sum_nu (y_nu - f(x_nu; W, a0))^2,

ridge on the features sigma(X W1^T)/sqrt p generalises better than ridge on the initial random
features sigma(X W0^T)/sqrt p. Two experiments:

* :func:`one_step_vs_random_features`: symmetrised init, one (or a few) fresh-batch steps at
  lr = c p d^((l-1)/2), ridge on a fresh batch (notebook 02, section 6);
* :func:`single_step_protocol`: one seed of the official ``single_step`` notebook of Dandi et
  al. [code] (notebook 02, section 7). Its plain version is :func:`_single_step_plain` below,
  the numbers of the default ``fast=True`` come from :mod:`theory.fast.giant_step` (worker
  thread for the random draws, BLAS-level ridge), equal to round-off (tests/test_two_layer.py);
  a :class:`Workspace` passed from call to call keeps the batch's memory.

The model, its gradient and the ridge readout are in :mod:`theory.two_layer`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validate import as_choice, as_float, as_generator, as_int
from .errors import DivergenceError, check_loss
from .fast import giant_step as _fast
from .fast.memory import Workspace
from .two_layer import (DEFAULT_CHUNK, ActivationLike, Target, batch_gradient,
                        gaussian_init, giant_steps, learning_rate, linear_fit, make_target,
                        mean_squared_error, ridge_readout, sample_batch, symmetric_init)

__all__ = ["ReadoutComparison", "one_step_vs_random_features", "ProtocolResult",
           "single_step_protocol", "protocol_flops", "Workspace"]


@dataclass(frozen=True)
class ReadoutComparison:
    """Test errors of ridge on trained features, on the initial (random) features, and linear."""

    one_step: float
    random_features: float
    linear: float


def one_step_vs_random_features(d: int, p: int, target: Target, *, n_step: int, n_ridge: int,
                                n_test: int, c: float, lam: float, rng: np.random.Generator,
                                activation: ActivationLike = "relu", steps: int = 1,
                                leap: float = 1.0,
                                chunk: int = DEFAULT_CHUNK) -> ReadoutComparison:
    """One (or a few) giant steps, then ridge on a fresh batch, against random features.

    The random-features baseline uses the same W0, the same ridge batch, lambda and test set.
    The linear error is that of the empirical best linear predictor (mean + x.B fitted on the
    ridge batch) on the test set. Symmetrised init, lr = c p d^((l-1)/2).
    """
    rng = as_generator("rng", rng)
    W0, a = symmetric_init(d, p, rng)
    lr = learning_rate(c, p, d, leap)
    W1 = giant_steps(W0, a, target, n=n_step, lr=lr, steps=steps, rng=rng,
                     activation=activation, chunk=chunk)[-1]
    n_ridge = as_int("n_ridge", n_ridge, minimum=1)
    n_test = as_int("n_test", n_test, minimum=1)
    lam = as_float("lam", lam, minimum=0.0, strict_minimum=True)
    X, y = sample_batch(n_ridge, d, target, rng)
    Xt, yt = sample_batch(n_test, d, target, rng)
    errors = []
    for W in (W1, W0):
        a_fit = ridge_readout(X, y, W, lam, activation, chunk)
        errors.append(mean_squared_error(Xt, yt, W, a_fit, activation, chunk))
    A, B = linear_fit(X, y)
    linear = float(np.mean((yt - A - Xt @ B) ** 2))
    return ReadoutComparison(errors[0], errors[1], linear)


@dataclass(frozen=True)
class ProtocolResult:
    """One seed of the official single-step protocol: test errors and the flop count.

    The outcome of a protocol (three test errors), not a training run: it has no snapshots or
    loss record, so it is not a :class:`theory.training.Trajectory`.
    """

    one_step: float
    random_features: float
    linear: float
    flops: float


def protocol_flops(n: int, d: int, p: int, n_test: int, random_features: bool = True) -> float:
    """Floating-point operations of :func:`single_step_protocol` (the matrix products only).

    Step: X W0^T and M^T X (2 n d p each); readout: X W1^T (2 n d p) and Phi^T Phi by a
    symmetric rank-k update (n p (p + 1)); test: X_test W1^T (2 n_test d p). The random-feature
    baseline repeats readout and test with W0.
    """
    n = as_int("n", n, minimum=1)
    d = as_int("d", d, minimum=1)
    p = as_int("p", p, minimum=1)
    n_test = as_int("n_test", n_test, minimum=1)
    readout = 2.0 * n * d * p + n * p * (p + 1.0)
    test = 2.0 * n_test * d * p
    total = 4.0 * n * d * p + readout + test
    if random_features:
        total += readout + test
    return total


def _single_step_plain(d: int, p: int, n: int, rng: np.random.Generator, lam: float,
                       lr_scale: float, n_test: int, readout: str, random_features: bool,
                       chunk: int) -> tuple[np.ndarray, float, float, float]:
    """:func:`single_step_protocol` in plain numpy, draw after draw, on validated input.

    Returns ``(W1, one_step, random_features, linear)``; the fast path
    :func:`theory.fast.giant_step.single_step_errors` gives the same draws and numbers.
    """
    target = make_target("giant_step_teacher")
    W0, a0 = gaussian_init(d, p, rng)
    X, y = sample_batch(n, d, target, rng)
    A, B = linear_fit(X, y)                          # mean and linear part of the labels
    offset = A + X @ B
    with np.errstate(over="ignore", invalid="ignore"):
        grad, loss = batch_gradient(X, y, W0, a0, "relu", chunk, offset=offset)
        W1 = W0 - lr_scale * np.sqrt(n * p) * grad   # the giant step, lr = lr_scale sqrt(n p)
    check_loss(1, loss)
    if not np.all(np.isfinite(W1)):
        raise DivergenceError(1, loss, "the weights became non-finite")
    if readout == "fresh":
        X, y = sample_batch(n, d, target, rng)
        offset = A + X @ B
    Xt, yt = sample_batch(n_test, d, target, rng)
    lin_t = A + Xt @ B                               # A + x.B is added back at prediction
    errors = [mean_squared_error(Xt, yt, W,
                                 ridge_readout(X, y, W, lam, "relu", chunk, offset, fast=False),
                                 "relu", chunk, offset=lin_t)
              for W in ((W1, W0) if random_features else (W1,))]
    return (W1, errors[0], errors[1] if random_features else float("nan"),
            float(np.mean((yt - lin_t) ** 2)))


def single_step_protocol(d: int, p: int, n: int, rng: np.random.Generator, *,
                         lam: float = 1.0, lr_scale: float = 10.0, n_test: int = 100_000,
                         readout: str = "same", random_features: bool = True,
                         chunk: int = DEFAULT_CHUNK, fast: bool = True,
                         workspace: Workspace | None = None) -> ProtocolResult:
    """One seed of the official ``single_step`` notebook of Dandi et al. [code].

    Gaussian init (W0 = N(0,1)/sqrt d, a0 = N(0,1)/sqrt p), ReLU, teacher
    y = [g(x1) + g(x2)]/2 with g = He1 + He2/2 + He4/24, no label noise. The mean A and linear
    part B = mean(y x) of the labels are estimated on the training batch (the official notebook
    uses the test set) and removed before the step; lr = lr_scale sqrt(n p); one step
    W1 = W0 - lr grad L; ridge (lambda) on sigma(X W1^T)/sqrt p fitted on the same batch
    (``readout="same"``, as the official notebook) or on a fresh one (``"fresh"``); A + x.B is
    added back at prediction. Returns the test MSE on ``n_test`` fresh points for one step,
    for random features (same W0, data, lambda) and for the linear predictor A + x.B.
    ``fast=False`` runs the plain version (:func:`_single_step_plain`); the default runs
    :func:`theory.fast.giant_step.single_step_errors` (same draws, equal to round-off).

    ``workspace`` (a :class:`Workspace`, fast path only) keeps the batch's memory (n d floats)
    and the work spaces from one call to the next: a loop over seeds or batch sizes that passes
    the same workspace touches fresh pages once instead of once a call (the first touch of a
    1 GiB batch cost 0.7-3.0 s of kernel time a call on our third bench machine;
    bench/README.md). The results do not depend on it.
    """
    d = as_int("d", d, minimum=2)
    p = as_int("p", p, minimum=1)
    n = as_int("n", n, minimum=1)
    rng = as_generator("rng", rng)
    lam = as_float("lam", lam, minimum=0.0, strict_minimum=True)
    lr_scale = as_float("lr_scale", lr_scale, minimum=0.0, strict_minimum=True)
    n_test = as_int("n_test", n_test, minimum=1)
    readout = as_choice("readout", readout, {"same", "fresh"})
    chunk = as_int("chunk", chunk, minimum=1)
    if not isinstance(random_features, bool):
        raise TypeError(f"random_features must be a bool, got {random_features!r}")
    if not isinstance(fast, bool):
        raise TypeError(f"fast must be a bool, got {fast!r}")
    if workspace is not None and not isinstance(workspace, Workspace):
        raise TypeError(f"workspace must be a theory.giant_step.Workspace or None, got "
                        f"{type(workspace).__name__}")
    if workspace is not None and not fast:
        raise ValueError("workspace is used by the fast path only: pass fast=True or no "
                         "workspace")
    if fast:
        _, one_step, random, linear = _fast.single_step_errors(
            d, p, n, rng, lam, lr_scale, n_test, readout, random_features, chunk, workspace)
    else:
        _, one_step, random, linear = _single_step_plain(d, p, n, rng, lam, lr_scale, n_test,
                                                         readout, random_features, chunk)
    return ProtocolResult(one_step, random, linear,
                          protocol_flops(n, d, p, n_test, random_features))
