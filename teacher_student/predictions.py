"""Per-example test predictions of sweep runs, for variance decompositions.

A sweep with ``predictions = "float16"`` (or ``"float32"``) keeps every run's
outputs on a fixed probe set: the first ``n_probe`` test inputs of the probe
seed ``probe_seed`` (defaults 1000 and 0), the same inputs for every run
whatever its data seed, with the teacher's noise-free outputs as targets.
With the seed grids of a sweep crossed (``data_seeds`` x ``seeds`` x
``noise_seeds``: every combination is a run) the table of
:func:`sweep_predictions` is what :func:`scalelaw.variance.decompose_table`
and ``scalelaw variance`` take. The stored outputs are the network's raw
outputs: for cross-entropy tasks these are logits (one column per class);
``scipy.special.log_softmax`` turns them into what
:func:`scalelaw.variance.ce_decomposition` takes.

Layout: ``DIR/predictions/seed<probe_seed>_n<n_probe>/<run_id>.npy``, one
``[n_probe, d_out]`` array per run (2 kB per run at 1000 probes in float16),
written atomically before the run's result file. float16 keeps 11 significant
bits: a relative rounding of at most 2^-11 (0.05 %) per prediction, whose
variance (about 1e-7 of a prediction's square) is far below the seed variances
the decomposition measures; use float32 where it is not. A rerun with
predictions asked for retrains the finished runs that lack them (their
training is deterministic, so their results are the same).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from teacher_student.store import (
    final_metrics,
    probe_dir,
    read_config,
    runs_with_predictions,
    write_table,
)
from teacher_student.tasks import Task, TaskConfigError, sample_inputs, teacher_outputs

__all__ = ["PREDICTION_COLUMNS", "probe_set", "sweep_predictions", "write_prediction_table"]

#: Columns of :func:`sweep_predictions`.
PREDICTION_COLUMNS = ["run_id", "task", "width", "depth", "n_params", "n_train", "seed",
                      "data_seed", "noise_seed", "lr", "status", "example", "row", "output",
                      "prediction", "target"]


def probe_set(task: Task, n_probe: int, probe_seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The probe inputs ``[n_probe, d_in]`` and their noise-free targets ``[n_probe, d_out]``.

    The first ``n_probe`` test inputs of seed ``probe_seed`` (the test stream
    never overlaps a training set), shared by every run of a sweep.

    Examples
    --------
    >>> from teacher_student.suite import get_task
    >>> x, y = probe_set(get_task("bahri-d2"), 5, 0)
    >>> x.shape[0], y.shape
    (5, (5, 1))
    """
    x = sample_inputs(task, n_probe, probe_seed, split="test")
    return x, teacher_outputs(task, x)


def sweep_predictions(out: str | os.PathLike[str]) -> pd.DataFrame:
    """Every stored run's probe predictions as one long table (one row per run and output).

    Parameters
    ----------
    out : str or path
        A sweep directory whose config asks for predictions.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`PREDICTION_COLUMNS`: the run's settings and status,
        ``example`` (a probe row and output as one id: ``row * d_out + output``),
        ``row``, ``output``, ``prediction`` (float32) and ``target`` (the
        teacher's noise-free output). Finished runs without stored predictions
        are left out with a warning that counts them.

    Raises
    ------
    TaskConfigError
        ``out`` is not a sweep directory, or its config does not ask for
        predictions.

    Examples
    --------
    >>> import tempfile
    >>> from teacher_student.sweep import SweepConfig, run_sweep
    >>> cfg = SweepConfig.from_dict({"task": "bahri-d2", "widths": [4], "n_train": [32],
    ...     "seeds": [0, 1], "data_seeds": [0, 1], "steps": 20, "n_test": 64,
    ...     "predictions": "float16", "n_probe": 10})
    >>> d = tempfile.mkdtemp()
    >>> _ = run_sweep(cfg, d, device="cpu", progress=False)
    >>> table = sweep_predictions(d)
    >>> len(table), table.groupby(["data_seed", "seed"]).size().tolist()
    (40, [10, 10, 10, 10])
    """
    out = Path(out)
    cfg = read_config(out)
    if cfg.predictions == "none":
        raise TaskConfigError(f"The sweep in {str(out)!r} does not keep predictions; set "
                              "predictions = \"float16\" (or \"float32\") in its config and "
                              "rerun it (finished runs are retrained once to record them).")
    runs = final_metrics(out)
    have = runs_with_predictions(cfg, out)
    missing = int((~runs["run_id"].isin(have)).sum())
    if missing:
        warnings.warn(f"{missing} of {len(runs)} finished runs have no predictions on this "
                      f"probe set (seed {cfg.probe_seed}, {cfg.n_probe} rows) and are left "
                      "out; rerun the sweep to record them.", UserWarning, stacklevel=2)
    runs = runs[runs["run_id"].isin(have)].reset_index(drop=True)
    if runs.empty:
        return pd.DataFrame(columns=PREDICTION_COLUMNS)
    _, target = probe_set(cfg.task, cfg.n_probe, cfg.probe_seed)
    n_rows, d_out = target.shape
    folder = probe_dir(cfg, out)
    preds = np.stack([np.load(folder / f"{rid}.npy").astype(np.float32)
                      for rid in runs["run_id"]])
    meta = runs[PREDICTION_COLUMNS[:11]]
    table = meta.loc[meta.index.repeat(n_rows * d_out)].reset_index(drop=True)
    row = np.tile(np.repeat(np.arange(n_rows), d_out), len(runs))
    output = np.tile(np.arange(d_out), n_rows * len(runs))
    table["example"] = row * d_out + output
    table["row"] = row
    table["output"] = output
    table["prediction"] = preds.reshape(-1)
    table["target"] = np.tile(target.reshape(-1), len(runs))
    return table[PREDICTION_COLUMNS]


def write_prediction_table(out: str | os.PathLike[str], target: str | os.PathLike[str]
                           ) -> tuple[int, int]:
    """Write :func:`sweep_predictions` to CSV or Parquet; return rows and runs written."""
    return write_table(lambda: sweep_predictions(out), target)
