"""The demo's variance-limited slice: which design can decide alpha = 1 on 2 CPU cores.

Width-8 students (P = 121) on bahri-d4 with Gaussian label noise (test loss against
the clean teacher), 8 data seeds, 10k Adam steps at batch 512 (the demo's settings),
for four designs: label noise sd 0.3 over D = 2048..65536 (the earlier demo) and over
D = 2^17..2^20 (where the 1/D excess is negligible: the seed scatter of L_inf), sd 1.0
over D = 4096..131072 (the demo now) and 8192..262144. Each design's check is the
demo's (``check_scaling``, variance-limited, L_inf fitted, cluster-robust interval
over the data seeds). Prints a table and writes ``bench/results/variance_slice.json``.

The sweeps are resumable stores under ``--out``: a rerun trains nothing new (its
``train_seconds`` is then the resumed run's, near zero).

Run: .venv/bin/python bench/variance_slice.py [--out DIR]
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
from scalelaw.experiments._protocols import _pow2, _variance
from scalelaw.theory import check_scaling

DESIGNS = {
    "sd0.3_D2048-65536": (0.3, 2048, 65536),
    "sd0.3_D131072-1048576": (0.3, 131072, 1048576),
    "sd1.0_D4096-131072": (1.0, 4096, 131072),
    "sd1.0_D8192-262144": (1.0, 8192, 262144),
}


def main() -> None:
    from teacher_student.sweep import SweepConfig, final_metrics, run_sweep

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bench/out/variance_slice")
    ap.add_argument("--json", default="bench/results/variance_slice.json")
    args = ap.parse_args()
    rows = []
    for name, (noise, lo, hi) in DESIGNS.items():
        cfg = _variance(data_seeds=8, steps=10_000, sizes=_pow2(lo, hi), label_noise=noise)
        t0 = time.perf_counter()
        run_sweep(SweepConfig.from_dict(cfg), Path(args.out) / name, progress=False,
                  threads=1, tune_allocator=True)
        secs = time.perf_counter() - t0
        table = final_metrics(Path(args.out) / name)
        c = check_scaling(table, "n_train", "test_loss", regime="variance")[0]
        by_size = table.groupby("n_train")["test_loss"]
        rows.append({"design": name, "label_noise": noise, "sizes": [lo, hi],
                     "n_runs": len(table), "alpha": c.alpha, "alpha_ci": list(c.alpha_ci),
                     "verdict": c.verdict, "reason": c.reason,
                     "mean_loss": by_size.mean().tolist(), "sd_loss": by_size.std().tolist(),
                     "train_seconds": secs})
        print(f"{name:24s} alpha = {c.alpha:.3f} [{c.alpha_ci[0]:.3f}, {c.alpha_ci[1]:.3f}] "
              f"{c.verdict:12s} mean loss {np.round(by_size.mean().to_numpy(), 5)}")
    res = {"run": {"date": date.today().isoformat(), "machine": f"{platform.machine()}, "
                   "2-core CPU", "scalelaw": scalelaw.__version__, "threads": 1},
           "rows": rows}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(res, indent=1, default=float))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
