"""Plots of fits (matplotlib, imported only when a plot is made; never shown)."""

from __future__ import annotations

from typing import Any

import numpy as np

from scalelaw.laws import Inputs
from scalelaw.results import FitResult

__all__ = ["plot_fit"]


def plot_fit(result: FitResult, *, level: float | None = None) -> Any:
    """Plot data, fitted law with its interval band, and residuals.

    The upper panel is log-log: target against the first input, with the
    fitted curve and the interval of the mean curve (bootstrap percentiles
    when the fit has replicas, else the delta method). Two-input laws draw
    one curve per quantile of the second input, points coloured by it. The
    lower panel shows residuals on the fitted scale.

    Parameters
    ----------
    result : FitResult
        The fit.
    level : float, optional
        Band coverage (default: the fit's level).

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
    from matplotlib import colormaps
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure

    level = result.level if level is None else level
    fig = Figure(figsize=(7.0, 6.0), layout="constrained")
    ax, axr = fig.subplots(2, 1, height_ratios=[3, 1], sharex=True)
    data = result.data
    x0 = data[result.x[0]].to_numpy()
    yv = data[result.y].to_numpy()
    lo0, hi0 = result.domain[result.x[0]]
    grid = np.logspace(np.log10(lo0) - 0.1, np.log10(hi0) + 0.1, 200)
    fitted = result.predict(**{c: data[c].to_numpy() for c in result.x})
    if len(result.x) == 1:
        ax.scatter(x0, yv, s=18, color="k", zorder=3, label="data")
        mean, lo, hi = result._band(Inputs([grid]), level)
        ax.plot(grid, mean, color="C0", label=f"fit: {result.law.name}")
        ax.fill_between(grid, lo, hi, color="C0", alpha=0.25,
                        label=f"{level:.0%} interval of the mean")
    else:
        x1 = data[result.x[1]].to_numpy()
        norm = LogNorm(vmin=x1.min(), vmax=x1.max())
        cmap = colormaps["viridis"]
        sc = ax.scatter(x0, yv, c=x1, cmap=cmap, norm=norm, s=18, zorder=3)
        fig.colorbar(sc, ax=ax, label=result.x[1])
        for q in np.quantile(x1, [0.05, 0.5, 0.95]):
            mean, lo, hi = result._band(Inputs([grid, np.full_like(grid, q)]), level)
            ax.plot(grid, mean, color=cmap(norm(q)))
            ax.fill_between(grid, lo, hi, color=cmap(norm(q)), alpha=0.2)
        ax.plot([], [], color="grey", label=f"fit at 3 values of {result.x[1]}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylabel(result.y)
    ax.set_title(f"{result.law.formula}  ({result.objective}, n={result.n_obs})",
                 fontsize=9)
    ax.legend(fontsize=8)
    if result.objective.endswith("_log"):
        resid = np.log(yv) - np.log(fitted)
        axr.set_ylabel("log residual")
    else:
        resid = yv - fitted
        axr.set_ylabel("residual")
    axr.axhline(0.0, color="grey", lw=0.8)
    axr.scatter(x0, resid, s=10, color="k")
    axr.set_xlabel(result.x[0])
    return fig
