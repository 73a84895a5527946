"""Local learning coefficient on known answers, and the complexity of random networks.

LLC: each known-answer model (normal crossings, reduced-rank regression,
regular models) estimated with the default sampler (Metropolis-adjusted
Langevin, automatic step) and with the literature's unadjusted SGLD step
(the baseline, as devinterp runs it but with full-batch gradients), same
chains, steps, localisation and seeds; the estimate, its standard error, the
exact finite-temperature target where known (quadrature), the truth and the
time. Redshift: the default grid of ``scalelaw redshift`` (5 activations x
4 depths x 4 weight scales x 3 widths, 100 initialisations, 64 x 64 grid)
plus residual and layer-norm variants at width 64, with its time and the
ordinal findings as ratios with paired bootstrap intervals.

Usage: python bench/llc_redshift.py [--quick] [--json bench/results/llc_redshift.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np


def _llc(quick: bool) -> list[dict]:
    from scalelaw.slt import (
        estimate_llc,
        normal_crossing,
        reduced_rank_regression,
        regular_model,
        tempered_mean_loss,
    )

    chains, steps = (4, 1000) if quick else (8, 3000)
    models = [(normal_crossing(p, n=10_000), p) for p in
              [(0, 1), (1, 1), (0, 2), (1, 2), (2, 2), (0, 3)]]
    models += [(reduced_rank_regression(*s, n=10_000, seed=0), None) for s in
               [(5, 3, 5), (5, 4, 5), (4, 3, 8)]]
    models += [(regular_model(5, 2, n=10_000, seed=0), None)]
    rows = []
    for m, powers in models:
        for sampler in ("mala", "sgld"):
            n_steps = steps + (1000 if m.name.startswith("reduced") and not quick else 0)
            t0 = time.perf_counter()
            est = estimate_llc(m.loss, m.w_star, m.n, n_chains=chains, n_steps=n_steps,
                               sampler=sampler, seed=0)
            sec = time.perf_counter() - t0
            exact = (tempered_mean_loss(powers, est.nbeta, est.localization)
                     if powers is not None else None)
            rows.append({"model": m.name, "sampler": sampler, "true": m.llc,
                         "tempered_exact": exact, "llc": est.llc, "llc_se": est.llc_se,
                         "rel_error_vs_true": est.llc / m.llc - 1,
                         "rel_error_vs_tempered": (est.llc / exact - 1) if exact else None,
                         "stable": est.stable, "rhat": est.rhat,
                         "accept": est.settings["metropolis_accept"],
                         "step_size": est.step_size, "chains": chains, "steps": n_steps,
                         "seconds": sec})
            print(f"{m.name:<34} {sampler:<5} true {m.llc:6.3f}  tempered "
                  f"{'-' if exact is None else f'{exact:6.3f}':>6}  est {est.llc:7.3f} "
                  f"+- {est.llc_se:5.3f}  {'stable' if est.stable else 'NOT stable':<10} "
                  f"{sec:6.1f} s", flush=True)
    return rows


def _redshift(quick: bool) -> dict:
    from scalelaw.redshift import complexity_ratio, random_network_complexity

    n_init = 20 if quick else 100
    t0 = time.perf_counter()
    main = random_network_complexity(n_init=n_init, widths=(16, 64) if quick else (16, 64, 256))
    t_main = time.perf_counter() - t0
    t0 = time.perf_counter()
    variants = random_network_complexity(depths=(1, 8), weight_scales=(0.5, 1.0, 4.0),
                                         widths=(64,), layernorm=[False, True],
                                         residual=[False, True], n_init=n_init)
    t_var = time.perf_counter() - t0
    print(f"redshift default grid: {main.settings['n_networks']} networks in {t_main:.1f} s; "
          f"variants: {variants.settings['n_networks']} in {t_var:.1f} s")
    findings = []

    def ratio(res: object, what: str, num: dict, den: dict) -> None:
        r, (lo, hi) = complexity_ratio(res, num, den)
        findings.append({"finding": what, "numerator": num, "denominator": den, "ratio": r,
                         "ci": [lo, hi]})
        print(f"  {what:<58} {r:7.3f} [{lo:.3f}, {hi:.3f}]")

    plain = {"layernorm": False, "residual": False}
    for act in ("relu", "gelu", "tanh", "gauss", "sin"):
        ratio(main, f"{act}: depth 8 / depth 1 at s = 4, width 64",
              {"activation": act, "depth": 8, "weight_scale": 4.0, "width": 64},
              {"activation": act, "depth": 1, "weight_scale": 4.0, "width": 64})
        ratio(main, f"{act}: s = 4 / s = 1 at depth 8, width 64",
              {"activation": act, "depth": 8, "weight_scale": 4.0, "width": 64},
              {"activation": act, "depth": 8, "weight_scale": 1.0, "width": 64})
        ratio(main, f"{act}: width 64 / width 16 at depth 4, s = 1",
              {"activation": act, "depth": 4, "weight_scale": 1.0, "width": 64},
              {"activation": act, "depth": 4, "weight_scale": 1.0, "width": 16})
        ratio(variants, f"{act}: layer norm, s = 4 / s = 0.5 at depth 8",
              {"activation": act, "depth": 8, "weight_scale": 4.0, "layernorm": True,
               "residual": False},
              {"activation": act, "depth": 8, "weight_scale": 0.5, "layernorm": True,
               "residual": False})
        ratio(variants, f"{act}: residual / plain at depth 8, s = 4",
              {"activation": act, "depth": 8, "weight_scale": 4.0, "layernorm": False,
               "residual": True},
              {"activation": act, "depth": 8, "weight_scale": 4.0, **plain})
        ratio(variants, f"{act}: residual, depth 8 / depth 1 at s = 0.5",
              {"activation": act, "depth": 8, "weight_scale": 0.5, "layernorm": False,
               "residual": True},
              {"activation": act, "depth": 1, "weight_scale": 0.5, "layernorm": False,
               "residual": True})
    return {"seconds_default_grid": t_main, "seconds_variants": t_var,
            "n_networks_default_grid": main.settings["n_networks"],
            "rows": main.to_dict()["rows"], "variant_rows": variants.to_dict()["rows"],
            "findings": findings}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer steps and initialisations")
    ap.add_argument("--json", default="bench/results/llc_redshift.json")
    ap.add_argument("--skip-llc", action="store_true")
    ap.add_argument("--skip-redshift", action="store_true")
    args = ap.parse_args()
    import torch

    out = {"machine": {"platform": platform.platform(), "processor": platform.processor(),
                       "cpus": __import__("os").cpu_count(), "torch": torch.__version__,
                       "numpy": np.__version__, "torch_threads": torch.get_num_threads()},
           "date": time.strftime("%Y-%m-%d"), "quick": args.quick}
    path = Path(args.json)
    if path.exists():  # keep the part not rerun
        old = json.loads(path.read_text())
        out.update({k: v for k, v in old.items() if k in ("llc", "llc_settings", "redshift")})
    if not args.skip_llc:
        t0 = time.perf_counter()
        out["llc"] = _llc(args.quick)
        out["llc_settings"] = {"quick": args.quick, "date": out["date"],
                               "seconds": time.perf_counter() - t0}
    if not args.skip_redshift:
        out["redshift"] = _redshift(args.quick)
        out["redshift"]["quick"] = args.quick
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1, default=float) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
