"""epsilon-rank of the last hidden layer and the staircase of the loss (notebook 05).

After J. Yang, Y. Zhao, Q. Zhu, "epsilon-rank and the Staircase Phenomenon: New Insights into
Neural Network Training Dynamics" (arXiv:2412.05144; v1/v2 titled "Effective Rank and the
Staircase Phenomenon ..."). Only the paper's abstract and introduction were available; what is
the paper's and what is our reconstruction is marked in each docstring.

Setting (paper, abstract and introduction): a fully connected network
``u(x) = sum_j a_j phi_j(x) + c`` whose last-hidden-layer neurons ``phi_j`` are basis functions
of the input; their Gram matrix ``M_ij = int_Omega phi_i phi_j dx`` (by Gauss-Legendre
quadrature, our convention) and its epsilon-rank ``#{k: lambda_k(M) > eps}``.

Every parameter array carries leading "run" axes, so several seeds train in one batched numpy
call per step, and a diagnostic over a whole trajectory (time x runs) is one batched call.

Modules, each re-exported here:

* :mod:`.network`: targets, the :class:`MLP`, :func:`xavier_init`,
  :func:`structured_first_layer` (our stand-in for the paper's first-layer pre-training),
  :func:`hidden_features`, :func:`loss_and_gradient` (backpropagation) and :func:`train`
  (full-batch Adam or GD, minibatch SGD with momentum, on :func:`theory.training.run`);
* :mod:`.gram`: :func:`gauss_legendre_grid`, :func:`gram_matrix`, the epsilon-ranks;
* :mod:`.curves`: plateaus, drops, rank gains over windows, the layer order;
* :mod:`.bounds`: the two lower bounds (ours) and the frozen-feature time scale of epsilon.
"""

from __future__ import annotations

from ..errors import DivergenceError
from .bounds import frozen_feature_gd, lower_bound_a, lower_bound_b, tail_energy
from .curves import (find_drop, find_plateau, find_plateaus, layer_order_share, steps_to_reach,
                     tie_averaged_spearman, window_rank_gains)
from .gram import (epsilon_rank_trajectory, gauss_legendre_grid, gram_matrix,
                   layer_epsilon_ranks, relative_epsilon_rank, with_constant_column)
from .network import (MLP, hidden_features, loss_and_gradient, network_output, select_run,
                      sine_targets, stack_snapshots, staircase_target, structured_first_layer,
                      train, xavier_init)

__all__ = [
    "DivergenceError", "MLP", "stack_snapshots", "select_run",
    "gauss_legendre_grid", "staircase_target", "sine_targets",
    "xavier_init", "structured_first_layer", "hidden_features", "network_output",
    "loss_and_gradient", "train",
    "gram_matrix", "with_constant_column", "epsilon_rank_trajectory", "relative_epsilon_rank",
    "layer_epsilon_ranks",
    "find_plateau", "find_plateaus", "find_drop", "tie_averaged_spearman", "steps_to_reach",
    "window_rank_gains", "layer_order_share",
    "lower_bound_a", "lower_bound_b", "tail_energy",
    "frozen_feature_gd",
]
