"""Resumable sweeps over widths, depths, training-set sizes and seeds.

A sweep config (TOML) names the task, the grids and the training settings::

    task = "bahri-d4"
    widths = [8, 16, 32]
    depths = [2]
    n_train = [128, 512]
    seeds = [0, 1]          # initialisation
    data_seeds = [0]
    steps = 2000
    lr = 3e-3
    batch_size = 0          # 0 = full batch

Other keys: ``noise_seeds`` (default: the data seed), ``optimizer``,
``schedule``, ``online``, ``activation``, ``parameterization``,
``base_width``, ``early_stopping``, ``patience``, ``n_val``, ``eval_steps``,
``n_test``, ``dtype``, ``allow_tf32`` (see :class:`TrainConfig`), ``lrs`` (a
learning-rate grid; runs of one shape with different rates still train as one
population), ``keep_weights`` (keep each run's final weights, to measure its
representation later), ``predictions`` / ``n_probe`` / ``probe_seed``
(keep each run's outputs on a fixed probe set of test inputs, for variance
decompositions: :mod:`teacher_student.predictions`) and ``task_config`` (a
table defining a task inline instead of a suite name).

Seeds are crossed: every combination of ``data_seeds`` (which training set),
``seeds`` (the initialisation and mini-batch order) and ``noise_seeds`` (the
label noise) is a run. Without ``noise_seeds`` the noise follows the data
seed (nested in it). A crossed data x init x noise design with stored
predictions is thus::

    data_seeds = [0, 1, 2, 3]
    seeds = [0, 1, 2, 3]
    noise_seeds = [0, 1, 2, 3]
    predictions = "float16"
    n_probe = 1000

The store (``--out DIR``; :mod:`teacher_student.store`) holds one file per
finished run, written atomically when it finishes. A killed sweep (SIGKILL
included) loses at most the populations in flight; a rerun skips every
finished run, and a config with more seeds, sizes or widths trains only the
new runs.

:func:`run_sweep` locks the store directory while it runs, runs each
population on :func:`default_threads` torch threads unless told, and tunes the
glibc allocator for the process
(:func:`~teacher_student.population.tune_cpu_allocator`) only when asked
(``tune_allocator=True``, as the command line does).
"""

from __future__ import annotations

import math
import os
import platform
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from teacher_student.config import (
    PopulationResult,
    RunSpec,
    SweepConfig,
    TrainConfig,
    n_params,
)
from teacher_student.memory import check_sweep_memory
from teacher_student.population import train_population, tune_cpu_allocator
from teacher_student.predictions import probe_set, sweep_predictions
from teacher_student.store import (
    FINAL_COLUMNS,
    RESULT_COLUMNS,
    done_runs,
    final_metrics,
    load_weights,
    lock_store,
    prepare_store,
    runs_with_predictions,
    sweep_results,
    sweep_status,
    versions,
    write_population,
    write_results,
)
from teacher_student.tasks import Task, TaskConfigError

__all__ = ["FINAL_COLUMNS", "MAX_PADDING", "RESULT_COLUMNS", "SweepConfig", "default_threads",
           "final_metrics", "load_weights", "plan_groups", "run_sweep", "sweep_predictions",
           "sweep_results", "sweep_status", "write_results"]

# Grouping policy (measurements in bench/RESULTS.md, "Engine tuning constants").
#: A CPU model above this many FLOPs per step trains alone (stacking was measured
#: as fast as solo training up to 5.6 GFLOP per model-step).
CPU_SOLO_FLOPS = 1e10
#: Neighbouring training-set sizes share a padded population while its step stays
#: under this many FLOPs (CPU) ...
CPU_MERGE_FLOPS = 2e8
GPU_MERGE_FLOPS = 5e10  # ... or this many (GPU)
#: ... and while its padded rows stay within this factor of its real rows
#: (without it, width-8 runs of D 1,024-8,192 shared one population padded to
#: 8,192 rows: 2.1x the real work).
MAX_PADDING = 1.25
#: A CPU population's hidden activations per layer stay under this many bytes
#: (bigger ones are halved: pairs were 10-18 % faster at 134 MB per layer).
CPU_MAX_ACTIVATION_BYTES = 48 * 2**20


def _step_flops(task: Task, spec: RunSpec, cfg: TrainConfig, n: int | None = None) -> float:
    rows = cfg.batch_size if (cfg.batch_size or cfg.online) else (n or spec.n_train)
    return 6.0 * n_params(task.ambient_dim, spec.width, spec.depth, task.n_outputs) * rows


def plan_groups(cfg: SweepConfig, specs: list[RunSpec], device: str) -> list[list[RunSpec]]:
    """Split runs into populations by cost (see the module constants).

    Same (depth, width) only. On a CPU a model costlier than ``CPU_SOLO_FLOPS``
    per step trains alone; cheaper ones are stacked, with neighbouring
    training-set sizes padded into one population while its step stays under
    the merge budget and (full batch) its padded rows within ``MAX_PADDING``
    times its real rows; a CPU population whose hidden activations per layer
    exceed ``CPU_MAX_ACTIVATION_BYTES`` is halved until they fit. On a GPU
    everything of one shape is stacked the same way with a larger budget.
    """
    gpu = device.startswith("cuda")
    merge = GPU_MERGE_FLOPS if gpu else CPU_MERGE_FLOPS
    groups: list[list[RunSpec]] = []
    by_shape: dict[tuple[int, int], list[RunSpec]] = {}
    for s in specs:
        by_shape.setdefault((s.depth, s.width), []).append(s)
    for (_depth, _width), members in sorted(by_shape.items()):
        by_n: dict[int, list[RunSpec]] = {}
        for s in members:
            by_n.setdefault(s.n_train, []).append(s)
        current: list[RunSpec] = []
        for n in sorted(by_n):
            cell = by_n[n]
            if not gpu and _step_flops(cfg.task, cell[0], cfg.train) > CPU_SOLO_FLOPS:
                groups.extend([[s] for s in cell])
                continue
            trial = current + cell
            cost = len(trial) * _step_flops(cfg.task, cell[0], cfg.train, n)
            real = sum(s.n_train for s in trial)
            padded = len(trial) * n  # every model of the population gets n rows
            full_batch = not (cfg.train.batch_size or cfg.train.online)
            if current and (cost > merge or (full_batch and padded > MAX_PADDING * real)):
                groups.append(current)
                current = list(cell)
            else:
                current = trial
        if current:
            groups.append(current)
    if gpu:
        return groups
    itemsize = 8 if cfg.train.dtype == "float64" else 4
    out: list[list[RunSpec]] = []
    for g in groups:
        rows = (cfg.train.batch_size if (cfg.train.batch_size or cfg.train.online)
                else max(s.n_train for s in g))
        size = len(g)
        while size > 1 and size * rows * g[0].width * itemsize > CPU_MAX_ACTIVATION_BYTES:
            size = math.ceil(size / 2)
        out.extend(g[i:i + size] for i in range(0, len(g), size))
    return out


def _train_group(task_dict: dict[str, Any], train_dict: dict[str, Any],
                 specs: list[RunSpec], device: str | None, threads: int | None,
                 keep_weights: bool = False, probe: Any = None) -> PopulationResult:
    """Worker entry point (also used by Dask): rebuild the objects, train."""
    import torch

    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        return train_population(Task.from_dict(task_dict), specs, TrainConfig(**train_dict),
                                device=device, keep_weights=keep_weights, probe=probe)
    finally:
        torch.set_num_threads(before)


def default_threads() -> int:
    """Torch threads per population: the CPUs this process may use that are not busy.

    Torch's own default (every core) oversubscribes a machine where another
    process computes: steps then ran 6-19x slower on 2 cores. This counts the
    usable CPUs minus the 1-minute load average (rounded; at least 1).

    Returns
    -------
    int
        The thread count.

    Examples
    --------
    >>> default_threads() >= 1
    True
    """
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        n = os.cpu_count() or 1
    try:
        busy = round(os.getloadavg()[0])
    except OSError:  # pragma: no cover - no load average here
        busy = 0
    return max(1, min(n, n - busy))


@dataclass
class SweepReport:
    """What a call of :func:`run_sweep` did."""

    n_total: int
    n_skipped: int
    n_trained: int
    n_diverged: int
    interrupted: bool
    wall_time_s: float


def run_sweep(
    cfg: SweepConfig,
    out: str | Path,
    *,
    device: str | None = None,
    scheduler: str | None = None,
    progress: bool = True,
    threads: int | None = None,
    tune_allocator: bool = False,
) -> SweepReport:
    """Run (or resume) a sweep; every finished run is written as it finishes.

    The store directory is locked while the sweep runs
    (:func:`~teacher_student.store.lock_store`): a second run on the same
    directory is refused rather than training every run again.

    Parameters
    ----------
    cfg : SweepConfig
        The sweep.
    out : str or path
        Store directory (created; a rerun with the same config resumes).
    device : {"cpu", "cuda"}, optional
        Default: CUDA when present.
    scheduler : str, optional
        Address of a Dask distributed scheduler: populations are submitted
        there and results written here as they complete.
    progress : bool, default=True
        Show a tqdm bar (runs done, throughput, ETA).
    threads : int, optional
        Torch threads per population (default: :func:`default_threads` locally,
        1 per Dask task).
    tune_allocator : bool, default=False
        Tune the glibc allocator for the whole process
        (:func:`~teacher_student.population.tune_cpu_allocator`; about 2x faster
        steps for small populations). Process-wide, so off unless an
        application asks: ``scalelaw sweep run`` and ``scalelaw demo`` do.

    Returns
    -------
    SweepReport
        Counts; ``interrupted`` is True after Ctrl-C (finished runs are kept).

    Raises
    ------
    StoreLockedError
        When another process is running a sweep into ``out``.
    TaskConfigError
        When the largest run cannot fit in the device's memory
        (:func:`~teacher_student.memory.check_sweep_memory`, checked before
        anything is allocated; not with a ``scheduler``).
    """
    import torch

    t0 = time.perf_counter()
    if tune_allocator:
        tune_cpu_allocator()  # process-wide: only when the application asks
    dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if dev not in ("cpu", "cuda") and not dev.startswith("cuda:"):
        raise TaskConfigError(f"device must be 'cpu' or 'cuda'; got {dev!r}.")
    if dev.startswith("cuda") and not torch.cuda.is_available():
        raise TaskConfigError("device 'cuda' was asked for but no CUDA device is available.")
    if scheduler is None:  # remote workers have their own memory
        check_sweep_memory(cfg, dev)
    out = Path(out)
    with lock_store(out):
        return _run_locked(cfg, out, dev, scheduler, progress, threads, t0)


def _run_locked(cfg: SweepConfig, out: Path, dev: str, scheduler: str | None, progress: bool,
                threads: int | None, t0: float) -> SweepReport:
    runs_dir = prepare_store(cfg, out)
    specs = cfg.runs()
    done = done_runs(runs_dir)
    probe = None
    if cfg.predictions != "none":  # finished runs without predictions train again
        done &= runs_with_predictions(cfg, out)
        probe = probe_set(cfg.task, cfg.n_probe, cfg.probe_seed)[0]
    todo = [s for s in specs if cfg.run_id(s) not in done]
    groups = plan_groups(cfg, todo, dev)
    meta = versions()
    if threads is None and not scheduler and dev == "cpu":
        threads = default_threads()
    bar = _Bar(len(specs), len(specs) - len(todo), progress)
    report = SweepReport(len(specs), len(specs) - len(todo), 0, 0, False, 0.0)

    def write(res: PopulationResult) -> None:
        write_population(cfg, res, runs_dir, meta)  # whole, even if interrupted meanwhile
        report.n_trained += len(res.specs)
        report.n_diverged += sum(st == "diverged" for st in res.status)
        bar.update(len(res.specs))

    try:
        if scheduler:
            _run_dask(cfg, groups, dev, scheduler, threads, write, probe)
        else:
            for g in groups:
                write(_train_group(cfg.task.to_dict(), cfg.train.to_dict(), g, dev, threads,
                                   cfg.keep_weights, probe))
    except KeyboardInterrupt:
        report.interrupted = True
    finally:
        bar.close()
    report.wall_time_s = time.perf_counter() - t0
    return report


def _run_dask(cfg: SweepConfig, groups: list[list[RunSpec]], dev: str, address: str,
              threads: int | None, write: Callable[[PopulationResult], None],
              probe: Any = None) -> None:
    try:
        from distributed import Client, as_completed
    except ImportError:  # pragma: no cover - optional dependency
        raise TaskConfigError("--scheduler needs dask.distributed: pip install "
                              "'scalelaw[distributed]'.") from None
    with Client(address, timeout="30s") as client:
        futures = [client.submit(_train_group, cfg.task.to_dict(), cfg.train.to_dict(), g, dev,
                                 threads or 1, cfg.keep_weights, probe, pure=False)
                   for g in groups]
        try:
            for fut in as_completed(futures):
                write(fut.result())
        except KeyboardInterrupt:
            client.cancel(futures)
            raise


class _Bar:
    def __init__(self, total: int, initial: int, enabled: bool) -> None:
        self._bar = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=initial, unit="run", desc="sweep",
                             dynamic_ncols=True)

    def update(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def install_sigterm_handler() -> None:
    """Turn SIGTERM into KeyboardInterrupt so a terminated sweep stops cleanly."""
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    if platform.system() != "Windows":
        signal.signal(signal.SIGTERM, handler)


