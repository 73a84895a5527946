"""A population's data on the device: training sets, test and validation sets, batches.

Runs share a data set when they share a data seed and a noise seed; each
distinct set is built once and gathered per model. Runs of different
training-set sizes share one padded tensor: row weights ``1/n_i`` (zero on
padding) make each model's loss the mean over its own rows. Mini-batch
indices and online batches come from per-run seeds, so a run's result does
not depend on which population it joined.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from teacher_student.config import RunSpec, TrainConfig, seed_int
from teacher_student.tasks import (
    Task,
    add_label_noise,
    sample_inputs,
    stream_inputs,
    teacher_outputs,
    validation_set,
)

__all__ = ["PopulationData"]

CHUNK_STEPS = 256  # mini-batch indices and online batches are drawn this many steps at a time


class PopulationData:
    """Tensors of one population (see the module docstring).

    Attributes
    ----------
    which : torch.Tensor
        For each model, the index of its data set among the distinct ones.
    x_full, y_full : torch.Tensor
        ``[P, n_max, d]`` padded training sets (not in online mode).
    row_weights : torch.Tensor
        ``[P, n_max]``: ``1/n_i`` on a model's rows, 0 on padding.
    x_test, y_test, x_val, y_val : torch.Tensor
        ``[U, n, d]`` per distinct data set (validation only with early stopping).
    """

    def __init__(self, task: Task, specs: list[RunSpec], cfg: TrainConfig, dev: Any,
                 dtype: Any) -> None:
        import torch

        self.task, self.specs, self.cfg, self.dev, self.dtype = task, specs, cfg, dev, dtype
        keys = [(s.data_seed, s.data_seed if s.noise_seed is None else s.noise_seed)
                for s in specs]
        self.uniq = sorted(set(keys))
        self.which = torch.tensor([self.uniq.index(k) for k in keys], device=dev)
        self.x_test, self.y_test = self._test_sets(cfg.n_test or task.n_test)
        if not cfg.online:
            self._training_sets()
        if cfg.early_stopping:
            xv, yv = zip(*(validation_set(task, cfg.n_val, ds, noise_seed=ns)
                           for ds, ns in self.uniq), strict=True)
            self.x_val = torch.stack([self._t(x) for x in xv])
            self.y_val = torch.stack([self._t(y) for y in yv])
        self._gens = [torch.Generator().manual_seed(
            seed_int(s.seed, s.data_seed, s.n_train, s.width, s.depth, "batches"))
            for s in specs]

    def _t(self, a: np.ndarray) -> Any:
        import torch

        return torch.as_tensor(np.ascontiguousarray(a), dtype=self.dtype, device=self.dev)

    def _test_sets(self, n_test: int) -> tuple[Any, Any]:
        """The clean test set of every distinct data seed, ``[U, n_test, d]``."""
        import torch

        cache: dict[int, tuple[Any, Any]] = {}
        for ds, _ns in self.uniq:
            if ds not in cache:
                x = sample_inputs(self.task, n_test, ds, split="test")
                cache[ds] = (self._t(x), self._t(teacher_outputs(self.task, x)))
        return (torch.stack([cache[ds][0] for ds, _ in self.uniq]),
                torch.stack([cache[ds][1] for ds, _ in self.uniq]))

    def _training_sets(self) -> None:
        import torch

        n_tr = np.array([s.n_train for s in self.specs])
        n_max = int(n_tr.max())
        xs, ys = [], []
        for ds, ns in self.uniq:  # nested: the first n rows of one draw per data seed
            x = sample_inputs(self.task, n_max, ds, split="train")
            xs.append(self._t(x))
            ys.append(self._t(add_label_noise(self.task, teacher_outputs(self.task, x), ns, "train",
                                     0)))
        self.x_full = torch.stack(xs)[self.which]  # [P, n_max, d], gathered once
        self.y_full = torch.stack(ys)[self.which]
        rows = torch.arange(n_max, device=self.dev)[None, :]
        n_t = torch.as_tensor(n_tr, device=self.dev)[:, None]
        self.row_weights = ((rows < n_t).to(self.dtype) / n_t.to(self.dtype)).contiguous()

    def batch_indices(self, count: int) -> Any:
        """The next ``count`` steps' mini-batch row indices, ``[count, P, batch]``."""
        import torch

        cols = []
        for s, g in zip(self.specs, self._gens, strict=True):
            u = torch.rand(count, self.cfg.batch_size, generator=g, dtype=torch.float64)
            cols.append(torch.floor(u * s.n_train).long())
        return torch.stack(cols, dim=1).to(self.dev)

    def online_batches(self, start_step: int, count: int) -> tuple[Any, Any]:
        """Fresh batches for steps ``start_step ..``, ``[count, U, batch, d]``."""
        import torch

        bs = self.cfg.batch_size
        xs, ys = [], []
        for ds, ns in self.uniq:
            x = stream_inputs(self.task, ds, "online", start_step * bs, count * bs)
            y = add_label_noise(self.task, teacher_outputs(self.task, x), ns, "online",
                                start_step * bs)
            xs.append(self._t(x).reshape(count, bs, -1))
            ys.append(self._t(y).reshape(count, bs, -1))
        return torch.stack(xs, dim=1), torch.stack(ys, dim=1)
