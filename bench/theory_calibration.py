"""Calibration of the theory checks on tables with a known exponent (fresh seeds).

What it measures, with the defaults users get (``check_scaling``'s window rule,
interval and tolerances):

1. The grid: 6-9 sizes (x2 apart), 3/5/8 seeds per size, 2/5/10 % log-normal
   scatter per run, three scenarios (resolution-limited with ``d = 4``;
   variance-limited with a fitted ``L_inf``; variance-limited with each run's
   own ``L_inf`` given and subtracted run by run). For each design: the
   interval's coverage of the true exponent, the share of windows kept whole,
   and the verdict rates with the truth on the prediction and twice the
   tolerance away (variance: alpha = 1.3; resolution: 4 / (alpha d) = 1.4).
2. Interval methods (t, cluster, whole-procedure bootstrap) on a few designs,
   without and with replicate effects (a seed's common offset; a seed's own slope).
3. Bends: a floor and a change of slope inside the sweep (how often the window
   stops at them).
4. Baseline: the previous window rule (grow from the 4 smallest sizes, stop at the
   first of two 5 % tests; re-implemented here from the earlier release) against
   the step-down rule, on straight power laws.

Run: .venv/bin/python bench/theory_calibration.py [--replicates 2000] [--json PATH]
(about 2-3 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special

import scalelaw
from scalelaw.theory import fit_exponent, simulate_check_rates

GRID = list(itertools.product((6, 7, 8, 9), (3, 5, 8), (0.02, 0.05, 0.10)))
SCENARIOS = {"resolution": {"regime": "resolution", "dimension": 4.0},
             "variance, L_inf fitted": {"regime": "variance", "l_inf": "fitted"},
             "variance, L_inf given": {"regime": "variance", "l_inf": "given"}}


def _rng(seeds: np.random.SeedSequence) -> np.random.Generator:
    return np.random.default_rng(seeds.spawn(1)[0])


def _machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} CPUs"


def _sizes(k: int) -> np.ndarray:
    return 256 * 2.0 ** np.arange(k)


def grid(n: int, seeds: np.random.SeedSequence) -> list[dict]:
    rows = []
    for (name, kw), (k, g, s) in itertools.product(SCENARIOS.items(), GRID):
        q = "estimate" if name == "resolution" else "variance"
        off = 4.0 / (1.4 * 4.0) if name == "resolution" else 1.3
        on_r = simulate_check_rates(alpha=1.0, sizes=_sizes(k), n_seeds=g, noise=s,
                                    n_replicates=n, random_state=_rng(seeds), **kw)
        off_r = simulate_check_rates(alpha=off, sizes=_sizes(k), n_seeds=g, noise=s,
                                     n_replicates=n, random_state=_rng(seeds), **kw)
        row = {"scenario": name, "sizes": k, "seeds": g, "noise": s,
               "coverage": on_r.coverage, "kept_whole": on_r.kept_whole,
               "mean_width": on_r.mean_width, "interval": on_r.settings["interval"],
               "consistent": on_r.rates[q]["consistent"],
               "inconsistent": on_r.rates[q]["inconsistent"],
               "off_consistent": off_r.rates[q]["consistent"],
               "off_coverage": off_r.coverage}
        if name == "resolution":
            row["bound_consistent"] = on_r.rates["bound"]["consistent"]
            row["bound_inconsistent"] = on_r.rates["bound"]["inconsistent"]
            row["off_bound_consistent"] = off_r.rates["bound"]["consistent"]
        rows.append(row)
    return rows


def summary(rows: list[dict], n: int) -> dict:
    out = {}
    for name in SCENARIOS:
        sub = pd.DataFrame([r for r in rows if r["scenario"] == name])
        decidable = sub[sub.mean_width <= 0.15] if "fitted" in name else sub
        out[name] = {
            "designs": len(sub), "coverage_min": sub.coverage.min(),
            "coverage_max": sub.coverage.max(), "coverage_mean": sub.coverage.mean(),
            "kept_whole_min": sub.kept_whole.min(),
            "inconsistent_max": sub.inconsistent.max(),
            "consistent_min_decidable": decidable.consistent.min(),
            "decidable_designs": len(decidable),
            "consistent_min_all": sub.consistent.min(),
            "off_consistent_max": sub.off_consistent.max(),
            "off_coverage_min": sub.off_coverage.min()}
    out["monte_carlo_se_of_a_95_coverage"] = float(np.sqrt(0.95 * 0.05 / n))
    return out


def _table(vals: np.ndarray, sizes: np.ndarray) -> pd.DataFrame:
    g, k = vals.shape
    return pd.DataFrame({"n_train": np.tile(sizes, g), "loss": vals.ravel(),
                         "seed": np.repeat(np.arange(g), k)})


def intervals(n: int, seeds: np.random.SeedSequence) -> list[dict]:
    """t, cluster and whole-procedure bootstrap on the same replicates."""
    rows = []
    designs = [(6, 3, 0.05), (9, 5, 0.05), (9, 8, 0.02)]
    for (k, g, s), (off, slope) in itertools.product(designs, ((0.0, 0.0), (0.05, 0.0),
                                                                (0.0, 0.02))):
        child = seeds.spawn(1)[0]  # the same replicates for both methods
        base = simulate_check_rates(regime="resolution", alpha=1.0, dimension=4.0,
                                    sizes=_sizes(k), n_seeds=g, noise=s, seed_offset=off,
                                    seed_slope=slope, interval="t", n_replicates=n,
                                    random_state=np.random.default_rng(child))
        clus = simulate_check_rates(regime="resolution", alpha=1.0, dimension=4.0,
                                    sizes=_sizes(k), n_seeds=g, noise=s, seed_offset=off,
                                    seed_slope=slope, interval="cluster", n_replicates=n,
                                    random_state=np.random.default_rng(child))
        nb = min(n, 300)
        boot_hits, failed, widths = 0, 0, []
        for i in range(nb):
            f = fit_exponent(_table(base.values[i], _sizes(k)), "n_train", "loss",
                             regime="resolution", interval="bootstrap", n_boot=400,
                             random_state=i)
            boot_hits += f.ci[0] <= 1.0 <= f.ci[1]
            failed += f.n_boot_failed
            widths.append(f.ci[1] - f.ci[0])
        rows.append({"sizes": k, "seeds": g, "noise": s, "seed_offset": off,
                     "seed_slope": slope, "t_coverage": base.coverage,
                     "t_width": base.mean_width, "cluster_coverage": clus.coverage,
                     "cluster_width": clus.mean_width, "bootstrap_coverage": boot_hits / nb,
                     "bootstrap_width": float(np.nanmean(widths)),
                     "bootstrap_replicates": nb, "bootstrap_failed_draws": failed})
    return rows


def bends(n: int, seeds: np.random.SeedSequence) -> list[dict]:
    rows = []
    cases = [(d, kind, d[0] - 3) for d, kind in itertools.product(
        [(8, 5, 0.05), (9, 3, 0.05), (9, 5, 0.10), (9, 8, 0.02)], ("floor", "crossover"))]
    cases += [((6, 3, 0.05), "floor", 3), ((6, 3, 0.05), "crossover", 2)]  # too early
    for (k, g, s), kind, j in cases:
        x = _sizes(k)
        bend = ("floor", x[j]) if kind == "floor" else ("crossover", x[j], 0.5)
        r = simulate_check_rates(regime="resolution", alpha=1.0, dimension=4.0, sizes=x,
                                 n_seeds=g, noise=s, bend=bend, n_replicates=n,
                                 random_state=_rng(seeds))
        rows.append({"bend": kind, "at_size_index": j, "sizes": k, "seeds": g, "noise": s,
                     "cut": 1 - r.kept_whole, "stops_at_bend": float(np.mean(r.stop <= j + 1)),
                     "coverage": r.coverage,
                     "estimate_consistent": r.rates["estimate"]["consistent"],
                     "estimate_inconsistent": r.rates["estimate"]["inconsistent"]})
    return rows


def _least_squares_table(p: int, rng: np.random.Generator) -> pd.DataFrame:
    """Least squares on P random ReLU features, D = 10P..320P, 6 draws: the excess given
    each design, sigma^2 tr(C (X^T X)^-1) (the label-noise expectation, exact)."""
    w = rng.standard_normal((p, 4))
    b = rng.uniform(-0.5, 0.5, p)

    def feats(x: np.ndarray) -> np.ndarray:
        return np.maximum(x @ w.T + b, 0.0)

    pool = feats(rng.uniform(-1, 1, (20_000, 4)))
    cov = pool.T @ pool / pool.shape[0]
    rows = []
    for s, m in itertools.product(range(6), (10, 20, 40, 80, 160, 320)):
        x = feats(rng.uniform(-1, 1, (m * p, 4)))
        rows.append({"n_train": m * p, "n_params": p, "seed": s, "l_inf": 0.25,
                     "loss": 0.25 + 0.25 * np.trace(np.linalg.solve(x.T @ x, cov))})
    return pd.DataFrame(rows)


def finite_sample(seeds: np.random.SeedSequence) -> list[dict]:
    """The correction on least squares (where it holds) and on true c/D tables (where
    it does not), raw and corrected exponents side by side."""
    from scalelaw.theory import check_scaling

    rows = []
    for p in (10, 25, 50):
        t = _least_squares_table(p, _rng(seeds))
        c = check_scaling(t, "n_train", "loss", l_inf="l_inf", model="linear")[0]
        rows.append({"table": "least squares, random ReLU features", "n_params": p,
                     "alpha_raw": c.fit.alpha_raw, "ci_raw": list(c.fit.ci_raw),
                     "alpha_corrected": c.fit.alpha_corrected,
                     "ci_corrected": list(c.fit.ci_corrected), "verdict": c.verdict})
    for p in (25, 200):
        rng = _rng(seeds)
        d = p * np.array([10, 20, 40, 80, 160, 320.0])
        raw, corr, hits = [], [], 0
        for _ in range(100):
            t = pd.DataFrame({"n_train": np.tile(d, 5), "n_params": p,
                              "seed": np.repeat(np.arange(5), d.size)})
            t["loss"] = 1 + 5 * p / t.n_train * np.exp(0.03 * rng.standard_normal(len(t)))
            c = check_scaling(t, "n_train", "loss")[0]
            raw.append(c.fit.alpha_raw)
            corr.append(c.fit.alpha_corrected)
            hits += c.alpha_ci[0] <= 1.0 <= c.alpha_ci[1]
        rows.append({"table": "L = 1 + c / D (3 % scatter on the excess, 5 seeds, fitted "
                     "L_inf), 100 tables", "n_params": p, "alpha_raw": float(np.mean(raw)),
                     "alpha_corrected": float(np.mean(corr)),
                     "coverage_default": hits / 100})
    return rows


def _old_rule(u: np.ndarray, v: np.ndarray) -> int:
    """The earlier window rule: grow from 4 sizes; stop at a significant quadratic term
    or a point outside the line's 95 % prediction interval (two 5 % tests per size)."""
    q = special.stdtrit
    stop = 4
    for end in range(5, u.size + 1):
        uu, vv = u[:end], v[:end]
        a = np.c_[np.ones(end), uu - uu.mean(), (uu - uu.mean()) ** 2]
        coef, *_ = np.linalg.lstsq(a, vv, rcond=None)
        res = vv - a @ coef
        se = np.sqrt(res @ res / (end - 3) * np.linalg.pinv(a.T @ a)[2, 2])
        bent = abs(coef[2]) / se > q(end - 3, 0.975)
        w, z = u[:end - 1], v[:end - 1]
        sl, ic = np.polyfit(w, z, 1)
        r2 = z - (ic + sl * w)
        s2 = r2 @ r2 / (end - 3)
        sep = np.sqrt(s2 * (1 + 1 / (end - 1) + (u[end - 1] - w.mean()) ** 2
                            / ((w - w.mean()) ** 2).sum()))
        leaves = abs(v[end - 1] - (ic + sl * u[end - 1])) / sep > q(end - 3, 0.975)
        if bent or leaves:
            break
        stop = end
    return stop


def window_baseline(n: int, seeds: np.random.SeedSequence) -> list[dict]:
    rows = []
    for k, g, s in [(9, 5, 0.05), (9, 3, 0.10), (7, 5, 0.05)]:
        r = simulate_check_rates(regime="resolution", alpha=1.0, dimension=4.0,
                                 sizes=_sizes(k), n_seeds=g, noise=s, n_replicates=n,
                                 random_state=_rng(seeds))
        u = np.log(_sizes(k))
        v = np.log(np.exp(np.log(r.values).mean(axis=1)))
        t0 = time.perf_counter()
        old = np.array([_old_rule(u, vi) for vi in v])
        rows.append({"sizes": k, "seeds": g, "noise": s,
                     "old_rule_kept_whole": float(np.mean(old == k)),
                     "step_down_kept_whole": r.kept_whole,
                     "old_rule_seconds": time.perf_counter() - t0})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=2000)
    ap.add_argument("--json", default="bench/results/theory_calibration.json")
    ap.add_argument("--seed", type=int, default=None, help="default: fresh entropy")
    args = ap.parse_args()
    seeds = np.random.SeedSequence(args.seed)
    t0 = time.perf_counter()
    rows = grid(args.replicates, seeds)
    summ = summary(rows, args.replicates)
    iv = intervals(args.replicates, seeds)
    bd = bends(args.replicates, seeds)
    base = window_baseline(args.replicates, seeds)
    fs = finite_sample(seeds)
    wall = time.perf_counter() - t0
    print(f"{'scenario':<24}{'K':>3}{'G':>3}{'noise':>7}{'cover':>7}{'whole':>7}"
          f"{'width':>7}{'cons':>7}{'incons':>7}{'off cons':>9}")
    for r in rows:
        print(f"{r['scenario']:<24}{r['sizes']:>3}{r['seeds']:>3}{r['noise']:>7.2f}"
              f"{r['coverage']:>7.3f}{r['kept_whole']:>7.3f}{r['mean_width']:>7.3f}"
              f"{r['consistent']:>7.3f}{r['inconsistent']:>7.3f}{r['off_consistent']:>9.3f}")
    print("\nsummary")
    for name, s in summ.items():
        print(f"  {name}: {s}")
    print("\ninterval methods (resolution-limited, truth 1)")
    for r in iv:
        print(f"  K={r['sizes']} G={r['seeds']} noise={r['noise']} offset={r['seed_offset']} "
              f"slope={r['seed_slope']}: t {r['t_coverage']:.3f} ({r['t_width']:.3f}), "
              f"cluster {r['cluster_coverage']:.3f} ({r['cluster_width']:.3f}), bootstrap "
              f"{r['bootstrap_coverage']:.3f} ({r['bootstrap_width']:.3f}; "
              f"{r['bootstrap_failed_draws']} failed draws)")
    print("\nbends")
    for r in bd:
        print(f"  {r}")
    print("\nwindow rule baseline (straight power laws)")
    for r in base:
        print(f"  {r}")
    print("\nfinite-sample correction")
    for r in fs:
        print(f"  {r}")
    out = {"date": str(date.today()), "machine": _machine(), "platform": platform.platform(),
           "versions": {"scalelaw": scalelaw.__version__, "numpy": np.__version__,
                        "pandas": pd.__version__},
           "replicates": args.replicates, "seed_entropy": str(seeds.entropy),
           "wall_time_s": wall, "summary": summ, "grid": rows, "intervals": iv,
           "bends": bd, "window_baseline": base, "finite_sample": fs}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=2, default=float) + "\n")
    print(f"\nwall time {wall:.0f} s; JSON: {args.json}")


if __name__ == "__main__":
    main()
