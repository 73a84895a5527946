"""Plots (matplotlib, imported only when a plot is made; figures are returned, never shown).

* :func:`plot_fit`: a fitted law (or a combination of laws) with its data,
  bands and residuals.
* :func:`plot_backtest`: a backtest's forecasts against the actual values, per group.
* :func:`plot_checks`, :func:`plot_dimension_check`: theory checks.
* :func:`plot_lottery`, :func:`plot_tail_index`, :func:`plot_best_of_k`:
  seed-outcome distributions per size, tail index against size, best-of-k.
* :func:`plot_variance`: stacked variance components against model size.
* :func:`plot_llc`, :func:`plot_llc_training`, :func:`plot_redshift`: local
  learning coefficients against size and training step; complexity of
  random networks.
"""

from scalelaw.plotting._backtest import plot_backtest
from scalelaw.plotting._fits import plot_fit
from scalelaw.plotting._seeds import plot_best_of_k, plot_lottery, plot_tail_index, plot_variance
from scalelaw.plotting._slt import plot_llc, plot_llc_training, plot_redshift
from scalelaw.plotting._theory import plot_checks, plot_dimension_check

__all__ = ["plot_backtest", "plot_best_of_k", "plot_checks", "plot_dimension_check",
           "plot_fit", "plot_llc", "plot_llc_training", "plot_lottery", "plot_redshift",
           "plot_tail_index", "plot_variance"]
