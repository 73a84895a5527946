"""Intrinsic dimension of what trained students learned: their last hidden layer.

Sharma & Kaplan (2020) compare the exponent with ``4/d`` for ``d`` measured
on the students' final-layer activations as well as on the data: the
representation's dimension is the one the resolution-limited argument sees.
A sweep run with ``keep_weights = true`` keeps each run's final weights;
:func:`measure_representations` feeds every kept model fresh inputs from its
task (10,000 by default, drawn from a stream no run trained or was tested on)
and estimates the dimension of its last hidden layer, per model and pooled
over models (:func:`scalelaw.intrinsic_dim.pool_intrinsic_dims`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from scalelaw.intrinsic_dim import (
    IDResult,
    Method,
    estimate_intrinsic_dim,
    pool_intrinsic_dims,
)
from teacher_student.store import final_metrics, load_weights, read_config
from teacher_student.tasks import Task, TaskConfigError, sample_inputs
from teacher_student.tasks import activation as apply_activation

__all__ = ["INPUT_STREAM_SEED", "RepresentationDims", "last_hidden_layer",
           "measure_representations", "task_data_dim"]

#: Seed of the inputs fed to trained models: the "val" split with this seed is
#: a stream that no sweep trains or tests on (sweeps use the train and test splits).
INPUT_STREAM_SEED = 2**31 - 1


def last_hidden_layer(weights: Sequence[np.ndarray], x: np.ndarray, *,
                      activation: str = "relu") -> np.ndarray:
    """Activations of the last hidden layer of an MLP ``[W_1, b_1, ..., W_L, b_L]``.

    Parameters
    ----------
    weights : sequence of ndarray
        Weights ``(fan_in, fan_out)`` and biases ``(1, fan_out)``, as
        :func:`teacher_student.sweep.load_weights` returns them.
    x : ndarray of shape (n, d_in)
        Inputs.
    activation : {"relu", "tanh", "gelu"}, default="relu"
        The hidden layers' activation.

    Returns
    -------
    ndarray of shape (n, width)
        The last hidden layer's activations.

    Examples
    --------
    >>> w = [np.eye(2), np.zeros((1, 2)), np.ones((2, 1)), np.zeros((1, 1))]
    >>> last_hidden_layer(w, np.array([[1.0, -2.0]])).tolist()
    [[1.0, 0.0]]
    """
    if len(weights) < 4 or len(weights) % 2:
        raise TaskConfigError(f"Expected [W_1, b_1, ..., W_L, b_L] with at least one hidden "
                              f"layer; got {len(weights)} arrays.")
    h = np.asarray(x, dtype=np.float64)
    for k in range(0, len(weights) - 2, 2):
        h = apply_activation(activation, h @ weights[k] + weights[k + 1])
    return h


@dataclass(frozen=True)
class RepresentationDims:
    """Intrinsic dimensions of trained students' last hidden layers.

    Attributes
    ----------
    per_model : pandas.DataFrame
        One row per run: ``run_id, width, depth, n_params, n_train, seed,
        data_seed, dimension, ci_lower, ci_upper, lower_bound``.
    pooled : IDResult
        Mean over models, with the bootstrap over models as its interval.
    results : dict of str to IDResult
        Each run's estimate.
    data : IDResult
        The same estimator on the inputs themselves (the data's dimension).
    settings : dict
        Method, number of inputs and their seed, runs measured and skipped.
    """

    per_model: pd.DataFrame
    pooled: IDResult
    results: dict[str, IDResult]
    data: IDResult
    settings: dict


def measure_representations(
    sweep_dir: str | Path,
    *,
    method: Method = "twonn",
    n_inputs: int = 10_000,
    runs: Sequence[str] | None = None,
    n_boot: int = 100,
    random_state: int = 0,
    progress: bool = False,
) -> RepresentationDims:
    """Intrinsic dimension of the last hidden layer of every kept model of a sweep.

    Parameters
    ----------
    sweep_dir : str or Path
        A sweep run with ``keep_weights = true``.
    method : {"twonn", "mle", "global_pca"}, default="twonn"
        Estimator (:func:`scalelaw.intrinsic_dim.estimate_intrinsic_dim`).
    n_inputs : int, default=10000
        Fresh inputs per model (Sharma & Kaplan use 10,000 or more).
    runs : sequence of str, optional
        Run ids to measure; default every finished, not diverged run.
    n_boot : int, default=100
        Bootstrap replicas of each model's interval.
    random_state : int, default=0
        Seed of the bootstraps (the inputs have their own fixed stream).
    progress : bool, default=False
        Show a progress bar.

    Returns
    -------
    RepresentationDims
        Per-model and pooled estimates, and the data's own.

    Raises
    ------
    TaskConfigError
        Not a sweep directory, no weights kept, unknown run id, or ``n_inputs``
        too small.

    Examples
    --------
    >>> import tempfile
    >>> from teacher_student.sweep import SweepConfig, run_sweep
    >>> cfg = SweepConfig.from_dict({"task": "bahri-d2", "widths": [16], "depths": [2],
    ...     "n_train": [64], "seeds": [0], "steps": 30, "keep_weights": True})
    >>> out = tempfile.mkdtemp()
    >>> _ = run_sweep(cfg, out, device="cpu", progress=False)
    >>> rep = measure_representations(out, n_inputs=2000)
    >>> len(rep.per_model), rep.pooled.method
    (1, 'pooled:twonn')
    """
    if int(n_inputs) < 100:
        raise TaskConfigError(f"n_inputs must be at least 100 for a dimension estimate; got "
                              f"{n_inputs}.")
    out = Path(sweep_dir)
    cfg = read_config(out)
    table = final_metrics(out)
    if runs is None:
        chosen = table[table["status"].astype(str) != "diverged"]
    else:
        unknown = sorted(set(runs) - set(table["run_id"]))
        if unknown:
            raise TaskConfigError(f"Run id(s) {unknown[:3]} are not finished runs of "
                                  f"{str(out)!r}.")
        chosen = table[table["run_id"].isin(list(runs))]
    if chosen.empty:
        raise TaskConfigError(f"No finished, not diverged runs in {str(out)!r} to measure.")
    x = sample_inputs(cfg.task, int(n_inputs), INPUT_STREAM_SEED, split="val")
    data_id = estimate_intrinsic_dim(x, method, n_boot=n_boot, random_state=random_state)
    results = _measure(chosen, out, x, cfg.train.activation, method, n_boot, random_state,
                       progress)
    per_model = chosen[["run_id", "width", "depth", "n_params", "n_train", "seed",
                        "data_seed"]].reset_index(drop=True).copy()
    per_model["dimension"] = [results[r].dimension for r in per_model["run_id"]]
    per_model["ci_lower"] = [results[r].ci[0] for r in per_model["run_id"]]
    per_model["ci_upper"] = [results[r].ci[1] for r in per_model["run_id"]]
    per_model["lower_bound"] = [results[r].lower_bound for r in per_model["run_id"]]
    pooled = pool_intrinsic_dims(list(results.values()), random_state=random_state)
    return RepresentationDims(
        per_model=per_model, pooled=pooled, results=results, data=data_id,
        settings={"method": method, "n_inputs": int(n_inputs), "input_seed": INPUT_STREAM_SEED,
                  "input_split": "val", "n_boot": n_boot, "random_state": random_state,
                  "task": cfg.task.name, "n_models": len(results),
                  "n_diverged_skipped": int((table["status"].astype(str) == "diverged").sum())
                  if runs is None else 0})


def _measure(chosen: pd.DataFrame, out: Path, x: np.ndarray, activation: str, method: Method,
             n_boot: int, random_state: int, progress: bool) -> dict[str, IDResult]:
    from tqdm.auto import tqdm

    results: dict[str, IDResult] = {}
    for rid in tqdm(list(chosen["run_id"]), desc="representations", unit="model",
                    disable=not progress):
        h = last_hidden_layer(load_weights(out, rid), x, activation=activation)
        results[rid] = estimate_intrinsic_dim(h, method, n_boot=n_boot,
                                              random_state=random_state)
    return results


def task_data_dim(task: Task, *, method: Method = "twonn", n_inputs: int = 10_000,
                  n_boot: int = 100, random_state: int = 0) -> IDResult:
    """Intrinsic dimension of a task's inputs, measured (not the nominal value).

    Parameters
    ----------
    task : Task
        The task.
    method : {"twonn", "mle", "global_pca"}, default="twonn"
        Estimator.
    n_inputs : int, default=10000
        Inputs drawn (the stream of :data:`INPUT_STREAM_SEED`).
    n_boot, random_state
        Bootstrap replicas and their seed.

    Returns
    -------
    IDResult
        The estimate.

    Examples
    --------
    >>> from teacher_student.suite import get_task
    >>> res = task_data_dim(get_task("bahri-d4"), n_inputs=3000)
    >>> bool(3.4 < res.dimension < 4.6)
    True
    """
    x = sample_inputs(task, int(n_inputs), INPUT_STREAM_SEED, split="val")
    return estimate_intrinsic_dim(x, method, n_boot=n_boot, random_state=random_state)
