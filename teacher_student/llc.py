"""Local learning coefficients of trained students: effective parameters against scale.

A sweep run with ``keep_weights = true`` keeps each run's final weights;
:func:`measure_llc` rebuilds each run's training set exactly (its data and
noise seeds), localises :func:`scalelaw.slt.estimate_llc` at the kept
weights with ``L_n`` the run's own training loss on that whole set, and
checks each estimate by repeating it at half the step size. ``llc / (P / 2)``
is the share of the ``P`` parameters that count: a regular model has
``lambda = P / 2``, a singular one less.

:func:`llc_over_training` follows one student through training: the weights
after ``t`` steps for each ``t`` of a list, each estimated the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scalelaw.slt import LLCEstimate, estimate_llc, steps_agree
from teacher_student.config import RunSpec, TrainConfig
from teacher_student.store import final_metrics, load_weights, read_config
from teacher_student.tasks import (
    Task,
    TaskConfigError,
    add_label_noise,
    sample_inputs,
    teacher_outputs,
)

__all__ = ["LLCRuns", "check_llc_runs", "llc_over_training", "measure_llc", "student_loss",
           "training_set"]

ROW_COLUMNS = ["run_id", "width", "depth", "n_params", "n_train", "seed", "data_seed",
               "train_loss", "loss_at_optimum", "llc", "llc_sd", "llc_se", "llc_half_step",
               "effective_params", "stable", "reason", "step_size", "nbeta"]


def training_set(task: Task, n_train: int, data_seed: int, noise_seed: int | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """A run's training set exactly as the population engine built it (float64).

    Examples
    --------
    >>> from teacher_student.suite import get_task
    >>> x, y = training_set(get_task("bahri-d2"), 5, 0)
    >>> x.shape[0], y.shape[0]
    (5, 5)
    """
    x = sample_inputs(task, int(n_train), int(data_seed), split="train")
    ns = int(data_seed) if noise_seed is None else int(noise_seed)
    return x, add_label_noise(task, teacher_outputs(task, x), ns, "train", 0)


def student_loss(x: Any, y: Any, *, activation: str = "relu", loss: str = "mse"
                 ) -> Callable[[list[Any]], Any]:
    """The batched training loss of an MLP ``[W_1, b_1, ..., W_L, b_L]`` on ``(x, y)``.

    Parameters arrive with a leading chain axis (``W: [C, fan_in, fan_out]``,
    ``b: [C, 1, fan_out]``), as :func:`scalelaw.slt.estimate_llc` passes them;
    the loss is the engine's (:func:`teacher_student.engine.step.per_row_loss`)
    averaged over the rows.

    Examples
    --------
    >>> import torch
    >>> x, y = torch.ones(4, 2), torch.zeros(4, 1)
    >>> w = [torch.ones(3, 2, 1), torch.zeros(3, 1, 1)]   # a linear model, 3 chains
    >>> student_loss(x, y)(w).tolist()
    [4.0, 4.0, 4.0]
    """
    import torch

    from teacher_student.engine.step import per_row_loss

    act = {"relu": torch.relu, "tanh": torch.tanh, "gelu": torch.nn.functional.gelu}[activation]

    def batched(params: list[Any]) -> Any:
        h = x[None].expand(params[0].shape[0], -1, -1)
        for k in range(0, len(params), 2):
            h = torch.baddbmm(params[k + 1], h, params[k])
            if k + 2 < len(params):
                h = act(h)
        return per_row_loss(h, y[None], loss).mean(dim=1)

    return batched


@dataclass(frozen=True)
class LLCRuns:
    """Local learning coefficients of a sweep's kept students.

    Attributes
    ----------
    runs : pandas.DataFrame
        One row per run (:data:`ROW_COLUMNS`): ``llc`` with the chains' sd and
        standard error, ``llc_half_step`` (the check at half the step size),
        ``effective_params`` (``llc / (n_params / 2)``), ``stable`` and the
        ``reason``.
    estimates : dict of str to LLCEstimate
        Each run's estimate (with its loss trace).
    settings : dict
        Sampler settings, the task, runs skipped.
    """

    runs: pd.DataFrame
    estimates: dict[str, LLCEstimate] = field(repr=False)
    settings: dict

    def to_dict(self) -> dict[str, Any]:
        """``{"runs": [...], "settings": {...}}`` (no traces).

        Returns
        -------
        dict
            Rows as records.
        """
        return {"runs": self.runs.to_dict(orient="records"), "settings": dict(self.settings)}


def check_llc_runs(sweep_dir: str | Path, runs: Sequence[str] | None = None) -> pd.DataFrame:
    """The runs to measure, checked before any work (one row each, as ``final_metrics``).

    Raises
    ------
    TaskConfigError
        Not a sweep directory, an online sweep (no fixed training set), an
        unknown run id, or a run whose weights were not kept.
    """
    out = Path(sweep_dir)
    if not out.is_dir():
        raise TaskConfigError(f"Sweep directory {str(out)!r} does not exist.")
    cfg = read_config(out)
    if cfg.train.online:
        raise TaskConfigError(f"{str(out)!r} trained online (fresh batches): the local "
                              "learning coefficient needs a fixed training set.")
    table = final_metrics(out)
    if runs:
        unknown = sorted(set(runs) - set(table["run_id"]))
        if unknown:
            raise TaskConfigError(f"Run id(s) {unknown[:3]} are not finished runs of "
                                  f"{str(out)!r}.")
        chosen = table[table["run_id"].isin(list(runs))]
    else:
        chosen = table[table["status"].astype(str) != "diverged"]
    if chosen.empty:
        raise TaskConfigError(f"No finished, not diverged runs in {str(out)!r} to measure.")
    missing = [r for r in chosen["run_id"] if not (out / "weights" / f"{r}.npz").is_file()]
    if missing:
        raise TaskConfigError(f"No kept weights for run(s) {missing[:3]} in {str(out)!r}; run "
                              "the sweep with keep_weights = true to keep them.")
    return chosen.reset_index(drop=True)


def _estimate(task: Task, weights: list[np.ndarray], n_train: int, data_seed: int,
              noise_seed: int | None, activation: str, check: bool, device: Any,
              kwargs: dict[str, Any]) -> tuple[LLCEstimate, LLCEstimate | None]:
    import torch

    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    x, y = training_set(task, n_train, data_seed, noise_seed)
    loss = student_loss(torch.as_tensor(x, dtype=torch.float64, device=dev),
                        torch.as_tensor(y, dtype=torch.float64, device=dev),
                        activation=activation, loss=task.loss)
    w = [torch.as_tensor(a, dtype=torch.float64, device=dev) for a in weights]
    est = estimate_llc(loss, w, n_train, **kwargs)
    half = None
    if check:
        half = estimate_llc(loss, w, n_train, **{**kwargs, "step_size": est.step_size / 2,
                                                 "seed": kwargs.get("seed", 0) + 1})
    return est, half


def _verdict(est: LLCEstimate, half: LLCEstimate | None) -> tuple[bool, str]:
    problems = [] if est.stable else [est.reason]
    if half is not None:
        if not half.stable:
            problems.append(f"at half the step: {half.reason}")
        ok, text = steps_agree(est, half)
        if not ok:
            problems.append(f"the estimate moves with the step size ({text})")
    if problems:
        return False, "; ".join(problems)
    return True, est.reason + ("; agrees at half the step size" if half is not None else "")


def measure_llc(
    sweep_dir: str | Path,
    *,
    runs: Sequence[str] | None = None,
    n_chains: int = 4,
    n_steps: int = 3000,
    step_size: float | str = "auto",
    localization: float = 1.0,
    nbeta: float | None = None,
    sampler: str = "mala",
    seed: int = 0,
    check_step: bool = True,
    device: str | None = None,
    progress: bool = False,
    should_stop: Callable[[], bool] | None = None,
) -> LLCRuns:
    """The local learning coefficient of every kept student of a sweep.

    Parameters
    ----------
    sweep_dir : str or Path
        A sweep run with ``keep_weights = true``.
    runs : sequence of str, optional
        Run ids; default every finished, not diverged run.
    n_chains, n_steps, step_size, localization, nbeta, sampler, seed
        As for :func:`scalelaw.slt.estimate_llc` (``n`` is each run's ``n_train``).
    check_step : bool, default=True
        Repeat each estimate at half the step size (fresh noise); ``stable``
        also asks that the two agree (:data:`scalelaw.slt.STEP_TOLERANCE`).
    device : str, optional
        Default CUDA when present.
    progress : bool, default=False
        Show a progress bar.
    should_stop : callable, optional
        Polled between runs and while sampling; True raises ``KeyboardInterrupt``.

    Returns
    -------
    LLCRuns
        One row per run, the estimates, the settings.

    Raises
    ------
    TaskConfigError
        See :func:`check_llc_runs`.

    Examples
    --------
    >>> import tempfile
    >>> from teacher_student.sweep import SweepConfig, run_sweep
    >>> cfg = SweepConfig.from_dict({"task": "bahri-d2", "widths": [4], "depths": [1],
    ...     "n_train": [64], "seeds": [0], "steps": 200, "keep_weights": True})
    >>> out = tempfile.mkdtemp()
    >>> _ = run_sweep(cfg, out, device="cpu", progress=False)
    >>> res = measure_llc(out, n_steps=300, n_chains=2, check_step=False)
    >>> list(res.runs["n_params"])
    [17]
    """
    from tqdm.auto import tqdm

    chosen = check_llc_runs(sweep_dir, runs)
    out = Path(sweep_dir)
    cfg = read_config(out)
    kwargs = {"n_chains": n_chains, "n_steps": n_steps, "step_size": step_size,
              "localization": localization, "nbeta": nbeta, "sampler": sampler, "seed": seed,
              "should_stop": should_stop}
    rows, estimates = [], {}
    for _, r in tqdm(list(chosen.iterrows()), desc="LLC", unit="run", disable=not progress):
        if should_stop is not None and should_stop():
            raise KeyboardInterrupt
        rid = str(r["run_id"])
        noise = None if pd.isna(r["noise_seed"]) else int(r["noise_seed"])
        est, half = _estimate(cfg.task, load_weights(out, rid), int(r["n_train"]),
                              int(r["data_seed"]), noise, cfg.train.activation, check_step,
                              device, kwargs)
        stable, reason = _verdict(est, half)
        estimates[rid] = est
        rows.append({**{k: r[k] for k in ("run_id", "width", "depth", "n_params", "n_train",
                                          "seed", "data_seed", "train_loss")},
                     "loss_at_optimum": est.loss_at_optimum, "llc": est.llc,
                     "llc_sd": est.llc_sd, "llc_se": est.llc_se,
                     "llc_half_step": half.llc if half is not None else math.nan,
                     "effective_params": est.llc / (float(r["n_params"]) / 2),
                     "stable": stable, "reason": reason, "step_size": est.step_size,
                     "nbeta": est.nbeta})
    frame = pd.DataFrame(rows, columns=ROW_COLUMNS)
    for c in ("width", "depth", "n_params", "n_train", "seed", "data_seed"):
        frame[c] = frame[c].astype(int)
    settings = {k: v for k, v in kwargs.items() if k != "should_stop"}
    settings.update({"task": cfg.task.name, "activation": cfg.train.activation,
                     "loss": cfg.task.loss, "check_step": check_step,
                     "n_runs": len(frame), "sweep_dir": str(out)})
    return LLCRuns(runs=frame, estimates=estimates, settings=settings)


def llc_over_training(
    task: Task,
    specs: Sequence[RunSpec],
    cfg: TrainConfig,
    steps: Sequence[int],
    *,
    device: str | None = None,
    check_step: bool = False,
    progress: bool = False,
    should_stop: Callable[[], bool] | None = None,
    **kwargs: Any,
) -> pd.DataFrame:
    """The local learning coefficient of students after each number of training steps.

    Each checkpoint ``t`` is the same students trained for ``t`` steps (with
    ``schedule="constant"`` they are the first ``t`` steps of one run: the
    engine's draws do not depend on the run's length; with a cosine schedule
    each ``t`` is its own run, decayed over ``t`` steps).

    Parameters
    ----------
    task, specs, cfg
        As for :func:`teacher_student.population.train_population` (``cfg.steps`` is
        replaced by each checkpoint).
    steps : sequence of int
        Checkpoints (training steps).
    device : str, optional
        Default CUDA when present.
    check_step : bool, default=False
        Also estimate at half the step size (see :func:`measure_llc`).
    progress : bool, default=False
        Show a progress bar.
    should_stop : callable, optional
        True raises ``KeyboardInterrupt``.
    **kwargs
        Passed to :func:`scalelaw.slt.estimate_llc`.

    Returns
    -------
    pandas.DataFrame
        One row per checkpoint and run: ``step, width, seed, n_params,
        train_loss, test_loss, llc, llc_sd, llc_se, effective_params, stable,
        reason``.

    Examples
    --------
    >>> from teacher_student.suite import get_task
    >>> cfg = TrainConfig(steps=1, schedule="constant", eval_steps=1, n_test=256)
    >>> df = llc_over_training(get_task("bahri-d2"), [RunSpec(4, 1, 64, 0)], cfg, [10, 100],
    ...                        n_steps=200, n_chains=2)
    >>> list(df["step"])
    [10, 100]
    """
    from tqdm.auto import tqdm

    from teacher_student.config import n_params
    from teacher_student.population import train_population

    ts = sorted({int(t) for t in steps})
    if not ts or ts[0] < 1:
        raise TaskConfigError(f"steps must be positive ints; got {list(steps)}.")
    if cfg.online:
        raise TaskConfigError("llc_over_training needs a fixed training set (online=False).")
    rows = []
    for t in tqdm(ts, desc="LLC over training", disable=not progress):
        c = replace(cfg, steps=t, eval_steps=1)
        res = train_population(task, specs, c, device=device, keep_weights=True,
                               should_stop=should_stop)
        for i, s in enumerate(res.specs):
            last = {split: v for step, split, metric, v in res.rows[i]
                    if metric == "loss" and step == t}
            est, half = _estimate(task, res.final_weights[i], s.n_train, s.data_seed,
                                  s.noise_seed, cfg.activation, check_step, device,
                                  {**kwargs, "should_stop": should_stop})
            stable, reason = _verdict(est, half)
            p = n_params(task.ambient_dim, s.width, s.depth, task.n_outputs)
            rows.append({"step": t, "width": s.width, "seed": s.seed, "n_params": p,
                         "train_loss": last.get("train", math.nan),
                         "test_loss": last.get("test", math.nan), "llc": est.llc,
                         "llc_sd": est.llc_sd, "llc_se": est.llc_se,
                         "effective_params": est.llc / (p / 2), "stable": stable,
                         "reason": reason})
    return pd.DataFrame(rows)
