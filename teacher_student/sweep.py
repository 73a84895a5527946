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
population) and ``task_config`` (a table defining a task inline instead of a
suite name).

Store layout (``--out DIR``)::

    DIR/sweep.toml            the config, with its hash (a rerun must match)
    DIR/runs/<run_id>.parquet one file per finished run, written atomically
                              (temporary file, fsync, rename) when it finishes

A killed sweep (SIGKILL included) loses at most the populations in flight;
a rerun skips every run whose file exists, so nothing finished is repeated.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import platform
import signal
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from teacher_student.population import (
    PopulationResult,
    RunSpec,
    TrainConfig,
    n_params,
    train_population,
    tune_cpu_allocator,
)
from teacher_student.tasks import Task, TaskConfigError, _suggest

__all__ = ["FINAL_COLUMNS", "SweepConfig", "final_metrics", "plan_groups", "run_sweep",
           "sweep_results", "sweep_status", "write_results"]

_GRID_KEYS = ("task", "task_config", "widths", "depths", "n_train", "seeds", "data_seeds",
              "noise_seeds", "lrs")
RESULT_COLUMNS = ["run_id", "task", "task_id", "width", "depth", "n_params", "n_train", "seed",
                  "data_seed", "noise_seed", "lr", "step", "split", "metric", "value", "status",
                  "stop_step", "wall_time_s", "population_size", "device", "hardware",
                  "dtype", "finished_at", "version_scalelaw", "version_torch", "version_numpy"]

# CPU grouping policy (shared/docs/performance.md section 2.2): a population
# step of a small model costs ~0.5 ms of framework overhead whatever its size,
# so cheap models are stacked. Without allocator tuning stacking was measured
# 1.6-2.2x slower than per-model training at width 256, n 1,024; with it
# (teacher_student.population.tune_cpu_allocator) stacking 8 models was as fast
# or faster than training them one by one up to the largest cell measured,
# 5.6 GFLOP per model-step on the 2-core machine (width 256, n 891: 28 vs 54 ms
# per step; width 1024, n 891: 623 vs 593 ms, a tie), so only models above
# SOLO_FLOPS per step (beyond what was measured) train alone. Training-set
# sizes are merged into one padded population while its step stays under
# MERGE_FLOPS (the padding is then free).
CPU_SOLO_FLOPS = 1e10
CPU_MERGE_FLOPS = 2e8
GPU_MERGE_FLOPS = 5e10
# On a CPU a population's hidden activations per layer (models x rows x width x
# bytes) stay under this many bytes: bigger populations are halved until they
# fit. Measured on the 2-core machine (2026-11-23; 8 models, ms per step of all
# 8, medians of 5-6 alternating repeats): width 256, n 16,384 (134 MB per layer
# when stacked) 739 stacked, 677 as 4 + 4, 608 as four pairs (three runs:
# pairs 10-18 % faster than stacked); no difference beyond noise when halving
# width 512, n 6,208 (102 MB; 705 vs 719 as pairs), width 128, n 16,384 (67 MB;
# 204 vs 202 as 4 + 4) or width 256, n 6,208 (51 MB; 245 vs 248). Uneven
# splits (3 + 3 + 2) were slower at width 256, n 6,208 (287).
CPU_MAX_ACTIVATION_BYTES = 48 * 2**20


@dataclass(frozen=True)
class SweepConfig:
    """A parsed sweep: the task, the grid and the training settings."""

    task: Task
    widths: tuple[int, ...]
    depths: tuple[int, ...]
    n_train: tuple[int, ...]
    seeds: tuple[int, ...]
    data_seeds: tuple[int, ...]
    noise_seeds: tuple[int | None, ...]
    train: TrainConfig
    lrs: tuple[float | None, ...] = (None,)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SweepConfig:
        """Validate and build; unknown keys get a suggestion."""
        from teacher_student.suite import get_task

        train_keys = [f.name for f in fields(TrainConfig)]
        known = list(_GRID_KEYS) + train_keys
        for key in d:
            if key not in known:
                raise TaskConfigError(f"Unknown sweep key {key!r}." + _suggest(key, known)
                                      + f" Known keys: {known}.")
        if ("task" in d) == ("task_config" in d):
            raise TaskConfigError("A sweep config needs exactly one of 'task' (a suite name) "
                                  "and 'task_config' (an inline task table).")
        task = get_task(d["task"]) if "task" in d else Task.from_dict(d["task_config"])

        def grid(key: str, default: Any = None, minimum: int = 0) -> tuple[int, ...]:
            if key not in d:
                if default is None:
                    raise TaskConfigError(f"Sweep config is missing the key {key!r}.")
                return tuple(default)
            vals = d[key]
            if not isinstance(vals, list) or not vals or not all(
                    isinstance(v, int) and not isinstance(v, bool) and v >= minimum
                    for v in vals):
                raise TaskConfigError(f"Sweep key {key!r} must be a non-empty list of ints "
                                      f">= {minimum}; got {vals!r}.")
            if len(set(vals)) != len(vals):
                raise TaskConfigError(f"Sweep key {key!r} repeats values: {vals!r}.")
            return tuple(vals)

        train = TrainConfig(**{k: d[k] for k in train_keys if k in d})
        return cls(
            task=task,
            widths=grid("widths", minimum=1),
            depths=grid("depths", [2], minimum=1),
            n_train=grid("n_train", [0] if train.online else None,
                         minimum=0 if train.online else 1),
            seeds=grid("seeds", minimum=0),
            data_seeds=grid("data_seeds", [0], minimum=0),
            noise_seeds=grid("noise_seeds", minimum=0) if "noise_seeds" in d else (None,),
            train=train,
            lrs=_lrs(d.get("lrs")),
        )

    @classmethod
    def from_file(cls, path: str | Path) -> SweepConfig:
        """Read a TOML sweep config."""
        p = Path(path)
        if not p.is_file():
            raise TaskConfigError(f"Sweep config {str(p)!r} does not exist.")
        try:
            d = tomllib.loads(p.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise TaskConfigError(f"Cannot parse sweep config {str(p)!r}: {exc}") from None
        return cls.from_dict(d)

    def to_dict(self) -> dict[str, Any]:
        """Canonical content (the inline task and every training setting)."""
        return {
            "task_config": self.task.to_dict(),
            "widths": list(self.widths), "depths": list(self.depths),
            "n_train": list(self.n_train), "seeds": list(self.seeds),
            "data_seeds": list(self.data_seeds),
            **({"noise_seeds": list(self.noise_seeds)} if self.noise_seeds != (None,) else {}),
            **({"lrs": list(self.lrs)} if self.lrs != (None,) else {}),
            **self.train.to_dict(),
        }

    @property
    def config_hash(self) -> str:
        """Hash of the canonical content."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def runs(self) -> list[RunSpec]:
        """Every run of the grid."""
        out = []
        for depth in self.depths:
            for width in self.widths:
                for n in self.n_train:
                    for ds in self.data_seeds:
                        for ns in self.noise_seeds:
                            for lr in self.lrs:
                                for seed in self.seeds:
                                    out.append(RunSpec(width, depth, n, seed, ds, ns, lr))
        return out

    def run_id(self, spec: RunSpec) -> str:
        """Stable id of a run: its settings, the task id and the training settings."""
        text = json.dumps({"task": self.task.task_id, "run": spec.key(),
                           "train": self.train.to_dict()}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _lrs(vals: Any) -> tuple[float | None, ...]:
    if vals is None:
        return (None,)
    if not isinstance(vals, list) or not vals or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v) and v > 0
            for v in vals):
        raise TaskConfigError(f"Sweep key 'lrs' must be a non-empty list of positive floats "
                              f"(a learning-rate grid; 'lr' is then the reference); got {vals!r}.")
    return tuple(float(v) for v in vals)


def _step_flops(task: Task, spec: RunSpec, cfg: TrainConfig, n: int | None = None) -> float:
    rows = cfg.batch_size if (cfg.batch_size or cfg.online) else (n or spec.n_train)
    return 6.0 * n_params(task.ambient_dim, spec.width, spec.depth, task.n_outputs) * rows


def plan_groups(cfg: SweepConfig, specs: list[RunSpec], device: str) -> list[list[RunSpec]]:
    """Split runs into populations by cost (see the module constants).

    Same (depth, width) only. On a CPU a model costlier than ``CPU_SOLO_FLOPS``
    per step trains alone; cheaper ones are stacked, with neighbouring
    training-set sizes padded into one population while its step stays under
    the merge budget; a CPU population whose hidden activations per layer
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
            if current and cost > merge:
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


# ---------------------------------------------------------------- the store
def _versions() -> dict[str, str]:
    import torch

    try:
        from importlib.metadata import version

        own = version("scalelaw")
    except Exception:  # pragma: no cover - source checkout
        own = "0+unknown"
    return {"version_scalelaw": own, "version_torch": torch.__version__,
            "version_numpy": np.__version__}


def _rows_frame(cfg: SweepConfig, res: PopulationResult, i: int,
                versions: dict[str, str]) -> pd.DataFrame:
    s = res.specs[i]
    rows = res.rows[i]
    frame = pd.DataFrame(rows, columns=["step", "split", "metric", "value"])
    meta = {
        "run_id": cfg.run_id(s), "task": cfg.task.name, "task_id": cfg.task.task_id,
        "width": s.width, "depth": s.depth,
        "n_params": n_params(cfg.task.ambient_dim, s.width, s.depth, cfg.task.n_outputs),
        "n_train": s.n_train, "seed": s.seed, "data_seed": s.data_seed,
        "noise_seed": s.data_seed if s.noise_seed is None else s.noise_seed,
        "lr": cfg.train.lr if s.lr is None else s.lr,
        "status": res.status[i], "stop_step": res.stop_step[i],
        "wall_time_s": res.wall_time_s, "population_size": res.population_size,
        "device": res.device, "hardware": res.hardware, "dtype": cfg.train.dtype,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **versions,
    }
    for k, v in meta.items():
        frame[k] = v
    return frame[RESULT_COLUMNS]


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block ends, then raise KeyboardInterrupt.

    Used around writing a finished population, so an interruption never cuts
    a finished run's file in half (main thread only; elsewhere a no-op).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if caught:
        raise KeyboardInterrupt


def _atomic_write(frame: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        frame.to_parquet(tmp, index=False)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def _prepare_store(cfg: SweepConfig, out: Path) -> Path:
    import tomli_w

    runs_dir = out / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    meta = out / "sweep.toml"
    content = {"config_hash": cfg.config_hash, **cfg.to_dict()}
    if meta.exists():
        old = tomllib.loads(meta.read_text())
        if old.get("config_hash") != cfg.config_hash:
            raise TaskConfigError(
                f"{str(out)!r} holds a sweep with a different config (hash "
                f"{old.get('config_hash')!r}, this config {cfg.config_hash!r}); use another "
                "--out directory or the same config to resume."
            )
    else:
        tmp = meta.with_suffix(".tmp")
        tmp.write_text(tomli_w.dumps({k: v for k, v in content.items()
                                      if v is not None}))
        os.replace(tmp, meta)
    for stale in runs_dir.glob(".*.tmp"):  # a write cut by a kill: never a result
        stale.unlink(missing_ok=True)
    return runs_dir


def _done(runs_dir: Path) -> set[str]:
    return {p.stem for p in runs_dir.glob("*.parquet")}


def _train_group(task_dict: dict[str, Any], train_dict: dict[str, Any],
                 specs: list[RunSpec], device: str | None, threads: int | None
                 ) -> PopulationResult:
    """Worker entry point (also used by Dask): rebuild the objects, train."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    return train_population(Task.from_dict(task_dict), specs, TrainConfig(**train_dict),
                            device=device)


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
) -> SweepReport:
    """Run (or resume) a sweep; every finished run is written as it finishes.

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
        Torch threads per population (default: torch's choice locally, 1 per
        Dask task).

    Returns
    -------
    SweepReport
        Counts; ``interrupted`` is True after Ctrl-C (finished runs are kept).
    """
    import torch

    t0 = time.perf_counter()
    tune_cpu_allocator()  # an application-level, process-wide setting (see its docstring)
    dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if dev not in ("cpu", "cuda") and not dev.startswith("cuda:"):
        raise TaskConfigError(f"device must be 'cpu' or 'cuda'; got {dev!r}.")
    if dev.startswith("cuda") and not torch.cuda.is_available():
        raise TaskConfigError("device 'cuda' was asked for but no CUDA device is available.")
    out = Path(out)
    runs_dir = _prepare_store(cfg, out)
    specs = cfg.runs()
    done = _done(runs_dir)
    todo = [s for s in specs if cfg.run_id(s) not in done]
    groups = plan_groups(cfg, todo, dev)
    versions = _versions()
    bar = _Bar(len(specs), len(specs) - len(todo), progress)
    report = SweepReport(len(specs), len(specs) - len(todo), 0, 0, False, 0.0)

    def write(res: PopulationResult) -> None:
        with _interrupts_deferred():  # a finished population is written whole
            for i in range(len(res.specs)):
                frame = _rows_frame(cfg, res, i, versions)
                _atomic_write(frame, runs_dir / f"{cfg.run_id(res.specs[i])}.parquet")
            report.n_trained += len(res.specs)
            report.n_diverged += sum(st == "diverged" for st in res.status)
            bar.update(len(res.specs))

    try:
        if scheduler:
            _run_dask(cfg, groups, dev, scheduler, threads, write)
        else:
            for g in groups:
                write(_train_group(cfg.task.to_dict(), cfg.train.to_dict(), g, dev, threads))
    except KeyboardInterrupt:
        report.interrupted = True
    finally:
        bar.close()
    report.wall_time_s = time.perf_counter() - t0
    return report


def _run_dask(cfg: SweepConfig, groups: list[list[RunSpec]], dev: str, address: str,
              threads: int | None, write: Callable[[PopulationResult], None]) -> None:
    try:
        from distributed import Client, as_completed
    except ImportError:  # pragma: no cover - optional dependency
        raise TaskConfigError("--scheduler needs dask.distributed: pip install "
                              "'scalelaw[distributed]'.") from None
    with Client(address, timeout="30s") as client:
        futures = [client.submit(_train_group, cfg.task.to_dict(), cfg.train.to_dict(), g, dev,
                                 threads or 1, pure=False) for g in groups]
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


# ----------------------------------------------------------- reading a store
def _read_meta(out: Path) -> SweepConfig:
    meta = Path(out) / "sweep.toml"
    if not meta.is_file():
        raise TaskConfigError(f"{str(out)!r} is not a sweep directory (no sweep.toml).")
    d = tomllib.loads(meta.read_text())
    d.pop("config_hash", None)
    return SweepConfig.from_dict(d)


def _iter_frames(out: Path) -> Iterator[pd.DataFrame]:
    for p in sorted((Path(out) / "runs").glob("*.parquet")):
        yield pd.read_parquet(p)


def sweep_status(out: str | Path) -> dict[str, Any]:
    """Counts of a sweep directory: total, finished (by status), remaining."""
    cfg = _read_meta(Path(out))
    specs = cfg.runs()
    done = _done(Path(out) / "runs")
    statuses: dict[str, int] = {}
    for frame in _iter_frames(Path(out)):
        st = str(frame["status"].iloc[0])
        statuses[st] = statuses.get(st, 0) + 1
    ids = {cfg.run_id(s) for s in specs}
    return {"task": cfg.task.name, "total": len(specs), "finished": len(done & ids),
            "remaining": len(ids - done), "by_status": statuses,
            "config_hash": cfg.config_hash}


def sweep_results(out: str | Path) -> pd.DataFrame:
    """All finished runs as one tidy long table (columns: :data:`RESULT_COLUMNS`)."""
    _read_meta(Path(out))
    frames = list(_iter_frames(Path(out)))
    if not frames:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def install_sigterm_handler() -> None:
    """Turn SIGTERM into KeyboardInterrupt so a terminated sweep stops cleanly."""
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    if platform.system() != "Windows":
        signal.signal(signal.SIGTERM, handler)


#: Columns of :func:`final_metrics` (one row per run).
FINAL_COLUMNS = ["run_id", "task", "task_id", "width", "depth", "n_params", "n_train", "seed",
                 "data_seed", "noise_seed", "lr", "status", "stop_step", "train_loss",
                 "test_loss", "best_test_loss", "hardware", "version_scalelaw"]


def final_metrics(out: str | Path | pd.DataFrame) -> pd.DataFrame:
    """One row per run: its settings, status and final losses (ready for ``scalelaw fit``).

    ``train_loss`` and ``test_loss`` are the values at the run's last logged
    step (the training loss is that of the last batch in online mode);
    ``best_test_loss`` is the test loss at the best validation loss with early
    stopping (NaN without it). A diverged run keeps its row, its status and
    NaN losses, so fits exclude it with a count (``--drop-invalid``).

    Parameters
    ----------
    out : str, path or pandas.DataFrame
        A sweep directory, or the long table of :func:`sweep_results`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`FINAL_COLUMNS`.

    Examples
    --------
    >>> long = pd.DataFrame({
    ...     "run_id": ["a"] * 4, "task": "t", "task_id": "i", "width": 8, "depth": 2,
    ...     "n_params": 105, "n_train": 64, "seed": 0, "data_seed": 0, "noise_seed": 0,
    ...     "lr": 3e-3, "status": "ok", "stop_step": 10, "hardware": "cpu",
    ...     "version_scalelaw": "0.1.0", "step": [1, 1, 10, 10],
    ...     "split": ["train", "test", "train", "test"], "metric": "loss",
    ...     "value": [1.0, 1.1, 0.1, 0.2]})
    >>> final_metrics(long)[["train_loss", "test_loss"]].values.tolist()
    [[0.1, 0.2]]
    """
    long = out if isinstance(out, pd.DataFrame) else sweep_results(out)
    if long.empty:
        return pd.DataFrame(columns=FINAL_COLUMNS)
    meta_cols = [c for c in FINAL_COLUMNS if c in long.columns and c not in (
        "train_loss", "test_loss", "best_test_loss")]
    meta = long.groupby("run_id", sort=False)[meta_cols[1:]].first()
    loss = long[long["metric"] == "loss"]
    last = loss[loss["step"] == loss.groupby("run_id")["step"].transform("max")]
    wide = last.pivot_table(index="run_id", columns="split", values="value", aggfunc="last",
                            dropna=False)
    frame = meta.copy()
    frame["train_loss"] = wide["train"] if "train" in wide else np.nan
    frame["test_loss"] = wide["test"] if "test" in wide else np.nan
    best = long[(long["metric"] == "loss_best_val") & (long["split"] == "test")]
    frame["best_test_loss"] = best.groupby("run_id")["value"].last()
    frame = frame.reset_index()
    for c in FINAL_COLUMNS:
        if c not in frame:
            frame[c] = np.nan
    order = ["task", "depth", "width", "n_train", "data_seed", "seed"]
    return frame[FINAL_COLUMNS].sort_values(order, kind="stable").reset_index(drop=True)


def write_results(out: str | Path, target: str | Path, *, final: bool = False
                  ) -> tuple[int, int]:
    """Write a sweep's results (long table, or one row per run) to CSV or Parquet.

    Parameters
    ----------
    out : str or path
        The sweep directory.
    target : str or path
        ``FILE.csv`` or ``FILE.parquet``.
    final : bool, default=False
        Write :func:`final_metrics` instead of the long table.

    Returns
    -------
    tuple of int
        Rows written and runs covered.
    """
    target = Path(target)
    if target.suffix not in (".csv", ".parquet"):
        raise TaskConfigError(f"The output must end in .csv or .parquet; got "
                              f"{str(target)!r}.", column="out")
    table = final_metrics(out) if final else sweep_results(out)
    if target.suffix == ".csv":
        table.to_csv(target, index=False)
    else:
        table.to_parquet(target, index=False)
    return len(table), int(table["run_id"].nunique()) if len(table) else 0
