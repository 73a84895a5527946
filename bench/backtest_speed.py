"""Backtest speed and accuracy at the defaults on the 92 bundled learning curves.

``scalelaw backtest dataset:revisiting_nsl --group curve --split-column training
--law LAW`` (Alabdulmohsin et al. 2022; fit the training points, forecast the
held-out tail) at the defaults: ``objective="huber_log"``, batched, ``--jobs``
worker processes. Beside it, ``objective="mse_log"``. Each is timed ``--repeats``
times (median reported).

Baseline in the same run (per law, at the default objective, ``--repeats`` runs,
median): the library as it was at an earlier commit (``--baseline-rev``, default
``5b221bf``: backtest batches of 8+ groups in 4 parts per worker, the law evaluated
twice per accepted trust-region step, and per-column pandas work in the data checks
and the held-out tables), extracted by ``git archive`` and run in a subprocess on the
same data. Reported: seconds, mean RMSLE, 90 % PI coverage, the laws auto chose, and
the largest per-curve RMSLE difference between the baseline and ours.

Targets: auto <= 60 s and one law (M4) <= 15 s on 2 cores at the defaults; auto's
mean RMSLE <= 0.030 with 90 % PI coverage 85-95 %.

Run: .venv/bin/python bench/backtest_speed.py [--limit N] [--jobs 2] [--repeats 3]
     [--laws m4,auto] [--objectives huber_log,mse_log] [--no-baseline]
     [--baseline-rev REV] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import date
from pathlib import Path

import numpy as np

import scalelaw as sl
from scalelaw import datasets

_BASELINE_SCRIPT = """
import json, sys, time, warnings
import scalelaw as sl
from scalelaw import datasets
law, objective, jobs, limit = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
df = datasets.load("revisiting_nsl")
curves = df.curve.unique()[: None if limit == "none" else int(limit)]
df = df[df.curve.isin(curves)]
t0 = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    bt = sl.backtest(df, law, x="seen_examples", y="loss", group="curve",
                     split_column="training", objective=objective, n_jobs=jobs)
t = time.perf_counter() - t0
print(json.dumps({"seconds": t, "rmsle_mean": bt.overall["rmsle_mean"],
                  "pi90": bt.overall["pi_coverage"], "n_groups": bt.overall["n_groups"],
                  "chosen": bt.groups["law"].value_counts().to_dict(),
                  "per_curve_rmsle": dict(zip(bt.groups["group"].astype(str),
                                              bt.groups["rmsle"].tolist()))}))
"""


def _baseline(rev, law, objective, jobs, limit):
    """The backtest with the library at commit ``rev`` (its scalelaw/ and datasets/),
    run in a subprocess; the same data, law, objective and workers."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "archive", rev, "scalelaw", "datasets"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        env = {**os.environ, "PYTHONPATH": tmp}
        out = subprocess.run([sys.executable, "-c", _BASELINE_SCRIPT, law, objective,
                              str(jobs), "none" if limit is None else str(limit)],
                             capture_output=True, text=True, check=True, env=env, cwd=tmp)
    return json.loads(out.stdout.strip().splitlines()[-1])


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
    ap.add_argument("--baseline-rev", default="5b221bf",
                    help="git revision of the library to time as the baseline")
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
                runs = [_baseline(args.baseline_rev, law, objective, args.jobs, args.limit)
                        for _ in range(args.repeats)]
                times_b = [r.pop("seconds") for r in runs]
                t = float(np.median(times_b))
                row = {"law": law, "objective": objective, "jobs": args.jobs,
                       "path": f"baseline (library at {args.baseline_rev})",
                       "seconds": t, "runs_s": times_b, **runs[-1]}
                ours = {str(g): r for g, r in rows[-1]["per_curve_rmsle"].items()}
                diff = [abs(ours[g] - r) for g, r in row["per_curve_rmsle"].items()
                        if np.isfinite(r) and np.isfinite(ours.get(g, np.nan))]
                row["max_rmsle_difference"] = float(max(diff)) if diff else float("nan")
                row["speedup_of_ours"] = t / rows[-1]["seconds"]
                rows.append(row)
                print(f"{law:<5} {objective:<9} baseline {t:7.1f} s  RMSLE "
                      f"{row['rmsle_mean']:.4f}  PI90 "
                      f"{row['pi90']:.3f}  speed-up {row['speedup_of_ours']:.2f}x"
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
