"""Where a power law holds: the fit window of an exponent, by a stated rule."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import special

from scalelaw.exceptions import DataValidationError

__all__ = ["INTERPOLATION_RATIO", "MIN_WINDOW", "check_window", "curvature_window",
           "interpolating_window", "sub_windows"]

#: A run interpolates its training set when train loss / test loss is below this
#: (the resolution-limited regime in data; science notes, section 7).
INTERPOLATION_RATIO = 0.1
#: Fewest points of a window (two parameters and two residual degrees of freedom).
MIN_WINDOW = 4


def interpolating_window(x: np.ndarray, ratio: np.ndarray) -> tuple[int, int]:
    """The sizes where the model interpolates, contiguous from the smallest.

    Parameters
    ----------
    x : ndarray
        Sizes, ascending.
    ratio : ndarray
        Train loss over test loss at each size (a geometric mean over seeds).

    Returns
    -------
    tuple of int
        ``(start, stop)`` indices: rows ``start .. stop - 1``.

    Examples
    --------
    >>> interpolating_window(np.arange(6.0), np.array([1e-4, 1e-3, 0.02, 0.3, 0.01, 0.5]))
    (0, 3)
    """
    ok = np.asarray(ratio) < INTERPOLATION_RATIO
    stop = 0
    while stop < len(ok) and ok[stop]:
        stop += 1
    return 0, stop


def curvature_window(x: np.ndarray, y: np.ndarray, min_points: int = MIN_WINDOW,
                     level: float = 0.95) -> tuple[int, int]:
    """The longest prefix in which ``log y`` against ``log x`` stays a straight line.

    Grows the window from the ``min_points`` smallest sizes and stops before the
    first size that lies outside the prediction interval (at ``level``) of the
    line fitted to the smaller ones, or with which a quadratic term becomes
    significant (two-sided t-test at ``level``): the end of the power law,
    where a floor or a change of regime bends the curve. This is the intent of
    Sharma & Kaplan's rule (App. A.1: the prefix whose fitted circle in log-log
    has the largest radius) in a form that stays defined for exactly straight
    data and does not jump with noise.

    Parameters
    ----------
    x, y : ndarray
        Sizes (ascending) and losses.
    min_points : int, default=4
        Shortest window.
    level : float, default=0.95
        Level of both tests.

    Returns
    -------
    tuple of int
        ``(0, stop)``.

    Examples
    --------
    >>> x = np.logspace(1, 4, 10)
    >>> y = np.maximum(x ** -1.0, 1e-3)  # a power law up to x = 1000, then a floor
    >>> curvature_window(x, y)
    (0, 7)
    """
    n = len(x)
    if n <= min_points:
        return 0, n
    u, v = np.log(x), np.log(y)
    stop = min_points
    for end in range(min_points + 1, n + 1):
        if _bends(u[:end], v[:end], level) or _leaves_line(
                u[:end - 1], v[:end - 1], u[end - 1], v[end - 1], level):
            break
        stop = end
    return 0, stop


def _bends(u: np.ndarray, v: np.ndarray, level: float) -> bool:
    """Whether a quadratic term in ``v ~ u`` is significant (or exact and nonzero)."""
    n = len(u)
    a = np.c_[np.ones(n), u - u.mean(), (u - u.mean()) ** 2]
    coef, *_ = np.linalg.lstsq(a, v, rcond=None)
    resid = v - a @ coef
    dof = n - 3
    s2 = float(resid @ resid) / dof
    se = float(np.sqrt(max(s2 * np.linalg.pinv(a.T @ a)[2, 2], 0.0)))
    if se <= 1e-12 * (1 + abs(coef[1])):
        return abs(coef[2]) > 1e-9 * (1 + abs(coef[1]))
    return abs(coef[2]) / se > special.stdtrit(dof, 0.5 + level / 2)


def _leaves_line(u: np.ndarray, v: np.ndarray, u_new: float, v_new: float,
                 level: float) -> bool:
    """Whether ``(u_new, v_new)`` lies outside the prediction interval of the line."""
    n = len(u)
    slope, icept = np.polyfit(u, v, 1)
    resid = v - (icept + slope * u)
    dof = n - 2
    s2 = float(resid @ resid) / dof
    sxx = float(np.sum((u - u.mean()) ** 2))
    se = np.sqrt(s2 * (1 + 1 / n + (u_new - u.mean()) ** 2 / sxx))
    dev = abs(v_new - (icept + slope * u_new))
    if se <= 1e-12:
        return dev > 1e-9 * (1 + abs(v_new))
    return dev / se > special.stdtrit(dof, 0.5 + level / 2)


def sub_windows(start: int, stop: int, n: int, min_points: int = MIN_WINDOW
                ) -> list[tuple[int, int]]:
    """The window and its neighbours: one point more or fewer at either end.

    Used to report how much an exponent depends on the window.

    Parameters
    ----------
    start, stop : int
        The chosen window.
    n : int
        Number of points available.
    min_points : int, default=4
        Shortest window kept.

    Returns
    -------
    list of tuple of int
        Windows (the chosen one first).

    Examples
    --------
    >>> sub_windows(0, 5, 6)[:3]
    [(0, 5), (0, 4), (0, 6)]
    """
    out = [(start, stop)]
    for ds in (0, 1, -1):
        for de in (-1, 1, 0):
            w = (start + ds, stop + de)
            if w not in out and w[0] >= 0 and w[1] <= n and w[1] - w[0] >= min_points:
                out.append(w)
    return out


def check_window(window: Sequence[float], x: np.ndarray) -> tuple[int, int]:
    """Rows of ``x`` (ascending) inside an explicit ``(lo, hi)`` window.

    Parameters
    ----------
    window : sequence of two floats
        ``(lo, hi)`` in the units of ``x``.
    x : ndarray
        Sizes, ascending.

    Returns
    -------
    tuple of int
        ``(start, stop)``.
    """
    if len(window) != 2 or not window[0] < window[1]:
        raise DataValidationError(
            f"A window is a pair (lo, hi) with lo < hi. Got {list(window)!r} instead.",
            column="window")
    inside = np.flatnonzero((x >= window[0]) & (x <= window[1]))
    if inside.size == 0:
        raise DataValidationError(f"The window {list(window)!r} holds no point.",
                                  column="window")
    return int(inside[0]), int(inside[-1]) + 1
