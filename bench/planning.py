"""Run planning: expected interval shrinkage against refits, and against random runs.

A ladder of 25 runs (5 sizes from 1e7 to 3e8 parameters x 5 token multipliers
from 5 to 100) is simulated from a known law with 2 % log-normal noise and
fitted (``mse_log``). ``plan_runs`` proposes 3 runs within 1e20 FLOPs for the
forecast at the compute-optimal point of 1e22 FLOPs, with the expected width of
the curve's 90 % interval there after them. The proposed runs are simulated from
the truth and the law refitted: the refit's width over the first fit's width is
the realised shrinkage, to compare with the expected one. Baseline: 3 random runs
of the same total compute (a uniform random split, each of a random size,
log-uniform from the smallest model to 2 tokens per parameter). Laws: ``gadre``
(truth: Gadre et al.'s RedPajama fit) and ``chinchilla`` (truth: Epoch AI's
refit of Hoffmann et al.).

Run: .venv/bin/python bench/planning.py [--reps 40] [--reps-chinchilla 15]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import warnings
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

import scalelaw as sl

TRUTHS = {"gadre": {"E": 1.84, "A": 166.2, "B": 287.2, "alpha": 0.2729},
          "chinchilla": {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478,
                         "beta": 0.3658}}
N0 = np.repeat(np.geomspace(1e7, 3e8, 5), 5)
D0 = N0 * np.tile(np.geomspace(5, 100, 5), 5)
FIT = {"x": ["n_params", "n_tokens"], "y": "loss", "objective": "mse_log"}


def _runs(law, n, d, rng):
    n, d = np.asarray(n, float), np.asarray(d, float)
    loss = sl.get_law(law)(TRUTHS[law], n_params=n, n_tokens=d)
    return pd.DataFrame({"n_params": n, "n_tokens": d,
                         "loss": loss * np.exp(rng.normal(0, 0.02, n.size))})


def _width(res, target):
    t = res.get_prediction(0.9, extrapolate=True, max_extrapolation=np.inf, **target)
    return float(t.mean_ci_upper[0] - t.mean_ci_lower[0])


def replicate(law, seed):
    rng = np.random.default_rng([31, seed])
    base = _runs(law, N0, D0, rng)
    res = sl.fit(law, base, **FIT)
    t0 = time.perf_counter()
    plan = sl.plan_runs(res, budget=1e20, target_flops=1e22, n_runs=3, level=0.9)
    plan_s = time.perf_counter() - t0
    target = {c: [plan.target[c]] for c in ("n_params", "n_tokens")}
    before = _width(res, target)
    new = plan.runs
    after = _width(sl.fit(law, pd.concat([base, _runs(law, new.n_params, new.n_tokens, rng)]),
                          **FIT), target)
    cost = plan.spent * rng.dirichlet(np.ones(3))
    n_r = np.exp(rng.uniform(np.log(N0.min()), np.log(np.sqrt(cost / 12.0))))
    random = _width(sl.fit(law, pd.concat([base, _runs(law, n_r, cost / (6.0 * n_r), rng)]),
                           **FIT), target)
    return {"seed": seed, "expected": plan.curve_width_after / plan.curve_width_before,
            "refit": after / before, "random": random / before, "plan_seconds": plan_s,
            "runs": new[["n_params", "n_tokens", "compute"]].to_dict("list")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=40)
    ap.add_argument("--reps-chinchilla", type=int, default=15)
    ap.add_argument("--json", default=str(Path(__file__).parent / "results" / "planning.json"))
    args = ap.parse_args()
    out = {}
    print(f"{'law':<11} {'reps':>4} {'expected':>9} {'refit':>7} {'(sd)':>6} {'random':>7} "
          f"{'plan s':>7}")
    for law, reps in (("gadre", args.reps), ("chinchilla", args.reps_chinchilla)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rows = [replicate(law, s) for s in range(reps)]
        e, r, b = (np.array([x[k] for x in rows]) for k in ("expected", "refit", "random"))
        out[law] = {"reps": reps, "expected_mean": float(e.mean()),
                    "refit_mean": float(r.mean()), "refit_sd": float(r.std(ddof=1)),
                    "refit_se": float(r.std(ddof=1) / np.sqrt(reps)),
                    "random_mean": float(b.mean()),
                    "refit_beats_random": float(np.mean(r < b)),
                    "plan_seconds_median": float(np.median([x["plan_seconds"]
                                                            for x in rows])),
                    "replicates": rows}
        o = out[law]
        print(f"{law:<11} {reps:>4} {o['expected_mean']:>9.3f} {o['refit_mean']:>7.3f} "
              f"{o['refit_sd']:>6.3f} {o['random_mean']:>7.3f} "
              f"{o['plan_seconds_median']:>7.2f}")
    payload = {"date": str(date.today()), "machine": f"{platform.machine()}, 2-core CPU",
               "scalelaw": sl.__version__, "settings": vars(args), "results": out}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(payload, indent=1, default=float) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
