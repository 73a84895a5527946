"""The theory at quick scale: Bahri et al. data scaling and Sharma & Kaplan model scaling.

What it measures (``scalelaw reproduce ... --scale quick``, resumable):

1. Bahri et al. (2021) teacher-student data scaling, d = 2..6 (width-192
   students, the recipes of the shared science notes section 7): 4/alpha_D
   against d. Target: within 20 %. Baseline: Bahri et al. Fig. 1b.
2. The variance-limited exponent in D (width 8, D = 17P..540P, label noise
   0.3, 16 data seeds), the excess fitted against D - P - 1.
   Target: in [0.85, 1.15]. Baseline: Bahri et al. Fig. 1a (1.02).
3. Sharma & Kaplan (2020) model scaling with fresh data every step,
   k = 3..6 features: 4/alpha_P against the intrinsic dimension of the
   students' last hidden layer (TwoNN, pooled over the widest students).
   Target: within 25 %. Baseline: Sharma & Kaplan Fig. 13 / Fig. 5.

Run: .venv/bin/python bench/theory_quick.py [--out DIR] [--json PATH] [--device cpu|cuda]
(CPU: about 25-40 minutes on 2 cores; rerunning reuses finished runs.)
"""

from __future__ import annotations

import argparse
import json
import math
from datetime import date
from pathlib import Path

from scalelaw.experiments import run_study


def _fin(pair) -> list:
    return [float(v) if math.isfinite(v) else None for v in pair]


def _rows(name: str, res) -> list[dict]:
    rows = []
    for c in res.checks:
        if c.details.get("sweep") is None:
            continue
        d = c.details
        rep = (d.get("representation_id") or {}).get("dimension")
        row = {"study": name, "sweep": d["sweep"], "regime": c.regime, "alpha": c.alpha,
               "alpha_ci": list(c.alpha_ci), "verdict": c.verdict,
               "tolerance": c.tolerance,
               "questions": {q.kind: {"verdict": q.verdict, "interval": _fin(q.interval),
                                      "band": _fin(q.band)} for q in c.questions},
               "dimension_used": c.dimension,
               "dimension_interval": (None if c.dimension_estimate is None
                                      else list(c.dimension_estimate.plausible)),
               "window": list(c.window),
               "ci_method": None if c.fit is None else c.fit.ci_method,
               "alpha_raw": None if c.fit is None else c.fit.alpha_raw,
               "alpha_corrected": None if c.fit is None else c.fit.alpha_corrected,
               "nominal_d": d.get("nominal_dimension"),
               "data_id": (d.get("data_id") or {}).get("dimension"), "representation_id": rep,
               "against": {k: {"dimension": v.get("dimension"), "verdict": v.get("verdict")}
                           for k, v in (d.get("against") or {}).items()}}
        if c.regime == "resolution" and c.alpha > 0:
            row["four_over_alpha"] = 4 / c.alpha
            ref = rep if name == "sharma-kaplan" else d.get("nominal_dimension")
            row["reference_d"] = ref
            row["relative_gap"] = None if not ref else 4 / c.alpha / ref - 1
            row["target"] = 0.25 if name == "sharma-kaplan" else 0.20
            row["met"] = row["relative_gap"] is not None and abs(row["relative_gap"]) <= \
                row["target"]
        elif c.regime == "variance":
            row["target"] = [0.85, 1.15]
            row["met"] = 0.85 <= c.alpha <= 1.15
        rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bench/results/theory_quick_runs")
    ap.add_argument("--json", default="bench/results/theory_quick.json")
    ap.add_argument("--device", default=None)
    ap.add_argument("--only", default=None, choices=["bahri", "sharma-kaplan"],
                    help="run one study; the JSON keeps the other study's rows")
    args = ap.parse_args()
    rows, meta = [], {}
    for name in ("bahri", "sharma-kaplan"):
        if args.only and name != args.only:
            continue
        res = run_study(name, "quick", Path(args.out) / name, device=args.device)
        rows += _rows(name, res)
        meta[name] = {"wall_time_s": res.summary["wall_time_s"],
                      "hardware": res.summary["hardware"], "versions": res.summary["versions"]}
    print(f"{'study':<14}{'sweep':<18}{'regime':<11}{'alpha':>7}  {'interval':<16}"
          f"{'4/alpha':>8}{'ref d':>7}{'gap':>8}  met    verdicts")
    for r in rows:
        ci = f"[{r['alpha_ci'][0]:.2f}, {r['alpha_ci'][1]:.2f}]"
        foa = f"{r['four_over_alpha']:.2f}" if "four_over_alpha" in r else "-"
        ref = f"{r['reference_d']:.2f}" if r.get("reference_d") else "-"
        gap = f"{r['relative_gap']:+.0%}" if r.get("relative_gap") is not None else "-"
        print(f"{r['study']:<14}{r['sweep']:<18}{r['regime']:<11}{r['alpha']:>7.3f}  {ci:<16}"
              f"{foa:>8}{ref:>7}{gap:>8}  {r.get('met')!s:<6} "
              + ", ".join(f"{k} {q['verdict']}" for k, q in r["questions"].items()))
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    if args.only and path.exists():  # keep the other study's rows and settings
        old = json.loads(path.read_text())
        rows = [r for r in old.get("rows", []) if r["study"] != args.only] + rows
        meta = {**{k: v for k, v in old.get("meta", {}).items() if k != args.only}, **meta}
    path.write_text(json.dumps({"date": str(date.today()), "rows": rows, "meta": meta},
                               indent=2, default=float) + "\n")


if __name__ == "__main__":
    main()
