"""Wall time of the default ``scalelaw demo``, as a user runs it, with its verdicts.

Runs ``python -m scalelaw demo --out DIR --no-progress`` in a fresh process (a
fresh ``DIR``: nothing to resume), times it from outside (process start and
imports included), and writes ``bench/results/demo_time.json``: the wall time,
the demo's own per-job seconds (``phase_seconds``: each lane job, and the lanes
as a whole), each check's exponent, interval and verdict, and the machine.

Run alone (nothing else on the CPUs): .venv/bin/python bench/demo_time.py [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bench/out/demo_time")
    ap.add_argument("--json", default="bench/results/demo_time.json")
    args = ap.parse_args()
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "scalelaw", "demo", "--out", str(out),
                           "--no-progress"], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    print(proc.stdout)
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
        raise SystemExit(proc.returncode)
    summary = json.loads((out / "summary.json").read_text())
    res = {
        "run": {"date": date.today().isoformat(), "machine": f"{platform.machine()}, "
                f"{len(os.sched_getaffinity(0))}-core CPU", "hardware": summary["hardware"],
                "versions": summary["versions"], "command": "scalelaw demo (defaults)",
                "revision": subprocess.run(["git", "rev-parse", "--short", "HEAD"],
                                           capture_output=True, text=True,
                                           check=False).stdout.strip()},
        "wall_s": wall, "demo_wall_time_s": summary["wall_time_s"],
        "phase_seconds": summary["phase_seconds"],
        "checks": [{"check": c["group"], "regime": c["regime"], "alpha": c["alpha"],
                    "alpha_ci": c["alpha_ci"], "verdict": c["verdict"]}
                   for c in summary["checks"]],
        "sections": [k for k in summary if k in ("seeds", "redshift", "llc", "spectral",
                                                 "variance_peak")],
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(res, indent=1, default=float))
    print(f"wall {wall:.1f} s (demo's own clock {summary['wall_time_s']:.1f} s); "
          f"wrote {args.json}")


if __name__ == "__main__":
    main()
