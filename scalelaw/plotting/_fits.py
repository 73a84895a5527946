"""Plots of fits (matplotlib, imported only when a plot is made; never shown)."""

from __future__ import annotations

from typing import Any

import numpy as np

from scalelaw.forecast import log_mean_band
from scalelaw.laws import Inputs
from scalelaw.results import CombinedFit, FitResult, GroupedFitResult

__all__ = ["plot_fit"]


def plot_fit(result: FitResult | CombinedFit | GroupedFitResult, *,
             level: float | None = None, ax: Any = None) -> Any:
    """Plot data, fitted law with its interval band, and residuals.

    The main panel is log-log: target against the first input, with the
    fitted curve and the interval of the mean curve (bootstrap percentiles
    when the fit has replicas, else the delta method). Two-input laws draw
    one curve per quantile of the second input, points coloured by it. A
    second panel shows residuals on the fitted scale. A
    :class:`~scalelaw.GroupedFitResult` draws every group in one panel, one
    colour per group (one-input laws; two-input laws get one panel each).

    Parameters
    ----------
    result : FitResult, CombinedFit or GroupedFitResult
        The fit(s); a combination draws its combined curve and interval.
    level : float, optional
        Band coverage (default: the fit's level).
    ax : matplotlib.axes.Axes, optional
        Draw the main panel into these axes (no residual panel) instead of a
        new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (not shown; save it with ``fig.savefig``).

    Examples
    --------
    >>> import numpy as np, pandas as pd, scalelaw as sl
    >>> from scalelaw.plotting import plot_fit
    >>> n = np.logspace(6, 9, 12)
    >>> res = sl.fit("power", pd.DataFrame({"n": n, "L": 2 * n ** -0.1}), x="n", y="L")
    >>> fig = plot_fit(res)
    >>> len(fig.axes)
    2
    """
    from matplotlib.figure import Figure

    if isinstance(result, GroupedFitResult):
        return _plot_groups(result, level, ax)
    if ax is None:
        fig = Figure(figsize=(7.0, 6.0), layout="constrained")
        ax, axr = fig.subplots(2, 1, height_ratios=[3, 1], sharex=True)
    else:
        fig, axr = ax.figure, None
    _draw_fit(ax, result, result.level if level is None else level, color="C0")
    ax.set_title(f"{_formula(result)}  ({result.objective}, n={result.n_obs})", fontsize=9)
    ax.legend(fontsize=8)
    if axr is not None:
        _draw_residuals(axr, result)
    return fig


def _formula(result: FitResult | CombinedFit) -> str:
    return result.formula if isinstance(result, CombinedFit) else result.law.formula


def _name(result: FitResult | CombinedFit) -> str:
    return result.name if isinstance(result, CombinedFit) else result.law.name


def _draw_fit(ax: Any, result: FitResult | CombinedFit, level: float, color: str,
              label: str | None = None) -> None:
    from matplotlib import colormaps
    from matplotlib.colors import LogNorm

    data = result.data
    x0 = data[result.x[0]].to_numpy()
    yv = data[result.y].to_numpy()
    lo0, hi0 = result.domain[result.x[0]]
    positive = lo0 > 0
    grid = (np.logspace(np.log10(lo0) - 0.1, np.log10(hi0) + 0.1, 200) if positive
            else np.linspace(lo0, hi0, 200))

    def band(cols: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if isinstance(result, CombinedFit):
            return result.mean_band(level, **dict(zip(result.x, cols, strict=True)))
        log_mean, _, (lo, hi) = log_mean_band(result, Inputs(cols), level)
        return np.exp(log_mean), np.exp(lo), np.exp(hi)

    if len(result.x) == 1:
        ax.scatter(x0, yv, s=18, color="k" if label is None else color, zorder=3,
                   label="data" if label is None else None)
        mean, lo, hi = band([grid])
        ax.plot(grid, mean, color=color, label=label or f"fit: {_name(result)}")
        ax.fill_between(grid, lo, hi, color=color, alpha=0.25,
                        label=None if label else f"{level:.0%} interval of the mean")
    else:
        x1 = data[result.x[1]].to_numpy()
        norm = LogNorm(vmin=x1.min(), vmax=x1.max())
        cmap = colormaps["viridis"]
        sc = ax.scatter(x0, yv, c=x1, cmap=cmap, norm=norm, s=18, zorder=3)
        ax.figure.colorbar(sc, ax=ax, label=result.x[1])
        for q in np.quantile(x1, [0.05, 0.5, 0.95]):
            mean, lo, hi = band([grid, np.full_like(grid, q)])
            ax.plot(grid, mean, color=cmap(norm(q)))
            ax.fill_between(grid, lo, hi, color=cmap(norm(q)), alpha=0.2)
        ax.plot([], [], color="grey", label=f"fit at 3 values of {result.x[1]}")
    if positive:
        ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(result.x[0])
    ax.set_ylabel(result.y)


def _draw_residuals(axr: Any, result: FitResult | CombinedFit) -> None:
    data = result.data
    x0 = data[result.x[0]].to_numpy()
    yv = data[result.y].to_numpy()
    fitted = result.predict(**{c: data[c].to_numpy() for c in result.x})
    if result.objective.endswith("_log"):
        resid = np.log(yv) - np.log(fitted)
        axr.set_ylabel("log residual")
    else:
        resid = yv - fitted
        axr.set_ylabel("residual")
    axr.axhline(0.0, color="grey", lw=0.8)
    axr.scatter(x0, resid, s=10, color="k")
    axr.set_xlabel(result.x[0])


def _plot_groups(grouped: GroupedFitResult, level: float | None, ax: Any) -> Any:
    from matplotlib.figure import Figure

    results = list(grouped.results.items())
    if not results:
        fig = Figure(figsize=(5.0, 3.0)) if ax is None else ax.figure
        (ax or fig.subplots()).text(0.5, 0.5, "no group was fitted", ha="center")
        return fig
    one_input = all(len(r.x) == 1 for _, r in results)
    if one_input:
        if ax is None:
            fig = Figure(figsize=(7.0, 5.0), layout="constrained")
            ax = fig.subplots()
        for i, (g, r) in enumerate(results):
            _draw_fit(ax, r, r.level if level is None else level, color=f"C{i % 10}",
                      label=f"{', '.join(grouped.group)} = {g}")
        ax.set_title(f"{_name(results[0][1])}: one fit per {', '.join(grouped.group)}",
                     fontsize=9)
        ax.legend(fontsize=7)
        return ax.figure
    n = len(results)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig = Figure(figsize=(5.0 * cols, 4.0 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for a, (g, r) in zip(axes, results, strict=False):
        _draw_fit(a, r, r.level if level is None else level, color="C0")
        a.set_title(f"{', '.join(grouped.group)} = {g}", fontsize=9)
    for a in axes[n:]:
        a.set_visible(False)
    return fig
