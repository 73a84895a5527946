"""Plot of a backtest: forecasts against actual values, per group."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from scalelaw.backtest import BacktestResult
from scalelaw.exceptions import DataValidationError

__all__ = ["plot_backtest"]


def plot_backtest(result: BacktestResult, *, groups: Sequence[Any] | None = None,
                  max_groups: int = 12) -> Any:
    """Draw each group's forecast against the actual values, with intervals.

    One panel per group, log-log: the target against the first input (against
    the product of the inputs, e.g. N x D, for several inputs). The training
    rows are grey dots with the fitted values; the held-out rows are black
    dots with the forecast and its prediction interval (band for one input,
    error bars for several) in orange; the fitted range is shaded. The
    panel's title gives the law and the held-out RMSLE.

    Parameters
    ----------
    result : BacktestResult
        A backtest (:func:`scalelaw.backtest`).
    groups : sequence, optional
        The groups to draw, by their value in ``result.groups["group"]``
        (default: the scored groups, in order).
    max_groups : int, default=12
        At most this many panels (the first ones).

    Returns
    -------
    matplotlib.figure.Figure
        The figure (not shown; save it with ``fig.savefig``).

    Raises
    ------
    DataValidationError
        Nothing was scored, or a requested group has no points.

    Examples
    --------
    >>> import numpy as np, pandas as pd, scalelaw as sl
    >>> n = np.logspace(3, 7, 30)
    >>> df = pd.DataFrame({"n": n, "L": 0.5 + 20 * n ** -0.4})
    >>> bt = sl.backtest(df, "saturating_power", x="n", y="L", holdout_largest=5)
    >>> fig = plot_backtest(bt)
    >>> len(fig.axes)
    1
    """
    from matplotlib.figure import Figure

    pts = result.points
    if pts.empty:
        raise DataValidationError("The backtest scored no group: nothing to plot.",
                                  column="group")
    scored = result.groups[result.groups["status"] == "ok"]["group"].tolist()
    chosen = scored if groups is None else list(groups)
    missing = [g for g in chosen if not (pts["group"] == g).any()
               and not (g is None and pts["group"].isna().all())]
    if missing:
        raise DataValidationError(
            f"No backtest points for group(s) {missing[:5]}; scored groups: {scored[:5]}"
            f"{' ...' if len(scored) > 5 else ''}.", column="group")
    chosen = chosen[:max_groups]
    n = len(chosen)
    ncols = min(n, 3)
    nrows = -(-n // ncols)
    fig = Figure(figsize=(4.6 * ncols, 3.6 * nrows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    xs, y = list(result.overall["x"]), str(result.overall["y"])
    rows = result.groups.set_index(result.groups["group"].astype(str))
    for ax, g in zip(axes, chosen, strict=False):
        sub = pts[pts["group"].isna()] if g is None else pts[pts["group"] == g]
        info = rows.loc[str(g)] if str(g) in rows.index else None
        _draw_group(ax, sub, xs, y, g, info)
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig


def _draw_group(ax: Any, sub: pd.DataFrame, xs: list[str], y: str, group: Any,
                info: Any) -> None:
    x = np.prod([sub[c].to_numpy(dtype=np.float64) for c in xs], axis=0)
    order = np.argsort(x, kind="stable")
    sub, x = sub.iloc[order], x[order]
    held = sub["heldout"].to_numpy(dtype=bool)
    train = ~held
    if train.any():
        ax.axvspan(x[train].min(), x[train].max(), color="0.85", alpha=0.6, lw=0,
                   label="fitted range")
        ax.scatter(x[train], sub[y][train], s=12, color="0.5", zorder=3, label="training")
    one = len(xs) == 1
    if one and train.any():
        ax.plot(x[train], sub["mean"][train], color="C0", lw=1.2, label="fit")
    if held.any():
        xh = x[held]
        mean = sub["mean"].to_numpy()[held]
        lo = sub["obs_ci_lower"].to_numpy()[held]
        hi = sub["obs_ci_upper"].to_numpy()[held]
        if one:
            ax.plot(xh, mean, color="C1", lw=1.5, label="forecast")
            ax.fill_between(xh, lo, hi, color="C1", alpha=0.25, lw=0,
                            label="prediction interval")
        else:
            ax.errorbar(xh, mean, yerr=[mean - lo, hi - mean], fmt="o", ms=3, color="C1",
                        capsize=2, label="forecast and interval")
        ax.scatter(xh, sub[y][held], s=16, color="k", zorder=4, label="actual (held out)")
    positive = bool(np.all(x > 0))
    if positive:
        ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(" x ".join(xs))
    ax.set_ylabel(y)
    law = sub["law"].iloc[0] if "law" in sub and len(sub) else ""
    rmsle = "" if info is None else f", RMSLE {float(info['rmsle']):.3g}"
    ax.set_title(f"{'' if group is None else f'{group}: '}{law}{rmsle}", fontsize=8)
    ax.legend(fontsize=6)
