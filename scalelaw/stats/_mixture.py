"""Intervals of an equal- or weighted mixture of forecast distributions."""

from __future__ import annotations

import numpy as np
from scipy import special

__all__ = ["mixture_interval"]

#: Bisection steps for the mixture's quantiles (the bracket shrinks by 2^-60).
_STEPS = 60


def _t_cdf(z: np.ndarray, dof: np.ndarray) -> np.ndarray:
    """Student-t CDF with ``dof`` degrees of freedom (normal where ``dof`` is infinite)."""
    finite = np.isfinite(dof)
    out = special.ndtr(z)
    if finite.any():
        d = np.broadcast_to(dof, z.shape)
        out = np.where(np.broadcast_to(finite, z.shape),
                       special.stdtr(np.where(np.isfinite(d), d, 1.0), z), out)
    return out


def _t_quantile(p: float, dof: np.ndarray) -> np.ndarray:
    """Student-t quantile of ``p`` (normal where ``dof`` is infinite)."""
    finite = np.isfinite(dof)
    return np.where(finite, special.stdtrit(np.where(finite, dof, 1.0), p),
                    special.ndtri(p))


def mixture_interval(
    centers: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    dof: np.ndarray,
    weights: np.ndarray,
    level: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Central interval of a weighted mixture of members' forecast distributions.

    Member ``i`` forecasts ``centers[i]`` with the central interval
    ``[lower[i], upper[i]]`` at ``level`` (on the scale the mixture is formed
    on, e.g. log loss). Each member's distribution is taken as a two-piece
    Student-t with ``dof[i]`` degrees of freedom (normal where infinite):
    centred at its forecast, with the scales that reproduce its interval
    below and above, so a mixture of one member, or of identical members,
    returns that member's interval. The mixture's ``(1 - level) / 2`` and
    ``(1 + level) / 2`` quantiles are found by bisection inside
    ``[min lower, max upper]``, where they always lie; the interval is then
    widened where needed to reach every member's forecast, so it always
    contains them (the spread between members counts as uncertainty).

    Parameters
    ----------
    centers, lower, upper : ndarray of shape (k, n)
        Per member and point: forecast and interval ends (``lower <= centers
        <= upper``).
    dof : ndarray of shape (k,)
        Degrees of freedom of each member's interval (``inf``: normal).
    weights : ndarray of shape (k,)
        Non-negative member weights (normalised here).
    level : float
        Coverage of the members' intervals and of the result.

    Returns
    -------
    lo, hi : ndarray of shape (n,)
        The mixture's interval; NaN at points where a member's interval is NaN.

    Examples
    --------
    >>> c = np.array([[0.0], [0.0]])
    >>> lo, hi = mixture_interval(c, c - 1.0, c + 1.0, np.array([np.inf, np.inf]),
    ...                           np.array([0.5, 0.5]), 0.9)
    >>> round(float(lo[0]), 9), round(float(hi[0]), 9)   # identical: their own interval
    (-1.0, 1.0)
    >>> c = np.array([[0.0], [10.0]])
    >>> lo, hi = mixture_interval(c, c - 1.0, c + 1.0, np.array([np.inf, np.inf]),
    ...                           np.array([0.5, 0.5]), 0.9)
    >>> bool(lo[0] < 0.0 and hi[0] > 10.0)
    True
    """
    m = np.atleast_2d(np.asarray(centers, dtype=np.float64))
    lo_m = np.atleast_2d(np.asarray(lower, dtype=np.float64))
    hi_m = np.atleast_2d(np.asarray(upper, dtype=np.float64))
    dof = np.asarray(dof, dtype=np.float64).reshape(-1)
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    w = w / w.sum()
    q = _t_quantile(0.5 + level / 2.0, dof)[:, None]  # member quantile at the level
    with np.errstate(invalid="ignore", divide="ignore"):
        s_lo = (m - lo_m) / q
        s_hi = (hi_m - m) / q
    bad = np.any(~np.isfinite(m) | ~np.isfinite(s_lo) | ~np.isfinite(s_hi), axis=0)

    def cdf(x: np.ndarray) -> np.ndarray:
        d = x[None, :] - m
        s = np.where(d < 0, s_lo, s_hi)
        with np.errstate(invalid="ignore", divide="ignore"):
            z = np.where(s > 0, d / np.where(s > 0, s, 1.0), np.where(d >= 0, np.inf, -np.inf))
        return np.einsum("k,kn->n", w, _t_cdf(z, dof[:, None]))

    out = []
    for p in (0.5 - level / 2.0, 0.5 + level / 2.0):
        a = np.where(bad, 0.0, np.min(lo_m, axis=0))
        b = np.where(bad, 0.0, np.max(hi_m, axis=0))
        for _ in range(_STEPS):
            mid = 0.5 * (a + b)
            below = cdf(mid) < p
            a = np.where(below, mid, a)
            b = np.where(below, b, mid)
        out.append(0.5 * (a + b))
    lo = np.minimum(out[0], np.min(m, axis=0))
    hi = np.maximum(out[1], np.max(m, axis=0))
    return np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)
