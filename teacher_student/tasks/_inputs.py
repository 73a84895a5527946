"""Inputs: uniform cubes and their (curved) embeddings, drawn in seeded, nested blocks."""

from __future__ import annotations

import numpy as np

from teacher_student.tasks._config import _STREAMS, BLOCK, Task, TaskConfigError, _check_n
from teacher_student.tasks._teachers import _blas_on_calling_thread, _hash_int, _rng, _teacher

__all__ = ["embed_latent", "sample_inputs", "stream_inputs"]


def _latent_block(task: Task, seed: int, stream: str, block: int) -> np.ndarray:
    rng = _rng(_hash_int(task) % (2**63), seed, _STREAMS[stream], block)
    dim = task.ambient_dim if task.family == "sharma_kaplan" else task.intrinsic_dim
    return rng.uniform(-0.5, 0.5, size=(BLOCK, dim))


def embed_latent(task: Task, z: np.ndarray) -> np.ndarray:
    """The student's inputs for latent cube points ``z`` (the task's embedding).

    Identity for cubes, ``Q z`` or ``Q z + c P sin(W z + b) / sqrt(D - d)`` for
    the ``manifold`` family, the first ``k`` coordinates kept (or the others
    zeroed) for ``sharma_kaplan``.

    Examples
    --------
    >>> import numpy as np
    >>> from teacher_student.suite import get_task
    >>> t = get_task("bahri-d2")
    >>> embed_latent(t, np.zeros((1, 2))).shape
    (1, 2)
    """
    if task.family == "sharma_kaplan":
        if task.irrelevant == "zero":
            z = z.copy()
            z[:, task.intrinsic_dim:] = 0.0
        return z
    if task.family != "manifold":
        return z
    e = _teacher(task).embed
    with _blas_on_calling_thread():
        x = z @ e["Q"].T
        if task.embedding == "nonlinear":
            m = task.ambient_dim - task.intrinsic_dim
            x = x + task.curvature * (np.sin(z @ e["W"] + e["b"]) @ e["P"].T) / np.sqrt(m)
    return x


def _rows(task: Task, seed: int, stream: str, start: int, n: int) -> np.ndarray:
    """Rows ``start .. start + n`` of a stream's latent inputs (block-aligned draws)."""
    first, last = start // BLOCK, (start + n - 1) // BLOCK if n else start // BLOCK
    blocks = [_latent_block(task, seed, stream, b) for b in range(first, last + 1)]
    z = np.concatenate(blocks, axis=0) if blocks else np.zeros((0, 1))
    off = start - first * BLOCK
    return z[off: off + n]



def stream_inputs(task: Task, seed: int, stream: str, start: int, n: int) -> np.ndarray:
    """Inputs ``start .. start + n`` of one stream (``train``, ``test``, ``val``, ``online``).

    Examples
    --------
    >>> from teacher_student.suite import get_task
    >>> t = get_task("bahri-d2")
    >>> bool((stream_inputs(t, 0, "online", 4, 2) == stream_inputs(t, 0, "online", 0, 6)[4:]).all())
    True
    """
    if stream not in _STREAMS or stream.startswith("noise_"):
        raise TaskConfigError(f"stream must be 'train', 'test', 'val' or 'online'; got {stream!r}.")
    _check_n(n, "n")
    return embed_latent(task, _rows(task, seed, stream, int(start), n))


def sample_inputs(task: Task, n: int, seed: int, *, split: str = "train") -> np.ndarray:
    """The first ``n`` inputs of a split (float64 numpy; nested in ``n``).

    Examples
    --------
    >>> from teacher_student.suite import get_task
    >>> t = get_task("bahri-d4")
    >>> a, b = sample_inputs(t, 10, 0), sample_inputs(t, 5000, 0)
    >>> bool((a == b[:10]).all())
    True
    """
    if split not in ("train", "test", "val"):
        raise TaskConfigError(f"split must be 'train', 'test' or 'val'; got {split!r}.")
    _check_n(n, "n")
    return embed_latent(task, _rows(task, seed, split, 0, n))


