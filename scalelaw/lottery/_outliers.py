"""Outlying runs by a robust rule, and the failure-mixture split.

Rule: a run is an outlier when its robust z-score ``|x - median| / (1.4826 MAD)``
exceeds a threshold calibrated for ``n``: the ``1 - false_flag_rate``
quantile of the largest robust z-score among ``n`` Gaussian runs, so that a
clean Gaussian sample has any run flagged with chance ``false_flag_rate``
whatever ``n`` (the MAD's own noise makes small samples need a higher cut:
about 4.1 at n = 10 and 3.7 at n = 100 for a rate of 0.05, against the
Bonferroni 2.8 and 3.5). The quantile is simulated once per ``n`` with a
fixed seed (``n <= 500``); above, the Bonferroni value
``Phi^-1(1 - false_flag_rate / (2 n))`` is used, the MAD being precise there.
When more than half the runs tie (MAD = 0) the scale falls back to the mean
absolute deviation (times sqrt(pi / 2)).
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass

import numpy as np
from scipy import special

from scalelaw.exceptions import DataValidationError

__all__ = ["Outlier", "find_outliers", "outlier_threshold", "robust_scale"]


@dataclass(frozen=True)
class Outlier:
    """One flagged run: its row in the input, value, side (``high``/``low``) and robust z."""

    row: int
    value: float
    side: str
    robust_z: float

    def to_dict(self) -> dict:
        """Plain-JSON form."""
        return asdict(self)


def robust_scale(x: np.ndarray) -> float:
    """Normal-consistent scale: ``1.4826 MAD``, or ``1.2533`` x mean absolute deviation
    from the median when the MAD is 0.

    Examples
    --------
    >>> round(robust_scale(np.random.default_rng(0).normal(0, 2, 100_000)), 1)
    2.0
    """
    x = np.asarray(x, dtype=float)
    dev = np.abs(x - np.median(x))
    mad = 1.4826 * np.median(dev)
    return float(mad if mad > 0 else 1.2533 * dev.mean())


def _check_rate(false_flag_rate: float) -> None:
    if not 0 < false_flag_rate < 1:
        raise DataValidationError(f"false_flag_rate must lie in (0, 1), got "
                                  f"{false_flag_rate!r}", column="false_flag_rate")


def outlier_threshold(n: int, false_flag_rate: float = 0.05) -> float:
    """The robust-z cut for ``n`` runs (see the module notes).

    Examples
    --------
    >>> bool(outlier_threshold(10) > outlier_threshold(100) > 3)
    True
    """
    _check_rate(false_flag_rate)
    return _threshold(int(n), float(false_flag_rate))


@functools.lru_cache(maxsize=256)
def _threshold(n: int, rate: float) -> float:
    if n > 500 or n < 3:
        return float(-special.ndtri(rate / (2 * max(n, 1))))
    rng = np.random.default_rng(20_261_129)
    maxima = []
    for _ in range(10):  # 20,000 simulated samples in chunks
        z = rng.normal(size=(2000, n))
        dev = np.abs(z - np.median(z, axis=1, keepdims=True))
        scale = 1.4826 * np.median(dev, axis=1)
        maxima.append(dev.max(axis=1) / scale)
    return float(np.quantile(np.concatenate(maxima), 1 - rate))


def find_outliers(x: np.ndarray, *, false_flag_rate: float = 0.05,
                  rows: np.ndarray | None = None) -> list[Outlier]:
    """Runs far from the median in robust standard deviations.

    Parameters
    ----------
    x : array_like
        One outcome per run (finite).
    false_flag_rate : float, default=0.05
        Chance that a clean Gaussian sample has any run flagged.
    rows : array_like of int, optional
        Row numbers to report (default: positions in ``x``).

    Returns
    -------
    list of Outlier
        Sorted by row.

    Examples
    --------
    >>> x = np.r_[np.random.default_rng(0).normal(0.90, 0.002, 9), 0.10]
    >>> [(o.row, o.side) for o in find_outliers(x)]
    [(9, 'low')]
    """
    _check_rate(false_flag_rate)
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or not np.all(np.isfinite(x)):
        raise DataValidationError("find_outliers needs a 1-D array of finite values",
                                  column="x")
    rows = np.arange(x.size) if rows is None else np.asarray(rows)
    if x.size < 3:
        return []
    scale = robust_scale(x)
    med = float(np.median(x))
    if scale == 0:
        return []
    z = (x - med) / scale
    cut = outlier_threshold(x.size, false_flag_rate)
    return [Outlier(int(rows[i]), float(x[i]), "high" if z[i] > 0 else "low", float(z[i]))
            for i in np.flatnonzero(np.abs(z) > cut)]
