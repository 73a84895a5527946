"""Where the whole-grid time goes: per-population step times of train_speed's grid.

Trains each population that ``plan_groups`` makes of the issue-5 grid (8
widths x 6 training-set sizes x 8 seeds on ``bahri-d4``) for ``--steps`` steps,
after a 5-step warm-up, in fp32 and with TF32 matmuls, and prints milliseconds
per step and the achieved TFLOP/s counting the padded rows (6 x params x rows
per model). Not a comparison with a baseline (train_speed.py is); it shows
which populations bound the whole-grid speed-up.

Run: python bench/population_breakdown.py [--steps 300] [--device cuda]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--device", default=None)
    ap.add_argument("--json", default=str(Path(__file__).parent / "results" /
                                          "population_breakdown.json"))
    args = ap.parse_args()
    import torch
    import train_speed as ts

    from teacher_student.population import TrainConfig, n_params, train_population
    from teacher_student.suite import get_task
    from teacher_student.sweep import SweepConfig, plan_groups

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    task = get_task("bahri-d4")
    rows = []
    for tf32 in (False, True) if device == "cuda" else (False,):
        cfg = TrainConfig(steps=args.steps, lr=3e-3, eval_steps=1, n_test=1000, allow_tf32=tf32)
        sweep = SweepConfig(task=task, widths=tuple(ts.WIDTHS), depths=(2,),
                            n_train=tuple(ts.N_TRAIN), seeds=tuple(ts.SEEDS), data_seeds=(0,),
                            noise_seeds=(None,), train=cfg)
        for g in plan_groups(sweep, sweep.runs(), device):
            warm = TrainConfig(steps=5, eval_steps=1, n_test=1000, allow_tf32=tf32)
            train_population(task, g, warm, device=device)
            sync()
            t0 = time.perf_counter()
            train_population(task, g, cfg, device=device)
            sync()
            ms = (time.perf_counter() - t0) / args.steps * 1e3
            rows_max = max(s.n_train for s in g)
            flop = sum(6.0 * n_params(4, s.width, 2) * rows_max for s in g)
            rows.append({"tf32": tf32, "width": g[0].width, "models": len(g),
                         "n_train": sorted({s.n_train for s in g}), "ms_per_step": ms,
                         "tflops_padded": flop / ms / 1e9})
            r = rows[-1]
            print(f"tf32={tf32!s:5s} width {r['width']:5d} models {r['models']:3d} "
                  f"n_train {r['n_train']}: {ms:7.2f} ms/step {r['tflops_padded']:7.1f} "
                  "TFLOP/s", flush=True)
    for tf32 in sorted({r["tf32"] for r in rows}):
        total = sum(r["ms_per_step"] for r in rows if r["tf32"] == tf32)
        print(f"tf32={tf32}: total {total:.1f} ms per step of all populations")
    payload = {"date": date.today().isoformat(), "device": device,
               "gpu": torch.cuda.get_device_name() if device == "cuda" else None,
               "versions": {"torch": torch.__version__}, "steps": args.steps, "populations": rows}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(payload, indent=1) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
