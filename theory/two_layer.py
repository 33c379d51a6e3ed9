"""Two-layer networks that learn features in one (or a few) giant gradient steps: the model.

Reproduces the setting of Dandi, Krzakala, Loureiro, Pesce & Stephan, *How Two-Layer Neural
Networks Learn, One (Giant) Step at a Time* (arXiv:2305.18270, JMLR 2024, section 2), with the
one-step spike of Ba et al. (arXiv:2205.01445) as the first example.

Conventions (rows are neurons)::

    f(x; W, a) = (1/sqrt p) sum_i a_i sigma(<w_i, x>),     W in R^{p x d},  a_i = O(1/sqrt p)
    L(W)       = (1/2n) sum_nu (y_nu - f(x_nu))^2
    -grad_W L  = (1/n) sum_nu r_nu (a/sqrt p) * sigma'(W x_nu) x_nu^T,   r = y - f
    W_{t+1}    = W_t - lr grad_W L  on a fresh N(0, I_d) batch,   lr = c p d^((l-1)/2)

The second layer is frozen during the steps and then fitted by ridge regression,
``min_a sum_nu (y_nu - f(x_nu))^2 + lam ||a||^2``. Every batch is processed in row chunks so
that n = d^2 at d = 512 fits in a few GiB. Targets depend on the first ``r`` coordinates of x
(W* = [e_1 .. e_r]; rotation invariance makes this general).

This module holds the model, its gradient, the giant steps, the ridge readout and the overlap
measures. The closed-form predictions are in :mod:`theory.two_layer_predictions`, the
experiments (one step + ridge against random features, the official single-step protocol) in
:mod:`theory.giant_step`, and the BLAS-level speed paths in :mod:`theory.fast`. The activations
and their Hermite coefficients are the shared ones of :mod:`theory.activations`. See notebook
02 and the method note ``docs/02_giant_step.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import scipy.linalg
from numpy.typing import ArrayLike

from ._validate import as_choice, as_float, as_float_array, as_generator, as_int
from .activations import Activation, get_activation
from .errors import DivergenceError, check_loss
from .fast.ridge import gram_core
from .linalg import principal_angles, row_chunks, top_subspace
from .progress import progress as _progress

__all__ = [
    "Target", "TARGETS", "make_target",
    "symmetric_init", "gaussian_init", "learning_rate", "sample_batch",
    "network_output", "features", "batch_gradient", "giant_steps",
    "ridge_solve", "ridge_readout", "mean_squared_error", "linear_fit",
    "neuron_cosines", "mean_abs_cosines", "subspace_overlap", "spike_alignment",
    "principal_angles_to", "specialisation_ratio", "learned_specialisation",
]

DEFAULT_CHUNK = 4096

#: An activation by name (see :data:`theory.activations.ACTIVATIONS`) or itself.
ActivationLike = str | Activation


# ---------------------------------------------------------------------------------------------
# Targets
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    """A multi-index target y = g(x_1, ..., x_r) (W* = first r basis vectors).

    ``fn`` maps an ``(n, r)`` array of the relevant coordinates to ``(n,)`` labels.
    """

    name: str
    rank: int
    fn: Callable[[np.ndarray], np.ndarray]

    def __call__(self, X: np.ndarray) -> np.ndarray:
        return self.fn(X[:, :self.rank])


def _he2(z: np.ndarray) -> np.ndarray:
    return z * z - 1.0


def _he4(z: np.ndarray) -> np.ndarray:
    return z**4 - 6.0 * z * z + 3.0


def _giant_step_g(z: np.ndarray) -> np.ndarray:
    """g(z) = He1 + He2/2 + He4/24 (official single_step notebook [code])."""
    return z + _he2(z) / 2.0 + _he4(z) / 24.0


#: Named targets: name -> (rank r, g acting on the ``(n, r)`` relevant coordinates).
TARGETS: dict[str, tuple[int, Callable[[np.ndarray], np.ndarray]]] = {
    "x1": (1, lambda h: h[:, 0]),
    "x1+x2": (2, lambda h: h[:, 0] + h[:, 1]),
    "x1+x1x2": (2, lambda h: h[:, 0] + h[:, 0] * h[:, 1]),
    "x1+x2x3": (3, lambda h: h[:, 0] + h[:, 1] * h[:, 2]),
    "x1+x1x2+x1x2x3": (3, lambda h: h[:, 0] + h[:, 0] * h[:, 1] + h[:, 0] * h[:, 1] * h[:, 2]),
    "he2(x1)": (1, lambda h: _he2(h[:, 0])),
    "x1+he2(x1)/2": (1, lambda h: h[:, 0] + _he2(h[:, 0]) / 2.0),
    "(he2(x1)+he2(x2))/2": (2, lambda h: (_he2(h[:, 0]) + _he2(h[:, 1])) / 2.0),
    "giant_step_teacher": (2, lambda h: (_giant_step_g(h[:, 0]) + _giant_step_g(h[:, 1])) / 2.0),
}


def make_target(name: str) -> Target:
    """One of the named targets of :data:`TARGETS` (He_k are probabilists' Hermite polynomials).

    ``"giant_step_teacher"`` is y = [g(x1) + g(x2)]/2 with g = He1 + He2/2 + He4/24, the teacher
    of the official ``single_step`` notebook of Dandi et al. [code].
    """
    name = as_choice("name", name, set(TARGETS))
    rank, fn = TARGETS[name]
    return Target(name, rank, fn)


# ---------------------------------------------------------------------------------------------
# Initialisation, learning rate, data
# ---------------------------------------------------------------------------------------------

def symmetric_init(d: int, p: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Symmetrised initialisation: p/2 rows uniform on S^{d-1}, each duplicated, a = +-1/sqrt p.

    Rows ``i`` and ``i + p/2`` share w_i and carry opposite second-layer weights
    (sqrt p a_i in {+1, -1}, hypercube), so that f(x; W0, a) = 0 for every x.
    Returns ``(W0, a)`` with shapes ``(p, d)`` and ``(p,)``.
    """
    d = as_int("d", d, minimum=1)
    p = as_int("p", p, minimum=2)
    if p % 2:
        raise ValueError(f"p must be even for the symmetrised initialisation, got {p}")
    rng = as_generator("rng", rng)
    half = rng.standard_normal((p // 2, d))
    half /= np.linalg.norm(half, axis=1, keepdims=True)
    signs = rng.choice([-1.0, 1.0], size=p // 2)
    W0 = np.concatenate([half, half])
    a = np.concatenate([signs, -signs]) / np.sqrt(p)
    return W0, a


def gaussian_init(d: int, p: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The official notebooks' init [code]: W0 = N(0,1)/sqrt d entries, a = N(0,1)/sqrt p."""
    d = as_int("d", d, minimum=1)
    p = as_int("p", p, minimum=1)
    rng = as_generator("rng", rng)
    W0 = rng.standard_normal((p, d)) / np.sqrt(d)
    a = rng.standard_normal(p) / np.sqrt(p)
    return W0, a


def learning_rate(c: float, p: int, d: int, leap: float = 1.0) -> float:
    """lr = c p d^((l-1)/2): an O(1) move of each neuron in the order-l Hermite direction."""
    c = as_float("c", c, minimum=0.0, strict_minimum=True)
    p = as_int("p", p, minimum=1)
    d = as_int("d", d, minimum=1)
    leap = as_float("leap", leap, minimum=1.0)
    return c * p * d ** ((leap - 1.0) / 2.0)


def sample_batch(n: int, d: int, target: Target, rng: np.random.Generator,
                 noise: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A fresh batch: X ~ N(0, I_d)^n (rows are samples), y = target(X) + noise N(0,1)."""
    n = as_int("n", n, minimum=1)
    d = as_int("d", d, minimum=1)
    if not isinstance(target, Target):
        raise ValueError("target must be a Target (see make_target)")
    if target.rank > d:
        raise ValueError(f"d must be >= the target rank {target.rank}, got {d}")
    noise = as_float("noise", noise, minimum=0.0)
    rng = as_generator("rng", rng)
    X = rng.standard_normal((n, d))
    y = target(X)
    if noise > 0:
        y = y + noise * rng.standard_normal(n)
    return X, y


def _check_network(W: ArrayLike, a: ArrayLike, d: int | None = None, *,
                   w_name: str = "W") -> tuple[np.ndarray, np.ndarray]:
    W = as_float_array(w_name, W, ndim=2)
    a = as_float_array("a", a, ndim=1)
    if a.shape[0] != W.shape[0]:
        raise ValueError(f"a must have one entry per row (neuron) of {w_name}: {a.shape[0]} vs "
                         f"{W.shape[0]}")
    if d is not None and W.shape[1] != d:
        raise ValueError(f"{w_name} must have {d} columns (the input dimension), "
                         f"got {W.shape[1]}")
    return W, a


def _check_data(X: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    X = as_float_array("X", X, ndim=2)
    y = as_float_array("y", y, ndim=1)
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"y must have one label per row of X: {y.shape[0]} vs {X.shape[0]}")
    return X, y


# ---------------------------------------------------------------------------------------------
# Network, gradient, giant steps
# ---------------------------------------------------------------------------------------------

def features(X: ArrayLike, W: ArrayLike, activation: ActivationLike = "relu") -> np.ndarray:
    """Hidden features sigma(X W^T)/sqrt p, shape ``(n, p)``."""
    X = as_float_array("X", X, ndim=2)
    W = as_float_array("W", W, ndim=2)
    if W.shape[1] != X.shape[1]:
        raise ValueError(f"W must have {X.shape[1]} columns, got {W.shape[1]}")
    act = get_activation(activation)
    return act.fn(X @ W.T) / np.sqrt(W.shape[0])


def network_output(X: ArrayLike, W: ArrayLike, a: ArrayLike, activation: ActivationLike = "relu",
                   chunk: int = DEFAULT_CHUNK) -> np.ndarray:
    """f(x) = (1/sqrt p) sum_i a_i sigma(<w_i, x>) for every row x of X (row chunks)."""
    X = as_float_array("X", X, ndim=2)
    W, a = _check_network(W, a, X.shape[1])
    chunk = as_int("chunk", chunk, minimum=1)
    return _output_core(X, W, a, get_activation(activation), chunk)


def _output_core(X: np.ndarray, W: np.ndarray, a: np.ndarray, act: Activation,
                 chunk: int) -> np.ndarray:
    """:func:`network_output` on validated input (one preallocated ``(chunk, p)`` buffer)."""
    a_scaled = a / np.sqrt(W.shape[0])
    out = np.empty(X.shape[0])
    buf = np.empty((min(chunk, X.shape[0]), W.shape[0]))
    for s in row_chunks(X.shape[0], chunk):
        Z = np.matmul(X[s], W.T, out=buf[:s.stop - s.start])
        out[s] = _apply(act, Z) @ a_scaled
    return out


def _apply(act: Activation, Z: np.ndarray) -> np.ndarray:
    """sigma(Z), in place for ReLU (Z is a temporary)."""
    if act.name == "relu":
        return np.maximum(Z, 0.0, out=Z)
    return act.fn(Z)


def batch_gradient(X: ArrayLike, y: ArrayLike, W: ArrayLike, a: ArrayLike,
                   activation: ActivationLike = "relu", chunk: int = DEFAULT_CHUNK,
                   offset: ArrayLike | None = None) -> tuple[np.ndarray, float]:
    """Gradient and value of L(W) = (1/2n) sum_nu (y_nu - f(x_nu))^2 (docs/02_giant_step.md).

    grad_W L = -(1/n) sum_nu r_nu (a/sqrt p) * sigma'(W x_nu) x_nu^T with r = y - f.
    ``offset`` (optional, shape ``(n,)``) is subtracted from y first (the official notebook's
    removal of the mean and linear part of the labels). Returns ``(grad, loss)``.
    """
    X, y = _check_data(X, y)
    W, a = _check_network(W, a, X.shape[1])
    chunk = as_int("chunk", chunk, minimum=1)
    if offset is not None:
        offset = as_float_array("offset", offset, ndim=1)
        if offset.shape != y.shape:
            raise ValueError(f"offset must have shape {y.shape}, got {offset.shape}")
    return _gradient_core(X, y, W, a, get_activation(activation), chunk, offset)


def _gradient_core(X: np.ndarray, y: np.ndarray, W: np.ndarray, a: np.ndarray, act: Activation,
                   chunk: int, offset: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """:func:`batch_gradient` on validated input, one row chunk ``c`` at a time:
    r_c = y_c - offset_c - sigma(X_c W^T) a/sqrt p, acc += (sigma'(X_c W^T) * r_c)^T X_c.
    """
    n, p = X.shape[0], W.shape[0]
    a_scaled = a / np.sqrt(p)
    acc = np.zeros_like(W)              # sum_nu sigma'(W x_nu) r_nu x_nu^T, rows scaled at the end
    loss = 0.0
    for s in row_chunks(n, chunk):
        Z = X[s] @ W.T
        H = act.fn(Z)
        r = y[s] - H @ a_scaled
        if offset is not None:
            r -= offset[s]
        M = act.slope(Z, H)
        M *= r[:, None]
        acc += M.T @ X[s]
        loss += float(r @ r)
    grad = acc
    grad *= -a_scaled[:, None] / n
    return grad, loss / (2.0 * n)


def giant_steps(W0: ArrayLike, a: ArrayLike, target: Target, *, n: int, lr: float,
                steps: int = 1, rng: np.random.Generator, activation: ActivationLike = "relu",
                chunk: int = DEFAULT_CHUNK, progress: bool = False) -> np.ndarray:
    """``steps`` gradient steps on W (a frozen), each on a fresh batch of ``n`` samples.

    W_{t+1} = W_t - lr grad_W L(W_t; fresh batch). Returns the trajectory, shape
    ``(steps + 1, p, d)`` (index 0 is W0). Raises :class:`DivergenceError` naming the step
    when the loss or the weights become non-finite.
    """
    W0, a = _check_network(W0, a, w_name="W0")
    if not isinstance(target, Target):
        raise ValueError("target must be a Target (see make_target)")
    n = as_int("n", n, minimum=1)
    lr = as_float("lr", lr, minimum=0.0, strict_minimum=True)
    steps = as_int("steps", steps, minimum=1)
    rng = as_generator("rng", rng)
    d = W0.shape[1]
    if target.rank > d:
        raise ValueError(f"W0 must have at least {target.rank} columns (the target rank)")
    traj = np.empty((steps + 1,) + W0.shape)
    traj[0] = W0
    initial_loss = None
    for t in _progress(range(steps), enable=progress, desc="giant steps"):
        X, y = sample_batch(n, d, target, rng)
        with np.errstate(over="ignore", invalid="ignore"):
            grad, loss = batch_gradient(X, y, traj[t], a, activation, chunk)
            traj[t + 1] = traj[t] - lr * grad
        check_loss(t + 1, loss, initial_loss)
        initial_loss = loss if initial_loss is None else initial_loss
        if not np.all(np.isfinite(traj[t + 1])):
            raise DivergenceError(t + 1, loss, "the weights became non-finite")
    return traj


# ---------------------------------------------------------------------------------------------
# Ridge readout
# ---------------------------------------------------------------------------------------------

def ridge_solve(Phi: ArrayLike, y: ArrayLike, lam: float) -> np.ndarray:
    """argmin_a ||y - Phi a||^2 + lam ||a||^2 in closed form (scipy.linalg, Cholesky).

    Primal (Phi^T Phi + lam I)^{-1} Phi^T y when p <= n, dual Phi^T (Phi Phi^T + lam I)^{-1} y
    otherwise: the smaller of the two linear systems is solved.
    """
    Phi = as_float_array("Phi", Phi, ndim=2)
    y = as_float_array("y", y, ndim=1)
    if y.shape[0] != Phi.shape[0]:
        raise ValueError(f"y must have one entry per row of Phi: {y.shape[0]} vs {Phi.shape[0]}")
    lam = as_float("lam", lam, minimum=0.0, strict_minimum=True)
    n, p = Phi.shape
    if p <= n:
        G = Phi.T @ Phi
        G[np.diag_indices(p)] += lam
        return scipy.linalg.solve(G, Phi.T @ y, assume_a="pos")
    K = Phi @ Phi.T
    K[np.diag_indices(n)] += lam
    return Phi.T @ scipy.linalg.solve(K, y, assume_a="pos")


def ridge_readout(X: ArrayLike, y: ArrayLike, W: ArrayLike, lam: float,
                  activation: ActivationLike = "relu", chunk: int = DEFAULT_CHUNK,
                  offset: ArrayLike | None = None, *, fast: bool = True) -> np.ndarray:
    """Second-layer ridge on the features Phi = sigma(X W^T)/sqrt p, streamed in row chunks.

    When p <= n, a = (Phi^T Phi + lam I)^{-1} Phi^T y with the Gram matrix and the right-hand
    side summed over row chunks (no n x p matrix in memory); otherwise the dual system is
    solved (see :func:`ridge_solve`). ``offset`` is subtracted from y first. ``fast=True``
    (the default) sums the Gram matrix by the symmetric rank-k update of
    :func:`theory.fast.ridge.streamed_gram` (half the flops); ``fast=False`` runs the plain
    numpy loop; the two agree to round-off (tests/test_two_layer.py). Returns the second-layer
    weights a, shape ``(p,)``.
    """
    X, y = _check_data(X, y)
    W = as_float_array("W", W, ndim=2)
    if W.shape[1] != X.shape[1]:
        raise ValueError(f"W must have {X.shape[1]} columns, got {W.shape[1]}")
    lam = as_float("lam", lam, minimum=0.0, strict_minimum=True)
    chunk = as_int("chunk", chunk, minimum=1)
    if not isinstance(fast, bool):
        raise TypeError(f"fast must be a bool, got {fast!r}")
    if offset is not None:
        offset = as_float_array("offset", offset, ndim=1)
        if offset.shape != y.shape:
            raise ValueError(f"offset must have shape {y.shape}, got {offset.shape}")
    y_fit: np.ndarray = y if offset is None else y - offset
    return _ridge_core(X, y_fit, W, lam, get_activation(activation), chunk, fast)


def _ridge_core(X: np.ndarray, y: np.ndarray, W: np.ndarray, lam: float, act: Activation,
                chunk: int, fast: bool = True) -> np.ndarray:
    """:func:`ridge_readout` on validated input (``y`` already offset).

    G = sum_chunks sigma(X_c W^T)^T sigma(X_c W^T), rhs = sum_chunks sigma(X_c W^T)^T y_c, then
    (G/p + lam I) a = rhs/sqrt p (the 1/sqrt p of the features applied once).
    """
    n, p = X.shape[0], W.shape[0]
    if p > n:
        return ridge_solve(features(X, W, act), y, lam)
    if fast:
        G, rhs = gram_core(X, y, W, partial(_apply, act), chunk)
    else:
        G, rhs = np.zeros((p, p)), np.zeros(p)
        for s in row_chunks(n, chunk):
            Phi = act.fn(X[s] @ W.T)
            G += Phi.T @ Phi
            rhs += Phi.T @ y[s]
    return _ridge_from_gram(G, rhs, lam)


def _ridge_from_gram(G: np.ndarray, rhs: np.ndarray, lam: float) -> np.ndarray:
    """The readout a of (G/p + lam I) a = rhs/sqrt p, from G = Phi^T Phi and rhs = Phi^T y of
    the unscaled features Phi (the 1/sqrt p of the features applied once); overwrites G, rhs."""
    p = G.shape[0]
    G /= p
    rhs /= np.sqrt(p)
    G[np.diag_indices(p)] += lam
    return scipy.linalg.solve(G, rhs, assume_a="pos")


def mean_squared_error(X: ArrayLike, y: ArrayLike, W: ArrayLike, a: ArrayLike,
                       activation: ActivationLike = "relu", chunk: int = DEFAULT_CHUNK,
                       offset: ArrayLike | None = None) -> float:
    """Test error (1/n) sum (y - offset - f(x))^2 of the network (W, a)."""
    X, y = _check_data(X, y)
    W, a = _check_network(W, a, X.shape[1])
    chunk = as_int("chunk", chunk, minimum=1)
    pred = _output_core(X, W, a, get_activation(activation), chunk)
    if offset is not None:
        offset = as_float_array("offset", offset, ndim=1)
        if offset.shape != y.shape:
            raise ValueError(f"offset must have shape {y.shape}, got {offset.shape}")
        pred = pred + offset
    return float(np.mean((y - pred) ** 2))


def linear_fit(X: ArrayLike, y: ArrayLike) -> tuple[float, np.ndarray]:
    """Empirical mean and first Hermite coefficient of the labels: A = mean y, B = mean y x.

    For x ~ N(0, I) the best linear predictor is A + x.B in the population limit; the
    official single_step notebook subtracts it from y before the step [code].
    """
    X, y = _check_data(X, y)
    return float(np.mean(y)), X.T @ y / X.shape[0]


# ---------------------------------------------------------------------------------------------
# Overlap measures
# ---------------------------------------------------------------------------------------------

def _check_basis(U: ArrayLike, d: int) -> np.ndarray:
    U = as_float_array("U", U, min_ndim=1)
    if U.ndim == 1:
        U = U[:, None]
    if U.ndim != 2 or U.shape[0] != d:
        raise ValueError(f"U must have shape (d, k) with d = {d}, got {U.shape}")
    if U.shape[1] > d:
        raise ValueError(f"U must have at most d = {d} columns, got {U.shape[1]}")
    if not np.allclose(U.T @ U, np.eye(U.shape[1]), atol=1e-10):
        raise ValueError("U must have orthonormal columns")
    return U


def _cosines(name: str, W: ArrayLike, U: ArrayLike, ndim: int) -> np.ndarray:
    """Signed cosines <w_i, u_k>/||w_i|| for rows w_i of ``W`` (``(..., p, d)``).

    Returns an array of shape ``(..., p, k)``."""
    W = as_float_array(name, W, ndim=ndim)
    U = _check_basis(U, W.shape[-1])
    norms = np.linalg.norm(W, axis=-1)
    if np.any(norms == 0):
        raise ValueError(f"{name} has a zero row (a neuron without direction)")
    return (W @ U) / norms[..., None]


def neuron_cosines(W: ArrayLike, U: ArrayLike) -> np.ndarray:
    """Signed cosines <w_i, u_k>/||w_i|| of every neuron with every column of U, ``(p, k)``."""
    return _cosines("W", W, U, ndim=2)


def mean_abs_cosines(trajectory: ArrayLike, U: ArrayLike) -> np.ndarray:
    """mean_i |<w_i, u_k>| / ||w_i|| along a trajectory ``(T+1, p, d)``: shape ``(T+1, k)``."""
    return np.mean(np.abs(_cosines("trajectory", trajectory, U, ndim=3)), axis=1)


def subspace_overlap(W: ArrayLike, U: ArrayLike) -> np.ndarray:
    """||P_U w_i|| / ||w_i|| for every neuron (U orthonormal), shape ``(p,)``."""
    return np.linalg.norm(neuron_cosines(W, U), axis=1)


def spike_alignment(delta: ArrayLike, u: ArrayLike, k: int = 2) -> tuple[float, np.ndarray]:
    """Spike of the update ``delta = W_t - W_0``: |<v_1, u>| and the top ``k`` singular values.

    v_1 is the top right singular vector (a direction in input space). Returns
    ``(alignment, singular_values)`` (Ba et al., abstract: the first step is a rank-one spike).
    """
    delta = as_float_array("delta", delta, ndim=2)
    u = as_float_array("u", u, ndim=1)
    if u.shape[0] != delta.shape[1]:
        raise ValueError(f"u must have length {delta.shape[1]}, got {u.shape[0]}")
    k = as_int("k", k, minimum=1, maximum=min(delta.shape))
    _, s, Vt = np.linalg.svd(delta, full_matrices=False)
    return float(abs(Vt[0] @ u) / np.linalg.norm(u)), s[:k]


def principal_angles_to(delta: ArrayLike, U: ArrayLike, k: int | None = None) -> np.ndarray:
    """Principal angles (radians) between the top-k right singular space of delta and span U."""
    delta = as_float_array("delta", delta, ndim=2)
    U = _check_basis(U, delta.shape[1])
    k = U.shape[1] if k is None else as_int("k", k, minimum=1, maximum=min(delta.shape))
    return principal_angles(top_subspace(delta, k, side="right"), U)


def specialisation_ratio(W: ArrayLike, U: ArrayLike) -> float:
    """lambda_min / lambda_max of the Gram matrix of normalised V*-projections.

    G = (1/p) sum_i P_i P_i^T with P_i = U^T w_i / ||U^T w_i||: about 0 when every neuron's
    V*-projection points along one direction, about 1 when they spread over V*.
    """
    W = as_float_array("W", W, ndim=2)
    U = _check_basis(U, W.shape[1])
    if U.shape[1] < 2:
        raise ValueError("U must have at least 2 columns for a specialisation ratio")
    P = W @ U
    P /= np.linalg.norm(P, axis=1, keepdims=True)
    ev = np.linalg.eigvalsh(P.T @ P / P.shape[0])
    return float(ev[0] / ev[-1])


def learned_specialisation(W: ArrayLike, U: ArrayLike, threshold: float) -> tuple[float, float]:
    """Specialisation ratio over the *learned* neurons, and the fraction of learned neurons.

    Neuron i is learned when its overlap ||U^T w_i|| / ||w_i|| exceeds ``threshold`` (at
    initialisation the overlap with an r-dimensional V* is about sqrt(r/d)). Over the learned
    neurons only, returns lambda_min / lambda_max of G = (1/q) sum_i P_i P_i^T with
    P_i = U^T w_i / ||U^T w_i|| (as :func:`specialisation_ratio`): about 0 when the learned
    neurons share one direction of V*, about 1 when they spread over V* (specialisation,
    Dandi et al., abstract: n = O(d^2) samples). The ratio is ``nan`` when fewer than two
    neurons are learned. Returns ``(ratio, fraction)``.
    """
    W = as_float_array("W", W, ndim=2)
    U = _check_basis(U, W.shape[1])
    if U.shape[1] < 2:
        raise ValueError("U must have at least 2 columns for a specialisation ratio")
    threshold = as_float("threshold", threshold, minimum=0.0, maximum=1.0)
    learned = subspace_overlap(W, U) > threshold
    fraction = float(np.mean(learned))
    if learned.sum() < 2:
        return float("nan"), fraction
    return specialisation_ratio(W[learned], U), fraction

