"""Progressive class separation across the layers (Yaras et al., arXiv:2306.01154, abstract
claim 3 and the official code's ``fig_collapse`` experiments).

Data: ``K`` classes of ``n`` samples, ``X`` an ``N x N`` Haar-orthogonal matrix (``N = K n``,
columns are samples) and one-hot targets. The separation of the features ``h_l`` of layer
``l`` is the official code's metric

    D_l = tr Sigma_W / tr Sigma_B,
    Sigma_W = 1/N sum_i (h_i - mu_{y_i})(h_i - mu_{y_i})^T,
    Sigma_B = 1/K sum_k (mu_k - mu_G)(mu_k - mu_G)^T,

with ``D_0 = (1 - 1/n) / (1/n - 1/N)`` for orthonormal inputs. For a trained deep linear
network from ``W_l(0) = eps O_l`` we predict (**[ours]**, docs/01_law_of_parsimony.md) a
constant per-layer factor ``D_{l+1} / D_l = eps^2 n^{-1/L}``. The ReLU networks of the same
figures, ``h_l = max(W_l h_{l-1}, 0)`` with a linear output layer, are here too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import ortho_group

from . import training
from ._validate import as_choice, as_float, as_float_array, as_generator, as_int
from .deep_linear import Network, Trajectory, _pack, as_layers, trajectory
from .optimizers import make_optimizer

__all__ = [
    "classification_data",
    "feature_separation",
    "separation_d0",
    "predicted_separation_ratio",
    "relu_features",
    "relu_loss_and_gradients",
    "train_relu",
]


def classification_data(n_classes: int, per_class: int,
                        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The paper's class-separation data: ``X`` an ``N x N`` Haar-orthogonal matrix
    (``scipy.stats.ortho_group``; columns = samples, ``N = K n``), one-hot ``Y`` (``K x N``)
    and integer labels (``n`` samples per class, in blocks)."""
    K = as_int("n_classes", n_classes, minimum=2)
    n = as_int("per_class", per_class, minimum=1)
    rng = as_generator("rng", rng)
    N = K * n
    labels = np.repeat(np.arange(K), n)
    X = np.asarray(ortho_group.rvs(N, random_state=rng))
    Y = np.zeros((K, N))
    Y[labels, np.arange(N)] = 1.0
    return X, Y, labels


def _class_scatter(H: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """``tr Sigma_W`` and ``tr Sigma_B`` of features ``H`` (features x samples)."""
    classes = np.unique(labels)
    means = np.stack([H[:, labels == k].mean(axis=1) for k in classes], axis=1)
    centred = H - means[:, np.searchsorted(classes, labels)]
    within = float(np.sum(centred * centred)) / H.shape[1]
    spread = means - H.mean(axis=1, keepdims=True)
    between = float(np.sum(spread * spread)) / classes.size
    return within, between


def feature_separation(weights: ArrayLike | Sequence[ArrayLike], inputs: ArrayLike,
                       labels: ArrayLike, *, activation: str = "linear") -> np.ndarray:
    """``D_l = tr Sigma_W / tr Sigma_B`` of the features ``h_l = W_{l:1} X``, ``l = 0 .. L-1``
    (the official code's metric, see the module docstring; the final output is not
    included). ``activation="relu"``: the features ``h_l = max(W_l h_{l-1}, 0)`` of the ReLU
    network (:func:`relu_features`)."""
    activation = as_choice("activation", activation, {"linear", "relu"})
    layers = as_layers("weights", weights)
    X = as_float_array("inputs", inputs, ndim=2)
    if X.shape[0] != layers[0].shape[1]:
        raise ValueError(f"inputs must have {layers[0].shape[1]} rows, got {X.shape}")
    classes = np.asarray(labels)
    if classes.ndim != 1 or classes.shape[0] != X.shape[1] or classes.dtype.kind not in "iu":
        raise ValueError("labels must be a 1-D integer array with one label per column of inputs")
    if np.unique(classes).size < 2:
        raise ValueError("labels must contain at least two classes")
    out = []
    H = X
    for l in range(len(layers)):
        within, between = _class_scatter(H, classes)
        out.append(within / between)
        H = layers[l] @ H
        if activation == "relu":
            H = np.maximum(H, 0.0)
    return np.asarray(out)


def separation_d0(per_class: int, n_samples: int) -> float:
    """``D_0 = (1 - 1/n) / (1/n - 1/N)`` for orthonormal inputs, ``n`` samples per class."""
    n = as_int("per_class", per_class, minimum=1)
    N = as_int("n_samples", n_samples, minimum=1)
    if N <= n:
        raise ValueError("n_samples must exceed per_class (at least two classes)")
    return (1 - 1 / n) / (1 / n - 1 / N)


def predicted_separation_ratio(eps: float, per_class: int, depth: int) -> float:
    """Per-layer factor of ``D_l`` predicted here (**[ours]**): ``eps^2 n^{-1/L}``."""
    eps = as_float("eps", eps, minimum=0.0, strict_minimum=True)
    n = as_int("per_class", per_class, minimum=1)
    L = as_int("depth", depth, minimum=1)
    return float(eps**2 * n ** (-1.0 / L))


# ---------------------------------------------------------------------------------------------
# ReLU networks (the ReLU panels of the official code's collapse figures)
# ---------------------------------------------------------------------------------------------

def _features(layers: Sequence[np.ndarray], X: np.ndarray) -> list[np.ndarray]:
    H = [X]
    for W in layers[:-1]:
        H.append(np.maximum(W @ H[-1], 0.0))
    return H


def relu_features(weights: ArrayLike | Sequence[ArrayLike],
                  inputs: ArrayLike) -> list[np.ndarray]:
    """Hidden features of the ReLU network ``f(X) = W_L s(W_{L-1} ... s(W_1 X))``,
    ``s(z) = max(z, 0)``: ``[X, h_1, ..., h_{L-1}]`` with ``h_l = s(W_l h_{l-1})`` (the output
    layer is linear and not included)."""
    layers = as_layers("weights", weights)
    X = as_float_array("inputs", inputs, ndim=2)
    if X.shape[0] != layers[0].shape[1]:
        raise ValueError(f"inputs must have {layers[0].shape[1]} rows, got {X.shape}")
    return _features(layers, X)


def _relu_pass(layers: Sequence[np.ndarray], Y: np.ndarray,
               X: np.ndarray) -> tuple[float, list[np.ndarray]]:
    """Loss and layer gradients by backpropagation (unvalidated; see
    :func:`relu_loss_and_gradients`)."""
    H = _features(layers, X)
    out = layers[-1] @ H[-1]
    if Y.shape != out.shape:
        raise ValueError(f"target must have shape {out.shape}, got {Y.shape}")
    delta = out - Y
    value = 0.5 * float(np.vdot(delta, delta))
    grads: list[Any] = [None] * len(layers)
    for l in range(len(layers) - 1, -1, -1):
        grads[l] = delta @ H[l].T
        if l:
            delta = (layers[l].T @ delta) * (H[l] > 0)
    return value, grads


def relu_loss_and_gradients(weights: ArrayLike | Sequence[ArrayLike], target: ArrayLike,
                            inputs: ArrayLike) -> tuple[float, Network]:
    """Sum loss ``1/2 ||f(X) - Y||_F^2`` of the ReLU network of :func:`relu_features` and its
    layer gradients (backpropagation: ``delta_L = f(X) - Y``, ``G_l = delta_l h_{l-1}^T``,
    ``delta_{l-1} = (W_l^T delta_l) o 1[W_{l-1} h_{l-2} > 0]``). Returns ``(loss, grads)``."""
    layers = as_layers("weights", weights)
    X = as_float_array("inputs", inputs, ndim=2)
    if X.shape[0] != layers[0].shape[1]:
        raise ValueError(f"inputs must have {layers[0].shape[1]} rows, got {X.shape}")
    Y = as_float_array("target", target, ndim=2)
    value, grads = _relu_pass(layers, Y, X)
    return value, _pack(grads)


def train_relu(weights0: ArrayLike | Sequence[ArrayLike], target: ArrayLike, inputs: ArrayLike,
               *, lr: float, steps: int, tol: float | None = None,
               log_every: int | None = None) -> Trajectory:
    """Full-batch GD on the ReLU network's sum loss (:func:`relu_loss_and_gradients`) by
    :func:`theory.training.run`; stops after ``steps`` updates or once the loss is below
    ``tol``. Snapshots every ``log_every`` steps (default: the first and last iterate only)."""
    layers = as_layers("weights0", weights0)
    X = as_float_array("inputs", inputs, ndim=2)
    if X.shape[0] != layers[0].shape[1]:
        raise ValueError(f"inputs must have {layers[0].shape[1]} rows, got {X.shape}")
    Y = as_float_array("target", target, ndim=2)
    if Y.shape != (layers[-1].shape[0], X.shape[1]):
        raise ValueError(f"target must have shape {(layers[-1].shape[0], X.shape[1])}, got "
                         f"{Y.shape}")
    opt = make_optimizer("gd", lr=lr)
    steps = as_int("steps", steps, minimum=0)
    every = max(steps, 1) if log_every is None else log_every
    run = training.run(lambda ps: _relu_pass(ps, Y, X), layers, opt, steps=steps,
                       log_every=every, tol=tol, desc=f"relu x{len(layers)}")
    return trajectory(*run[:4])
