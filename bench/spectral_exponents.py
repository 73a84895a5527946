"""The data exponent predicted from the students' NTK spectra, beside the measured one.

For Bahri et al.'s teachers (d = 2..6, the ``scalelaw reproduce bahri --scale
quick`` sweeps: width 192, depth 2, D = 16..4096, kept weights) and Sharma &
Kaplan's MSE teachers (k = 3..6 relevant of 20 inputs; the same data-scaling
recipe as Bahri d = 4..6: width 192, D = 64..4096, 10k Adam steps, 2 seeds,
because the quick Sharma-Kaplan study varies the width, not D), three
exponents side by side:

1. measured ``alpha_D`` of the trained students (``scalelaw.theory.check_scaling``,
   as the study does, with its interval and window);
2. predicted from the empirical NTK at initialisation (kernel regression with
   the student's initial NTK; 4 initial seeds, each on its own draw of inputs);
3. predicted from the empirical NTK after training (the students trained on the
   largest D of the sweep that interpolates, 2 seeds x 2 draws of inputs);

with 4/d. Predictions are read over the measured fit's window of D, with the
spectrum continued past its resolved modes (``tail="power"``); intervals are
t-intervals (95 %) over the replicate spectra. Vyas, Bansal & Nakkiran (2022)
report that trained networks beat their initial NTK's exponent: the table says
whether ours do.

Stages (each resumable; ``--max-minutes`` stops between sweeps or spectra):
``train`` (the sweeps), ``spectra`` (one JSON per spectrum), ``report``.

Run: .venv/bin/python bench/spectral_exponents.py [--stage all|train|spectra|report]
     [--out bench/results/spectral_exponents_runs] [--n 2000] [--n-check 4000|0]
     [--max-minutes 13]
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

TASKS = [f"bahri-d{d}" for d in range(2, 7)] + [f"sk-k{k}-mse" for k in range(3, 7)]
N_INIT = 4          # initial seeds (each its own draw of inputs)
N_TRAINED_DRAWS = 2  # input draws per trained student
N_CHECK_TASKS = ("bahri-d4", "sk-k4-mse")  # also with --n-check inputs (sensitivity to n)


def sweep_config(task: str) -> dict[str, Any]:
    """The quick-scale data-scaling sweep of a task (kept weights)."""
    from scalelaw.experiments import study

    if task.startswith("bahri"):
        d = int(task.split("-d")[1])
        for sw in study("bahri", "quick").sweeps:
            if sw.name == f"resolution_D-d{d}":
                return dict(sw.config)
        raise KeyError(task)
    sizes = [64 * 2**i for i in range(7)]  # 64 .. 4096
    return {"task": task, "widths": [192], "depths": [2], "n_train": sizes, "seeds": [0, 1],
            "data_seeds": [0], "steps": 10_000, "lr": 3e-3, "batch_size": 64,
            "n_test": 10_000, "eval_steps": 3, "keep_weights": True}


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}


def _save(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, indent=1, default=float) + "\n")
    tmp.replace(path)


def stage_train(out: Path, deadline: float) -> bool:
    """Run (or resume) every sweep; False when stopped by the deadline."""
    from teacher_student.sweep import SweepConfig, run_sweep, sweep_status

    times = _load(out / "timings.json")
    for task in TASKS:
        d = out / "sweeps" / task
        cfg = SweepConfig.from_dict(sweep_config(task))
        if d.is_dir() and sweep_status(d)["remaining"] == 0:
            continue
        if time.time() > deadline:
            return False
        t0 = time.perf_counter()
        rep = run_sweep(cfg, d, device="cpu", progress=False)  # the sweeps' thread policy
        times.setdefault("train_s", {})[task] = times.get("train_s", {}).get(task, 0.0) + \
            time.perf_counter() - t0
        _save(out / "timings.json", times)
        print(f"trained {task}: {rep.n_trained} runs in {rep.wall_time_s:.0f} s", flush=True)
        if rep.interrupted:
            return False
    return True


def _measured(sweep_dir: Path, task: str) -> dict[str, Any]:
    from scalelaw.theory import check_scaling
    from teacher_student.suite import get_task
    from teacher_student.sweep import final_metrics

    table = final_metrics(sweep_dir)
    nominal = get_task(task).intrinsic_dim
    c = check_scaling(table, "n_train", "test_loss", regime="auto", dimension=nominal)[0]
    window = list(c.window) if np.all(np.isfinite(c.window)) else [
        float(table["n_train"].min()), float(table["n_train"].max())]  # no fit: every size
    return {"alpha": c.alpha, "alpha_ci": list(c.alpha_ci), "window": window,
            "regime": c.regime, "verdict": c.verdict, "reason": c.reason, "table": table}


def _trained_runs(table: Any, window_hi: float) -> list[str]:
    """The students trained on the largest D (within the fit's window) that interpolate."""
    ok = table[(table["status"].astype(str) == "ok") & (table["n_train"] <= window_hi)]
    interp = ok[ok["train_loss"] / ok["test_loss"] < 0.1]
    ok = interp if not interp.empty else ok
    top = ok["n_train"].max()
    return list(ok[ok["n_train"] == top].sort_values("seed")["run_id"])


def stage_spectra(out: Path, n: int, n_check: int, deadline: float) -> bool:
    """Every spectrum of every task (one JSON each); False when stopped by the deadline."""
    import torch

    from teacher_student.ntk import init_spectrum, student_spectrum
    from teacher_student.suite import get_task
    from teacher_student.sweep import default_threads, load_weights

    for task in TASKS:
        d = out / "sweeps" / task
        meas = _measured(d, task)
        window = tuple(meas["window"])
        cfg = sweep_config(task)
        jobs: list[tuple[str, Any]] = []
        for seed in range(N_INIT):
            jobs.append((f"init_seed{seed}", ("init", seed)))
        for rid in _trained_runs(meas["table"], window[1]):
            for r in range(N_TRAINED_DRAWS):
                jobs.append((f"trained_{rid}_draw{r}", ("trained", rid, r)))
        if task in N_CHECK_TASKS and n_check > 0:  # the first spectra with n_check inputs
            jobs += [(f"{name}_n{n_check}", (*job, "n_check")) for name, job in jobs
                     if name in ("init_seed0", "init_seed1") or name.endswith("draw0")]
        for name, job in jobs:
            path = out / "spectra" / task / f"{name}.json"
            if path.is_file():
                continue
            if time.time() > deadline:
                return False
            torch.set_num_threads(default_threads())  # as the sweeps do
            t0 = time.perf_counter()
            n_job = n_check if job[-1] == "n_check" else n
            if job[0] == "init":
                s = init_spectrum(get_task(task), cfg["widths"][0], cfg["depths"][0],
                                  seed=job[1], n=n_job, replicate=job[1], window=window,
                                  device="cpu")
            else:
                s = student_spectrum(get_task(task), load_weights(d, job[1]), n=n_job,
                                     replicate=job[2], window=window, device="cpu",
                                     label={"run_id": job[1], "state": "trained"})
            res = s.to_dict()
            res.pop("predicted_curve")
            res["curve"] = {"P": s.prediction.curve.n_train[::4].tolist(),
                            "E": s.prediction.curve.error[::4].tolist()}
            res["seconds"] = time.perf_counter() - t0
            _save(path, res)
            print(f"{task} {name}: decay {res['decay_exponent']:.3f}, alpha "
                  f"{res['predicted_alpha']:.3f} ({res['seconds']:.1f} s)", flush=True)
    return True


def _t_interval(values: list[float]) -> tuple[float, list[float]]:
    from scipy import stats

    v = np.asarray(values, dtype=float)
    m = float(v.mean())
    if v.size < 2:
        return m, [float("nan"), float("nan")]
    half = float(stats.t.ppf(0.975, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size))
    return m, [m - half, m + half]


def stage_report(out: Path, json_path: Path, n: int) -> list[dict[str, Any]]:
    import torch

    from teacher_student.suite import get_task

    times = _load(out / "timings.json")
    rows = []
    for task in TASKS:
        meas = _measured(out / "sweeps" / task, task)
        row: dict[str, Any] = {"task": task, "d": get_task(task).intrinsic_dim,
                               "four_over_d": 4.0 / get_task(task).intrinsic_dim,
                               "measured_alpha": meas["alpha"],
                               "measured_ci": meas["alpha_ci"], "window": meas["window"],
                               "measured_verdict_4_over_d": meas["verdict"],
                               "measured_reason": meas["reason"],
                               "train_s": times.get("train_s", {}).get(task)}
        for state in ("init", "trained"):
            files = sorted(f for f in (out / "spectra" / task).glob(f"{state}_*.json")
                           if not re.search(r"_n\d+$", f.stem))
            res = [json.loads(f.read_text()) for f in files]
            a_mean, a_ci = _t_interval([r["predicted_alpha"] for r in res])
            b_mean, b_ci = _t_interval([r["decay_exponent"] for r in res])
            row[state] = {"alpha": a_mean, "alpha_ci": a_ci, "decay": b_mean, "decay_ci": b_ci,
                          "alpha_values": [r["predicted_alpha"] for r in res],
                          "decay_values": [r["decay_exponent"] for r in res],
                          "tail_values": [r["tail_exponent"] for r in res],
                          "n_spectra": len(res), "seconds": sum(r["seconds"] for r in res),
                          "warnings": sorted({w for r in res for w in r["warnings"]})}
        checks = sorted(f for f in (out / "spectra" / task).glob("*.json")
                        if re.search(r"_n\d+$", f.stem))
        if checks:
            pairs = []
            for f in checks:
                base = out / "spectra" / task / (f.stem.rsplit("_n", 1)[0] + ".json")
                big, small = json.loads(f.read_text()), json.loads(base.read_text())
                pairs.append({"spectrum": base.stem, "n": small["settings"]["n"],
                              "alpha": small["predicted_alpha"],
                              "n_check": big["settings"]["n"],
                              "alpha_check": big["predicted_alpha"],
                              "decay": small["decay_exponent"],
                              "decay_check": big["decay_exponent"],
                              "seconds": small["seconds"], "seconds_check": big["seconds"]})
            row["n_sensitivity"] = pairs
        m_lo = meas["alpha_ci"][0]
        row["beats_init"] = ("yes" if m_lo > row["init"]["alpha_ci"][1] else
                             "no" if meas["alpha_ci"][1] < row["init"]["alpha_ci"][0]
                             else "undecided")
        rows.append(row)
    meta = {"date": str(date.today()), "machine": platform.processor() or platform.machine(),
            "cpus": 2, "torch": torch.__version__, "n_inputs": n, "n_init": N_INIT,
            "n_trained_draws": N_TRAINED_DRAWS, "tail": "power",
            "interval": "t-interval (95 %) over replicate spectra"}
    _save(json_path, {"meta": meta, "rows": rows})
    return rows


def _print(rows: list[dict[str, Any]]) -> None:
    def f(m: float, ci: list[float]) -> str:
        return f"{m:.2f} [{ci[0]:.2f}, {ci[1]:.2f}]"

    print(f"{'task':<13}{'4/d':>6}  {'measured':<20}{'eNTK init':<20}{'eNTK trained':<20}"
          f"{'beats init':<11}{'train s':>8}{'spectra s':>10}")
    for r in rows:
        print(f"{r['task']:<13}{r['four_over_d']:>6.2f}  "
              f"{f(r['measured_alpha'], r['measured_ci']):<20}"
              f"{f(r['init']['alpha'], r['init']['alpha_ci']):<20}"
              f"{f(r['trained']['alpha'], r['trained']['alpha_ci']):<20}"
              f"{r['beats_init']:<11}{(r['train_s'] or 0):>8.0f}"
              f"{r['init']['seconds'] + r['trained']['seconds']:>10.0f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stage", default="all", choices=["all", "train", "spectra", "report"])
    ap.add_argument("--out", default="bench/results/spectral_exponents_runs")
    ap.add_argument("--json", default="bench/results/spectral_exponents.json")
    ap.add_argument("--n", type=int, default=2000, help="inputs of each Gram matrix")
    ap.add_argument("--n-check", type=int, default=4000,
                    help="inputs of the sensitivity spectra (two tasks); 0 skips them")
    ap.add_argument("--max-minutes", type=float, default=13.0)
    args = ap.parse_args()
    from teacher_student.population import tune_cpu_allocator

    tune_cpu_allocator()  # an application-level setting, as the sweeps' command line
    out = Path(args.out)
    deadline = time.time() + 60 * args.max_minutes
    done = True
    if args.stage in ("all", "train"):
        done = stage_train(out, deadline)
    if done and args.stage in ("all", "spectra"):
        done = stage_spectra(out, args.n, args.n_check, deadline)
    if not done:
        print("stopped at the time limit; rerun the same command to continue")
        return
    if args.stage in ("all", "report"):
        _print(stage_report(out, Path(args.json), args.n))


if __name__ == "__main__":
    main()
