"""theory: re-derive and re-run the central claims of five deep-learning-theory papers.

The package is the tested core under the notebooks in ``notebooks/``:

* :mod:`theory.linalg`  vectorized SVD core (singular values, principal angles, epsilon-rank);
* :mod:`theory.claims`  the claims ledger every notebook ends with;
* :mod:`theory.config`  quick/full sizes (``THEORY_FULL=1``) and output folders;
* :mod:`theory.plotting` one matplotlib style;
* :mod:`theory.symbolic` sympy derivations: shared helpers and one module per paper;
* :mod:`theory.errors`  the one ``DivergenceError`` every trainer raises;
* one simulation module per paper, imported on demand: :mod:`theory.deep_linear` (01),
  :mod:`theory.two_layer` (02), :mod:`theory.relu_flow` (03; with :mod:`theory.relu_thresholds`
  and :mod:`theory.relu_training`), :mod:`theory.critical_sets` (04),
  :mod:`theory.effective_rank` (05);
* notebook 01's model beside :mod:`theory.deep_linear`: :mod:`theory.compression` (law of
  parsimony, compressed network), :mod:`theory.matrix_completion`, :mod:`theory.separation`;
  notebook 02's: :mod:`theory.two_layer_predictions` and :mod:`theory.giant_step`;
* :mod:`theory.activations`, :mod:`theory.optimizers`, :mod:`theory.training`,
  :mod:`theory.fitting` the shared layer; :mod:`theory.fast` speed paths, each beside the plain
  function it speeds up;
* :mod:`theory.cli`, :mod:`theory.sweep`, :mod:`theory.records`, :mod:`theory.book` and
  :mod:`theory.slides`  ``python -m theory verify | refresh | sweep | site | slides | readme``.
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
