"""Settings of student training: what a run is (:class:`RunSpec`), how runs are
trained (:class:`TrainConfig`), what a sweep runs (:class:`SweepConfig`), how a
student starts (:func:`init_weights`) and what a population returns
(:class:`PopulationResult`). Every key is validated, with a suggestion for
unknown ones."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from teacher_student.tasks import Task, TaskConfigError, suggest_name

__all__ = ["ACTIVATIONS", "PopulationResult", "RunSpec", "SweepConfig", "TrainConfig",
           "init_weights", "n_params", "seed_int"]

ACTIVATIONS = ("relu", "tanh", "gelu")


def n_params(d_in: int, width: int, depth: int, d_out: int = 1) -> int:
    """Exact parameter count of an MLP with ``depth`` hidden layers of ``width``.

    Examples
    --------
    >>> n_params(20, 8, 2)   # Sharma & Kaplan: n^2 + 23 n + 1 for [20, n, n, 1]
    249
    """
    return d_in * width + width + (depth - 1) * (width * width + width) + width * d_out + d_out


@dataclass(frozen=True)
class TrainConfig:
    """How the students are trained (shared by every run of a sweep).

    Parameters
    ----------
    steps : int
        Optimiser steps.
    lr : float
        Base learning rate.
    optimizer : {"adam", "sgd"}
        Adam (PyTorch's defaults: betas (0.9, 0.999), eps 1e-8) or plain SGD.
    schedule : {"cosine", "constant"}
        Cosine decay to 0 over ``steps`` (as ``CosineAnnealingLR``) or constant.
    batch_size : int
        0 = full batch; otherwise mini-batches drawn with replacement per model.
    online : bool
        Fresh samples every step (``batch_size`` rows; ``n_train`` ignored).
    activation : {"relu", "tanh", "gelu"}
        Student nonlinearity.
    parameterization : {"standard", "mup"}
        ``standard``: PyTorch's ``nn.Linear`` initialisation. ``mup``: muP for
        Adam (Yang et al. 2022, Table 3): weights ``N(0, 1/fan_in)``, output
        weights ``N(0, 1/width^2)``, zero biases, hidden and output learning
        rates times ``base_width / width``.
    base_width : int
        Reference width of muP.
    early_stopping : bool
        Stop each model when its validation loss has not improved for
        ``patience`` evaluations; its best weights are kept.
    patience : int
        Evaluations without improvement before stopping.
    n_val : int
        Validation rows (own stream of the data seed).
    eval_steps : int
        Number of logged evaluations, log-spaced from step 1 to ``steps``
        (the last step is always logged; 1 = the last step only).
    n_test : int
        Test rows used (0 = the task's full test set).
    dtype : {"float32", "float64"}
        Parameter and data precision.
    allow_tf32 : bool
        Let CUDA matmuls use TF32 (faster on wide layers, may floor very low
        losses). Off by default.
    bf16_matmul : bool
        Run the matrix products in bfloat16 (fp32 accumulation, fp32 master
        weights and optimiser state): fastest on wide layers of a GPU, but
        with an 8-bit mantissa it floors very low losses. Off by default.
    cuda_graphs : bool
        On CUDA, capture the training step once (after 3 eager warm-up steps)
        and replay it: one launch per step instead of ~60. Step-dependent
        numbers (learning rate, Adam's step count, batches) live in device
        buffers refreshed before each replay, so results equal eager steps.
    """

    steps: int = 2000
    lr: float = 3e-3
    optimizer: str = "adam"
    schedule: str = "cosine"
    batch_size: int = 0
    online: bool = False
    activation: str = "relu"
    parameterization: str = "standard"
    base_width: int = 64
    early_stopping: bool = False
    patience: int = 10
    n_val: int = 1000
    eval_steps: int = 20
    n_test: int = 0
    dtype: str = "float32"
    allow_tf32: bool = False
    bf16_matmul: bool = False
    cuda_graphs: bool = True

    def __post_init__(self) -> None:
        def bad(key: str, msg: str) -> TaskConfigError:
            return TaskConfigError(f"Training setting {key!r} {msg}")

        for key in ("steps", "eval_steps", "base_width", "patience"):
            v = getattr(self, key)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise bad(key, f"must be an int >= 1; got {v!r}.")
        for key in ("batch_size", "n_val", "n_test"):
            v = getattr(self, key)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise bad(key, f"must be an int >= 0; got {v!r}.")
        if not (isinstance(self.lr, int | float) and math.isfinite(self.lr) and self.lr > 0):
            raise bad("lr", f"must be a positive float; got {self.lr!r}.")
        choices = {"optimizer": ("adam", "sgd"), "schedule": ("cosine", "constant"),
                   "activation": ACTIVATIONS, "parameterization": ("standard", "mup"),
                   "dtype": ("float32", "float64")}
        for key, allowed in choices.items():
            if getattr(self, key) not in allowed:
                raise bad(key, f"must be one of {list(allowed)}; got {getattr(self, key)!r}."
                          + suggest_name(str(getattr(self, key)), list(allowed)))
        if self.online and self.batch_size == 0:
            raise bad("batch_size", "must be >= 1 in online mode (fresh batches per step).")
        if self.early_stopping and self.n_val == 0:
            raise bad("n_val", "must be >= 1 with early stopping.")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for configs and result tables)."""
        return asdict(self)


@dataclass(frozen=True)
class RunSpec:
    """One student run: its shape, data and seeds."""

    width: int
    depth: int
    n_train: int
    seed: int
    data_seed: int = 0
    noise_seed: int | None = None
    lr: float | None = None  # None: the sweep's lr

    def key(self) -> dict[str, Any]:
        """The run's own settings (``lr`` only when it overrides the sweep's)."""
        d = asdict(self)
        if d["lr"] is None:
            d.pop("lr")
        return d


def seed_int(*words: Any) -> int:
    """A 63-bit seed derived from ints and short strings (SeedSequence)."""
    ints = [int(w) if not isinstance(w, str) else int.from_bytes(w.encode()[:8], "little")
            for w in words]
    return int(np.random.SeedSequence(ints).generate_state(1, dtype=np.uint64)[0] >> 1)


def init_weights(spec: RunSpec, d_in: int, d_out: int, cfg: TrainConfig) -> list[np.ndarray]:
    """Initial ``[W_1, b_1, ..., W_L, b_L]`` (float64 numpy) of one model.

    Drawn from the model's own seed (``spec.seed`` and its shape), so the
    same run starts from the same weights whatever population it joins.
    """
    import torch

    g = torch.Generator().manual_seed(seed_int(spec.seed, spec.width, spec.depth, d_in, d_out,
                                                "init"))
    sizes = [d_in] + [spec.width] * spec.depth + [d_out]
    out = []
    for k, (a, b) in enumerate(itertools.pairwise(sizes)):
        if cfg.parameterization == "standard":  # nn.Linear's default init
            bound = 1.0 / math.sqrt(a)
            w = (torch.rand(a, b, generator=g, dtype=torch.float64) * 2 - 1) * bound
            bias = (torch.rand(1, b, generator=g, dtype=torch.float64) * 2 - 1) * bound
        else:
            std = 1.0 / spec.width if k == len(sizes) - 2 else 1.0 / math.sqrt(a)
            w = torch.randn(a, b, generator=g, dtype=torch.float64) * std
            bias = torch.zeros(1, b, dtype=torch.float64)
        out += [w.numpy(), bias.numpy()]
    return out


@dataclass
class PopulationResult:
    """Per-model outcome of one population."""

    specs: list[RunSpec]
    status: list[str]
    stop_step: list[int]
    rows: list[list[tuple[int, str, str, float]]]
    wall_time_s: float
    device: str
    population_size: int
    final_weights: list[list[np.ndarray]] | None = field(default=None, repr=False)
    hardware: str = ""  # the CPU model or GPU name (numerics differ between them)
    #: Per model, its outputs on the probe inputs, ``[n_probe, d_out]`` (when asked for).
    predictions: list[np.ndarray] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class SweepConfig:
    """A parsed sweep: the task, the grid and the training settings."""

    task: Task
    widths: tuple[int, ...]
    depths: tuple[int, ...]
    n_train: tuple[int, ...]
    seeds: tuple[int, ...]
    data_seeds: tuple[int, ...]
    noise_seeds: tuple[int | None, ...]
    train: TrainConfig
    lrs: tuple[float | None, ...] = (None,)
    keep_weights: bool = False
    predictions: str = "none"
    n_probe: int = 1000
    probe_seed: int = 0

    #: Keys that list what to run or what to keep of each run (they may change
    #: between reruns into one store); every other key is a setting of the task
    #: or of training.
    GRID_KEYS: ClassVar[tuple[str, ...]] = (
        "task", "task_config", "widths", "depths", "n_train", "seeds", "data_seeds",
        "noise_seeds", "lrs", "keep_weights", "predictions", "n_probe", "probe_seed")
    #: Precisions in which per-example predictions can be stored.
    PREDICTION_DTYPES: ClassVar[tuple[str, ...]] = ("none", "float16", "float32")

    def __post_init__(self) -> None:
        if self.predictions not in self.PREDICTION_DTYPES:
            raise TaskConfigError(
                f"Sweep key 'predictions' must be one of {list(self.PREDICTION_DTYPES)} (the "
                f"precision of the stored per-example test predictions); got "
                f"{self.predictions!r}." + suggest_name(str(self.predictions),
                                                     list(self.PREDICTION_DTYPES)))
        for key, low in (("n_probe", 1), ("probe_seed", 0)):
            v = getattr(self, key)
            if not isinstance(v, int) or isinstance(v, bool) or v < low:
                raise TaskConfigError(f"Sweep key {key!r} must be an int >= {low}; got {v!r}.")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SweepConfig:
        """Validate and build; unknown keys get a suggestion."""
        from teacher_student.suite import get_task

        train_keys = [f.name for f in fields(TrainConfig)]
        known = list(cls.GRID_KEYS) + train_keys
        for key in d:
            if key not in known:
                raise TaskConfigError(f"Unknown sweep key {key!r}." + suggest_name(key, known)
                                      + f" Known keys: {known}.")
        if ("task" in d) == ("task_config" in d):
            raise TaskConfigError("A sweep config needs exactly one of 'task' (a suite name) "
                                  "and 'task_config' (an inline task table).")
        task = get_task(d["task"]) if "task" in d else Task.from_dict(d["task_config"])

        def grid(key: str, default: Any = None, minimum: int = 0) -> tuple[int, ...]:
            if key not in d:
                if default is None:
                    raise TaskConfigError(f"Sweep config is missing the key {key!r}.")
                return tuple(default)
            vals = d[key]
            if not isinstance(vals, list) or not vals or not all(
                    isinstance(v, int) and not isinstance(v, bool) and v >= minimum
                    for v in vals):
                raise TaskConfigError(f"Sweep key {key!r} must be a non-empty list of ints "
                                      f">= {minimum}; got {vals!r}.")
            if len(set(vals)) != len(vals):
                raise TaskConfigError(f"Sweep key {key!r} repeats values: {vals!r}.")
            return tuple(vals)

        train = TrainConfig(**{k: d[k] for k in train_keys if k in d})
        return cls(
            task=task,
            widths=grid("widths", minimum=1),
            depths=grid("depths", [2], minimum=1),
            n_train=grid("n_train", [0] if train.online else None,
                         minimum=0 if train.online else 1),
            seeds=grid("seeds", minimum=0),
            data_seeds=grid("data_seeds", [0], minimum=0),
            noise_seeds=grid("noise_seeds", minimum=0) if "noise_seeds" in d else (None,),
            train=train,
            lrs=_lrs(d.get("lrs")),
            keep_weights=_flag(d, "keep_weights"),
            predictions=d.get("predictions", "none"),
            n_probe=d.get("n_probe", 1000),
            probe_seed=d.get("probe_seed", 0),
        )

    @classmethod
    def from_file(cls, path: str | Path) -> SweepConfig:
        """Read a TOML sweep config."""
        p = Path(path)
        if not p.is_file():
            raise TaskConfigError(f"Sweep config {str(p)!r} does not exist.")
        try:
            d = tomllib.loads(p.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise TaskConfigError(f"Cannot parse sweep config {str(p)!r}: {exc}") from None
        return cls.from_dict(d)

    def to_dict(self) -> dict[str, Any]:
        """Canonical content (the inline task and every training setting)."""
        return {
            "task_config": self.task.to_dict(),
            "widths": list(self.widths), "depths": list(self.depths),
            "n_train": list(self.n_train), "seeds": list(self.seeds),
            "data_seeds": list(self.data_seeds),
            **({"noise_seeds": list(self.noise_seeds)} if self.noise_seeds != (None,) else {}),
            **({"lrs": list(self.lrs)} if self.lrs != (None,) else {}),
            **({"keep_weights": True} if self.keep_weights else {}),
            **({"predictions": self.predictions, "n_probe": self.n_probe,
                "probe_seed": self.probe_seed} if self.predictions != "none" else {}),
            **self.train.to_dict(),
        }

    @property
    def config_hash(self) -> str:
        """Hash of the canonical content (grids included)."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def settings_hash(self) -> str:
        """Hash of the task and the training settings (not of the grids)."""
        text = json.dumps({"task": self.task.task_id, "train": self.train.to_dict()},
                          sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def runs(self) -> list[RunSpec]:
        """Every run of the grid."""
        out = []
        for depth in self.depths:
            for width in self.widths:
                for n in self.n_train:
                    for ds in self.data_seeds:
                        for ns in self.noise_seeds:
                            for lr in self.lrs:
                                for seed in self.seeds:
                                    out.append(RunSpec(width, depth, n, seed, ds, ns, lr))
        return out

    def run_id(self, spec: RunSpec) -> str:
        """Stable id of a run: its settings, the task id and the training settings."""
        text = json.dumps({"task": self.task.task_id, "run": spec.key(),
                           "train": self.train.to_dict()}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _lrs(vals: Any) -> tuple[float | None, ...]:
    if vals is None:
        return (None,)
    if not isinstance(vals, list) or not vals or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v) and v > 0
            for v in vals):
        raise TaskConfigError(f"Sweep key 'lrs' must be a non-empty list of positive floats "
                              f"(a learning-rate grid; 'lr' is then the reference); got {vals!r}.")
    return tuple(float(v) for v in vals)


def _flag(d: dict[str, Any], key: str) -> bool:
    v = d.get(key, False)
    if not isinstance(v, bool):
        raise TaskConfigError(f"Sweep key {key!r} must be true or false; got {v!r}.")
    return v
