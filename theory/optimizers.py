"""Gradient descent, heavy-ball momentum and Adam, written once for every trainer.

Parameters are a list of arrays (a stack of equal-shaped layers may be passed as one array in
a one-element list). Each optimizer is a small immutable object: ``init(params)`` gives its
state, ``update(params, grads, state)`` returns ``(new_params, new_state)`` without touching
its inputs. ``lr_scale`` multiplies the learning rate parameter by parameter (the outer
factors of the compressed network train at ``gamma * lr``, Yaras et al. arXiv:2306.01154,
section 3.3).

* GD: ``theta <- theta - lr g``.
* Heavy ball (the convention of ``torch.optim.SGD`` and optax): ``b <- mu b + g``,
  ``theta <- theta - lr b``.
* Adam (Kingma & Ba 2015, Algorithm 1): ``m <- b1 m + (1 - b1) g``,
  ``v <- b2 v + (1 - b2) g^2``,
  ``theta <- theta - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ._validate import as_choice, as_float, as_float_array

__all__ = ["Optimizer", "GD", "Momentum", "Adam", "AdamState", "make_optimizer"]

Params = list[np.ndarray]


def _rates(lr: float, lr_scale: tuple[float, ...] | None, n: int) -> list[float]:
    if lr_scale is None:
        return [lr] * n
    if len(lr_scale) != n:
        raise ValueError(f"lr_scale holds {len(lr_scale)} numbers for {n} parameters")
    return [lr * s for s in lr_scale]


def _check_pairs(params: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> None:
    if len(params) != len(grads):
        raise ValueError(f"grads has {len(grads)} arrays for {len(params)} parameters")
    for i, (p, g) in enumerate(zip(params, grads)):
        if np.shape(p) != np.shape(g):
            raise ValueError(f"grads[{i}] has shape {np.shape(g)}, params[{i}] {np.shape(p)}")


def _lr_scale(value: object) -> tuple[float, ...] | None:
    if value is None:
        return None
    scales = as_float_array("lr_scale", value, ndim=1)
    if np.any(scales < 0) or not np.all(np.isfinite(scales)):
        raise ValueError("lr_scale must hold finite non-negative numbers")
    return tuple(float(s) for s in scales)


@dataclass(frozen=True)
class GD:
    """Plain gradient descent ``theta <- theta - lr g``."""

    lr: float
    lr_scale: tuple[float, ...] | None = None
    name: str = field(default="gd", init=False)

    def init(self, params: Sequence[np.ndarray]) -> None:
        return None

    def update(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray],
               state: None = None) -> tuple[Params, None]:
        _check_pairs(params, grads)
        rates = _rates(self.lr, self.lr_scale, len(params))
        return [p - r * g for p, g, r in zip(params, grads, rates)], None


@dataclass(frozen=True)
class Momentum:
    """Heavy-ball momentum: ``b <- mu b + g``, ``theta <- theta - lr b`` (state: ``b``)."""

    lr: float
    momentum: float = 0.9
    lr_scale: tuple[float, ...] | None = None
    name: str = field(default="momentum", init=False)

    def init(self, params: Sequence[np.ndarray]) -> Params:
        return [np.zeros_like(p) for p in params]

    def update(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray],
               state: Sequence[np.ndarray]) -> tuple[Params, Params]:
        _check_pairs(params, grads)
        _check_pairs(params, state)
        rates = _rates(self.lr, self.lr_scale, len(params))
        velocity = [self.momentum * b + g for b, g in zip(state, grads)]
        return [p - r * b for p, b, r in zip(params, velocity, rates)], velocity


@dataclass(frozen=True)
class AdamState:
    """First and second moment estimates and the number ``t`` of steps taken."""

    m: tuple[np.ndarray, ...]
    v: tuple[np.ndarray, ...]
    t: int = 0


@dataclass(frozen=True)
class Adam:
    """Bias-corrected Adam (Kingma & Ba 2015, Algorithm 1)."""

    lr: float
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    lr_scale: tuple[float, ...] | None = None
    name: str = field(default="adam", init=False)

    def init(self, params: Sequence[np.ndarray]) -> AdamState:
        zeros = tuple(np.zeros_like(p) for p in params)
        return AdamState(zeros, tuple(np.zeros_like(p) for p in params), 0)

    def update(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray],
               state: AdamState) -> tuple[Params, AdamState]:
        _check_pairs(params, grads)
        if not isinstance(state, AdamState):
            raise TypeError(f"state must be an AdamState, got {type(state).__name__}")
        _check_pairs(params, state.m)
        b1, b2 = self.beta1, self.beta2
        t = state.t + 1
        m = tuple(b1 * mi + (1.0 - b1) * g for mi, g in zip(state.m, grads))
        v = tuple(b2 * vi + (1.0 - b2) * g * g for vi, g in zip(state.v, grads))
        c1, c2 = 1.0 - b1**t, 1.0 - b2**t
        rates = _rates(self.lr, self.lr_scale, len(params))
        new = [p - r * (mi / c1) / (np.sqrt(vi / c2) + self.eps)
               for p, mi, vi, r in zip(params, m, v, rates)]
        return new, AdamState(m, v, t)


Optimizer = GD | Momentum | Adam


def make_optimizer(optimizer: str, *, lr: float, momentum: float = 0.9,
                   betas: Sequence[float] = (0.9, 0.999), adam_eps: float = 1e-8,
                   lr_scale: object = None) -> Optimizer:
    """The optimizer named ``optimizer`` (``"gd"``, ``"momentum"``, ``"adam"``), its settings
    validated."""
    name = as_choice("optimizer", optimizer, {"gd", "momentum", "adam"})
    lr = as_float("lr", lr, minimum=0.0, strict_minimum=True)
    scale = _lr_scale(lr_scale)
    if name == "gd":
        return GD(lr, scale)
    if name == "momentum":
        mu = as_float("momentum", momentum, minimum=0.0, maximum=1.0)
        if mu >= 1.0:
            raise ValueError(f"momentum must be < 1, got {mu}")
        return Momentum(lr, mu, scale)
    if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
        raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    b1, b2 = (as_float("betas", b, minimum=0.0, maximum=1.0) for b in betas)
    if b1 >= 1.0 or b2 >= 1.0:
        raise ValueError("betas must both be < 1")
    eps = as_float("adam_eps", adam_eps, minimum=0.0, strict_minimum=True)
    return Adam(lr, b1, b2, eps, scale)
