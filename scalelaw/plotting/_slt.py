"""Plots of local learning coefficients and of the complexity of random networks."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["plot_llc", "plot_llc_training", "plot_redshift"]


def _figure(ncols: int, width: float = 5.0, height: float = 4.0) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height))
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, axes


def plot_llc(runs: pd.DataFrame, *, traces: dict[str, np.ndarray] | None = None) -> Any:
    """Local learning coefficient against model size, its share of ``P/2``, the loss traces.

    Parameters
    ----------
    runs : pandas.DataFrame
        Columns ``n_params, llc, llc_sd, effective_params, stable`` (as
        :class:`teacher_student.llc.LLCRuns` ``.runs``).
    traces : dict of str to ndarray, optional
        Loss traces ``[chains, steps]`` by ``run_id``: a third panel.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (not shown).

    Examples
    --------
    >>> df = pd.DataFrame({"n_params": [10, 100], "llc": [2.0, 8.0], "llc_sd": [0.2, 1.0],
    ...                    "effective_params": [0.4, 0.16], "stable": [True, False]})
    >>> len(plot_llc(df).axes)
    2
    """
    fig, axes = _figure(3 if traces else 2)
    df = runs.sort_values("n_params")
    p = df["n_params"].to_numpy(float)
    for ax, col, label in ((axes[0], "llc", "local learning coefficient"),
                           (axes[1], "effective_params", "llc / (P / 2)")):
        err = df["llc_sd"].to_numpy(float) * (1.0 if col == "llc" else 2.0 / p)
        for stable, marker in ((True, "o"), (False, "x")):
            m = df["stable"].to_numpy(bool) == stable
            if m.any():
                ax.errorbar(p[m], df[col].to_numpy(float)[m], yerr=err[m], fmt=marker,
                            capsize=3, label="stable" if stable else "not stable")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("parameters P")
        ax.set_ylabel(label)
    axes[0].plot(p, p / 2, "k--", lw=1, label="P / 2 (regular model)")
    axes[0].legend(fontsize=8)
    axes[0].set_title("LLC against model size")
    axes[1].set_title("effective share of parameters")
    if traces:
        ax = axes[2]
        for rid in df.get("run_id", pd.Series(dtype=str)):
            if rid in traces:
                tr = np.asarray(traces[rid], float)
                ax.plot(np.nanmean(tr, axis=0) / np.nanmin(tr[:, 0]), lw=0.8,
                        label=f"P = {int(df.loc[df['run_id'] == rid, 'n_params'].iloc[0])}")
        ax.set_xlabel("Langevin step")
        ax.set_ylabel("L_n / L_n(w*) (mean over chains)")
        ax.set_yscale("log")
        ax.set_title("loss traces")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_llc_training(table: pd.DataFrame) -> Any:
    """Local learning coefficient and losses against training step.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`teacher_student.llc.llc_over_training` (``step, llc,
        llc_sd, train_loss, test_loss``; one line per ``width``).

    Returns
    -------
    matplotlib.figure.Figure
        Two panels: the LLC and the losses against step.

    Examples
    --------
    >>> df = pd.DataFrame({"step": [10, 100], "width": 8, "llc": [1.0, 3.0], "llc_sd": 0.1,
    ...                    "train_loss": [0.5, 0.1], "test_loss": [0.6, 0.2]})
    >>> len(plot_llc_training(df).axes)
    2
    """
    fig, axes = _figure(2)
    for width, g in table.groupby("width"):
        g = g.groupby("step", as_index=False)[["llc", "llc_sd", "train_loss",
                                                 "test_loss"]].mean()
        axes[0].errorbar(g["step"], g["llc"], yerr=g["llc_sd"], marker="o", capsize=3,
                         label=f"width {width}")
        axes[1].plot(g["step"], g["train_loss"], "o-", label=f"train, width {width}")
        axes[1].plot(g["step"], g["test_loss"], "s--", label=f"test, width {width}")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("training step")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("local learning coefficient")
    axes[1].set_ylabel("loss")
    axes[1].set_yscale("log")
    fig.tight_layout()
    return fig


def plot_redshift(rows: pd.DataFrame, *, measure: str = "frequency") -> Any:
    """Complexity of random networks against depth, one panel per activation.

    Parameters
    ----------
    rows : pandas.DataFrame
        :class:`scalelaw.redshift.RedshiftResult` ``.rows`` (the widest width
        is shown; layer norm and residual variants as dashed and dotted lines).
    measure : str, default="frequency"
        ``frequency``, ``compressibility`` or ``polynomial_order``.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per activation: the measure against depth, a line per
        weight scale, the interval as a band.

    Examples
    --------
    >>> df = pd.DataFrame({"activation": "relu", "depth": [1, 2], "width": 8,
    ...                    "weight_scale": 1.0, "layernorm": False, "residual": False,
    ...                    "frequency": [0.5, 0.6], "frequency_ci": [(0.4, 0.6), (0.5, 0.7)]})
    >>> len(plot_redshift(df).axes)
    1
    """
    import matplotlib as mpl

    acts = list(dict.fromkeys(rows["activation"]))
    fig, axes = _figure(len(acts), width=3.6, height=3.4)
    rows = rows[rows["width"] == rows["width"].max()]
    scales = sorted(rows["weight_scale"].unique())
    cmap = mpl.colormaps["viridis"]
    styles = {(False, False): "-", (True, False): "--", (False, True): ":", (True, True): "-."}
    for ax, act in zip(axes, acts, strict=True):
        sub = rows[rows["activation"] == act]
        for (ln, res), g in sub.groupby(["layernorm", "residual"]):
            for i, s in enumerate(scales):
                h = g[g["weight_scale"] == s].sort_values("depth")
                if h.empty:
                    continue
                color = cmap(i / max(len(scales) - 1, 1))
                label = f"s = {s:g}" if (ln, res) == (False, False) else None
                ax.plot(h["depth"], h[measure], styles[(bool(ln), bool(res))], color=color,
                        marker="o", ms=3, label=label)
                ci = np.array([list(c) for c in h[f"{measure}_ci"]])
                ax.fill_between(h["depth"], ci[:, 0], ci[:, 1], color=color, alpha=0.15)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_title(act)
        ax.set_xlabel("depth")
    axes[0].set_ylabel(measure.replace("_", " "))
    axes[0].legend(fontsize=7, title="plain (-), LN (--), res (:)", title_fontsize=7)
    fig.tight_layout()
    return fig
