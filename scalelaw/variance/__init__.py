"""Bias-variance decomposition across seeds: which source of randomness carries the variance.

* :func:`crossed_components`: the symmetric (ANOVA) split of the prediction
  variance into data, init and label-noise effects and their interactions
  from a fully crossed design, unbiased for finite seeds, with the
  design-corrected bias squared.
* :func:`nested_components`: the sequential split of a nested design with
  the finite-seed correction.
* :func:`mse_decomposition`, :func:`ce_decomposition`: per-example
  decompositions over independently trained models with the ``N/(N-1)``
  correction.
* :func:`decompose_table`: the same from a long table of per-example
  predictions (one row per run and test example), per model size.
* :func:`variance_peak`: where the variance peaks across sizes (with a
  bootstrap interval over the crossed draws), whether it falls after the
  peak, and which component carries it.

Examples
--------
>>> import numpy as np
>>> from scalelaw.variance import crossed_components
>>> y = np.random.default_rng(0).normal(size=(3, 3, 2, 5))
>>> round(sum(crossed_components(y).components.values()), 6) == round(
...     crossed_components(y).total, 6)
True
"""

from scalelaw.variance._anova import VarianceComponents, crossed_components, nested_components
from scalelaw.variance._peak import VariancePeak, variance_peak
from scalelaw.variance._predictions import (
    PredictionDecomposition,
    ce_decomposition,
    mse_decomposition,
)
from scalelaw.variance._table import VarianceResult, decompose_table

__all__ = [
    "PredictionDecomposition",
    "VarianceComponents",
    "VariancePeak",
    "VarianceResult",
    "ce_decomposition",
    "crossed_components",
    "decompose_table",
    "mse_decomposition",
    "nested_components",
    "variance_peak",
]
