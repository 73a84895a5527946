"""The local learning coefficient: known answers, diagnostics, students, command line.

Known answers (Watanabe 2009; Aoyagi & Watanabe 2005; science.md sec. 8):
normal crossing ``K = prod w_i^(2 k_i)`` has ``lambda = 1 / (2 max k_i)``;
reduced-rank regression m -> h -> n (true rank 0) has Aoyagi's value; a
regular model with ``d`` parameters has ``d / 2``.

The estimator's stated error has two parts, each measured here:

* the estimand's own bias at finite ``n beta``: the exact tempered value
  ``t E[K]`` (:func:`scalelaw.slt.tempered_mean_loss`, by quadrature) is
  below ``lambda`` by about ``(m - 1) / log t`` for multiplicity ``m``
  (0.109 for powers (1, 1) at n = 10^4);
* the sampler's error against that exact value: Monte Carlo (3 standard
  errors over chains) plus the chains' incomplete exploration of the flat
  ridges in a finite run, measured at 2-8 % low for normal crossings with
  8 chains x 3000 steps in development runs (up to 17 % with 4 x 1000,
  bench/RESULTS.md): 10 % is allowed for (0, 1) and (1, 1), where the
  shorter runs here read within 2 %.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from scalelaw.cli import main  # noqa: E402
from scalelaw.exceptions import DataValidationError  # noqa: E402
from scalelaw.slt import (  # noqa: E402
    estimate_llc,
    llc_stability,
    module_loss,
    normal_crossing,
    reduced_rank_regression,
    regular_model,
    tempered_mean_loss,
)

SAMPLER_TOL = 0.10  # the sampler's relative error against the exact tempered value


def _within_stated_error(est, exact_t, truth):
    """|est - truth| <= finite-temperature bias + sampler error (10 % + 3 se)."""
    sampler = SAMPLER_TOL * exact_t + 3 * est.llc_se
    assert abs(est.llc - exact_t) <= sampler, (est.llc, est.llc_se, exact_t)
    assert abs(est.llc - truth) <= abs(truth - exact_t) + sampler, (est.llc, truth)


@pytest.mark.parametrize("powers", [(0, 1), (1, 1)])
def test_normal_crossing_gives_one_half_within_the_stated_error(powers):
    m = normal_crossing(powers, n=10_000)
    est = estimate_llc(m.loss, m.w_star, m.n, n_chains=6, n_steps=800, seed=3)
    exact_t = tempered_mean_loss(powers, est.nbeta, est.localization)
    assert m.llc == 0.5
    _within_stated_error(est, exact_t, m.llc)
    assert est.stable, est.reason


def test_regular_model_gives_half_its_parameter_count():
    # MALA is exact: what remains is Monte Carlo error and the tether's bias,
    # d/2 * gamma / (n beta s) < 1 % here (s ~ 1, n beta = 263, gamma = 1)
    m = regular_model(3, 2, n=2000, seed=1)
    est = estimate_llc(m.loss, m.w_star, m.n, n_chains=4, n_steps=600, seed=0)
    assert m.llc == 3.0
    assert abs(est.llc - 3.0) <= SAMPLER_TOL * 3.0 + 3 * est.llc_se, (est.llc, est.llc_se)
    assert est.stable


@pytest.mark.slow
def test_reduced_rank_regression_within_forty_percent():
    m = reduced_rank_regression(4, 3, 8, n=10_000, seed=0)
    est = estimate_llc(m.loss, m.w_star, m.n, n_chains=4, n_steps=2000, seed=0)
    assert m.llc == 6.0
    assert abs(est.llc - 6.0) <= 0.4 * 6.0, est.llc  # Aoyagi & Watanabe (2005); issue's bar


def test_seeds_reproduce_and_nothing_process_wide_changes():
    m = normal_crossing((0, 1), n=1000)
    threads, state = torch.get_num_threads(), torch.random.get_rng_state()
    a = estimate_llc(m.loss, m.w_star, m.n, n_chains=2, n_steps=200, seed=5)
    b = estimate_llc(m.loss, m.w_star, m.n, n_chains=2, n_steps=200, seed=5)
    c = estimate_llc(m.loss, m.w_star, m.n, n_chains=2, n_steps=200, seed=6)
    np.testing.assert_array_equal(a.loss_trace, b.loss_trace)
    assert not np.array_equal(a.loss_trace, c.loss_trace)
    assert torch.get_num_threads() == threads
    assert torch.equal(torch.random.get_rng_state(), state)


def test_the_step_size_bias_of_unadjusted_langevin_is_flagged():
    # K = w^2 with n beta = t: an unadjusted step eps inflates the variance by
    # 1 / (1 - eps t / 2); at eps t = 1.6 and 0.8 the estimates are 0.5 / 0.2 and
    # 0.5 / 0.6 (a 3:2 ratio), which the sweep must call unstable; at eps t = 0.1
    # and 0.05 they agree within 3 % and it must not
    m = normal_crossing((0, 1), n=10_000)
    t = m.n / math.log(m.n)
    common = {"nbetas": [t], "sampler": "sgld", "n_chains": 4, "n_steps": 400, "seed": 1}
    big = llc_stability(m.loss, m.w_star, m.n, step_sizes=[1.6 / t, 0.8 / t], **common)
    assert not big.stable and "step" in big.reason
    assert big.table["llc"].iloc[0] == pytest.approx(0.5 / 0.2, rel=0.15)
    small = llc_stability(m.loss, m.w_star, m.n, step_sizes=[0.1 / t, 0.05 / t], **common)
    assert small.stable, small.reason


def test_a_point_that_is_not_a_minimum_is_flagged():
    m = regular_model(2, 1, n=500, seed=0)
    off = [m.w_star[0] + 0.5]
    est = estimate_llc(m.loss, off, m.n, n_chains=2, n_steps=300, seed=0)
    assert est.llc < 0 and not est.stable and "not a local minimum" in est.reason


def test_diverging_chains_are_flagged():
    m = normal_crossing((0, 2), n=10_000)
    est = estimate_llc(m.loss, [m.w_star[0] + 0.5], m.n, sampler="sgld", step_size=0.5,
                       n_chains=2, n_steps=40, n_burnin=0)
    assert not est.stable and "diverged" in est.reason


def test_module_loss_equals_the_loss_written_out():
    g = torch.Generator().manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    net = net.double()
    x = torch.randn(20, 3, generator=g, dtype=torch.float64)
    y = torch.randn(20, 1, generator=g, dtype=torch.float64)
    loss, w = module_loss(net, x, y)
    batch = [torch.stack([p, 2 * p]) for p in w]
    got = loss(batch).detach()
    with torch.no_grad():
        assert float(got[0]) == pytest.approx(float(((net(x) - y) ** 2).mean()), rel=1e-12)
        for p in net.parameters():
            p.mul_(2)
        assert float(got[1]) == pytest.approx(float(((net(x) - y) ** 2).mean()), rel=1e-12)


@pytest.mark.parametrize("kwargs, word", [
    ({"n": 1}, "'n'"), ({"step_size": -1.0}, "step_size"), ({"sampler": "hmc"}, "sampler"),
    ({"n_burnin": 199}, "n_burnin"), ({"localization": -1.0}, "localization"),
])
def test_bad_settings_are_refused_by_name(kwargs, word):
    m = normal_crossing((0, 1))
    args = {"n": m.n, "n_steps": 200, **kwargs}
    with pytest.raises(DataValidationError, match=word):
        estimate_llc(m.loss, m.w_star, **args)


# ------------------------------------------------------------------ students
@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    from teacher_student.sweep import SweepConfig, run_sweep

    out = tmp_path_factory.mktemp("llc_sweep")
    cfg = SweepConfig.from_dict({"task": "bahri-d2", "widths": [2, 8], "depths": [1],
                                 "n_train": [128], "seeds": [0], "steps": 2000,
                                 "eval_steps": 1, "keep_weights": True})
    run_sweep(cfg, out, device="cpu", progress=False)
    return out


def test_students_llc_localises_at_their_own_training_loss(sweep):
    from teacher_student.llc import measure_llc

    res = measure_llc(sweep, n_steps=300, n_chains=2, check_step=False)
    runs = res.runs
    assert list(runs["width"]) == [2, 8]
    # the rebuilt training set gives the loss the sweep logged (float32 training)
    np.testing.assert_allclose(runs["loss_at_optimum"], runs["train_loss"], rtol=1e-4)
    assert (runs["llc"] > 0).all()
    np.testing.assert_allclose(runs["effective_params"], runs["llc"] / (runs["n_params"] / 2))


def test_cli_llc_writes_the_documented_json(sweep, tmp_path):
    from teacher_student.store import final_metrics

    out = tmp_path / "llc.json"
    first = str(final_metrics(sweep)["run_id"].iloc[0])
    rc = main(["llc", str(sweep), "--run", first, "--steps", "200", "--chains", "2", "--no-check",
               "--json", str(out), "--plot", str(tmp_path / "llc.png")])
    assert rc == 0
    runs = json.loads(out.read_text())["runs"]
    assert {"run_id", "width", "n_params", "llc", "llc_sd", "stable"} <= set(runs[0])
    assert (tmp_path / "llc.png").read_bytes()[:4] == b"\x89PNG"


def test_cli_llc_refuses_bad_input_before_any_work(tmp_path, capsys):
    from teacher_student.sweep import SweepConfig, run_sweep

    assert main(["llc", str(tmp_path / "missing")]) == 1
    assert "does not exist" in capsys.readouterr().err
    bare = tmp_path / "bare"
    run_sweep(SweepConfig.from_dict({"task": "bahri-d2", "widths": [2], "depths": [1],
                                     "n_train": [16], "seeds": [0], "steps": 5,
                                     "eval_steps": 1}), bare, device="cpu", progress=False)
    assert main(["llc", str(bare)]) == 1
    err = capsys.readouterr().err
    assert "keep_weights" in err and err.count("\n") == 1


def test_cli_redshift_refuses_bad_input(capsys):
    assert main(["redshift", "--activations", "relu,swish"]) == 1
    assert "activation 'swish'" in capsys.readouterr().err
    assert main(["redshift", "--weight-scales", "1,-2"]) == 1
    assert "--weight-scales" in capsys.readouterr().err


def test_cli_redshift_json(tmp_path):
    out = tmp_path / "rs.json"
    rc = main(["redshift", "--activations", "relu,sin", "--depths", "1,2", "--weight-scales",
               "2", "--widths", "8", "--n-init", "4", "--grid", "16", "--json", str(out)])
    assert rc == 0
    rows = json.loads(out.read_text())["rows"]
    assert len(rows) == 4 and len(rows[0]["frequency_ci"]) == 2


# ------------------------------------------------------------------ slow grid
NORMAL_CROSSINGS = [(0, 1), (1, 1), (0, 2), (1, 2), (2, 2), (0, 3)]


@pytest.mark.slow
@pytest.mark.parametrize("powers", NORMAL_CROSSINGS)
def test_normal_crossing_grid(powers):
    m = normal_crossing(powers, n=10_000)
    est = estimate_llc(m.loss, m.w_star, m.n, n_chains=8, n_steps=3000, seed=0)
    exact_t = tempered_mean_loss(powers, est.nbeta, est.localization)
    _within_stated_error(est, exact_t, m.llc)


@pytest.mark.slow
@pytest.mark.parametrize("shape", [(5, 3, 5), (5, 4, 5), (4, 3, 8)])
def test_reduced_rank_regression_grid(shape):
    m = reduced_rank_regression(*shape, n=10_000, seed=0)
    est = estimate_llc(m.loss, m.w_star, m.n, n_chains=8, n_steps=4000, seed=0)
    assert abs(est.llc - m.llc) <= 0.4 * m.llc, (shape, est.llc, m.llc)


def test_llc_over_training_follows_the_same_students_through_training():
    # checkpoints of one constant-rate run: the training loss falls from step 10 to 1000,
    # and each row's effective parameters are its own llc over P/2
    from teacher_student.config import RunSpec, TrainConfig
    from teacher_student.llc import llc_over_training
    from teacher_student.suite import get_task

    cfg = TrainConfig(steps=1, schedule="constant", eval_steps=1, n_test=256)
    df = llc_over_training(get_task("bahri-d2"), [RunSpec(8, 1, 128, 0)], cfg, [1000, 10],
                           n_steps=200, n_chains=2)
    assert list(df["step"]) == [10, 1000]  # sorted checkpoints
    assert df["train_loss"].iloc[1] < 0.5 * df["train_loss"].iloc[0]
    assert np.isfinite(df["llc"]).all() and (df["llc"] > 0).all()
    np.testing.assert_allclose(df["effective_params"], df["llc"] / (df["n_params"] / 2))
