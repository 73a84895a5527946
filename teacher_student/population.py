"""Population training: many student MLPs of one shape trained as one stacked model.

Weights are stacked as ``W_k: [P, fan_in, fan_out]`` and ``b_k: [P, 1, fan_out]``;
the forward pass is one ``torch.baddbmm`` per layer for all ``P`` models, the
loss is the sum of the per-model mean losses (so each model receives exactly
its own gradient), and Adam/SGD run on the stacked tensors with a per-model
learning rate (Adam is elementwise, so this equals ``P`` independent Adams).
Models of different training-set sizes share a population through padding
and per-row weights ``1/n_i`` (zero on padding); mini-batch indices, initial
weights and online batches come from per-model seeds, so a model's result
does not depend on which population it was trained in.

Divergence (a non-finite loss) freezes that model only and records its
status; early stopping on a validation split keeps the best weights per model
(``torch.where`` snapshots on the device) and freezes stopped models.
"""

from __future__ import annotations

import functools
import itertools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from teacher_student.tasks import (
    Task,
    TaskConfigError,
    _embed,
    _noisy,
    _rows,
    sample_inputs,
    teacher_outputs,
    validation_set,
)

__all__ = [
    "PopulationResult",
    "RunSpec",
    "TrainConfig",
    "cpu_vendor",
    "init_weights",
    "n_params",
    "train_population",
]

ACTIVATIONS = ("relu", "tanh", "gelu")
#: On a CPU, a population whose training step costs fewer FLOPs than
#: ``CPU_ONE_THREAD_FLOPS`` and touches fewer hidden activations (models x rows
#: x width) than ``CPU_ONE_THREAD_ACTIVATIONS`` runs on one thread: its ~100
#: small kernels are then dominated by the fork/join cost of a second thread.
#: Measured on a 2-core Intel Xeon (8 models, ms per step, 1 vs 2
#: threads): width 8, n 128: 0.65 vs 1.03 (1.9 MFLOP, 8 k activations); width
#: 32, n 338: 1.05 vs 1.28 (20 MFLOP, 86 k); width 64, n 338: 1.98 vs 1.72
#: (73 MFLOP, 173 k); width 64, n 891: 4.45 vs 2.92; width 8, n 2,353: 3.0 vs
#: 2.2 (14 MFLOP but 150 k activations: the elementwise work wants 2 threads).
#: On a 2-core AMD EPYC (Zen 4) a second thread pays off sooner, so
#: ``CPU_ONE_THREAD_ACTIVATIONS = None`` (the default) means 1e5 on Intel and
#: other CPUs and 4e4 on AMD ones (see :func:`cpu_vendor`). Measured
#: there (8 models, ms per step, 1 vs 2 threads): width 8, n 338: 0.37 vs 0.42
#: (22 k activations); width 32, n 128: 0.33 vs 0.32 (33 k); width 16, n 338:
#: 0.33 vs 0.27 (43 k); width 8, n 891: 0.71 vs 0.49 (57 k); width 64, n 128:
#: 0.65 vs 0.49 (66 k); width 32, n 338: 0.56 vs 0.45 (87 k). The thread count
#: does not change the results (the same bits on both settings, checked there).
CPU_ONE_THREAD_FLOPS = 4e7
CPU_ONE_THREAD_ACTIVATIONS: float | None = None
#: Tests set this to compare the hand-written backward with autograd.
_FORCE_AUTOGRAD = False
# CPU: update the flat parameters directly while every model is live and all
# share one rate (tests switch it off to compare with the general path)
_CPU_UNIFORM_RATE_PATH = True
#: The hand-written step appends a column of ones to inputs of at most this
#: many features, so the first layer's bias rides in its product (forward) and
#: its gradient (backward): no broadcast of the bias over the [P, rows, width]
#: output and no separate sum over rows. On a 2-core Intel Xeon
#: (8 models, n 891, width 64, 4 features) this takes the first layer's forward
#: from 126 to 67 us and its gradients from 119 to 69 us.
AUGMENT_INPUT_MAX_FEATURES = 32
#: Gradients of a layer with at most this many outputs are computed as
#: (g^T h)^T instead of h^T g: for a width-1 output layer over 891 rows, 44
#: instead of 183 us (the BLAS' small-N product is slow; measured on the same
#: machine, still ahead at 16 outputs, behind at 64).
NARROW_GRAD_MAX_OUTPUTS = 16
#: How the forward pass computes a width-1 output layer of a stacked
#: population: ``True`` as ``W^T h^T`` ([P, 1, width] x [P, width, rows]),
#: ``False`` as ``h W`` (``baddbmm``), ``None`` = by CPU vendor. MKL's batched
#: product with a single output column is slow on AMD CPUs: on a 2-core AMD
#: EPYC (Zen 4), 8 models, width 64, n 891: 194 vs 57 us
#: (and never slower from width 8 to 1024), while on the 2-core Intel Xeon one
#: the transposed product was 2.5x slower. The two orders round differently,
#: so the choice is fixed per machine, never timed at run time.
TRANSPOSED_WIDTH1_OUTPUT: bool | None = None


def cpu_vendor() -> str:
    """The maker of this machine's CPU, which sets two CPU-step choices.

    Read once from ``/proc/cpuinfo`` (Linux); see
    ``TRANSPOSED_WIDTH1_OUTPUT`` and ``CPU_ONE_THREAD_ACTIVATIONS``.

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


def _hardware(dev: Any) -> str:
    """What a population ran on, for result tables (the CPU model or the GPU)."""
    import os
    import platform

    import torch

    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    model = _cpuinfo().get("model name") or platform.processor() or platform.machine()
    return f"{model}, {os.cpu_count()} CPUs"


def _transposed_width1_output() -> bool:
    if TRANSPOSED_WIDTH1_OUTPUT is not None:
        return TRANSPOSED_WIDTH1_OUTPUT
    return cpu_vendor() == "amd"


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
                from teacher_student.tasks import _suggest

                raise bad(key, f"must be one of {list(allowed)}; got {getattr(self, key)!r}."
                          + _suggest(str(getattr(self, key)), list(allowed)))
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


def _seed_int(*words: Any) -> int:
    ints = [int(w) if not isinstance(w, str) else int.from_bytes(w.encode()[:8], "little")
            for w in words]
    return int(np.random.SeedSequence(ints).generate_state(1, dtype=np.uint64)[0] >> 1)


def init_weights(spec: RunSpec, d_in: int, d_out: int, cfg: TrainConfig) -> list[np.ndarray]:
    """Initial ``[W_1, b_1, ..., W_L, b_L]`` (float64 numpy) of one model.

    Drawn from the model's own seed (``spec.seed`` and its shape), so the
    same run starts from the same weights whatever population it joins.
    """
    import torch

    g = torch.Generator().manual_seed(_seed_int(spec.seed, spec.width, spec.depth, d_in, d_out,
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


_ALLOCATOR_TUNED = False


def tune_cpu_allocator() -> bool:
    """Keep freed activation buffers in the process (glibc ``mallopt``), once.

    glibc hands blocks over 128 KiB back to the OS on every free, so each
    training step page-faults its activation buffers back in; on the 2-core
    reference machine that doubled the step time of stacked populations
    (shared/docs/performance.md section 2.1; measured again here: 8.2 -> 4.0 ms
    per step at width 64, n 891, 8 models). Sets ``M_MMAP_THRESHOLD`` to 32 MiB,
    ``M_TRIM_THRESHOLD`` to 2 GiB and ``M_TOP_PAD`` to 512 MiB, the values of that
    measurement. Process-wide; skipped off glibc or when
    ``SCALELAW_NO_MALLOC_TUNING=1``.

    Returns
    -------
    bool
        Whether the setting is in effect.
    """
    global _ALLOCATOR_TUNED
    import ctypes
    import os
    import platform

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


def _act(name: str) -> Callable[[Any], Any]:
    import torch

    return {"relu": torch.relu, "tanh": torch.tanh,
            "gelu": torch.nn.functional.gelu}[name]


def _eval_schedule(steps: int, n_eval: int) -> list[int]:
    """Log-spaced evaluation steps from 1 to ``steps``; one evaluation = the last step."""
    if n_eval == 1:
        return [steps]
    pts = np.unique(np.round(np.geomspace(1, steps, n_eval)).astype(int))
    return sorted({*pts.tolist(), steps})


def _per_row_loss(h: Any, y: Any, loss: str) -> Any:
    import torch

    if loss == "mse":
        return ((h - y) ** 2).mean(dim=2)
    logq = torch.log_softmax(h, dim=2)
    return (torch.xlogy(y, y) - y * logq).sum(dim=2)  # KL(y || softmax(h))


def train_population(
    task: Task,
    specs: Sequence[RunSpec],
    cfg: TrainConfig,
    *,
    device: str | None = None,
    keep_weights: bool = False,
    should_stop: Callable[[], bool] | None = None,
) -> PopulationResult:
    """Train every run of ``specs`` (one width and depth) as one stacked model.

    Parameters
    ----------
    task : Task
        The teacher and data distribution.
    specs : sequence of RunSpec
        Runs sharing ``width`` and ``depth`` (any ``n_train`` and seeds).
    cfg : TrainConfig
        Training settings.
    device : str, optional
        ``"cuda"``/``"cpu"``; default CUDA when present.
    keep_weights : bool, default=False
        Return the final (or best, with early stopping) weights per model.
    should_stop : callable, optional
        Polled between steps; returning True raises ``KeyboardInterrupt``
        (clean interruption: nothing partial is returned).

    Returns
    -------
    PopulationResult
        Status, logged losses ``(step, split, metric, value)`` and timing.

    Examples
    --------
    >>> from teacher_student.suite import get_task
    >>> specs = [RunSpec(width=8, depth=2, n_train=64, seed=s) for s in range(3)]
    >>> cfg = TrainConfig(steps=50, eval_steps=2, n_test=256)
    >>> res = train_population(get_task("bahri-d2"), specs, cfg, device="cpu")
    >>> res.status
    ['ok', 'ok', 'ok']
    """
    import torch

    specs = list(specs)
    if not specs:
        raise TaskConfigError("train_population needs at least one run.")
    shapes = {(s.width, s.depth) for s in specs}
    if len(shapes) != 1:
        raise TaskConfigError(f"A population holds one (width, depth); got {sorted(shapes)}.")
    for s in specs:
        if s.width < 1 or s.depth < 1 or s.n_train < (0 if cfg.online else 1):
            raise TaskConfigError(f"Run {s}: width and depth must be >= 1 and n_train >= 1.")
        if s.lr is not None and not (math.isfinite(s.lr) and s.lr > 0):
            raise TaskConfigError(f"Run {s}: lr must be a positive float.")
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    threads = torch.get_num_threads()
    if dev.type == "cpu":
        tune_cpu_allocator()
        rows = cfg.batch_size if (cfg.online or cfg.batch_size) else max(s.n_train for s in specs)
        flops = 6.0 * n_params(task.ambient_dim, specs[0].width, specs[0].depth,
                               task.n_outputs) * rows * len(specs)
        acts = len(specs) * rows * specs[0].width
        max_acts = CPU_ONE_THREAD_ACTIVATIONS
        if max_acts is None:
            max_acts = 4e4 if cpu_vendor() == "amd" else 1e5
        if flops < CPU_ONE_THREAD_FLOPS and acts < max_acts:
            torch.set_num_threads(1)
    try:
        return _train(task, specs, cfg, dev, keep_weights, should_stop)
    finally:
        torch.set_num_threads(threads)


def _train(task: Task, specs: list[RunSpec], cfg: TrainConfig, dev: Any, keep_weights: bool,
           should_stop: Callable[[], bool] | None) -> PopulationResult:
    import torch
    from torch.optim.adam import adam as adam_fn

    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = bool(cfg.allow_tf32)
    dtype = torch.float64 if cfg.dtype == "float64" else torch.float32
    t0 = time.perf_counter()
    P = len(specs)
    width, depth = specs[0].width, specs[0].depth
    d_in, d_out = task.ambient_dim, task.n_outputs
    act = _act(cfg.activation)

    # ---------------------------------------------------------- parameters
    inits = [init_weights(s, d_in, d_out, cfg) for s in specs]
    n_layers = depth + 1
    # All parameters live in one flat buffer, and so do their gradients, Adam's
    # moments and the steps (the fused Adam kernel then runs once per step).
    # The first layer's weights [P, d_in, fan_out] and bias [P, 1, fan_out]
    # share one block [P, d_in + 1, fan_out] (bias = last row): the hand-written
    # step multiplies inputs with a ones column by it directly.
    shapes = [(P, *inits[0][j].shape) for j in range(2 * n_layers)]
    fan0 = shapes[0][2]
    block0 = P * (d_in + 1) * fan0
    n_flat = block0 + sum(math.prod(sh) for sh in shapes[2:])

    def flat_views(buf: Any) -> list[Any]:
        first = buf[:block0].view(P, d_in + 1, fan0)
        out, at = [first[:, :d_in], first[:, d_in:]], block0
        for sh in shapes[2:]:
            out.append(buf[at:at + math.prod(sh)].view(sh))
            at += math.prod(sh)
        return out

    param_flat = torch.empty(n_flat, dtype=dtype, device=dev)
    params = flat_views(param_flat)
    for j, p in enumerate(params):
        p.copy_(torch.as_tensor(np.stack([w[j] for w in inits])))
        p.requires_grad_(True)
    lr_mult = []
    for k in range(n_layers):
        m = 1.0
        if cfg.parameterization == "mup" and k > 0:
            m = cfg.base_width / width
        lr_mult += [m, m]

    # ---------------------------------------------------------------- data
    n_tr = np.array([s.n_train for s in specs])
    n_max = int(n_tr.max()) if not cfg.online else 0
    data_keys = [(s.data_seed, s.data_seed if s.noise_seed is None else s.noise_seed)
                 for s in specs]
    uniq = sorted(set(data_keys))
    which = torch.tensor([uniq.index(k) for k in data_keys], device=dev)
    n_test = cfg.n_test or task.n_test

    def as_t(a: np.ndarray) -> Any:
        return torch.as_tensor(np.ascontiguousarray(a), dtype=dtype, device=dev)

    test_x = {}
    test_y = {}
    for ds, _ns in uniq:
        if ds not in test_x:
            x = sample_inputs(task, n_test, ds, split="test")
            test_x[ds], test_y[ds] = as_t(x), as_t(teacher_outputs(task, x))
    xt = torch.stack([test_x[ds] for ds, _ in uniq])  # [U, n_test, d]
    yt = torch.stack([test_y[ds] for ds, _ in uniq])
    if not cfg.online:
        xs, ys = [], []
        for ds, ns in uniq:
            x = sample_inputs(task, n_max, ds, split="train")
            y = _noisy(task, teacher_outputs(task, x), ns, "train", 0)
            xs.append(as_t(x))
            ys.append(as_t(y))
        xu, yu = torch.stack(xs), torch.stack(ys)  # [U, n_max, d]
        x_full, y_full = xu[which], yu[which]  # [P, n_max, d], gathered once
        rows = torch.arange(n_max, device=dev)[None, :]
        n_t = torch.as_tensor(n_tr, device=dev)[:, None]
        row_w = ((rows < n_t).to(dtype) / n_t.to(dtype))[:, :, None]  # [P, n_max, 1]
        row_w2 = row_w[:, :, 0].contiguous()
    if cfg.early_stopping:
        vx, vy = [], []
        for ds, ns in uniq:
            x, y = validation_set(task, cfg.n_val, ds, noise_seed=ns)
            vx.append(as_t(x))
            vy.append(as_t(y))
        xv, yv = torch.stack(vx), torch.stack(vy)

    # -------------------------------------------------------------- helpers
    low = torch.bfloat16 if cfg.bf16_matmul else None
    # a width-1 output as [P, 1, width] x [P, width, rows] (see TRANSPOSED_WIDTH1_OUTPUT)
    out_t = (low is None and d_out == 1 and P > 1 and dev.type == "cpu"
             and _transposed_width1_output())

    def mm(a: Any, b: Any) -> Any:
        if low is None:
            return torch.bmm(a, b)
        return torch.bmm(a.to(low), b.to(low)).to(dtype)

    def forward(h: Any, acts: list[Any] | None = None, bufs: list[Any] | None = None,
                aug: tuple[Any, Any] | None = None) -> Any:
        """Outputs [P, n, out]; hidden activations are appended to ``acts``.

        With ``bufs`` (one preallocated tensor per layer, no autograd) the
        layers write into them and the activation runs in place, so a training
        step reuses the same memory every step. ``aug`` = (inputs with a ones
        column, first layer's weights with its bias as the last row) makes the
        first layer one product.
        """
        for k in range(n_layers):
            if low is not None:
                h = mm(h, params[2 * k]) + params[2 * k + 1]
            elif k == 0 and aug is not None:
                h = torch.bmm(aug[0], aug[1], out=bufs[0])
            elif k == n_layers - 1 and out_t:
                # [P, 1, rows] has the memory order of [P, rows, 1]
                w_t, h_t = params[2 * k].transpose(1, 2), h.transpose(1, 2)
                if bufs is None:
                    h = torch.bmm(w_t, h_t).view(P, -1, 1) + params[2 * k + 1]
                else:
                    torch.bmm(w_t, h_t, out=bufs[k].view(P, 1, h.shape[1]))
                    h = bufs[k].add_(params[2 * k + 1])
            elif bufs is not None:
                h = torch.baddbmm(params[2 * k + 1], h, params[2 * k], out=bufs[k])
            else:
                h = torch.baddbmm(params[2 * k + 1], h, params[2 * k])
            if k < n_layers - 1:
                if bufs is not None and low is None:
                    h = h.clamp_min_(0) if cfg.activation == "relu" else h.tanh_()
                else:
                    h = act(h)
                if acts is not None:
                    acts.append(h)
        return h

    def mean_loss(x_u: Any, y_u: Any, chunk: int = 4096) -> Any:
        """Per-model mean loss on a per-data-seed set [U, n, d] (chunked rows)."""
        total = torch.zeros(P, dtype=dtype, device=dev)
        n = x_u.shape[1]
        with torch.no_grad():
            for a in range(0, n, chunk):
                xb = x_u[which, a:a + chunk]
                yb = y_u[which, a:a + chunk]
                total += _per_row_loss(forward(xb), yb, task.loss).sum(dim=1)
        return total / n

    def train_loss_full() -> Any:
        with torch.no_grad():
            per = _per_row_loss(forward(x_full), y_full, task.loss)
            return (per * row_w2).sum(dim=1)

    # mini-batch indices: per-model generators, drawn in chunks of steps
    gens = [torch.Generator().manual_seed(_seed_int(s.seed, s.data_seed, s.n_train, s.width,
                                                    s.depth, "batches")) for s in specs]
    chunk_steps = 256

    def batch_indices(start: int, count: int) -> Any:
        cols = []
        for s, g in zip(specs, gens, strict=True):
            u = torch.rand(count, cfg.batch_size, generator=g, dtype=torch.float64)
            cols.append(torch.floor(u * s.n_train).long())
        return torch.stack(cols, dim=1).to(dev)  # [count, P, B]

    def online_chunk(start_step: int, count: int) -> tuple[Any, Any]:
        xs_, ys_ = [], []
        for ds, ns in uniq:
            z = _rows(task, ds, "online", start_step * cfg.batch_size, count * cfg.batch_size)
            x = _embed(task, z)
            y = _noisy(task, teacher_outputs(task, x), ns, "online",
                       start_step * cfg.batch_size)
            xs_.append(as_t(x).reshape(count, cfg.batch_size, -1))
            ys_.append(as_t(y).reshape(count, cfg.batch_size, -1))
        return torch.stack(xs_, dim=1), torch.stack(ys_, dim=1)  # [count, U, B, d]

    # ----------------------------------------------------------- optimiser
    lr_model = torch.tensor([(s.lr if s.lr is not None else cfg.lr) / cfg.lr for s in specs],
                            dtype=dtype, device=dev).view(P, 1, 1)
    # On a CPU, while every model is live and all share one rate (one lr, no
    # muP factor), the optimiser updates the flat parameters directly: no
    # per-model rates, no step buffer (2-10 % faster steps on the small cells
    # of the 2-core grid). On a GPU the general path stays: it needs no host
    # check, so one captured step serves every step.
    run_lrs = {s.lr if s.lr is not None else cfg.lr for s in specs}
    uniform_rate = (dev.type == "cpu" and _CPU_UNIFORM_RATE_PATH and len(run_lrs) == 1
                    and all(m == 1.0 for m in lr_mult))
    shared_lr = min(run_lrs)  # the one rate, when uniform_rate
    lr_now = [0.0]  # this step's rate (shared lr x schedule), host side
    # Adam: PyTorch's fused kernel (one pass over the flat buffers) writes the
    # unit-rate step -m_hat / (sqrt(v_hat) + eps) into zeroed ``delta_flat``; the
    # per-model rates [P, 1, 1] (schedule x run lr x live mask x muP factor)
    # scale its per-layer views ``deltas``.
    m_flat, v_flat, delta_flat, grad_flat = (
        torch.zeros(n_flat, dtype=dtype, device=dev) for _ in range(4))
    deltas, grad_views = flat_views(delta_flat), flat_views(grad_flat)
    adam_step = torch.zeros((), dtype=torch.float32, device=dev)
    b1, b2, eps = 0.9, 0.999, 1e-8
    active = torch.ones(P, dtype=torch.bool, device=dev)
    stopped = torch.zeros(P, dtype=torch.bool, device=dev)
    # steps with a finite loss so far: a diverged model's count is the step at
    # which it diverged (it is frozen from then on)
    live_steps = torch.zeros(P, dtype=torch.long, device=dev)

    def diverged() -> Any:
        """Frozen but not early-stopped: the loss stopped being finite."""
        return ~active & ~stopped

    stop_step = torch.full((P,), cfg.steps, dtype=torch.long, device=dev)
    best_val = torch.full((P,), math.inf, dtype=dtype, device=dev)
    best_params = [p.detach().clone() for p in params] if cfg.early_stopping else None
    since_best = torch.zeros(P, dtype=torch.long, device=dev)
    log: list[list[tuple[int, str, str, float]]] = [[] for _ in range(P)]
    evals = set(_eval_schedule(cfg.steps, cfg.eval_steps))

    def record(step: int) -> None:
        tr = mean_loss_online_free() if cfg.online else train_loss_full()
        te = mean_loss(xt, yt)
        vals = [("train", tr), ("test", te)]
        if cfg.early_stopping:
            va = mean_loss(xv, yv)
            vals.append(("val", va))
        host = {k: v.detach().cpu().numpy() for k, v in vals}
        bad = diverged().cpu().numpy()
        for i in range(P):
            for split, arr in host.items():
                log[i].append((step, split, "loss", float("nan") if bad[i] else float(arr[i])))

    def mean_loss_online_free() -> Any:
        # online mode: "train" loss = loss on the most recent batch
        return last_batch_loss.detach()

    last_batch_loss = torch.zeros(P, dtype=dtype, device=dev)
    manual = cfg.activation in ("relu", "tanh") and not _FORCE_AUTOGRAD
    if manual:  # the hand-written backward below needs no autograd graph
        for p in params:
            p.requires_grad_(False)
    rows_per_step = cfg.batch_size if (cfg.online or cfg.batch_size) else 0
    static_inputs = rows_per_step == 0  # full batch: the step sees x_full every time
    row_const = (torch.full((P, rows_per_step), 1.0 / rows_per_step, dtype=dtype, device=dev)
                 if rows_per_step else None)
    # the step-dependent number as a device scalar, so one captured step serves all
    s_lr = torch.zeros((), dtype=dtype, device=dev)
    if cfg.online:
        xb_buf = torch.zeros((P, cfg.batch_size, d_in), dtype=dtype, device=dev)
        yb_buf = torch.zeros((P, cfg.batch_size, d_out), dtype=dtype, device=dev)
    if cfg.batch_size and not cfg.online:
        idx_buf = torch.zeros((P, cfg.batch_size), dtype=torch.long, device=dev)

    def check(per: Any) -> Any:
        """Freeze models whose loss stopped being finite; return the live mask."""
        active.logical_and_(torch.isfinite(per))
        live_steps.add_(active)
        if cfg.online:
            last_batch_loss.copy_(per.detach())
        return active

    step_bufs: dict[str, Any] = {}  # hand-written step: activation and gradient buffers

    def step_grads(xb: Any, yb: Any, rw: Any) -> list[Any]:
        """Gradients of the summed per-model losses (``check`` records the losses)."""
        if not manual:
            per = (_per_row_loss(forward(xb), yb, task.loss) * rw).sum(dim=1)
            live = check(per)
            safe = torch.where(live, per, torch.zeros_like(per))
            return list(torch.autograd.grad(safe.sum(), params))
        with torch.no_grad():
            rows_now = xb.shape[1]
            if step_bufs.get("rows") != rows_now:  # the same shape every step
                step_bufs["rows"] = rows_now
                step_bufs["fwd"] = None if low is not None else [
                    torch.empty((P, rows_now, p.shape[2]), dtype=dtype, device=dev)
                    for p in params[0::2]]
                step_bufs["bwd"] = [None] * (n_layers - 1)  # made on first use
                step_bufs["grads"] = grad_views
                # (g^T h) products of narrow layers, [P, out, in], made on first use
                step_bufs["narrow"] = [None] * n_layers
                step_bufs["aug"] = None
                step_bufs["aug_filled"] = False
                step_bufs["w_scaled"] = None
                if low is None and d_in <= AUGMENT_INPUT_MAX_FEATURES:
                    # (inputs with a ones column, first layer's block, its gradient)
                    step_bufs["aug"] = (
                        torch.ones((P, rows_now, d_in + 1), dtype=dtype, device=dev),
                        param_flat[:block0].view(P, d_in + 1, fan0),
                        grad_flat[:block0].view(P, d_in + 1, fan0))
            aug = step_bufs["aug"]
            # full batch: the same inputs every step, copied once
            if aug is not None and not (static_inputs and step_bufs["aug_filled"]):
                aug[0][:, :, :d_in].copy_(xb)
                step_bufs["aug_filled"] = True
            hs = [xb]
            out = forward(xb, hs, step_bufs["fwd"], None if aug is None else aug[:2])
            if task.loss == "mse":
                if step_bufs.get("rw_of") is not rw:  # the same row weights every step
                    step_bufs["rw_of"] = rw
                    step_bufs["rw_g"] = (rw * (2.0 / d_out))[:, :, None]
                diff = out - yb
                g = diff * step_bufs["rw_g"]
                # sum_r rw_r mean_j diff_rj^2 = (sum of g * diff) / 2
                per = torch.linalg.vecdot(g.view(P, -1), diff.view(P, -1)).mul_(0.5)
            else:
                logq = torch.log_softmax(out, dim=2)
                per = ((torch.xlogy(yb, yb) - yb * logq).sum(dim=2) * rw).sum(dim=1)
                g = (logq.exp() - yb) * rw[:, :, None]
            live = check(per)
            g.mul_(live.view(P, 1, 1))
            grads: list[Any] = step_bufs["grads"]
            narrow = step_bufs["narrow"]
            # A width-1 output layer with ReLU below: the gradient at the last
            # hidden layer is (h > 0) * g w^T = M diag(w), M = (h > 0) * g (g
            # broadcast over columns). M is written in one pass; diag(w) goes
            # into the next layer's small matrices (its gradients and W diag(w)).
            col_scale = None
            for k in reversed(range(n_layers)):
                if k == 0 and aug is not None:  # weights and bias in one product
                    torch.bmm(aug[0].transpose(1, 2), g, out=aug[2])
                else:
                    torch.sum(g, dim=1, keepdim=True, out=grads[2 * k + 1])
                    if low is not None:
                        grads[2 * k].copy_(mm(hs[k].transpose(1, 2), g))
                    elif g.shape[2] > NARROW_GRAD_MAX_OUTPUTS:
                        torch.bmm(hs[k].transpose(1, 2), g, out=grads[2 * k])
                    elif g.shape[2] == 1 and grads[2 * k].is_contiguous():
                        # [P, in, 1] and [P, 1, in] share one memory order
                        torch.bmm(g.transpose(1, 2), hs[k], out=grads[2 * k].view(
                            P, 1, grads[2 * k].shape[1]))
                    else:  # (g^T h)^T
                        if narrow[k] is None:
                            narrow[k] = torch.empty((P, g.shape[2], hs[k].shape[2]),
                                                    dtype=dtype, device=dev)
                        torch.bmm(g.transpose(1, 2), hs[k], out=narrow[k])
                        grads[2 * k].copy_(narrow[k].transpose(1, 2))
                w_k = params[2 * k]
                if col_scale is not None:  # g above was M: scale by diag(w)
                    if k == 0 and aug is not None:
                        aug[2].mul_(col_scale)
                    else:
                        grads[2 * k].mul_(col_scale)
                        grads[2 * k + 1].mul_(col_scale)
                    if k > 0:  # into a kept buffer: a fresh one cost ~0.1 ms per step
                        if step_bufs.get("w_scaled") is None:
                            step_bufs["w_scaled"] = torch.empty_like(w_k)
                        w_k = torch.mul(w_k, col_scale, out=step_bufs["w_scaled"])
                    col_scale = None
                if k > 0:
                    if low is None and g.shape[2] == 1 and cfg.activation == "relu":
                        # M overwrites this layer's activations, which nothing
                        # reads afterwards (fewer buffers: 1.02-1.06x at width
                        # 64, n 891 on 2 cores)
                        gb = hs[k]
                        torch.ops.aten.threshold_backward.grad_input(
                            g.expand(-1, -1, gb.shape[2]), hs[k], 0, grad_input=gb)
                        col_scale = w_k.transpose(1, 2)
                        g = gb
                        continue
                    gb = step_bufs["bwd"][k - 1]
                    if gb is None:
                        gb = step_bufs["bwd"][k - 1] = torch.empty(
                            (P, rows_now, width), dtype=dtype, device=dev)
                    if low is None and g.shape[2] == 1:  # an outer product
                        torch.mul(g, w_k.transpose(1, 2), out=gb)
                    elif low is None:
                        torch.bmm(g, w_k.transpose(1, 2), out=gb)
                    else:
                        gb.copy_(mm(g, w_k.transpose(1, 2)))
                    if cfg.activation == "relu":  # one fused pass, as autograd does
                        torch.ops.aten.threshold_backward.grad_input(gb, hs[k], 0,
                                                                     grad_input=gb)
                    else:
                        gb.mul_(1 - hs[k] * hs[k])
                    g = gb
            return grads

    def train_step() -> None:
        """One optimiser step of every model (reads only device buffers)."""
        if cfg.online:
            xb, yb, rw = xb_buf, yb_buf, row_const
        elif cfg.batch_size:
            xb = torch.gather(x_full, 1, idx_buf[:, :, None].expand(-1, -1, d_in))
            yb = torch.gather(y_full, 1, idx_buf[:, :, None].expand(-1, -1, d_out))
            rw = row_const
        else:
            xb, yb, rw = x_full, y_full, row_w2
        grads = step_grads(xb, yb, rw)
        with torch.no_grad():
            # direct: one shared rate applied inside the optimiser; otherwise
            # per-model step sizes [P, 1, 1] (frozen (stopped or diverged) models
            # get 0, and a diverged model's non-finite state never reaches
            # another model)
            direct = uniform_rate and bool(active.all())
            if not direct:
                base = torch.mul(lr_model, s_lr).mul_(active.view(P, 1, 1))
                rates = [base if mult == 1.0 else base * mult for mult in lr_mult]
            if cfg.optimizer == "adam":
                if grads[0].data_ptr() != grad_flat.data_ptr():  # autograd's own tensors
                    torch._foreach_copy_(grad_views, grads)
                if not direct:
                    delta_flat.zero_()
                adam_fn([param_flat if direct else delta_flat], [grad_flat], [m_flat], [v_flat],
                        [], [adam_step], fused=True, amsgrad=False, beta1=b1, beta2=b2,
                        lr=lr_now[0] if direct else 1.0, weight_decay=0.0, eps=eps,
                        maximize=False)
                if not direct:
                    torch._foreach_addcmul_(params, deltas, rates)
            elif direct:
                torch._foreach_add_(params, grads, alpha=-lr_now[0])
            else:
                torch._foreach_addcmul_(params, grads, rates, value=-1.0)

    use_graph = (dev.type == "cuda" and cfg.cuda_graphs and manual and cfg.steps > 4)
    graph = None
    side = torch.cuda.Stream() if use_graph else None
    bidx = None
    obatch = None
    for step in range(cfg.steps):
        if should_stop is not None and step % 16 == 0 and should_stop():
            raise KeyboardInterrupt
        j = step % chunk_steps
        sched = 0.5 * (1 + math.cos(math.pi * step / cfg.steps)) \
            if cfg.schedule == "cosine" else 1.0
        s_lr.fill_(cfg.lr * sched)
        if uniform_rate:
            lr_now[0] = shared_lr * sched
        if cfg.online:
            if j == 0:
                obatch = online_chunk(step, min(chunk_steps, cfg.steps - step))
            xb_buf.copy_(obatch[0][j][which])
            yb_buf.copy_(obatch[1][j][which])
        elif cfg.batch_size:
            if j == 0:
                bidx = batch_indices(step, min(chunk_steps, cfg.steps - step))
            idx_buf.copy_(bidx[j])
        if not use_graph:
            train_step()
        elif step < 3:  # warm-up steps (real steps) on a side stream, as capture needs
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                train_step()
            torch.cuda.current_stream().wait_stream(side)
        else:
            if graph is None:
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph):
                    train_step()  # recorded, not run
            graph.replay()
        if step + 1 in evals:
            if cfg.early_stopping:
                va = mean_loss(xv, yv)
                improved = active & (va < best_val)
                best_val.copy_(torch.where(improved, va, best_val))
                since_best.copy_(torch.where(improved, torch.zeros_like(since_best),
                                             since_best + active.long()))
                for bp, p in zip(best_params, params, strict=True):
                    bp.copy_(torch.where(improved.view(P, 1, 1), p.detach(), bp))
                newly_stopped = active & (since_best >= cfg.patience)
                stopped.logical_or_(newly_stopped)
                stop_step.copy_(torch.where(newly_stopped,
                                            torch.full_like(stop_step, step + 1), stop_step))
                active.logical_and_(~newly_stopped)
            record(step + 1)
    if cfg.early_stopping:
        with torch.no_grad():
            keep = (~diverged()).view(P, 1, 1)
            for bp, p in zip(best_params, params, strict=True):
                p.copy_(torch.where(keep, bp, p))
        final_test = mean_loss(xt, yt).cpu().numpy()
        final_val = best_val.cpu().numpy()
        bad = diverged().cpu().numpy()
        for i in range(P):
            if not bad[i]:
                log[i].append((cfg.steps, "test", "loss_best_val", float(final_test[i])))
                log[i].append((cfg.steps, "val", "loss_best_val", float(final_val[i])))
    if dev.type == "cuda":
        torch.cuda.synchronize()
    bad = diverged()
    stop_step.copy_(torch.where(bad, live_steps, stop_step))
    status = ["diverged" if d else ("early_stopped" if s else "ok")
              for d, s in zip(bad.cpu().tolist(), stopped.cpu().tolist(), strict=True)]
    weights = None
    if keep_weights:
        weights = [[p.detach()[i].cpu().numpy().astype(np.float64) for p in params]
                   for i in range(P)]
    return PopulationResult(
        specs=specs, status=status, stop_step=stop_step.cpu().tolist(), rows=log,
        wall_time_s=time.perf_counter() - t0, device=str(dev), population_size=P,
        final_weights=weights, hardware=_hardware(dev),
    )
