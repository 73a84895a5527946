"""scalelaw: fit, forecast and test neural scaling laws with honest uncertainty.

``import scalelaw`` loads NumPy, SciPy and pandas only: never torch,
matplotlib or scikit-dimension (those are imported by the functions that need
them).

Examples
--------
>>> import numpy as np, pandas as pd, scalelaw as sl
>>> n = np.logspace(6, 9, 12)
>>> res = sl.fit("power", pd.DataFrame({"n": n, "L": 2.0 * n ** -0.1}), x="n", y="L")
>>> print(f"{res.params['alpha']:.2f}")
0.10
"""

from importlib import metadata as _metadata

from scalelaw import datasets, laws
from scalelaw.allocation import compute_optimal, isoflop_profile, propose_runs, solve_for_loss
from scalelaw.backtest import BacktestResult, backtest
from scalelaw.exceptions import (
    BootstrapWarning,
    ConvergenceWarning,
    DataValidationError,
    DuplicateRowsWarning,
    ExcludedRowsWarning,
    ExtrapolationError,
    ExtrapolationWarning,
    FitError,
    IdentifiabilityWarning,
    ScaleLawError,
    ScaleLawWarning,
    UnknownNameError,
)
from scalelaw.fitting import LawSelection, calibrate, fit, fit_groups, prepare_data, select_law
from scalelaw.forecast import ExtrapolationCalibration
from scalelaw.inference import Diagnostic
from scalelaw.io import read_runs
from scalelaw.laws import ScalingLaw, get_law, list_laws
from scalelaw.planning import RunPlan, plan_runs
from scalelaw.plotting import plot_backtest, plot_fit
from scalelaw.results import CombinedFit, FitResult, GroupedFitResult, combine

try:
    __version__ = _metadata.version("scalelaw")
except _metadata.PackageNotFoundError:  # pragma: no cover - source checkout
    __version__ = "0+unknown"

__all__ = [
    "BacktestResult",
    "BootstrapWarning",
    "CombinedFit",
    "ConvergenceWarning",
    "DataValidationError",
    "Diagnostic",
    "DuplicateRowsWarning",
    "ExcludedRowsWarning",
    "ExtrapolationCalibration",
    "ExtrapolationError",
    "ExtrapolationWarning",
    "FitError",
    "FitResult",
    "GroupedFitResult",
    "IdentifiabilityWarning",
    "LawSelection",
    "RunPlan",
    "ScaleLawError",
    "ScaleLawWarning",
    "ScalingLaw",
    "UnknownNameError",
    "__version__",
    "backtest",
    "calibrate",
    "combine",
    "compute_optimal",
    "datasets",
    "fit",
    "fit_groups",
    "get_law",
    "isoflop_profile",
    "laws",
    "list_laws",
    "plan_runs",
    "plot_backtest",
    "plot_fit",
    "prepare_data",
    "propose_runs",
    "read_runs",
    "select_law",
    "solve_for_loss",
]
