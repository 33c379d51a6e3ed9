"""Critical sets of two-layer networks: embedding and reduction operators, saddle branches.

Reproduction of the claims of L. Zhang, Y. Zhang, T. Luo, *Geometry of Critical Sets and
Existence of Saddle Branches for Two-layer Neural Networks*, arXiv:2405.17501 (ZZL24). Only the
abstract and introduction of ZZL24 could be read; the model, the operators and the Hessian
criterion below are our reconstruction, written out in the method note ``docs/04_critical_sets.md``,
from the follow-up arXiv:2505.13582 (ZZL25), the embedding-principle papers (EP21, EP22) and
Fukumizu & Amari (2000, FA00).

Model (ZZL25 sec. 3; docs/04_critical_sets.md, "Setting")::

    f(theta, x) = sum_k a_k sigma(w_k . x),      theta = (a_1..a_m, w_1..w_m),
    R(theta)    = 1/2 sum_i (f(theta, x_i) - y_i)^2,   e_i = f(theta, x_i) - y_i.

Operators (EP21, EP22; two-layer forms ours, docs/04_critical_sets.md, "Operators"): the
split ``T_lam`` of neuron ``k`` into ``(lam a_k, w_k)`` and ``((1 - lam) a_k, w_k)``, its
sign-flipped twin for odd sigma, the null neuron ``(0, w')``, and the reduction that undoes them.

Hessian criterion (FA00 Thm 3; derived here, docs/04_critical_sets.md, "Saddle branches"):
``B_k = a_k sum_i e_i sigma''(w_k . x_i) x_i x_i^T`` and, for ``v = ((1 - lam) delta, -lam delta)``
on the input weights of the two copies, ``v^T H v = lam (1 - lam) delta^T B_k delta``; at a critical
point ``inertia(H_wide) = inertia(H_narrow) + (0, 1, 0) + inertia(lam (1 - lam) B_k)``.

The package is split by job; everything is re-exported here, so ``theory.critical_sets.f`` is
the name to use:

* :mod:`theory.critical_sets.model` -- parameter layout, network, loss, gradient, Hessian;
* :mod:`theory.critical_sets.operators` -- embedding and reduction operators, symmetry images,
  distance from the predicted critical set;
* :mod:`theory.critical_sets.critical_points` -- critical-point searches, the Hessian criterion,
  null neurons, branch scans, gradient flow.

Activations come from :mod:`theory.activations` (``"tanh"``, ``"sigmoid"``, ``"swish"``, or an
analytic :class:`~theory.activations.Activation`); ReLU is refused.
"""

from __future__ import annotations

from ..errors import DivergenceError
from .critical_points import (BranchScan, CriticalPoint, FlowResult, RootSearch, branch_scan,
                              fa_matrix, find_critical_points, gradient_flow, inertia,
                              newton_polish, null_function, null_function_roots,
                              predicted_split_inertia, search_critical_points)
from .model import (forward, gradient, hessian, loss, loss_and_gradient, neuron_indices, pack,
                    residuals, unpack, width_of, with_bias)
from .operators import (flip_split_neuron, null_embed, reduce_network, split_direction,
                        split_line_residual, split_neuron, width2_critical_set_distance)

__all__ = [
    "DivergenceError",
    "pack", "unpack", "width_of", "with_bias", "neuron_indices",
    "forward", "residuals", "loss", "gradient", "hessian", "loss_and_gradient",
    "CriticalPoint", "newton_polish", "find_critical_points",
    "split_neuron", "flip_split_neuron", "null_embed", "reduce_network",
    "split_direction", "fa_matrix", "inertia", "predicted_split_inertia",
    "null_function", "null_function_roots",
    "BranchScan", "branch_scan", "split_line_residual",
    "FlowResult", "gradient_flow",
    "RootSearch", "search_critical_points", "width2_critical_set_distance",
]
