"""Training speed: scalelaw's population engine against a plain PyTorch loop.

Grid (issue 5): 8 widths (8 .. 1024) x 6 training-set sizes (128 .. 16,384,
log-spaced) x 8 seeds on the Bahri et al. d = 4 task; students [4, w, w, 1],
full-batch Adam (lr 3e-3, cosine), train loss and test loss (1,000 points)
at the end.

Both sides do the same work in the same process: the baseline trains one
``nn.Sequential`` at a time with ``torch.optim.Adam`` and
``CosineAnnealingLR``; scalelaw trains the cell's 8 seeds through
``teacher_student.sweep.plan_groups`` (stacked populations for cheap models,
one model at a time for expensive ones) and ``train_population``. Each cell
runs a number of steps chosen so one baseline repeat takes about
``--budget`` seconds (at least 3 steps); the table reports milliseconds per
training step of the whole cell (8 models), medians of ``--repeats`` runs, and
projects the totals of a 2,000-step sweep from them.

With ``--whole-steps S`` (default 200 on a GPU, off on a CPU) it also trains
the whole grid the way ``scalelaw sweep run`` does (``plan_groups`` over all
384 runs, so cheap cells of one width share padded populations) for S steps
and compares with the sum of the loop's per-cell step times; ``--tf32`` adds
the same whole-grid run with TF32 matmuls (ours only; the comparison stays
fp32 against fp32). The fp32 matmul peak of the device is measured in the same
run (median of 5 products of 4096^2 (CPU) or 8192^2 (GPU) matrices, measured
before each width's cells; the highest of these is the peak: a shared VM's
speed drifts during a run, and a peak taken in a slow spell would understate
the ceilings below), and the
large cells' throughput is reported as a fraction of it, and the whole grid's
FLOPs at that peak give the largest fp32 speed-up any implementation could
reach over the loop. The same bound is reported per cell (``fp32_ceiling_speedup``:
the loop's time over the cell's FLOPs at the peak: 6 x params x rows x models,
less the input layer's input gradient, which neither side computes),
so a cell whose target lies above what its arithmetic allows on the machine
at hand shows as such.

On a CPU the loop is also timed on one thread (torch's default is one thread
per core; for tiny models one thread is faster, and the engine itself runs
small populations on one thread; timed for models under 5 GFLOP per step),
and speed-ups are reported against the faster of the two settings as well
(``--no-loop-1-thread`` skips this).

Run: .venv/bin/python bench/train_speed.py [--repeats 3] [--budget 1.5] [--device cpu]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import time
from datetime import date
from pathlib import Path

import numpy as np

WIDTHS = [8, 16, 32, 64, 128, 256, 512, 1024]
N_TRAIN = [round(v) for v in np.geomspace(128, 16384, 6)]
SEEDS = list(range(8))
# The CPU loop is also timed on one thread for models below this many FLOPs per
# step; above it one thread was slower in every cell measured (2-core machine,
# 2026-11-22: e.g. width 512, n 6,208: 1.31 s vs 0.90 s per step of 8 models).
LOOP_1_THREAD_FLOPS = 5e9


def _loop(task, specs, cfg, device):
    """The baseline: one model at a time, plain PyTorch."""
    import torch

    from teacher_student.population import init_weights
    from teacher_student.tasks import sample_inputs, teacher_outputs

    dtype = torch.float32
    xt = torch.as_tensor(sample_inputs(task, cfg.n_test, 0, split="test"), dtype=dtype,
                         device=device)
    yt = torch.as_tensor(teacher_outputs(task, xt.cpu().double().numpy()), dtype=dtype,
                         device=device)
    out = []
    for s in specs:
        x64 = sample_inputs(task, s.n_train, s.data_seed)
        x = torch.as_tensor(x64, dtype=dtype, device=device)
        y = torch.as_tensor(teacher_outputs(task, x64), dtype=dtype, device=device)
        layers = []
        sizes = [task.ambient_dim] + [s.width] * s.depth + [1]
        for k, (a, b) in enumerate(itertools.pairwise(sizes)):
            layers.append(torch.nn.Linear(a, b))
            if k < len(sizes) - 2:
                layers.append(torch.nn.ReLU())
        net = torch.nn.Sequential(*layers).to(device)
        w = init_weights(s, task.ambient_dim, 1, cfg)
        with torch.no_grad():
            for k, lin in enumerate(m for m in net if isinstance(m, torch.nn.Linear)):
                lin.weight.copy_(torch.as_tensor(w[2 * k].T))
                lin.bias.copy_(torch.as_tensor(w[2 * k + 1][0]))
        opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.steps)
        for _ in range(cfg.steps):
            opt.zero_grad(set_to_none=True)
            ((net(x) - y) ** 2).mean().backward()
            opt.step()
            sched.step()
        with torch.no_grad():  # the engine logs both at the end: same work
            out.append(float(((net(xt) - yt) ** 2).mean()))
            float(((net(x) - y) ** 2).mean())
    if device == "cuda":
        torch.cuda.synchronize()
    return out


def _ours(task, specs, cfg, device, sweep_cfg):
    from teacher_student.population import train_population
    from teacher_student.sweep import plan_groups

    out = {}
    for g in plan_groups(sweep_cfg, specs, device):
        res = train_population(task, g, cfg, device=device)
        for s, rows in zip(res.specs, res.rows, strict=True):
            out[s] = [r[3] for r in rows if r[1] == "test"][-1]
    return [out[s] for s in specs], len(plan_groups(sweep_cfg, specs, device))


def _matmul_peak(device, tf32=False):
    import torch

    n = 8192 if device == "cuda" else 4096
    torch.backends.cuda.matmul.allow_tf32 = tf32
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    times = []
    for _ in range(6):
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        a @ b
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    torch.backends.cuda.matmul.allow_tf32 = False
    return 2 * n**3 / statistics.median(times[1:]) / 1e9


def _stat(fn, rows, key):
    return fn(r[key] for r in rows) if rows else None


def _table_row(rows, width, key):
    by_n = {r["n_train"]: r[key] for r in rows if r["width"] == width}
    return " ".join(f"{by_n[n]:8.2f}" if n in by_n else f"{'-':>8s}" for n in N_TRAIN)


def _rel_change(ref, other):
    return float(np.median([abs(other[k] - v) / v for k, v in ref.items()]))


def _whole(task, device, steps, tf32, graphs=True, bf16=False):
    from teacher_student.population import TrainConfig, train_population
    from teacher_student.sweep import SweepConfig, plan_groups

    cfg = TrainConfig(steps=steps, lr=3e-3, eval_steps=1, n_test=1000, allow_tf32=tf32,
                      cuda_graphs=graphs, bf16_matmul=bf16)
    sweep = SweepConfig(task=task, widths=tuple(WIDTHS), depths=(2,), n_train=tuple(N_TRAIN),
                        seeds=tuple(SEEDS), data_seeds=(0,), noise_seeds=(None,), train=cfg)
    groups = plan_groups(sweep, sweep.runs(), device)
    t0 = time.perf_counter()
    final = {}
    for g in groups:
        res = train_population(task, g, cfg, device=device)
        for s, rows in zip(res.specs, res.rows, strict=True):
            final[s] = [r[3] for r in rows if r[1] == "test"][-1]
    return (time.perf_counter() - t0) / steps * 1e3, len(groups), final


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--budget", type=float, default=1.5,
                    help="target seconds per baseline repeat of one cell")
    ap.add_argument("--device", default=None)
    ap.add_argument("--whole-steps", type=int, default=None,
                    help="steps of the whole-grid run (default: 200 on GPU, 0 = skip on CPU)")
    ap.add_argument("--tf32", action="store_true", help="also time the whole grid with TF32")
    ap.add_argument("--bf16", action="store_true",
                    help="also time the whole grid with bf16 matmuls")
    ap.add_argument("--only", nargs="*", default=[], metavar="WIDTHxN",
                    help="time only these cells, e.g. --only 1024x6208 64x891")
    ap.add_argument("--min-steps", type=int, default=3,
                    help="fewest training steps per cell (the widest cells get this many)")
    ap.add_argument("--no-loop-1-thread", action="store_true",
                    help="on a CPU, skip timing the loop on one thread as well")
    ap.add_argument("--json", default=str(Path(__file__).parent / "results" /
                                          "train_speed.json"))
    args = ap.parse_args()
    import torch

    from teacher_student.population import RunSpec, TrainConfig, n_params
    from teacher_student.suite import get_task
    from teacher_student.sweep import SweepConfig

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":  # process-wide: the baseline loop gets the same allocator
        from teacher_student.population import tune_cpu_allocator

        tune_cpu_allocator()
    task = get_task("bahri-d4")
    # warm-up (first-call costs of both sides), not timed
    warm = TrainConfig(steps=2, lr=3e-3, eval_steps=1, n_test=1000)
    warm_specs = [RunSpec(WIDTHS[0], 2, N_TRAIN[0], s) for s in SEEDS]
    _loop(task, warm_specs, warm, device)
    _ours(task, warm_specs, warm, device, SweepConfig(
        task=task, widths=(WIDTHS[0],), depths=(2,), n_train=(N_TRAIN[0],), seeds=tuple(SEEDS),
        data_seeds=(0,), noise_seeds=(None,), train=warm))
    peaks = [_matmul_peak(device)]
    print(f"device {device}: fp32 matmul peak {peaks[0]:.0f} GFLOP/s", flush=True)
    rows = []
    threads = torch.get_num_threads()
    one_thread_loop = device == "cpu" and threads > 1 and not args.no_loop_1_thread
    t_start = time.perf_counter()
    only = {tuple(int(v) for v in c.lower().split("x")) for c in args.only}
    for width in WIDTHS:
        if width != WIDTHS[0] and (not only or any(w == width for w, _ in only)):
            peaks.append(_matmul_peak(device))  # the VM's speed drifts: re-measured
        for n in N_TRAIN:
            if only and (width, n) not in only:
                continue
            # 2 FLOPs per parameter and row forward, 4 backward, less the input
            # layer's input gradient, which neither side computes
            flops = (6.0 * n_params(4, width, 2) - 2.0 * 4 * width) * n * len(SEEDS)
            est = max(len(SEEDS) * 6e-4, flops / 4e10) if device == "cpu" else len(SEEDS) * 6e-4
            steps = int(np.clip(round(args.budget / est), args.min_steps, 200))
            cfg = TrainConfig(steps=steps, lr=3e-3, eval_steps=1, n_test=1000)
            sweep_cfg = SweepConfig(task=task, widths=(width,), depths=(2,), n_train=(n,),
                                    seeds=tuple(SEEDS), data_seeds=(0,), noise_seeds=(None,),
                                    train=cfg)
            specs = [RunSpec(width, 2, n, s) for s in SEEDS]
            t_loop, t_ours, t_loop1 = [], [], []
            for rep in range(args.repeats):
                # alternate which side runs first, so a slow spell of the
                # machine does not always fall on the same side
                for side in ("loop", "ours") if rep % 2 == 0 else ("ours", "loop"):
                    t0 = time.perf_counter()
                    if side == "loop":
                        ref = _loop(task, specs, cfg, device)
                        t_loop.append(time.perf_counter() - t0)
                    else:
                        got, n_groups = _ours(task, specs, cfg, device, sweep_cfg)
                        t_ours.append(time.perf_counter() - t0)
                if one_thread_loop and flops / len(SEEDS) < LOOP_1_THREAD_FLOPS:
                    torch.set_num_threads(1)
                    t0 = time.perf_counter()
                    _loop(task, specs, cfg, device)
                    t_loop1.append(time.perf_counter() - t0)
                    torch.set_num_threads(threads)
            loop_ms = 1e3 * statistics.median(t_loop) / steps
            ours_ms = 1e3 * statistics.median(t_ours) / steps
            loop1_ms = 1e3 * statistics.median(t_loop1) / steps if t_loop1 else loop_ms
            rel = float(np.max(np.abs(np.array(got) - np.array(ref)) / np.array(ref)))
            rows.append({"width": width, "n_train": n, "steps": steps, "populations": n_groups,
                         "loop_ms_per_step": loop_ms, "ours_ms_per_step": ours_ms,
                         "speedup": loop_ms / ours_ms, "max_rel_diff_test_loss": rel,
                         "loop_1_thread_ms_per_step": loop1_ms,
                         "loop_s": t_loop, "ours_s": t_ours, "loop_1_thread_s": t_loop1,
                         "speedup_vs_best_loop": min(loop_ms, loop1_ms) / ours_ms,
                         "gflop_per_step": flops / 1e9,
                         "ours_gflops": flops / 1e9 / (ours_ms / 1e3)})
            r = rows[-1]
            print(f"w={width:5d} n={n:6d} steps={steps:4d} pops={n_groups} loop "
                  f"{loop_ms:9.2f} ms/step  ours {ours_ms:9.2f} ms/step  "
                  f"x{r['speedup']:6.2f}  rel.diff {rel:.1e}"
                  + (f"  loop on 1 thread {loop1_ms:9.2f} ms/step, best-loop speed-up "
                     f"x{r['speedup_vs_best_loop']:6.2f}" if t_loop1 else ""), flush=True)
    wall = time.perf_counter() - t_start
    peak = max(peaks)
    print(f"fp32 matmul peak: {peak:.0f} GFLOP/s (highest of "
          f"{', '.join(f'{v:.0f}' for v in peaks)})", flush=True)
    for r in rows:  # the most any fp32 implementation could gain: every FLOP at the peak
        r["fp32_ceiling_speedup"] = r["loop_ms_per_step"] / (r["gflop_per_step"] / peak * 1e3)
    over = [r for r in rows if r["width"] <= 64 and r["n_train"] <= 1024]
    comp = [r for r in rows if r not in over]
    total_loop = sum(r["loop_ms_per_step"] for r in rows) * 2000 / 1e3
    total_ours = sum(r["ours_ms_per_step"] for r in rows) * 2000 / 1e3
    whole_steps = args.whole_steps if args.whole_steps is not None else (
        200 if device == "cuda" else 0)
    whole = {}
    if whole_steps and only:
        print("whole-grid run skipped: --only times a subset of the grid", flush=True)
    if whole_steps and not only:
        ms, n_pop, ref_final = _whole(task, device, whole_steps, False)
        loop_ms = sum(r["loop_ms_per_step"] for r in rows)
        # the arithmetic floor: every FLOP of the grid at the measured matmul peak
        floor_ms = sum(r["gflop_per_step"] for r in rows) / peak * 1e3
        whole = {"steps": whole_steps, "populations": n_pop, "ours_ms_per_step": ms,
                 "loop_ms_per_step": loop_ms, "speedup": loop_ms / ms,
                 "fp32_floor_ms_per_step": floor_ms,
                 "largest_possible_fp32_speedup": loop_ms / floor_ms}
        print(f"whole grid: {sum(r['gflop_per_step'] for r in rows):.0f} GFLOP per step, "
              f"{floor_ms:.1f} ms at the measured fp32 peak, so at most "
              f"x{loop_ms / floor_ms:.1f} over the loop in fp32", flush=True)
        if device == "cuda":
            ms_eager, _, _ = _whole(task, device, whole_steps, False, graphs=False)
            whole.update(ours_no_graphs_ms_per_step=ms_eager,
                         speedup_no_graphs=loop_ms / ms_eager)
            print(f"whole grid without CUDA graphs: {ms_eager:.1f} ms/step", flush=True)
        if args.tf32:
            ms32, _, f32 = _whole(task, device, whole_steps, True)
            whole.update(ours_tf32_ms_per_step=ms32, speedup_tf32=loop_ms / ms32,
                         tf32_median_rel_change_test_loss=_rel_change(ref_final, f32))
        if args.bf16:
            ms16, _, f16 = _whole(task, device, whole_steps, False, bf16=True)
            whole.update(ours_bf16_ms_per_step=ms16, speedup_bf16=loop_ms / ms16,
                         bf16_median_rel_change_test_loss=_rel_change(ref_final, f16))
            print(f"whole grid with bf16 matmuls: {ms16:.1f} ms/step, x{loop_ms / ms16:.1f}, "
                  f"median change of the final test loss "
                  f"{whole['bf16_median_rel_change_test_loss']:.2%}", flush=True)
        print(f"whole grid ({n_pop} populations, {whole_steps} steps): loop "
              f"{loop_ms:.1f} ms/step, ours {ms:.1f} ms/step, x{loop_ms / ms:.1f}"
              + (f"; ours with TF32 {whole['ours_tf32_ms_per_step']:.1f} ms/step, "
                 f"x{whole['speedup_tf32']:.1f}" if args.tf32 else ""), flush=True)
    big = [r for r in rows if r["width"] == max(WIDTHS)]
    summary = {
        "matmul_peak_fp32_gflops": peak,
        "matmul_peak_fp32_gflops_each_measurement": peaks,
        "largest_width_fraction_of_peak": {str(r["n_train"]): r["ours_gflops"] / peak
                                           for r in big},
        "whole_grid": whole,
        "overhead_bound_min_speedup": _stat(min, over, "speedup"),
        "overhead_bound_cells_with_fp32_ceiling_below_5x": [
            f"{r['width']}x{r['n_train']}" for r in over if r["fp32_ceiling_speedup"] < 5],
        "overhead_bound_median_speedup": _stat(statistics.median, over, "speedup"),
        "other_cells_min_speedup": _stat(min, comp, "speedup"),
        "overhead_bound_min_speedup_vs_best_loop": _stat(min, over, "speedup_vs_best_loop"),
        "other_cells_min_speedup_vs_best_loop": _stat(min, comp, "speedup_vs_best_loop"),
        "projected_2000_step_sweep_s": {"loop": total_loop, "ours": total_ours,
                                        "speedup": total_loop / total_ours},
    }
    print("\nSpeed-up (loop time / scalelaw time) per cell; rows = width, columns = n_train")
    header = "width " + " ".join(f"{n:>8d}" for n in N_TRAIN)
    print(header)
    for width in WIDTHS:
        print(f"{width:5d} " + _table_row(rows, width, "speedup"))
    print("\nCeiling: the loop's time over the cell's FLOPs at the measured fp32 matmul "
          f"peak ({peak:.0f} GFLOP/s), i.e. the largest speed-up any fp32 implementation "
          "could reach")
    print(header)
    for width in WIDTHS:
        print(f"{width:5d} " + _table_row(rows, width, "fp32_ceiling_speedup"))
    if one_thread_loop:
        print("\nSpeed-up against the faster of the loop on 2 threads and on 1 thread")
        print(header)
        for width in WIDTHS:
            print(f"{width:5d} " + _table_row(rows, width, "speedup_vs_best_loop"))
    print(json.dumps(summary, indent=1))
    payload = {
        "date": date.today().isoformat(), "device": device,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "torch_threads": torch.get_num_threads(),
                    "gpu": torch.cuda.get_device_name() if device == "cuda" else None},
        "versions": {"torch": torch.__version__, "numpy": np.__version__},
        "settings": {"repeats": args.repeats, "budget_s": args.budget, "widths": WIDTHS,
                     "n_train": N_TRAIN, "seeds": len(SEEDS), "task": "bahri-d4",
                     "min_steps": args.min_steps, "only": args.only,
                     "loop_1_thread": one_thread_loop},
        "cells": rows, "summary": summary, "wall_s": wall,
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(payload, indent=1) + "\n")
    print(f"wrote {args.json} ({wall:.0f} s)")


if __name__ == "__main__":
    main()
