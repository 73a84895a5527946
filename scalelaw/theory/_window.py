"""Where a power law holds: the fit window of an exponent, by a stated rule."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from scalelaw.exceptions import DataValidationError
from scalelaw.theory._engine import MIN_WINDOW, line_windows

__all__ = ["INTERPOLATION_RATIO", "MIN_WINDOW", "PLAUSIBLE_LEVEL", "WINDOW_TEST_LEVEL",
           "check_window", "curvature_window", "interpolating_window", "sub_windows"]

#: A run interpolates its training set when train loss / test loss is below this
#: (the resolution-limited regime in data; science notes, section 7).
INTERPOLATION_RATIO = 0.1
#: Level of the straightness test of the step-down window rule: a straight power
#: law keeps its whole range with probability 1 - 0.05.
WINDOW_TEST_LEVEL = 0.05
#: Longer windows whose straightness p-value is at least this are not ruled out:
#: the exponent's interval spans theirs too (it accounts for the window's choice).
PLAUSIBLE_LEVEL = 0.001


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
                     level: float = WINDOW_TEST_LEVEL) -> tuple[int, int]:
    """The longest prefix in which ``log y`` against ``log x`` stays a straight line.

    A step-down rule with its error rate controlled: test the whole range for
    straightness; if the test rejects at ``level``, drop the largest size and
    test again, until a window passes or ``min_points`` sizes are left. A
    straight power law is therefore kept whole unless the *first* test
    rejects, which happens with probability ``level`` (5 %) however many
    sizes there are; a rule that grows the window from the smallest sizes
    and stops at the first rejection makes one test per size and cuts a
    straight law short far more often (64 of 180 simulated sweeps).

    The straightness test is the Bonferroni combination (each at
    ``level / 2``) of two t-tests with ``n - 3`` degrees of freedom on the
    per-size values: the quadratic term of ``log y ~ 1 + log x + log^2 x``
    (a gradual bend, as towards a floor) and the largest size against the
    line through the others (a kink, as at a change of regime). This is the
    intent of Sharma & Kaplan's rule (App. A.1: the prefix whose fitted
    circle in log-log has the largest radius) in a form that is defined for
    exactly straight data and whose error rate is known.

    Parameters
    ----------
    x, y : ndarray
        Sizes (ascending) and per-size losses (positive).
    min_points : int, default=4
        Shortest window.
    level : float, default=0.05
        Level of the straightness test.

    Returns
    -------
    tuple of int
        ``(0, stop)``: rows ``0 .. stop - 1``.

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
    fits = line_windows(np.log(np.asarray(x, float)), np.log(np.asarray(y, float))[None],
                        auto=True, test_level=level, plausible_level=level,
                        min_points=min_points)
    return 0, int(fits.stop[0])


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
