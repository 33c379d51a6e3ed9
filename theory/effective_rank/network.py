"""The network of notebook 05, its targets, its loss and its training.

After J. Yang, Y. Zhao, Q. Zhu, arXiv:2412.05144 (abstract and introduction): a fully
connected network ``u(x) = sum_j a_j phi_j(x) + c`` whose last-hidden-layer neurons ``phi_j``
are basis functions of the input. The targets, the initialisations, the quadrature form of the
loss and the optimizers' settings are our reconstruction (docs/05_effective_rank_staircase.md).

* :class:`MLP`: ``h_l = act(h_{l-1} W_l + b_l)`` for the hidden layers, ``u = h_L A + c``;
  every array carries leading "run" axes, so a stack of independent networks (seeds,
  initialisations) trains in one batched numpy call per step.
* :func:`loss_and_gradient`: ``L = sum_i w_i ||u(x_i) - f(x_i)||^2`` (a quadrature of
  ``int ||u - f||^2``) and its gradient by backpropagation.
* :func:`train`: full-batch Adam or GD, or minibatch SGD with heavy-ball momentum, on the one
  training loop :func:`theory.training.run`, returning a :class:`theory.training.Trajectory`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
from numpy.typing import ArrayLike

from .. import training
from .._validate import as_choice, as_float, as_float_array, as_generator, as_int
from ..activations import get_activation
from ..optimizers import make_optimizer

__all__ = ["MLP", "stack_snapshots", "select_run", "staircase_target", "sine_targets",
           "xavier_init", "structured_first_layer", "hidden_features", "network_output",
           "loss_and_gradient", "train"]

#: The activations of the notebook's networks (names in :data:`theory.activations.ACTIVATIONS`).
_ACTIVATION_NAMES = ("tanh", "relu")


# ---------------------------------------------------------------------------------------------
# targets
# ---------------------------------------------------------------------------------------------
def staircase_target(x: ArrayLike) -> np.ndarray:
    """``f(x) = sin 2 pi x + sin 6 pi x + sin 12 pi x`` (our reference target), shape ``(N, 1)``."""
    x = as_float_array("x", x, ndim=2)
    if x.shape[1] != 1:
        raise ValueError(f"x must have shape (N, 1), got {x.shape}")
    t = x[:, 0]
    return (np.sin(2 * np.pi * t) + np.sin(6 * np.pi * t) + np.sin(12 * np.pi * t))[:, None]


def sine_targets(x: ArrayLike, n_outputs: int, amplitudes: ArrayLike | None = None) -> np.ndarray:
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
    ``h_l = act(h_{l-1} W_l + b_l)``, ``act`` = ``"tanh"`` or ``"relu"``.
    """

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    activation: str = "tanh"

    @property
    def n_hidden(self) -> int:
        """Number of hidden layers."""
        return len(self.weights) - 1

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """The leading run (or time) axes."""
        return tuple(self.weights[0].shape[:-2])

    def params(self) -> list[np.ndarray]:
        """All arrays, in the order ``W_1, b_1, ..., A, c``."""
        return [p for pair in zip(self.weights, self.biases) for p in pair]

    def with_params(self, params: Sequence[np.ndarray]) -> MLP:
        """The network with the arrays ``params`` (in the order of :meth:`params`)."""
        params = list(params)
        return MLP(tuple(params[0::2]), tuple(params[1::2]), self.activation)


def stack_snapshots(snapshots: Iterable[MLP]) -> MLP:
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


def _stack_snapshots(snapshots: Sequence[MLP]) -> MLP:
    first = snapshots[0]
    n_layers = len(first.weights)
    return MLP(tuple(np.stack([s.weights[l] for s in snapshots]) for l in range(n_layers)),
               tuple(np.stack([s.biases[l] for s in snapshots]) for l in range(n_layers)),
               first.activation)


def select_run(net: MLP, index: int) -> MLP:
    """The network(s) at ``index`` of the leading axis (a time step or a run)."""
    net = _check_mlp("net", net)
    if not net.batch_shape:
        raise ValueError("net has no batch axis to select from")
    index = as_int("index", index, minimum=-net.batch_shape[0], maximum=net.batch_shape[0] - 1)
    return MLP(tuple(W[index] for W in net.weights), tuple(b[index] for b in net.biases),
               net.activation)


def _check_mlp(name: str, net: object) -> MLP:
    if not isinstance(net, MLP):
        raise ValueError(f"{name} must be an MLP, got {type(net).__name__}")
    as_choice(f"{name}.activation", net.activation, set(_ACTIVATION_NAMES))
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


def _check_widths(widths: object) -> tuple[int, ...]:
    if isinstance(widths, (str, bytes)) or not isinstance(widths, (Sequence, np.ndarray)):
        raise ValueError(f"widths must be a sequence of layer widths, got {widths!r}")
    checked = tuple(as_int(f"widths[{i}]", n, minimum=1) for i, n in enumerate(widths))
    if len(checked) < 3:
        raise ValueError(f"widths must list input, >= 1 hidden and output widths, got {checked}")
    return checked


def xavier_init(widths: Sequence[int] | np.ndarray, rng: np.random.Generator,
                n_runs: int | None = None, activation: str = "tanh") -> MLP:
    """Xavier-normal weights ``W ~ N(0, 2 / (fan_in + fan_out))`` and zero biases.

    ``widths = (d, n_1, ..., n_L, K)``; ``n_runs`` independent networks are stacked on a leading
    axis (``None``: no run axis). Our reference initialisation
    (docs/05_effective_rank_staircase.md).
    """
    sizes = _check_widths(widths)
    rng = as_generator("rng", rng)
    as_choice("activation", activation, set(_ACTIVATION_NAMES))
    runs = () if n_runs is None else (as_int("n_runs", n_runs, minimum=1),)
    weights, biases = [], []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        std = np.sqrt(2.0 / (fan_in + fan_out))
        weights.append(std * rng.standard_normal(runs + (fan_in, fan_out)))
        biases.append(np.zeros(runs + (fan_out,)))
    return MLP(tuple(weights), tuple(biases), activation)


def structured_first_layer(net: MLP, rng: np.random.Generator, gamma: float = 15.0,
                           domain: ArrayLike = (-1.0, 1.0)) -> MLP:
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
    box = as_float_array("domain", domain, ndim=1)
    if box.shape != (2,) or not box[1] > box[0]:
        raise ValueError(f"domain must be (lo, hi) with lo < hi, got {box.tolist()}")
    W1 = net.weights[0]
    runs, (d, n1) = W1.shape[:-2], W1.shape[-2:]
    if d == 1:
        centres = np.broadcast_to(np.linspace(box[0], box[1], n1), runs + (n1,))
        signs = rng.choice(np.array([-1.0, 1.0]), size=runs + (n1,))
        directions = signs[..., None, :]                                  # (*runs, 1, n1)
        new_W = gamma * directions
        new_b = -gamma * signs * centres
    else:
        directions = rng.standard_normal(runs + (d, n1))
        directions /= np.linalg.norm(directions, axis=-2, keepdims=True)
        centres = rng.uniform(box[0], box[1], size=runs + (n1, d))
        new_W = gamma * directions
        new_b = -gamma * np.einsum("...dn,...nd->...n", directions, centres)
    return MLP((new_W,) + net.weights[1:], (new_b,) + net.biases[1:], net.activation)


def _check_inputs(x: ArrayLike, net: MLP) -> np.ndarray:
    x = as_float_array("x", x, ndim=2)
    if x.shape[1] != net.weights[0].shape[-2]:
        raise ValueError(f"x has {x.shape[1]} input features, the network expects "
                         f"{net.weights[0].shape[-2]}")
    return x


def _forward(net: MLP, x: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """Pre- and post-activations of every hidden layer and the output ``u``."""
    act = get_activation(net.activation, choices=_ACTIVATION_NAMES)
    pre, post = [], []
    h = x
    for W, b in zip(net.weights[:-1], net.biases[:-1]):
        z = h @ W + b[..., None, :]
        h = act.fn(z)
        pre.append(z)
        post.append(h)
    u = h @ net.weights[-1] + net.biases[-1][..., None, :]
    return pre, post, u


def _backward(net: MLP, x: np.ndarray, pre: list[np.ndarray], post: list[np.ndarray],
              residual: np.ndarray, weights: np.ndarray) -> list[np.ndarray]:
    """Gradient of ``sum_i weights_i ||u_i - f_i||^2`` (``residual = u - f``), in the order of
    :meth:`MLP.params`; ``weights``: ``(N,)`` or one row per run, ``(*runs, N)``."""
    act = get_activation(net.activation, choices=_ACTIVATION_NAMES)
    delta = 2.0 * weights[..., None] * residual
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
                * act.slope(pre[l - 1], value=post[l - 1])
    return grads[::-1]


def hidden_features(net: MLP, x: ArrayLike) -> list[np.ndarray]:
    """Neuron functions of every hidden layer at the sample points: ``[(..., N, n_l)]``.

    The last entry is ``Phi_ik = phi_k(x_i)`` of the paper's "neurons of the last hidden layer
    as basis functions" (arXiv:2412.05144, abstract).
    """
    net = _check_mlp("net", net)
    return _forward(net, _check_inputs(x, net))[1]


def network_output(net: MLP, x: ArrayLike) -> np.ndarray:
    """``u(x_i)`` for every run, shape ``(..., N, K)``."""
    net = _check_mlp("net", net)
    return _forward(net, _check_inputs(x, net))[2]


def _check_problem(net: MLP, x: ArrayLike, w: ArrayLike,
                   f: ArrayLike) -> tuple[MLP, np.ndarray, np.ndarray, np.ndarray]:
    """Validate a training problem: network, inputs, quadrature weights and targets."""
    net = _check_mlp("net", net)
    x_arr = _check_inputs(x, net)
    w_arr = as_float_array("w", w, ndim=1)
    if w_arr.shape[0] != x_arr.shape[0]:
        raise ValueError(f"w has {w_arr.shape[0]} weights for {x_arr.shape[0]} points")
    if np.any(w_arr <= 0):
        raise ValueError("w must be positive quadrature weights")
    f_arr = as_float_array("f", f, ndim=2)
    if f_arr.shape[0] != x_arr.shape[0]:
        raise ValueError(f"f has {f_arr.shape[0]} rows for {x_arr.shape[0]} points")
    if f_arr.shape[1] != net.weights[-1].shape[-1]:
        raise ValueError(f"f has {f_arr.shape[1]} outputs, the network has "
                         f"{net.weights[-1].shape[-1]}")
    return net, x_arr, w_arr, f_arr


def _weighted_loss(w: np.ndarray, residual: np.ndarray) -> np.ndarray:
    return np.einsum("i,...ik,...ik->...", w, residual, residual)


def loss_and_gradient(net: MLP, x: ArrayLike, w: ArrayLike,
                      f: ArrayLike) -> tuple[np.ndarray, list[np.ndarray]]:
    """Weighted squared loss and its gradient by analytic backpropagation.

    ``L = sum_i w_i ||u(x_i) - f(x_i)||^2`` (a quadrature of ``int ||u - f||^2``, our
    convention), one value per run, shape ``net.batch_shape``. Backpropagation:
    ``delta_out = 2 w_i (u_i - f_i)``; ``dA = h_L^T delta_out``, ``dc = sum_i delta_out``;
    ``delta_l = (delta_{l+1} W_{l+1}^T) * act'(z_l)``; ``dW_l = h_{l-1}^T delta_l``,
    ``db_l = sum_i delta_l``. Returns ``(loss, grads)`` with ``grads`` in the order of
    :meth:`MLP.params`.
    """
    net, x_arr, w_arr, f_arr = _check_problem(net, x, w, f)
    pre, post, u = _forward(net, x_arr)
    residual = u - f_arr
    return _weighted_loss(w_arr, residual), _backward(net, x_arr, pre, post, residual, w_arr)


# ---------------------------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------------------------
def _minibatch_weights(rng: np.random.Generator, w: np.ndarray, batch_shape: tuple[int, ...],
                       batch_size: int) -> np.ndarray:
    """Per-run weights ``(N / B) w_i 1[i in batch]`` of a uniform minibatch without replacement."""
    n_points = w.shape[0]
    keys = rng.random(tuple(batch_shape) + (n_points,))
    threshold = np.partition(keys, batch_size - 1, axis=-1)[..., batch_size - 1:batch_size]
    return (keys <= threshold) * (w * (n_points / batch_size))


def _objective(net: MLP, x: np.ndarray, w: np.ndarray, f: np.ndarray,
               draw: Callable[[], np.ndarray] | None) -> training.Objective:
    """``params -> (L, grads)`` for :func:`theory.training.run`: the full loss, and (computed
    only when a step is taken) the gradient of the full loss or, with ``draw``, of the minibatch
    estimate whose per-point weights ``draw()`` returns."""

    def objective(params: list[np.ndarray]) -> tuple[np.ndarray, Callable[[], list[np.ndarray]]]:
        current = net.with_params(params)
        pre, post, u = _forward(current, x)
        residual = u - f

        def grads() -> list[np.ndarray]:
            weights = w if draw is None else draw()
            return _backward(current, x, pre, post, residual, weights)

        return _weighted_loss(w, residual), grads

    return objective


def train(net: MLP, x: ArrayLike, w: ArrayLike, f: ArrayLike, *, steps: int, lr: float,
          optimizer: str = "adam", log_every: int = 20, progress: bool = False,
          desc: str = "training", batch_size: int | None = None,
          rng: np.random.Generator | None = None, momentum: float = 0.0) -> training.Trajectory:
    """Training of ``net`` on ``L = sum_i w_i ||u(x_i) - f(x_i)||^2``.

    ``optimizer`` is ``"adam"`` (full batch; b1 0.9, b2 0.999, eps 1e-8), ``"gd"`` (full
    batch, ``theta <- theta - lr grad L``) or ``"sgd"``: minibatch stochastic gradient descent
    with heavy-ball momentum, ``v <- momentum v + g_B``, ``theta <- theta - lr v`` (the update
    of ``torch.optim.SGD``; ``momentum=0`` is plain SGD), the standard training the paper
    observes the staircase under (arXiv:2412.05144, abstract). At every SGD step each run
    draws ``batch_size`` of the ``N`` sample points uniformly without replacement from ``rng``
    (a :class:`numpy.random.Generator`, required for ``"sgd"``), and ``g_B`` is the gradient of
    the unbiased estimate ``L_B = (N / B) sum_{i in batch} w_i ||u(x_i) - f(x_i)||^2``
    (``E L_B = L``). The recorded loss is always the full ``L``. Every run in the stack trains
    independently (the loss is separable across runs).

    Returns a :class:`theory.training.Trajectory`: ``losses`` ``(steps + 1, *runs)`` before
    every update and after the last one; ``steps`` the snapshot steps
    ``0, log_every, ..., steps``; ``snapshots`` an :class:`MLP` whose arrays carry a leading
    time axis; ``final`` the network after the last step. Raises
    :class:`~theory.errors.DivergenceError` naming the step, the run and the loss as soon as
    a loss is non-finite or has grown ``GROWTH_BOUND``-fold.
    """
    net, x_arr, w_arr, f_arr = _check_problem(net, x, w, f)
    steps = as_int("steps", steps, minimum=0)
    lr = as_float("lr", lr, minimum=0.0, strict_minimum=True)
    optimizer = as_choice("optimizer", optimizer, {"adam", "gd", "sgd"})
    log_every = as_int("log_every", log_every, minimum=1)
    if steps % log_every:
        raise ValueError(f"steps ({steps}) must be a multiple of log_every ({log_every})")
    if not isinstance(desc, str):
        raise TypeError(f"desc must be a string, got {desc!r}")
    draw: Callable[[], np.ndarray] | None = None
    if optimizer == "sgd":
        if batch_size is None or rng is None:
            raise ValueError("optimizer 'sgd' needs batch_size and rng")
        size = as_int("batch_size", batch_size, minimum=1, maximum=x_arr.shape[0])
        draw = partial(_minibatch_weights, as_generator("rng", rng), w_arr, net.batch_shape, size)
        update = make_optimizer("momentum", lr=lr, momentum=momentum)
    elif batch_size is not None or rng is not None or momentum != 0.0:
        raise ValueError("batch_size, rng and momentum apply to optimizer 'sgd' only, not "
                         f"{optimizer!r}")
    else:
        update = make_optimizer(optimizer, lr=lr)
    snapshots, snap_steps, losses, converged, final = training.run(
        _objective(net, x_arr, w_arr, f_arr, draw), net.params(), update, steps=steps,
        log_every=log_every, snapshot=net.with_params, progress=progress, desc=desc)
    return training.Trajectory(_stack_snapshots(snapshots), snap_steps, losses, converged,
                               net.with_params(final))
