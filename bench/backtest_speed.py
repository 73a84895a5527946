"""Backtest speed and accuracy at the defaults on the 92 bundled learning curves.

``scalelaw backtest dataset:revisiting_nsl --group curve --split-column training
--law LAW`` (Alabdulmohsin et al. 2022; fit the training points, forecast the
held-out tail) at the defaults: ``objective="huber_log"``, batched, ``--jobs``
worker processes. Beside it, ``objective="mse_log"``. Each is timed ``--repeats``
times (median reported).

Baseline in the same run (once per law, at the default objective): the default search
before 2026-12-06 (backtest refits from the 8 best prescreened starts, 16 for laws of
more than 5 free parameters, with their Huber
optima polished by damped Newton steps; the Huber polish in one round of up to 500
iterations), against ours (refits from the 4 best prescreened starts, 8 for laws of
more than 5 free parameters, their
trust-region Huber optima kept; the polish in two rounds, 60 then 440 for candidates
within 10 % of the best). Reported: seconds, mean RMSLE, 90 % PI coverage, the laws
auto chose, and the largest per-curve RMSLE difference between the baseline and ours.

Targets: auto <= 60 s and one law (M4) <= 15 s on 2 cores at the defaults; auto's
mean RMSLE <= 0.030 with 90 % PI coverage 85-95 %.

Run: .venv/bin/python bench/backtest_speed.py [--limit N] [--jobs 2] [--repeats 3]
     [--laws m4,auto] [--objectives huber_log,mse_log] [--no-baseline] [--json PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import time
import warnings
from datetime import date
from pathlib import Path

import numpy as np

import scalelaw as sl
from scalelaw import datasets
from scalelaw.fitting import _search


@contextlib.contextmanager
def _search_before():
    """The default search before 2026-12-06: backtest refits from 8 prescreened starts
    with their Huber optima polished, and the Huber polish in one round of 500."""
    names = ("REFIT_PRESCREEN_KEEP", "REFIT_PRESCREEN_KEEP_MANY", "REFIT_POLISH",
             "DAMPED_FIRST_ROUND", "DAMPED_SECOND_ROUND")
    saved = {n: getattr(_search, n) for n in names}
    # no cap: refits took the reported fit's prescreen (8, 16 for laws of more than 5
    # free parameters)
    _search.REFIT_PRESCREEN_KEEP = _search.REFIT_PRESCREEN_KEEP_MANY = _search.TRUST_MAX_STARTS
    _search.REFIT_POLISH = True
    _search.DAMPED_FIRST_ROUND, _search.DAMPED_SECOND_ROUND = 500, 0
    try:
        yield
    finally:
        for n, v in saved.items():
            setattr(_search, n, v)


def _run(df, law, objective, jobs):
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = sl.backtest(df, law, x="seen_examples", y="loss", group="curve",
                         split_column="training", objective=objective, n_jobs=jobs)
    return bt, time.perf_counter() - t0


def _row(bt, law, objective, jobs, times, path):
    return {"law": law, "objective": objective, "jobs": jobs, "path": path,
            "seconds": float(np.median(times)), "runs_s": times,
            "rmsle_mean": bt.overall["rmsle_mean"], "pi90": bt.overall["pi_coverage"],
            "n_groups": bt.overall["n_groups"],
            "chosen": bt.groups["law"].value_counts().to_dict(),
            "per_curve_rmsle": dict(zip(bt.groups["group"], bt.groups["rmsle"].tolist(),
                                        strict=True))}


def _save(args, curves, rows):
    """Write the rows measured so far (a run cut short keeps what it measured)."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, check=False).stdout.strip()
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({
        "date": str(date.today()), "machine": platform.platform(),
        "processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
        "commit": commit, "n_curves": len(curves), "repeats": args.repeats,
        "rows": rows}, indent=1, default=float) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None, help="first N curves")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--laws", default="m4,auto")
    ap.add_argument("--objectives", default="huber_log,mse_log")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--pooled-members", action="store_true",
                    help="also: auto once with a combination's members calibrated on the "
                    "pooled backtests of every candidate (the default: each on its own)")
    ap.add_argument("--union", action="store_true",
                    help="also: auto once with a combination's intervals the union of its "
                    "members' (the default: their mixture)")
    ap.add_argument("--json", default="bench/results/backtest_speed.json")
    args = ap.parse_args()
    df = datasets.load("revisiting_nsl")
    curves = df.curve.unique()[: args.limit]
    df = df[df.curve.isin(curves)]
    rows = []
    for objective in args.objectives.split(","):
        for law in args.laws.split(","):
            times, bt = [], None
            for _ in range(args.repeats):
                bt, t = _run(df, law, objective, args.jobs)
                times.append(t)
            rows.append(_row(bt, law, objective, args.jobs, times, "ours"))
            print(f"{law:<5} {objective:<9} ours     {np.median(times):7.1f} s "
                  f"(runs {', '.join(f'{t:.1f}' for t in times)})  RMSLE "
                  f"{bt.overall['rmsle_mean']:.4f}  PI90 {bt.overall['pi_coverage']:.3f}",
                  flush=True)
            _save(args, curves, rows)
            if objective == "huber_log" and not args.no_baseline:
                with _search_before():
                    base, t = _run(df, law, objective, args.jobs)
                row = _row(base, law, objective, args.jobs, [t], "baseline (search before)")
                ours = rows[-1]["per_curve_rmsle"]
                diff = [abs(ours[g] - r) for g, r in row["per_curve_rmsle"].items()
                        if np.isfinite(r) and np.isfinite(ours.get(g, np.nan))]
                row["max_rmsle_difference"] = float(max(diff)) if diff else float("nan")
                row["speedup_of_ours"] = t / rows[-1]["seconds"]
                rows.append(row)
                print(f"{law:<5} {objective:<9} baseline {t:7.1f} s  RMSLE "
                      f"{base.overall['rmsle_mean']:.4f}  PI90 "
                      f"{base.overall['pi_coverage']:.3f}  speed-up {row['speedup_of_ours']:.2f}x"
                      f"  max per-curve RMSLE difference {row['max_rmsle_difference']:.2e}",
                      flush=True)
    if args.pooled_members:
        from scalelaw.fitting import _select

        _select.MEMBER_CALIBRATION = "pooled"
        bt, t = _run(df, "auto", "huber_log", args.jobs)
        _select.MEMBER_CALIBRATION = "own"
        rows.append(_row(bt, "auto", "huber_log", args.jobs, [t], "pooled member calibration"))
        print(f"auto  huber_log pooled members {t:7.1f} s  RMSLE "
              f"{bt.overall['rmsle_mean']:.4f}  PI90 {bt.overall['pi_coverage']:.3f}")
    if args.union:
        from scalelaw.results import _combined

        _combined.COMBINED_INTERVAL = "union"
        bt, t = _run(df, "auto", "huber_log", args.jobs)
        _combined.COMBINED_INTERVAL = "mixture"
        rows.append(_row(bt, "auto", "huber_log", args.jobs, [t], "union intervals"))
        print(f"auto  huber_log union intervals {t:7.1f} s  RMSLE "
              f"{bt.overall['rmsle_mean']:.4f}  PI90 {bt.overall['pi_coverage']:.3f}")
    for r in rows:
        if r["law"] == "auto":
            print(f"auto ({r['objective']}, {r['path']}) chose: {r['chosen']}")
    _save(args, curves, rows)


if __name__ == "__main__":
    main()
