"""How much memory one run of a sweep needs, checked against what the device has.

A width or a training-set size a few orders of magnitude too large (a typo,
``widths = [1000000]``) would otherwise be found out by the operating system
killing the process, or by a CUDA out-of-memory error, after the data were
generated. :func:`check_sweep_memory` estimates the bytes of the sweep's
largest run before anything is allocated and refuses, naming the setting
that drives it, when they exceed the memory available.

The estimate counts what one run cannot do without: its parameters with
their gradients and Adam's two moments, its data (inputs and targets in the
training precision, and while generating them in float64 with the teacher's
widest hidden layer), and the hidden activations of one step (forward values
and their gradients for every hidden layer, on the training batch or an
evaluation chunk). Populations stack several runs, and allocators keep
slack, so a run can need more: this is a floor, and a refusal is certain.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from teacher_student.config import RunSpec, SweepConfig, n_params
from teacher_student.tasks import TaskConfigError

__all__ = ["MemoryEstimate", "available_memory", "check_sweep_memory", "run_memory"]

#: Rows of one evaluation chunk (the engine evaluates losses in chunks of this many).
EVAL_CHUNK = 4096


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes one run needs at least, by part.

    Attributes
    ----------
    parameters : float
        Weights, gradients and optimiser state.
    data : float
        Training, validation and test sets (and their generation in float64).
    activations : float
        Hidden activations and their gradients for one step.
    """

    parameters: float
    data: float
    activations: float

    @property
    def total(self) -> float:
        """The sum of the parts."""
        return self.parameters + self.data + self.activations


def run_memory(cfg: SweepConfig, spec: RunSpec) -> MemoryEstimate:
    """The bytes one run needs at least (see the module docstring).

    Parameters
    ----------
    cfg : SweepConfig
        The sweep (task and training settings).
    spec : RunSpec
        The run.

    Returns
    -------
    MemoryEstimate
        Parameters, data and activations.

    Examples
    --------
    >>> from teacher_student.sweep import SweepConfig
    >>> cfg = SweepConfig.from_dict({"task": "bahri-d4", "widths": [1_000_000],
    ...                              "n_train": [64], "seeds": [0]})
    >>> est = run_memory(cfg, cfg.runs()[0])
    >>> f"{est.parameters / 2**40:.1f} TiB"
    '14.6 TiB'
    """
    t, task = cfg.train, cfg.task
    item = 8 if t.dtype == "float64" else 4
    states = 4 if t.optimizer == "adam" else 2  # weights, gradients (+ two moments)
    if t.early_stopping:
        states += 1  # the best weights so far
    params = float(n_params(task.ambient_dim, spec.width, spec.depth, task.n_outputs))
    n_train = t.batch_size if t.online else spec.n_train
    n_test = t.n_test or task.n_test
    rows = n_train + (t.n_val if t.early_stopping else 0) + n_test
    teacher = max(task.teacher_widths, default=0)
    data = (rows * (task.ambient_dim + task.n_outputs) * item
            + max(n_train, n_test) * (task.ambient_dim + teacher + task.n_outputs) * 8.0)
    batch = t.batch_size if (t.batch_size or t.online) else spec.n_train
    step_rows = max(batch, min(n_test, EVAL_CHUNK))
    acts = 2.0 * step_rows * spec.width * spec.depth * item
    return MemoryEstimate(params * states * item, float(data), acts)


def available_memory(device: str) -> tuple[float, str]:
    """Bytes available on ``device`` now, and where they were read.

    CUDA: the free memory of the device (``torch.cuda.mem_get_info``); CPU:
    the memory available to new processes (psutil when installed, else Linux's
    ``MemAvailable``, else the free physical pages).

    Examples
    --------
    >>> free, where = available_memory("cpu")
    >>> free > 0
    True
    """
    if device.startswith("cuda"):
        import torch

        free, _total = torch.cuda.mem_get_info(torch.device(device))
        return float(free), f"free on {device}"
    try:
        import psutil

        return float(psutil.virtual_memory().available), "available (RAM)"
    except ImportError:
        pass
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(int(line.split()[1]) * 1024), "available (RAM)"
    except OSError:  # pragma: no cover - not Linux
        pass
    pages = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")  # pragma: no cover
    return float(pages), "free physical (RAM)"  # pragma: no cover


def _size(n: float) -> str:
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n / 2**10:.1f} KiB"


def check_sweep_memory(cfg: SweepConfig, device: str, specs: list[RunSpec] | None = None
                       ) -> None:
    """Refuse a sweep whose largest run cannot fit in the device's memory.

    Parameters
    ----------
    cfg : SweepConfig
        The sweep.
    device : str
        ``"cpu"`` or a CUDA device.
    specs : list of RunSpec, optional
        The runs to check (default: every run of the grid).

    Raises
    ------
    TaskConfigError
        Naming the run, the sweep key that drives its memory, the bytes it
        needs by part, and the bytes available.

    Examples
    --------
    >>> from teacher_student.sweep import SweepConfig
    >>> cfg = SweepConfig.from_dict({"task": "bahri-d4", "widths": [16],
    ...                              "n_train": [64], "seeds": [0]})
    >>> check_sweep_memory(cfg, "cpu")  # a small run fits
    """
    specs = cfg.runs() if specs is None else specs
    if not specs:
        return
    worst = max(specs, key=lambda s: run_memory(cfg, s).total)
    est = run_memory(cfg, worst)
    free, where = available_memory(device)
    if est.total <= free:
        return
    parts = {"parameters": est.parameters, "data": est.data, "activations": est.activations}
    main = max(parts, key=lambda k: parts[k])
    t = cfg.train
    key = {"parameters": "widths (or depths)",
           "data": "batch_size" if t.online else "n_train (or n_test)",
           "activations": "widths and " + ("batch_size" if (t.batch_size or t.online)
                                            else "n_train")}[main]
    raise TaskConfigError(
        f"The sweep's largest run (width {worst.width}, depth {worst.depth}, n_train "
        f"{worst.n_train}) needs at least {_size(est.total)} of memory (parameters with "
        f"gradients and optimiser state {_size(est.parameters)}, data {_size(est.data)}, "
        f"activations {_size(est.activations)}), but {_size(free)} is {where}: reduce "
        f"{key}. Nothing was allocated.",
        column="batch_size" if key == "batch_size" else key.split()[0])
