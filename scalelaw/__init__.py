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
from scalelaw.exceptions import (
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
from scalelaw.fitting import fit, fit_groups, prepare_data
from scalelaw.laws import ScalingLaw, get_law, list_laws
from scalelaw.results import Diagnostic, FitResult, GroupedFitResult

try:
    __version__ = _metadata.version("scalelaw")
except _metadata.PackageNotFoundError:  # pragma: no cover - source checkout
    __version__ = "0+unknown"

__all__ = [
    "ConvergenceWarning",
    "DataValidationError",
    "Diagnostic",
    "DuplicateRowsWarning",
    "ExcludedRowsWarning",
    "ExtrapolationError",
    "ExtrapolationWarning",
    "FitError",
    "FitResult",
    "GroupedFitResult",
    "IdentifiabilityWarning",
    "ScaleLawError",
    "ScaleLawWarning",
    "ScalingLaw",
    "UnknownNameError",
    "__version__",
    "datasets",
    "fit",
    "fit_groups",
    "get_law",
    "laws",
    "list_laws",
    "prepare_data",
]
