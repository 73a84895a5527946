"""Coverage of combined intervals at 2x and 10x beyond the data, on synthetic designs.

Each design: 12 runs log-spaced over two decades (10^3..10^5), loss from a known
law with log-normal noise; the combination (:class:`scalelaw.CombinedFit`) of two
or three laws is fitted at the defaults and its intervals are checked at 2x and 10x
beyond the largest run:

* the 90 % interval of the mean curve against the true curve;
* the 90 % prediction interval (after :func:`scalelaw.calibrate`) against a new
  noisy run drawn there (``--obs``).

Scenarios: ``floor`` (truth: saturating power E + A x^-a, 2 % noise; combination
power + saturating power: one member has no floor and is biased beyond the data) and
``three`` (the same truth; saturating power + M3 + broken power; intervals of the
mean only). Reported beside each combination: every member's own coverage, and
that of the union of the members' intervals (the alternative to the mixture that
was considered). The binomial Monte-Carlo standard error of a rate p over n
designs is sqrt(p (1 - p) / n).

Run: .venv/bin/python bench/combination_coverage.py [--designs 1000] [--obs 200] [--jobs 2]
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

SCENARIOS = {"floor": "average:power+saturating_power",
             "three": "average:saturating_power+m3+broken_power"}
AT = np.array([2e5, 1e6])  # 2x and 10x beyond the largest run
LEVEL = 0.9


def _truth(x: np.ndarray) -> np.ndarray:
    return 0.5 + 20 * x**-0.4


def run(law: str, n_designs: int, seed: int, obs: bool, jobs: int = 1) -> dict:
    """Coverage rates per interval (combined and each member's) over the designs."""
    if jobs > 1:
        from concurrent.futures import ProcessPoolExecutor

        parts = np.array_split(np.arange(n_designs), jobs)
        with ProcessPoolExecutor(jobs) as ex:
            counts = list(ex.map(_hits, [law] * jobs, parts, [seed] * jobs, [obs] * jobs))
    else:
        counts = [_hits(law, np.arange(n_designs), seed, obs)]
    total = {k: sum(c[k] for c in counts) for k in counts[0]}
    return {key: {"2x": float(h[0] / n_designs), "10x": float(h[1] / n_designs)}
            for key, h in total.items()}


def _hits(law: str, designs: np.ndarray, seed: int, obs: bool) -> dict[str, np.ndarray]:
    n = np.logspace(3, 5, 12)
    truth = _truth(AT)
    hits: dict[str, np.ndarray] = {}
    for k in designs:
        rng = np.random.default_rng([seed, k])
        y = _truth(n) * np.exp(0.02 * rng.standard_normal(n.size))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            avg = sl.fit(law, pd.DataFrame({"n": n, "L": y}), x="n", y="L")
            if obs:
                avg = sl.calibrate(avg)
                new = truth * np.exp(0.02 * rng.standard_normal(AT.size))
                tab = avg.get_prediction(LEVEL, n=AT)
                got = {"combined": (tab.obs_ci_lower.to_numpy(), tab.obs_ci_upper.to_numpy())}
                for lab, m in zip(avg.labels, avg.members, strict=True):
                    t = m.get_prediction(LEVEL, n=AT)
                    got[lab] = (t.obs_ci_lower.to_numpy(), t.obs_ci_upper.to_numpy())
                target = new
                own = [got[lab] for lab in avg.labels]
            else:
                _, lo, hi = avg.mean_band(LEVEL, n=AT)
                got = {"combined": (lo, hi)}
                for lab, m in zip(avg.labels, avg.members, strict=True):
                    t = m.get_prediction(LEVEL, n=AT, extrapolate=True)
                    got[lab] = (t.mean_ci_lower.to_numpy(), t.mean_ci_upper.to_numpy())
                target = truth
                own = [got[lab] for lab in avg.labels]
            # the alternative considered: the union of the members' intervals
            got["union"] = (np.min([lo for lo, _ in own], axis=0),
                            np.max([hi for _, hi in own], axis=0))
        for key, (lo, hi) in got.items():
            hits.setdefault(key, np.zeros(AT.size))
            hits[key] += (lo <= target) & (target <= hi)
    return hits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--designs", type=int, default=1000)
    ap.add_argument("--obs", type=int, default=200,
                    help="designs for prediction intervals (the floor scenario)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--json", default="bench/results/combination_coverage.json")
    args = ap.parse_args()
    out = []
    t0 = time.perf_counter()
    for name, law in SCENARIOS.items():
        for kind, n_designs in (("mean vs truth", args.designs),
                                ("new run", args.obs if name == "floor" else 0)):
            if n_designs <= 0:
                continue
            t = time.perf_counter()
            rates = run(law, n_designs, 2026 + len(out), kind == "new run", args.jobs)
            se = float(np.sqrt(LEVEL * (1 - LEVEL) / n_designs))
            out.append({"scenario": name, "law": law, "interval": kind, "level": LEVEL,
                        "n_designs": n_designs, "binomial_se": se, "rates": rates,
                        "seconds": time.perf_counter() - t})
            print(f"{name:<6} {kind:<14} n={n_designs:<5} (SE {se:.3f})  "
                  + "  ".join(f"{k}: {v['2x']:.3f}/{v['10x']:.3f}" for k, v in rates.items()),
                  flush=True)
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps({  # after each row: a cut run keeps them
                "date": str(date.today()), "machine": platform.platform(),
                "seconds": time.perf_counter() - t0, "rows": out}, indent=1) + "\n")


if __name__ == "__main__":
    main()
