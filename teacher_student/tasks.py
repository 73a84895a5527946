"""Teacher-student tasks with a controlled intrinsic dimension.

A :class:`Task` is a small frozen configuration; :func:`sample` turns it into
train/test tensors. The protocols follow the two reference papers exactly;
everything else is marked as an extension.

Families
--------
``sharma_kaplan`` (Sharma & Kaplan 2020, App. A.2.1 and their code)
    Inputs uniform on ``[-1/2, 1/2]^20``; a random ReLU teacher
    ``[20, 600, 600, out]`` with zero biases and weights ``N(0, 1/fan_in)``
    reads only the first ``k`` coordinates (the others are multiplied by 0
    inside the teacher, as in their code; ``irrelevant="zero"`` also zeroes
    them in the stored inputs). Output ``6 * (last layer)`` for regression
    (one output, MSE) or ``softmax(6 * logits)`` for classification (two
    outputs, soft targets, KL/CE loss).
``bahri`` (Bahri et al. 2021, supplement A.5)
    Inputs uniform on the ``d``-cube ``[-1/2, 1/2]^d``, teacher
    ``[d, 96, 96, 1]`` (same initialisation; the output is not rescaled).
``manifold`` (extension)
    A ``d``-dimensional cube embedded in ``R^D``: ``linear`` = ``Q z`` with
    ``Q`` a random ``D x d`` matrix of orthonormal columns (a random rotation);
    ``nonlinear`` = ``Q z + c P sin(W z + b)`` with ``P`` orthonormal and
    orthogonal to ``Q``: a smooth curved embedding that can never collapse a
    direction (projecting on ``Q`` recovers ``z``, so the Jacobian has rank
    ``d`` everywhere) and never saturates. Teacher ``[D, 96, 96, 1]``.
``additive`` (extension of Sharma & Kaplan section 3.2)
    Inputs on a product of cubes of dimensions ``d_1, ..., d_m``; target
    ``sum_i f_i(x_i)`` with an independent ``[d_i, 96, 96, 1]`` teacher per
    factor. Predicted exponent ``4 / max(d_i)`` while the measured ID is
    about ``sum(d_i)``.
``random_features`` (Bahri et al. 2021, section 2.3)
    The exactly solvable linear teacher-student pair: features
    ``F(x) = ReLU(W x + b) / sqrt(S)`` of a random ReLU layer (``S``
    features, inputs uniform on the ``d``-cube), teacher ``y = omega . F(x)``
    with ``omega ~ N(0, I / S)``.
    :class:`~teacher_student.random_features.RandomFeatureModel` exposes the
    kernel spectrum (so ``alpha_K`` can be computed) and the analytic
    ``L(D)`` and ``L(P)``.

Determinism and nesting: inputs are drawn in blocks of 4,096 rows, block ``b``
of stream ``s`` from ``SeedSequence([task hash, seed, s, b])``, so the same
(task, seed, n) always gives the same bytes on CPU and a larger ``n`` extends
a smaller one (nested training sets, as the papers sub-sample one fixed set).
The test set and the online stream are separate streams of the same seed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from scalelaw.exceptions import DataValidationError

__all__ = [
    "Task",
    "TaskConfigError",
    "TaskData",
    "online_batches",
    "sample",
    "sample_inputs",
    "teacher_outputs",
    "validation_set",
    "write_task_data",
]

FAMILIES = ("sharma_kaplan", "bahri", "manifold", "additive", "random_features")
ACTIVATIONS = ("relu", "tanh", "gelu")
LOSSES = ("mse", "ce")
EMBEDDINGS = ("none", "linear", "nonlinear")
BLOCK = 4096
_STREAMS = {"train": 1, "test": 2, "online": 3, "val": 4, "noise_train": 11,
            "noise_test": 12, "noise_online": 13, "noise_val": 14}


class TaskConfigError(DataValidationError):
    """A task, training or sweep configuration is invalid (the message names the key).

    Part of scalelaw's error hierarchy (a :class:`~scalelaw.ScaleLawError` and
    a ``ValueError``), so the command line reports it like any data error.
    """


def _suggest(name: str, choices: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, choices, n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


@dataclass(frozen=True)
class Task:
    """A teacher-student task: data distribution, teacher and label noise.

    Parameters
    ----------
    name : str
        Display name (not part of the id).
    family : str
        ``sharma_kaplan``, ``bahri``, ``manifold``, ``additive`` or
        ``random_features`` (see the module docstring).
    intrinsic_dim : int
        ``k`` (features read by the teacher) for ``sharma_kaplan``, the
        manifold dimension ``d`` otherwise (``sum(factors)`` for additive).
    ambient_dim : int
        Dimension of the inputs given to the student.
    loss : {"mse", "ce"}
        Regression with one output, or classification with two soft-target
        outputs (``sharma_kaplan`` only).
    teacher_widths : tuple of int
        Hidden widths of the teacher.
    activation : {"relu", "tanh", "gelu"}
        Teacher nonlinearity (``relu`` in both papers).
    output_scale : float
        Multiplies the teacher's last layer (6 for Sharma & Kaplan).
    embedding : {"none", "linear", "nonlinear"}
        How the cube is embedded (``manifold`` family).
    curvature : float
        Amplitude ``c`` of the nonlinear embedding.
    factors : tuple of int
        Factor dimensions (``additive`` family).
    irrelevant : {"random", "zero"}
        Coordinates beyond ``k`` in ``sharma_kaplan``: uniform like the
        others (their code) or zero.
    n_features : int
        ``S`` of the ``random_features`` family.
    label_noise : float
        Gaussian noise sd added to regression targets, or the probability of
        swapping the two classes' soft targets.
    n_test : int
        Test-set size.
    teacher_seed : int
        Seed of the teacher (and embedding) weights: part of the task.

    Examples
    --------
    >>> t = Task(name="demo", family="bahri", intrinsic_dim=4, ambient_dim=4)
    >>> t.task_id == Task.from_dict(t.to_dict()).task_id
    True
    >>> t.predicted_alpha
    1.0
    """

    name: str
    family: str
    intrinsic_dim: int
    ambient_dim: int
    loss: str = "mse"
    teacher_widths: tuple[int, ...] = (96, 96)
    activation: str = "relu"
    output_scale: float = 1.0
    embedding: str = "none"
    curvature: float = 0.3
    factors: tuple[int, ...] = ()
    irrelevant: str = "random"
    n_features: int = 0
    label_noise: float = 0.0
    n_test: int = 10_000
    teacher_seed: int = 0
    description: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "teacher_widths", tuple(int(w) for w in self.teacher_widths))
        object.__setattr__(self, "factors", tuple(int(f) for f in self.factors))
        self._validate()

    # ------------------------------------------------------------ checking
    def _validate(self) -> None:
        def bad(key: str, msg: str) -> TaskConfigError:
            return TaskConfigError(f"Task {self.name!r}: {key!r} {msg}")

        if self.family not in FAMILIES:
            raise bad("family", f"must be one of {list(FAMILIES)}; got {self.family!r}."
                      + _suggest(str(self.family), list(FAMILIES)))
        if self.activation not in ACTIVATIONS:
            raise bad("activation", f"must be one of {list(ACTIVATIONS)}; got "
                      f"{self.activation!r}." + _suggest(str(self.activation), list(ACTIVATIONS)))
        if self.loss not in LOSSES:
            raise bad("loss", f"must be 'mse' or 'ce'; got {self.loss!r}.")
        if self.embedding not in EMBEDDINGS:
            raise bad("embedding", f"must be one of {list(EMBEDDINGS)}; got "
                      f"{self.embedding!r}.")
        if self.irrelevant not in ("random", "zero"):
            raise bad("irrelevant", f"must be 'random' or 'zero'; got {self.irrelevant!r}.")
        for key in ("intrinsic_dim", "ambient_dim", "n_test"):
            v = getattr(self, key)
            if not isinstance(v, int | np.integer) or isinstance(v, bool) or v < 1:
                raise bad(key, f"must be an int >= 1; got {v!r}.")
        if self.intrinsic_dim > self.ambient_dim:
            raise bad("intrinsic_dim", f"({self.intrinsic_dim}) cannot exceed ambient_dim "
                      f"({self.ambient_dim}).")
        if any(w < 1 for w in self.teacher_widths) or not self.teacher_widths:
            raise bad("teacher_widths", f"must be widths >= 1 (no zero width); got "
                      f"{list(self.teacher_widths)}.")
        if not (np.isfinite(self.label_noise) and self.label_noise >= 0):
            raise bad("label_noise", f"must be a finite float >= 0; got {self.label_noise!r}.")
        if self.loss == "ce" and self.label_noise > 1:
            raise bad("label_noise", f"is a flip probability for 'ce' tasks, in [0, 1]; got "
                      f"{self.label_noise!r}.")
        if not (np.isfinite(self.output_scale) and self.output_scale > 0):
            raise bad("output_scale", f"must be a positive float; got {self.output_scale!r}.")
        if not (np.isfinite(self.curvature) and self.curvature >= 0):
            raise bad("curvature", f"must be a float >= 0; got {self.curvature!r}.")
        if self.loss == "ce" and self.family != "sharma_kaplan":
            raise bad("loss", "'ce' (two soft-target outputs) is defined for the "
                      "sharma_kaplan family only.")
        if self.family == "manifold":
            if self.embedding == "none":
                raise bad("embedding", "must be 'linear' or 'nonlinear' for a manifold task.")
            if self.embedding == "nonlinear" and self.ambient_dim < self.intrinsic_dim + 1:
                raise bad("ambient_dim", "must exceed intrinsic_dim for a nonlinear "
                          "embedding (the curvature needs extra directions).")
        elif self.embedding != "none":
            raise bad("embedding", f"applies to the manifold family only; got "
                      f"{self.embedding!r} for {self.family!r}.")
        if self.family in ("bahri", "random_features") and self.ambient_dim != self.intrinsic_dim:
            raise bad("ambient_dim", f"must equal intrinsic_dim for the {self.family} family "
                      "(inputs fill the cube).")
        if self.family == "additive":
            if len(self.factors) < 2 or any(f < 1 for f in self.factors):
                raise bad("factors", f"must list >= 2 factor dimensions >= 1; got "
                          f"{list(self.factors)}.")
            if sum(self.factors) != self.intrinsic_dim or self.ambient_dim != self.intrinsic_dim:
                raise bad("factors", f"must sum to intrinsic_dim = ambient_dim; got "
                          f"{list(self.factors)} for {self.intrinsic_dim}/{self.ambient_dim}.")
        elif self.factors:
            raise bad("factors", "applies to the additive family only.")
        if self.family == "random_features" and self.n_features < 2:
            raise bad("n_features", f"must be >= 2 for random features; got {self.n_features!r}.")

    # ------------------------------------------------------------ identity
    def settings(self) -> dict[str, Any]:
        """Everything that defines the data (the name and description excluded)."""
        d = dataclasses.asdict(self)
        d.pop("name")
        d.pop("description")
        d["teacher_widths"] = list(self.teacher_widths)
        d["factors"] = list(self.factors)
        return d

    @cached_property
    def task_id(self) -> str:
        """Stable id: the first 12 hex digits of SHA-256 of the canonical settings."""
        text = json.dumps(self.settings(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @property
    def n_outputs(self) -> int:
        """Number of teacher outputs (2 for soft-target classification)."""
        return 2 if self.loss == "ce" else 1

    @property
    def predicted_alpha(self) -> float | None:
        """Resolution-limited prediction ``4 / d`` (``4 / max d_i`` if additive).

        None for random features, whose exponent is ``alpha_K`` of the spectrum.
        """
        if self.family == "random_features":
            return None
        if self.family == "additive":
            return 4.0 / max(self.factors)
        return 4.0 / self.intrinsic_dim

    # ---------------------------------------------------------------- I/O
    def to_dict(self) -> dict[str, Any]:
        """JSON/TOML-ready content (with the id, which is checked on reading)."""
        d = {"name": self.name, **self.settings(), "task_id": self.task_id}
        if self.description:
            d["description"] = self.description
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Task:
        """Build from :meth:`to_dict` output; unknown keys get a suggestion."""
        d = dict(d)
        stored_id = d.pop("task_id", None)
        names = [f.name for f in dataclasses.fields(cls)]
        for key in d:
            if key not in names:
                raise TaskConfigError(f"Unknown task key {key!r}." + _suggest(key, names)
                                      + f" Known keys: {names}.")
        for key in ("name", "family", "intrinsic_dim", "ambient_dim"):
            if key not in d:
                raise TaskConfigError(f"Task config is missing the required key {key!r}.")
        task = cls(**d)
        if stored_id is not None and stored_id != task.task_id:
            raise TaskConfigError(
                f"Task {task.name!r}: stored task_id {stored_id!r} does not match its settings "
                f"({task.task_id!r}); the file was edited or written by another version."
            )
        return task

    def to_json(self) -> str:
        """JSON text."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def to_toml(self) -> str:
        """TOML text (written with tomli-w)."""
        import tomli_w

        return tomli_w.dumps(self.to_dict())

    @classmethod
    def from_file(cls, path: str | Path) -> Task:
        """Read a ``.toml`` or ``.json`` task file."""
        p = Path(path)
        text = p.read_text()
        try:
            d = tomllib.loads(text) if p.suffix == ".toml" else json.loads(text)
        except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
            raise TaskConfigError(f"Cannot parse task file {str(p)!r}: {exc}") from None
        return cls.from_dict(d)


# ------------------------------------------------------------------- weights
def _rng(*words: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(w) for w in words]))


def _hash_int(task: Task) -> int:
    return int(task.task_id, 16)


def _mlp_weights(rng: np.random.Generator, sizes: list[int]) -> list[np.ndarray]:
    """Weights ``N(0, 1/fan_in)``, zero biases (so only weights are stored)."""
    return [rng.standard_normal((a, b)) / np.sqrt(a) for a, b in itertools.pairwise(sizes)]


def _act(name: str, h: np.ndarray) -> np.ndarray:
    if name == "relu":
        return np.maximum(h, 0.0)
    if name == "tanh":
        return np.tanh(h)
    from scipy.special import erf

    return 0.5 * h * (1.0 + erf(h / np.sqrt(2.0)))


def _mlp(weights: list[np.ndarray], x: np.ndarray, act: str) -> np.ndarray:
    h = x
    for w in weights[:-1]:
        h = _act(act, h @ w)
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


# ------------------------------------------------------------------- inputs
def _latent_block(task: Task, seed: int, stream: str, block: int) -> np.ndarray:
    rng = _rng(_hash_int(task) % (2**63), seed, _STREAMS[stream], block)
    dim = task.ambient_dim if task.family == "sharma_kaplan" else task.intrinsic_dim
    return rng.uniform(-0.5, 0.5, size=(BLOCK, dim))


def _embed(task: Task, z: np.ndarray) -> np.ndarray:
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
    return _embed(task, _rows(task, seed, split, 0, n))


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
        return (_rf_features(task, x) @ t.embed["omega"])[:, None]
    return task.output_scale * _mlp(t.weights[0], x, task.activation)


def _rf_features(task: Task, x: np.ndarray) -> np.ndarray:
    e = _teacher(task).embed
    return np.maximum(x @ e["W"] + e["b"], 0.0) / np.sqrt(task.n_features)


def _noisy(task: Task, y: np.ndarray, noise_seed: int, stream: str, start: int) -> np.ndarray:
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


def _check_n(n: Any, name: str) -> None:
    if not isinstance(n, int | np.integer) or isinstance(n, bool) or n < 0:
        raise TaskConfigError(f"{name} must be an int >= 0; got {n!r}.")


# -------------------------------------------------------------------- sample
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
    y_tr = _noisy(task, teacher_outputs(task, x_tr), noise_seed, "train", 0)
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
    return x, _noisy(task, teacher_outputs(task, x), noise_seed, "val", 0)


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
        z = _rows(task, seed, "online", pos, batch_size)
        x = _embed(task, z)
        y = _noisy(task, teacher_outputs(task, x), noise_seed, "online", pos)
        pos += batch_size
        yield x, y
