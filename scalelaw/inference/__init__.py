"""Uncertainty and diagnostics of fitted laws, in one place.

Wald (M-estimator) covariance, profile-objective intervals, the bootstrap
over rows or groups of rows, information criteria and the diagnostics a fit
reports. Everything here works on the optimiser's coordinates and the
objective; :mod:`scalelaw.results` turns it into natural units and reports.

Notation: the fit minimises ``f(theta) = sum_i w_i rho(r_i(theta))`` over the
optimiser's coordinates ``theta`` (log scale for positive scales).

* Scale. ``s2 = sum w psi(r)^2 / (n - p)``; ``m`` is the mean slope of
  ``psi`` (1 for least squares; for Huber, the share of residuals inside
  ``+-delta``, estimated with a Gaussian kernel so that a handful of rows does
  not make it jumpy); ``K = 1 + (p / n) var(psi') / m^2`` is Huber's (1981,
  sec. 7.6) small-sample correction.
* Wald. ``cov = K^2 s2 / m^2 (J^T W J)^{-1}``, the classical covariance of a
  Huber M-estimator, equal to ``s2 (J^T W J)^{-1}`` for least squares.
* Profile. ``2 (f(theta_j) - f_hat) m / s2`` is compared with the ``F(1, n - p)``
  quantile: the likelihood-ratio test for least squares and the drop-in-
  dispersion test of Schrader & Hettmansperger (1980) for Huber losses.
* Bootstrap. Rows (or groups of rows, e.g. seeds) are resampled as
  multiplicity weights, every replica is refitted from the best distinct
  optima of the full fit by batched Levenberg-Marquardt to tight tolerance,
  and intervals are percentiles of the replica estimates.
* No residual degrees of freedom (as many points as free parameters): the
  scale is not estimable, so every interval is undefined (NaN, with a
  ``no_dof`` diagnostic), never zero-width.
"""

from scalelaw.inference._bootstrap import (
    MIN_BOOTSTRAP_GROUPS,
    bootstrap_groups,
    bootstrap_replicas,
    bootstrap_weights,
    run_bootstrap,
)
from scalelaw.inference._diagnostics import Assessment, Diagnostic, assess
from scalelaw.inference._profile import profile_intervals, profile_threshold
from scalelaw.inference._scale import (
    ScaleTerms,
    free_mask,
    information_criteria,
    scale_terms,
    solver_options,
    wald_covariance,
)

__all__ = [
    "MIN_BOOTSTRAP_GROUPS",
    "Assessment",
    "Diagnostic",
    "ScaleTerms",
    "assess",
    "bootstrap_groups",
    "bootstrap_replicas",
    "bootstrap_weights",
    "free_mask",
    "information_criteria",
    "profile_intervals",
    "profile_threshold",
    "run_bootstrap",
    "scale_terms",
    "solver_options",
    "wald_covariance",
]
