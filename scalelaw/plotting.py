"""Plots of fits (matplotlib, imported only when a plot is made; never shown)."""

from __future__ import annotations

from typing import Any

import numpy as np

from scalelaw.forecast import log_mean_band
from scalelaw.laws import Inputs
from scalelaw.results import FitResult, GroupedFitResult
from scalelaw.theory import TheoryCheck

__all__ = ["plot_checks", "plot_dimension_check", "plot_fit"]


def plot_fit(result: FitResult | GroupedFitResult, *, level: float | None = None,
             ax: Any = None) -> Any:
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
    result : FitResult or GroupedFitResult
        The fit(s).
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
    ax.set_title(f"{result.law.formula}  ({result.objective}, n={result.n_obs})",
                 fontsize=9)
    ax.legend(fontsize=8)
    if axr is not None:
        _draw_residuals(axr, result)
    return fig


def _draw_fit(ax: Any, result: FitResult, level: float, color: str,
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
        log_mean, _, (lo, hi) = log_mean_band(result, Inputs(cols), level)
        return np.exp(log_mean), np.exp(lo), np.exp(hi)

    if len(result.x) == 1:
        ax.scatter(x0, yv, s=18, color="k" if label is None else color, zorder=3,
                   label="data" if label is None else None)
        mean, lo, hi = band([grid])
        ax.plot(grid, mean, color=color, label=label or f"fit: {result.law.name}")
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


def _draw_residuals(axr: Any, result: FitResult) -> None:
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
        ax.set_title(f"{results[0][1].law.name}: one fit per {', '.join(grouped.group)}",
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


def plot_checks(checks: list[TheoryCheck], *, x: str, y: str, title: str | None = None,
                ax: Any = None) -> Any:
    """Log-log plot of the slices of theory checks: points, fitted law, exponent band.

    Each slice shows the quantity that scales at every size (geometric mean
    over seeds): the loss (resolution-limited) or its excess ``L - L_inf``
    over the limit (variance-limited), the power law fitted over its window,
    and the band of slopes within the exponent's interval pivoting at the
    window's centre.

    Parameters
    ----------
    checks : list of TheoryCheck
        From :func:`scalelaw.theory.check_scaling`.
    x, y : str
        Axis labels.
    title : str, optional
        Panel title.
    ax : matplotlib.axes.Axes, optional
        Draw into these axes instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (not shown).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from scalelaw.theory import check_scaling
    >>> D = np.repeat(2.0 ** np.arange(5, 12), 2)
    >>> df = pd.DataFrame({"n_train": D, "n_params": 4e4, "test_loss": 3 * D ** -0.5})
    >>> fig = plot_checks(check_scaling(df, "n_train", "test_loss", dimension=8),
    ...                   x="n_train", y="test_loss")
    >>> len(fig.axes)
    1
    """
    from matplotlib.figure import Figure

    if ax is None:
        fig = Figure(figsize=(6.0, 4.5), layout="constrained")
        ax = fig.subplots()
    for i, c in enumerate(checks):
        color = f"C{i % 10}"
        pts = c.details.get("points")
        name = "" if c.group is None else f"{c.group}: "
        if not pts:
            continue
        ax.scatter(pts["x"], pts["y"], s=14, color=color, zorder=3)
        curve = c.details.get("curve")
        if curve and np.isfinite(c.alpha):
            cx, cy = np.asarray(curve["x"]), np.asarray(curve["y"])
            ax.plot(cx, cy, color=color, label=f"{name}alpha = {c.alpha:.2f} ({c.verdict})")
            lo, hi = c.alpha_ci
            if np.isfinite(lo) and np.isfinite(hi):
                mid = np.sqrt(cx[0] * cx[-1])
                y_mid = np.exp(np.interp(np.log(mid), np.log(cx), np.log(cy)))
                ax.fill_between(cx, y_mid * (cx / mid) ** -lo, y_mid * (cx / mid) ** -hi,
                                color=color, alpha=0.15)
        else:
            ax.plot([], [], color=color, label=f"{name}{c.verdict}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(x)
    regimes = {c.regime for c in checks}
    ax.set_ylabel(f"{y} - L_inf" if regimes == {"variance"} else
                  y if "variance" not in regimes else f"{y} (variance-limited: {y} - L_inf)")
    if title:
        ax.set_title(title, fontsize=9)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    return ax.figure


def plot_dimension_check(checks: list[TheoryCheck], *, labels: list[str] | None = None,
                         ax: Any = None) -> Any:
    """``4/alpha`` against the intrinsic dimension, with the line ``4/alpha = d``.

    Points on the line are at the resolution-limited prediction; points below
    it have ``alpha > 4/d`` (allowed by the bound ``alpha >= 4/d``).

    Parameters
    ----------
    checks : list of TheoryCheck
        Resolution-limited checks with a dimension (others are skipped).
    labels : list of str, optional
        One per check (default: the group).
    ax : matplotlib.axes.Axes, optional
        Draw into these axes.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (not shown).

    Examples
    --------
    >>> from scalelaw.theory import TheoryCheck
    >>> c = TheoryCheck("d=4", "resolution", 1.0, (0.9, 1.1), 1.0, 4.0, "consistent",
    ...                 (64.0, 1024.0), "", {"dimension_ci": [3.8, 4.2]})
    >>> fig = plot_dimension_check([c])
    >>> len(fig.axes)
    1
    """
    from matplotlib.figure import Figure

    if ax is None:
        fig = Figure(figsize=(4.8, 4.5), layout="constrained")
        ax = fig.subplots()
    top = 1.0
    for i, c in enumerate(checks):
        if c.regime != "resolution" or c.dimension is None or not c.alpha > 0:
            continue
        d = c.dimension
        d_lo, d_hi = c.details.get("dimension_ci", [d, d])
        lo, hi = c.alpha_ci
        y_val = 4.0 / c.alpha
        y_lo = 4.0 / hi if hi > 0 else y_val
        y_hi = 4.0 / lo if lo > 0 else 2 * y_val
        label = labels[i] if labels else str(c.group)
        ax.errorbar([d], [y_val], xerr=[[d - d_lo], [d_hi - d]],
                    yerr=[[y_val - y_lo], [y_hi - y_val]], fmt="o", color=f"C{i % 10}",
                    capsize=3, label=label)
        top = max(top, d_hi, min(y_hi, 4 * y_val))
    line = np.array([0.0, top * 1.15])
    ax.plot(line, line, color="grey", ls="--", lw=1, label="4/alpha = d")
    ax.set_xlim(0, line[1])
    ax.set_ylim(0, line[1])
    ax.set_xlabel("intrinsic dimension d (measured)")
    ax.set_ylabel("4 / alpha")
    ax.legend(fontsize=7)
    return ax.figure
