"""Parameters in one flat buffer, and the optimiser that updates them.

All parameters of a population live in one flat buffer, and so do their
gradients, Adam's moments and the unit-rate steps, so PyTorch's fused Adam
kernel runs once per step. The first layer's weights ``[P, d_in, fan_out]``
and bias ``[P, 1, fan_out]`` share one block ``[P, d_in + 1, fan_out]`` (bias
= last row): the hand-written step multiplies inputs with a ones column by
it directly.

Each model has its own learning rate (run ``lr`` x schedule x muP factor x
a live mask): Adam writes the unit-rate step ``-m_hat / (sqrt(v_hat) + eps)``
into a zeroed buffer and the per-model rates scale it (Adam is elementwise,
so this equals P independent Adams). On a CPU, while every model is live and
all share one rate, the update goes into the parameters directly (a few per
cent faster); on a GPU the general path stays, so one captured step serves
every step.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from teacher_student.config import RunSpec, TrainConfig
from teacher_student.engine import settings

__all__ = ["FlatParams", "Optimizer"]


class FlatParams:
    """Parameter, gradient and optimiser buffers of a population, with per-layer views.

    Parameters
    ----------
    inits : list of list of ndarray
        Each model's ``[W_1, b_1, ..., W_L, b_L]``.
    d_in : int
        Input features.
    dtype, dev
        Torch dtype and device.
    """

    def __init__(self, inits: list[list[np.ndarray]], d_in: int, dtype: Any, dev: Any) -> None:
        import torch

        P = len(inits)
        self.P, self.d_in = P, d_in
        self.n_layers = len(inits[0]) // 2
        self.shapes = [(P, *inits[0][j].shape) for j in range(2 * self.n_layers)]
        self.fan0 = self.shapes[0][2]
        self.block0 = P * (d_in + 1) * self.fan0
        n_flat = self.block0 + sum(math.prod(sh) for sh in self.shapes[2:])
        self.param_flat, self.grad_flat, self.m_flat, self.v_flat, self.delta_flat = (
            torch.zeros(n_flat, dtype=dtype, device=dev) for _ in range(5))
        self.params = self.views(self.param_flat)
        self.grads = self.views(self.grad_flat)
        self.deltas = self.views(self.delta_flat)
        for j, p in enumerate(self.params):
            p.copy_(torch.as_tensor(np.stack([w[j] for w in inits])))

    def views(self, buf: Any) -> list[Any]:
        """Per-layer views ``[W_1, b_1, ...]`` of a flat buffer."""
        first = self.first_block(buf)
        out, at = [first[:, :self.d_in], first[:, self.d_in:]], self.block0
        for sh in self.shapes[2:]:
            out.append(buf[at:at + math.prod(sh)].view(sh))
            at += math.prod(sh)
        return out

    def first_block(self, buf: Any) -> Any:
        """The first layer's weights and bias as one ``[P, d_in + 1, fan_out]`` block."""
        return buf[:self.block0].view(self.P, self.d_in + 1, self.fan0)


class Optimizer:
    """Adam or SGD over :class:`FlatParams`, with per-model rates and a live mask."""

    BETAS = (0.9, 0.999)
    EPS = 1e-8

    def __init__(self, flat: FlatParams, specs: list[RunSpec], cfg: TrainConfig,
                 width: int) -> None:
        import torch

        self.flat, self.cfg = flat, cfg
        P = flat.P
        dev, dtype = flat.param_flat.device, flat.param_flat.dtype
        self.lr_mult = []
        for k in range(flat.n_layers):
            m = cfg.base_width / width if (cfg.parameterization == "mup" and k > 0) else 1.0
            self.lr_mult += [m, m]
        self.lr_model = torch.tensor(
            [(s.lr if s.lr is not None else cfg.lr) / cfg.lr for s in specs],
            dtype=dtype, device=dev).view(P, 1, 1)
        run_lrs = {s.lr if s.lr is not None else cfg.lr for s in specs}
        self.uniform_rate = (dev.type == "cpu" and settings.CPU_UNIFORM_RATE_PATH
                             and len(run_lrs) == 1 and all(m == 1.0 for m in self.lr_mult))
        self.shared_lr = min(run_lrs)  # the one rate, when uniform_rate
        self.lr_now = 0.0  # this step's shared rate (host side)
        # the step-dependent rate as a device scalar, so one captured step serves all
        self.s_lr = torch.zeros((), dtype=dtype, device=dev)
        self.adam_step = torch.zeros((), dtype=torch.float32, device=dev)

    def set_step(self, step: int) -> None:
        """Set the learning rates of ``step`` (cosine decay to 0, or constant)."""
        cfg = self.cfg
        sched = (0.5 * (1 + math.cos(math.pi * step / cfg.steps))
                 if cfg.schedule == "cosine" else 1.0)
        self.s_lr.fill_(cfg.lr * sched)
        if self.uniform_rate:
            self.lr_now = self.shared_lr * sched

    def update(self, grads: list[Any], active: Any) -> None:
        """One step of every live model (frozen models get rate 0)."""
        import torch
        from torch.optim.adam import adam as adam_fn

        f = self.flat
        with torch.no_grad():
            direct = self.uniform_rate and bool(active.all())
            if not direct:
                base = torch.mul(self.lr_model, self.s_lr).mul_(active.view(f.P, 1, 1))
                rates = [base if m == 1.0 else base * m for m in self.lr_mult]
            if self.cfg.optimizer == "sgd":
                if direct:
                    torch._foreach_add_(f.params, grads, alpha=-self.lr_now)
                else:
                    torch._foreach_addcmul_(f.params, grads, rates, value=-1.0)
                return
            if grads[0].data_ptr() != f.grad_flat.data_ptr():  # autograd's own tensors
                torch._foreach_copy_(f.grads, grads)
            if not direct:
                f.delta_flat.zero_()
            adam_fn([f.param_flat if direct else f.delta_flat], [f.grad_flat], [f.m_flat],
                    [f.v_flat], [], [self.adam_step], fused=True, amsgrad=False,
                    beta1=self.BETAS[0], beta2=self.BETAS[1], lr=self.lr_now if direct else 1.0,
                    weight_decay=0.0, eps=self.EPS, maximize=False)
            if not direct:
                torch._foreach_addcmul_(f.params, f.deltas, rates)
