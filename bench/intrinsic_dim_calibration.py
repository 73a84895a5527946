"""Calibrate and check the intrinsic-dimension intervals on manifolds of known dimension.

What it measures:

1. **collect** (resumable, cached in ``bench/results/intrinsic_dim_calibration_records.jsonl``):
   TwoNN and MLE (k = 20) at their defaults (200 bootstrap replicas) on
   * ``calibration`` (the rule is chosen here: in-sample): the eight families of
     ``scalelaw.intrinsic_dim.manifolds`` x d in D_GRID x n in N_GRID x
     generator seeds 0, 1, 2;
   * ``fresh`` (out of sample, same families): generator seeds 100, 101, with
     d and n *between* the grid's values;
   * ``benchmark`` (out of sample, other manifolds): scikit-dimension's
     ``BenchmarkManifolds`` with true d <= 24 (and M10d, d = 70, beyond the
     calibrated range, reported apart), generator seeds 0-4, n = 500, 2000, 5000;
   * ``tasks`` (out of sample): this project's teacher-student inputs
     (``bahri-d2..d9``, ``manifold-*``), n = 2000 and 10000, input seeds 0-2.
2. **fit**: per method and (d, n) cell of the calibration group, the range
   of the families' mean log(estimate / d) and the spread between generator
   seeds of one family with the bootstrap's sampling variance removed; written
   to ``scalelaw/intrinsic_dim/calibration.json`` (the package's table). The
   rule (this range, rather than a normal model with the mean bias and the
   spread between all manifolds) was chosen on the calibration group: the
   normal model under-covered the flat tori, which read high, in sample (that
   run's rates were not stored).
3. **report**: coverage of the 95 % interval for the true d, per group, method
   and family/manifold: the calibrated interval (sampling + bias) and the
   bootstrap interval alone (sampling only), plus leave-one-family-out
   coverage on the calibration group (the table refitted without the family
   scored); the benchmark's "within 10 %" counts per generator seed; a table
   on stdout and ``bench/results/intrinsic_dim_calibration.json``.

Run: OMP_NUM_THREADS=1 .venv/bin/python bench/intrinsic_dim_calibration.py
     [--stage all|collect|fit|report] [--max-minutes 13] [--jobs 2]
(a full collect: 1,944 cases, 30 minutes of estimation summed over cases, about
15 wall-minutes on 2 cores; rerun to resume.)
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import time
import warnings
import zlib
from collections import defaultdict
from datetime import date
from pathlib import Path
from statistics import NormalDist

import numpy as np

from scalelaw.intrinsic_dim import estimate_intrinsic_dims
from scalelaw.intrinsic_dim._calibration import calibrated_interval
from scalelaw.intrinsic_dim._skdim import skdim_datasets
from scalelaw.intrinsic_dim.manifolds import FAMILIES, sample_manifold

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "bench/results/intrinsic_dim_calibration_records.jsonl"
REPORT = ROOT / "bench/results/intrinsic_dim_calibration.json"
TABLE = ROOT / "scalelaw/intrinsic_dim/calibration.json"
METHODS = ("twonn", "mle")
LEVEL = 0.95
D_GRID = (1, 2, 3, 4, 6, 8, 10, 12, 16, 20, 24)
N_GRID = (500, 1000, 2000, 5000, 10000)
GEN_SEEDS = (0, 1, 2)
FRESH_D = (3, 5, 7, 9, 14, 18)
FRESH_N = (700, 3000)
FRESH_SEEDS = (100, 101)
BENCH_N = (500, 2000, 5000)
BENCH_SEEDS = (0, 1, 2, 3, 4)
BENCH_D_MAX = 24
TASKS = ("bahri-d2", "bahri-d3", "bahri-d4", "bahri-d5", "bahri-d6", "bahri-d7", "bahri-d8",
         "bahri-d9", "manifold-linear-d3", "manifold-linear-d8", "manifold-nonlinear-d5",
         "manifold-nonlinear-d8")
TASK_N = (2000, 10000)
TASK_SEEDS = (0, 1, 2)


def _seed(*parts: object) -> int:
    return zlib.crc32("/".join(map(str, parts)).encode())


def _cases() -> list[dict]:
    cases = []
    for fam in FAMILIES:
        for d in D_GRID:
            for n in N_GRID:
                for g in GEN_SEEDS:
                    cases.append({"group": "calibration", "family": fam, "name": fam, "d": d,
                                  "n": n, "gen": g})
    for fam in FAMILIES:
        for d in FRESH_D:
            for n in FRESH_N:
                for g in FRESH_SEEDS:
                    cases.append({"group": "fresh", "family": fam, "name": fam, "d": d, "n": n,
                                  "gen": g})
    truth = skdim_datasets().BenchmarkManifolds(random_state=0).truth
    for name in truth.index:
        d = int(truth.loc[name, "Intrinsic Dimension"])
        if d <= BENCH_D_MAX or name == "M10d_Cubic":
            for n in BENCH_N:
                for g in BENCH_SEEDS:
                    cases.append({"group": "benchmark", "family": "skdim", "name": str(name),
                                  "d": d, "n": n, "gen": g,
                                  "ambient": int(truth.loc[name, "Number of variables"])})
    from teacher_student.suite import get_task

    for t in TASKS:
        for n in TASK_N:
            for g in TASK_SEEDS:
                cases.append({"group": "tasks", "family": "task", "name": t,
                              "d": int(get_task(t).intrinsic_dim), "n": n, "gen": g})
    for c in cases:
        c["key"] = f"{c['group']}/{c['name']}/{c['d']}/{c['n']}/{c['gen']}"
    return cases


def _points(c: dict) -> np.ndarray:
    if c["group"] in ("calibration", "fresh"):
        return sample_manifold(c["family"], c["d"], c["n"], generator_seed=c["gen"],
                               random_state=_seed(c["key"]))
    if c["group"] == "benchmark":
        bm = skdim_datasets().BenchmarkManifolds(random_state=c["gen"])
        return bm.generate(c["name"], n=c["n"], d=c["d"], dim=c["ambient"])
    from teacher_student.suite import get_task
    from teacher_student.tasks import sample_inputs

    return sample_inputs(get_task(c["name"]), c["n"], 1000 + c["gen"], split="val")


def _run_case(c: dict) -> dict:
    x = _points(c)
    t0 = time.perf_counter()
    with warnings.catch_warnings():  # an application: lower-bound warnings are expected
        warnings.simplefilter("ignore")
        res = estimate_intrinsic_dims(x, METHODS, random_state=_seed("boot", c["key"]))
    rec = {**c, "ambient": int(x.shape[1]), "n_used": res["twonn"].n_points,
           "seconds": round(time.perf_counter() - t0, 3)}
    for m, r in res.items():
        rec[m] = {"estimate": r.dimension, "sd_log": r.settings["sampling_sd_log"],
                  "sampling_ci": list(r.sampling_ci)}
    return rec


def collect(max_minutes: float, jobs: int) -> None:
    done = set()
    if RECORDS.exists():
        done = {json.loads(line)["key"] for line in RECORDS.read_text().splitlines() if line}
    todo = [c for c in _cases() if c["key"] not in done]
    print(f"collect: {len(done)} cases cached, {len(todo)} to run on {jobs} process(es)")
    t_end = time.monotonic() + 60 * max_minutes
    ctx = multiprocessing.get_context("spawn")
    with RECORDS.open("a") as fh, ctx.Pool(jobs) as pool:
        for i, rec in enumerate(pool.imap_unordered(_run_case, todo)):
            fh.write(json.dumps(rec) + "\n")
            fh.flush()
            if time.monotonic() > t_end:
                print(f"collect: stopped after {i + 1} cases (time limit); rerun to resume")
                pool.terminate()
                return
    print("collect: complete")


def _records() -> list[dict]:
    return [json.loads(line) for line in RECORDS.read_text().splitlines() if line]


def fit_table(recs: list[dict], *, exclude_family: str | None = None) -> dict:
    """Per method and (d, n) cell: the range of family-mean biases and the within-family spread.

    ``bias_low``/``bias_high``: the lowest/highest mean over a family's generator seeds of
    log(estimate / d); ``spread``: the pooled standard deviation of log(estimate / d) between
    generator seeds of one family, its bootstrap (sampling) variance removed.
    """
    methods = {}
    for m in METHODS:
        cells: dict = defaultdict(lambda: defaultdict(list))
        for r in recs:
            if r["group"] == "calibration" and r["family"] != exclude_family:
                cells[(r["d"], r["n"])][r["family"]].append(
                    (np.log(r[m]["estimate"] / r["d"]), r[m]["sd_log"]))
        low = np.zeros((len(D_GRID), len(N_GRID)))
        high, spread = np.zeros_like(low), np.zeros_like(low)
        for i, d in enumerate(D_GRID):
            for j, n in enumerate(N_GRID):
                fams = [np.array(v) for v in cells[(d, n)].values()]
                means = np.array([f[:, 0].mean() for f in fams])
                within = np.mean([f[:, 0].var(ddof=1) - np.mean(f[:, 1] ** 2) for f in fams])
                low[i, j], high[i, j] = means.min(), means.max()
                spread[i, j] = np.sqrt(max(within, 0.0))
        methods[m] = {"settings": {"k": 20} if m == "mle" else {"discard_fraction": 0.1},
                      "d": list(D_GRID), "n": list(N_GRID),
                      "bias_low": np.round(low, 5).tolist(),
                      "bias_high": np.round(high, 5).tolist(),
                      "spread": np.round(spread, 5).tolist()}
    return {"version": 1, "source": "bench/intrinsic_dim_calibration.py",
            "rule": "bias range over families + within-family spread (Neyman set)",
            "families": list(FAMILIES), "generator_seeds": list(GEN_SEEDS), "n_boot": 200,
            "methods": methods}


def _interval(table: dict, m: str, r: dict) -> tuple[float, float] | None:
    est = r[m]
    cal = calibrated_interval(m, est["estimate"], est["sd_log"], r["n_used"], r["ambient"],
                              LEVEL, table=table)
    return None if cal is None else cal.ci


def _cover(ci: tuple[float, float] | None, d: float) -> bool:
    return ci is not None and ci[0] <= d <= ci[1]


def _rate(hits: list[bool]) -> dict:
    k, n = int(sum(hits)), len(hits)
    return {"covered": k, "n": n, "rate": round(k / n, 4) if n else None,
            "mc_se": round(float(np.sqrt(k / n * (1 - k / n) / n)), 4) if n else None}


def report(recs: list[dict], table: dict) -> dict:
    out: dict = {"level": LEVEL, "groups": {}}
    loo = {fam: fit_table(recs, exclude_family=fam) for fam in FAMILIES}
    for group in ("calibration", "fresh", "benchmark", "tasks"):
        rows = [r for r in recs if r["group"] == group]
        g: dict = {}
        for m in METHODS:
            per: dict = defaultdict(lambda: {"calibrated": [], "sampling": [], "loo": []})
            for r in rows:
                if group == "benchmark" and r["d"] > BENCH_D_MAX:
                    key = f"beyond range: {r['name']}"
                else:
                    key = r["family"] if group in ("calibration", "fresh") else r["name"]
                per[key]["calibrated"].append(_cover(_interval(table, m, r), r["d"]))
                per[key]["sampling"].append(_cover(tuple(r[m]["sampling_ci"]), r["d"]))
                if group == "calibration":
                    per[key]["loo"].append(_cover(_interval(loo[r["family"]], m, r), r["d"]))
            in_range = [k for k in per if not k.startswith("beyond")]
            summary = {kind: _rate([h for k in in_range for h in per[k][kind]])
                       for kind in ("calibrated", "sampling", "loo") if per[in_range[0]][kind]}
            low_d = [r for r in rows if r["d"] <= 10]
            summary["calibrated_d_le_10"] = _rate([_cover(_interval(table, m, r), r["d"])
                                                   for r in low_d])
            summary["sampling_d_le_10"] = _rate([_cover(tuple(r[m]["sampling_ci"]), r["d"])
                                                 for r in low_d])
            g[m] = {"overall": summary,
                    "per_set": {k: {kind: _rate(v) for kind, v in per[k].items() if v}
                                for k in sorted(per)}}
        out["groups"][group] = g
    out["within_10_percent"] = _within_10(recs)
    out["interval_width"] = _widths(recs, table)
    return out


def _within_10(recs: list[dict]) -> dict:
    """TwoNN on the benchmark manifolds with d <= 10 at 5,000 points, per generator seed."""
    res: dict = {}
    for m in METHODS:
        per_seed = {}
        for g in BENCH_SEEDS:
            rows = [r for r in recs if r["group"] == "benchmark" and r["d"] <= 10
                    and r["n"] == 5000 and r["gen"] == g]
            misses = {r["name"]: round(r[m]["estimate"] / r["d"] - 1, 3) for r in rows
                      if abs(r[m]["estimate"] / r["d"] - 1) > 0.10}
            errs = [abs(r[m]["estimate"] / r["d"] - 1) for r in rows]
            per_seed[str(g)] = {"n_sets": len(rows), "n_within": len(rows) - len(misses),
                                "misses": misses,
                                "mean_abs_error": round(float(np.mean(errs)), 4) if errs else None}
        res[m] = per_seed
    return res


def _widths(recs: list[dict], table: dict) -> dict:
    """Median relative width (hi - lo) / d of the calibrated intervals, by d, at each n."""
    out: dict = {}
    for m in METHODS:
        cells = defaultdict(list)
        for r in recs:
            if r["group"] == "calibration":
                ci = _interval(table, m, r)
                if ci is not None:
                    cells[(r["d"], r["n"])].append((ci[1] - ci[0]) / r["d"])
        out[m] = {f"d={d},n={n}": round(float(np.median(v)), 3)
                  for (d, n), v in sorted(cells.items())}
    return out


def _print(rep: dict) -> None:
    print(f"\n95 % intervals for the true d: coverage (covered / cases)  [level {LEVEL}]")
    print(f"{'group':<12} {'method':<6} {'calibrated':>18} {'leave-family-out':>18} "
          f"{'sampling only':>18} {'calib. d<=10':>14} {'sampl. d<=10':>14}")
    for group, g in rep["groups"].items():
        for m, v in g.items():
            o = v["overall"]

            def f(x: dict | None) -> str:
                return "-" if not x else f"{x['rate']:.3f} ({x['covered']}/{x['n']})"
            print(f"{group:<12} {m:<6} {f(o.get('calibrated')):>18} {f(o.get('loo')):>18} "
                  f"{f(o.get('sampling')):>18} {o['calibrated_d_le_10']['rate']:>14.3f} "
                  f"{o['sampling_d_le_10']['rate']:>14.3f}")
    for group in ("calibration", "fresh", "benchmark", "tasks"):
        print(f"\nper set, {group} (twonn calibrated / mle calibrated / twonn sampling only):")
        tw = rep["groups"][group]["twonn"]["per_set"]
        ml = rep["groups"][group]["mle"]["per_set"]
        for k in tw:
            print(f"  {k:<28} {tw[k]['calibrated']['rate']:.2f}  {ml[k]['calibrated']['rate']:.2f}"
                  f"  {tw[k]['sampling']['rate']:.2f}  (n={tw[k]['calibrated']['n']})")
    print("\nTwoNN within 10 % on the benchmark manifolds with d <= 10 at 5,000 points:")
    for g, v in rep["within_10_percent"]["twonn"].items():
        print(f"  seed {g}: {v['n_within']}/{v['n_sets']} within; misses {v['misses']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stage", default="all", choices=["all", "collect", "fit", "report"])
    ap.add_argument("--max-minutes", type=float, default=13.0,
                    help="stop collecting after this long (rerun to resume)")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                    help="worker processes for the collect stage (default 2)")
    args = ap.parse_args()
    if args.stage in ("all", "collect"):
        collect(args.max_minutes, args.jobs)
    recs = _records()
    expected = {c["key"] for c in _cases()}
    if not expected <= {r["key"] for r in recs}:
        print("records incomplete: run the collect stage again before fit/report")
        return
    if args.stage in ("all", "fit"):
        table = fit_table(recs)
        TABLE.write_text(json.dumps(table, indent=1) + "\n")
        print(f"wrote {TABLE.relative_to(ROOT)}")
    if args.stage in ("all", "report"):
        table = json.loads(TABLE.read_text())
        rep = report(recs, table)
        rep.update({"date": str(date.today()), "machine": f"2-core CPU ({platform.machine()})",
                    "z": NormalDist().inv_cdf(0.5 + LEVEL / 2), "table": table,
                    "settings": {"d_grid": D_GRID, "n_grid": N_GRID, "gen_seeds": GEN_SEEDS,
                                 "fresh": {"d": FRESH_D, "n": FRESH_N, "seeds": FRESH_SEEDS},
                                 "benchmark": {"n": BENCH_N, "seeds": BENCH_SEEDS,
                                               "d_max": BENCH_D_MAX},
                                 "tasks": {"names": TASKS, "n": TASK_N, "seeds": TASK_SEEDS},
                                 "n_boot": 200, "mle_k": 20}})
        REPORT.write_text(json.dumps(rep, indent=1) + "\n")
        _print(rep)
        print(f"\nwrote {REPORT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
