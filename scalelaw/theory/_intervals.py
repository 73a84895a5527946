"""One exponent on one axis: the window, the fit and an interval that accounts for the window.

Three interval methods (``interval=``):

* ``"t"`` (default): the fit to the per-size means, Student-t with the
  fit's residual degrees of freedom (``n - 2`` for a line, ``n - 3`` with a
  fitted floor). Exact for independent Gaussian scatter of log-loss between
  runs, and unaffected by a replicate's common offset across sizes (a lucky
  initialisation), which shifts every size's mean alike.
* ``"cluster"``: cluster-robust over replicates (seeds), by linearisation,
  Student-t with ``G - 1`` degrees of freedom (``G`` replicates). Also valid
  when a replicate's *slope* differs (its runs correlated across sizes in a
  way that tilts the curve); wider with few seeds.
* ``"bootstrap"``: percentile bootstrap of the whole procedure, the window's
  choice included: replicates (or runs within each size, without replicate
  columns) are resampled, the per-size means recomputed, the window chosen
  again and the exponent refitted. Draws that fail are counted.

With ``"t"`` and ``"cluster"`` the interval is the hull of the intervals of
the chosen window and of the longer windows the data cannot rule out, taken
in turn until one is ruled out (straightness p-value below
:data:`~scalelaw.theory._window.PLAUSIBLE_LEVEL`; a window holding a ruled-out
one is ruled out too).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scalelaw._validation import RandomStateLike
from scalelaw.stats import bootstrap_counts, percentile_interval
from scalelaw.theory._engine import (
    MIN_WINDOW,
    FloorFits,
    LineWindows,
    cluster_se,
    floor_fits,
    line_windows,
    t_quantile,
)
from scalelaw.theory._runs import RunGrid, grid_deviations, grid_means
from scalelaw.theory._window import PLAUSIBLE_LEVEL, WINDOW_TEST_LEVEL, sub_windows

__all__ = ["INTERVALS", "AxisFit", "Batch", "batch_fit", "fit_axis"]

INTERVALS = ("auto", "t", "cluster", "bootstrap")


@dataclass(frozen=True)
class AxisFit:
    """The fit of one axis (the size itself, or the size less the correction)."""

    alpha: float
    ci: tuple[float, float]
    stop: int
    converged: bool
    ci_method: str
    windows: list[dict]
    sensitivity: tuple[float, float]
    power_term: np.ndarray
    floor: float
    n_boot: int
    n_failed: int
    notes: tuple[str, ...]


@dataclass(frozen=True)
class Batch:
    """The procedure's result on ``R`` tables (arrays of length ``R``)."""

    alpha: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    stop: np.ndarray
    converged: np.ndarray
    df: np.ndarray
    lines: LineWindows | None
    half: np.ndarray | None
    floors: FloorFits | None


def batch_fit(axis: np.ndarray, values: np.ndarray, how: str, *, floor: bool, auto: bool,
              level: float, interval: str = "t") -> Batch:
    """Window, exponent and interval (``"t"`` or ``"cluster"``) of ``R`` grids at once.

    Parameters
    ----------
    axis : ndarray (K,)
        Abscissa.
    values : ndarray (R, G, K)
        Runs (NaN: none).
    how : {"geometric", "arithmetic"}
        Mean over runs.
    floor, auto, level, interval
        As in :func:`fit_axis`.

    Returns
    -------
    Batch
        Arrays over the ``R`` grids.
    """
    r, _, k = values.shape
    means = grid_means(values, how)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.log(np.where(means > 0, means, np.nan))
    if floor:
        ff = floor_fits(axis, np.exp(v))
        se = ff.se
        df = (k - 3 + ff.at_bound).astype(float)
        if interval == "cluster":
            se, df = cluster_se(ff.grad, grid_deviations(values, how))
        half = t_quantile(level, df) * se
        return Batch(ff.alpha, ff.alpha - half, ff.alpha + half, np.full(r, k),
                     ff.converged, df, None, None, ff)
    u = np.log(axis)
    lw = line_windows(u, v, auto=auto, test_level=WINDOW_TEST_LEVEL,
                      plausible_level=PLAUSIBLE_LEVEL)
    ns = np.arange(k + 1, dtype=float)
    se = lw.se
    df = np.broadcast_to(ns - 2.0, (r, k + 1)).copy()
    if interval == "cluster":
        se = se.copy()
        dev = grid_deviations(values, how)
        for n in np.flatnonzero(np.isfinite(lw.alpha).any(axis=0)):
            uc = u[:n] - u[:n].mean()
            grad = np.zeros((r, k))
            grad[:, :n] = -uc / float(uc @ uc)
            se[:, n], df[:, n] = cluster_se(grad, dev)
    half = t_quantile(level, df) * se
    plaus = lw.plausible & np.isfinite(half)
    lo = np.where(plaus, lw.alpha - half, np.inf).min(axis=1)
    hi = np.where(plaus, lw.alpha + half, -np.inf).max(axis=1)
    none = ~plaus.any(axis=1)
    lo, hi = np.where(none, np.nan, lo), np.where(none, np.nan, hi)
    rows = np.arange(r)
    alpha = lw.alpha[rows, lw.stop]
    return Batch(alpha, lo, hi, lw.stop, np.isfinite(alpha), df[rows, lw.stop], lw, half,
                 None)


def _line_curve(u: np.ndarray, v: np.ndarray, alpha: float) -> np.ndarray:
    return np.exp(v.mean() - alpha * (u - u.mean()))


def fit_axis(grid: RunGrid, axis: np.ndarray, *, floor: bool, auto: bool, level: float,
             interval: str, n_boot: int, random_state: RandomStateLike) -> AxisFit:
    """Fit the exponent of ``grid`` against ``axis`` (both already cut to the candidate range).

    Parameters
    ----------
    grid : RunGrid
        Runs of the candidate range.
    axis : ndarray (K,)
        Abscissa at each size.
    floor : bool
        Fit ``E + A x^-alpha`` (every size) instead of a straight line.
    auto : bool
        Choose the window inside the range by the step-down rule.
    level : float
        Coverage.
    interval : {"t", "cluster", "bootstrap"}
        Interval method.
    n_boot : int
        Bootstrap draws.
    random_state : int, Generator or None
        Bootstrap seed.

    Returns
    -------
    AxisFit
        The fit.
    """
    k = axis.size
    b = batch_fit(axis, grid.values[None], grid.how, floor=floor, auto=auto, level=level,
                  interval="cluster" if interval == "cluster" else "t")
    alpha, ci = float(b.alpha[0]), (float(b.lo[0]), float(b.hi[0]))
    stop = int(b.stop[0])
    mean_kind = f"{grid.how} mean over runs"
    notes: list[str] = []
    if interval == "cluster":
        method = (f"cluster-robust t interval over {grid.values.shape[0]} replicates "
                  f"({grid.clusters}), {int(b.df[0])} degrees of freedom")
    elif floor:
        method = (f"t interval of the fit of L_inf + A x^-alpha to the per-size means "
                  f"({mean_kind}), {int(b.df[0])} degrees of freedom")
    else:
        method = (f"t interval of the fit to the per-size means ({mean_kind}), "
                  f"{int(b.df[0])} degrees of freedom")
    n_failed = 0
    if interval == "bootstrap":
        ci, n_failed, method = _bootstrap(grid, axis, floor, auto, level, n_boot,
                                          random_state)
    means = grid_means(grid.values, grid.how)[0]
    windows: list[dict] = []
    alts: list[float] = []
    if floor:
        ff = b.floors
        assert ff is not None
        if ff.at_bound[0]:
            notes.append("the fitted L_inf sits at its bound 0 (no floor in reach)")
        for a, e in sub_windows(0, k, k)[1:]:
            if e - a >= MIN_WINDOW:
                sub = floor_fits(axis[a:e], means[None, a:e])
                if sub.converged[0]:
                    alts.append(float(sub.alpha[0]))
        power = np.exp(ff.log_a[0]) * axis ** -alpha
        floor_value = float(ff.floor[0])
    else:
        lw, half = b.lines, b.half
        assert lw is not None and half is not None
        plaus = lw.plausible[0] & np.isfinite(half[0])
        if plaus.sum() > 1:
            extra = [int(n) for n in np.flatnonzero(plaus) if n != stop]
            notes.append(f"the interval spans the longer window(s) of {extra} sizes that the "
                         f"straightness test cannot rule out (p >= {PLAUSIBLE_LEVEL:g})")
        for n in np.flatnonzero(np.isfinite(lw.alpha[0])):
            windows.append({"n_points": int(n), "alpha": float(lw.alpha[0, n]),
                            "ci": (float(lw.alpha[0, n] - half[0, n]),
                                   float(lw.alpha[0, n] + half[0, n])),
                            "pvalue": float(lw.pvalue[0, n]) if auto else None,
                            "chosen": bool(n == stop), "plausible": bool(plaus[n])})
        u, v = np.log(axis), np.log(means)
        for a, e in sub_windows(0, stop, k)[1:]:
            uc = u[a:e] - u[a:e].mean()
            alts.append(float(-(v[a:e] @ uc) / (uc @ uc)))
        power = _line_curve(u[:stop], v[:stop], alpha)
        floor_value = 0.0
    return AxisFit(alpha=alpha, ci=ci, stop=stop, converged=bool(b.converged[0]),
                   ci_method=method, windows=windows,
                   sensitivity=(min([alpha, *alts]), max([alpha, *alts])),
                   power_term=power, floor=floor_value,
                   n_boot=n_boot if interval == "bootstrap" else 0, n_failed=n_failed,
                   notes=tuple(notes))


def _bootstrap(grid: RunGrid, axis: np.ndarray, floor: bool, auto: bool, level: float,
               n_boot: int, random_state: RandomStateLike
               ) -> tuple[tuple[float, float], int, str]:
    """Percentile bootstrap of the whole procedure (window choice included)."""
    vals = grid.values
    g, k = vals.shape
    present = np.isfinite(vals)
    if grid.clusters:
        counts = bootstrap_counts(g, n_boot, random_state=random_state)
        weights = counts[:, :, None].astype(float)
        how = f"{g} replicates ({grid.clusters}) resampled"
    else:
        cells = np.flatnonzero(present.ravel())
        counts = bootstrap_counts(cells.size, n_boot, strata=cells % k,
                                  random_state=random_state)
        weights = np.zeros((n_boot, g * k))
        weights[:, cells] = counts
        weights = weights.reshape(n_boot, g, k)
        how = "runs resampled within each size (no replicate columns)"
    means = grid_means(vals, grid.how, weights)
    with np.errstate(divide="ignore", invalid="ignore"):
        if floor:
            ff = floor_fits(axis, np.where(means > 0, means, np.nan))
            draws = np.where(ff.converged, ff.alpha, np.nan)
        else:
            lw = line_windows(np.log(axis), np.log(means), auto=auto,
                              test_level=WINDOW_TEST_LEVEL, plausible_level=PLAUSIBLE_LEVEL)
            draws = lw.alpha[np.arange(n_boot), lw.stop]
    # a draw with no run (or no positive mean) at some size fails: the window rule must
    # not quietly shorten the range around the hole
    draws = np.where((means > 0).all(axis=1), draws, np.nan)
    ci, n_failed = percentile_interval(draws, level)
    return ci, n_failed, (f"percentile bootstrap of the whole procedure"
                          f"{' (window chosen again in every draw)' if auto else ''}: "
                          f"{how}, {n_boot} draws, {n_failed} failed")
