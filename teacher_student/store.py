"""The sweep store: one file per finished run, written atomically, and reading it back.

Layout of a store directory ``DIR``::

    DIR/sweep.toml              the latest config, with the hash of its settings
    DIR/runs/<run_id>.parquet   one file per finished run (temporary file, fsync, rename)
    DIR/weights/<run_id>.npz    final weights, when the sweep keeps them
    DIR/predictions/...         per-example test predictions, when the sweep keeps
                                them (:mod:`teacher_student.predictions`)

A run is identified by what it is (task, shape, data size, seeds, learning
rate and training settings), not by the config that asked for it, so a config
that adds seeds, sizes or widths reruns into the same directory and trains
only the new runs. A change of the task or of a training setting (steps,
optimiser, ...) is refused: its runs would not be comparable.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from teacher_student.config import PopulationResult, SweepConfig, n_params
from teacher_student.tasks import TaskConfigError

__all__ = ["FINAL_COLUMNS", "RESULT_COLUMNS", "StoreLockedError", "final_metrics", "lock_store",
           "prepare_store", "probe_dir",
           "read_config", "runs_with_predictions", "sweep_results", "sweep_status",
           "write_population", "write_predictions", "write_results", "write_table"]

RESULT_COLUMNS = ["run_id", "task", "task_id", "width", "depth", "n_params", "n_train", "seed",
                  "data_seed", "noise_seed", "lr", "step", "split", "metric", "value", "status",
                  "stop_step", "wall_time_s", "population_size", "device", "hardware",
                  "dtype", "finished_at", "version_scalelaw", "version_torch", "version_numpy"]


def versions() -> dict[str, str]:
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


class StoreLockedError(TaskConfigError):
    """Another process is running a sweep into the same store directory."""


@contextlib.contextmanager
def lock_store(out: Path) -> Iterator[None]:
    """Hold the store's advisory lock (``DIR/.lock``) while a sweep writes into it.

    A second sweep run on the same directory would train every run again (and
    would remove the first one's temporary files): it is refused at once with
    the holder's process id. The lock is the operating system's (``flock``),
    so it is released when its holder exits, even after SIGKILL.

    Raises
    ------
    StoreLockedError
        When another process holds the lock.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> with lock_store(d):
    ...     with lock_store(d):
    ...         pass
    Traceback (most recent call last):
    ...
    teacher_student.store.StoreLockedError: ...
    """
    out.mkdir(parents=True, exist_ok=True)
    path = out / ".lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if not _try_lock(fd):
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise StoreLockedError(
                f"{str(out)!r} is being written by another sweep run (process {holder}). "
                "Wait for it to finish, or use another --out directory.")
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _try_lock(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def prepare_store(cfg: SweepConfig, out: Path) -> Path:
    """Create or reopen a store for ``cfg``; refuse other task or training settings.

    Returns
    -------
    Path
        The ``runs`` folder.
    """
    import tomli_w

    runs_dir = out / "runs"
    meta = out / "sweep.toml"
    if meta.exists():
        old = tomllib.loads(meta.read_text())
        if old.get("settings_hash") != cfg.settings_hash:
            raise TaskConfigError(_settings_change(old, cfg, out))
    runs_dir.mkdir(parents=True, exist_ok=True)
    content = {"settings_hash": cfg.settings_hash, **cfg.to_dict()}
    tmp = meta.with_name(f".sweep.toml.{os.getpid()}.tmp")
    tmp.write_text(tomli_w.dumps({k: v for k, v in content.items() if v is not None}))
    os.replace(tmp, meta)  # the latest grid; the runs on disk are all kept
    for stale in runs_dir.glob(".*.tmp"):  # a write cut by a kill: never a result
        stale.unlink(missing_ok=True)
    return runs_dir


def _settings_change(old: dict[str, Any], cfg: SweepConfig, out: Path) -> str:
    new = cfg.to_dict()
    keys = sorted(k for k in set(old) | set(new)
                  if k not in cfg.GRID_KEYS and k not in ("settings_hash", "config_hash")
                  and old.get(k) != new.get(k))
    what = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys[:4]) or "the task"
    return (f"{str(out)!r} holds a sweep with other training settings ({what}); its runs "
            "would not be comparable. Use another --out directory, or the same settings "
            "(grids of widths, sizes and seeds may grow).")


def done_runs(runs_dir: Path) -> set[str]:
    """Ids of the finished runs in a store."""
    return {p.stem for p in runs_dir.glob("*.parquet")}


def write_population(cfg: SweepConfig, res: PopulationResult, runs_dir: Path,
                     versions: dict[str, str]) -> None:
    """Write every run of a finished population (whole, even if interrupted meanwhile)."""
    with _interrupts_deferred():
        for i, spec in enumerate(res.specs):
            rid = cfg.run_id(spec)
            if res.final_weights is not None:
                wdir = runs_dir.parent / "weights"
                wdir.mkdir(exist_ok=True)
                _atomic_savez(wdir / f"{rid}.npz", res.final_weights[i])
            if res.predictions is not None:
                write_predictions(cfg, res, runs_dir.parent, i)
            _atomic_write(_rows_frame(cfg, res, i, versions), runs_dir / f"{rid}.parquet")


def _atomic_numpy(path: Path, save: Callable[[Path], None]) -> None:
    """``save(tmp)`` to a hidden temporary file beside ``path``, then rename it there."""
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        save(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _atomic_savez(path: Path, arrays: list[np.ndarray]) -> None:
    _atomic_numpy(path, lambda tmp: np.savez(tmp, *arrays))


def load_weights(out: str | Path, run_id: str) -> list[np.ndarray]:
    """The final weights ``[W_1, b_1, ..., W_L, b_L]`` of a run kept by the sweep.

    Raises
    ------
    TaskConfigError
        The sweep did not keep this run's weights (``keep_weights = true``).
    """
    path = Path(out) / "weights" / f"{run_id}.npz"
    if not path.is_file():
        raise TaskConfigError(f"No weights for run {run_id!r} in {str(out)!r}; run the sweep "
                              "with keep_weights = true to keep them.")
    with np.load(path) as z:
        return [z[f"arr_{i}"] for i in range(len(z.files))]


def read_config(out: Path) -> SweepConfig:
    meta = Path(out) / "sweep.toml"
    if not meta.is_file():
        raise TaskConfigError(f"{str(out)!r} is not a sweep directory (no sweep.toml).")
    d = tomllib.loads(meta.read_text())
    d.pop("config_hash", None)
    d.pop("settings_hash", None)
    return SweepConfig.from_dict(d)


def _iter_frames(out: Path) -> Iterator[pd.DataFrame]:
    for p in sorted((Path(out) / "runs").glob("*.parquet")):
        yield pd.read_parquet(p)


def sweep_status(out: str | Path) -> dict[str, Any]:
    """Counts of a sweep directory: total, finished (by status), remaining."""
    cfg = read_config(Path(out))
    specs = cfg.runs()
    done = done_runs(Path(out) / "runs")
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
    read_config(Path(out))
    frames = list(_iter_frames(Path(out)))
    if not frames:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    return pd.concat(frames, ignore_index=True)


#: Columns of :func:`final_metrics` (one row per run).
FINAL_COLUMNS = ["run_id", "task", "task_id", "width", "depth", "n_params", "n_train", "seed",
                 "data_seed", "noise_seed", "lr", "status", "stop_step", "train_loss",
                 "test_loss", "best_test_loss", "val_loss", "best_val_loss", "hardware",
                 "version_scalelaw"]


def final_metrics(out: str | Path | pd.DataFrame) -> pd.DataFrame:
    """One row per run: its settings, status and final losses (ready for ``scalelaw fit``).

    ``train_loss`` and ``test_loss`` are the values at the run's last logged
    step (the training loss is that of the last batch in online mode);
    ``best_test_loss`` is the test loss at the best validation loss with early
    stopping (NaN without it); ``val_loss`` and ``best_val_loss`` are the
    validation loss at the last logged step and at that best checkpoint (NaN
    without a validation split, which early stopping turns on). A diverged run
    keeps its row, its status and losses (NaN, or the blown-up values), and fits
    exclude it by its status, with a count.

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
        "train_loss", "test_loss", "best_test_loss", "val_loss", "best_val_loss")]
    meta = long.groupby("run_id", sort=False)[meta_cols[1:]].first()
    loss = long[long["metric"] == "loss"]
    last = loss[loss["step"] == loss.groupby("run_id")["step"].transform("max")]
    wide = last.pivot_table(index="run_id", columns="split", values="value", aggfunc="last",
                            dropna=False)
    frame = meta.copy()
    frame["train_loss"] = wide.get("train", np.nan)
    frame["test_loss"] = wide.get("test", np.nan)
    best = long[(long["metric"] == "loss_best_val") & (long["split"] == "test")]
    frame["val_loss"] = wide.get("val", np.nan)
    frame["best_test_loss"] = best.groupby("run_id")["value"].last()
    best_val = long[(long["metric"] == "loss_best_val") & (long["split"] == "val")]
    frame["best_val_loss"] = best_val.groupby("run_id")["value"].last()
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
    return write_table(lambda: final_metrics(out) if final else sweep_results(out), target)


def write_table(make: Callable[[], pd.DataFrame], target: str | Path) -> tuple[int, int]:
    """Write the table ``make()`` builds to CSV or Parquet (the suffix is checked first).

    Returns
    -------
    tuple of int
        Rows written and runs (``run_id`` values) covered.
    """
    target = Path(target)
    if target.suffix not in (".csv", ".parquet"):
        raise TaskConfigError(f"The output must end in .csv or .parquet; got "
                              f"{str(target)!r}.", column="out")
    table = make()
    if target.suffix == ".csv":
        table.to_csv(target, index=False)
    else:
        table.to_parquet(target, index=False)
    return len(table), int(table["run_id"].nunique()) if len(table) else 0


def probe_dir(cfg: SweepConfig, out: Path) -> Path:
    """Folder of this probe set's prediction files in a store."""
    return Path(out) / "predictions" / f"seed{cfg.probe_seed}_n{cfg.n_probe}"


def runs_with_predictions(cfg: SweepConfig, out: Path) -> set[str]:
    """Ids of the runs whose predictions on ``cfg``'s probe set are stored."""
    return {p.stem for p in probe_dir(cfg, out).glob("*.npy")
            if not p.name.startswith(".")}  # not a write cut short by a kill


def write_predictions(cfg: SweepConfig, res: PopulationResult, out: Path, i: int) -> None:
    """Write model ``i``'s probe predictions atomically (in the sweep's precision)."""
    folder = probe_dir(cfg, out)
    folder.mkdir(parents=True, exist_ok=True)
    values = np.asarray(res.predictions[i]).astype(cfg.predictions)
    _atomic_numpy(folder / f"{cfg.run_id(res.specs[i])}.npy", lambda tmp: np.save(tmp, values))
