"""Fitting laws to tables of runs: data checks, starts, search, selection, calibration.

* :func:`fit`, :func:`fit_groups`: the entry points;
* :func:`prepare_data`: the data checks every fit runs first;
* :func:`select_law` (``law="auto"``) and :func:`calibrate`: rolling-origin
  backtests inside the training data;
* :func:`fit_tables`, :func:`calibrate_many`: one law on many tables, every
  table's search in shared batches (backtests of many groups).

This package builds :class:`~scalelaw.FitResult` objects from the layers
below it (laws, the batched optimisers, inference and results).
"""

from scalelaw.fitting._api import fit, fit_each_group, fit_groups, group_labels, warn_about_fit
from scalelaw.fitting._batch import (
    calibrate_each,
    calibrate_many,
    fit_auto_tables,
    fit_combined_tables,
    fit_tables,
)
from scalelaw.fitting._data import as_frame, prepare_data
from scalelaw.fitting._extrapolation import (
    DEFAULT_CUTS,
    backtest_errors,
    calibrate,
    normalised_scale,
)
from scalelaw.fitting._select import (
    AUTO_CANDIDATES,
    CUT_RATIO,
    DEFAULT_LAW,
    MARGIN_RATIO,
    MARGIN_Z,
    NEVER_COMBINED,
    SCORE_CUTS,
    SOLO_RATIO,
    LawSelection,
    select_law,
)

__all__ = [
    "AUTO_CANDIDATES",
    "CUT_RATIO",
    "DEFAULT_CUTS",
    "DEFAULT_LAW",
    "MARGIN_RATIO",
    "MARGIN_Z",
    "NEVER_COMBINED",
    "SCORE_CUTS",
    "SOLO_RATIO",
    "LawSelection",
    "as_frame",
    "backtest_errors",
    "calibrate",
    "calibrate_each",
    "calibrate_many",
    "fit",
    "fit_auto_tables",
    "fit_combined_tables",
    "fit_each_group",
    "fit_groups",
    "fit_tables",
    "group_labels",
    "normalised_scale",
    "prepare_data",
    "select_law",
    "warn_about_fit",
]
