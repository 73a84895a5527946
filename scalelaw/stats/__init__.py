"""Shared statistics helpers: the one home for small statistical building blocks.

Every analysis family (fits, theory checks, intrinsic dimension, lotteries,
variance) takes its percentile bootstrap, per-size aggregation,
generalised-Pareto fit, parameter draws and equivalence verdicts from here
rather than keeping a private copy. This package imports only NumPy, SciPy
and pandas, and nothing else from scalelaw except :mod:`scalelaw.exceptions`
and :mod:`scalelaw._validation`.
"""

from scalelaw.stats._draws import wald_draws

__all__ = ["wald_draws"]
