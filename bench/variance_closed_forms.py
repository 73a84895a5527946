"""Variance components with known answers, and the calibration of the variance-peak verdict.

Part 1: ridge regression on Haar-orthogonal random features (Lin & Dobriban
2021): ``scalelaw.variance.crossed_components`` on crossed Monte Carlo draws
against the closed-form limits of ``scalelaw.synthetic_variance``, at the
design points of the shared science notes (Part II section 8: pi = 0.8,
alpha^2 = 1, sigma = 0.3, optimal ridge and ridge 0.01). Each point: ``R``
independent crossed designs of 8 data x 8 init x 3 noise draws at n = 200;
mean and standard error over replicates. Baseline in the same run: the naive
(plug-in) variance of all fits pooled, which ignores the crossed design.

Part 2: the verdict of ``scalelaw.variance.variance_peak`` (defaults: 1000
bootstrap replicates, level 0.95) on cases whose truth is known from the
closed forms (unimodal, increasing, decreasing, and an increasing curve that
flattens) and on a flat curve (Gaussian effects of equal variance at every
size: any definite verdict is wrong), over replicates with fresh seeds: the
rate of each verdict, and how often the interval of the peak's size holds the
true peak.

Run: .venv/bin/python bench/variance_closed_forms.py [--part all|closed|verdicts]
(a part updates its half of the JSON).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import date
from pathlib import Path

import numpy as np

import scalelaw
from scalelaw.synthetic_variance import COMPONENTS, OrthogonalFeaturesRidge
from scalelaw.variance import crossed_components, variance_peak

DELTAS = {"optimal": [0.5, 1.0, 1.25, 2.0, 3.0, 5.0], "0.01": [0.5, 1.0, 1.25, 2.0, 3.0]}
#: Verdict cases: (truth, ridge, sizes p) at n = 40, d = 120 (threshold p = n = 40).
CASES = {
    "unimodal (ridge 0.01, p through n)": ("unimodal", 0.01, [10, 20, 30, 40, 60, 80, 120]),
    "unimodal, broad (ridge 1)": ("unimodal", 1.0, [10, 20, 30, 40, 60, 80, 120]),
    "increasing (optimal ridge)": ("increasing", "optimal", [10, 20, 30, 40, 60, 80, 120]),
    "increasing, flattening (ridge 1, p <= 50)": ("increasing", 1.0, [10, 20, 30, 40, 50]),
    "decreasing (ridge 0.01, p > n)": ("decreasing", 0.01, [60, 80, 100, 120]),
    "flat (equal Gaussian effects)": ("undecided", None, [10, 20, 30, 40, 60, 80, 120]),
}
DESIGNS = [(3, 3, 2), (5, 5, 3)]


def closed_form_table(n: int, reps: int, levels: tuple[int, int, int]) -> list[dict]:
    rows = []
    for ridge_name, deltas in DELTAS.items():
        ridge = "optimal" if ridge_name == "optimal" else float(ridge_name)
        for delta in deltas:
            d = round(delta * n)
            p = round(0.8 * d)
            t0 = time.perf_counter()
            est, naive = [], []
            for r in range(reps):
                model = OrthogonalFeaturesRidge(n, d, ridge=ridge, seed=100_000 + r)
                cube = model.crossed_predictions(p, n_data=levels[0], n_init=levels[1],
                                                 n_noise=levels[2])
                vc = crossed_components(cube, target=model.target)
                est.append([vc.bias2, vc.total, *(vc.components[k] for k in COMPONENTS)])
                naive.append(float(cube.reshape(-1, cube.shape[-1]).var(axis=0).mean()))
            lim = model.limits(p)
            est = np.array(est)
            names = ["bias2", "variance", *COMPONENTS]
            truth = [lim.bias2, lim.variance, *(lim.components[k] for k in COMPONENTS)]
            row = {"ridge": ridge_name, "delta": delta, "n": n, "d": d, "p": p,
                   "ridge_value": lim.ridge, "reps": reps, "levels": list(levels),
                   "mse_limit": lim.mse, "seconds": time.perf_counter() - t0,
                   "naive_pooled_variance": float(np.mean(naive))}
            for k, m, s, t in zip(names, est.mean(0), est.std(0, ddof=1) / np.sqrt(reps),
                                  truth, strict=True):
                row[k] = {"limit": float(t), "mc": float(m), "se": float(s),
                          "z": float((m - t) / s) if s > 0 else 0.0}
            rows.append(row)
            print(f"ridge {ridge_name:>7} delta {delta:<4}: variance {row['variance']['mc']:.4f}"
                  f" +- {row['variance']['se']:.4f} (limit {lim.variance:.4f}), bias2 "
                  f"{row['bias2']['mc']:.4f} (limit {lim.bias2:.4f}), data:init "
                  f"{row['data:init']['mc']:.4f} (limit {lim.components['data:init']:.4f}); "
                  f"naive pooled {row['naive_pooled_variance']:.4f}; {row['seconds']:.1f} s",
                  flush=True)
    return rows


def _flat_cubes(n_sizes: int, levels: tuple[int, int, int], seed: int) -> list[np.ndarray]:
    """Equal variance at every size: data, init, noise and their interactions, N(0, 1/7) each,
    120 test points; sizes drawn with shared seeds (the same effects' seeds at every size are
    not needed: the draws are independent, which the joint resampling also covers)."""
    rng = np.random.default_rng(seed)
    a, b, c = levels
    shapes = [(a, 1, 1), (1, b, 1), (1, 1, c), (a, b, 1), (a, 1, c), (1, b, c), (a, b, c)]
    return [sum(rng.normal(0, 7**-0.5, size=(*sh, 120)) for sh in shapes)
            for _ in range(n_sizes)]


def verdict_rates(reps: int, n_boot: int) -> list[dict]:
    out = []
    for name, (truth, ridge, sizes) in CASES.items():
        if ridge is None:
            limits, true_peak = [1.0] * len(sizes), None
        else:
            ref = OrthogonalFeaturesRidge(40, 120, ridge=ridge)
            limits = [ref.limits(p).variance for p in sizes]
            true_peak = sizes[int(np.argmax(limits))]
        for levels in DESIGNS:
            t0 = time.perf_counter()
            verdicts, cover, falls = [], 0, 0
            for r in range(reps):
                if ridge is None:
                    cubes = _flat_cubes(len(sizes), levels, seed=300_000 + r)
                else:
                    model = OrthogonalFeaturesRidge(40, 120, ridge=ridge, seed=200_000 + r)
                    cubes = [model.crossed_predictions(p, n_data=levels[0], n_init=levels[1],
                                                       n_noise=levels[2]) for p in sizes]
                pk = variance_peak(cubes, sizes, n_boot=n_boot, random_state=r)
                verdicts.append(pk.verdict)
                cover += true_peak is None or pk.size_ci[0] <= true_peak <= pk.size_ci[1]
                falls += bool(pk.falls_after)
            rates = {v: verdicts.count(v) / reps for v in
                     ("unimodal", "increasing", "decreasing", "undecided")}
            row = {"case": name, "truth": truth, "ridge": ridge, "sizes": sizes,
                   "limits": limits, "true_peak": true_peak, "levels": list(levels),
                   "reps": reps, "n_boot": n_boot, "rates": rates, "correct": rates[truth],
                   "wrong": 1 - rates[truth] - (rates["undecided"] if truth != "undecided"
                                                 else 0.0),
                   "falls_after_rate": falls / reps, "size_ci_coverage": cover / reps,
                   "seconds": time.perf_counter() - t0}
            out.append(row)
            print(f"{name:45s} {'x'.join(map(str, levels)):6s} correct {row['correct']:.3f}"
                  f" wrong {row['wrong']:.3f} undecided {rates['undecided']:.3f}  size_ci "
                  f"covers {row['size_ci_coverage']:.3f}  ({row['seconds']:.0f} s)",
                  flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--peak-reps", type=int, default=100)
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--part", default="all", choices=["all", "closed", "verdicts"])
    ap.add_argument("--json", default="bench/results/variance_closed_forms.json")
    args = ap.parse_args()
    path = Path(args.json)
    res = json.loads(path.read_text()) if path.exists() and args.part != "all" else {}
    res.setdefault("seconds", {})
    meta = {"date": date.today().isoformat(), "machine": f"{platform.machine()}, 2-core CPU",
            "scalelaw": scalelaw.__version__, "numpy": np.__version__}
    if args.part in ("all", "closed"):
        t0 = time.perf_counter()
        table = closed_form_table(args.n, args.reps, (8, 8, 3))
        worst = max(abs(r[k]["z"]) for r in table for k in ("bias2", "variance", *COMPONENTS))
        res["seconds"]["closed_forms"] = time.perf_counter() - t0
        res |= {"closed_forms": table, "largest_abs_z": worst,
                "closed_forms_run": meta | {"n": args.n, "reps": args.reps}}
        print(f"\nlargest |z| over the table: {worst:.2f}; "
              f"{res['seconds']['closed_forms']:.0f} s")
    if args.part in ("all", "verdicts"):
        t0 = time.perf_counter()
        res["verdicts"] = verdict_rates(args.peak_reps, args.n_boot)
        res["seconds"]["verdicts"] = time.perf_counter() - t0
        res["verdicts_run"] = meta | {"reps": args.peak_reps, "n_boot": args.n_boot}
        print(f"verdict rates: {res['seconds']['verdicts']:.0f} s")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(res, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
