"""Samples: label noise, train/test draws, validation sets, online batches and files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from teacher_student.tasks._config import _STREAMS, BLOCK, Task, TaskConfigError, _check_n
from teacher_student.tasks._inputs import sample_inputs, stream_inputs
from teacher_student.tasks._teachers import _hash_int, _rng, teacher_outputs

__all__ = ["TaskData", "add_label_noise", "online_batches", "sample", "validation_set",
           "write_task_data"]


def add_label_noise(task: Task, y: np.ndarray, noise_seed: int, stream: str,
                    start: int) -> np.ndarray:
    """Targets ``y`` (rows ``start ..`` of a stream) with the task's seeded label noise.

    Gaussian noise of scale ``task.label_noise`` for regression, label flips
    with that probability for classification; the draws are nested like the
    inputs, so a row's noise does not depend on how many rows are drawn.

    Examples
    --------
    >>> import numpy as np
    >>> from teacher_student.suite import get_task
    >>> t = get_task("bahri-d2")
    >>> add_label_noise(t, np.zeros((3, 1)), 0, "train", 0).shape
    (3, 1)
    """
    if task.label_noise == 0:
        return y
    n = y.shape[0]
    first = start // BLOCK
    last = (start + n - 1) // BLOCK if n else first
    draws = []
    for b in range(first, last + 1):
        rng = _rng(_hash_int(task) % (2**63), noise_seed, _STREAMS[f"noise_{stream}"], b)
        draws.append(rng.random((BLOCK, 2)))
    u = np.concatenate(draws)[start - first * BLOCK: start - first * BLOCK + n]
    if task.loss == "ce":
        flip = u[:, 0] < task.label_noise
        out = y.copy()
        out[flip] = out[flip][:, ::-1]
        return out
    from scipy.special import ndtri

    z = ndtri(np.clip(u[:, :1], 1e-300, 1 - 1e-16))
    return y + task.label_noise * z


@dataclass(frozen=True)
class TaskData:
    """Train and test tensors of one task draw, with what produced them."""

    x_train: Any
    y_train: Any
    x_test: Any
    y_test: Any
    task: Task
    seed: int
    noise_seed: int

    def metadata(self) -> dict[str, Any]:
        """Task settings, seeds and sizes (for files and result tables)."""
        return {"task": self.task.to_dict(), "seed": self.seed, "noise_seed": self.noise_seed,
                "n_train": int(self.x_train.shape[0]), "n_test": int(self.x_test.shape[0])}


def sample(task: Task, n: int, seed: int, *, noise_seed: int | None = None,
           dtype: Any = None, device: Any = None) -> TaskData:
    """Draw ``n`` training rows and the task's fixed test set, as torch tensors.

    Parameters
    ----------
    task : Task
        The task.
    n : int
        Training-set size. Nested: the first ``m < n`` rows equal ``sample(task,
        m, seed)``'s.
    seed : int
        Data seed (inputs; the teacher is fixed by ``task.teacher_seed``).
    noise_seed : int, optional
        Seed of the label noise (default: ``seed``).
    dtype : torch.dtype, optional
        Default ``torch.float32``; the data are computed in float64.
    device : torch.device or str, optional
        Where the tensors live.

    Returns
    -------
    TaskData
        ``x_train (n, D)``, ``y_train (n, out)``, ``x_test``, ``y_test``.

    Examples
    --------
    >>> from teacher_student.suite import get_task
    >>> data = sample(get_task("sk-k4-ce"), 100, seed=0)
    >>> tuple(data.x_train.shape), tuple(data.y_train.shape)
    ((100, 20), (100, 2))
    >>> bool(abs(float(data.y_train.sum(1).mean()) - 1) < 1e-6)
    True
    """
    import torch

    _check_n(n, "n")
    noise_seed = seed if noise_seed is None else int(noise_seed)
    dtype = dtype or torch.float32
    x_tr = sample_inputs(task, n, seed, split="train")
    x_te = sample_inputs(task, task.n_test, seed, split="test")
    y_tr = add_label_noise(task, teacher_outputs(task, x_tr), noise_seed, "train", 0)
    y_te = teacher_outputs(task, x_te)  # the test set measures the clean target

    def t(a: np.ndarray) -> Any:
        return torch.as_tensor(np.ascontiguousarray(a), dtype=dtype, device=device)

    return TaskData(t(x_tr), t(y_tr), t(x_te), t(y_te), task, int(seed), noise_seed)


def write_task_data(data: TaskData, path: str | Path) -> None:
    """Write a task draw to ``.npz`` or ``.parquet``, with its metadata.

    ``.npz`` holds ``x_train``, ``y_train``, ``x_test``, ``y_test`` and
    ``config`` (the JSON metadata); ``.parquet`` holds one row per example
    with a ``split`` column, inputs ``x0..`` and targets ``y0..``, and the
    metadata in the schema's ``config`` key.

    Parameters
    ----------
    data : TaskData
        The draw (:func:`sample`).
    path : str or path
        Output file; its extension chooses the format.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from teacher_student.suite import get_task
    >>> out = f"{tempfile.mkdtemp()}/d.npz"
    >>> write_task_data(sample(get_task("bahri-d2"), 8, seed=0), out)
    >>> np.load(out)["x_train"].shape
    (8, 2)
    """
    out = Path(path)
    if out.suffix not in (".npz", ".parquet"):
        raise TaskConfigError(f"The output must end in .npz or .parquet; got {str(out)!r}.",
                              column="out")
    meta = json.dumps(data.metadata(), sort_keys=True)
    arrays = {k: getattr(data, k).numpy() for k in ("x_train", "y_train", "x_test", "y_test")}
    if out.suffix == ".npz":
        np.savez(out, config=np.array(meta), **arrays)
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    frames = []
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        cols: dict[str, Any] = {"split": [split] * len(x)}
        cols.update({f"x{i}": x[:, i] for i in range(x.shape[1])})
        cols.update({f"y{i}": y[:, i] for i in range(y.shape[1])})
        frames.append(pa.table(cols))
    table = pa.concat_tables(frames).replace_schema_metadata({"config": meta})
    pq.write_table(table, out)


def validation_set(task: Task, n: int, seed: int, *, noise_seed: int | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """A validation set (for early stopping) from its own stream, with label noise.

    Examples
    --------
    >>> from teacher_student.suite import get_task
    >>> x, y = validation_set(get_task("bahri-d2"), 100, seed=0)
    >>> x.shape, y.shape
    ((100, 2), (100, 1))
    """
    _check_n(n, "n")
    noise_seed = seed if noise_seed is None else int(noise_seed)
    x = sample_inputs(task, n, seed, split="val")
    return x, add_label_noise(task, teacher_outputs(task, x), noise_seed, "val", 0)


def online_batches(task: Task, batch_size: int, seed: int, *, noise_seed: int | None = None,
                   start: int = 0) -> Any:
    """Endless fresh batches ``(x, y)`` (numpy float64) from the online stream.

    Batch ``i`` holds rows ``start + i * batch_size ...`` of a stream separate
    from the training and test sets, so a resumed run continues where it
    stopped by passing ``start``.

    Examples
    --------
    >>> from teacher_student.suite import get_task
    >>> it = online_batches(get_task("bahri-d2"), 8, seed=1)
    >>> x, y = next(it)
    >>> x.shape, y.shape
    ((8, 2), (8, 1))
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise TaskConfigError(f"batch_size must be an int >= 1; got {batch_size!r}.")
    noise_seed = seed if noise_seed is None else int(noise_seed)
    pos = int(start)
    while True:
        x = stream_inputs(task, seed, "online", pos, batch_size)
        y = add_label_noise(task, teacher_outputs(task, x), noise_seed, "online", pos)
        pos += batch_size
        yield x, y
