"""Plots of theory checks: slices with their fitted laws, and 4/alpha against d."""

from __future__ import annotations

from typing import Any

import numpy as np

from scalelaw.theory import TheoryCheck

__all__ = ["plot_checks", "plot_dimension_check"]


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
    >>> D = 2.0 ** np.arange(5, 12)
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
        name = "" if c.group is None else f"{c.group}: "
        if c.fit is None or not c.fit.points[0]:
            continue
        px, py = np.asarray(c.fit.points[0]), np.asarray(c.fit.points[1])
        shown = py > 0  # a size whose mean excess is not positive cannot sit on a log axis
        ax.scatter(px[shown], py[shown], s=14, color=color, zorder=3)
        if c.fit.curve[0] and np.isfinite(c.alpha):
            cx, cy = np.asarray(c.fit.curve[0]), np.asarray(c.fit.curve[1])
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
    it have ``alpha > 4/d`` (allowed by the bound ``alpha >= 4/d``). Horizontal
    bars: the range of ``d`` the check allowed (its interval, with the bias
    allowance of a lower bound).

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
    >>> from scalelaw.theory import DimensionEstimate, TheoryCheck
    >>> c = TheoryCheck("d=4", "resolution", 1.0, (0.9, 1.1), 1.0, 4.0, "consistent",
    ...                 (64.0, 1024.0), "",
    ...                 dimension_estimate=DimensionEstimate(4.0, (3.8, 4.2)))
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
        d_lo, d_hi = (c.dimension_estimate.plausible if c.dimension_estimate is not None
                      else (d, d))
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
