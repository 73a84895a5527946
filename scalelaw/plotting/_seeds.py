"""Plots of seed lotteries and variance decompositions."""

from __future__ import annotations

from typing import Any

import numpy as np

from scalelaw.lottery import BOUNDED_MAX_XI, LIGHT_MAX_XI, LotteryResult
from scalelaw.variance import VarianceResult

__all__ = ["plot_best_of_k", "plot_lottery", "plot_tail_index", "plot_variance"]


def _axes(ax: Any, size: tuple[float, float] = (6.0, 4.0)) -> tuple[Any, Any]:
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=size)
        return fig, ax
    return ax.figure, ax


def _positions(result: LotteryResult) -> tuple[np.ndarray, bool]:
    sizes = [g.size for g in result.groups]
    if None in sizes:
        return np.arange(len(sizes), dtype=float), False
    return np.asarray(sizes, dtype=float), True


def plot_lottery(result: LotteryResult, *, ax: Any = None) -> Any:
    """Outcome distribution per size: every run (jittered), median, outliers and failures.

    Parameters
    ----------
    result : LotteryResult
        From :func:`scalelaw.lottery.analyze_lottery`.
    ax : matplotlib Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (not shown).

    Examples
    --------
    >>> import pandas as pd
    >>> from scalelaw.lottery import analyze_lottery
    >>> df = pd.DataFrame({"loss": np.random.default_rng(0).normal(1, 0.1, 20)})
    >>> fig = plot_lottery(analyze_lottery(df, "loss", n_boot=20))
    """
    fig, ax = _axes(ax)
    pos, log = _positions(result)
    rng = np.random.default_rng(0)
    for p, g in zip(pos, result.groups, strict=True):
        vals = np.asarray(g.values)
        rows = np.asarray(g.rows)
        spread = (0.08 * p) if log else 0.15
        xs = p + rng.uniform(-spread, spread, vals.size)
        out = np.isin(rows, [o["row"] for o in g.outliers])
        fail = np.isin(rows, g.failures)
        ax.scatter(xs[~out & ~fail], vals[~out & ~fail], s=10, color="C0", alpha=0.6)
        ax.scatter(xs[out & ~fail], vals[out & ~fail], s=25, color="C3", label=None)
        ax.scatter(xs[fail], vals[fail], s=30, marker="x", color="k")
        ax.hlines(g.median, p - 1.5 * spread, p + 1.5 * spread, color="k", lw=1.5)
    if log:
        ax.set_xscale("log")
        ax.set_xlabel(result.settings.get("size") or "size")
    else:
        ax.set_xticks(pos, ["all runs"] * len(pos))
    tr = result.settings.get("transform", "none")
    val = result.settings.get("value", "value")
    ax.set_ylabel(val if tr == "none" else f"{tr}({val})")
    ax.set_title("Outcomes across seeds (red: outliers, x: failures, bar: median)",
                 fontsize=9)
    return fig


def plot_tail_index(result: LotteryResult, *, ax: Any = None) -> Any:
    """Extreme-value index of each tail against size: the moment estimate (circles) and
    the GPD fit (squares) with their intervals, and the lines the tail class reads
    against (an interval above 0 says heavy, below the light margin light, below the
    bounded margin bounded; both estimators must agree).

    Returns
    -------
    matplotlib.figure.Figure
        The figure (not shown).
    """
    fig, ax = _axes(ax)
    pos, log = _positions(result)
    drawn = 0
    for tail, color, shift in (("upper", "C3", 1.0), ("lower", "C0", -1.0)):
        for est, marker, off in (("", "o", 0.02), ("_gpd", "s", 0.05)):
            xi = np.array([getattr(g, f"xi_{tail}{est}") for g in result.groups], dtype=float)
            ci = np.array([getattr(g, f"xi_{tail}{est}_ci") for g in result.groups],
                          dtype=float)
            x = pos * (1 + shift * off) if log else pos + shift * off * 5
            ok = np.isfinite(xi) & np.isfinite(ci).all(axis=1)
            if not ok.any():
                continue
            drawn += 1
            label = f"{tail} tail, {'moment' if not est else 'GPD'}"
            # an interval without an upper end (inf) is drawn to the top of the axes
            hi = np.where(np.isinf(ci[ok, 1]), np.nanmax(np.r_[xi[ok], 3.0]), ci[ok, 1])
            ax.errorbar(x[ok], xi[ok], yerr=[xi[ok] - ci[ok, 0], hi - xi[ok]], fmt=marker,
                        color=color, mfc="white" if est else color, capsize=3, label=label)
    if not drawn:
        ax.text(0.5, 0.5, "no tail index: too few runs per size", transform=ax.transAxes,
                ha="center", va="center")
        log = False
    ax.axhline(0.0, color="k", lw=0.8)
    ax.axhline(LIGHT_MAX_XI, color="0.4", lw=0.8, ls="--", label=f"light margin {LIGHT_MAX_XI}")
    ax.axhline(BOUNDED_MAX_XI, color="0.4", lw=0.8, ls=":",
               label=f"bounded margin {BOUNDED_MAX_XI}")
    if log:
        ax.set_xscale("log")
    ax.set_xlabel(result.settings.get("size") or "group")
    ax.set_ylabel("tail index xi")
    ax.legend(fontsize=7)
    return fig


def plot_best_of_k(result: LotteryResult, *, ax: Any = None) -> Any:
    """Expected best of ``k`` seeds against ``k`` per size: unbiased (solid), Dodge et al.
    plug-in (dashed), extreme-value extrapolation (dotted).

    Returns
    -------
    matplotlib.figure.Figure
        The figure (not shown).
    """
    fig, ax = _axes(ax)
    for i, g in enumerate(result.groups):
        c = f"C{i % 10}"
        label = "all runs" if g.size is None else f"{g.size:g}"
        if g.best_of_k:
            k = np.array(list(g.best_of_k), dtype=float)
            ax.plot(k, list(g.best_of_k.values()), "-o", color=c, ms=3, label=label)
            ax.plot(k, list(g.best_of_k_plugin.values()), "--", color=c, lw=0.8)
        if g.best_of_k_extrapolated and np.all(np.isfinite(
                list(g.best_of_k_extrapolated.values()))):
            k0 = max(g.best_of_k) if g.best_of_k else 1
            ks = [k0, *g.best_of_k_extrapolated]
            vs = [g.best_of_k.get(k0, np.nan), *g.best_of_k_extrapolated.values()]
            ax.plot(ks, vs, ":", color=c)
    ax.set_xscale("log")
    ax.set_xlabel("k (runs)")
    ax.set_ylabel(f"expected best of k ({result.settings.get('value', 'value')})")
    ax.legend(fontsize=8, title=result.settings.get("size") or None)
    return fig


def plot_variance(result: VarianceResult, *, threshold: float | None = None,
                  ax: Any = None) -> Any:
    """Stacked variance components (clipped at 0) and bias squared against size.

    Parameters
    ----------
    result : VarianceResult
        From :func:`scalelaw.variance.decompose_table`.
    threshold : float, optional
        Size of the interpolation threshold (e.g. the number of training
        points), marked by a vertical line.
    ax : matplotlib Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (not shown).
    """
    from matplotlib.ticker import NullLocator

    own = ax is None
    fig, ax = _axes(ax, (7.0, 4.5))
    frame = result.to_frame()
    comps = list(result.results[0].components)
    x = frame["size"].to_numpy(dtype=float)
    stack = np.clip(frame[comps].to_numpy(dtype=float), 0, None).T
    ax.stackplot(x, stack, labels=comps, alpha=0.8)
    if frame["bias2"].notna().any():
        ax.plot(x, frame["bias2"], "k--", label="bias squared")
    if threshold is not None:
        ax.axvline(threshold, color="k", lw=1, label="interpolation threshold")
    ax.set_xscale("log")
    ax.set_xticks(x, [f"{v:g}" for v in x])
    ax.xaxis.set_minor_locator(NullLocator())
    # linear below a tenth of the smallest total, logarithmic above: a variance
    # peak orders of magnitude above the rest stays readable beside it
    totals = frame["total"].to_numpy(dtype=float)
    positive = totals[np.isfinite(totals) & (totals > 0)]
    ax.set_yscale("symlog", linthresh=0.1 * positive.min() if positive.size else 1e-12)
    ax.set_xlabel(result.settings.get("size") or "size")
    ax.set_ylabel("variance (averaged over test points)")
    ax.legend(fontsize=7, ncol=2)
    if own:
        fig.tight_layout()
    return fig
