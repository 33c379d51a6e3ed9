"""A ReLU network as a chain of truncations in input space (T. Chen, arXiv:2501.07400).

Only the abstract and the opening of Sec. 1 of the paper could be read. The paper states
[abstract] that gradient descent on a Euclidean cost posed in the *input layer* of a ReLU
network, with weights adapted to the coordinate frame of the activations, is a flow of the
cumulative weights and biases that truncates clusters of training data at an exponential rate
that grows with the number of points already truncated, and that a cluster can be contracted
to one point (neural collapse, zero loss).  Every equation below is **our reconstruction** on
the truncation-map framework of Chen & Munoz Ewald (arXiv:2405.07098, eq. (1)); the setting,
the equations and what is reconstructed are written out in ``docs/03_dynamical_truncation.md``
(cited below as "docs Sec. N").

The reconstruction lives in three modules:

* this one: the network, its cumulative parameters, the truncation maps, the input-layer
  cost and its gradients, and the per-layer (bias) parametrisation (docs Secs. 2-5, 7);
* :mod:`theory.relu_thresholds`: the adapted (diagonal) case, the effective threshold flow
  (E1)/(E2), its exact solutions, its integration by ``solve_ivp``, the collapse metric
  (docs Secs. 4-6);
* :mod:`theory.relu_training`: gradient descent on the thresholds, on the per-layer biases
  and on the cumulative ``(W, beta)`` (docs Secs. 7-8), on :func:`theory.training.run`.

Network (all widths ``M``, every weight invertible)::

    x^(l) = relu(W_l x^(l-1) + b_l),  l = 1..L;        out = W_{L+1} x^(L) + b_{L+1}
    W^(l) = W_l ... W_1,  b^(l) = W_l b^(l-1) + b_l,   beta^(l) = (W^(l))^{-1} b^(l)
    tau_{W,beta}(x) = x - Pi_x (x + beta),  Pi_x = W^{-1} P_x W,  P_x = diag[W(x+beta) < 0]
    out = A^(L+1)(T(x)),  T = tau^(L) o ... o tau^(1)          (representation, docs Sec. 3)

The input-layer cost is ``C_in = (1/2N) sum_j |T(x_j) - ybar_j|^2`` with the labels pulled
back to the input layer, ``ybar = (A^(L+1))^{-1} y`` (docs Sec. 5).  The truncation convention
is strict: a point exactly on a threshold is *not* truncated (Heaviside ``H(0) = 0``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from . import _relu_validate as rv
from ._validate import as_float_array

__all__ = [
    "check_network", "forward", "cumulative_parameters", "cumulative_bias_sum",
    "truncation_pattern", "truncation_projector", "truncation_map", "truncate_chain",
    "representation", "pullback_targets", "output_metric", "input_cost",
    "input_cost_gradients", "kink_margin", "diagonal_depth_map", "bias_jacobian",
    "bias_metric", "network_bias_cost", "network_bias_gradient", "induced_thresholds",
]

Network = tuple[list[np.ndarray], list[np.ndarray]]


# ---------------------------------------------------------------------------------------
# network and cumulative parameters (docs Sec. 2)
# ---------------------------------------------------------------------------------------
def check_network(weights: Sequence[ArrayLike], biases: Sequence[ArrayLike]) -> Network:
    """Validate a network given as lists of ``L+1`` square invertible weights and biases.

    Returns float copies.  Raises ``ValueError`` naming ``weights[l]``/``biases[l]`` for a
    non-square, singular, non-finite or mis-sized entry, or for lists of different lengths.
    """
    if not isinstance(weights, (list, tuple)) or len(weights) < 1:
        raise ValueError("weights must be a non-empty list of square matrices")
    if not isinstance(biases, (list, tuple)) or len(biases) != len(weights):
        raise ValueError(f"biases must be a list of the same length as weights ({len(weights)})")
    Ws = [rv.square_invertible(f"weights[{l}]", W) for l, W in enumerate(weights)]
    M = Ws[0].shape[0]
    for l, W in enumerate(Ws):
        if W.shape != (M, M):
            raise ValueError(f"weights[{l}] must have shape {(M, M)} (equal widths), got {W.shape}")
    bs = [as_float_array(f"biases[{l}]", b, ndim=1) for l, b in enumerate(biases)]
    for l, b in enumerate(bs):
        if b.shape != (M,):
            raise ValueError(f"biases[{l}] must have shape {(M,)}, got {b.shape}")
    return Ws, bs


def forward(weights: Sequence[ArrayLike], biases: Sequence[ArrayLike],
            X: ArrayLike) -> np.ndarray:
    """Network output ``W_{L+1} x^(L) + b_{L+1}`` with ``x^(l) = relu(W_l x^(l-1) + b_l)``.

    ``weights``/``biases``: lists of ``L+1`` entries (the last is the affine output layer);
    ``X``: data, shape ``(N, M)``.  Returns shape ``(N, M)``.
    """
    Ws, bs = check_network(weights, biases)
    h = rv.points("X", X, Ws[0].shape[0])
    for W, b in zip(Ws[:-1], bs[:-1]):
        h = np.maximum(h @ W.T + b, 0.0)
    return h @ Ws[-1].T + bs[-1]


def _cumulative(Ws: Sequence[np.ndarray],
                bs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`cumulative_parameters` without validation."""
    Wc_list, bc_list = [Ws[0]], [bs[0]]
    for W, b in zip(Ws[1:], bs[1:]):
        Wc_list.append(W @ Wc_list[-1])
        bc_list.append(W @ bc_list[-1] + b)
    Wc, bc = np.stack(Wc_list), np.stack(bc_list)
    beta = np.linalg.solve(Wc, bc[..., None])[..., 0]
    return Wc, bc, beta


def cumulative_parameters(weights: Sequence[ArrayLike], biases: Sequence[ArrayLike]
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative ``W^(l) = W_l...W_1``, ``b^(l) = W_l b^(l-1) + b_l`` and ``beta^(l)``.

    ``beta^(l) = (W^(l))^{-1} b^(l)`` so that ``A^(l)(x) = W^(l)(x + beta^(l))`` (docs Sec. 2).
    Returns ``(Wc, bc, beta)`` with shapes ``(L+1, M, M)``, ``(L+1, M)``, ``(L+1, M)``.
    """
    return _cumulative(*check_network(weights, biases))


def cumulative_bias_sum(weights: Sequence[ArrayLike], biases: Sequence[ArrayLike]) -> np.ndarray:
    """``beta^(l) = sum_{k<=l} (W^(k))^{-1} b_k`` (docs Sec. 2), computed as a sum; ``(L+1, M)``."""
    Ws, bs = check_network(weights, biases)
    Wc, _, _ = _cumulative(Ws, bs)
    terms = np.linalg.solve(Wc, np.stack(bs)[..., None])[..., 0]
    return np.cumsum(terms, axis=0)


# ---------------------------------------------------------------------------------------
# truncation maps and the representation identity (docs Sec. 3)
# ---------------------------------------------------------------------------------------
def _layer(W: ArrayLike, beta: ArrayLike, M: int) -> tuple[np.ndarray, np.ndarray]:
    W_arr = rv.square_invertible("W", W)
    beta_arr = as_float_array("beta", beta, ndim=1)
    if beta_arr.shape != (W_arr.shape[0],):
        raise ValueError(f"beta must have shape {(W_arr.shape[0],)}, got {beta_arr.shape}")
    if W_arr.shape[0] != M:
        raise ValueError(f"W must be {M} x {M} to act on the data, got {W_arr.shape}")
    return W_arr, beta_arr


def truncation_pattern(W: ArrayLike, beta: ArrayLike, X: ArrayLike) -> np.ndarray:
    """``P_x``: boolean ``(N, M)``, True where ``(W(x + beta))_i < 0`` (coordinate truncated)."""
    Xa = rv.points("X", X)
    Wa, b = _layer(W, beta, Xa.shape[1])
    return (Xa + b) @ Wa.T < 0


def truncation_projector(W: ArrayLike, beta: ArrayLike, X: ArrayLike) -> np.ndarray:
    """Oblique projectors ``Pi_x = W^{-1} P_x W`` for every row of ``X``; shape ``(N, M, M)``.

    ``Pi_x`` is idempotent and ``tau(x) = x - Pi_x (x + beta)`` on each activation region
    (docs Sec. 3); ``d tau / d beta = -Pi_x``.
    """
    Xa = rv.points("X", X)
    Wa, b = _layer(W, beta, Xa.shape[1])
    P = truncation_pattern(Wa, b, Xa).astype(float)
    return np.linalg.solve(Wa, P[:, :, None] * Wa[None])


def _truncate(W: np.ndarray, beta: np.ndarray, X: np.ndarray) -> np.ndarray:
    pre = (X + beta) @ W.T
    return np.linalg.solve(W, (np.maximum(pre, 0.0)).T).T - beta


def truncation_map(W: ArrayLike, beta: ArrayLike, X: ArrayLike) -> np.ndarray:
    """``tau_{W,beta}(x) = W^{-1}(relu(W(x+beta)) - W beta)``.

    arXiv:2405.07098 eq. (1), with the inverse of an invertible ``W`` (docs Sec. 3).
    """
    Xa = rv.points("X", X)
    Wa, b = _layer(W, beta, Xa.shape[1])
    return _truncate(Wa, b, Xa)


def _chain_args(Wc: ArrayLike, betas: ArrayLike,
                X: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    Xa = rv.points("X", X)
    Wca = as_float_array("Wc", Wc, ndim=3)
    ba = as_float_array("betas", betas, ndim=2)
    M = Xa.shape[1]
    if Wca.shape[1:] != (M, M) or ba.shape != (Wca.shape[0], M):
        raise ValueError(f"Wc must have shape (L, {M}, {M}) and betas (L, {M}); got "
                         f"{Wca.shape} and {ba.shape}")
    for l in range(Wca.shape[0]):
        rv.square_invertible(f"Wc[{l}]", Wca[l])
    return Wca, ba, Xa


def truncate_chain(Wc: ArrayLike, betas: ArrayLike, X: ArrayLike) -> np.ndarray:
    """``T(x) = tau^(L) o ... o tau^(1)(x)`` for cumulative ``Wc`` (L, M, M), ``betas`` (L, M)."""
    Wca, ba, Z = _chain_args(Wc, betas, X)
    for W, beta in zip(Wca, ba):
        Z = _truncate(W, beta, Z)
    return Z


def representation(weights: Sequence[ArrayLike], biases: Sequence[ArrayLike],
                   X: ArrayLike) -> np.ndarray:
    """The network output written as ``A^(L+1)(T(x))``: truncations in input space, then one
    affine map with the cumulative output parameters (docs Sec. 3)."""
    Wc, _, beta = cumulative_parameters(weights, biases)
    Z = (truncate_chain(Wc[:-1], beta[:-1], X) if len(Wc) > 1
         else rv.points("X", X, Wc.shape[1]))
    return (Z + beta[-1]) @ Wc[-1].T


def pullback_targets(weights: Sequence[ArrayLike], biases: Sequence[ArrayLike],
                     Y: ArrayLike) -> np.ndarray:
    """Labels pulled back to the input layer: ``ybar = (A^(L+1))^{-1} y`` (docs Sec. 5)."""
    Wc, _, beta = cumulative_parameters(weights, biases)
    Ya = rv.points("Y", Y, Wc.shape[1])
    return np.linalg.solve(Wc[-1], Ya.T).T - beta[-1]


def output_metric(weights: Sequence[ArrayLike], biases: Sequence[ArrayLike]) -> np.ndarray:
    """``G = W^(L+1)^T W^(L+1)``: the standard cost is the input cost in this metric.

    See docs Sec. 5.
    """
    Wc, _, _ = cumulative_parameters(weights, biases)
    return Wc[-1].T @ Wc[-1]


# ---------------------------------------------------------------------------------------
# the input-layer cost and its gradients (docs Sec. 5)
# ---------------------------------------------------------------------------------------
def input_cost(Wc: ArrayLike, betas: ArrayLike, X: ArrayLike, Ybar: ArrayLike) -> float:
    """``C_in = (1/2N) sum_j |T(x_j) - ybar_j|^2`` for cumulative truncation parameters."""
    Wca, ba, Xa = _chain_args(Wc, betas, X)
    Yb = rv.targets("Ybar", Ybar, Xa)
    R = truncate_chain(Wca, ba, Xa) - Yb
    return 0.5 * float(np.sum(R * R)) / Xa.shape[0]


def input_cost_gradients(Wc: ArrayLike, betas: ArrayLike, X: ArrayLike,
                         Ybar: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of ``C_in`` in every cumulative ``W^(l)`` and ``beta^(l)`` (away from kinks).

    Per layer, with the adjoint ``g_j`` of ``z_j^(l)``, ``u_j = z_j^(l-1) + beta^(l)`` and
    ``a_j = W^{-T} g_j`` (docs Sec. 5, ``dPi = W^{-1}[P, dW W^{-1}] W``)::

        dC/dbeta = -sum_j Pi_j^T g_j,   dC/dW = -sum_j [P_j a_j u_j^T - a_j (Pi_j u_j)^T],
        g^(l-1) = (I - Pi)^T g^(l),     g^(L) = (T(x_j) - ybar_j) / N.

    Returns ``(grad_W, grad_beta)`` with the shapes of ``Wc`` and ``betas``.
    """
    Wca, ba, Xa = _chain_args(Wc, betas, X)
    Yb = rv.targets("Ybar", Ybar, Xa)
    N = Xa.shape[0]
    inputs, Z = [], Xa
    for W, beta in zip(Wca, ba):
        inputs.append(Z)
        Z = _truncate(W, beta, Z)
    g = (Z - Yb) / N
    grad_W, grad_beta = np.zeros_like(Wca), np.zeros_like(ba)
    for l in range(len(Wca) - 1, -1, -1):
        W, U = Wca[l], inputs[l] + ba[l]
        pre = U @ W.T
        P = (pre < 0).astype(float)
        PiU = np.linalg.solve(W, (P * pre).T).T            # rows Pi_j u_j
        A = np.linalg.solve(W.T, g.T).T                    # rows a_j = W^{-T} g_j
        PiTg = (P * A) @ W                                 # rows Pi_j^T g_j
        grad_beta[l] = -PiTg.sum(axis=0)
        grad_W[l] = -((P * A).T @ U - A.T @ PiU)
        g = g - PiTg
    return grad_W, grad_beta


def kink_margin(Wc: ArrayLike, betas: ArrayLike, X: ArrayLike) -> float:
    """Distance to the nearest kink: ``min |(W^(l)(z^(l-1) + beta^(l)))_i|`` over layers,
    points and coordinates.  Finite differences with steps well below it see one region."""
    Wca, ba, Z = _chain_args(Wc, betas, X)
    margin = np.inf
    for W, beta in zip(Wca, ba):
        margin = min(margin, float(np.abs((Z + beta) @ W.T).min()))
        Z = _truncate(W, beta, Z)
    return margin


# ---------------------------------------------------------------------------------------
# depth in the adapted case (docs Sec. 4)
# ---------------------------------------------------------------------------------------
def diagonal_depth_map(weights: Sequence[ArrayLike], biases: Sequence[ArrayLike],
                       X: ArrayLike) -> np.ndarray:
    """Network output of a ReLU net with positive diagonal hidden weights, written as

        out = A^(L+1)( max(x, max_l theta^(l)) ),   theta^(l) = -beta^(l)  (coordinate-wise),

    i.e. the ``L`` truncations collapse to one threshold per coordinate, the largest
    (docs Sec. 4).  The output layer may be any invertible matrix.  Raises ``ValueError``
    naming ``weights[l]`` if a hidden weight is not positive diagonal.
    """
    Ws, bs = check_network(weights, biases)
    for l, W in enumerate(Ws[:-1]):
        if np.any(W - np.diag(np.diag(W)) != 0) or np.any(np.diag(W) <= 0):
            raise ValueError(f"weights[{l}] must be a positive diagonal matrix")
    Xa = rv.points("X", X, Ws[0].shape[0])
    Wc, _, beta = _cumulative(Ws, bs)
    T = Xa if len(Ws) == 1 else np.maximum(Xa, (-beta[:-1]).max(axis=0))
    return (T + beta[-1]) @ Wc[-1].T


# ---------------------------------------------------------------------------------------
# per-layer parametrisation: the induced metric on the thresholds (docs Sec. 7)
# ---------------------------------------------------------------------------------------
def _hidden_weights(hidden_weights: Sequence[ArrayLike]) -> list[np.ndarray]:
    if not isinstance(hidden_weights, (list, tuple)) or not hidden_weights:
        raise ValueError("hidden_weights must be a non-empty list of square matrices")
    Ws = [rv.square_invertible(f"hidden_weights[{l}]", W) for l, W in enumerate(hidden_weights)]
    M = Ws[0].shape[0]
    if any(W.shape != (M, M) for W in Ws):
        raise ValueError("hidden_weights must all have the same square shape")
    return Ws


def bias_jacobian(hidden_weights: Sequence[ArrayLike]) -> np.ndarray:
    """``J = d(beta^(1..L)) / d(b_1..b_L)``: block ``(l, k) = (W^(k))^{-1}`` for ``k <= l``.

    ``hidden_weights``: list of the ``L`` hidden weights.  Returns ``(L M, L M)``.
    """
    Ws = _hidden_weights(hidden_weights)
    L, M = len(Ws), Ws[0].shape[0]
    Wc = [Ws[0]]
    for W in Ws[1:]:
        Wc.append(W @ Wc[-1])
    J = np.zeros((L * M, L * M))
    for l in range(L):
        for k in range(l + 1):
            J[l * M:(l + 1) * M, k * M:(k + 1) * M] = np.linalg.inv(Wc[k])
    return J


def bias_metric(hidden_weights: Sequence[ArrayLike]) -> np.ndarray:
    """``J J^T``, block ``(l, l') = sum_{k <= min(l, l')} (W^(k))^{-1}(W^(k))^{-T}`` (docs Sec. 7).

    Gradient flow on the per-layer biases induces ``theta' = -J J^T grad_theta C``; (E1) is
    the same flow only when ``J J^T = I``.
    """
    J = bias_jacobian(hidden_weights)
    return J @ J.T


def _bias_residuals(Ws: list[np.ndarray], bs: list[np.ndarray], X: np.ndarray,
                    Ybar: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Forward pass of :func:`network_bias_cost`: hidden pre-activations, the residuals
    ``T(x_j) - ybar_j`` and the cumulative output weight (no validation)."""
    Wc, _, beta = _cumulative(Ws, bs)
    pres, h = [], X
    for W, b in zip(Ws[:-1], bs[:-1]):
        pres.append(h @ W.T + b)
        h = np.maximum(pres[-1], 0.0)
    out = h @ Ws[-1].T + bs[-1]
    resid = np.linalg.solve(Wc[-1], out.T).T - beta[-1] - Ybar          # T(x_j) - ybar_j
    return pres, resid, Wc


def _bias_gradient(Ws: list[np.ndarray], pres: list[np.ndarray], resid: np.ndarray,
                   Wc: np.ndarray) -> np.ndarray:
    """Backward pass of :func:`network_bias_gradient` (no validation)."""
    N = resid.shape[0]
    delta = np.linalg.solve(Wc[-1].T, resid.T).T / N                   # dC/d out
    mean_resid = resid.sum(axis=0) / N
    grads = np.zeros((len(Ws) - 1, resid.shape[1]))
    for l in range(len(Ws) - 2, -1, -1):
        delta = (delta @ Ws[l + 1]) * (pres[l] > 0)
        # through the hidden layers, then through the pull-back's own bias beta^(L+1)
        grads[l] = delta.sum(axis=0) - np.linalg.solve(Wc[l].T, mean_resid)
    return grads


def _bias_data(weights: Sequence[ArrayLike], biases: Sequence[ArrayLike], X: ArrayLike,
               Ybar: ArrayLike) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray,
                                         np.ndarray]:
    Ws, bs = check_network(weights, biases)
    if len(Ws) < 2:
        raise ValueError("weights must hold at least one hidden layer and the output layer")
    Xa = rv.points("X", X, Ws[0].shape[0])
    return Ws, bs, Xa, rv.targets("Ybar", Ybar, Xa)


def network_bias_cost(weights: Sequence[ArrayLike], biases: Sequence[ArrayLike], X: ArrayLike,
                      Ybar: ArrayLike) -> float:
    """``C = (1/2N) sum_j |(A^(L+1))^{-1}(out_j) - ybar_j|^2``: ``C_in`` written through the
    network's forward pass (independent of the truncation formalism; docs Sec. 7)."""
    Ws, bs, Xa, Yb = _bias_data(weights, biases, X, Ybar)
    _, resid, _ = _bias_residuals(Ws, bs, Xa, Yb)
    return 0.5 * float(np.sum(resid * resid)) / Xa.shape[0]


def network_bias_gradient(weights: Sequence[ArrayLike], biases: Sequence[ArrayLike],
                          X: ArrayLike, Ybar: ArrayLike) -> np.ndarray:
    """Backpropagation through the ReLU network of :func:`network_bias_cost` in ``b_1..b_L``.

    ``ybar`` is held fixed.  The pull-back ``(A^(L+1))^{-1} = (W^(L+1))^{-1}(.) - beta^(L+1)``
    depends on every ``b_l`` through ``d beta^(L+1)/d b_l = (W^(l))^{-1}``; that term is
    included.  Returns ``(L, M)``.
    """
    Ws, bs, Xa, Yb = _bias_data(weights, biases, X, Ybar)
    pres, resid, Wc = _bias_residuals(Ws, bs, Xa, Yb)
    return _bias_gradient(Ws, pres, resid, Wc)


def induced_thresholds(hidden_weights: Sequence[ArrayLike], hidden_biases: ArrayLike
                       ) -> np.ndarray:
    """The thresholds ``theta^(l) = -beta^(l)`` that per-layer biases induce (docs Sec. 7).

    ``hidden_biases``: ``(L, M)``, or a stack ``(T, L, M)`` (e.g. the snapshots of
    :func:`theory.relu_training.gradient_descent_biases`); returns the same shape.
    """
    Ws = _hidden_weights(hidden_weights)
    L, M = len(Ws), Ws[0].shape[0]
    b = as_float_array("hidden_biases", hidden_biases, min_ndim=2)
    if b.ndim > 3 or b.shape[-2:] != (L, M):
        raise ValueError(f"hidden_biases must have shape ({L}, {M}) or (T, {L}, {M}), got "
                         f"{b.shape}")
    stack = b.reshape(-1, L, M)
    out = np.stack([-_cumulative(Ws, list(bt))[2] for bt in stack])
    return out.reshape(b.shape)
