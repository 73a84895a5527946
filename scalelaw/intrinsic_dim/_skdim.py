"""scikit-dimension, imported without its side effect on ``warnings.filters``.

``import skdim`` runs ``warnings.filterwarnings("ignore")`` at module level
(``skdim/id/_FisherS.py``, scikit-dimension 0.5): from then on every warning of
the process is silenced, scalelaw's own included. The first import here runs
inside :class:`warnings.catch_warnings`, which puts back the filter list as it
was (the same list object, with the same entries) when the import ends; a lock
keeps two threads from importing at once. The one exposure left: a filter that
*another* thread adds while the import runs (once per process, about a second)
is undone with it.
"""

from __future__ import annotations

import sys
import threading
import warnings
from types import ModuleType

__all__ = ["skdim_datasets", "skdim_id"]

_LOCK = threading.Lock()


def _import(name: str) -> ModuleType:
    mod = sys.modules.get(name)
    if mod is not None:
        return mod
    with _LOCK:
        mod = sys.modules.get(name)
        if mod is not None:
            return mod
        with warnings.catch_warnings():  # restores warnings.filters on exit
            import importlib

            try:
                return importlib.import_module(name)
            except ImportError as exc:
                from scalelaw.exceptions import ScaleLawError

                raise ScaleLawError(
                    f"Intrinsic dimension needs scikit-dimension ({exc}); install it with "
                    "pip install scikit-dimension.") from exc


def skdim_id() -> ModuleType:
    """``skdim.id``, imported with ``warnings.filters`` left as it was.

    Returns
    -------
    module
        scikit-dimension's estimators.

    Examples
    --------
    >>> import warnings
    >>> before = list(warnings.filters)
    >>> hasattr(skdim_id(), "TwoNN"), warnings.filters == before
    (True, True)
    """
    return _import("skdim.id")


def skdim_datasets() -> ModuleType:
    """``skdim.datasets``, imported with ``warnings.filters`` left as it was.

    Returns
    -------
    module
        scikit-dimension's data sets.

    Examples
    --------
    >>> hasattr(skdim_datasets(), "BenchmarkManifolds")
    True
    """
    return _import("skdim.datasets")
