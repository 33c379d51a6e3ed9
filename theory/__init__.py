"""theory: re-derive and re-run the central claims of five deep-learning-theory papers.

The package is the tested core under the notebooks in ``notebooks/``:

* :mod:`theory.linalg`  vectorized SVD core (singular values, principal angles, epsilon-rank);
* :mod:`theory.claims`  the claims ledger every notebook ends with;
* :mod:`theory.config`  quick/full sizes (``THEORY_FULL=1``) and output folders;
* :mod:`theory.plotting` one matplotlib style;
* :mod:`theory.symbolic` sympy derivations: shared helpers and one module per paper;
* :mod:`theory.errors`  the one ``DivergenceError`` every trainer raises;
* one simulation module per paper, imported on demand: :mod:`theory.deep_linear` (01),
  :mod:`theory.two_layer` (02), :mod:`theory.relu_flow` (03), :mod:`theory.critical_sets` (04),
  :mod:`theory.effective_rank` (05); notebook 02 also uses :mod:`theory.two_layer_predictions`
  and :mod:`theory.giant_step`;
* :mod:`theory.activations`, :mod:`theory.optimizers`, :mod:`theory.training`,
  :mod:`theory.fitting` the shared layer; :mod:`theory.fast` speed paths beside the plain
  functions they speed up;
* :mod:`theory.cli` and :mod:`theory.book`  ``python -m theory verify | refresh | site | readme``.
"""

from importlib import metadata as _metadata

from . import claims, config, linalg
from .claims import Ledger
from .linalg import (epsilon_rank, principal_angles, singular_values, subspace_distance,
                     top_subspace)

try:
    __version__ = _metadata.version("theory")
except _metadata.PackageNotFoundError:   # imported from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["Ledger", "claims", "config", "linalg", "epsilon_rank", "principal_angles",
           "singular_values", "subspace_distance", "top_subspace", "__version__"]
