"""CUDA correctness check of the population engine (run on a GPU machine).

Compares, in float64: CUDA with graph capture against CUDA eager and against
the CPU, for full-batch, mini-batch, online, early-stopping and divergence
cases, the logged losses and each model's predictions on a probe set. Prints
the largest relative differences and exits 1 if any exceeds 1e-9 (CPU vs
CUDA) or differs at all between graph and eager on CUDA. Then a crossed
sweep (2 data x 2 init x 2 noise seeds) with stored predictions, on CUDA and
on the CPU: the prediction tables must agree to float32 storage.

Run: python bench/gpu_check.py
"""

from __future__ import annotations

import sys

import numpy as np


def main() -> int:
    import torch

    from teacher_student.population import RunSpec, TrainConfig, train_population
    from teacher_student.predictions import probe_set
    from teacher_student.suite import get_task

    if not torch.cuda.is_available():
        print("no CUDA device")
        return 1
    cases = {
        "full_batch": (get_task("bahri-d4"), [RunSpec(32, 2, n, s) for n, s in
                                               ((64, 0), (200, 1), (128, 2))], {}),
        "mini_batch": (get_task("bahri-d4"), [RunSpec(32, 2, 500, s) for s in range(3)],
                       {"batch_size": 32}),
        "online_ce": (get_task("sk-k3-ce"), [RunSpec(16, 2, 0, s) for s in range(3)],
                      {"batch_size": 64, "online": True}),
        "early_stop": (get_task("bahri-d4"), [RunSpec(64, 2, 32, s) for s in range(3)],
                       {"early_stopping": True, "patience": 3, "n_val": 300,
                        "schedule": "constant", "lr": 1e-2, "eval_steps": 30}),
        "diverge": (get_task("bahri-d2"), [RunSpec(16, 2, 100, 0), RunSpec(16, 2, 100, 1, lr=1e60)],
                    {"schedule": "constant"}),
    }
    bad = False
    for name, (task, specs, extra) in cases.items():
        kw = {"steps": 300, "lr": 3e-3, "eval_steps": 5, "n_test": 500, "dtype": "float64"}
        kw.update(extra)
        cfg = TrainConfig(**kw)
        cfg_eager = TrainConfig(**{**kw, "cuda_graphs": False})
        probe = probe_set(task, 200, 0)[0]
        g = train_population(task, specs, cfg, device="cuda", probe=probe)
        e = train_population(task, specs, cfg_eager, device="cuda", probe=probe)
        c = train_population(task, specs, cfg, device="cpu", probe=probe)
        def vals(r):
            return np.array([[x[3] for x in rows] for rows in r.rows], dtype=float)
        vg, ve, vc = vals(g), vals(e), vals(c)
        ok = np.isfinite(vc)
        d_ge = np.nanmax(np.abs(vg - ve)) if ok.any() else 0.0
        rel_gc = np.nanmax(np.abs(vg[ok] - vc[ok]) / np.abs(vc[ok]))
        same_status = g.status == e.status == c.status
        pg, pe, pc = (np.stack(r.predictions) for r in (g, e, c))
        fin = np.isfinite(pc)
        p_ge = float(np.nanmax(np.abs(pg - pe))) if fin.any() else 0.0
        p_gc = float(np.max(np.abs(pg[fin] - pc[fin]) / np.maximum(np.abs(pc[fin]), 1e-12)))
        print(f"{name:11s} graph-vs-eager max|diff| {d_ge:.2e}  cuda-vs-cpu max rel {rel_gc:.2e}  "
              f"predictions: graph-vs-eager {p_ge:.2e}, cuda-vs-cpu rel {p_gc:.2e}  "
              f"status {g.status} (cpu {c.status})")
        if not same_status or rel_gc > 1e-9 or d_ge > 1e-12 or p_gc > 1e-9 or p_ge > 1e-12:
            bad = True
    bad |= _crossed_sweep()
    print("FAILED" if bad else "all equal")
    return 1 if bad else 0


def _crossed_sweep() -> bool:
    """A crossed sweep with stored predictions on CUDA and on the CPU; True if they differ."""
    import tempfile

    from teacher_student.predictions import sweep_predictions
    from teacher_student.sweep import SweepConfig, run_sweep

    d = {"task": "bahri-d4", "widths": [16, 64], "n_train": [128], "seeds": [0, 1],
         "data_seeds": [0, 1], "noise_seeds": [0, 1], "steps": 300, "lr": 3e-3,
         "n_test": 256, "dtype": "float64", "predictions": "float32", "n_probe": 300}
    tables = {}
    for dev in ("cuda", "cpu"):
        with tempfile.TemporaryDirectory() as out:
            rep = run_sweep(SweepConfig.from_dict(d), out, device=dev, progress=False)
            tables[dev] = sweep_predictions(out).sort_values(["run_id", "example"])
            print(f"crossed sweep on {dev}: {rep.n_trained} runs in {rep.wall_time_s:.1f} s, "
                  f"{len(tables[dev])} prediction rows")
    a = tables["cuda"]["prediction"].to_numpy(dtype=float)
    b = tables["cpu"]["prediction"].to_numpy(dtype=float)
    rel = float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-6)))
    same = tables["cuda"]["run_id"].tolist() == tables["cpu"]["run_id"].tolist()
    print(f"crossed sweep predictions, cuda vs cpu: max rel {rel:.2e} (float32 storage: "
          f"at most ~1.2e-7 expected), same runs {same}")
    return not same or rel > 1e-6


if __name__ == "__main__":
    sys.exit(main())
