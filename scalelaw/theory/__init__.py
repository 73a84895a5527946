"""Tests of the theory behind neural scaling laws on a table of runs.

* resolution-limited scaling (Sharma & Kaplan 2020; Bahri et al. 2021):
  ``L ~ x^-alpha`` with ``alpha >= 4/d`` (about ``4/d`` for generic targets)
  for ReLU networks and the squared loss, ``d`` the intrinsic dimension of the
  data (or of the learned representation);
* variance-limited scaling: ``L - L_inf ~ 1/D`` when ``D >> P`` and ``~ 1/w``
  when ``w >> D``: exponent exactly 1.

:func:`fit_exponent` fits an exponent over a window chosen by a stated rule;
:func:`check_scaling` asks the theory's questions as equivalence tests with a
stated margin (:class:`Verdict`); :func:`classify_regimes` says which regime
each slice of a sweep is in; :func:`simulate_check_rates` measures how often
the checks are right on tables with a known answer.
"""

from scalelaw.theory._calibration import CheckRates, simulate_check_rates
from scalelaw.theory._checks import MODELS, TheoryCheck, check_scaling, with_dimension
from scalelaw.theory._exponent import ExponentFit, WindowCandidate, aggregate, fit_exponent
from scalelaw.theory._regimes import classify_regime, classify_regimes
from scalelaw.theory._verdicts import (
    DEFAULT_TOLERANCE,
    LOWER_BOUND_BIAS,
    DimensionEstimate,
    Verdict,
    equal_question,
)
from scalelaw.theory._window import (
    INTERPOLATION_RATIO,
    PLAUSIBLE_LEVEL,
    WINDOW_TEST_LEVEL,
    curvature_window,
    interpolating_window,
)

__all__ = [
    "DEFAULT_TOLERANCE",
    "INTERPOLATION_RATIO",
    "LOWER_BOUND_BIAS",
    "MODELS",
    "PLAUSIBLE_LEVEL",
    "WINDOW_TEST_LEVEL",
    "CheckRates",
    "DimensionEstimate",
    "ExponentFit",
    "TheoryCheck",
    "Verdict",
    "WindowCandidate",
    "aggregate",
    "check_scaling",
    "classify_regime",
    "classify_regimes",
    "curvature_window",
    "equal_question",
    "fit_exponent",
    "interpolating_window",
    "simulate_check_rates",
    "with_dimension",
]
