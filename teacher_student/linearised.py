"""The linearised network: ``L_inf`` of the variance-limited scaling in width.

Around its initial weights ``w0`` a student is approximated by its
linearisation ``f_lin(x; w) = f(x; w0) + J(x) (w - w0)``, ``J`` the parameter
Jacobian at ``w0``. As the width grows the trained network approaches the
trained linearised network, with a gap that shrinks as ``1 / width`` (Bahri et
al. 2021, variance-limited scaling in width; Lee et al. 2019). Bahri et al.
take ``L_inf`` = the test loss of the linearised network trained like the
network from the same initialisation, per initialisation.

:func:`linearised_outputs` evaluates ``f_lin`` with one ``torch.func.jvp``.
:func:`train_linearised` trains it with the run's own settings: the same
initial weights, training data (and label noise), mini-batches or online
batches (drawn from the same per-run seeds), optimiser (Adam or SGD, with
muP's per-layer rates), learning-rate schedule and number of steps; only the
parameters it moves are the displacement ``w - w0``. Each step costs about
three forward passes (the primal, the tangent and the backward through them).
:func:`linearised_losses` does this for a sweep's runs and returns its
one-row-per-run table with the columns ``l_inf`` (the linearised network's
final test loss) and ``l_inf_train``, ready for
``check_scaling(table, "width", "test_loss", regime="variance", l_inf="l_inf")``
(or ``scalelaw check ... --l-inf l_inf``).

Early stopping is not reproduced (the linearised network has no validation
trajectory of its own here): such sweeps are refused.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from teacher_student._functional import (
    as_params,
    check_activation,
    mlp_forward,
    torch_device,
    torch_dtype,
)
from teacher_student.config import RunSpec, TrainConfig, init_weights
from teacher_student.ntk import load_forward_ad
from teacher_student.store import final_metrics, read_config, write_table
from teacher_student.tasks import Task, TaskConfigError

__all__ = ["LinearisedRun", "linearised_losses", "linearised_outputs", "train_linearised",
           "write_linearised_results"]

#: A run whose loss exceeds this multiple of its first loss counts as diverged
#: (the engine's own rule).
DIVERGENCE_FACTOR = 1e4


def linearised_outputs(weights0: Sequence[Any], weights: Sequence[Any], x: Any, *,
                       activation: str = "relu", device: str | None = None,
                       dtype: str = "float64") -> np.ndarray:
    """Outputs of the network linearised at ``weights0``: ``f0(x) + J(x) (w - w0)``.

    One ``torch.func.jvp`` (forward-mode product with the displacement), no
    Jacobian stored.

    Parameters
    ----------
    weights0 : sequence of arrays
        The expansion point (the initial weights).
    weights : sequence of arrays
        Weights ``w`` of the same shapes.
    x : array-like of shape (n, d_in)
        Inputs.
    activation : {"relu", "tanh", "gelu"}, default="relu"
        Hidden activation.
    device : str, optional
        Default CUDA when present.
    dtype : {"float64", "float32"}, default="float64"
        Precision.

    Returns
    -------
    numpy.ndarray of shape (n, d_out)

    Examples
    --------
    >>> w0 = [np.eye(2), np.zeros((1, 2)), np.ones((2, 1)), np.zeros((1, 1))]
    >>> w = [a + 0.5 for a in w0]
    >>> linearised_outputs(w0, w, np.array([[1.0, -2.0]]), device="cpu").round(6).tolist()
    [[2.0]]
    """
    import torch
    from torch.func import jvp

    check_activation(activation)
    load_forward_ad()
    dev, dt = torch_device(device), torch_dtype(dtype)
    p0, p1 = as_params(weights0, dev, dt), as_params(weights, dev, dt)
    if [tuple(a.shape) for a in p0] != [tuple(b.shape) for b in p1]:
        raise TaskConfigError("weights0 and weights must have the same shapes.")
    xt = torch.as_tensor(np.asarray(x)).to(dev, dt)
    with torch.no_grad():
        f0, df = jvp(lambda *p: mlp_forward(list(p), xt, activation), tuple(p0),
                     tuple(b - a for a, b in zip(p0, p1, strict=True)))
    return (f0 + df).cpu().numpy()


@dataclass(frozen=True)
class LinearisedRun:
    """One linearised network trained like its run.

    Attributes
    ----------
    train_loss : float
        Final training loss (the last batch's in online mode).
    test_loss : float
        Final test loss against the clean teacher (the run's test set).
    status : str
        ``"ok"`` or ``"diverged"`` (a non-finite loss, or one
        :data:`DIVERGENCE_FACTOR` times the first).
    stop_step : int
        Steps taken.
    wall_time_s : float
        Seconds.
    """

    train_loss: float
    test_loss: float
    status: str
    stop_step: int
    wall_time_s: float


class _Linearised:
    """``f0(x) + J(x) delta`` with trainable ``delta`` (torch.func.jvp)."""

    def __init__(self, w0: list[Any], activation: str) -> None:
        import torch

        load_forward_ad()
        self.w0, self.activation = w0, activation
        self.delta = [torch.zeros_like(p, requires_grad=True) for p in w0]

    def __call__(self, x: Any) -> Any:
        from torch.func import jvp

        f0, df = jvp(lambda *p: mlp_forward(list(p), x, self.activation), tuple(self.w0),
                     tuple(self.delta))
        return f0 + df


def _optimizer(model: _Linearised, spec: RunSpec, cfg: TrainConfig) -> tuple[Any, list[float]]:
    import torch

    groups, mults = [], []
    for k in range(len(model.delta) // 2):
        m = cfg.base_width / spec.width if (cfg.parameterization == "mup" and k > 0) else 1.0
        groups.append({"params": model.delta[2 * k: 2 * k + 2]})
        mults.append(m)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr), mults
    return torch.optim.Adam(groups, lr=cfg.lr, betas=(0.9, 0.999), eps=1e-8), mults


def train_linearised(task: Task, spec: RunSpec, cfg: TrainConfig, *,
                     device: str | None = None) -> LinearisedRun:
    """Train the linearisation of one run's student like the run itself.

    Parameters
    ----------
    task : Task
        The task of the run.
    spec : RunSpec
        The run (its shape, data size and seeds give the same initial weights,
        data and batches as the sweep's).
    cfg : TrainConfig
        The sweep's training settings (early stopping is refused).
    device : str, optional
        Default CUDA when present.

    Returns
    -------
    LinearisedRun
        Final train and test loss, status, steps and time.

    Examples
    --------
    >>> from teacher_student.suite import get_task
    >>> cfg = TrainConfig(steps=20, n_test=200)
    >>> run = train_linearised(get_task("bahri-d2"), RunSpec(16, 2, 32, 0), cfg, device="cpu")
    >>> run.status, run.stop_step
    ('ok', 20)
    """
    import torch

    from teacher_student.engine.data import CHUNK_STEPS, PopulationData
    from teacher_student.engine.step import per_row_loss

    if cfg.early_stopping:
        raise TaskConfigError("The linearised network follows the sweep's steps; a sweep "
                              "with early stopping is not supported (set early_stopping = "
                              "false).")
    check_activation(cfg.activation)
    t0 = time.perf_counter()
    dev, dt = torch_device(device), torch_dtype(cfg.dtype)
    w0 = as_params(init_weights(spec, task.ambient_dim, task.n_outputs, cfg), dev, dt)
    model = _Linearised(w0, cfg.activation)
    data = PopulationData(task, [spec], cfg, dev, dt)
    opt, mults = _optimizer(model, spec, cfg)
    lr_run = cfg.lr if spec.lr is None else spec.lr
    chunk: Any = None
    first, loss_v, status, step = None, math.nan, "ok", 0
    for step in range(cfg.steps):
        sched = 0.5 * (1 + math.cos(math.pi * step / cfg.steps)) if cfg.schedule == "cosine" \
            else 1.0
        for group, m in zip(opt.param_groups, mults, strict=True):
            group["lr"] = lr_run * sched * m
        j = step % CHUNK_STEPS
        if cfg.online:
            if j == 0:
                chunk = data.online_batches(step, min(CHUNK_STEPS, cfg.steps - step))
            xb, yb = chunk[0][j][0], chunk[1][j][0]
        elif cfg.batch_size:
            if j == 0:
                chunk = data.batch_indices(min(CHUNK_STEPS, cfg.steps - step))
            xb, yb = data.x_full[0][chunk[j][0]], data.y_full[0][chunk[j][0]]
        else:
            xb, yb = data.x_full[0][:spec.n_train], data.y_full[0][:spec.n_train]
        opt.zero_grad(set_to_none=True)
        loss = per_row_loss(model(xb)[None], yb[None], task.loss).mean()
        loss.backward()
        loss_v = float(loss.detach())
        first = loss_v if first is None else first
        if not math.isfinite(loss_v) or loss_v > DIVERGENCE_FACTOR * max(first, 1e-300):
            status = "diverged"
            break
        opt.step()
    steps_done = step + 1 if status == "ok" else step
    with torch.no_grad():
        train = loss_v if cfg.online else float(per_row_loss(
            model(data.x_full[0][:spec.n_train])[None],
            data.y_full[0][:spec.n_train][None], task.loss).mean())
        test = _test_loss(model, data.x_test[0], data.y_test[0], task.loss)
    return LinearisedRun(train, test, status, steps_done, time.perf_counter() - t0)


def _test_loss(model: _Linearised, x: Any, y: Any, loss: str, chunk: int = 4096) -> float:
    from teacher_student.engine.step import per_row_loss

    total = 0.0
    for a in range(0, x.shape[0], chunk):
        total += float(per_row_loss(model(x[a:a + chunk])[None], y[a:a + chunk][None],
                                    loss).sum())
    return total / x.shape[0]


def linearised_losses(sweep_dir: str | Path, *, runs: Sequence[str] | None = None,
                      device: str | None = None, progress: bool = False) -> pd.DataFrame:
    """A sweep's one-row-per-run table with the linearised network's losses.

    Parameters
    ----------
    sweep_dir : str or Path
        A sweep directory (no kept weights needed: the initial weights are
        rebuilt from the runs' seeds).
    runs : sequence of str, optional
        Run ids; default every finished run that did not diverge.
    device : str, optional
        Default CUDA when present.
    progress : bool, default=False
        Progress bar.

    Returns
    -------
    pandas.DataFrame
        :func:`~teacher_student.store.final_metrics` plus ``l_inf`` (test
        loss), ``l_inf_train``, ``l_inf_status`` and ``l_inf_wall_time_s``
        (NaN / empty for runs left out).

    Examples
    --------
    >>> import tempfile
    >>> from teacher_student.sweep import SweepConfig, run_sweep
    >>> cfg = SweepConfig.from_dict({"task": "bahri-d2", "widths": [16], "n_train": [32],
    ...     "seeds": [0], "steps": 20, "n_test": 200})
    >>> out = tempfile.mkdtemp()
    >>> _ = run_sweep(cfg, out, device="cpu", progress=False)
    >>> table = linearised_losses(out, device="cpu")
    >>> bool(table["l_inf"].notna().all())
    True
    """
    from tqdm.auto import tqdm

    out = Path(sweep_dir)
    cfg = read_config(out)
    table = final_metrics(out)
    if runs is None:
        chosen = list(table.loc[table["status"].astype(str) != "diverged", "run_id"])
    else:
        unknown = sorted(set(runs) - set(table["run_id"]))
        if unknown:
            raise TaskConfigError(f"Run id(s) {unknown[:3]} are not finished runs of "
                                  f"{str(out)!r}.")
        chosen = list(runs)
    by_id = {cfg.run_id(s): s for s in cfg.runs()}
    missing = [r for r in chosen if r not in by_id]
    if missing:
        raise TaskConfigError(f"Run id(s) {missing[:3]} are not in the sweep's current grid "
                              f"(sweep.toml); rerun the sweep with its full grid first.")
    res: dict[str, LinearisedRun] = {}
    for rid in tqdm(chosen, desc="linearised", unit="run", disable=not progress):
        res[rid] = train_linearised(cfg.task, by_id[rid], cfg.train, device=device)
    table["l_inf"] = [res[r].test_loss if r in res else np.nan for r in table["run_id"]]
    table["l_inf_train"] = [res[r].train_loss if r in res else np.nan for r in table["run_id"]]
    table["l_inf_status"] = [res[r].status if r in res else "" for r in table["run_id"]]
    table["l_inf_wall_time_s"] = [res[r].wall_time_s if r in res else np.nan
                                  for r in table["run_id"]]
    return table


def write_linearised_results(sweep_dir: str | Path, target: str | Path, *,
                             device: str | None = None, progress: bool = False
                             ) -> tuple[int, int]:
    """Write :func:`linearised_losses` to ``FILE.csv`` or ``FILE.parquet``.

    Returns
    -------
    tuple of int
        Rows written and runs covered.
    """
    return write_table(lambda: linearised_losses(sweep_dir, device=device, progress=progress),
                       target)
