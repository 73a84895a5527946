"""Population training: many student MLPs of one shape trained as one stacked model.

Weights are stacked as ``W_k: [P, fan_in, fan_out]`` and ``b_k: [P, 1, fan_out]``;
the forward pass is one batched product per layer for all ``P`` models, the
loss is the sum of the per-model mean losses (so each model receives exactly
its own gradient), and Adam/SGD run on the stacked parameters with a per-model
learning rate (Adam is elementwise, so this equals ``P`` independent Adams).
Models of different training-set sizes share a population through padding
and per-row weights ``1/n_i`` (zero on padding); mini-batch indices, initial
weights and online batches come from per-model seeds, so a model's result
does not depend on which population it was trained in.

Divergence (a non-finite loss, or one 1e4 times the first step's) freezes
that model only and records its status; early stopping on a validation split
keeps the best weights per model and freezes stopped models. The engine lives
in :mod:`teacher_student.engine`; this module is its public face.

Process-wide state: :func:`train_population` sets torch's thread count for
small CPU populations and, on CUDA, TF32 as the config asks, and restores
both when it returns (also on an interruption). The glibc allocator tuning
(:func:`tune_cpu_allocator`) is left to applications.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from teacher_student.config import (
    ACTIVATIONS,
    PopulationResult,
    RunSpec,
    TrainConfig,
    init_weights,
    n_params,
)
from teacher_student.engine.loop import run_population
from teacher_student.engine.settings import cpu_threads_for, cpu_vendor, tune_cpu_allocator
from teacher_student.tasks import Task, TaskConfigError

__all__ = [
    "ACTIVATIONS",
    "PopulationResult",
    "RunSpec",
    "TrainConfig",
    "cpu_vendor",
    "init_weights",
    "n_params",
    "train_population",
    "tune_cpu_allocator",
]


def train_population(
    task: Task,
    specs: Sequence[RunSpec],
    cfg: TrainConfig,
    *,
    device: str | None = None,
    keep_weights: bool = False,
    should_stop: Callable[[], bool] | None = None,
    probe: np.ndarray | None = None,
) -> PopulationResult:
    """Train every run of ``specs`` (one width and depth) as one stacked model.

    Parameters
    ----------
    task : Task
        The teacher and data distribution.
    specs : sequence of RunSpec
        Runs sharing ``width`` and ``depth`` (any ``n_train`` and seeds).
    cfg : TrainConfig
        Training settings.
    device : str, optional
        ``"cuda"``/``"cpu"``; default CUDA when present.
    keep_weights : bool, default=False
        Return the final (or best, with early stopping) weights per model.
    should_stop : callable, optional
        Polled between steps; returning True raises ``KeyboardInterrupt``
        (clean interruption: nothing partial is returned).
    probe : numpy.ndarray, optional
        Inputs ``[n, d_in]`` shared by every model: each model's outputs on
        them after training (its final weights, or its best with early
        stopping) are returned in ``predictions``, ``[n, d_out]`` per model.

    Returns
    -------
    PopulationResult
        Status, logged losses ``(step, split, metric, value)`` and timing.

    Examples
    --------
    >>> from teacher_student.suite import get_task
    >>> specs = [RunSpec(width=8, depth=2, n_train=64, seed=s) for s in range(3)]
    >>> cfg = TrainConfig(steps=50, eval_steps=2, n_test=256)
    >>> res = train_population(get_task("bahri-d2"), specs, cfg, device="cpu")
    >>> res.status
    ['ok', 'ok', 'ok']
    """
    import torch

    specs = list(specs)
    if not specs:
        raise TaskConfigError("train_population needs at least one run.")
    shapes = {(s.width, s.depth) for s in specs}
    if len(shapes) != 1:
        raise TaskConfigError(f"A population holds one (width, depth); got {sorted(shapes)}.")
    if probe is not None and (np.ndim(probe) != 2 or np.shape(probe)[1] != task.ambient_dim):
        raise TaskConfigError(f"probe must be an array [n, {task.ambient_dim}] (the task's "
                              f"input dimension); got shape {np.shape(probe)}.")
    for s in specs:
        if s.width < 1 or s.depth < 1 or s.n_train < (0 if cfg.online else 1):
            raise TaskConfigError(f"Run {s}: width and depth must be >= 1 and n_train >= 1.")
        if s.lr is not None and not (math.isfinite(s.lr) and s.lr > 0):
            raise TaskConfigError(f"Run {s}: lr must be a positive float.")
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    with _scoped_settings(task, specs, cfg, dev):
        return run_population(task, specs, cfg, dev, keep_weights, should_stop, probe)


@contextlib.contextmanager
def _scoped_settings(task: Task, specs: list[RunSpec], cfg: TrainConfig,
                     dev: Any) -> Iterator[None]:
    """Thread count (CPU) and TF32 (CUDA) for this population, restored afterwards."""
    import torch

    threads = torch.get_num_threads()
    tf32 = torch.backends.cuda.matmul.allow_tf32
    try:
        if dev.type == "cpu":
            rows = (cfg.batch_size if (cfg.online or cfg.batch_size)
                    else max(s.n_train for s in specs))
            flops = 6.0 * n_params(task.ambient_dim, specs[0].width, specs[0].depth,
                                   task.n_outputs) * rows * len(specs)
            want = cpu_threads_for(flops, len(specs) * rows * specs[0].width, threads)
            if want != threads:
                torch.set_num_threads(want)
        else:
            torch.backends.cuda.matmul.allow_tf32 = bool(cfg.allow_tf32)
        yield
    finally:
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        torch.backends.cuda.matmul.allow_tf32 = tf32


