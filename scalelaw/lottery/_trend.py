"""The trend of the seed lottery across model size: spread and tail index against size."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from scalelaw.stats import percentile_interval

__all__ = ["trend_across_sizes"]

#: Sizes needed for a trend.
MIN_SIZES = 3


def _sd_trend(groups: list, level: float) -> dict[str, Any] | None:
    from scalelaw.fitting import fit

    rows = [(g.size, g.sd) for g in groups
            if g.size is not None and g.size > 0 and g.n_runs >= 3 and g.sd > 0]
    if len(rows) < MIN_SIZES:
        return None
    tab = pd.DataFrame(rows, columns=["size", "sd"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = fit("sd = A * size**(-shrink)", tab, x="size", y="sd", objective="mse_log",
                  level=level, random_state=0)
    pf = res.params_frame()
    return {"law": "sd = A * size**(-shrink)", "shrink": float(pf.loc["shrink", "estimate"]),
            "shrink_ci": [float(pf.loc["shrink", "lower"]), float(pf.loc["shrink", "upper"])],
            "A": float(pf.loc["A", "estimate"]), "n_sizes": len(rows),
            "warnings": [str(w.message) for w in caught]}


def _xi_trend(groups: list, boots: list, tail: str, level: float) -> dict[str, Any] | None:
    idx = [i for i, g in enumerate(groups) if g.size is not None and g.size > 0
           and np.isfinite(getattr(g, f"xi_{tail}"))]
    if len(idx) < MIN_SIZES:
        return None
    logn = np.log10([groups[i].size for i in idx])
    xi = np.array([getattr(groups[i], f"xi_{tail}") for i in idx])
    slope = float(np.polyfit(logn, xi, 1)[0])
    reps = np.stack([boots[i][tail] for i in idx], axis=1)  # (n_boot, n_sizes)
    reps = reps[np.all(np.isfinite(reps), axis=1)]
    ci = [float("nan"), float("nan")]
    if reps.shape[0] >= 20:
        x = logn - logn.mean()
        slopes = (reps - reps.mean(axis=1, keepdims=True)) @ x / (x @ x)
        ci = list(percentile_interval(slopes, level, max_failed_fraction=1.0)[0])
    return {"slope_per_decade": slope, "slope_ci": ci, "n_sizes": len(idx)}


def trend_across_sizes(groups: list, boots: list, *, level: float = 0.95) -> dict[str, Any]:
    """The spread's scaling law, the tail indices' slope per decade of size, and a verdict.

    ``verdict``: ``homogenising`` (the spread shrinks with size, neither tail
    index rises and the largest size has no heavy tail: "mediocristan as N
    grows"), ``heterogenising`` (the spread grows, a tail index rises, or the
    largest size is heavy-tailed), else ``undecided``; ``reason`` says which.
    The tail-index slope's interval comes from bootstrap replicas within each
    size.

    Parameters
    ----------
    groups : list of LotteryGroup
        Per-size results, sorted by size.
    boots : list of dict
        Per group, bootstrap replicas of the tail indices (``upper``, ``lower``).
    level : float, default=0.95
        Interval coverage.

    Returns
    -------
    dict
        ``sd``, ``xi_upper``, ``xi_lower`` (each ``None`` with fewer than three
        usable sizes), ``verdict`` and ``reason``.
    """
    sizes = [g for g in groups if g.size is not None]
    if len(sizes) < MIN_SIZES:
        return {"sd": None, "xi_upper": None, "xi_lower": None, "verdict": "undecided",
                "reason": f"{len(sizes)} model size(s): a trend needs at least {MIN_SIZES}"}
    sd = _sd_trend(groups, level)
    xi = {t: _xi_trend(groups, boots, t, level) for t in ("upper", "lower")}
    last = groups[-1]
    heavy_last = "heavy" in (last.tail_class_upper, last.tail_class_lower)
    rising = [t for t, v in xi.items() if v and v["slope_ci"][0] > 0]
    falling_sd = sd is not None and sd["shrink_ci"][0] > 0
    growing_sd = sd is not None and sd["shrink_ci"][1] < 0
    if growing_sd or rising or heavy_last:
        why = []
        if growing_sd:
            why.append(f"the spread grows with size (sd ~ size^{-sd['shrink']:.2f}, "
                       f"interval excludes 0)")
        for t in rising:
            why.append(f"the {t} tail index rises ({xi[t]['slope_per_decade']:+.2f} per "
                       "decade, interval above 0)")
        if heavy_last:
            why.append(f"the largest size ({last.size:g}) has a heavy tail")
        return {"sd": sd, "xi_upper": xi["upper"], "xi_lower": xi["lower"],
                "verdict": "heterogenising", "reason": "; ".join(why)}
    if falling_sd:
        return {"sd": sd, "xi_upper": xi["upper"], "xi_lower": xi["lower"],
                "verdict": "homogenising",
                "reason": (f"the spread shrinks (sd ~ size^-{sd['shrink']:.2f}, interval "
                           f"[{sd['shrink_ci'][0]:.2f}, {sd['shrink_ci'][1]:.2f}]), no tail "
                           "index rises and the largest size is not heavy-tailed")}
    return {"sd": sd, "xi_upper": xi["upper"], "xi_lower": xi["lower"],
            "verdict": "undecided",
            "reason": "the spread's trend is not resolved (its interval contains 0)"
            if sd else "too few sizes with three or more runs for the spread's trend"}
