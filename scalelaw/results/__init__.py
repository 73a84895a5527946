"""Fit results: estimates, uncertainty, diagnostics, reports and JSON round trip.

A :class:`FitResult` is plain, immutable data: every getter is a pure
function of its fields (nothing is cached or written back), so ``to_dict()``
and ``equals()`` never change after a call. Steps that add information
return a new result: :meth:`FitResult.with_bootstrap`,
:func:`scalelaw.calibrate`. A :class:`CombinedFit` holds several fits of
different laws to the same runs and combines their forecasts.
"""

from scalelaw.inference import Diagnostic
from scalelaw.results._combined import CombinedFit, combine, result_from_dict
from scalelaw.results._fit import FitResult
from scalelaw.results._grouped import GroupedFitResult
from scalelaw.results._json import SCHEMA_VERSION, from_jsonable, to_jsonable
from scalelaw.results._read import read_fit

__all__ = ["SCHEMA_VERSION", "CombinedFit", "Diagnostic", "FitResult", "GroupedFitResult",
           "combine", "from_jsonable", "read_fit", "result_from_dict", "to_jsonable"]
