"""The training loop of a population: data, step, optimiser, evaluation, in that order."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from teacher_student.config import PopulationResult, RunSpec, TrainConfig, init_weights
from teacher_student.engine import settings
from teacher_student.engine.data import CHUNK_STEPS, PopulationData
from teacher_student.engine.monitor import Monitor
from teacher_student.engine.state import FlatParams, Optimizer
from teacher_student.engine.step import AutogradStep, ManualStep, Network, per_row_loss
from teacher_student.tasks import Task

__all__ = ["run_population"]

WARMUP_STEPS = 3  # eager steps before a CUDA graph is captured


class _Batches:
    """The rows each step trains on, in device buffers a captured step can read."""

    def __init__(self, data: PopulationData, cfg: TrainConfig) -> None:
        import torch

        self.data, self.cfg = data, cfg
        P, dev, dtype = len(data.specs), data.dev, data.dtype
        self.chunk: Any = None
        if cfg.online:
            d_in, d_out = data.x_test.shape[2], data.y_test.shape[2]
            self.xb = torch.zeros((P, cfg.batch_size, d_in), dtype=dtype, device=dev)
            self.yb = torch.zeros((P, cfg.batch_size, d_out), dtype=dtype, device=dev)
        elif cfg.batch_size:
            self.idx = torch.zeros((P, cfg.batch_size), dtype=torch.long, device=dev)
        rows = cfg.batch_size if (cfg.online or cfg.batch_size) else 0
        self.row_const = (torch.full((P, rows), 1.0 / rows, dtype=dtype, device=dev)
                          if rows else None)

    def load(self, step: int) -> None:
        """Fill the buffers for ``step`` (draws come in chunks of steps)."""
        cfg, j = self.cfg, step % CHUNK_STEPS
        count = min(CHUNK_STEPS, cfg.steps - step)
        if cfg.online:
            if j == 0:
                self.chunk = self.data.online_batches(step, count)
            self.xb.copy_(self.chunk[0][j][self.data.which])
            self.yb.copy_(self.chunk[1][j][self.data.which])
        elif cfg.batch_size:
            if j == 0:
                self.chunk = self.data.batch_indices(count)
            self.idx.copy_(self.chunk[j])

    def current(self) -> tuple[Any, Any, Any]:
        """Inputs, targets and row weights of this step (device ops only)."""
        import torch

        d = self.data
        if self.cfg.online:
            return self.xb, self.yb, self.row_const
        if self.cfg.batch_size:
            d_in, d_out = d.x_full.shape[2], d.y_full.shape[2]
            xb = torch.gather(d.x_full, 1, self.idx[:, :, None].expand(-1, -1, d_in))
            yb = torch.gather(d.y_full, 1, self.idx[:, :, None].expand(-1, -1, d_out))
            return xb, yb, self.row_const
        return d.x_full, d.y_full, d.row_weights


def run_population(task: Task, specs: list[RunSpec], cfg: TrainConfig, dev: Any,
                   keep_weights: bool, should_stop: Callable[[], bool] | None,
                   probe: np.ndarray | None = None) -> PopulationResult:
    """Train ``specs`` (one width and depth) as one stacked model on ``dev``.

    See :func:`teacher_student.population.train_population`, which validates
    the arguments and scopes the process-wide settings around this call.
    """
    import torch

    t0 = time.perf_counter()
    dtype = torch.float64 if cfg.dtype == "float64" else torch.float32
    d_in, d_out = task.ambient_dim, task.n_outputs
    flat = FlatParams([init_weights(s, d_in, d_out, cfg) for s in specs], d_in, dtype, dev)
    net = Network(flat, cfg.activation, cfg.bf16_matmul, d_out)
    data = PopulationData(task, specs, cfg, dev, dtype)
    batches = _Batches(data, cfg)
    manual = cfg.activation in ("relu", "tanh") and not settings.FORCE_AUTOGRAD
    step_fn = (ManualStep(net, task.loss, d_out, static_inputs=not (cfg.online
                                                                     or cfg.batch_size))
               if manual else AutogradStep(net, task.loss))
    opt = Optimizer(flat, specs, cfg, specs[0].width)
    mon = Monitor(len(specs), cfg, dtype, dev)

    def train_step() -> None:  # reads only device buffers: one CUDA graph serves all steps
        xb, yb, rw = batches.current()
        opt.update(step_fn(xb, yb, rw, mon.check), mon.active)

    graph = _GraphRunner(train_step, enabled=(dev.type == "cuda" and cfg.cuda_graphs
                                              and manual and cfg.steps > WARMUP_STEPS + 1))
    for step in range(cfg.steps):
        if should_stop is not None and step % 16 == 0 and should_stop():
            raise KeyboardInterrupt
        opt.set_step(step)
        batches.load(step)
        graph.run(step)
        if step + 1 in mon.evals:
            _evaluate(step + 1, net, data, mon, task.loss, cfg)
    if cfg.early_stopping:
        mon.restore_best(flat.params)
        mon.log_best(net.mean_loss(data.x_test, data.y_test, data.which, task.loss))
    if dev.type == "cuda":
        torch.cuda.synchronize()
    status, stop_step = mon.outcome()
    predictions = None
    if probe is not None:  # the final (best, with early stopping) weights' outputs
        out = net.predict(torch.as_tensor(probe, dtype=dtype, device=dev))
        predictions = list(out.cpu().numpy())
    weights = None
    if keep_weights:
        weights = [[p.detach()[i].cpu().numpy().astype(np.float64) for p in flat.params]
                   for i in range(len(specs))]
    return PopulationResult(
        specs=specs, status=status, stop_step=stop_step, rows=mon.log,
        wall_time_s=time.perf_counter() - t0, device=str(dev), population_size=len(specs),
        final_weights=weights, hardware=settings.hardware(dev), predictions=predictions,
    )


def _evaluate(step: int, net: Network, data: PopulationData, mon: Monitor, loss: str,
              cfg: TrainConfig) -> None:
    """Early stopping (on the validation loss), then the logged losses of ``step``."""
    import torch

    losses: dict[str, Any] = {}
    if cfg.online:  # online: the "train" loss is that of the most recent batch
        losses["train"] = mon.last_batch_loss.detach()
    else:
        with torch.no_grad():
            per = per_row_loss(net(data.x_full), data.y_full, loss)
            losses["train"] = (per * data.row_weights).sum(dim=1)
    losses["test"] = net.mean_loss(data.x_test, data.y_test, data.which, loss)
    if cfg.early_stopping:
        val = net.mean_loss(data.x_val, data.y_val, data.which, loss)
        mon.early_stopping(step, val, net.params)
        losses["val"] = val
    mon.record(step, losses)


class _GraphRunner:
    """Run the step eagerly, or (CUDA) capture it once and replay it.

    The first :data:`WARMUP_STEPS` steps run eagerly on a side stream, as
    capture needs; the step is then recorded once and replayed: one launch
    per step instead of ~60. Step-dependent numbers live in device buffers.
    """

    def __init__(self, step: Callable[[], None], enabled: bool) -> None:
        self.step, self.enabled = step, enabled
        self.graph: Any = None
        if enabled:
            import torch

            self.side = torch.cuda.Stream()

    def run(self, step: int) -> None:
        if not self.enabled:
            self.step()
            return
        import torch

        if step < WARMUP_STEPS:
            self.side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(self.side):
                self.step()
            torch.cuda.current_stream().wait_stream(self.side)
            return
        if self.graph is None:
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):
                self.step()  # recorded, not run
        self.graph.replay()
