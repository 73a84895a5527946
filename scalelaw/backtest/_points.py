"""Scoring a backtest group: the held-out rows' forecasts, intervals and errors, and
the point table (fitted and held-out rows) :attr:`BacktestResult.points` keeps."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from scalelaw.exceptions import ScaleLawError
from scalelaw.results import CombinedFit, FitResult

__all__: list[str] = []


def _score_group(row: dict[str, Any], res: Any, caught: list[warnings.WarningMessage],
                 train: pd.DataFrame, test: pd.DataFrame, law: str, xs: list[str], y: str,
                 level: float, max_extrapolation: float, unit: float = 1.0
                 ) -> tuple[dict[str, Any], pd.DataFrame | None]:
    """Forecast the held-out rows with a fit (or record why the group failed); the
    forecasts and fitted values go back to the target's own unit (the fit may be in
    another)."""
    if not isinstance(res, FitResult | CombinedFit):
        row["status"] = f"failed: {type(res).__name__}: {res}"
        row["warnings"] = _summarise(caught)
        return row, None
    try:
        with warnings.catch_warnings(record=True) as more:
            warnings.simplefilter("always")
            row["law"] = (res.settings["auto"]["chosen"] if law == "auto"
                          else res.name if isinstance(res, CombinedFit) else res.law.name)
            clean, row["n_excluded"] = _valid_rows(test, xs, y)
            if len(clean[y]) == 0:
                raise ScaleLawError("no valid held-out rows (positive, finite)")
            tab = res.get_prediction(level, extrapolate=True,
                                     max_extrapolation=max(max_extrapolation, 1.0),
                                     **{c: clean[c] for c in xs})
    except (ScaleLawError, np.linalg.LinAlgError, FloatingPointError) as exc:
        row["status"] = f"failed: {type(exc).__name__}: {exc}"
        row["warnings"] = _summarise(caught + list(more))
        return row, None
    row["warnings"] = _summarise(caught + list(more))
    obs = clean[y]
    mean = tab["mean"].to_numpy()
    row["rmsle"] = float(np.sqrt(np.mean((np.log(mean) - np.log(obs)) ** 2)))
    row["are"] = float(np.mean(np.abs(mean - obs) / obs))
    held = _point_columns(tab, y, obs, unit, heldout=True)
    row["pi_coverage"] = float(np.mean(held["inside"]))
    fitted = _fitted_rows(res, train, xs, y, level, unit)
    cols = held if fitted is None else {c: np.concatenate([fitted[c], held[c]])
                                        for c in held}
    out = pd.DataFrame(cols)
    out["group"] = row["group"]
    out["law"] = row["law"]
    return row, out


#: The forecast's columns that :func:`_point_columns` returns in the target's own unit.
_UNIT_COLUMNS = ("mean", "mean_ci_lower", "mean_ci_upper", "obs_ci_lower", "obs_ci_upper")


def _point_columns(tab: pd.DataFrame, y: str, obs: np.ndarray, unit: float, *,
                   heldout: bool) -> dict[str, np.ndarray]:
    """A forecast table's columns with the observed target, whether the prediction
    interval holds it and ``heldout``; values in the target's own unit (``unit``)."""
    cols = {c: tab[c].to_numpy() for c in tab.columns}
    inside = (obs >= cols["obs_ci_lower"]) & (obs <= cols["obs_ci_upper"])
    for c in _UNIT_COLUMNS:
        cols[c] = cols[c] * unit
    cols[y] = obs * unit
    cols["inside"] = inside
    cols["heldout"] = np.full(len(obs), heldout)
    return cols


def _valid_rows(frame: pd.DataFrame, xs: list[str], y: str) -> tuple[dict[str, np.ndarray], int]:
    """The columns ``xs`` and ``y`` of the rows with positive, finite inputs and target
    (numeric) as float64, and how many rows are not."""
    arr = np.column_stack([pd.to_numeric(frame[c], errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan) for c in [*xs, y]])
    ok_rows = np.isfinite(arr).all(axis=1) & (arr > 0).all(axis=1)
    return {c: arr[ok_rows, j] for j, c in enumerate([*xs, y])}, int((~ok_rows).sum())


def _fitted_rows(res: FitResult | CombinedFit, train: pd.DataFrame, xs: list[str], y: str,
                 level: float, unit: float) -> dict[str, np.ndarray] | None:
    """The training rows' columns with the fit's values and intervals (``heldout``
    False), as :func:`_point_columns`."""
    clean, _ = _valid_rows(train, xs, y)
    if len(clean[y]) == 0:
        return None
    # inside the fitted domain: no guard, no warning
    tab = res.get_prediction(level, extrapolate=True, max_extrapolation=np.inf,
                             **{c: clean[c] for c in xs})
    return _point_columns(tab, y, clean[y], unit, heldout=False)


def _summarise(caught: list[warnings.WarningMessage]) -> str:
    """Distinct warning messages of a group, by kind (with counts)."""
    seen: dict[str, int] = {}
    for w in caught:
        text = f"{w.category.__name__}: {' '.join(str(w.message).split())}"
        seen[text] = seen.get(text, 0) + 1
    return " | ".join(t if n == 1 else f"{t} (x{n})" for t, n in seen.items())
