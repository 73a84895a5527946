"""Extrapolation on the Alabdulmohsin et al. (2022) learning-curve benchmark.

92 curves (image classification, NMT, language modelling, BIG-bench), each
split into training points and a held-out tail (``training == 0``). Every law
is fitted to the training points only and scored by the RMSLE of its forecast
of the held-out tail, per curve; the table reports the mean per domain and
overall. Compared side by side, all with the same objective (least squares
on log loss, ``mse_log``) and scalelaw's default multi-start fitting:

* ``auto``: scalelaw's automatic choice (held-out-scale validation inside
  the training points among saturating_power/M2, M3, M4, broken power law);
* ``m1`` (power law), ``m2`` (saturating power law), ``m4``.

For ``auto`` it also reports the share of held-out points inside the 90 %
prediction interval (``obs_ci``), overall and per domain, and which law was
chosen how often.

Reference: a plain M2 fit reaches about 0.060 mean RMSLE (shared/docs/fitting.md
section 2.8, measured); target for auto: at most 0.045, with 85-95 % coverage.

Run: .venv/bin/python bench/revisiting_nsl.py [--workers 2] [--limit N] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

LAWS = {"auto": "auto", "m1": "m1", "m2": "m2", "m4": "m4"}
LEVEL = 0.9


def _one_curve(args: tuple[str, pd.DataFrame]) -> list[dict]:
    import scalelaw as sl

    warnings.simplefilter("ignore")
    curve, g = args
    train = g[g.training == 1]
    test = g[g.training == 0]
    rows = []
    for label, law in LAWS.items():
        t0 = time.perf_counter()
        row = {"curve": curve, "domain": g.domain.iloc[0], "law": label,
               "n_train": len(train), "n_test": len(test)}
        try:
            res = sl.fit(law, train, x="seen_examples", y="loss", objective="mse_log")
            x = test.seen_examples.to_numpy()
            y = test.loss.to_numpy()
            if label == "auto":
                tab = res.get_prediction(LEVEL, extrapolate=True, seen_examples=x)
                mean = tab["mean"].to_numpy()
                inside = (y >= tab.obs_ci_lower.to_numpy()) & (y <= tab.obs_ci_upper.to_numpy())
                row.update(n_inside=int(inside.sum()), chosen=res.law.name)
            else:
                mean = res.predict(seen_examples=x)
            row["rmsle"] = float(np.sqrt(np.mean((np.log(mean) - np.log(y)) ** 2)))
            row["status"] = "ok"
        except Exception as exc:  # reported in the table, never dropped
            row.update(rmsle=np.nan, status=f"failed: {exc}")
        row["seconds"] = time.perf_counter() - t0
        rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None, help="first N curves only")
    ap.add_argument("--json", default=str(Path(__file__).parent / "results" /
                                          "revisiting_nsl.json"))
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from scalelaw import datasets

    df = datasets.load("revisiting_nsl")
    groups = list(df.groupby("curve", sort=False))[: args.limit]
    t0 = time.perf_counter()
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        def tqdm(x, **_):
            return x
    with ProcessPoolExecutor(args.workers) as ex:
        out = [r for rows in tqdm(ex.map(_one_curve, groups), total=len(groups),
                                  desc="curves") for r in rows]
    wall = time.perf_counter() - t0
    res = pd.DataFrame(out)
    failed = res[res.status != "ok"]
    table = res.pivot_table(index="domain", columns="law", values="rmsle", aggfunc="mean")
    table.loc["all"] = res.pivot_table(index="law", values="rmsle", aggfunc="mean")["rmsle"]
    n_curves = res.groupby("domain").curve.nunique()
    n_curves["all"] = res.curve.nunique()
    table.insert(0, "curves", n_curves)
    auto = res[(res.law == "auto") & (res.status == "ok")]
    cov = auto.groupby("domain").apply(lambda d: d.n_inside.sum() / d.n_test.sum(),
                                       include_groups=False)
    cov["all"] = auto.n_inside.sum() / auto.n_test.sum()
    table["auto_pi90_coverage"] = cov
    with pd.option_context("display.float_format", "{:.4f}".format, "display.width", 120):
        print("Mean per-curve RMSLE on the held-out tail (lower is better)")
        print(table.to_string())
        print("\nLaw chosen by auto:", auto.chosen.value_counts().to_dict())
        print("Median RMSLE:", res.groupby("law").rmsle.median().round(4).to_dict())
        print(f"Failed fits: {len(failed)}; wall time {wall:.0f} s with {args.workers} "
              "worker(s)")
    import scalelaw

    payload = {
        "date": date.today().isoformat(),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "workers": args.workers},
        "versions": {"scalelaw": scalelaw.__version__, "numpy": np.__version__,
                     "pandas": pd.__version__},
        "settings": {"objective": "mse_log", "level": LEVEL, "laws": LAWS},
        "mean_rmsle": {str(k): {c: (None if pd.isna(v) else float(v))
                                for c, v in row.items()}
                       for k, row in table.drop(columns="curves").iterrows()},
        "median_rmsle": res.groupby("law").rmsle.median().to_dict(),
        "pi90_coverage_auto": {str(k): float(v) for k, v in cov.items()},
        "chosen": auto.chosen.value_counts().to_dict(),
        "n_failed": len(failed),
        "failed": failed[["curve", "law", "status"]].to_dict(orient="records"),
        "wall_seconds": wall,
        "per_curve": res.to_dict(orient="records"),
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(payload, indent=1, default=float) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
