"""Intervals that carry the estimators' bias, calibrated on manifolds of known dimension.

``bench/intrinsic_dim_calibration.py`` runs TwoNN and MLE (at their defaults)
on the eight families of :mod:`scalelaw.intrinsic_dim.manifolds` over a grid
of true dimensions ``d`` (1-24) and point counts ``n`` (500-10,000), three
generator seeds each, and stores in ``calibration.json`` (beside this module),
per method and grid cell:

* ``bias_low`` and ``bias_high``: the lowest and the highest family mean of
  ``log(estimate / d)`` (the range of the estimator's bias over the families:
  uniform boxes read lowest, tori highest);
* ``spread``: the standard deviation of that log-ratio between generator seeds
  of one family that is not sampling error (the bootstrap's share removed).

The interval for the true ``d`` is the set of dimensions the estimate is
consistent with (a Neyman construction)::

    { d : bias_low(d, n) - z t <= log(estimate / d) <= bias_high(d, n) + z t },
    t = sqrt(spread(d, n)^2 + s^2)

with ``s`` the bootstrap standard deviation of ``log(estimate)`` on the data
at hand and ``z`` the normal quantile of the level. It covers the true ``d``
whenever the data's bias lies within the range the calibration families span
(the bench measures how often that holds on manifolds it did not calibrate
on). The tables are interpolated linearly in ``(log d, log n)`` and held at
their edges. The true dimension never exceeds the number of features; where
the set reaches the largest calibrated ``d`` the bias above it is unknown, and
the upper end is the number of features. ``dimension_corrected`` is the ``d``
at which ``log(estimate / d)`` sits in the middle of the bias range.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

__all__ = ["CALIBRATED", "SAMPLING_ONLY", "Calibrated", "bias_model", "calibrated_interval",
           "calibration_table"]

SAMPLING_ONLY = "sampling error only"
CALIBRATED = "sampling error and calibrated estimator bias"
_TABLE = Path(__file__).with_name("calibration.json")


@functools.cache
def calibration_table() -> dict[str, Any] | None:
    """The stored calibration (``calibration.json``), or ``None`` when absent.

    Returns
    -------
    dict or None
        ``{"methods": {method: {"settings", "d", "n", "bias_low", "bias_high",
        "spread"}}, ...}``.

    Examples
    --------
    >>> sorted(calibration_table()["methods"])
    ['mle', 'twonn']
    """
    if not _TABLE.is_file():
        return None
    return json.loads(_TABLE.read_text())


@dataclass(frozen=True)
class Calibrated:
    """A calibrated interval: ``ci``, what it covers, the bias-corrected value, notes."""

    ci: tuple[float, float]
    covers: str
    corrected: float | None
    notes: tuple[str, ...]
    settings: dict[str, Any]


def _interp(table: dict[str, Any], key: str, log_d: np.ndarray, log_n: float) -> np.ndarray:
    """Bilinear interpolation in (log d, log n), held at the edges."""
    ld = np.log(np.asarray(table["d"], dtype=float))
    ln = np.log(np.asarray(table["n"], dtype=float))
    vals = np.asarray(table[key], dtype=float)  # shape (len(d), len(n))
    per_d = np.array([np.interp(log_n, ln, row) for row in vals])
    return np.interp(log_d, ld, per_d)


def bias_model(method: str, d: Any, n: float, *, table: dict[str, Any] | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(bias_low, bias_high, spread)`` of ``log(estimate / d)`` at true ``d`` and ``n`` points.

    Parameters
    ----------
    method : str
        A calibrated method.
    d : array_like
        True dimensions.
    n : float
        Number of points.
    table : dict, optional
        A calibration to use instead of the stored one.

    Returns
    -------
    tuple of ndarray
        The bias range and the spread between manifolds of one family.

    Examples
    --------
    >>> low, high, spread = bias_model("twonn", [2.0, 16.0], 10_000)
    >>> bool(high[1] > low[1] and low[1] < low[0])  # reads lower at d = 16
    True
    """
    tab = (table or calibration_table() or {}).get("methods", {}).get(method)
    if tab is None:
        raise KeyError(method)
    log_d = np.log(np.asarray(d, dtype=float))
    log_n = float(np.log(n))
    return (_interp(tab, "bias_low", log_d, log_n), _interp(tab, "bias_high", log_d, log_n),
            _interp(tab, "spread", log_d, log_n))


def calibrated_interval(method: str, estimate: float, sd_log: float, n_points: int,
                        ambient_dim: int, level: float, *, k: int = 20,
                        table: dict[str, Any] | None = None) -> Calibrated | None:
    """The interval for the true dimension given an estimate, or ``None`` if not calibrated.

    Parameters
    ----------
    method : str
        ``"twonn"`` or ``"mle"`` (others are not calibrated).
    estimate : float
        The estimator's value.
    sd_log : float
        Bootstrap standard deviation of ``log(estimate)``.
    n_points : int
        Points used.
    ambient_dim : int
        Number of features (the true dimension's upper limit).
    level : float
        Coverage.
    k : int, default=20
        MLE neighbours (calibrated at the default only).
    table : dict, optional
        A calibration to use instead of the stored one.

    Returns
    -------
    Calibrated or None
        ``None`` for a method or setting without calibration.

    Examples
    --------
    >>> c = calibrated_interval("twonn", 7.0, 0.02, 2000, 100, 0.95)
    >>> bool(c.ci[0] < 7.0 < c.ci[1]), c.covers
    (True, 'sampling error and calibrated estimator bias')
    """
    tab = table or calibration_table()
    if tab is None or method not in tab.get("methods", {}):
        return None
    spec = tab["methods"][method]
    if method == "mle" and int(k) != int(spec["settings"].get("k", 20)):
        return None
    d_max = float(max(spec["d"]))
    top = float(max(ambient_dim, 1))
    grid = np.geomspace(0.25, max(top, 0.5), 4000)
    low, high, spread = bias_model(method, grid, n_points, table=tab)
    z = NormalDist().inv_cdf(0.5 + level / 2.0)
    resid = np.log(estimate) - np.log(grid)
    tol = z * np.sqrt(spread**2 + sd_log**2)
    ok = (resid >= low - tol) & (resid <= high + tol)
    notes: list[str] = []
    n_lo, n_hi = min(spec["n"]), max(spec["n"])
    if not n_lo <= n_points <= n_hi:
        notes.append(f"{n_points} points is outside the calibrated {n_lo:,}-{n_hi:,}: the "
                     "estimator's bias there is taken from the nearest end")
    settings = {"source": tab.get("source"), "version": tab.get("version"),
                "d_max": d_max, "n_range": [n_lo, n_hi]}
    if not ok.any():
        return None
    lo, hi = float(grid[ok].min()), float(grid[ok].max())
    if hi >= d_max * 0.999:
        hi = top
        notes.append(f"the interval reaches d = {d_max:g}, above which the estimator's bias is "
                     f"not calibrated: its upper end is the number of features ({top:g})")
    corrected = float(grid[np.argmin(np.abs(resid - (low + high) / 2.0))])
    return Calibrated((lo, max(hi, lo)), CALIBRATED, corrected, tuple(notes), settings)
