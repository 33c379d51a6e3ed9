"""Two-layer networks that learn features in one (or a few) giant gradient steps.

Reproduces the setting of Dandi, Krzakala, Loureiro, Pesce & Stephan, *How Two-Layer Neural
Networks Learn, One (Giant) Step at a Time* (arXiv:2305.18270, JMLR 2024), with the one-step
spike of Ba et al. (arXiv:2205.01445) as the first example.

Conventions (rows are neurons)::

    f(x; W, a) = (1/sqrt p) sum_i a_i sigma(<w_i, x>),     W in R^{p x d},  a_i = O(1/sqrt p)
    L(W)       = (1/2n) sum_nu (y_nu - f(x_nu))^2
    -grad_W L  = (1/n) sum_nu r_nu (a/sqrt p) * sigma'(W x_nu) x_nu^T,   r = y - f
    W_{t+1}    = W_t - eta grad_W L  on a fresh N(0, I_d) batch,   eta = c p d^((l-1)/2)

The second layer is frozen during the steps and then fitted by ridge regression,
``min_a sum_nu (y_nu - f(x_nu))^2 + lam ||a||^2``. Every batch is processed in row chunks so
that n = d^2 at d = 512 fits in a few GiB. Targets depend on the first ``r`` coordinates of x
(W* = [e_1 .. e_r]; rotation invariance makes this general).

The closed-form predictions (per-neuron cosine, spike alignment) are our derivation, consistent
with the papers' abstracts; see ``theory.symbolic.two_layer``, notebook 02 and the method note
``docs/02_giant_step.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from numpy.polynomial import hermite_e, laguerre
from scipy.linalg.blas import dgemm, dgemv, dsyrk
from scipy.special import erf

from ._validate import as_choice, as_float, as_float_array, as_int
from .errors import DivergenceError, check_loss
from .linalg import principal_angles, top_subspace
from .progress import progress as _progress

__all__ = [
    "DivergenceError", "Activation", "Target", "ACTIVATIONS", "TARGETS",
    "get_activation", "make_target", "target_statistics",
    "symmetric_init", "gaussian_init", "learning_rate", "sample_batch",
    "network_output", "features", "batch_gradient", "giant_steps",
    "ridge_solve", "ridge_readout", "mean_squared_error", "linear_fit",
    "neuron_cosines", "mean_abs_cosines", "subspace_overlap", "spike_alignment",
    "principal_angles_to",
    "specialisation_ratio", "learned_specialisation",
    "gaussian_expectation", "hermite_coefficients", "mean_derivative_sq",
    "predicted_neuron_cosine", "predicted_spike_cosine", "best_linear_error",
    "ReadoutComparison", "one_step_vs_random_features",
    "ProtocolResult", "single_step_protocol", "protocol_flops",
]

DEFAULT_CHUNK = 4096


# ---------------------------------------------------------------------------------------------
# Activations and targets
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Activation:
    """An activation sigma with its derivative.

    ``branches`` (optional) gives smooth functions ``(left, right)`` with
    ``sigma = left on x < 0, right on x > 0``; Gaussian expectations of such piecewise functions
    are then computed exactly for polynomial branches (see :func:`gaussian_expectation`).
    ``derivative_branches`` is the same for sigma'.
    """

    name: str
    fn: Callable[[np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray], np.ndarray]
    branches: tuple | None = None
    derivative_branches: tuple | None = None


def _relu(z):
    return np.maximum(z, 0.0)


def _relu_prime(z):
    return (z > 0).astype(z.dtype if isinstance(z, np.ndarray) else float)


def _tanh_prime(z):
    return 1.0 / np.cosh(z) ** 2


def _erf_prime(z):
    return 2.0 / np.sqrt(np.pi) * np.exp(-z * z)


def _zero(z):
    return np.zeros_like(z)


def _identity(z):
    return np.asarray(z, dtype=float)


def _one(z):
    return np.ones_like(z)


ACTIVATIONS = {
    "relu": Activation("relu", _relu, _relu_prime, (_zero, _identity), (_zero, _one)),
    "tanh": Activation("tanh", np.tanh, _tanh_prime),
    "erf": Activation("erf", erf, _erf_prime),
}


def get_activation(activation) -> Activation:
    """An :class:`Activation` from its name (``"relu"``, ``"tanh"``, ``"erf"``) or itself."""
    if isinstance(activation, Activation):
        return activation
    name = as_choice("activation", activation, set(ACTIVATIONS))
    return ACTIVATIONS[name]


@dataclass(frozen=True)
class Target:
    """A multi-index target y = g(x_1, ..., x_r) (W* = first r basis vectors).

    ``fn`` maps an ``(n, r)`` array of the relevant coordinates to ``(n,)`` labels.
    """

    name: str
    rank: int
    fn: Callable[[np.ndarray], np.ndarray]

    def __call__(self, X) -> np.ndarray:
        return self.fn(X[:, :self.rank])


def _he2(z):
    return z * z - 1.0


def _he4(z):
    return z**4 - 6.0 * z * z + 3.0


def _giant_step_g(z):
    """g(z) = He1 + He2/2 + He4/24 (official single_step notebook [code])."""
    return z + _he2(z) / 2.0 + _he4(z) / 24.0


TARGETS = {
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


def target_statistics(target: Target, n_nodes: int = 12) -> dict:
    """Exact Gaussian moments of a polynomial target by tensor Gauss-Hermite quadrature.

    Returns ``mean = E[y]``, ``mean_sq = E[y^2]`` and ``c1 = E[y h]`` (the first Hermite
    coefficient vector C1, h = W* x). Exact when ``g`` is a polynomial of degree
    ``< n_nodes`` in each coordinate (all targets of :data:`TARGETS`).
    """
    if not isinstance(target, Target):
        raise ValueError("target must be a Target (see make_target)")
    n_nodes = as_int("n_nodes", n_nodes, minimum=2, maximum=64)
    x, w = hermite_e.hermegauss(n_nodes)
    w = w / np.sqrt(2.0 * np.pi)
    grids = np.meshgrid(*([x] * target.rank), indexing="ij")
    H = np.stack([g.ravel() for g in grids], axis=1)
    weights = np.ones(1)
    for _ in range(target.rank):
        weights = np.multiply.outer(weights, w).ravel()
    y = target.fn(H)
    return {"mean": float(weights @ y), "mean_sq": float(weights @ (y * y)),
            "c1": (weights * y) @ H}


# ---------------------------------------------------------------------------------------------
# Initialisation, learning rate, data
# ---------------------------------------------------------------------------------------------

def _check_rng(rng):
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng must be a numpy.random.Generator")
    return rng


def symmetric_init(d: int, p: int, rng: np.random.Generator):
    """Symmetrised initialisation: p/2 rows uniform on S^{d-1}, each duplicated, a = +-1/sqrt p.

    Rows ``i`` and ``i + p/2`` share w_i and carry opposite second-layer weights
    (sqrt p a_i in {+1, -1}, hypercube), so that f(x; W0, a) = 0 for every x.
    Returns ``(W0, a)`` with shapes ``(p, d)`` and ``(p,)``.
    """
    d = as_int("d", d, minimum=1)
    p = as_int("p", p, minimum=2)
    if p % 2:
        raise ValueError(f"p must be even for the symmetrised initialisation, got {p}")
    rng = _check_rng(rng)
    half = rng.standard_normal((p // 2, d))
    half /= np.linalg.norm(half, axis=1, keepdims=True)
    signs = rng.choice([-1.0, 1.0], size=p // 2)
    W0 = np.concatenate([half, half])
    a = np.concatenate([signs, -signs]) / np.sqrt(p)
    return W0, a


def gaussian_init(d: int, p: int, rng: np.random.Generator):
    """The official notebooks' init [code]: W0 = N(0,1)/sqrt d entries, a = N(0,1)/sqrt p."""
    d = as_int("d", d, minimum=1)
    p = as_int("p", p, minimum=1)
    rng = _check_rng(rng)
    W0 = rng.standard_normal((p, d)) / np.sqrt(d)
    a = rng.standard_normal(p) / np.sqrt(p)
    return W0, a


def learning_rate(c: float, p: int, d: int, leap: float = 1.0) -> float:
    """eta = c p d^((l-1)/2): an O(1) move of each neuron in the order-l Hermite direction."""
    c = as_float("c", c, minimum=0.0, strict_minimum=True)
    p = as_int("p", p, minimum=1)
    d = as_int("d", d, minimum=1)
    leap = as_float("leap", leap, minimum=1.0)
    return c * p * d ** ((leap - 1.0) / 2.0)


def sample_batch(n: int, d: int, target: Target, rng: np.random.Generator, noise: float = 0.0):
    """A fresh batch: X ~ N(0, I_d)^n (rows are samples), y = target(X) + noise N(0,1)."""
    n = as_int("n", n, minimum=1)
    d = as_int("d", d, minimum=1)
    if not isinstance(target, Target):
        raise ValueError("target must be a Target (see make_target)")
    if target.rank > d:
        raise ValueError(f"d must be >= the target rank {target.rank}, got {d}")
    noise = as_float("noise", noise, minimum=0.0)
    rng = _check_rng(rng)
    X = rng.standard_normal((n, d))
    y = target(X)
    if noise > 0:
        y = y + noise * rng.standard_normal(n)
    return X, y


def _chunks(n, chunk):
    for start in range(0, n, chunk):
        yield slice(start, min(start + chunk, n))


def _check_network(W, a, d=None, *, w_name="W"):
    W = as_float_array(w_name, W, ndim=2)
    a = as_float_array("a", a, ndim=1)
    if a.shape[0] != W.shape[0]:
        raise ValueError(f"a must have one entry per row (neuron) of {w_name}: {a.shape[0]} vs "
                         f"{W.shape[0]}")
    if d is not None and W.shape[1] != d:
        raise ValueError(f"{w_name} must have {d} columns (the input dimension), "
                         f"got {W.shape[1]}")
    return W, a


def _check_data(X, y=None):
    X = as_float_array("X", X, ndim=2)
    if y is None:
        return X, None
    y = as_float_array("y", y, ndim=1)
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"y must have one label per row of X: {y.shape[0]} vs {X.shape[0]}")
    return X, y


# ---------------------------------------------------------------------------------------------
# Network, gradient, giant steps
# ---------------------------------------------------------------------------------------------

def features(X, W, activation="relu") -> np.ndarray:
    """Hidden features sigma(X W^T)/sqrt p, shape ``(n, p)``."""
    X, _ = _check_data(X)
    W = as_float_array("W", W, ndim=2)
    if W.shape[1] != X.shape[1]:
        raise ValueError(f"W must have {X.shape[1]} columns, got {W.shape[1]}")
    act = get_activation(activation)
    return act.fn(X @ W.T) / np.sqrt(W.shape[0])


def network_output(X, W, a, activation="relu", chunk: int = DEFAULT_CHUNK) -> np.ndarray:
    """f(x) = (1/sqrt p) sum_i a_i sigma(<w_i, x>) for every row x of X (row chunks)."""
    X, _ = _check_data(X)
    W, a = _check_network(W, a, X.shape[1])
    chunk = as_int("chunk", chunk, minimum=1)
    return _output_core(X, W, a, get_activation(activation), chunk)


def _output_core(X, W, a, act: Activation, chunk: int) -> np.ndarray:
    """:func:`network_output` on validated input (one preallocated ``(chunk, p)`` buffer)."""
    a_scaled = a / np.sqrt(W.shape[0])
    out = np.empty(X.shape[0])
    buf = np.empty((min(chunk, X.shape[0]), W.shape[0]))
    for s in _chunks(X.shape[0], chunk):
        Z = np.matmul(X[s], W.T, out=buf[:s.stop - s.start])
        out[s] = _apply(act, Z) @ a_scaled
    return out


def _apply(act: Activation, Z: np.ndarray) -> np.ndarray:
    """sigma(Z), in place for ReLU (Z is a temporary)."""
    if act.name == "relu":
        return np.maximum(Z, 0.0, out=Z)
    return act.fn(Z)


def batch_gradient(X, y, W, a, activation="relu", chunk: int = DEFAULT_CHUNK,
                   offset=None):
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


def _gradient_core(X, y, W, a, act: Activation, chunk: int, offset=None):
    """:func:`batch_gradient` on validated input.

    For ReLU the chunk loop reuses two preallocated ``(chunk, p)`` buffers (pre-activations and
    sigma'(Z) r) instead of allocating and page-faulting fresh ones, and builds sigma' as a
    float 0/1 array, which multiplies by r faster than a boolean mask does.
    """
    n, p = X.shape[0], W.shape[0]
    a_scaled = a / np.sqrt(p)
    acc = np.zeros_like(W)              # sum_nu sigma'(W x_nu) r_nu x_nu^T, rows scaled at the end
    loss = 0.0
    if act.name == "relu":
        z_buf = np.empty((min(chunk, n), p))
        m_buf = np.empty_like(z_buf)
    for s in _chunks(n, chunk):
        if act.name == "relu":          # fused: sigma' = 1{z > 0}, sigma(z) = z 1{z > 0}
            rows = s.stop - s.start
            Z = np.matmul(X[s], W.T, out=z_buf[:rows])
            M = np.greater(Z, 0.0, out=m_buf[:rows])
            np.maximum(Z, 0.0, out=Z)
            r = y[s] - Z @ a_scaled
            if offset is not None:
                r -= offset[s]
            M *= r[:, None]
        else:
            Z = X[s] @ W.T
            r = y[s] - act.fn(Z) @ a_scaled
            if offset is not None:
                r -= offset[s]
            M = act.derivative(Z)
            M *= r[:, None]
        acc += M.T @ X[s]
        loss += float(r @ r)
    grad = acc
    grad *= -a_scaled[:, None] / n
    return grad, loss / (2.0 * n)


def giant_steps(W0, a, target: Target, *, n: int, eta: float, steps: int = 1,
                rng: np.random.Generator, activation="relu", chunk: int = DEFAULT_CHUNK,
                progress: bool = False) -> np.ndarray:
    """``steps`` gradient steps on W (a frozen), each on a fresh batch of ``n`` samples.

    W_{t+1} = W_t - eta grad_W L(W_t; fresh batch). Returns the trajectory, shape
    ``(steps + 1, p, d)`` (index 0 is W0). Raises :class:`DivergenceError` naming the step
    when the loss or the weights become non-finite.
    """
    W0, a = _check_network(W0, a, w_name="W0")
    if not isinstance(target, Target):
        raise ValueError("target must be a Target (see make_target)")
    n = as_int("n", n, minimum=1)
    eta = as_float("eta", eta, minimum=0.0, strict_minimum=True)
    steps = as_int("steps", steps, minimum=1)
    rng = _check_rng(rng)
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
            traj[t + 1] = traj[t] - eta * grad
        check_loss(t + 1, loss, initial_loss)
        initial_loss = loss if initial_loss is None else initial_loss
        if not np.all(np.isfinite(traj[t + 1])):
            raise DivergenceError(t + 1, loss, "the weights became non-finite")
    return traj


# ---------------------------------------------------------------------------------------------
# Ridge readout
# ---------------------------------------------------------------------------------------------

def ridge_solve(Phi, y, lam: float) -> np.ndarray:
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


def ridge_readout(X, y, W, lam: float, activation="relu", chunk: int = DEFAULT_CHUNK,
                  offset=None) -> np.ndarray:
    """Second-layer ridge on the features sigma(X W^T)/sqrt p, streamed in row chunks.

    When p <= n the Gram matrix Phi^T Phi is accumulated chunk by chunk with the symmetric
    rank-k update ``dsyrk`` (half the flops of a product, no n x p matrix in memory);
    otherwise the dual system is solved (see :func:`ridge_solve`). ``offset`` is subtracted
    from y first. Returns the second-layer weights a, shape ``(p,)``.
    """
    X, y = _check_data(X, y)
    W = as_float_array("W", W, ndim=2)
    if W.shape[1] != X.shape[1]:
        raise ValueError(f"W must have {X.shape[1]} columns, got {W.shape[1]}")
    lam = as_float("lam", lam, minimum=0.0, strict_minimum=True)
    chunk = as_int("chunk", chunk, minimum=1)
    if offset is not None:
        offset = as_float_array("offset", offset, ndim=1)
        if offset.shape != y.shape:
            raise ValueError(f"offset must have shape {y.shape}, got {offset.shape}")
        y = y - offset
    return _ridge_core(X, y, W, lam, get_activation(activation), chunk)


def _ridge_core(X, y, W, lam: float, act: Activation, chunk: int) -> np.ndarray:
    """:func:`ridge_readout` on validated input (``y`` already offset).

    Every product of the streaming loop goes through ``scipy.linalg.blas`` (features by
    ``dgemm``, Gram matrix by ``dsyrk``, right-hand side by ``dgemv``). numpy and scipy ship
    separate OpenBLAS builds, each with its own thread pool; interleaving numpy's product with
    scipy's ``dsyrk`` chunk after chunk leaves one pool's idle threads spinning while the other
    works, which halved the loop's speed on two cores. The feature chunk is Fortran-ordered
    ``(chunk, p)`` and written in place, so no call copies its operands.
    """
    n, p = X.shape[0], W.shape[0]
    if p > n:
        return ridge_solve(features(X, W, act), y, lam)
    G = np.zeros((p, p), order="F")
    rhs = np.zeros(p)
    WT = W.T                                     # (d, p), Fortran-ordered view: no copy
    buf = np.empty((min(chunk, n), p), order="F")
    for s in _chunks(n, chunk):
        rows = s.stop - s.start
        out = buf if rows == buf.shape[0] else None  # a short last chunk gets its own array
        # X[s].T is a Fortran-ordered (d, rows) view: Phi = X[s] W^T with no copy.
        Phi = dgemm(1.0, X[s].T, WT, trans_a=1, c=out, overwrite_c=True)
        Phi = _apply(act, Phi)
        G = dsyrk(1.0, Phi, beta=1.0, c=G, trans=1, lower=0, overwrite_c=True)
        rhs = dgemv(1.0, Phi, y[s], beta=1.0, y=rhs, trans=1, overwrite_y=True)
    G = (np.triu(G) + np.triu(G, 1).T) / p       # the 1/sqrt(p) of the features, applied once
    rhs /= np.sqrt(p)
    G[np.diag_indices(p)] += lam
    return scipy.linalg.solve(G, rhs, assume_a="pos")


def mean_squared_error(X, y, W, a, activation="relu", chunk: int = DEFAULT_CHUNK,
                       offset=None) -> float:
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


def linear_fit(X, y) -> tuple[float, np.ndarray]:
    """Empirical mean and first Hermite coefficient of the labels: A = mean y, B = mean y x.

    For x ~ N(0, I) the best linear predictor is A + x.B in the population limit; the
    official single_step notebook subtracts it from y before the step [code].
    """
    X, y = _check_data(X, y)
    return float(np.mean(y)), X.T @ y / X.shape[0]


# ---------------------------------------------------------------------------------------------
# Overlap measures
# ---------------------------------------------------------------------------------------------

def _check_basis(U, d):
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


def _cosines(name: str, W, U, ndim: int) -> np.ndarray:
    """Signed cosines <w_i, u_k>/||w_i|| for rows w_i of ``W`` (``(..., p, d)``).

    Returns an array of shape ``(..., p, k)``."""
    W = as_float_array(name, W, ndim=ndim)
    U = _check_basis(U, W.shape[-1])
    norms = np.linalg.norm(W, axis=-1)
    if np.any(norms == 0):
        raise ValueError(f"{name} has a zero row (a neuron without direction)")
    return (W @ U) / norms[..., None]


def neuron_cosines(W, U) -> np.ndarray:
    """Signed cosines <w_i, u_k>/||w_i|| of every neuron with every column of U, ``(p, k)``."""
    return _cosines("W", W, U, ndim=2)


def mean_abs_cosines(trajectory, U) -> np.ndarray:
    """mean_i |<w_i, u_k>| / ||w_i|| along a trajectory ``(T+1, p, d)``: shape ``(T+1, k)``."""
    return np.mean(np.abs(_cosines("trajectory", trajectory, U, ndim=3)), axis=1)


def subspace_overlap(W, U) -> np.ndarray:
    """||P_U w_i|| / ||w_i|| for every neuron (U orthonormal), shape ``(p,)``."""
    return np.linalg.norm(neuron_cosines(W, U), axis=1)


def spike_alignment(delta, u, k: int = 2):
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


def principal_angles_to(delta, U, k: int | None = None) -> np.ndarray:
    """Principal angles (radians) between the top-k right singular space of delta and span U."""
    delta = as_float_array("delta", delta, ndim=2)
    U = _check_basis(U, delta.shape[1])
    k = U.shape[1] if k is None else as_int("k", k, minimum=1, maximum=min(delta.shape))
    return principal_angles(top_subspace(delta, k, side="right"), U)


def specialisation_ratio(W, U) -> float:
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


def learned_specialisation(W, U, threshold: float) -> tuple[float, float]:
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


# ---------------------------------------------------------------------------------------------
# Hermite coefficients and closed-form predictions
# ---------------------------------------------------------------------------------------------

def gaussian_expectation(fn=None, *, branches=None, n_nodes: int = 200) -> float:
    """E[fn(xi)], xi ~ N(0, 1), by Gauss-Hermite quadrature (``numpy.polynomial.hermite_e``).

    For a function that is smooth except at 0, pass ``branches=(left, right)`` (each smooth on
    the whole line). Then E[h] = E[left 1{x<0}] + E[right 1{x>0}] with
    E[h 1{x>0}] = E[h]/2 + E[h_odd 1{x>0}] and, by t = x^2/2,
    E[h_odd 1{x>0}] = (2 pi)^{-1/2} int_0^inf (h_odd(x)/x)|_{x = sqrt(2t)} e^{-t} dt
    (Gauss-Laguerre): both rules are exact for polynomial branches (e.g. ReLU x He_k).
    """
    n_nodes = as_int("n_nodes", n_nodes, minimum=2, maximum=350)
    x, w = hermite_e.hermegauss(n_nodes)
    w = w / np.sqrt(2.0 * np.pi)
    if branches is None:
        if fn is None or not callable(fn):
            raise ValueError("fn must be a callable (or pass branches)")
        return float(w @ fn(x))
    if fn is not None or len(branches) != 2 or not all(callable(b) for b in branches):
        raise ValueError("branches must be a pair of callables (left, right), without fn")
    t, wt = laguerre.laggauss(min(n_nodes, 150))
    r = np.sqrt(2.0 * t)

    def positive_half(h):
        odd_over_x = (h(r) - h(-r)) / (2.0 * r)
        return 0.5 * float(w @ h(x)) + float(wt @ odd_over_x) / np.sqrt(2.0 * np.pi)

    left, right = branches
    flipped_left = lambda z: left(-z)  # noqa: E731  E[left 1{x<0}] = E[left(-x) 1{x>0}]
    return positive_half(right) + positive_half(flipped_left)


def hermite_coefficients(activation="relu", k_max: int = 5, n_nodes: int = 200) -> np.ndarray:
    """mu_k = E[sigma(xi) He_k(xi)] for k = 0..k_max (probabilists' Hermite polynomials).

    Gauss-Hermite quadrature; exact for ReLU through its polynomial branches.
    """
    act = get_activation(activation)
    k_max = as_int("k_max", k_max, minimum=0, maximum=40)
    mus = np.empty(k_max + 1)
    for k in range(k_max + 1):
        he = hermite_e.HermiteE.basis(k)
        if act.branches is not None:
            left, right = act.branches
            mus[k] = gaussian_expectation(
                branches=(lambda z, f=left, he=he: f(z) * he(z),
                          lambda z, f=right, he=he: f(z) * he(z)),
                n_nodes=n_nodes)
        else:
            mus[k] = gaussian_expectation(lambda z, he=he: act.fn(z) * he(z), n_nodes=n_nodes)
    return mus


def mean_derivative_sq(activation="relu", n_nodes: int = 200) -> float:
    """E[sigma'(xi)^2], xi ~ N(0, 1): sets the gradient-noise level of one step."""
    act = get_activation(activation)
    if act.derivative_branches is not None:
        left, right = act.derivative_branches
        return gaussian_expectation(branches=(lambda z: left(z) ** 2, lambda z: right(z) ** 2),
                                    n_nodes=n_nodes)
    return gaussian_expectation(lambda z: act.derivative(z) ** 2, n_nodes=n_nodes)


def predicted_neuron_cosine(c: float, alpha: float, mu1: float, c1_norm: float,
                            mean_y_sq: float, mean_dsigma_sq: float,
                            a_tilde: float = 1.0) -> float:
    """Cosine of a neuron with v* = C1/||C1|| after one step at n = alpha d, eta = c p [ours].

    cos = c a mu1 ||C1|| / sqrt(1 + c^2 a^2 (mu1^2 ||C1||^2 + E[y^2] E[sigma'^2] / alpha)),
    with a = sqrt(p) a_i (unit-norm w_i at init, f = 0 at init, large d).
    """
    c = as_float("c", c, minimum=0.0)
    alpha = as_float("alpha", alpha, minimum=0.0, strict_minimum=True)
    mu1 = as_float("mu1", mu1)
    c1_norm = as_float("c1_norm", c1_norm, minimum=0.0)
    mean_y_sq = as_float("mean_y_sq", mean_y_sq, minimum=0.0)
    mean_dsigma_sq = as_float("mean_dsigma_sq", mean_dsigma_sq, minimum=0.0)
    a_tilde = as_float("a_tilde", a_tilde)
    with np.errstate(over="ignore", invalid="ignore"):
        signal = np.float64(c) * a_tilde * mu1 * c1_norm
        noise_sq = np.float64(c * a_tilde) * (c * a_tilde) * mean_y_sq * mean_dsigma_sq / alpha
        value = abs(signal) / np.sqrt(1.0 + signal * signal + noise_sq)
    if not np.isfinite(value):
        raise ValueError("c, a_tilde, mu1, c1_norm, mean_y_sq, mean_dsigma_sq and alpha give a "
                         "non-finite prediction (overflow): use O(1) values")
    return float(value)


def predicted_spike_cosine(alpha: float, c1_norm: float, mean_y_sq: float) -> float:
    """|<v_1, v*>| of the rank-one spike, sqrt(alpha ||C1||^2 / (alpha ||C1||^2 + E[y^2])) [ours].

    The spike direction is the linear estimator X^T y / n, whose noise has squared norm
    E[y^2] d / n around the signal C1 (consistent with Ba et al., abstract).
    """
    alpha = as_float("alpha", alpha, minimum=0.0, strict_minimum=True)
    c1_norm = as_float("c1_norm", c1_norm, minimum=0.0)
    mean_y_sq = as_float("mean_y_sq", mean_y_sq, minimum=0.0)
    with np.errstate(over="ignore", invalid="ignore"):
        signal = np.float64(alpha) * c1_norm * c1_norm
        if signal + mean_y_sq == 0:
            raise ValueError("c1_norm and mean_y_sq cannot both be 0")
        value = np.sqrt(signal / (signal + mean_y_sq))
    if not np.isfinite(value):
        raise ValueError("alpha, c1_norm and mean_y_sq give a non-finite prediction "
                         "(overflow): use O(1) values")
    return float(value)


def best_linear_error(target: Target) -> float:
    """Population error of the best linear predictor E[y] + x.C1: E[y^2] - E[y]^2 - ||C1||^2."""
    stats = target_statistics(target)
    return stats["mean_sq"] - stats["mean"] ** 2 - float(stats["c1"] @ stats["c1"])


# ---------------------------------------------------------------------------------------------
# Experiments: one step + ridge vs random features; the official single-step protocol
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReadoutComparison:
    """Test errors of ridge on trained features, on the initial (random) features, and linear."""

    one_step: float
    random_features: float
    linear: float


def one_step_vs_random_features(d: int, p: int, target: Target, *, n_step: int, n_ridge: int,
                                n_test: int, c: float, lam: float, rng: np.random.Generator,
                                activation="relu", steps: int = 1, leap: float = 1.0,
                                chunk: int = DEFAULT_CHUNK) -> ReadoutComparison:
    """One (or a few) giant steps, then ridge on a fresh batch, against random features.

    The random-features baseline uses the same W0, the same ridge batch, lambda and test set.
    The linear error is that of the empirical best linear predictor (mean + x.B fitted on the
    ridge batch) on the test set. Symmetrised init, eta = c p d^((l-1)/2).
    """
    rng = _check_rng(rng)
    W0, a = symmetric_init(d, p, rng)
    eta = learning_rate(c, p, d, leap)
    W1 = giant_steps(W0, a, target, n=n_step, eta=eta, steps=steps, rng=rng,
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
    """One seed of the official single-step protocol: test errors and the flop count."""

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


def _later_draws(n_fresh: int, n_test: int, d: int, target: Target, rng):
    """The protocol's draws after the step batch, in order: a fresh batch (if ``n_fresh``)
    and the test set. Returns ``(fresh or None, (X_test, y_test))``."""
    fresh = sample_batch(n_fresh, d, target, rng) if n_fresh else None
    return fresh, sample_batch(n_test, d, target, rng)


def _step_while_drawing(X, drawn, target: Target, W0, a0, chunk: int):
    """The protocol's ReLU gradient at W0 on a batch X that another thread is still drawing.

    ``drawn[k]`` is the future of the standard-normal fill of the k-th row chunk of X (chunks
    of ``chunk`` rows). Gives the numbers of ``y = target(X)``, ``A, B = linear_fit(X, y)`` and
    ``_gradient_core(X, y, W0, a0, relu, chunk, offset=A + X @ B)``, but the first product
    X W0^T of each chunk starts as soon as that chunk is drawn, so the serial random-number
    generation overlaps the matrix products. The gradient needs the offset A + x.B, known
    only once the whole batch is drawn; the first pass therefore keeps, per sample,
    sigma'(W0 x) as a boolean mask (n p bytes) and f(x) (n floats), and a second pass forms
    sigma'(W0 x) r and the product with X. Returns ``(X, y, A, B, offset, grad, loss)``.
    """
    n, p = X.shape[0], W0.shape[0]
    a_scaled = a0 / np.sqrt(p)
    mask = np.empty((n, p), dtype=bool)            # sigma'(W0 x) = 1{<w_i, x> > 0}
    f0 = np.empty(n)                               # f(x; W0, a0)
    buf = np.empty((min(chunk, n), p))
    for s, fill in zip(_chunks(n, chunk), drawn):
        fill.result()
        Z = np.matmul(X[s], W0.T, out=buf[:s.stop - s.start])
        np.greater(Z, 0.0, out=mask[s])
        f0[s] = np.maximum(Z, 0.0, out=Z) @ a_scaled
    y = target(X)
    A, B = float(np.mean(y)), X.T @ y / n          # linear_fit, without re-validating X
    offset = A + X @ B
    acc = np.zeros_like(W0)
    loss = 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        for s in _chunks(n, chunk):
            r = y[s] - f0[s]
            r -= offset[s]
            M = np.multiply(mask[s], r[:, None], out=buf[:s.stop - s.start])
            acc += M.T @ X[s]
            loss += float(r @ r)
    grad = acc
    grad *= -a_scaled[:, None] / n
    return X, y, A, B, offset, grad, loss / (2.0 * n)


def single_step_protocol(d: int, p: int, n: int, rng: np.random.Generator, *,
                         lam: float = 1.0, eta_scale: float = 10.0, n_test: int = 100_000,
                         readout: str = "same", random_features: bool = True,
                         chunk: int = DEFAULT_CHUNK) -> ProtocolResult:
    """One seed of the official ``single_step`` notebook of Dandi et al. [code].

    Gaussian init (W0 = N(0,1)/sqrt d, a0 = N(0,1)/sqrt p), ReLU, teacher
    y = [g(x1) + g(x2)]/2 with g = He1 + He2/2 + He4/24, no label noise. The mean A and linear
    part B = mean(y x) of the labels are estimated on the training batch (the official notebook
    uses the test set) and removed before the step; eta = eta_scale sqrt(n p); one step
    W1 = W0 - eta grad L; ridge (lambda) on sigma(X W1^T)/sqrt p fitted on the same batch
    (``readout="same"``, as the official notebook) or on a fresh one (``"fresh"``); A + x.B is
    added back at prediction. Returns the test MSE on ``n_test`` fresh points for one step,
    for random features (same W0, data, lambda) and for the linear predictor A + x.B.
    """
    d = as_int("d", d, minimum=2)
    p = as_int("p", p, minimum=1)
    n = as_int("n", n, minimum=1)
    rng = _check_rng(rng)
    lam = as_float("lam", lam, minimum=0.0, strict_minimum=True)
    eta_scale = as_float("eta_scale", eta_scale, minimum=0.0, strict_minimum=True)
    n_test = as_int("n_test", n_test, minimum=1)
    readout = as_choice("readout", readout, {"same", "fresh"})
    chunk = as_int("chunk", chunk, minimum=1)
    target = make_target("giant_step_teacher")
    W0, a0 = gaussian_init(d, p, rng)
    eta = eta_scale * np.sqrt(n * p)
    relu = ACTIVATIONS["relu"]
    with ThreadPoolExecutor(max_workers=1) as worker:
        # All draws after W0 run in one worker thread, in the serial order (step batch chunk by
        # chunk, then a fresh batch if any, then the test set), while this thread computes:
        # numpy's Generator releases the GIL while it fills an array and only the worker touches
        # rng, so the numbers are exactly those of a serial run.
        X = np.empty((n, d))
        drawn = [worker.submit(rng.standard_normal, out=X[s]) for s in _chunks(n, chunk)]
        later = worker.submit(_later_draws, n if readout == "fresh" else 0, n_test, d, target,
                              rng)
        X, y, A, B, offset, grad, loss = _step_while_drawing(X, drawn, target, W0, a0, chunk)
        with np.errstate(over="ignore", invalid="ignore"):
            W1 = W0 - eta * grad
        check_loss(1, loss)
        if not np.all(np.isfinite(W1)):
            raise DivergenceError(1, loss, "the weights became non-finite")
        fresh, (Xt, yt) = later.result()
    if fresh is not None:
        del X, y, offset
        X, y = fresh
        offset = A + X @ B
    lin_t = A + Xt @ B
    errors = []
    y_pre = y - offset
    for W in ((W1, W0) if random_features else (W1,)):
        a_fit = _ridge_core(X, y_pre, W, lam, relu, chunk)
        pred = lin_t + _output_core(Xt, W, a_fit, relu, chunk)
        errors.append(float(np.mean((yt - pred) ** 2)))
    linear = float(np.mean((yt - lin_t) ** 2))
    return ProtocolResult(errors[0], errors[1] if random_features else float("nan"), linear,
                          protocol_flops(n, d, p, n_test, random_features))
