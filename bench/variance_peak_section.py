"""The variance-peak report section at a given scale: JSON and plot.

Runs :func:`scalelaw.experiments._variance_peak_section.variance_peak_section`
(ridge on Haar-orthogonal random features against its closed forms, and a
crossed data x init x noise width sweep of trained students), prints the
section's text and per-width rows, and writes the section (without the figure)
as JSON, with the plot beside it.

Run: .venv/bin/python bench/variance_peak_section.py [--scale demo] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import date
from pathlib import Path

import scalelaw
from scalelaw.experiments._variance_peak_section import variance_peak_section


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", default="demo", choices=["test", "demo"])
    ap.add_argument("--out", default="bench/out/variance_peak", help="sweep store and plot")
    ap.add_argument("--json", default="bench/results/variance_peak_section.json")
    args = ap.parse_args()
    t0, c0 = time.perf_counter(), time.process_time()
    sec = variance_peak_section(args.out, args.scale)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print("\n".join(sec["markdown"]))
    for r in sec["students"]["rows"]:
        print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()
               if k in ("n_params", "width", "train_loss", "test_loss", "variance", "bias2")})
    print(sec["model"]["peak"]["reason"])
    print(sec["students"]["peak"]["reason"])
    print(f"wall {wall:.1f} s, cpu {cpu:.1f} s")
    res = {k: v for k, v in sec.items() if k != "figure"}
    res["run"] = {"date": date.today().isoformat(), "scale": args.scale,
                  "machine": f"{platform.machine()}, 2-core CPU", "wall_s": wall, "cpu_s": cpu,
                  "scalelaw": scalelaw.__version__}
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(res, indent=1, default=float))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
