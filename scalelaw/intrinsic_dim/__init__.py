"""Intrinsic dimension of data and of learned representations.

Two estimators of scikit-dimension, on nearest neighbours computed once with
scikit-learn and shared, and one linear reference:

* ``"twonn"``: TwoNN (Facco et al. 2017), the ratio of each point's second
  to first neighbour distance; skdim's fast path from precomputed distances
  (its default path sorts full distance rows above 25 features: 20-30 s for
  10,000 points in R^100 instead of 2 s).
* ``"mle"``: Levina & Bickel (2005) maximum likelihood on ``k`` neighbours
  (default 20; Sharma & Kaplan used 100), combined over points as
  ``1 / mean(1 / d_i)``.
* ``"global_pca"``: scikit-dimension's ``lPCA`` (Fukunaga-Olsen: eigenvalues
  above 5 % of the largest) on the *whole* point set: the dimension of the
  linear span, not of a curved manifold (a ReLU embedding of a 4-cube reads
  11). It used to be called ``"lpca"``, which suggested scikit-dimension's
  *local* PCA; that name is now refused with this explanation.

Intervals (``IDResult.ci``) are for the true dimension. For TwoNN and MLE (at
``k = 20``) they carry the estimator's bias as calibrated on manifolds of
known dimension (:mod:`scalelaw.intrinsic_dim.manifolds`,
``bench/intrinsic_dim_calibration.py``): the mean and the manifold-to-manifold
spread of ``log(estimate / d)`` as functions of ``d`` and the number of points,
combined with the bootstrap's sampling error (``interval_covers`` says so, and
``sampling_ci`` keeps the bootstrap interval alone). For other settings and
``"global_pca"`` they cover sampling error only, and say so. All kNN
estimators read low at high dimension (TwoNN reads 16 as 12-15 and 20 as
16-17), on bounded cubes (uniform 8-cube: 6.9) and where the density changes
fast; an estimate above :data:`LOWER_BOUND_ABOVE` is flagged as a lower bound
(``IDResult.lower_bound``, with a warning).

Exact duplicate points (common in ReLU representations) carry no distance
information; they are removed first and counted in ``IDResult.warnings``.
Points whose two nearest neighbours are equidistant (grids, lattices, rounded
coordinates: TwoNN's ratio is 1 there and it would read 0) are counted: up to
:data:`MAX_TIED_SHARE` of them are left out of TwoNN with a warning naming
the count; above it TwoNN and MLE refuse the data. Coordinates so large or
small that distances would overflow are rescaled by a power of two (exact).

scikit-dimension is imported without its side effect on ``warnings.filters``
(its import silences every warning of the process).
"""

from scalelaw.intrinsic_dim._calibration import CALIBRATED, SAMPLING_ONLY
from scalelaw.intrinsic_dim._estimators import (
    DEFAULT_MLE_NEIGHBOURS,
    LOWER_BOUND_ABOVE,
    MAX_TIED_SHARE,
    METHODS,
    IDResult,
    IntrinsicDimensionWarning,
    Method,
    check_method,
    estimate_intrinsic_dim,
    estimate_intrinsic_dims,
    pool_intrinsic_dims,
)
from scalelaw.io import read_points

__all__ = [
    "CALIBRATED",
    "DEFAULT_MLE_NEIGHBOURS",
    "LOWER_BOUND_ABOVE",
    "MAX_TIED_SHARE",
    "METHODS",
    "SAMPLING_ONLY",
    "IDResult",
    "IntrinsicDimensionWarning",
    "Method",
    "check_method",
    "estimate_intrinsic_dim",
    "estimate_intrinsic_dims",
    "pool_intrinsic_dims",
    "read_points",
]
