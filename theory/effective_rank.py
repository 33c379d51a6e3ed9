"""epsilon-rank of the last hidden layer and the staircase of the loss.

Simulation core of notebook 05, after J. Yang, Y. Zhao, Q. Zhu, "epsilon-rank and the Staircase
Phenomenon: New Insights into Neural Network Training Dynamics" (arXiv:2412.05144; v1/v2 titled
"Effective Rank and the Staircase Phenomenon ..."). Only the paper's abstract and introduction
were available; what is the paper's and what is our reconstruction is marked in each docstring.

Setting (paper, abstract and introduction): a fully connected network
``u(x) = sum_j a_j phi_j(x) + c`` whose last-hidden-layer neurons ``phi_j`` are basis functions of
the input. Their Gram matrix on the domain Omega,

    M_ij = int_Omega phi_i phi_j dx  ~=  sum_q w_q phi_i(x_q) phi_j(x_q) = (Phi^T diag(w) Phi)_ij,

is computed here by Gauss-Legendre quadrature (our convention, weights summing to |Omega|), and
the epsilon-rank is the number of eigenvalues of ``M`` strictly above ``eps``
(:func:`theory.linalg.epsilon_rank`).

Everything is vectorized over samples *and* over a stack of independent runs (seeds,
initialisations): every parameter array carries leading "run" axes, so four seeds train in one
batched numpy call per step, and a diagnostic over a whole trajectory (time x runs) is one
batched call into LAPACK.

Contents
--------
* network: :func:`xavier_init`, :func:`structured_first_layer` (our SFLI-like stand-in for the
  paper's first-layer pre-training), :func:`hidden_features`, :func:`network_output`,
  :func:`loss_and_gradient` (analytic backpropagation);
* optimizers written out in numpy: :func:`gd_update`, :func:`adam_update`, :func:`train`
  (full-batch Adam or GD, minibatch SGD with momentum; raises :class:`DivergenceError` on a
  non-finite loss);
* diagnostics: :func:`gauss_legendre_grid`, :func:`gram_matrix`, :func:`epsilon_rank_trajectory`,
  :func:`relative_epsilon_rank`, :func:`layer_epsilon_ranks`, :func:`find_plateau`,
  :func:`find_drop`, :func:`window_rank_gains`, :func:`layer_order_share`,
  :func:`tie_averaged_spearman`;
* the two lower bounds (ours): :func:`lower_bound_a`, :func:`lower_bound_b`, :func:`tail_energy`;
* the frozen-feature time scale of epsilon (ours): :func:`frozen_feature_gd`,
  :func:`fitted_decay_rates`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import scipy.stats

from . import linalg
from ._validate import as_array_list, as_choice, as_float, as_float_array, as_generator, as_int
from .errors import GROWTH_BOUND, DivergenceError
from .progress import progress as _progress

__all__ = [
    "DivergenceError", "MLP", "TrainingRun", "stack_snapshots", "select_run", "ACTIVATIONS",
    "gauss_legendre_grid", "staircase_target", "sine_targets",
    "xavier_init", "structured_first_layer", "hidden_features", "network_output",
    "loss_and_gradient", "gd_update", "adam_update", "AdamState", "train",
    "gram_matrix", "with_constant_column", "epsilon_rank_trajectory", "relative_epsilon_rank",
    "layer_epsilon_ranks",
    "find_plateau", "find_plateaus", "find_drop", "tie_averaged_spearman", "steps_to_reach",
    "window_rank_gains", "layer_order_share",
    "lower_bound_a", "lower_bound_b", "tail_energy",
    "frozen_feature_gd", "fitted_decay_rates",
]

ACTIVATIONS = ("tanh", "relu")


# ---------------------------------------------------------------------------------------------
# quadrature and targets
# ---------------------------------------------------------------------------------------------
def gauss_legendre_grid(n_points, domain=(-1.0, 1.0)):
    """Gauss-Legendre nodes and weights on ``domain = (lo, hi)``.

    Returns ``x`` of shape ``(n_points, 1)`` and ``w`` of shape ``(n_points,)`` with
    ``sum(w) = hi - lo``, so that ``sum_q w_q g(x_q) ~= int_lo^hi g(x) dx`` exactly for
    polynomials of degree ``< 2 n_points`` (our quadrature convention,
    docs/05_effective_rank_staircase.md).
    """
    n_points = as_int("n_points", n_points, minimum=1)
    domain = as_float_array("domain", domain, ndim=1)
    if domain.shape != (2,) or not domain[1] > domain[0]:
        raise ValueError(f"domain must be (lo, hi) with lo < hi, got {domain.tolist()}")
    nodes, weights = np.polynomial.legendre.leggauss(n_points)
    half = 0.5 * (domain[1] - domain[0])
    x = domain[0] + half * (nodes + 1.0)
    return x[:, None], half * weights


def staircase_target(x):
    """``f(x) = sin 2 pi x + sin 6 pi x + sin 12 pi x`` (our reference target), shape ``(N, 1)``."""
    x = as_float_array("x", x, ndim=2)
    if x.shape[1] != 1:
        raise ValueError(f"x must have shape (N, 1), got {x.shape}")
    t = x[:, 0]
    return (np.sin(2 * np.pi * t) + np.sin(6 * np.pi * t) + np.sin(12 * np.pi * t))[:, None]


def sine_targets(x, n_outputs, amplitudes=None):
    """``K`` targets ``f_k(x) = c_k sin(k pi x)``, ``k = 1..K``, shape ``(N, K)``.

    On ``[-1, 1]`` the unit-amplitude targets are orthonormal in L^2 (symbolic derivation S1),
    which makes the tail ``tau_r^2 = K - r`` of lower bound B exact.
    """
    x = as_float_array("x", x, ndim=2)
    if x.shape[1] != 1:
        raise ValueError(f"x must have shape (N, 1), got {x.shape}")
    n_outputs = as_int("n_outputs", n_outputs, minimum=1)
    k = np.arange(1, n_outputs + 1)
    c = np.ones(n_outputs) if amplitudes is None else as_float_array("amplitudes", amplitudes,
                                                                      ndim=1)
    if c.shape != (n_outputs,):
        raise ValueError(f"amplitudes must have shape ({n_outputs},), got {c.shape}")
    return c * np.sin(np.pi * x * k)


# ---------------------------------------------------------------------------------------------
# the network
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MLP:
    """A fully connected network ``x -> h_1 -> ... -> h_L -> u`` with a linear output layer.

    ``weights[l]`` has shape ``(*runs, fan_in, fan_out)`` and ``biases[l]`` ``(*runs, fan_out)``;
    the leading ``runs`` axes (possibly none) index independent networks. The last pair is the
    linear output layer ``u = h_L A + c``; the others are hidden layers
    ``h_l = act(h_{l-1} W_l + b_l)``.
    """

    weights: tuple
    biases: tuple
    activation: str = "tanh"

    @property
    def n_hidden(self) -> int:
        return len(self.weights) - 1

    @property
    def batch_shape(self) -> tuple:
        return self.weights[0].shape[:-2]

    def params(self) -> list:
        """All arrays, in the order ``W_1, b_1, ..., A, c``."""
        return [p for pair in zip(self.weights, self.biases) for p in pair]

    def with_params(self, params) -> MLP:
        params = list(params)
        return MLP(tuple(params[0::2]), tuple(params[1::2]), self.activation)


def stack_snapshots(snapshots) -> MLP:
    """Stack a list of networks of equal shape along a new leading (time) axis."""
    if isinstance(snapshots, (str, bytes, np.ndarray)) or not isinstance(snapshots, Iterable):
        raise TypeError(f"snapshots must be a list of MLPs, got {type(snapshots).__name__}")
    snapshots = list(snapshots)
    if not snapshots:
        raise ValueError("snapshots must not be empty")
    layouts = []
    for i, s in enumerate(snapshots):
        _check_mlp(f"snapshots[{i}]", s)
        layouts.append((s.activation, [np.shape(W) for W in s.weights],
                        [np.shape(b) for b in s.biases]))
        if layouts[i] != layouts[0]:
            raise ValueError(f"snapshots[{i}] differs in shape or activation from snapshots[0]")
    return _stack_snapshots(snapshots)


def _stack_snapshots(snapshots) -> MLP:
    first = snapshots[0]
    n_layers = len(first.weights)
    return MLP(tuple(np.stack([s.weights[l] for s in snapshots]) for l in range(n_layers)),
               tuple(np.stack([s.biases[l] for s in snapshots]) for l in range(n_layers)),
               first.activation)


def select_run(net, index) -> MLP:
    """The network(s) at ``index`` of the leading axis (a time step or a run)."""
    net = _check_mlp("net", net)
    if not net.batch_shape:
        raise ValueError("net has no batch axis to select from")
    index = as_int("index", index, minimum=-net.batch_shape[0], maximum=net.batch_shape[0] - 1)
    return MLP(tuple(W[index] for W in net.weights), tuple(b[index] for b in net.biases),
               net.activation)


def _check_mlp(name: str, net) -> MLP:
    if not isinstance(net, MLP):
        raise ValueError(f"{name} must be an MLP, got {type(net).__name__}")
    as_choice(f"{name}.activation", net.activation, set(ACTIVATIONS))
    if len(net.weights) != len(net.biases) or len(net.weights) < 2:
        raise ValueError(f"{name} needs at least one hidden layer and matching weights/biases")
    for l, (W, b) in enumerate(zip(net.weights, net.biases)):
        as_float_array(f"{name}.weights[{l}]", W, min_ndim=2)
        as_float_array(f"{name}.biases[{l}]", b, min_ndim=1)
        if b.shape != W.shape[:-2] + W.shape[-1:]:
            raise ValueError(f"{name}.biases[{l}] has shape {b.shape}, expected "
                             f"{W.shape[:-2] + W.shape[-1:]}")
        if l and W.shape[-2] != net.weights[l - 1].shape[-1]:
            raise ValueError(f"{name}.weights[{l}] has fan-in {W.shape[-2]}, the previous layer "
                             f"has width {net.weights[l - 1].shape[-1]}")
    return net


def _check_widths(widths) -> tuple:
    if isinstance(widths, (str, bytes)) or not hasattr(widths, "__len__"):
        raise ValueError(f"widths must be a sequence of layer widths, got {widths!r}")
    widths = tuple(as_int(f"widths[{i}]", n, minimum=1) for i, n in enumerate(widths))
    if len(widths) < 3:
        raise ValueError(f"widths must list input, >= 1 hidden and output widths, got {widths}")
    return widths


def xavier_init(widths, rng, n_runs=None, activation="tanh") -> MLP:
    """Xavier-normal weights ``W ~ N(0, 2 / (fan_in + fan_out))`` and zero biases.

    ``widths = (d, n_1, ..., n_L, K)``; ``n_runs`` independent networks are stacked on a leading
    axis (``None``: no run axis). Our reference initialisation
    (docs/05_effective_rank_staircase.md).
    """
    widths = _check_widths(widths)
    rng = as_generator("rng", rng)
    as_choice("activation", activation, set(ACTIVATIONS))
    runs = () if n_runs is None else (as_int("n_runs", n_runs, minimum=1),)
    weights, biases = [], []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        std = np.sqrt(2.0 / (fan_in + fan_out))
        weights.append(std * rng.standard_normal(runs + (fan_in, fan_out)))
        biases.append(np.zeros(runs + (fan_out,)))
    return MLP(tuple(weights), tuple(biases), activation)


def structured_first_layer(net, rng, gamma=15.0, domain=(-1.0, 1.0)) -> MLP:
    """Replace the first hidden layer by spread, steep neurons (our SFLI-like stand-in).

    Neuron ``i`` of layer 1 becomes ``act(gamma s_i (x - c_i))``: for 1-D input the centres
    ``c_i = linspace(lo, hi, n_1)`` and ``s_i = +-1`` at random, i.e. ``W1_i = gamma s_i``,
    ``b1_i = -gamma s_i c_i``; for ``d``-D input unit directions ``d_i`` (uniform on the sphere)
    and centres sampled uniformly in the box, ``W1_i = gamma d_i``, ``b1_i = -gamma d_i . c_i``.
    This is our reconstruction in the spirit of the authors' structured first-layer
    initialisation (Tang et al., arXiv:2507.11962), not the paper's pre-training recipe
    (arXiv:2412.05144 v3, abstract). Every other layer is left as it is.
    """
    net = _check_mlp("net", net)
    rng = as_generator("rng", rng)
    gamma = as_float("gamma", gamma, minimum=0.0, strict_minimum=True)
    domain = as_float_array("domain", domain, ndim=1)
    if domain.shape != (2,) or not domain[1] > domain[0]:
        raise ValueError(f"domain must be (lo, hi) with lo < hi, got {domain.tolist()}")
    W1 = net.weights[0]
    runs, (d, n1) = W1.shape[:-2], W1.shape[-2:]
    if d == 1:
        centres = np.broadcast_to(np.linspace(domain[0], domain[1], n1), runs + (n1,))
        signs = rng.choice(np.array([-1.0, 1.0]), size=runs + (n1,))
        directions = signs[..., None, :]                                  # (*runs, 1, n1)
        new_W = gamma * directions
        new_b = -gamma * signs * centres
    else:
        directions = rng.standard_normal(runs + (d, n1))
        directions /= np.linalg.norm(directions, axis=-2, keepdims=True)
        centres = rng.uniform(domain[0], domain[1], size=runs + (n1, d))
        new_W = gamma * directions
        new_b = -gamma * np.einsum("...dn,...nd->...n", directions, centres)
    return MLP((new_W,) + net.weights[1:], (new_b,) + net.biases[1:], net.activation)


def _activate(z, activation):
    if activation == "tanh":
        return np.tanh(z)
    return np.maximum(z, 0.0)


def _activation_slope(h, z, activation):
    """``act'(z)`` from the post-activation ``h`` (tanh: ``1 - h^2``) or ``z`` (ReLU)."""
    if activation == "tanh":
        return 1.0 - h * h
    return (z > 0.0).astype(z.dtype)


def _check_inputs(x, net):
    x = as_float_array("x", x, ndim=2)
    if x.shape[1] != net.weights[0].shape[-2]:
        raise ValueError(f"x has {x.shape[1]} input features, the network expects "
                         f"{net.weights[0].shape[-2]}")
    return x


def _forward(net, x):
    """Pre- and post-activations of every hidden layer and the output ``u``."""
    pre, post = [], []
    h = x
    for W, b in zip(net.weights[:-1], net.biases[:-1]):
        z = h @ W + b[..., None, :]
        h = _activate(z, net.activation)
        pre.append(z)
        post.append(h)
    u = h @ net.weights[-1] + net.biases[-1][..., None, :]
    return pre, post, u


def hidden_features(net, x) -> list:
    """Neuron functions of every hidden layer at the sample points: ``[(..., N, n_l)]``.

    The last entry is ``Phi_ik = phi_k(x_i)`` of the paper's "neurons of the last hidden layer
    as basis functions" (arXiv:2412.05144, abstract).
    """
    net = _check_mlp("net", net)
    x = _check_inputs(x, net)
    return _forward(net, x)[1]


def network_output(net, x) -> np.ndarray:
    """``u(x_i)`` for every run, shape ``(..., N, K)``."""
    net = _check_mlp("net", net)
    x = _check_inputs(x, net)
    return _forward(net, x)[2]


def _check_weights_targets(x, w, f):
    w = as_float_array("w", w, ndim=1)
    if w.shape[0] != x.shape[0]:
        raise ValueError(f"w has {w.shape[0]} weights for {x.shape[0]} points")
    if np.any(w <= 0):
        raise ValueError("w must be positive quadrature weights")
    f = as_float_array("f", f, ndim=2)
    if f.shape[0] != x.shape[0]:
        raise ValueError(f"f has {f.shape[0]} rows for {x.shape[0]} points")
    return w, f


def loss_and_gradient(net, x, w, f):
    """Weighted squared loss and its gradient by analytic backpropagation.

    ``L = sum_i w_i ||u(x_i) - f(x_i)||^2`` (a quadrature of ``int ||u - f||^2``, our
    convention), one value per run, shape ``net.batch_shape``. Backpropagation:
    ``delta_out = 2 w_i (u_i - f_i)``; ``dA = h_L^T delta_out``, ``dc = sum_i delta_out``;
    ``delta_l = (delta_{l+1} W_{l+1}^T) * act'(z_l)``; ``dW_l = h_{l-1}^T delta_l``,
    ``db_l = sum_i delta_l``. Returns ``(loss, grads)`` with ``grads`` in the order of
    :meth:`MLP.params`.
    """
    net, x, w, f = _check_problem(net, x, w, f)
    return _loss_and_gradient(net, x, w, f)


def _check_problem(net, x, w, f):
    """Validate a training problem: network, inputs, quadrature weights and targets."""
    net = _check_mlp("net", net)
    x = _check_inputs(x, net)
    w, f = _check_weights_targets(x, w, f)
    if f.shape[1] != net.weights[-1].shape[-1]:
        raise ValueError(f"f has {f.shape[1]} outputs, the network has "
                         f"{net.weights[-1].shape[-1]}")
    return net, x, w, f


def _minibatch_weights(rng, w, batch_shape, batch_size):
    """Per-run weights ``(N / B) w_i 1[i in batch]`` of a uniform minibatch without replacement."""
    n_points = w.shape[0]
    keys = rng.random(tuple(batch_shape) + (n_points,))
    threshold = np.partition(keys, batch_size - 1, axis=-1)[..., batch_size - 1:batch_size]
    return (keys <= threshold) * (w * (n_points / batch_size))


def _loss_and_gradient(net, x, w, f, grad_weights=None):
    """Full loss; gradient of the full loss, or of ``sum_i grad_weights_i ||u_i - f_i||^2``."""
    pre, post, u = _forward(net, x)
    residual = u - f
    loss = np.einsum("i,...ik,...ik->...", w, residual, residual)
    if grad_weights is None:
        delta = 2.0 * w[:, None] * residual
    else:
        delta = 2.0 * grad_weights[..., None] * residual
    inputs = [x] + post
    grads = []
    for l in range(net.n_hidden, -1, -1):
        h_in = inputs[l]
        if l == 0:
            dW = np.swapaxes(np.broadcast_to(h_in, delta.shape[:-1] + h_in.shape[-1:]), -1, -2) \
                @ delta
        else:
            dW = np.swapaxes(h_in, -1, -2) @ delta
        grads.append(delta.sum(axis=-2))
        grads.append(dW)
        if l > 0:
            delta = (delta @ np.swapaxes(net.weights[l], -1, -2)) \
                * _activation_slope(post[l - 1], pre[l - 1], net.activation)
    return loss, grads[::-1]


# ---------------------------------------------------------------------------------------------
# optimizers (full batch, written out)
# ---------------------------------------------------------------------------------------------
def gd_update(params, grads, lr):
    """One gradient-descent step ``theta <- theta - lr * grad`` (list in, new list out)."""
    lr = as_float("lr", lr, minimum=0.0, strict_minimum=True)
    _check_pairs(params, grads)
    return [p - lr * g for p, g in zip(params, grads)]


@dataclass(frozen=True)
class AdamState:
    """First and second moment estimates and the step counter ``t`` of Adam."""

    m: tuple
    v: tuple
    t: int = 0

    @staticmethod
    def zeros_like(params) -> AdamState:
        return AdamState(tuple(np.zeros_like(p) for p in params),
                         tuple(np.zeros_like(p) for p in params), 0)


def _check_pairs(params, grads):
    params = as_array_list("params", params)
    grads = as_array_list("grads", grads)
    if len(params) != len(grads):
        raise ValueError(f"grads has {len(grads)} arrays for {len(params)} parameters")
    for i, (p, g) in enumerate(zip(params, grads)):
        if np.shape(p) != np.shape(g):
            raise ValueError(f"grads[{i}] has shape {np.shape(g)}, params[{i}] {np.shape(p)}")
        if not np.all(np.isfinite(g)):
            raise ValueError(f"grads[{i}] must contain only finite values")


def adam_update(params, grads, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """One Adam step (Kingma & Ba 2015, Algorithm 1), returning ``(new_params, new_state)``.

    ``m <- b1 m + (1 - b1) g``, ``v <- b2 v + (1 - b2) g^2``,
    ``theta <- theta - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)``.
    """
    lr = as_float("lr", lr, minimum=0.0, strict_minimum=True)
    beta1 = as_float("beta1", beta1, minimum=0.0, maximum=1.0)
    beta2 = as_float("beta2", beta2, minimum=0.0, maximum=1.0)
    if beta1 >= 1.0 or beta2 >= 1.0:
        raise ValueError("beta1 and beta2 must be < 1")
    eps = as_float("eps", eps, minimum=0.0, strict_minimum=True)
    if not isinstance(state, AdamState):
        raise ValueError("state must be an AdamState")
    _check_pairs(params, grads)
    _check_pairs(params, state.m)
    return _adam_update(params, grads, state, lr, beta1, beta2, eps)


def _adam_update(params, grads, state, lr, beta1, beta2, eps):
    t = state.t + 1
    m = tuple(beta1 * mi + (1.0 - beta1) * g for mi, g in zip(state.m, grads))
    v = tuple(beta2 * vi + (1.0 - beta2) * g * g for vi, g in zip(state.v, grads))
    c1, c2 = 1.0 - beta1**t, 1.0 - beta2**t
    new = [p - lr * (mi / c1) / (np.sqrt(vi / c2) + eps) for p, mi, vi in zip(params, m, v)]
    return new, AdamState(m, v, t)


@dataclass(frozen=True)
class TrainingRun:
    """The record of one (batched) training run.

    ``loss``: ``(steps + 1, *runs)`` loss before every update and after the last one;
    ``log_steps``: ``(T,)`` steps at which snapshots were taken;
    ``snapshots``: an :class:`MLP` whose arrays carry a leading time axis ``T``;
    ``final``: the network after the last step.
    """

    loss: np.ndarray
    log_steps: np.ndarray
    snapshots: MLP
    final: MLP


def train(net, x, w, f, *, steps, lr, optimizer="adam", log_every=20, progress=False,
          desc="training", batch_size=None, rng=None, momentum=0.0):
    """Training of ``net`` on ``L = sum_i w_i ||u(x_i) - f(x_i)||^2``.

    ``optimizer`` is ``"adam"`` (full batch; b1 0.9, b2 0.999, eps 1e-8), ``"gd"`` (full
    batch, ``theta <- theta - lr grad L``) or ``"sgd"``: minibatch stochastic gradient descent
    with heavy-ball momentum, ``v <- momentum v + g_B``, ``theta <- theta - lr v`` (the update
    of ``torch.optim.SGD``; ``momentum=0`` is plain SGD), the standard training the paper
    observes the staircase under (arXiv:2412.05144, abstract). At every SGD step each run
    draws ``batch_size`` of the ``N`` sample points uniformly without replacement from ``rng``
    (a :class:`numpy.random.Generator`, required for ``"sgd"``), and ``g_B`` is the gradient of
    the unbiased estimate ``L_B = (N / B) sum_{i in batch} w_i ||u(x_i) - f(x_i)||^2``
    (``E L_B = L``). The recorded loss is always the full ``L``. Snapshots are taken at steps
    ``0, log_every, ..., steps``. Every run in the stack trains independently (the loss is
    separable across runs). Raises :class:`DivergenceError` naming the step, the run and the
    loss as soon as any loss is non-finite.
    """
    net, x, w, f = _check_problem(net, x, w, f)
    steps = as_int("steps", steps, minimum=0)
    lr = as_float("lr", lr, minimum=0.0, strict_minimum=True)
    optimizer = as_choice("optimizer", optimizer, {"adam", "gd", "sgd"})
    log_every = as_int("log_every", log_every, minimum=1)
    if steps % log_every:
        raise ValueError(f"steps ({steps}) must be a multiple of log_every ({log_every})")
    if not isinstance(desc, str):
        raise TypeError(f"desc must be a string, got {desc!r}")
    n_points = x.shape[0]
    if optimizer == "sgd":
        if batch_size is None or rng is None:
            raise ValueError("optimizer 'sgd' needs batch_size and rng")
        batch_size = as_int("batch_size", batch_size, minimum=1, maximum=n_points)
        rng = as_generator("rng", rng)
        momentum = as_float("momentum", momentum, minimum=0.0, maximum=1.0)
        if momentum >= 1.0:
            raise ValueError(f"momentum must be < 1, got {momentum}")
    elif batch_size is not None or rng is not None or momentum != 0.0:
        raise ValueError("batch_size, rng and momentum apply to optimizer 'sgd' only, not "
                         f"{optimizer!r}")
    params = net.params()
    state = AdamState.zeros_like(params)
    velocity = [np.zeros_like(p) for p in params]
    losses = np.empty((steps + 1,) + net.batch_shape)
    snapshots = []
    with np.errstate(over="ignore", invalid="ignore"):
        for step in _progress(range(steps + 1), enable=progress, desc=desc):
            current = net.with_params(params)
            if optimizer == "sgd" and step < steps:
                batch_w = _minibatch_weights(rng, w, net.batch_shape, batch_size)
                loss, grads = _loss_and_gradient(current, x, w, f, grad_weights=batch_w)
            else:
                loss, grads = _loss_and_gradient(current, x, w, f)
            _raise_if_diverged(step, loss, grads, losses[0] if step else None)
            losses[step] = loss
            if step % log_every == 0:
                snapshots.append(current)
            if step == steps:
                break
            if optimizer == "adam":
                params, state = _adam_update(params, grads, state, lr, 0.9, 0.999, 1e-8)
            elif optimizer == "sgd":
                velocity = [momentum * v + g for v, g in zip(velocity, grads)]
                params = [p - lr * v for p, v in zip(params, velocity)]
            else:
                params = [p - lr * g for p, g in zip(params, grads)]
    return TrainingRun(losses, np.arange(0, steps + 1, log_every), _stack_snapshots(snapshots),
                       net.with_params(params))


def _raise_if_diverged(step, loss, grads, initial=None):
    bad = ~np.isfinite(loss)
    if initial is not None and not np.any(bad):
        grown = np.asarray(loss) > GROWTH_BOUND * np.asarray(initial)
        if np.any(grown):
            run = tuple(int(i) for i in np.argwhere(np.atleast_1d(grown))[0])
            value = np.atleast_1d(loss)[run] if run else loss
            raise DivergenceError(step, float(value), f"the loss of run {run} grew more than "
                                  f"{GROWTH_BOUND:.0e}-fold")
    if not np.any(bad) and all(np.all(np.isfinite(g)) for g in grads):
        return
    if np.any(bad):
        run = tuple(int(i) for i in np.argwhere(np.atleast_1d(bad))[0])
        value = np.atleast_1d(loss)[run] if run else loss
        raise DivergenceError(step, float(value), f"the loss of run {run} became non-finite")
    raise DivergenceError(step, float(np.max(np.abs(loss))), "a gradient became non-finite")


# ---------------------------------------------------------------------------------------------
# Gram matrices and epsilon-ranks
# ---------------------------------------------------------------------------------------------
def gram_matrix(features, w, *, bias=False) -> np.ndarray:
    """``M = Phi^T diag(w) Phi``, the quadrature Gram matrix of the neuron functions.

    ``features``: ``(..., N, n)`` values ``phi_k(x_i)``; ``w``: ``(N,)`` positive weights.
    With ``bias=True`` a constant column is appended (the output bias as a basis function),
    giving ``(..., n + 1, n + 1)``. ``M_ij ~= int phi_i phi_j dx`` (arXiv:2412.05144 via the
    abstract: the neurons of the last hidden layer as basis functions; the Gram form, quadrature
    and normalisation are ours, docs/05_effective_rank_staircase.md).
    """
    features = as_float_array("features", features, min_ndim=2)
    w = as_float_array("w", w, ndim=1)
    if w.shape[0] != features.shape[-2]:
        raise ValueError(f"w has {w.shape[0]} weights for {features.shape[-2]} points")
    if np.any(w <= 0):
        raise ValueError("w must be positive quadrature weights")
    if bias:
        features = with_constant_column(features)
    weighted = np.sqrt(w)[:, None] * features
    gram = np.swapaxes(weighted, -1, -2) @ weighted
    return 0.5 * (gram + np.swapaxes(gram, -1, -2))


def with_constant_column(features) -> np.ndarray:
    """``[Phi, 1]``: the feature matrix with the output bias as one more basis function."""
    features = as_float_array("features", features, min_ndim=2)
    ones = np.ones(features.shape[:-1] + (1,))
    return np.concatenate([features, ones], axis=-1)


def epsilon_rank_trajectory(gram, eps_values) -> np.ndarray:
    """epsilon-ranks of a stack of Gram matrices for several ``eps``: shape ``(E, ...)``.

    Thin wrapper over :func:`theory.linalg.epsilon_rank` (count of eigenvalues ``> eps``).
    """
    eps_values = as_float_array("eps_values", eps_values, ndim=1)
    if np.any(eps_values < 0):
        raise ValueError("eps_values must be >= 0")
    return np.stack([linalg.epsilon_rank(gram, e) for e in eps_values])


def relative_epsilon_rank(gram, eps) -> np.ndarray:
    """Number of eigenvalues above ``eps * lambda_max`` (scale-free robustness check)."""
    gram = as_float_array("gram", gram, min_ndim=2)
    eps = as_float("eps", eps, minimum=0.0)
    lam_max = np.linalg.eigvalsh(gram)[..., -1]
    scale = np.where(lam_max > 0, lam_max, 1.0)
    return linalg.epsilon_rank(gram / scale[..., None, None], eps)


def layer_epsilon_ranks(net, x, w, eps) -> np.ndarray:
    """epsilon-rank of every hidden layer: shape ``(n_hidden, *net.batch_shape)``.

    The paper (arXiv:2412.05144 v3, abstract) reports that deeper layers have higher
    epsilon-rank; this computes the per-layer counts with the neurons-only Gram matrix.
    """
    net = _check_mlp("net", net)
    eps = as_float("eps", eps, minimum=0.0)
    layers = hidden_features(net, x)
    return np.stack([linalg.epsilon_rank(gram_matrix(h, w), eps) for h in layers])


# ---------------------------------------------------------------------------------------------
# plateaus, drops, correlations
# ---------------------------------------------------------------------------------------------
def _check_loss_curve(loss):
    loss = as_float_array("loss", loss, ndim=1)
    if np.any(loss <= 0):
        raise ValueError("loss must be positive")
    return loss


def find_plateau(loss, *, min_length=100, rel_change=0.02, start=0, max_loss=None):
    """First window ``[s, e]`` of at least ``min_length`` steps where the loss is flat.

    Flat means ``max L / min L - 1 < rel_change`` over the window; the window with the
    smallest start ``s >= start`` is extended to the right while it stays flat. With
    ``max_loss`` only windows whose minimum loss exceeds ``max_loss`` count (notebook 05,
    section 5: "no plateau above 0.5").
    Returns ``(s, e)`` as step indices, or ``None`` when there is no such window.
    Our operational definition of the paper's loss plateau (notebook 05, section 3).
    """
    loss = _check_loss_curve(loss)
    min_length = as_int("min_length", min_length, minimum=1)
    rel_change = as_float("rel_change", rel_change, minimum=0.0, strict_minimum=True)
    start = as_int("start", start, minimum=0)
    if max_loss is not None:
        max_loss = as_float("max_loss", max_loss)
    n = loss.size
    if n <= min_length:
        return None
    from numpy.lib.stride_tricks import sliding_window_view
    windows = sliding_window_view(loss, min_length + 1)          # windows[s] = L[s..s+min_length]
    hi, lo = windows.max(axis=1), windows.min(axis=1)
    flat = hi / lo - 1.0 < rel_change
    if max_loss is not None:
        flat &= lo > max_loss
    flat[:start] = False
    candidates = np.flatnonzero(flat)
    if candidates.size == 0:
        return None
    s = int(candidates[0])
    e = s + min_length
    hi, lo = loss[s:e + 1].max(), loss[s:e + 1].min()
    while e + 1 < n:
        nh, nl = max(hi, loss[e + 1]), min(lo, loss[e + 1])
        if nh / nl - 1.0 >= rel_change or (max_loss is not None and nl <= max_loss):
            break
        hi, lo, e = nh, nl, e + 1
    return s, e


def find_plateaus(loss, *, min_length=100, rel_change=0.02):
    """All disjoint plateaus of :func:`find_plateau`, left to right: a list of ``(s, e)``."""
    loss = _check_loss_curve(loss)
    found: list[tuple[int, int]] = []
    start = 0
    while True:
        window = find_plateau(loss, min_length=min_length, rel_change=rel_change, start=start)
        if window is None:
            return found
        found.append(window)
        start = window[1] + 1


def find_drop(loss, *, start, window=100, fraction=0.2):
    """First step ``t >= start`` with ``L(t + window) < (1 - fraction) L(t)``, or ``None``.

    Our operational definition of a loss drop (notebook 05, section 3).
    """
    loss = _check_loss_curve(loss)
    start = as_int("start", start, minimum=0)
    window = as_int("window", window, minimum=1)
    fraction = as_float("fraction", fraction, minimum=0.0, maximum=1.0)
    if start + window >= loss.size:
        return None
    ratio = loss[start + window:] / loss[start:loss.size - window]
    hits = np.flatnonzero(ratio < 1.0 - fraction)
    return None if hits.size == 0 else start + int(hits[0])


def tie_averaged_spearman(a, b) -> float:
    """Spearman rank correlation with tie-averaged ranks (``scipy.stats.spearmanr``).

    The epsilon-rank is integer-valued with long runs of ties; average ranks keep the ties
    from inflating the correlation (docs/05_effective_rank_staircase.md).
    """
    a = as_float_array("a", a, ndim=1)
    b = as_float_array("b", b, ndim=1)
    if a.shape != b.shape or a.size < 3:
        raise ValueError(f"a and b must have the same length >= 3, got {a.shape}, {b.shape}")
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        raise ValueError("a and b must not be constant (the correlation is undefined)")
    return float(scipy.stats.spearmanr(a, b).statistic)


def window_rank_gains(loss, ranks, log_steps, *, window=100, drop=0.2, flat=0.02):
    """Rank gained over loss-drop windows and over flat windows of one run.

    For every window ``[t, t + window]`` that starts at a logged step ``t`` (``log_steps`` must
    be evenly spaced and ``window`` a multiple of the spacing), the gain is
    ``r(t + window) - r(t)``. A window is a *drop* when ``L(t + window) < (1 - drop) L(t)`` and
    *flat* when ``max L / min L - 1 < flat`` over the window (our operational definitions,
    notebook 05, section 3). ``loss``: ``(steps + 1,)`` loss at every step; ``ranks``: ``(T,)``
    epsilon-ranks at ``log_steps``. Returns ``(gains_at_drops, gains_at_flats)`` (integer
    arrays, possibly empty). Their contrast tests the paper's "loss drops coincide with rank
    jumps" (arXiv:2412.05144, abstract) against a rank that grows independently of the loss.
    """
    loss = _check_loss_curve(loss)
    ranks = np.asarray(ranks)
    if ranks.ndim != 1 or ranks.dtype.kind not in "iu":
        raise ValueError(f"ranks must be a 1-D integer array, got {ranks.dtype} {ranks.shape}")
    log_steps = np.asarray(log_steps)
    if log_steps.ndim != 1 or log_steps.dtype.kind not in "iu" or log_steps.size < 2:
        raise ValueError("log_steps must be a 1-D integer array of >= 2 steps")
    if ranks.shape != log_steps.shape:
        raise ValueError(f"ranks has {ranks.size} entries for {log_steps.size} log_steps")
    spacing = np.diff(log_steps)
    if np.any(spacing != spacing[0]) or spacing[0] <= 0 or log_steps[0] < 0 \
            or log_steps[-1] >= loss.size:
        raise ValueError("log_steps must be evenly spaced, increasing, inside the loss curve")
    window = as_int("window", window, minimum=1)
    if window % spacing[0]:
        raise ValueError(f"window ({window}) must be a multiple of the log spacing "
                         f"({spacing[0]})")
    drop = as_float("drop", drop, minimum=0.0, maximum=1.0, strict_minimum=True)
    flat = as_float("flat", flat, minimum=0.0, strict_minimum=True)
    k = window // int(spacing[0])
    drops, flats = [], []
    for i in range(log_steps.size - k):
        t0, t1 = int(log_steps[i]), int(log_steps[i + k])
        gain = int(ranks[i + k] - ranks[i])
        segment = loss[t0:t1 + 1]
        if loss[t1] < (1.0 - drop) * loss[t0]:
            drops.append(gain)
        elif segment.max() / segment.min() - 1.0 < flat:
            flats.append(gain)
    return np.array(drops, dtype=int), np.array(flats, dtype=int)


def layer_order_share(layer_ranks, log_steps, *, start=200, strict=True):
    """Share of checkpoints after ``start`` at which the epsilon-rank rises with depth.

    ``layer_ranks``: ``(n_layers, T, *runs)`` epsilon-ranks of the hidden layers, first layer
    first; ``log_steps``: ``(T,)``. With ``strict=True`` a checkpoint counts when
    ``r(layer l+1) > r(layer l)`` for every ``l`` (the paper's "each hidden layer has a higher
    epsilon-rank than the previous one", arXiv:2412.05144 v3, abstract); with ``strict=False``
    when ``r(layer l+1) >= r(layer l)``. Returns the share per run, shape ``runs``.
    """
    layer_ranks = np.asarray(layer_ranks)
    if layer_ranks.ndim < 2 or layer_ranks.dtype.kind not in "iu" or layer_ranks.shape[0] < 2:
        raise ValueError("layer_ranks must be an integer array (n_layers >= 2, T, *runs)")
    log_steps = np.asarray(log_steps)
    if log_steps.ndim != 1 or log_steps.dtype.kind not in "iu" \
            or log_steps.shape[0] != layer_ranks.shape[1]:
        raise ValueError(f"log_steps must be 1-D integers of length {layer_ranks.shape[1]}")
    start = as_int("start", start, minimum=0)
    if not isinstance(strict, (bool, np.bool_)):
        raise TypeError(f"strict must be a bool, got {strict!r}")
    later = log_steps > start
    if not np.any(later):
        raise ValueError(f"no checkpoint after start={start}")
    steps_up = np.diff(layer_ranks[:, later], axis=0)
    ordered = np.all(steps_up > 0 if strict else steps_up >= 0, axis=0)
    return ordered.mean(axis=0)


def steps_to_reach(loss, level):
    """First step index with ``loss < level`` along axis 0 (``-1`` where never reached)."""
    loss = as_float_array("loss", loss, min_ndim=1)
    level = as_float("level", level)
    below = loss < level
    first = np.argmax(below, axis=0)
    return np.where(below.any(axis=0), first, -1)


# ---------------------------------------------------------------------------------------------
# the two lower bounds (ours; illustrate the paper's claim 3)
# ---------------------------------------------------------------------------------------------
def lower_bound_a(features, w, f, a, eps):
    """Prop A (ours): ``L >= (||(I - P_r) f_W|| - sqrt(eps) ||a||)_+^2`` for every ``a``.

    ``features``: ``(..., N, n)`` **bias-augmented** feature matrix ``Phi`` (append the constant
    column and put the output bias into ``a``); ``f``: ``(N, K)`` targets; ``a``: ``(..., n, K)``
    output weights; ``r = #{k: sigma_k(Phi_W)^2 > eps}`` and ``P_r`` projects on the top-``r``
    left singular vectors of ``Phi_W = diag(sqrt w) Phi``. For ``K > 1`` the norms are
    Frobenius norms and ``(I - P_r)`` acts column by column; the proof is unchanged.
    Returns ``(bound, r)`` over the batch axes. Consistent with the paper's negative
    correlation between a loss lower bound and the epsilon-rank (arXiv:2412.05144, abstract),
    but not the paper's theorem.
    """
    features = as_float_array("features", features, min_ndim=2)
    w = as_float_array("w", w, ndim=1)
    f = as_float_array("f", f, ndim=2)
    a = as_float_array("a", a, min_ndim=2)
    eps = as_float("eps", eps, minimum=0.0)
    N, n = features.shape[-2:]
    if w.shape[0] != N or f.shape[0] != N:
        raise ValueError(f"w and f must have {N} rows like features, got {w.shape}, {f.shape}")
    if a.shape[-2:] != (n, f.shape[1]):
        raise ValueError(f"a must have trailing shape {(n, f.shape[1])}, got {a.shape}")
    Phi_W = np.sqrt(w)[:, None] * features
    f_W = np.sqrt(w)[:, None] * f
    U, s, _ = np.linalg.svd(Phi_W, full_matrices=False)
    r = np.count_nonzero(s * s > eps, axis=-1)
    coeff = np.swapaxes(U, -1, -2) @ f_W                           # (..., n, K)
    keep = np.arange(s.shape[-1]) < r[..., None]                   # top-r directions
    captured = np.sum(np.where(keep[..., None], coeff, 0.0) ** 2, axis=(-2, -1))
    residual = np.sqrt(np.maximum(np.sum(f_W * f_W) - captured, 0.0))
    slack = np.sqrt(eps) * np.sqrt(np.sum(a * a, axis=(-2, -1)))
    return np.maximum(residual - slack, 0.0) ** 2, r


def tail_energy(targets, w) -> np.ndarray:
    """``tau_r^2 = sum_{j > r} s_j^2`` for ``r = 0..K``, from the SVD of ``F_W = diag(sqrt w) F``.

    By Eckart-Young-Mirsky ``tau_r`` is the distance from ``F_W`` to the matrices of rank
    ``<= r`` (our Prop B); for orthonormal targets ``tau_r^2 = K - r`` (derivation S1).
    """
    targets = as_float_array("targets", targets, ndim=2)
    w = as_float_array("w", w, ndim=1)
    if w.shape[0] != targets.shape[0]:
        raise ValueError(f"w has {w.shape[0]} weights for {targets.shape[0]} rows of targets")
    s = np.linalg.svd(np.sqrt(w)[:, None] * targets, compute_uv=False)
    sq = s * s
    tails = np.concatenate([np.cumsum(sq[::-1])[::-1], [0.0]])
    K = targets.shape[1]
    if tails.size < K + 1:                                         # N < K: pad with zeros
        tails = np.concatenate([tails, np.zeros(K + 1 - tails.size)])
    return tails[:K + 1]


def lower_bound_b(tails, r, A, eps):
    """Prop B (ours, theta-free target term): ``L >= (tau_r - sqrt(eps) ||A||_F)_+^2``.

    ``tails``: output of :func:`tail_energy`; ``r``: bias-augmented epsilon-ranks (any shape,
    values above ``K`` clip to ``tau = 0``); ``A``: ``(..., n, K)`` bias-augmented output
    weights with batch shape equal to ``r``'s.
    """
    tails = as_float_array("tails", tails, ndim=1)
    r = np.asarray(r)
    if r.dtype.kind not in "iu" or np.any(r < 0):
        raise ValueError("r must be an array of non-negative integers")
    A = as_float_array("A", A, min_ndim=2)
    eps = as_float("eps", eps, minimum=0.0)
    if A.shape[:-2] != r.shape:
        raise ValueError(f"A has batch shape {A.shape[:-2]}, r has shape {r.shape}")
    tau = np.sqrt(tails[np.minimum(r, tails.size - 1)])
    slack = np.sqrt(eps) * np.sqrt(np.sum(A * A, axis=(-2, -1)))
    return np.maximum(tau - slack, 0.0) ** 2


# ---------------------------------------------------------------------------------------------
# frozen features: what epsilon means as a time scale (ours)
# ---------------------------------------------------------------------------------------------
def frozen_feature_gd(features, w, f, *, eta, steps):
    """GD on the output weights only, hidden layers frozen, from ``a = 0``.

    ``L(a) = ||Phi_W a - f_W||^2``, ``a <- a - 2 eta (M a - Phi_W^T f_W)``. Along an eigenvector
    ``v_k`` of ``M`` the error ``e_k = v_k . (a - a*)`` obeys ``e_k(t) = (1 - 2 eta lambda_k)^t
    e_k(0)`` (derivation S5). ``features``: ``(N, n)``; ``f``: ``(N,)`` or ``(N, 1)``.
    Returns ``(lambdas, errors)``: eigenvalues of ``M`` (descending) and ``e_k(t)`` for
    ``t = 0..steps``, shape ``(steps + 1, n)``; ``e_k`` is read off the gradient,
    ``v_k . grad = 2 lambda_k e_k``, so no pseudo-inverse is needed.
    """
    features = as_float_array("features", features, ndim=2)
    w = as_float_array("w", w, ndim=1)
    if np.any(w < 0):
        raise ValueError("w must be non-negative (quadrature weights)")
    f = as_float_array("f", f, min_ndim=1)
    f = f.reshape(f.shape[0], -1)
    if f.shape[1] != 1 or f.shape[0] != features.shape[0] or w.shape[0] != features.shape[0]:
        raise ValueError(f"f must be one target of length {features.shape[0]} and w match it")
    eta = as_float("eta", eta, minimum=0.0, strict_minimum=True)
    steps = as_int("steps", steps, minimum=1)
    Phi_W = np.sqrt(w)[:, None] * features
    f_W = np.sqrt(w) * f[:, 0]
    M = Phi_W.T @ Phi_W
    b = Phi_W.T @ f_W
    lam, V = np.linalg.eigh(M)
    lam, V = lam[::-1], V[:, ::-1]
    if np.any(lam == 0):
        raise ValueError("features (weighted by w) must give a Gram matrix with no exactly zero "
                         "eigenvalue: e_k is undefined along its null space")
    a = np.zeros(M.shape[0])
    errors = np.empty((steps + 1, M.shape[0]))
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        for t in range(steps + 1):
            grad = 2.0 * (M @ a - b)
            if not np.all(np.isfinite(grad)):
                raise DivergenceError(t, np.sum((Phi_W @ a - f_W) ** 2))
            errors[t] = (V.T @ grad) / (2.0 * lam)
            a = a - eta * grad
    return lam, errors


def fitted_decay_rates(errors) -> np.ndarray:
    """Least-squares slope of ``log |e_k(t)|`` against ``t`` for every column ``k``."""
    errors = as_float_array("errors", errors, ndim=2).astype(float, copy=False)
    if errors.shape[0] < 2:
        raise ValueError(f"errors must have shape (T >= 2, n), got {errors.shape}")
    if not np.all(np.isfinite(errors)) or np.any(errors == 0):
        raise ValueError("errors must be finite and non-zero")
    t = np.arange(errors.shape[0])
    return np.polyfit(t, np.log(np.abs(errors)), 1)[0]
