"""The demo's seed section: double descent in min-norm random-features regression,
its variance components and the lottery of run outcomes across width."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["seed_section"]

#: Per scale: widths (as m / n), crossed levels (data x init x noise), runs per width
#: for the lottery, and the lottery's widths (as m / n).
_SCALES = {
    "test": {"ratios": [0.5, 1.0, 2.0], "levels": (3, 3, 2), "runs": 60,
             "lottery": [0.5, 1.0, 2.0], "n_boot": 50},
    "demo": {"ratios": [0.25, 0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 2.0, 4.0], "levels": (6, 6, 4),
             "runs": 300, "lottery": [0.25, 1.0, 2.0], "n_boot": 200},
}


def seed_section(out: Path, scale: str = "demo", *, plots: bool = True) -> dict[str, Any]:
    """Run the random-features double descent and analyse it.

    The variance of the predictions (crossed 6 data draws x 6 feature draws x
    4 noise draws per width) is split into its sources; the run-level test
    error (independent runs) is analysed as a seed lottery per width.

    Parameters
    ----------
    out : Path
        Where the plots go.
    scale : {"test", "demo"}, default="demo"
        Size.
    plots : bool, default=True
        Write ``seeds_variance.png`` and ``seeds_lottery.png``.

    Returns
    -------
    dict
        ``variance`` (rows per width), ``lottery`` (the lottery result's dict
        without per-run values), ``peak_width``, ``n_train``, ``images``,
        ``markdown`` (lines for the report).
    """
    from scalelaw.lottery import analyze_lottery
    from scalelaw.variance import crossed_components
    from teacher_student.double_descent import RandomFeaturesRegression

    cfg = _SCALES.get(scale, _SCALES["demo"])
    task = RandomFeaturesRegression()
    n = task.n_train
    widths = [round(r * n) for r in cfg["ratios"]]
    cube, _ = task.crossed_predictions(widths, *cfg["levels"])
    rows = []
    for m, c in zip(widths, cube, strict=True):
        vc = crossed_components(c, target=task.y_test)
        comp = vc.components
        rows.append({"width": m, "m_over_n": m / n, **comp, "total": vc.total,
                     "bias2": vc.bias2, "ensembled_over_init": vc.without("init"),
                     "interaction_share": (comp["data:init"] + comp["data:init:noise"])
                     / vc.total})
    peak = widths[int(np.argmax([r["total"] for r in rows]))]
    runs = task.run_losses([round(r * n) for r in cfg["lottery"]], n_runs=cfg["runs"])
    lot = analyze_lottery(runs, "test_mse", size="width", seed="seed", n_boot=cfg["n_boot"])
    images = []
    if plots:
        images = _plots(out, rows, lot, n)
    lot_dict = lot.to_dict()
    for g in lot_dict["groups"]:
        g.pop("values"), g.pop("rows")
    md = ["## Seeds: variance components and lotteries", "",
          f"Min-norm random-features regression (d = {task.dim}, n = {n} training points, "
          f"label noise {task.noise}); crossed {' x '.join(map(str, cfg['levels']))} "
          "(data x init x noise) fits per width.", "",
          f"- The prediction variance peaks at width {peak} (m/n = {peak / n:.2f}); at the "
          "neighbouring widths the data x init interactions carry "
          + ", ".join(f"{r['interaction_share']:.0%} (m/n = {r['m_over_n']:.2f})"
                      for r in rows if r["m_over_n"] in (0.9, 1.1)) + " of it.",
          "- Averaging over init (ensembling) leaves "
          + ", ".join(f"{r['ensembled_over_init']:.3g}" for r in rows) + " across widths."]
    for g in lot.groups:
        md.append(f"- Runs at width {g.size:g} (m/n = {g.size / n:.2f}): median test MSE "
                  f"{g.median:.3g}, upper tail index {g.xi_upper:.2f} "
                  f"[{g.xi_upper_ci[0]:.2f}, {g.xi_upper_ci[1]:.2f}], "
                  f"**{g.tail_class_upper}**.")
    return {"variance": rows, "lottery": lot_dict, "peak_width": peak, "n_train": n,
            "images": images, "markdown": md}


def _plots(out: Path, rows: list[dict], lot: Any, n: int) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from scalelaw.plotting import plot_best_of_k, plot_lottery, plot_tail_index

    out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    names = [k for k in rows[0] if ":" in k or k in ("data", "init", "noise")]
    x = np.array([r["width"] for r in rows], dtype=float)
    ax.stackplot(x, np.clip([[r[k] for r in rows] for k in names], 0, None), labels=names,
                 alpha=0.8)
    ax.plot(x, [r["bias2"] for r in rows], "k--", label="bias squared")
    ax.axvline(n, color="k", lw=1, label="interpolation threshold")
    ax.set(xscale="log", yscale="symlog", xlabel="width (random features)",
           ylabel="variance of the prediction")
    ax.legend(fontsize=7, ncol=2)
    fig.savefig(out / "seeds_variance.png", dpi=110)
    plt.close(fig)
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    plot_lottery(lot, ax=axes[0])
    axes[0].set_yscale("log")
    plot_tail_index(lot, ax=axes[1])
    plot_best_of_k(lot, ax=axes[2])
    fig.tight_layout()
    fig.savefig(out / "seeds_lottery.png", dpi=110)
    plt.close(fig)
    return ["seeds_variance.png", "seeds_lottery.png"]
