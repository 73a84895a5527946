"""Population training: equivalence with solo training, isolation, determinism."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from teacher_student.population import (  # noqa: E402
    RunSpec,
    TrainConfig,
    init_weights,
    n_params,
    train_population,
)
from teacher_student.suite import get_task  # noqa: E402
from teacher_student.tasks import TaskConfigError, sample_inputs, teacher_outputs  # noqa: E402

TASK = get_task("bahri-d2")


def _values(res, i):
    return np.array([r[3] for r in res.rows[i]])


@pytest.mark.parametrize("batch_size", [0, 16])
def test_population_equals_each_model_alone_float64(batch_size):
    specs = [RunSpec(16, 2, 64, 0), RunSpec(16, 2, 200, 1), RunSpec(16, 2, 128, 2, data_seed=1),
             RunSpec(16, 2, 100, 3, lr=1e-2)]
    cfg = TrainConfig(steps=150, lr=3e-3, eval_steps=3, n_test=400, dtype="float64",
                      batch_size=batch_size)
    pop = train_population(TASK, specs, cfg, device="cpu")
    for i, s in enumerate(specs):
        solo = train_population(TASK, [s], cfg, device="cpu")
        # stacked matmuls reassociate nothing within a model: equal to rounding
        np.testing.assert_allclose(_values(pop, i), _values(solo, 0), rtol=1e-12, atol=0)


def _plain_loop(spec, cfg, make_opt):
    """The same run as a plain PyTorch loop (float64); final train and test loss."""
    w = init_weights(spec, 2, 1, cfg)
    net = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 16),
                              torch.nn.ReLU(), torch.nn.Linear(16, 1)).double()
    with torch.no_grad():
        for k, lin in enumerate([net[0], net[2], net[4]]):
            lin.weight.copy_(torch.tensor(w[2 * k].T))
            lin.bias.copy_(torch.tensor(w[2 * k + 1][0]))
    x = torch.tensor(sample_inputs(TASK, spec.n_train, 0))
    y = torch.tensor(teacher_outputs(TASK, x.numpy()))
    opt = make_opt(net.parameters())
    sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.steps)
             if cfg.schedule == "cosine" else None)
    for _ in range(cfg.steps):
        opt.zero_grad()
        ((net(x) - y) ** 2).mean().backward()
        opt.step()
        if sched is not None:
            sched.step()
    xt = torch.tensor(sample_inputs(TASK, cfg.n_test, 0, split="test"))
    yt = torch.tensor(teacher_outputs(TASK, xt.numpy()))
    with torch.no_grad():
        return [((net(x) - y) ** 2).mean().item(), ((net(xt) - yt) ** 2).mean().item()]


def test_population_matches_a_plain_pytorch_loop():
    spec = RunSpec(16, 2, 200, 1)
    cfg = TrainConfig(steps=200, lr=3e-3, eval_steps=2, n_test=500, dtype="float64")
    pop = train_population(TASK, [RunSpec(16, 2, 64, 0), spec], cfg, device="cpu")
    ref = _plain_loop(spec, cfg, lambda p: torch.optim.Adam(p, lr=3e-3))
    final = {r[1]: r[3] for r in pop.rows[1] if r[0] == 200}
    # float64; PyTorch's fused Adam kernel against the loop's default
    # (foreach) one: rounding-level differences over 200 steps, far below 1e-9
    np.testing.assert_allclose([final["train"], final["test"]], ref, rtol=1e-9)


def test_sgd_population_matches_a_plain_pytorch_loop():
    spec = RunSpec(16, 2, 150, 2, lr=0.05)
    cfg = TrainConfig(steps=120, lr=0.02, optimizer="sgd", schedule="constant", eval_steps=2,
                      n_test=300, dtype="float64")
    pop = train_population(TASK, [RunSpec(16, 2, 64, 0), spec], cfg, device="cpu")
    ref = _plain_loop(spec, cfg, lambda p: torch.optim.SGD(p, lr=0.05))  # the run's own lr
    final = {r[1]: r[3] for r in pop.rows[1] if r[0] == 120}
    # float64, the same products summed in another order: rounding-level
    # differences (~1e-15 per step) over 120 steps stay far below 1e-9
    np.testing.assert_allclose([final["train"], final["test"]], ref, rtol=1e-9)


def test_thread_policy_chooses_one_thread_for_small_cpu_populations(monkeypatch):
    from teacher_student.engine import settings

    # ~40 kFLOP and 256 activations per step: one thread; costly in FLOPs or in
    # activations: the caller's threads
    assert settings.cpu_threads_for(4e4, 256, 2) == 1
    assert settings.cpu_threads_for(settings.CPU_ONE_THREAD_FLOPS * 2, 256, 2) == 2
    assert settings.cpu_threads_for(4e4, 2e5, 2) == 2
    # the activation threshold follows the CPU maker: 8 models of width 64 on
    # 128 rows (66 k activations) sit between AMD's 4e4 and Intel's 1e5
    for vendor, threads in (("amd", 2), ("intel", 1), ("other", 1)):
        monkeypatch.setattr(settings, "cpu_vendor", lambda v=vendor: v)
        assert settings.cpu_threads_for(28e6, 8 * 128 * 64, 2) == threads, vendor


def test_training_leaves_the_thread_setting_as_it_found_it():
    before = torch.get_num_threads()
    cfg = TrainConfig(steps=5, eval_steps=1, n_test=50)
    train_population(TASK, [RunSpec(8, 2, 32, 0)], cfg, device="cpu")  # runs on 1 thread
    assert torch.get_num_threads() == before
    with pytest.raises(KeyboardInterrupt):  # restored when training is interrupted too
        train_population(TASK, [RunSpec(8, 2, 32, 0)], cfg, device="cpu",
                         should_stop=lambda: True)
    assert torch.get_num_threads() == before
    tf32 = torch.backends.cuda.matmul.allow_tf32
    train_population(TASK, [RunSpec(8, 2, 32, 0)], TrainConfig(steps=2, eval_steps=1,
                                                                n_test=50, allow_tf32=True),
                     device="cpu")
    assert torch.backends.cuda.matmul.allow_tf32 == tf32  # a CPU run never touches it


@pytest.mark.parametrize("activation", ["relu", "gelu"])  # hand-written step; autograd
def test_transposed_width1_output_equals_the_plain_product(monkeypatch, activation):
    # W^T h^T and h W are the same sums in another order: float64 results
    # agree to rounding (1e-10 over 40 steps); a wrong transpose or a lost
    # bias changes the losses at the first logged step by far more
    from teacher_student.engine import settings

    specs = [RunSpec(8, 2, 50, 0), RunSpec(8, 2, 80, 1)]
    cfg = TrainConfig(steps=40, eval_steps=2, n_test=200, dtype="float64",
                      activation=activation)
    out = {}
    for flag in (True, False):
        monkeypatch.setattr(settings, "TRANSPOSED_WIDTH1_OUTPUT", flag)
        out[flag] = train_population(TASK, specs, cfg, device="cpu")
    for i in range(2):
        np.testing.assert_allclose(_values(out[True], i), _values(out[False], i), rtol=1e-10)


def test_the_transposed_forward_pass_equals_each_model_alone(monkeypatch):
    # the network's output with the transposed width-1 layer, against each
    # model's own h W + b in float64 (1e-12: rounding only)
    from teacher_student.engine import settings
    from teacher_student.engine.state import FlatParams
    from teacher_student.engine.step import Network

    monkeypatch.setattr(settings, "TRANSPOSED_WIDTH1_OUTPUT", True)
    cfg = TrainConfig(dtype="float64")
    inits = [init_weights(RunSpec(8, 2, 10, s), 2, 1, cfg) for s in range(3)]
    net = Network(FlatParams(inits, 2, torch.float64, torch.device("cpu")), "relu", False, 1)
    assert net.out_t
    x = torch.rand(3, 7, 2, dtype=torch.float64)
    got = net(x)
    for i, w in enumerate(inits):
        h = x[i].numpy()
        for k in range(0, len(w) - 2, 2):
            h = np.maximum(h @ w[k] + w[k + 1], 0.0)
        np.testing.assert_allclose(got[i].numpy(), h @ w[-2] + w[-1], rtol=1e-12)

def test_divergence_is_isolated():
    good = [RunSpec(16, 2, 100, s) for s in range(3)]
    bad = RunSpec(16, 2, 100, 9, lr=1e60)  # weights ~1e60: the loss overflows to inf
    cfg = TrainConfig(steps=100, lr=3e-3, eval_steps=3, n_test=300, dtype="float64",
                      schedule="constant")
    with_bad = train_population(TASK, [good[0], bad, good[1], good[2]], cfg, device="cpu")
    without = train_population(TASK, good, cfg, device="cpu")
    assert with_bad.status == ["ok", "diverged", "ok", "ok"]
    # step 0's loss is finite (initial weights); its Adam step of ~1e60 makes
    # the outputs ~1e180 and the squared error overflow at step 1
    assert with_bad.stop_step == [100, 1, 100, 100]
    assert np.isnan(_values(with_bad, 1)[-1])
    for a, b in ((0, 0), (2, 1), (3, 2)):
        np.testing.assert_allclose(_values(with_bad, a), _values(without, b), rtol=1e-12)


def test_a_loss_that_blows_up_without_overflowing_is_divergence():
    # lr = 1e3 with Adam: steps of ~1e3 per weight; the loss stays finite (1e10
    # and more) but passes 1e4 times the first step's loss within a few steps,
    # which the engine's rule calls divergence (teacher_student.engine.monitor)
    from teacher_student.engine.monitor import DIVERGENCE_RATIO

    specs = [RunSpec(16, 2, 100, 0), RunSpec(16, 2, 100, 1, lr=1e3)]
    cfg = TrainConfig(steps=50, lr=3e-3, eval_steps=3, n_test=300, schedule="constant")
    res = train_population(TASK, specs, cfg, device="cpu")
    assert res.status == ["ok", "diverged"]
    assert 1 <= res.stop_step[1] < 10
    assert np.isnan(_values(res, 1)[-1]) and np.isfinite(_values(res, 0)[-1])
    assert DIVERGENCE_RATIO == 1e4  # the stated rule (README, engine docs)


def test_determinism_and_float32_on_cpu():
    specs = [RunSpec(8, 3, 128, s) for s in range(2)]
    cfg = TrainConfig(steps=60, eval_steps=2, n_test=200, batch_size=32)
    a = train_population(TASK, specs, cfg, device="cpu")
    b = train_population(TASK, specs, cfg, device="cpu")
    assert a.rows == b.rows


def test_early_stopping_keeps_best_weights():
    t = get_task("bahri-d4")
    specs = [RunSpec(64, 2, 32, s) for s in range(3)]  # tiny data: overfits
    cfg = TrainConfig(steps=600, lr=1e-2, eval_steps=30, n_test=500, early_stopping=True,
                      patience=3, n_val=300, schedule="constant")
    res = train_population(t, specs, cfg, device="cpu")
    assert "early_stopped" in res.status
    for i in range(3):
        val = [r for r in res.rows[i] if r[1] == "val" and r[2] == "loss"]
        best = next(r for r in res.rows[i] if r[2] == "loss_best_val" and r[1] == "val")[3]
        assert best == pytest.approx(min(v[3] for v in val), rel=1e-6)


@pytest.mark.parametrize("case", ["adam", "sgd", "early-stopping"])
def test_cpu_uniform_rate_path_equals_the_general_path(monkeypatch, case):
    # On a CPU, while all models are live and share one rate, the optimiser
    # updates the flat parameters directly; otherwise (per-model rates, or a
    # frozen model) it scales a unit-rate step per model. Both must train
    # alike: float64, the same Adam kernel with the rate applied inside or
    # outside it, so rounding-level differences only (1e-10 over 120-600 steps).
    # With early stopping, models stop one by one, so the run switches paths.
    from teacher_student.engine import settings

    if case == "early-stopping":
        t = get_task("bahri-d4")
        specs = [RunSpec(64, 2, 32, s) for s in range(3)]
        cfg = TrainConfig(steps=600, lr=1e-2, eval_steps=30, n_test=300, early_stopping=True,
                          patience=3, n_val=300, schedule="constant", dtype="float64")
    else:
        t = TASK
        specs = [RunSpec(16, 2, n, s) for s, n in enumerate((64, 200, 128))]
        cfg = TrainConfig(steps=120, lr=3e-3 if case == "adam" else 0.05, optimizer=case,
                          eval_steps=3, n_test=300, dtype="float64")
    fast = train_population(t, specs, cfg, device="cpu")
    monkeypatch.setattr(settings, "CPU_UNIFORM_RATE_PATH", False)
    ref = train_population(t, specs, cfg, device="cpu")
    assert fast.status == ref.status and fast.stop_step == ref.stop_step
    if case == "early-stopping":  # the paths switch once a model has stopped
        assert "early_stopped" in fast.status and min(fast.stop_step) < cfg.steps
    for i in range(len(specs)):
        np.testing.assert_allclose(_values(fast, i), _values(ref, i), rtol=1e-10)

def test_online_mode_and_cross_entropy():
    t = get_task("sk-k3-ce")
    specs = [RunSpec(8, 2, 0, s) for s in range(2)]
    cfg = TrainConfig(steps=80, lr=1e-2, eval_steps=2, n_test=500, batch_size=64, online=True)
    res = train_population(t, specs, cfg, device="cpu")
    first, last = ([r[3] for r in res.rows[0] if r[1] == "test"][k] for k in (0, -1))
    assert res.status == ["ok", "ok"] and last < first and last >= 0  # KL is >= 0


def test_mup_parameterisation_scales_output_init():
    cfg = TrainConfig(parameterization="mup")
    w = init_weights(RunSpec(256, 2, 10, 0), 4, 1, cfg)
    assert abs(w[-2].std() - 1 / 256) < 0.2 / 256  # output weights N(0, 1/width^2)
    assert abs(w[0].std() - 0.5) < 0.05  # input weights N(0, 1/fan_in), fan_in 4
    assert np.all(w[1] == 0)


def test_parameter_count_is_exact():
    cfg = TrainConfig()
    for width, depth in ((8, 2), (32, 3)):
        w = init_weights(RunSpec(width, depth, 10, 0), 20, 2, cfg)
        assert sum(a.size for a in w) == n_params(20, width, depth, 2)


def test_bad_training_settings():
    with pytest.raises(TaskConfigError, match="Did you mean 'adam'"):
        TrainConfig(optimizer="adamw")
    with pytest.raises(TaskConfigError, match="'steps'"):
        TrainConfig(steps=0)
    with pytest.raises(TaskConfigError, match="online"):
        TrainConfig(online=True, batch_size=0)
    with pytest.raises(TaskConfigError, match="one \\(width, depth\\)"):
        train_population(TASK, [RunSpec(8, 2, 10, 0), RunSpec(16, 2, 10, 0)], TrainConfig())


@pytest.mark.parametrize(("task_name", "activation", "mode", "depth"), [
    ("sk-k3-ce", "tanh", "mini-batch", 2), ("bahri-d2", "relu", "mini-batch", 2),
    ("sk-k3-ce", "relu", "full", 2), ("bahri-d2", "tanh", "full", 2),
    ("bahri-d2", "relu", "online", 2), ("bahri-d2", "relu", "full", 1),
    ("bahri-d2", "relu", "mini-batch", 3), ("bahri-d2", "tanh", "full", 1)])
def test_hand_written_backward_equals_autograd(monkeypatch, task_name, activation, mode,
                                               depth):
    # covers the step's shortcuts: inputs with a ones column (kept across
    # full-batch steps, refreshed every mini-batch and online step), (g^T h)
    # gradients of narrow layers (1 and 3 outputs), the width-1 output layer
    # (outer product; with ReLU the diag(w) factor carried into the layer
    # below, which is the input layer at depth 1)
    from teacher_student.engine import settings

    t = get_task(task_name)
    specs = [RunSpec(8, depth, 50, 0), RunSpec(8, depth, 80, 1)]
    batch = {"mini-batch": {"batch_size": 16}, "full": {},
             "online": {"batch_size": 16, "online": True}}[mode]
    cfg = TrainConfig(steps=40, eval_steps=2, n_test=200, dtype="float64",
                      activation=activation, **batch)
    fast = train_population(t, specs, cfg, device="cpu")
    monkeypatch.setattr(settings, "FORCE_AUTOGRAD", True)
    ref = train_population(t, specs, cfg, device="cpu")
    for i in range(2):
        np.testing.assert_allclose(_values(fast, i), _values(ref, i), rtol=1e-10)


def test_bf16_matmuls_stay_close_to_fp32():
    # bf16 products (8-bit mantissa, fp32 accumulation and master weights):
    # after 150 steps the final test loss moves by well under 10 % (H100 whole
    # grid: median 0.6 %, bench/RESULTS.md); fp32 vs fp32 repeats exactly.
    specs = [RunSpec(32, 2, 256, s) for s in range(2)]
    base = {"steps": 150, "lr": 3e-3, "eval_steps": 2, "n_test": 500}
    a = train_population(TASK, specs, TrainConfig(**base), device="cpu")
    b = train_population(TASK, specs, TrainConfig(**base, bf16_matmul=True), device="cpu")
    for i in range(2):
        assert abs(_values(b, i)[-1] / _values(a, i)[-1] - 1) < 0.10
        assert _values(b, i)[-1] != _values(a, i)[-1]


def test_cpu_allocator_tuning_is_idempotent_and_only_on_request():
    # in a fresh process: the setting is process-wide, so the suite's own process keeps
    # glibc's defaults. run_sweep leaves the allocator alone unless asked.
    import subprocess
    import sys

    code = ("import tempfile; from teacher_student.engine import settings as s; "
            "from teacher_student.sweep import SweepConfig, run_sweep; "
            "cfg = SweepConfig.from_dict(dict(task='bahri-d4', widths=[4], depths=[1], "
            "n_train=[32], seeds=[0], steps=3, n_test=50, eval_steps=3)); "
            "run_sweep(cfg, tempfile.mkdtemp(), device='cpu', progress=False); "
            "untouched = not s._ALLOCATOR_TUNED; first = s.tune_cpu_allocator(); "
            "print(untouched, first == s.tune_cpu_allocator(), s._ALLOCATOR_TUNED == first)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.stdout.split() == ["True", "True", "True"], out.stderr[-2000:]
