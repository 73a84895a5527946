"""Which models are still training, what they logged, and when they stopped.

* Divergence: a model whose training loss is not finite, or exceeds
  :data:`DIVERGENCE_RATIO` times its loss at the first step, is frozen from
  that step on and reported ``"diverged"`` (its logged losses become NaN).
  The ratio catches runs that blow up without overflowing: a learning rate
  1e5 times too large ends with a finite loss of 1e18.
* Early stopping: a model whose validation loss has not improved for
  ``patience`` evaluations is frozen (``"early_stopped"``) and gets its best
  weights back at the end.
* Evaluations: train, test (and validation) losses at log-spaced steps.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from teacher_student.config import TrainConfig

__all__ = ["DIVERGENCE_RATIO", "Monitor", "eval_schedule"]

#: A training loss this many times the first step's loss counts as divergence.
DIVERGENCE_RATIO = 1e4


def eval_schedule(steps: int, n_eval: int) -> list[int]:
    """Log-spaced evaluation steps from 1 to ``steps``; one evaluation = the last step."""
    if n_eval == 1:
        return [steps]
    pts = np.unique(np.round(np.geomspace(1, steps, n_eval)).astype(int))
    return sorted({*pts.tolist(), steps})


class Monitor:
    """Live masks, divergence, early stopping and the per-model log of a population."""

    def __init__(self, P: int, cfg: TrainConfig, dtype: Any, dev: Any) -> None:
        import torch

        self.P, self.cfg = P, cfg
        self.active = torch.ones(P, dtype=torch.bool, device=dev)
        self.stopped = torch.zeros(P, dtype=torch.bool, device=dev)
        # steps with a finite loss so far: a diverged model's count is the step at
        # which it diverged (it is frozen from then on)
        self.live_steps = torch.zeros(P, dtype=torch.long, device=dev)
        self.blowup: Any = None  # DIVERGENCE_RATIO x the first step's loss, once known
        self.stop_step = torch.full((P,), cfg.steps, dtype=torch.long, device=dev)
        self.best_val = torch.full((P,), math.inf, dtype=dtype, device=dev)
        self.since_best = torch.zeros(P, dtype=torch.long, device=dev)
        self.last_batch_loss = torch.zeros(P, dtype=dtype, device=dev)
        self.best_params: list[Any] | None = None
        self.log: list[list[tuple[int, str, str, float]]] = [[] for _ in range(P)]
        self.evals = set(eval_schedule(cfg.steps, cfg.eval_steps))

    def check(self, per: Any) -> Any:
        """Freeze models whose loss is not finite or blew up; return the live mask.

        The first call (an eager step, never a captured one) records the
        threshold; later calls cost one comparison (``per <= threshold`` is
        False for NaN and infinity too).
        """
        import torch

        if self.blowup is None:
            self.active.logical_and_(torch.isfinite(per))
            self.blowup = torch.where(self.active, per.detach() * DIVERGENCE_RATIO,
                                      torch.full_like(per, -math.inf))
        else:
            self.active.logical_and_(per <= self.blowup)
        self.live_steps.add_(self.active)
        if self.cfg.online:
            self.last_batch_loss.copy_(per.detach())
        return self.active

    def diverged(self) -> Any:
        """Frozen but not early-stopped: the loss stopped being finite or blew up."""
        return ~self.active & ~self.stopped

    def record(self, step: int, losses: dict[str, Any]) -> None:
        """Log ``{split: per-model losses}`` at ``step`` (NaN for diverged models)."""
        host = {k: v.detach().cpu().numpy() for k, v in losses.items()}
        bad = self.diverged().cpu().numpy()
        for i in range(self.P):
            for split, arr in host.items():
                self.log[i].append((step, split, "loss",
                                    float("nan") if bad[i] else float(arr[i])))

    def early_stopping(self, step: int, val: Any, params: list[Any]) -> None:
        """Keep the best weights so far; freeze models out of patience."""
        import torch

        if self.best_params is None:
            self.best_params = [p.detach().clone() for p in params]
        improved = self.active & (val < self.best_val)
        self.best_val.copy_(torch.where(improved, val, self.best_val))
        self.since_best.copy_(torch.where(improved, torch.zeros_like(self.since_best),
                                          self.since_best + self.active.long()))
        for bp, p in zip(self.best_params, params, strict=True):
            bp.copy_(torch.where(improved.view(self.P, 1, 1), p.detach(), bp))
        newly = self.active & (self.since_best >= self.cfg.patience)
        self.stopped.logical_or_(newly)
        self.stop_step.copy_(torch.where(newly, torch.full_like(self.stop_step, step),
                                         self.stop_step))
        self.active.logical_and_(~newly)

    def restore_best(self, params: list[Any]) -> None:
        """Give every model that did not diverge its best weights back."""
        import torch

        if self.best_params is None:
            return
        with torch.no_grad():
            keep = (~self.diverged()).view(self.P, 1, 1)
            for bp, p in zip(self.best_params, params, strict=True):
                p.copy_(torch.where(keep, bp, p))

    def log_best(self, test: Any) -> None:
        """Log the test loss at the best validation loss (early stopping)."""
        final_test, final_val = test.cpu().numpy(), self.best_val.cpu().numpy()
        bad = self.diverged().cpu().numpy()
        for i in range(self.P):
            if not bad[i]:
                self.log[i].append((self.cfg.steps, "test", "loss_best_val",
                                    float(final_test[i])))
                self.log[i].append((self.cfg.steps, "val", "loss_best_val",
                                    float(final_val[i])))

    def outcome(self) -> tuple[list[str], list[int]]:
        """Status and stop step of every model."""
        import torch

        bad = self.diverged()
        self.stop_step.copy_(torch.where(bad, self.live_steps, self.stop_step))
        status = ["diverged" if d else ("early_stopped" if s else "ok")
                  for d, s in zip(bad.cpu().tolist(), self.stopped.cpu().tolist(), strict=True)]
        return status, self.stop_step.cpu().tolist()
