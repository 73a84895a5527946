"""Tests of the theory behind neural scaling laws on a table of runs.

* resolution-limited scaling (Sharma & Kaplan 2020; Bahri et al. 2021):
  ``L ~ x^-alpha`` with ``alpha >= 4/d`` (about ``4/d`` for generic targets)
  for ReLU networks and the squared loss, ``d`` the intrinsic dimension of the
  data (or of the learned representation);
* variance-limited scaling: ``L - L_inf ~ 1/D`` when ``D >> P`` and ``~ 1/w``
  when ``w >> D``: exponent exactly 1.

:func:`fit_exponent` fits an exponent over a stated window;
:func:`check_scaling` compares it with the prediction and gives a verdict;
:func:`classify_regimes` says which regime each slice of a sweep is in.
"""

from scalelaw.theory._checks import TheoryCheck, check_scaling, with_dimension
from scalelaw.theory._exponent import ExponentFit, aggregate, fit_exponent
from scalelaw.theory._regimes import classify_regime, classify_regimes
from scalelaw.theory._window import (
    INTERPOLATION_RATIO,
    curvature_window,
    interpolating_window,
)

__all__ = [
    "INTERPOLATION_RATIO",
    "ExponentFit",
    "TheoryCheck",
    "aggregate",
    "check_scaling",
    "classify_regime",
    "classify_regimes",
    "curvature_window",
    "fit_exponent",
    "interpolating_window",
    "with_dimension",
]
