"""Results handed to other tools (lmfit)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["to_lmfit_parameters"]


def to_lmfit_parameters(result: Any) -> Any:
    """See :meth:`FitResult.to_lmfit_params` (``result`` is a :class:`FitResult`; typed
    loosely because that module imports this one)."""
    import lmfit

    out = lmfit.Parameters()
    names = list(result.law.param_names)
    corr = result.cov.to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = corr / np.sqrt(np.outer(np.diag(corr), np.diag(corr)))
    for j, prm in enumerate(result.law.params):
        fixed = prm.lower == prm.upper
        out.add(prm.name, value=float(result.params[prm.name]), vary=not fixed,
                min=prm.lower if not fixed else -np.inf,
                max=prm.upper if not fixed else np.inf)
        se = float(result.stderr[prm.name])
        out[prm.name].stderr = se if np.isfinite(se) else None
        out[prm.name].correl = {
            names[k]: float(corr[j, k]) for k in range(len(names))
            if k != j and np.isfinite(corr[j, k])
        } or None
    for name, expr in getattr(result.law, "derived", ()):
        out.add(name, expr=expr)
    return out
