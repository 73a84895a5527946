"""Out-of-sample check of law="auto" (its tie rule) and of the prediction-interval
model on synthetic learning curves the rules were not tuned on.

The interval model and auto's rule (average the candidates within 1.645 standard
errors of the best) were chosen on the 92 bundled curves, so their numbers there are
in-sample. Here: 60 synthetic curves in four families, fitted on
x <= 10^6 (27 log-spaced points from 10^3) and forecast on 13 points up to 10^7.5.

* ``saturating``: E + A x^-alpha;
* ``m4``: the M4 shape (a ceiling, a floor, a smooth turn);
* ``break_beyond``: a broken power law whose break (slope change) lies beyond
  the fitted range, at 10^6.5-10^7 (no law can see it coming);
* ``power``: A x^-alpha, no floor.

Log-normal noise 1.5 %; seeds fixed. Reported per family and overall: mean
RMSLE of ``auto``, ``m4``, ``broken_power`` and ``saturating_power``, and the 90 %
prediction-interval coverage of the held-out points (calibrated intervals; target
85-95 %), over all curves and over the curves k >= 6 alone (the first six per family
were measured in earlier entries, where the one-input rules were compared).

The fitting objective is ``mse_log`` unless ``--objective`` names another (earlier
entries in bench/RESULTS.md used ``mse_log``; the library's default is ``huber_log``).

``--seed S`` draws the curves from seeds ``[S, family index, k]`` (default 2026, the
curves of the earlier entries); with another seed every curve is fresh.

Run: .venv/bin/python bench/auto_out_of_sample.py [--per-family 15] [--jobs 2]
     [--objective huber_log] [--seed 2027]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

import scalelaw as sl
from scalelaw.laws import get_law

FAMILIES = ("saturating", "m4", "break_beyond", "power")
#: Curves k < SEEN of each family were measured in earlier entries of bench/RESULTS.md
#: (``--per-family 6``), where rules were compared; k >= SEEN are fresh.
SEEN = 6


def _curve(family: str, rng: np.random.Generator) -> np.ndarray:
    x = np.logspace(3, 7.5, 40)
    if family == "saturating":
        y = rng.uniform(0.5, 2) + rng.uniform(5, 50) * x ** -rng.uniform(0.2, 0.6)
    elif family == "power":
        y = rng.uniform(5, 50) * x ** -rng.uniform(0.05, 0.3)
    elif family == "m4":
        p = {"eps_inf": rng.uniform(0.05, 0.3), "eps_0": 1.0, "beta": 10 ** rng.uniform(1, 3),
             "c": -rng.uniform(0.3, 0.8), "alpha": rng.uniform(0.2, 1.5)}
        y = get_law("m4")(p, x=x)
    else:
        alpha1, alpha2 = rng.uniform(0.1, 0.3), rng.uniform(0.3, 0.6)
        x_b = 10 ** rng.uniform(6.5, 7.0)
        y = 30 * x ** -alpha1 * (1 + (x / x_b) ** 2) ** (-(alpha2 - alpha1) / 2)
    return x, y * np.exp(rng.normal(0, 0.015, x.size))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-family", type=int, default=15)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--json", default="bench/results/auto_out_of_sample.json")
    ap.add_argument("--objective", default="mse_log", help="fitting objective of every fit")
    ap.add_argument("--laws", default="auto,m4,broken_power,saturating_power",
                    help="comma-separated laws to backtest")
    ap.add_argument("--rule-before", action="store_true",
                    help="auto with the tie rule before NEVER_COMBINED (every tied candidate "
                         "combined), for comparison")
    ap.add_argument("--seed", type=int, default=2026,
                    help="curves from seeds [SEED, family, k]; 2026: those of earlier entries")
    ap.add_argument("--summarize", action="store_true",
                    help="recompute the summaries of the stored JSON's curves and store them")
    args = ap.parse_args()
    if args.summarize:
        data = json.loads(Path(args.json).read_text())
        data |= _summaries(pd.DataFrame(data["curves"]), data.get("seed", 2026))
        Path(args.json).write_text(json.dumps(data, indent=2, default=float) + "\n")
        return
    rows = []
    for fi, fam in enumerate(FAMILIES):
        for k in range(args.per_family):
            x, y = _curve(fam, np.random.default_rng([args.seed, fi, k]))
            rows += [(f"{fam}/{k}", fam, a, b, int(a <= 1e6)) for a, b in zip(x, y, strict=True)]
    df = pd.DataFrame(rows, columns=["curve", "family", "x", "loss", "training"])
    if args.rule_before:  # forked workers inherit it
        from scalelaw.fitting import _select
        _select.NEVER_COMBINED = {1: ()}
    curves, timing = [], {}
    for law in args.laws.split(","):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bt = sl.backtest(df, law, x="x", y="loss", group="curve", split_column="training",
                             objective=args.objective, n_jobs=args.jobs)
        timing[law] = time.perf_counter() - t0
        # coverage of the held-out points only (the points table also has the training rows)
        held = bt.points[bt.points["heldout"].astype(bool)]
        inside = held.groupby("group")["inside"].agg(["sum", "count"])
        for r in bt.groups.itertuples():
            n_in, n_held = (inside.loc[r.group] if r.group in inside.index else (0, 0))
            curves.append({"curve": r.group, "family": r.group.split("/")[0],
                           "k": int(r.group.split("/")[1]), "law_arg": law, "chosen": r.law,
                           "rmsle": r.rmsle, "status": r.status, "n_inside": int(n_in),
                           "n_heldout": int(n_held)})
    summaries = _summaries(pd.DataFrame(curves), args.seed)
    out, fresh = summaries["rows"], summaries["rows_fresh"]
    res = pd.DataFrame(out)
    with pd.option_context("display.width", 160, "display.float_format", "{:.4f}".format):
        print(res.pivot(index="family", columns="law", values=["rmsle_mean", "pi90"]))
        if len(fresh) and args.seed == 2026:
            print(f"curves k >= {SEEN} only:")
            print(pd.DataFrame(fresh).pivot(index="family", columns="law",
                                            values=["rmsle_mean", "pi90"]))
    chose = res[(res.law == "auto") & (res.family == "all")].chosen
    if len(chose):
        print("auto chose:", chose.iloc[0])
    print("seconds:", {k: round(v, 1) for k, v in timing.items()})
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({
        "date": str(date.today()), "machine": platform.platform(), "version": sl.__version__,
        "objective": args.objective, "per_family": args.per_family, "jobs": args.jobs,
        "seed": args.seed, "seeds": f"[{args.seed}, family index, k]",
        "rule_before": args.rule_before, **summaries,
        "curves": curves,
        "seconds": timing},
        indent=2, default=float) + "\n")


def _summaries(table: pd.DataFrame, seed: int = 2026) -> dict:
    """All curves, the fresh ones (k >= SEEN) and those of the earlier entries (k < SEEN);
    with a seed other than 2026 every curve is fresh."""
    seen = SEEN if seed == 2026 else 0
    return {"rows": _rows(table), "fresh_from_k": seen,
            "rows_fresh": _rows(table[table.k >= seen]),
            "rows_seen": _rows(table[table.k < seen])}


def _rows(table: pd.DataFrame) -> list[dict]:
    """Per law and family (and ``all``): mean RMSLE, held-out PI coverage, failures, choices."""
    out = []
    for law, by_law in table.groupby("law_arg", sort=False):
        for fam, sub in [*by_law.groupby("family"), ("all", by_law)]:
            out.append({"law": law, "family": fam, "n_curves": len(sub),
                        "rmsle_mean": float(sub.rmsle.mean()),
                        "pi90": float(sub.n_inside.sum() / max(sub.n_heldout.sum(), 1)),
                        "n_failed": int((sub.status != "ok").sum()),
                        "chosen": sub.chosen.value_counts().to_dict() if law == "auto" else None})
    return out


if __name__ == "__main__":
    main()
