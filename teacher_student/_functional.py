"""Small torch helpers shared by the students' kernels and linearisations (private).

A student is a list ``[W_1, b_1, ..., W_L, b_L]`` of weights ``(fan_in,
fan_out)`` and biases ``(1, fan_out)``; these helpers place it on a device and
run it. torch is imported inside each function.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from teacher_student.tasks import TaskConfigError

__all__ = ["ACTIVATIONS", "as_params", "check_activation", "mlp_forward", "torch_device",
           "torch_dtype"]

ACTIVATIONS = ("relu", "tanh", "gelu")


def torch_device(device: str | None) -> Any:
    import torch

    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise TaskConfigError("device 'cuda' was asked for but no CUDA device is available.")
    return dev


def torch_dtype(dtype: str) -> Any:
    import torch

    if dtype not in ("float32", "float64"):
        raise TaskConfigError(f"dtype must be 'float32' or 'float64'; got {dtype!r}.")
    return torch.float64 if dtype == "float64" else torch.float32


def as_params(weights: Sequence[Any], dev: Any, dt: Any) -> list[Any]:
    import torch

    if len(weights) < 4 or len(weights) % 2:
        raise TaskConfigError(f"Expected weights [W_1, b_1, ..., W_L, b_L] with at least one "
                              f"hidden layer; got {len(weights)} arrays.")
    out = [torch.as_tensor(np.asarray(w) if not torch.is_tensor(w) else w).to(dev, dt)
           for w in weights]
    for k in range(0, len(out), 2):
        w, b = out[k], out[k + 1]
        if w.ndim != 2 or b.shape != (1, w.shape[1]):
            raise TaskConfigError(f"Layer {k // 2 + 1}: weights must be (fan_in, fan_out) and "
                                  f"bias (1, fan_out); got {tuple(w.shape)} and "
                                  f"{tuple(b.shape)}.")
    return out


def mlp_forward(params: Sequence[Any], x: Any, activation: str) -> Any:
    import torch

    act = {"relu": torch.relu, "tanh": torch.tanh,
           "gelu": torch.nn.functional.gelu}[activation]
    h = x
    for k in range(0, len(params) - 2, 2):
        h = act(h @ params[k] + params[k + 1])
    return h @ params[-2] + params[-1]


def check_activation(activation: str) -> None:
    if activation not in ACTIVATIONS:
        raise TaskConfigError(f"activation must be one of {list(ACTIVATIONS)}; got {activation!r}.")
