"""Task configuration: the :class:`Task` dataclass, its constants and its error."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from scalelaw.exceptions import DataValidationError

__all__ = ["ACTIVATIONS", "BLOCK", "EMBEDDINGS", "FAMILIES", "LOSSES", "Task", "TaskConfigError",
           "suggest_name"]

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



def suggest_name(name: str, choices: list[str]) -> str:
    """' Did you mean ...?' for the closest of ``choices``, or an empty string.

    Examples
    --------
    >>> suggest_name("bahri-d3x", ["bahri-d3", "sk-k4"])
    " Did you mean 'bahri-d3'?"
    """
    import difflib

    close = difflib.get_close_matches(name, choices, n=1)
    return f" Did you mean {close[0]!r}?" if close else ""



def _check_n(n: Any, name: str) -> None:
    if not isinstance(n, int | np.integer) or isinstance(n, bool) or n < 0:
        raise TaskConfigError(f"{name} must be an int >= 0; got {n!r}.")


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
                      + suggest_name(str(self.family), list(FAMILIES)))
        if self.activation not in ACTIVATIONS:
            raise bad("activation", f"must be one of {list(ACTIVATIONS)}; got "
                      f"{self.activation!r}."
                      + suggest_name(str(self.activation), list(ACTIVATIONS)))
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
                raise TaskConfigError(f"Unknown task key {key!r}." + suggest_name(key, names)
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

