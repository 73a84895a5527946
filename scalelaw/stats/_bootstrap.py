"""Percentile bootstrap with one policy for draws that fail.

A draw *fails* when the statistic raises an arithmetic, linear-algebra or
validation error, or returns a value that is not finite. Failed draws are
never dropped silently: they stay in ``draws`` as NaN and are counted in
``n_failed``. The percentile interval is taken over the draws that succeeded
when at most ``max_failed_fraction`` of them failed; beyond that the
bootstrap has no interval to give and ``ci`` is ``(nan, nan)`` (a bootstrap
whose failures are not at random would otherwise report the interval of the
draws that happened to work).

Resampling is expressed as *counts*: each draw is a vector of how many times
each unit (a row, or a cluster such as a seed) enters the resample, drawn with
replacement, optionally within strata. Statistics written for weights (a
weighted mean, a weighted least-squares fit) then run on all draws at once.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scalelaw._validation import RandomStateLike, check_int, check_level, check_random_state
from scalelaw.exceptions import DataValidationError, ScaleLawError

__all__ = ["BootstrapResult", "bootstrap_counts", "percentile_bootstrap",
           "percentile_interval", "percentile_intervals"]

#: Errors that make one bootstrap draw fail (counted, never raised).
DRAW_ERRORS = (ArithmeticError, ValueError, np.linalg.LinAlgError, ScaleLawError)


@dataclass(frozen=True)
class BootstrapResult:
    """A percentile-bootstrap interval and what happened to its draws.

    Attributes
    ----------
    estimate : float
        The statistic on the data as given (every unit once).
    ci : tuple of float
        Percentile interval over the draws that succeeded; ``(nan, nan)`` when
        more than ``max_failed_fraction`` of the draws failed.
    level : float
        Coverage of ``ci``.
    n_boot : int
        Draws made.
    n_failed : int
        Draws that failed (an error or a non-finite value), kept as NaN in
        ``draws``.
    max_failed_fraction : float
        The most failures the interval tolerates.
    draws : ndarray
        The statistic on every draw (NaN where it failed).
    """

    estimate: float
    ci: tuple[float, float]
    level: float
    n_boot: int
    n_failed: int
    max_failed_fraction: float
    draws: np.ndarray = field(repr=False, compare=False)

    @property
    def failed_fraction(self) -> float:
        """Share of the draws that failed."""
        return self.n_failed / self.n_boot if self.n_boot else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (without the draws).

        Returns
        -------
        dict
            ``estimate, ci, level, n_boot, n_failed, max_failed_fraction``.
        """
        def num(v: float) -> float | None:
            return float(v) if np.isfinite(v) else None

        return {"estimate": num(self.estimate), "ci": [num(self.ci[0]), num(self.ci[1])],
                "level": self.level, "n_boot": self.n_boot, "n_failed": self.n_failed,
                "max_failed_fraction": self.max_failed_fraction}


def bootstrap_counts(n_units: int, n_boot: int, *, strata: np.ndarray | None = None,
                     random_state: RandomStateLike = None) -> np.ndarray:
    """How many times each unit enters each resample (drawn with replacement).

    Parameters
    ----------
    n_units : int
        Units to resample (rows, or clusters such as seeds).
    n_boot : int
        Resamples.
    strata : ndarray of int, optional
        Stratum of each unit: units are then resampled within their stratum,
        which keeps every stratum's size.
    random_state : int, Generator or None
        Seed.

    Returns
    -------
    ndarray of shape (n_boot, n_units)
        Integer counts; each row sums to ``n_units`` (and, per stratum, to its size).

    Examples
    --------
    >>> c = bootstrap_counts(4, 3, random_state=0)
    >>> c.shape, c.sum(axis=1).tolist()
    ((3, 4), [4, 4, 4])
    """
    n_units = check_int(n_units, "n_units", minimum=1)
    n_boot = check_int(n_boot, "n_boot", minimum=1)
    rng = check_random_state(random_state)
    if strata is None:
        picks = rng.integers(0, n_units, (n_boot, n_units))
        return _count_rows(picks, n_units)
    strata = np.asarray(strata)
    if strata.shape != (n_units,):
        raise DataValidationError(f"'strata' must hold one stratum per unit ({n_units}); "
                                  f"got shape {strata.shape}.", column="strata")
    counts = np.zeros((n_boot, n_units), dtype=np.int64)
    for s in np.unique(strata):
        members = np.flatnonzero(strata == s)
        picks = members[rng.integers(0, members.size, (n_boot, members.size))]
        counts += _count_rows(picks, n_units)
    return counts


def _count_rows(picks: np.ndarray, n_units: int) -> np.ndarray:
    n_boot = picks.shape[0]
    flat = (picks + n_units * np.arange(n_boot)[:, None]).ravel()
    return np.bincount(flat, minlength=n_boot * n_units).reshape(n_boot, n_units)


def percentile_intervals(draws: Any, level: float = 0.95, *, axis: int = 0,
                         max_failed_fraction: float = 0.1, keep_infinite: bool = False,
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Column-wise percentile intervals of draws under the package's NaN policy.

    Along ``axis`` lie the draws (bootstrap replicas, Monte-Carlo or parameter
    draws); every other position (a parameter, an input value) gets its own
    interval. A draw *fails* at a position when its value there is NaN (or,
    unless ``keep_infinite``, infinite). Failed draws are left out of the
    percentiles and counted; a position with more than ``max_failed_fraction``
    of its draws failed, or with fewer than two that succeeded, has no
    interval (NaN ends). The ends are ``numpy.quantile`` of the successful
    draws at ``(1 - level) / 2`` and ``1 - (1 - level) / 2`` (linear
    interpolation).

    Parameters
    ----------
    draws : array_like
        Draws along ``axis``.
    level : float, default=0.95
        Coverage.
    axis : int, default=0
        The axis of the draws.
    max_failed_fraction : float, default=0.1
        In ``[0, 1]``: more failed draws than this share leave no interval
        (``1.0``: any number may fail, as with ``numpy.nanquantile``; ``0.0``:
        one failure is enough, as with ``numpy.quantile``).
    keep_infinite : bool, default=False
        Count ``+-inf`` as values (a draw that never reaches a target is
        infinitely far), not as failures; NaN still fails.

    Returns
    -------
    lo, hi : ndarray
        Interval ends, shape of ``draws`` without ``axis`` (0-d for 1-D draws).
    n_failed : ndarray of int
        Failed draws per position.

    Raises
    ------
    DataValidationError
        ``level`` outside ``(0, 1)`` or ``max_failed_fraction`` outside ``[0, 1]``.

    Examples
    --------
    >>> d = np.array([[1.0, 10.0], [2.0, np.nan], [3.0, 30.0], [4.0, np.nan]])
    >>> lo, hi, n_failed = percentile_intervals(d, 0.5, max_failed_fraction=0.5)
    >>> lo.tolist(), hi.tolist(), n_failed.tolist()
    ([1.75, 15.0], [3.25, 25.0], [0, 2])
    >>> percentile_intervals(d, 0.5)[0].tolist()  # the default tolerates 10 % failed
    [1.75, nan]
    """
    level = check_level(level)
    frac = float(max_failed_fraction)
    if not 0.0 <= frac <= 1.0:
        raise DataValidationError(f"'max_failed_fraction' must be in [0, 1]; got "
                                  f"{max_failed_fraction!r}.", column="max_failed_fraction")
    d = np.moveaxis(np.asarray(draws, dtype=float), axis, 0)
    n = d.shape[0]
    failed = np.isnan(d) if keep_infinite else ~np.isfinite(d)
    n_failed = failed.sum(axis=0)
    defined = (n_failed <= frac * n) & (n - n_failed >= 2)
    a = (1.0 - level) / 2.0
    lo = hi = np.full(d.shape[1:], np.nan)
    if np.any(defined):
        if not failed.any():
            lo, hi = np.quantile(d, a, axis=0), np.quantile(d, 1.0 - a, axis=0)
        else:  # each position's successful draws (all-failed positions warn: ignored)
            kept = np.where(failed, np.nan, d)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                lo = np.nanquantile(kept, a, axis=0)
                hi = np.nanquantile(kept, 1.0 - a, axis=0)
        lo, hi = np.where(defined, lo, np.nan), np.where(defined, hi, np.nan)
    return np.asarray(lo), np.asarray(hi), np.asarray(n_failed)


def percentile_interval(draws: Any, level: float = 0.95, *,
                        max_failed_fraction: float = 0.1, keep_infinite: bool = False,
                        ) -> tuple[tuple[float, float], int]:
    """Percentile interval of bootstrap draws under the package's NaN policy.

    The one-dimensional case of :func:`percentile_intervals` (same policy,
    same arithmetic).

    Parameters
    ----------
    draws : array_like
        One value per draw (flattened); NaN or infinite marks a failed draw.
    level : float, default=0.95
        Coverage.
    max_failed_fraction : float, default=0.1
        More failures than this share give ``(nan, nan)``; so do fewer than
        two successful draws.
    keep_infinite : bool, default=False
        Count ``+-inf`` as values rather than failures.

    Returns
    -------
    tuple
        ``((lo, hi), n_failed)``.

    Examples
    --------
    >>> (lo, hi), n_failed = percentile_interval([1.0, 2.0, np.nan, 3.0], 0.5,
    ...                                          max_failed_fraction=0.3)
    >>> lo, hi, n_failed
    (1.5, 2.5, 1)
    """
    lo, hi, n_failed = percentile_intervals(np.asarray(draws, dtype=float).ravel(), level,
                                            max_failed_fraction=max_failed_fraction,
                                            keep_infinite=keep_infinite)
    return (float(lo), float(hi)), int(n_failed)


def percentile_bootstrap(
    statistic: Callable[[np.ndarray], Any],
    n_units: int,
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    strata: np.ndarray | None = None,
    vectorized: bool = False,
    max_failed_fraction: float = 0.1,
    random_state: RandomStateLike = None,
) -> BootstrapResult:
    """Percentile bootstrap of a statistic of resampled units.

    Parameters
    ----------
    statistic : callable
        Receives the counts of one resample (``(n_units,)`` integers: how often
        each unit was drawn) and returns a float; with ``vectorized=True`` it
        receives all counts ``(n_boot, n_units)`` and returns ``(n_boot,)``.
        A draw fails when it raises an arithmetic, linear-algebra or
        validation error, or returns a non-finite value.
    n_units : int
        Units (rows or clusters).
    n_boot : int, default=1000
        Resamples.
    level : float, default=0.95
        Coverage.
    strata : ndarray of int, optional
        Resample within these strata (see :func:`bootstrap_counts`).
    vectorized : bool, default=False
        Call the statistic once on every draw.
    max_failed_fraction : float, default=0.1
        More failed draws than this leave no interval (``(nan, nan)``).
    random_state : int, Generator or None
        Seed.

    Returns
    -------
    BootstrapResult
        Estimate, interval, the draws and how many failed.

    Examples
    --------
    >>> x = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
    >>> res = percentile_bootstrap(lambda c: np.average(x, weights=c), x.size,
    ...                            n_boot=500, random_state=0)
    >>> res.estimate, res.n_failed, bool(res.ci[0] < 4.0 < res.ci[1])
    (4.0, 0, True)
    """
    level = check_level(level)
    if not 0.0 <= max_failed_fraction < 1.0:
        raise DataValidationError(f"'max_failed_fraction' must be in [0, 1); got "
                                  f"{max_failed_fraction!r}.", column="max_failed_fraction")
    counts = bootstrap_counts(n_units, n_boot, strata=strata, random_state=random_state)
    full = np.ones((1, n_units), dtype=np.int64) if vectorized else np.ones(n_units, np.int64)
    estimate = _one(statistic, full)
    if vectorized:
        estimate = float(np.asarray(estimate, dtype=float).ravel()[0])
        try:
            draws = np.asarray(statistic(counts), dtype=float).reshape(n_boot)
        except DRAW_ERRORS:
            draws = np.full(n_boot, np.nan)
    else:
        draws = np.array([_one(statistic, c) for c in counts], dtype=float)
    draws = np.where(np.isfinite(draws), draws, np.nan)
    ci, n_failed = percentile_interval(draws, level, max_failed_fraction=max_failed_fraction)
    return BootstrapResult(estimate=float(estimate), ci=ci, level=level, n_boot=n_boot,
                           n_failed=n_failed, max_failed_fraction=max_failed_fraction,
                           draws=draws)


def _one(statistic: Callable[[np.ndarray], Any], counts: np.ndarray) -> Any:
    try:
        return statistic(counts)
    except DRAW_ERRORS:
        return float("nan")
