"""Shared statistics helpers: the one home for small statistical building blocks.

Every analysis family (fits, theory checks, intrinsic dimension, lotteries,
variance) takes its percentile bootstrap, per-size aggregation,
generalised-Pareto fit, parameter draws and equivalence verdicts from here
rather than keeping a private copy. This package imports only NumPy, SciPy
and pandas, and nothing else from scalelaw except :mod:`scalelaw.exceptions`
and :mod:`scalelaw._validation`.

* :func:`mixture_interval`: the central interval of a weighted mixture of
  forecast distributions (combinations of fitted laws).
"""

from scalelaw.stats._mixture import mixture_interval

__all__: list[str] = ["mixture_interval"]
