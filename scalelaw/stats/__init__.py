"""Shared statistics helpers: the one home for small statistical building blocks.

Every analysis family (fits, theory checks, intrinsic dimension, lotteries,
variance) takes its percentile bootstrap, per-size aggregation,
generalised-Pareto fit, parameter draws and equivalence verdicts from here
rather than keeping a private copy. This package imports only NumPy, SciPy
and pandas, and nothing else from scalelaw except :mod:`scalelaw.exceptions`
and :mod:`scalelaw._validation`.

* :func:`fit_gpd`, :func:`gpd_profile_loglik`, :class:`GPDFit`: generalised
  Pareto maximum likelihood (batched) and profile-likelihood intervals.
* :func:`percentile_interval` (one set of draws), :func:`percentile_intervals`
  (column-wise), :func:`percentile_bootstrap`: the one percentile interval,
  with one policy for failed (NaN) draws.
* :func:`mixture_interval`: the central interval of a weighted mixture of
  forecast distributions (combinations of fitted laws).
"""

from scalelaw.stats._aggregate import aggregate_by_size, size_means
from scalelaw.stats._bootstrap import (
    BootstrapResult,
    bootstrap_counts,
    percentile_bootstrap,
    percentile_interval,
    percentile_intervals,
)
from scalelaw.stats._draws import wald_draws
from scalelaw.stats._equivalence import (
    VERDICTS,
    EquivalenceResult,
    equivalence_codes,
    equivalence_verdict,
)
from scalelaw.stats._gpd import GPDFit, fit_gpd, gpd_profile_loglik
from scalelaw.stats._mixture import mixture_interval

__all__: list[str] = [
    "VERDICTS",
    "BootstrapResult",
    "EquivalenceResult",
    "GPDFit",
    "aggregate_by_size",
    "bootstrap_counts",
    "equivalence_codes",
    "equivalence_verdict",
    "fit_gpd",
    "gpd_profile_loglik",
    "mixture_interval",
    "percentile_bootstrap",
    "percentile_interval",
    "percentile_intervals",
    "size_means",
    "wald_draws",
]
