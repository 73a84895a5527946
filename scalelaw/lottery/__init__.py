"""Seed lotteries: outcome distributions across random seeds, per model size.

Do bigger models become more alike across seeds (shrinking spread, light
tails: "mediocristan") or do outcomes stay heavy-tailed (lottery tickets:
"extremistan")? Location- and scale-invariant extreme-value tools on an
explicitly transformed metric (shared science notes, Part II):

* :func:`analyze_lottery`: per size, mean, sd, MAD, tail ratio, the
  extreme-value index of each tail (moment estimator with a bootstrap
  interval, GPD fit with a profile-likelihood interval), a tail class
  (``heavy``, ``light``, ``bounded``, or ``undecided`` unless both estimators
  agree), outliers by a robust rule, a failure-mixture option, expected
  best-of-k on the metric's own scale; the trend across sizes with a
  homogeneity verdict.
* :func:`fit_tail` (:func:`fit_tails` for many samples), :func:`classify_tail`,
  :func:`tail_size`: one tail.
* :func:`best_of_k` (unbiased U-statistic or the Dodge et al. plug-in),
  :func:`extrapolate_best_of_k`, :func:`seeds_needed`,
  :func:`expected_max_normal`, :func:`expected_max_pareto`.
* :func:`transform_metric`, :func:`delta_method_sd`, :func:`binomial_sd`,
  :func:`independent_errors_sd`.

Examples
--------
>>> import numpy as np
>>> from scalelaw.lottery import best_of_k, expected_max_normal
>>> round(expected_max_normal(20), 4)
1.8675
"""

from scalelaw.lottery._analyze import LotteryGroup, LotteryResult, analyze_lottery
from scalelaw.lottery._best_of_k import (
    best_of_k,
    expected_max_normal,
    expected_max_pareto,
    extrapolate_best_of_k,
    seeds_needed,
)
from scalelaw.lottery._outliers import Outlier, find_outliers, outlier_threshold, robust_scale
from scalelaw.lottery._tails import (
    BOUNDED_MAX_XI,
    COVERAGE_NOTE,
    LIGHT_MAX_XI,
    MIN_RUNS_FOR_TAIL,
    TAIL_CLASSES,
    TailFit,
    classify_tail,
    fit_tail,
    fit_tails,
    gpd_tail_index,
    moment_tail_index,
    tail_index,
    tail_ratio,
    tail_size,
)
from scalelaw.lottery._transforms import (
    TRANSFORMS,
    binomial_sd,
    delta_method_sd,
    independent_errors_sd,
    inverse_transform,
    transform_metric,
)

__all__ = [
    "BOUNDED_MAX_XI",
    "COVERAGE_NOTE",
    "LIGHT_MAX_XI",
    "MIN_RUNS_FOR_TAIL",
    "TAIL_CLASSES",
    "TRANSFORMS",
    "LotteryGroup",
    "LotteryResult",
    "Outlier",
    "TailFit",
    "analyze_lottery",
    "best_of_k",
    "binomial_sd",
    "classify_tail",
    "delta_method_sd",
    "expected_max_normal",
    "expected_max_pareto",
    "extrapolate_best_of_k",
    "find_outliers",
    "fit_tail",
    "fit_tails",
    "gpd_tail_index",
    "independent_errors_sd",
    "inverse_transform",
    "moment_tail_index",
    "outlier_threshold",
    "robust_scale",
    "seeds_needed",
    "tail_index",
    "tail_ratio",
    "tail_size",
    "transform_metric",
]
