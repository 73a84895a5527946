"""How long ``import scalelaw`` takes in a fresh interpreter (median of several runs).

Usage: ``.venv/bin/python bench/import_time.py [--repeats 7] [--json OUT]``. The
baseline in the same run is ``import numpy, scipy.stats, pandas``, which the
package needs anyway.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys


def _time(stmt: str) -> float:
    code = f"import time; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return float(out.stdout.strip())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--json", default="bench/out/import_time.json")
    args = ap.parse_args()
    rows = {}
    for name, stmt in (("numpy + scipy.stats + pandas", "import numpy, scipy.stats, pandas"),
                       ("scalelaw", "import scalelaw")):
        times = [_time(stmt) for _ in range(args.repeats)]
        rows[name] = {"median_s": statistics.median(times), "runs_s": times}
    base = rows["numpy + scipy.stats + pandas"]["median_s"]
    print(f"{'import':32s}{'median s':>10s}{'vs base':>10s}")
    for name, r in rows.items():
        print(f"{name:32s}{r['median_s']:>10.3f}{r['median_s'] / base:>9.2f}x")
    from pathlib import Path

    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(rows, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
