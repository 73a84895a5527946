"""Chinchilla fit speed: scalelaw's batched fit against a plain scipy loop.

Work measured (both sides, same data, same starts, same replica weights):

1. the fit from the 4,500-point Hoffmann/Epoch grid (plus the data-driven
   guess) on 245 runs, Huber loss (delta = 1e-3) on log residuals;
2. 1,000 bootstrap replicas, each refitted from the distinct optima of the
   full fit (at most 8), keeping each replica's best.

Baseline: one ``scipy.optimize.minimize(method="L-BFGS-B", jac=True)`` call per
start with an analytic gradient, BLAS threads set to 1. It is run twice: with
scipy's default tolerances (the usual loop), and with tolerances tight enough to
reach the same optima as scalelaw (``ftol=1e-15, gtol=1e-10``). The default
loop stops replicas almost where they start (L-BFGS-B's ftol is absolute for
losses below 1), so its bootstrap intervals are far too narrow; the table
shows them.

Run: .venv/bin/python bench/fit_speed.py [--repeats 3] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import date
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

import scalelaw as sl
from scalelaw.inference import bootstrap_weights
from scalelaw.laws import Inputs
from scalelaw.synthetic import chinchilla_design, simulate_runs

DELTA = 1e-3


def scipy_objective(u, v, y, w):
    """Huber loss (sum) of log residuals and its analytic gradient, one start."""

    @np.errstate(all="ignore")  # far starts overflow; L-BFGS-B backs off
    def fg(theta):
        e, a, b, alpha, beta = theta
        w1 = np.exp(a - alpha * u)
        w2 = np.exp(b - beta * v)
        w0 = np.exp(e)
        s = w1 + w2 + w0
        r = np.log(s) - y
        ps = np.clip(r, -DELTA, DELTA)
        f = float(np.dot(w, ps * (r - 0.5 * ps)))
        c = w * ps / s
        q1, q2 = c * w1, c * w2
        g = np.array([c.sum() * w0, q1.sum(), q2.sum(), -(q1 @ u), -(q2 @ v)])
        return f, g

    return fg


def scipy_loop(fg_factory, starts, weights_list, options):
    """Minimise from every start for every weight vector; keep each best."""
    bounds = [(None, None)] * 3 + [(0.0, 10.0)] * 2
    best_x, best_f = [], []
    with threadpool_limits(limits=1):
        for w in weights_list:
            fg = fg_factory(w)
            fx = None
            for x0 in starts:
                res = minimize(fg, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                               options=options)
                if fx is None or res.fun < fx[1]:
                    fx = (res.x, res.fun)
            best_x.append(fx[0])
            best_f.append(fx[1])
    return np.array(best_x), np.array(best_f)


def median_time(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times)), times, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--json", default=str(Path(__file__).parent / "results" /
                                          "fit_speed.json"))
    args = ap.parse_args()

    runs = simulate_runs(chinchilla_design(245), noise=0.02, random_state=2024)
    xcols = ["n_params", "n_tokens"]
    law = sl.get_law("chinchilla")
    inputs = Inputs([runs.n_params.to_numpy(), runs.n_tokens.to_numpy()])
    yv = runs.loss.to_numpy()
    u, v, ylog = np.log(runs.n_params.to_numpy()), np.log(runs.n_tokens.to_numpy()), np.log(yv)
    grid = law.start_points(inputs, yv, None)  # the guess + the 4,500-point grid

    # ---- scalelaw: grid fit + bootstrap, with all threads and with 1 thread
    sl.fit("power", runs, x="n_params", y="loss")  # warm imports
    rows = {}
    for threads in (None, 1):
        times, fit_times, boot_times, out = [], [], [], None
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            res = sl.fit("chinchilla", runs, x=xcols, y="loss", n_threads=threads)
            t1 = time.perf_counter()
            boot = res.with_bootstrap(args.n_boot, random_state=0)
            t2 = time.perf_counter()
            fit_times.append(t1 - t0)
            boot_times.append(t2 - t1)
            times.append(t2 - t0)
            out = boot
        key = "scalelaw" if threads is None else "scalelaw_1thread"
        rows[key] = {
            "fit_s": float(np.median(fit_times)),
            "bootstrap_s": float(np.median(boot_times)),
            "total_s": float(np.median(times)),
            "all_totals_s": times,
        }
        if threads is None:
            result = out
    starts_boot = law.to_internal(result.optima[list(law.param_names)].to_numpy())
    mult = bootstrap_weights(len(runs), args.n_boot, np.random.default_rng(0))

    def factory(w):
        return scipy_objective(u, v, ylog, w)

    ones = np.ones(len(runs))
    scipy_rows = {}
    for label, options in (("scipy_default", {}),
                           ("scipy_matched", {"ftol": 1e-15, "gtol": 1e-10})):
        grid_opts = {} if label == "scipy_default" else {"ftol": 1e-12, "gtol": 1e-10}
        t_grid, tg, (_gx, gf) = median_time(
            lambda o=grid_opts: scipy_loop(factory, grid, [ones], o),
            1 if label == "scipy_matched" else args.repeats)
        t_boot, tb, (bx, bf) = median_time(
            lambda o=options: scipy_loop(factory, starts_boot, list(mult), o),
            args.repeats)
        scipy_rows[label] = {
            "fit_s": t_grid, "bootstrap_s": t_boot, "total_s": t_grid + t_boot,
            "grid_times_s": tg, "boot_times_s": tb,
            "best_loss": float(gf[0]), "boot_theta": bx, "boot_loss": bf,
        }

    ours_loss = result.loss
    ours_boot_loss = result.bootstrap["loss"].to_numpy()
    table = []
    for name, row in [("scalelaw (2 threads)", rows["scalelaw"]),
                      ("scalelaw (1 thread)", rows["scalelaw_1thread"]),
                      ("scipy loop, default tol", scipy_rows["scipy_default"]),
                      ("scipy loop, matched tol", scipy_rows["scipy_matched"])]:
        table.append((name, row["fit_s"], row["bootstrap_s"], row["total_s"]))

    def ci(theta_nat, name):
        return np.percentile(theta_nat[name], [2.5, 97.5]).round(4).tolist()

    boot_nat = {
        "scalelaw": result.bootstrap,
        "scipy_default": None,
        "scipy_matched": None,
    }
    for key in ("scipy_default", "scipy_matched"):
        nat = law.to_natural(scipy_rows[key]["boot_theta"])
        boot_nat[key] = {n: nat[:, j] for j, n in enumerate(law.param_names)}
    base = rows["scalelaw"]["total_s"]
    print(f"Chinchilla fit: {len(runs)} runs, {len(grid)} starts, {args.n_boot} "
          f"bootstrap replicas x {len(starts_boot)} warm start(s); "
          f"median of {args.repeats}")
    print(f"{'method':28s}{'grid fit s':>12s}{'bootstrap s':>13s}{'total s':>10s}"
          f"{'vs scalelaw':>13s}")
    for name, f_s, b_s, t_s in table:
        print(f"{name:28s}{f_s:12.2f}{b_s:13.2f}{t_s:10.2f}{t_s / base:12.1f}x")
    rel_fit = abs(ours_loss - scipy_rows["scipy_default"]["best_loss"]) / ours_loss
    rel_fit_m = abs(ours_loss - scipy_rows["scipy_matched"]["best_loss"]) / ours_loss
    worse = ours_boot_loss - scipy_rows["scipy_matched"]["boot_loss"]
    rel_boot = float(np.max(worse / scipy_rows["scipy_matched"]["boot_loss"]))
    print(f"best Huber loss: scalelaw {ours_loss:.12g}, scipy default "
          f"{scipy_rows['scipy_default']['best_loss']:.12g} (rel diff {rel_fit:.1e}), "
          f"scipy matched {scipy_rows['scipy_matched']['best_loss']:.12g} "
          f"(rel diff {rel_fit_m:.1e})")
    print(f"bootstrap replicas: max relative excess of scalelaw's loss over the "
          f"matched scipy loop: {rel_boot:.1e}")
    print("95% bootstrap intervals (alpha; beta):")
    for key in ("scalelaw", "scipy_default", "scipy_matched"):
        print(f"  {key:15s} alpha {ci(boot_nat[key], 'alpha')}  "
              f"beta {ci(boot_nat[key], 'beta')}")
    out = {
        "benchmark": "fit_speed",
        "date": date.today().isoformat(),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "python": platform.python_version()},
        "versions": result.versions,
        "n_runs": len(runs), "n_starts": len(grid), "n_boot": args.n_boot,
        "n_warm_starts": len(starts_boot), "repeats": args.repeats,
        "timings_s": {k: {kk: vv for kk, vv in r.items()
                          if kk not in ("boot_theta", "boot_loss")}
                      for k, r in {**rows, **scipy_rows}.items()},
        "speedup_total": {k: scipy_rows[k]["total_s"] / base for k in scipy_rows},
        "best_loss": {"scalelaw": ours_loss,
                      **{k: scipy_rows[k]["best_loss"] for k in scipy_rows}},
        "rel_diff_best_loss": {"scipy_default": rel_fit, "scipy_matched": rel_fit_m},
        "bootstrap_max_rel_excess_vs_matched": rel_boot,
        "bootstrap_ci95": {k: {n: ci(boot_nat[k], n) for n in ("alpha", "beta")}
                           for k in boot_nat},
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
