"""Backtest speed and the automatic law choice on the 92 bundled learning curves.

``scalelaw backtest dataset:revisiting_nsl --group curve --split-column training``
(Alabdulmohsin et al. 2022; fit the training points, forecast the held-out tail):

1. one law (M4): the per-group path (one process) against ours (groups over
   worker processes), same run; per-curve RMSLE must agree to 1e-6;
2. ``law="auto"`` (ours, parallel): mean RMSLE, 90 % PI coverage, the laws
   chosen and how often the default (M4) was kept by the margin rule.

Targets (issue): one law <= 15 s, auto <= 60 s on 2 cores; auto mean RMSLE <=
0.033 with coverage 85-95 %.

Run: .venv/bin/python bench/backtest_speed.py [--limit N] [--jobs 2] [--json PATH]
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


def _run(df, law, jobs):
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = sl.backtest(df, law, x="seen_examples", y="loss", group="curve",
                         split_column="training", objective="mse_log", n_jobs=jobs)
    return bt, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None, help="first N curves")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--skip-auto", action="store_true")
    ap.add_argument("--json", default="bench/results/backtest_speed.json")
    args = ap.parse_args()
    df = datasets.load("revisiting_nsl")
    curves = df.curve.unique()[: args.limit]
    df = df[df.curve.isin(curves)]
    seq, t_seq = _run(df, "m4", 1)
    par, t_par = _run(df, "m4", args.jobs)
    diff = float(np.nanmax(np.abs(seq.groups.rmsle.to_numpy() - par.groups.rmsle.to_numpy())))
    rows = [{"case": "m4, per-group path (1 process)", "seconds": t_seq,
             "rmsle_mean": seq.overall["rmsle_mean"], "pi90": seq.overall["pi_coverage"]},
            {"case": f"m4, ours ({args.jobs} processes)", "seconds": t_par,
             "rmsle_mean": par.overall["rmsle_mean"], "pi90": par.overall["pi_coverage"]}]
    chosen = {}
    if not args.skip_auto:
        auto, t_auto = _run(df, "auto", args.jobs)
        rows.append({"case": f"auto, ours ({args.jobs} processes)", "seconds": t_auto,
                     "rmsle_mean": auto.overall["rmsle_mean"],
                     "pi90": auto.overall["pi_coverage"]})
        chosen = auto.groups.law.value_counts().to_dict()
    print(f"{len(curves)} curves, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs")
    print(f"{'case':<34}{'seconds':>9}{'RMSLE mean':>12}{'PI90 cov.':>11}")
    for r in rows:
        print(f"{r['case']:<34}{r['seconds']:>9.1f}{r['rmsle_mean']:>12.4f}{r['pi90']:>11.3f}")
    print(f"speed-up of ours over the per-group path (m4): {t_seq / t_par:.2f}x; "
          f"max per-curve RMSLE difference {diff:.2e}")
    if chosen:
        print(f"auto chose: {chosen}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({
        "date": str(date.today()), "machine": platform.platform(), "cpus": os.cpu_count(),
        "n_curves": len(curves), "rows": rows, "max_rmsle_difference": diff,
        "speedup": t_seq / t_par, "auto_chosen": chosen}, indent=2, default=float) + "\n")


if __name__ == "__main__":
    main()
