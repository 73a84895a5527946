"""Tuning switches of the training engine, and the machine facts they depend on.

Each switch has a one-line reason here; the measurements behind them are in
bench/RESULTS.md ("Engine tuning constants"). Tests may change them (they are
read at run time, never copied).
"""

from __future__ import annotations

import functools
import os
import platform
from typing import Any

__all__ = [
    "AUGMENT_INPUT_MAX_FEATURES",
    "CPU_ONE_THREAD_ACTIVATIONS",
    "CPU_ONE_THREAD_FLOPS",
    "NARROW_GRAD_MAX_OUTPUTS",
    "TRANSPOSED_WIDTH1_OUTPUT",
    "cpu_threads_for",
    "cpu_vendor",
    "hardware",
    "transposed_width1_output",
    "tune_cpu_allocator",
]

#: A CPU population cheaper than this (FLOPs per step) and with fewer hidden
#: activations than :data:`CPU_ONE_THREAD_ACTIVATIONS` runs on one thread: its
#: small kernels are dominated by a second thread's fork/join cost.
CPU_ONE_THREAD_FLOPS = 4e7
#: ``None``: 1e5 on Intel and other CPUs, 4e4 on AMD ones (a second thread pays
#: off sooner there: 1.2-1.45x on the cells between the two thresholds).
CPU_ONE_THREAD_ACTIVATIONS: float | None = None
#: Inputs of at most this many features get a ones column, so the first layer's
#: bias rides in its product and gradient (1.7-1.9x on that layer).
AUGMENT_INPUT_MAX_FEATURES = 32
#: Weight gradients of layers with at most this many outputs are computed as
#: (g^T h)^T: the BLAS's small-N product is slow (44 vs 183 us at 1 output).
NARROW_GRAD_MAX_OUTPUTS = 16
#: A width-1 output layer as ``W^T h^T``: ``True``/``False``, or ``None`` = on AMD
#: CPUs only (MKL's one-column batched product is 3x slower there, 2.5x faster
#: on Intel). The two orders round differently, so this is fixed per machine.
TRANSPOSED_WIDTH1_OUTPUT: bool | None = None
#: Tests set this to run the autograd reference step instead of the hand-written one.
FORCE_AUTOGRAD = False
#: On a CPU, Adam/SGD update the flat parameters directly while every model is
#: live and all share one rate (tests switch it off to compare with the general path).
CPU_UNIFORM_RATE_PATH = True


@functools.cache
def _cpuinfo() -> dict[str, str]:
    """The first processor's fields in ``/proc/cpuinfo`` (empty off Linux), read once."""
    info: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                info.setdefault(key.strip(), value.strip())
    except OSError:  # not Linux
        pass
    return info


def cpu_vendor() -> str:
    """The maker of this machine's CPU, which sets two CPU-step choices.

    Read once from ``/proc/cpuinfo`` (Linux); see
    :data:`TRANSPOSED_WIDTH1_OUTPUT` and :data:`CPU_ONE_THREAD_ACTIVATIONS`.

    Returns
    -------
    str
        ``"amd"``, ``"intel"``, or ``"other"`` (another maker, or not Linux).

    Examples
    --------
    >>> cpu_vendor() in ("amd", "intel", "other")
    True
    """
    return {"AuthenticAMD": "amd", "GenuineIntel": "intel"}.get(
        _cpuinfo().get("vendor_id", ""), "other")


def hardware(dev: Any) -> str:
    """What a population ran on, for result tables (the CPU model or the GPU).

    Parameters
    ----------
    dev : torch.device
        The device.

    Returns
    -------
    str
        The GPU name, or the CPU model and count.
    """
    import torch

    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    model = _cpuinfo().get("model name") or platform.processor() or platform.machine()
    return f"{model}, {os.cpu_count()} CPUs"


def transposed_width1_output() -> bool:
    """Whether a width-1 output layer is computed as ``W^T h^T`` on this machine."""
    if TRANSPOSED_WIDTH1_OUTPUT is not None:
        return TRANSPOSED_WIDTH1_OUTPUT
    return cpu_vendor() == "amd"


def cpu_threads_for(step_flops: float, activations: float, threads: int) -> int:
    """Torch threads for a CPU population: 1 when small, else ``threads``.

    Parameters
    ----------
    step_flops : float
        FLOPs of one training step of the whole population.
    activations : float
        Hidden activations per layer (models x rows x width).
    threads : int
        The caller's thread count.

    Returns
    -------
    int
        The thread count to use.

    Examples
    --------
    >>> cpu_threads_for(1e6, 1e3, 2), cpu_threads_for(1e9, 1e3, 2)
    (1, 2)
    """
    max_acts = CPU_ONE_THREAD_ACTIVATIONS
    if max_acts is None:
        max_acts = 4e4 if cpu_vendor() == "amd" else 1e5
    if step_flops < CPU_ONE_THREAD_FLOPS and activations < max_acts:
        return 1
    return threads


_ALLOCATOR_TUNED = False


def tune_cpu_allocator() -> bool:
    """Keep freed activation buffers in the process (glibc ``mallopt``), once.

    glibc hands blocks over 128 KiB back to the OS on every free, so each
    training step page-faults its activation buffers back in; this halves the
    step time of small stacked populations (bench/RESULTS.md). Sets
    ``M_MMAP_THRESHOLD`` to 32 MiB, ``M_TRIM_THRESHOLD`` to 2 GiB and
    ``M_TOP_PAD`` to 512 MiB. Process-wide, so the library never calls it:
    applications do (``scalelaw sweep run``, ``scalelaw demo``), and
    :func:`teacher_student.sweep.run_sweep` only with ``tune_allocator=True``.
    Skipped off glibc or when ``SCALELAW_NO_MALLOC_TUNING=1``.

    Returns
    -------
    bool
        Whether the setting is in effect.

    Examples
    --------
    Process-wide, so this example runs in a process of its own:

    >>> import subprocess, sys
    >>> code = ("from teacher_student.engine.settings import tune_cpu_allocator as t; "
    ...         "print(t() == t())")
    >>> subprocess.run([sys.executable, "-c", code], capture_output=True,
    ...                text=True).stdout.strip()
    'True'
    """
    global _ALLOCATOR_TUNED
    import ctypes

    if _ALLOCATOR_TUNED:
        return True
    if os.environ.get("SCALELAW_NO_MALLOC_TUNING") == "1" or platform.system() != "Linux":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        ok = (libc.mallopt(-3, 32 * 2**20) == 1 and libc.mallopt(-1, 2**31 - 1) == 1
              and libc.mallopt(-2, 512 * 2**20) == 1)
    except (OSError, AttributeError):  # not glibc
        return False
    _ALLOCATOR_TUNED = ok
    return ok
