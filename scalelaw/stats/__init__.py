"""Shared statistics helpers: the one home for small statistical building blocks.

Every analysis family (fits, theory checks, intrinsic dimension, lotteries,
variance) takes its percentile bootstrap, per-size aggregation,
generalised-Pareto fit, parameter draws and equivalence verdicts from here
rather than keeping a private copy. This package imports only NumPy, SciPy
and pandas, and nothing else from scalelaw except :mod:`scalelaw.exceptions`
and :mod:`scalelaw._validation`.

* :func:`fit_gpd`, :func:`gpd_profile_loglik`, :class:`GPDFit`: generalised
  Pareto maximum likelihood (batched) and profile-likelihood intervals.
"""

from scalelaw.stats._gpd import GPDFit, fit_gpd, gpd_profile_loglik

__all__: list[str] = ["GPDFit", "fit_gpd", "gpd_profile_loglik"]
