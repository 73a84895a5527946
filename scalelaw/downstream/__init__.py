"""Downstream metrics: chained forecasts and shared-slope sigmoid fits.

* :func:`fit_chain`: the two-step chain of observational scaling laws and
  ladder-style predictions: a law for an intermediate quantity (the loss, or
  a capability score) from the inputs (``N``, ``D``, compute), a law for the
  metric from that quantity, and
  forecasts of the metric whose intervals carry the uncertainty of both
  steps (:meth:`ChainResult.get_prediction`) and, by default, the chain's
  own error toward larger models (:func:`calibrate_chain`: both steps
  refitted on the smaller models, the larger ones forecast through them).
* :func:`fit_shared_slope`: a sigmoid in log compute per group (model
  family) with one slope and ceiling shared by all groups and a midpoint per
  group.
* :func:`backtest_chain`: the chain scored on held-out runs (the largest, or
  those a split column marks): per group, the mean absolute error of the
  metric forecast and the coverage of its prediction intervals.

All use scalelaw's fitting core (multi-start search, Wald covariances).
Metric laws: ``logit_linear``, ``sigmoid_log``, ``olmo_sigmoid`` (the OLMo
ladder's sigmoid in the task loss), ``gadre_error`` (Gadre et al.'s error
law) and any formula.
"""

from scalelaw.downstream._backtest import ChainBacktest, ChainGroup, backtest_chain
from scalelaw.downstream._chain import ChainCalibration, ChainResult, calibrate_metric
from scalelaw.downstream._chaincal import calibrate_chain
from scalelaw.downstream._fitchain import fit_chain
from scalelaw.downstream._shared import fit_shared_slope

__all__ = ["ChainBacktest", "ChainCalibration", "ChainGroup", "ChainResult", "backtest_chain",
           "calibrate_chain", "calibrate_metric", "fit_chain", "fit_shared_slope"]
