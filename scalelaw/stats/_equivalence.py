"""Equivalence verdicts: an interval against a band of practically equal values.

The question is never "does the interval contain the prediction?" (a 2 %
deviation is no evidence against a prediction, and an interval ten times the
tolerance wide is no evidence for it) but "where does the interval lie
relative to the band ``[lower, upper]`` the prediction allows?":

* *consistent*: the interval lies inside the band (with a two-sided interval at
  level ``1 - 2a`` this is the two one-sided tests (TOST) of equivalence at
  level ``a``; with the usual 95 % interval, at 2.5 % per side);
* *inconsistent*: the interval lies entirely outside the band (the band is
  rejected at one-sided level ``(1 - level) / 2``);
* *inconclusive*: the interval straddles an end of the band; ``uncertain_end``
  says which (``"lower"``, ``"upper"``, or ``"both"`` when the interval covers
  the whole band or is not finite).

A one-sided question (a bound) is a band with one infinite end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from scalelaw.exceptions import DataValidationError

__all__ = ["VERDICTS", "EquivalenceResult", "equivalence_codes", "equivalence_verdict"]

#: The three verdicts, in code order -1, 0, 1 of :func:`equivalence_codes`.
VERDICTS = ("inconsistent", "inconclusive", "consistent")


@dataclass(frozen=True)
class EquivalenceResult:
    """Where an interval lies relative to a band.

    Attributes
    ----------
    verdict : str
        ``"consistent"``, ``"inconsistent"`` or ``"inconclusive"``.
    interval : tuple of float
        The interval judged.
    band : tuple of float
        The values the prediction allows (an end may be infinite).
    uncertain_end : str or None
        Inconclusive only: the band's end the interval straddles (``"lower"``,
        ``"upper"`` or ``"both"``).
    """

    verdict: str
    interval: tuple[float, float]
    band: tuple[float, float]
    uncertain_end: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``verdict, interval, band, uncertain_end`` (infinite ends as None).

        Returns
        -------
        dict
            The result.
        """
        def num(v: float) -> float | None:
            return float(v) if np.isfinite(v) else None

        return {"verdict": self.verdict, "interval": [num(v) for v in self.interval],
                "band": [num(v) for v in self.band], "uncertain_end": self.uncertain_end}


def equivalence_codes(lo: Any, hi: Any, lower: Any, upper: Any) -> np.ndarray:
    """Vectorised verdicts: 1 consistent, -1 inconsistent, 0 inconclusive.

    Parameters
    ----------
    lo, hi : array_like
        Interval ends (NaN: no interval, inconclusive).
    lower, upper : array_like
        Band ends (``-inf`` / ``inf`` for a one-sided question).

    Returns
    -------
    ndarray of int
        One code per interval.

    Examples
    --------
    >>> equivalence_codes([0.95, 0.5, 0.8], [1.05, 0.7, 1.1], 0.85, 1.15).tolist()
    [1, -1, 0]
    """
    lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    lower, upper = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    valid = ~np.isnan(lo) & ~np.isnan(hi)
    inside = (lo >= lower) & (hi <= upper)
    outside = (hi < lower) | (lo > upper)
    out = np.where(inside, 1, np.where(outside, -1, 0))
    return np.where(valid, out, 0).astype(int)


def equivalence_verdict(interval: Sequence[float], band: Sequence[float]
                        ) -> EquivalenceResult:
    """Verdict of one interval against one band.

    Parameters
    ----------
    interval : (lo, hi)
        The interval of the quantity (e.g. a 95 % interval of an exponent).
    band : (lower, upper)
        The values the prediction allows (``lower <= upper``; an end may be
        infinite for a bound).

    Returns
    -------
    EquivalenceResult
        The verdict and, when inconclusive, which end of the band is uncertain.

    Examples
    --------
    >>> equivalence_verdict((0.96, 1.04), (0.85, 1.15)).verdict
    'consistent'
    >>> r = equivalence_verdict((0.7, 1.02), (0.85, 1.15))
    >>> r.verdict, r.uncertain_end
    ('inconclusive', 'lower')
    >>> equivalence_verdict((1.3, 1.6), (0.85, 1.15)).verdict
    'inconsistent'
    """
    if len(interval) != 2 or len(band) != 2:
        raise DataValidationError("An interval and a band are pairs (lo, hi).",
                                  column="interval")
    lo, hi = (float(v) for v in interval)
    lower, upper = (float(v) for v in band)
    if not lower <= upper:
        raise DataValidationError(f"A band needs lower <= upper; got ({lower}, {upper}).",
                                  column="band")
    code = int(equivalence_codes(lo, hi, lower, upper))
    end = None
    if code == 0:
        straddles_lower = not (lo >= lower) and not (hi < lower)
        straddles_upper = not (hi <= upper) and not (lo > upper)
        if np.isnan(lo) or np.isnan(hi) or (straddles_lower and straddles_upper):
            end = "both"
        else:
            end = "lower" if straddles_lower else "upper"
    return EquivalenceResult(VERDICTS[code + 1], (lo, hi), (lower, upper), end)
