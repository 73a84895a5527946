"""Run a study's sweeps in parallel lanes (one process each), with progress and resume.

Each lane is a process with its own torch threads (one per CPU the lanes
share; on CUDA one lane). A lane trains its sweep through the sweep store, so
an interrupted study loses no finished run and a rerun into the same
directory resumes; then it measures the intrinsic dimension of the task's
data and of the students' last hidden layers, and returns the final table.
A lane that has finished its sweeps computes the study's report sections
(:class:`SectionJob`) while the other lanes still train.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from scalelaw.exceptions import ScaleLawError
from scalelaw.experiments._protocols import StudySweep
from scalelaw.intrinsic_dim import IDResult

__all__ = ["SectionJob", "SweepOutcome", "run_lanes"]


@dataclass(frozen=True)
class SectionJob:
    """A report section computed in a lane: ``module.func(out, **kwargs)``.

    Attributes
    ----------
    name : str
        Its key in the study's summary.
    module, func : str
        Where the function is (imported in the lane).
    kwargs : dict
        Keyword arguments besides the study's directory.
    after : tuple of str
        Sweeps (by name) that must have finished before it starts (a section
        that reads their stores).
    est_seconds : float
        Rough cost at the demo scale on one thread (longest jobs start first).
    """

    name: str
    module: str
    func: str
    kwargs: dict[str, Any]
    after: tuple[str, ...] = ()
    est_seconds: float = 10.0


@dataclass(frozen=True)
class SweepOutcome:
    """What one lane returns.

    Attributes
    ----------
    sweep : StudySweep
        The sweep.
    table : pandas.DataFrame
        One row per run (:func:`teacher_student.sweep.final_metrics`).
    data_id : IDResult or None
        The task's inputs.
    representation_id : IDResult or None
        Pooled over the measured students.
    per_model_id : pandas.DataFrame or None
        One row per measured student.
    wall_time_s : float
        Seconds in the lane.
    interrupted : bool
        The sweep was interrupted (finished runs are kept).
    """

    sweep: StudySweep
    table: pd.DataFrame
    data_id: IDResult | None
    representation_id: IDResult | None
    per_model_id: pd.DataFrame | None
    wall_time_s: float
    interrupted: bool


def _section(job: SectionJob, out: str, threads: int) -> dict[str, Any]:
    """Compute a report section in a lane's process, on ``threads`` threads."""
    import importlib

    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    with threadpool_limits(threads):
        res = getattr(importlib.import_module(job.module), job.func)(Path(out), **job.kwargs)
    res["lane_seconds"] = time.perf_counter() - t0
    return res


def _lane(sweep: StudySweep | SectionJob, out: str, device: str | None, threads: int,
          n_inputs: int) -> SweepOutcome | dict[str, Any]:
    """Train one sweep, then measure (or compute a section): runs in a lane's process."""
    if isinstance(sweep, SectionJob):
        return _section(sweep, out, threads)
    from teacher_student.sweep import (
        SweepConfig,
        final_metrics,
        install_sigterm_handler,
        run_sweep,
    )

    install_sigterm_handler()
    t0 = time.perf_counter()
    cfg = SweepConfig.from_dict(sweep.config)
    rep = run_sweep(cfg, out, device=device, progress=False, threads=threads,
                    tune_allocator=True)  # a lane is the demo's own process
    table = final_metrics(out)
    if rep.interrupted:
        return SweepOutcome(sweep, table, None, None, None, time.perf_counter() - t0, True)
    data_id = rep_id = per_model = None
    if sweep.measure_models:
        from teacher_student.representations import measure_representations, task_data_dim

        data_id = task_data_dim(cfg.task, n_inputs=n_inputs, n_boot=50)
        chosen = _models_to_measure(table, sweep)
        if chosen:
            rep = measure_representations(out, runs=chosen, n_inputs=n_inputs, n_boot=50)
            rep_id, per_model = rep.pooled, rep.per_model
    return SweepOutcome(sweep, table, data_id, rep_id, per_model, time.perf_counter() - t0,
                        False)


def _models_to_measure(table: pd.DataFrame, sweep: StudySweep) -> list[str]:
    """The students of the largest sizes that interpolate (data scaling) or the widest
    (model scaling): ``sweep.measure_models`` of them."""
    ok = table[table["status"].astype(str) == "ok"].copy()
    if ok.empty:
        return []
    if sweep.kind == "resolution_D":
        ratio = ok["train_loss"] / ok["test_loss"]
        interp = ok[ratio < 0.1]
        ok = interp if not interp.empty else ok
        ok = ok.sort_values(["n_train", "seed"], ascending=[False, True])
    else:
        ok = ok.sort_values(["width", "seed"], ascending=[False, True])
    return list(ok["run_id"].head(sweep.measure_models))


def run_lanes(sweeps: list[StudySweep], out: Path, *, device: str | None = None,
              lanes: int | None = None, n_inputs: int = 10_000,
              progress: bool = True, sections: list[SectionJob] | None = None
              ) -> list[Any]:
    """Run the sweeps and the sections in parallel processes, longest first (by
    ``est_seconds``): a lane takes the next job as soon as it is free.

    Parameters
    ----------
    sweeps : list of StudySweep
        The sweeps.
    out : Path
        Study directory; sweep ``name`` goes to ``out / "sweeps" / name``.
    device : {"cpu", "cuda"}, optional
        Default: CUDA when present.
    lanes : int, optional
        Parallel processes (default: the usable CPUs, at most the number of
        sweeps; 1 on CUDA).
    n_inputs : int, default=10000
        Fresh inputs for the intrinsic dimensions.
    progress : bool, default=True
        Show a progress bar of finished runs with the elapsed time.
    sections : list of SectionJob, optional
        Report sections, computed in the lanes after the sweeps have started
        (each writes into ``out``).

    Returns
    -------
    list
        A :class:`SweepOutcome` per sweep (in the order of ``sweeps``), then each
        section's dict (in the order of ``sections``).

    Raises
    ------
    KeyboardInterrupt
        After Ctrl-C, once every lane has saved its finished runs.
    """
    cuda = device == "cuda" or (device is None and _cuda_available())
    n_cpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)
    # longest first (a lane takes the next job when free), sweeps before sections of equal cost
    jobs: list[StudySweep | SectionJob] = sorted([*sweeps, *(sections or [])],
                                                 key=lambda j: -j.est_seconds)
    names = {s.name for s in sweeps}
    for j in sections or []:
        if not set(j.after) <= names:
            raise ValueError(f"Section {j.name!r} waits for sweeps {sorted(set(j.after) - names)} "
                             f"that the study does not run (it runs {sorted(names)}).")
    n_lanes = 1 if cuda else max(1, min(lanes or n_cpu, len(jobs)))
    threads = max(1, n_cpu // n_lanes)
    dirs = {s.name: out / "sweeps" / s.name for s in sweeps}
    jobs_dir = out / "sweeps" / ".jobs"
    jobs_dir.mkdir(parents=True, exist_ok=True)
    bar = _progress_bar(sum(_n_runs(s) for s in sweeps), progress)
    queue = list(jobs)
    running: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
    results: dict[str, Any] = {}
    for j in [j for j in queue if isinstance(j, SectionJob)]:
        cached = _cached_section(j, jobs_dir)
        if cached is not None:  # a rerun resumes: a finished section is not computed again
            results[j.name] = cached
            queue.remove(j)
    try:
        while queue or running:
            while len(running) < n_lanes:
                ready = [j for j in queue if all(a in results for a in
                                                 getattr(j, "after", ()))]
                if not ready:
                    break
                s = ready[0]
                queue.remove(s)
                running[s.name] = _start(s, dirs.get(s.name, out), jobs_dir, device, threads,
                                         n_inputs)
            time.sleep(0.5)
            for name, (proc, result_path) in list(running.items()):
                if proc.poll() is None:
                    continue
                del running[name]
                results[name] = _collect(name, proc, result_path)
            bar.n = _finished(dirs)
            bar.set_postfix_str(f"{len(results)}/{len(jobs)} jobs", refresh=True)
    except (KeyboardInterrupt, ScaleLawError):
        for proc, _ in running.values():  # each lane saves its finished runs and exits
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGINT)
        for proc, _ in running.values():
            proc.wait()
        raise
    finally:
        bar.close()
    return [results[s.name] for s in [*sweeps, *(sections or [])]]


def _cached_section(j: SectionJob, jobs_dir: Path) -> dict[str, Any] | None:
    """The stored result of the same section job (same settings), if it finished."""
    spec, result = jobs_dir / f"{j.name}.section.pkl", jobs_dir / f"{j.name}.result.pkl"
    if spec.is_file() and result.is_file() and spec.read_bytes() == pickle.dumps(j):
        res = pickle.loads(result.read_bytes())
        return res if isinstance(res, dict) else None
    return None


def _start(s: StudySweep | SectionJob, sweep_dir: Path, jobs_dir: Path, device: str | None,
           threads: int, n_inputs: int) -> tuple[subprocess.Popen[bytes], Path]:
    job = jobs_dir / f"{s.name}.job.pkl"
    result = jobs_dir / f"{s.name}.result.pkl"
    result.unlink(missing_ok=True)
    if isinstance(s, SectionJob):
        (jobs_dir / f"{s.name}.section.pkl").write_bytes(pickle.dumps(s))
    job.write_bytes(pickle.dumps((s, str(sweep_dir), device, threads, n_inputs)))
    log = (jobs_dir / f"{s.name}.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "scalelaw.experiments._worker", str(job),
                             str(result), str(os.getpid())], stdout=log,
                            stderr=subprocess.STDOUT)  # the lane dies with this process
    log.close()
    return proc, result


def _collect(name: str, proc: subprocess.Popen[bytes], result: Path) -> Any:
    if proc.returncode == 0 and result.is_file():
        return pickle.loads(result.read_bytes())
    log = result.with_name(f"{name}.log")
    tail = log.read_text(errors="replace").strip().splitlines()[-5:] if log.is_file() else []
    raise TaskError(f"Lane job {name!r} failed (exit status {proc.returncode}); its log "
                    f"{str(log)!r} ends: {' | '.join(tail)}")


class TaskError(ScaleLawError):
    """A lane of a study failed (its log says why)."""


def _cuda_available() -> bool:
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


def _n_runs(s: StudySweep) -> int:
    c = s.config
    return (len(c["widths"]) * len(c["depths"]) * len(c["n_train"]) * len(c["seeds"])
            * len(c.get("data_seeds", [0])))


def _finished(dirs: dict[str, Path]) -> int:
    return sum(len(list((d / "runs").glob("*.parquet"))) for d in dirs.values()
               if (d / "runs").is_dir())


def _progress_bar(total: int, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="run", desc="training", disable=not enabled,
                dynamic_ncols=True, bar_format="{l_bar}{bar}| {n}/{total} runs "
                "[{elapsed}{postfix}]")

