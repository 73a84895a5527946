"""Teachers: seeded random networks (and the random-feature map) that label a task's inputs."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from teacher_student.tasks._config import Task

__all__ = ["activation", "random_feature_map", "teacher_outputs"]


def _rng(*words: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(w) for w in words]))


def _hash_int(task: Task) -> int:
    return int(task.task_id, 16)


def _mlp_weights(rng: np.random.Generator, sizes: list[int]) -> list[np.ndarray]:
    """Weights ``N(0, 1/fan_in)``, zero biases (so only weights are stored)."""
    return [rng.standard_normal((a, b)) / np.sqrt(a) for a, b in itertools.pairwise(sizes)]


def activation(name: str, h: np.ndarray) -> np.ndarray:
    """The nonlinearity ``name`` (``relu``, ``tanh`` or ``gelu``) applied to ``h``.

    Examples
    --------
    >>> import numpy as np
    >>> activation("relu", np.array([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    """
    if name == "relu":
        return np.maximum(h, 0.0)
    if name == "tanh":
        return np.tanh(h)
    from scipy.special import erf

    return 0.5 * h * (1.0 + erf(h / np.sqrt(2.0)))


def _mlp(weights: list[np.ndarray], x: np.ndarray, act: str) -> np.ndarray:
    h = x
    for w in weights[:-1]:
        h = activation(act, h @ w)
    return h @ weights[-1]


@dataclass(frozen=True)
class _Teacher:
    weights: tuple[list[np.ndarray], ...]
    embed: dict[str, np.ndarray]


def _teacher(task: Task) -> _Teacher:
    cached = _TEACHERS.get(task.task_id)
    if cached is not None:
        return cached
    rng = _rng(task.teacher_seed, 104729)
    if task.family == "additive":
        weights = tuple(_mlp_weights(rng, [f, *task.teacher_widths, 1]) for f in task.factors)
    elif task.family == "random_features":
        weights = ()
    else:
        weights = (_mlp_weights(rng, [task.ambient_dim, *task.teacher_widths,
                                      task.n_outputs]),)
    embed: dict[str, np.ndarray] = {}
    erng = _rng(task.teacher_seed, 15485863)
    if task.family == "manifold":
        q, _ = np.linalg.qr(erng.standard_normal((task.ambient_dim, task.ambient_dim)))
        embed["Q"] = q[:, : task.intrinsic_dim]
        embed["P"] = q[:, task.intrinsic_dim:]
        m = task.ambient_dim - task.intrinsic_dim
        embed["W"] = erng.standard_normal((task.intrinsic_dim, max(m, 1))) * np.pi
        embed["b"] = erng.uniform(0, 2 * np.pi, max(m, 1))
    if task.family == "random_features":
        s = task.n_features
        embed["W"] = erng.standard_normal((task.intrinsic_dim, s)) * 3.0 * np.sqrt(
            2.0 / task.intrinsic_dim)
        embed["b"] = erng.standard_normal(s) * 0.5
        embed["omega"] = rng.standard_normal(s) / np.sqrt(s)
    out = _Teacher(weights, embed)
    _TEACHERS[task.task_id] = out
    return out


_TEACHERS: dict[str, _Teacher] = {}





_BLAS_CONTROLLER: Any = None


def _blas_on_calling_thread() -> Any:
    """Context: numpy's BLAS runs on the calling thread (the generator's products).

    OpenBLAS's worker threads busy-wait for a while after each multi-threaded
    product, and torch training right after then loses cores to them: on the
    2-core reference machine a batched product of a training step ran 6-9x
    slower for about 0.1 s after one 1000 x 600 x 600 numpy product, and a
    population of 8 models (width 64, n 891, 200 steps) took 4.9 instead of 2.8
    ms per step. The price is paid once per data set: 16,384 rows through a
    [20, 600, 600, 1] teacher take 0.4 s on one thread against 0.27 s on two.
    One thread also makes the generated data independent of the machine's
    thread count (multi-threaded products may round differently).
    """
    global _BLAS_CONTROLLER
    from threadpoolctl import ThreadpoolController

    if _BLAS_CONTROLLER is None:
        _BLAS_CONTROLLER = ThreadpoolController()
    return _BLAS_CONTROLLER.limit(limits=1, user_api="blas")


def teacher_outputs(task: Task, x: np.ndarray) -> np.ndarray:
    """Noise-free teacher targets for inputs ``x`` (float64 numpy).

    Regression: shape ``(n, 1)``; classification: soft targets ``(n, 2)``.
    numpy's BLAS runs on the calling thread here, so torch training that follows
    keeps its cores.
    """
    with _blas_on_calling_thread():
        return _teacher_outputs(task, x)


def _teacher_outputs(task: Task, x: np.ndarray) -> np.ndarray:
    t = _teacher(task)
    if task.family == "sharma_kaplan":
        mask = np.zeros(task.ambient_dim)
        mask[: task.intrinsic_dim] = 1.0
        out = task.output_scale * _mlp(t.weights[0], x * mask, task.activation)
        if task.loss == "ce":
            from scipy.special import softmax

            return softmax(out, axis=1)
        return out
    if task.family == "additive":
        parts, j = [], 0
        for f, w in zip(task.factors, t.weights, strict=True):
            parts.append(_mlp(w, x[:, j: j + f], task.activation))
            j += f
        return task.output_scale * np.sum(parts, axis=0)
    if task.family == "random_features":
        return (random_feature_map(task, x) @ t.embed["omega"])[:, None]
    return task.output_scale * _mlp(t.weights[0], x, task.activation)


def random_feature_map(task: Task, x: np.ndarray) -> np.ndarray:
    """The features ``ReLU(W x + b) / sqrt(S)`` of a ``random_features`` task.

    Examples
    --------
    >>> from teacher_student.suite import get_task
    >>> from teacher_student.tasks import sample_inputs
    >>> t = get_task("random-features")
    >>> random_feature_map(t, sample_inputs(t, 3, 0)).shape[0]
    3
    """
    e = _teacher(task).embed
    return np.maximum(x @ e["W"] + e["b"], 0.0) / np.sqrt(task.n_features)

