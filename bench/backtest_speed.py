"""Backtest speed and the automatic law choice on the 92 bundled learning curves.

``scalelaw backtest dataset:revisiting_nsl --group curve --split-column training``
(Alabdulmohsin et al. 2022; fit the training points, forecast the held-out tail),
``objective="mse_log"``. Baseline in the same run: the per-group path
(``batch=False``: each group fitted and calibrated alone), against ours
(``batch=True``: every group, calibration refit and auto candidate of one law in
shared stacked batches), both over ``--jobs`` worker processes, plus M4 in one
process each way.

1. one law (M4): per-curve RMSLE and coverage of the two paths must be equal;
2. ``law="auto"``: the same comparison, mean RMSLE, 90 % PI coverage, the laws
   chosen.

Ours is timed ``--repeats`` times (median reported); the per-group baseline once
per case (it takes minutes).

Targets (issue): one law <= 15 s, auto <= 60 s on 2 cores; auto mean RMSLE <=
0.033 with coverage 85-95 %.

Run: .venv/bin/python bench/backtest_speed.py [--limit N] [--jobs 2] [--repeats 3]
     [--skip-auto] [--singles] [--json PATH]

``--singles`` instead backtests each of auto's candidate laws alone, once (the "best
single law" auto is compared with).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from datetime import date
from pathlib import Path

import numpy as np

import scalelaw as sl
from scalelaw import datasets


def _run(df, law, jobs, batch):
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = sl.backtest(df, law, x="seen_examples", y="loss", group="curve",
                         split_column="training", objective="mse_log", n_jobs=jobs,
                         batch=batch)
    return bt, time.perf_counter() - t0


def _case(df, law, jobs, repeats):
    """The per-group baseline once, ours ``repeats`` times; the row of the table."""
    base, t_base = _run(df, law, jobs, False)
    times = []
    for _ in range(repeats):
        ours, t = _run(df, law, jobs, True)
        times.append(t)
    a = ours.groups.set_index("group")
    b = base.groups.set_index("group").loc[a.index]
    same = bool(np.array_equal(a["rmsle"].to_numpy(), b["rmsle"].to_numpy(), equal_nan=True)
                and np.array_equal(a["pi_coverage"].to_numpy(), b["pi_coverage"].to_numpy(),
                                   equal_nan=True))
    diff = float(np.nanmax(np.abs(a["rmsle"].to_numpy() - b["rmsle"].to_numpy())))
    row = {"law": law, "jobs": jobs, "per_group_s": t_base, "ours_s": float(np.median(times)),
           "ours_runs_s": times, "speedup": t_base / float(np.median(times)),
           "rmsle_mean": ours.overall["rmsle_mean"], "pi90": ours.overall["pi_coverage"],
           "identical": same, "max_rmsle_difference": diff,
           "chosen": ours.groups["law"].value_counts().to_dict()}
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None, help="first N curves")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-auto", action="store_true")
    ap.add_argument("--singles", action="store_true",
                    help="instead: backtest each of auto's candidate laws alone (once)")
    ap.add_argument("--json", default="bench/results/backtest_speed.json")
    args = ap.parse_args()
    df = datasets.load("revisiting_nsl")
    curves = df.curve.unique()[: args.limit]
    df = df[df.curve.isin(curves)]
    rows, singles = [], []
    if not args.singles:
        rows.append(_case(df, "m4", 1, args.repeats))
    if args.jobs > 1 and not args.singles:
        rows.append(_case(df, "m4", args.jobs, args.repeats))
    if not args.skip_auto and not args.singles:
        rows.append(_case(df, "auto", args.jobs, args.repeats))
    if args.singles:
        from scalelaw.fitting._select import AUTO_CANDIDATES

        for name in AUTO_CANDIDATES[1]:
            bt, t = _run(df, name, args.jobs, True)
            singles.append({"law": name, "seconds": t, "rmsle_mean": bt.overall["rmsle_mean"],
                            "pi90": bt.overall["pi_coverage"]})
    print(f"{len(curves)} curves, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs; ours: median of {args.repeats}")
    if rows:
        print(f"{'law':<6}{'jobs':>5}{'per-group s':>13}{'ours s':>9}{'speed-up':>10}"
              f"{'RMSLE mean':>12}{'PI90':>7}{'identical':>11}")
    for r in rows:
        print(f"{r['law']:<6}{r['jobs']:>5}{r['per_group_s']:>13.1f}{r['ours_s']:>9.1f}"
              f"{r['speedup']:>9.2f}x{r['rmsle_mean']:>12.4f}{r['pi90']:>7.3f}"
              f"{r['identical']!s:>11}")
    for r in rows:
        if r["law"] == "auto":
            print(f"auto chose: {r['chosen']}")
    for r in singles:
        print(f"single law {r['law']:<17} RMSLE mean {r['rmsle_mean']:.4f}  PI90 "
              f"{r['pi90']:.3f}  ({r['seconds']:.1f} s)")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({
        "date": str(date.today()), "machine": platform.platform(), "cpus": os.cpu_count(),
        "n_curves": len(curves), "repeats": args.repeats, "rows": rows,
        "singles": singles}, indent=2,
        default=float) + "\n")


if __name__ == "__main__":
    main()
