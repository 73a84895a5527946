"""Error paths of the forecasting, reading, task and sweep APIs: each names its input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import scalelaw as sl
from scalelaw.cli import main


@pytest.fixture(scope="module")
def chin():
    from scalelaw.synthetic import chinchilla_design, simulate_runs

    runs = simulate_runs(chinchilla_design(), noise=0.0)
    return sl.fit("chinchilla", runs, x=["n_params", "n_tokens"], y="loss", starts=64)


def test_allocation_parameter_errors(chin):
    from scalelaw.allocation import isoflop_profile, propose_runs, solve_for_loss

    with pytest.raises(sl.DataValidationError, match="'spread'"):
        propose_runs(chin, 1e22, spread=0.5)
    with pytest.raises(sl.DataValidationError, match="'budget'"):
        propose_runs(chin, -1.0)
    with pytest.raises(sl.DataValidationError, match="'n_points'"):
        isoflop_profile(chin, 1e21, n_points=1)
    with pytest.raises(sl.DataValidationError, match="'target'"):
        solve_for_loss(chin, -2.0)
    with pytest.raises(sl.ExtrapolationError, match="never reaches"):
        solve_for_loss(chin, 1.0)  # below the fitted irreducible loss E = 1.82


def test_prediction_input_errors(chin):
    with pytest.raises(sl.DataValidationError, match="missing \\['n_tokens'\\]"):
        chin.get_prediction(n_params=1e9)
    with pytest.raises(sl.DataValidationError, match="'n_params' must be finite and > 0"):
        chin.get_prediction(n_params=-1.0, n_tokens=1e10)


def test_learning_curve_errors():
    from scalelaw.curves import drop_warmup, fit_learning_curve, lower_envelope

    df = pd.DataFrame({"run": ["a"] * 5 + ["b"] * 5, "step": list(range(1, 6)) * 2,
                       "loss": np.linspace(3, 1, 10)})
    with pytest.raises(sl.DataValidationError, match="'warmup_fraction'"):
        drop_warmup(df, step="step", warmup_fraction=1.0)
    with pytest.raises(sl.DataValidationError, match="2 runs; pass envelope=True"):
        fit_learning_curve(df, x="step", y="loss", run="run")
    with pytest.raises(sl.UnknownNameError, match="Did you mean 'step'"):
        lower_envelope(df, x="stp", y="loss")
    with pytest.raises(sl.DataValidationError, match="No rows left"):
        fit_learning_curve(df[df.run == "a"], x="step", y="loss", min_step=100)


def test_reader_argument_errors(tmp_path):
    from scalelaw.io import parse_units, read_runs

    p = tmp_path / "r.csv"
    pd.DataFrame({"run": ["a", "a"], "step": [1, 2], "loss": [2.0, 1.0]}).to_csv(p, index=False)
    with pytest.raises(sl.DataValidationError, match="needs the run and metric"):
        read_runs(p, reduce="final")
    with pytest.raises(sl.UnknownNameError, match="Did you mean 'loss'"):
        parse_units(pd.DataFrame({"loss": ["1"]}), ["los"])


def test_cli_forecast_and_tasks_errors(tmp_path, capsys):
    fit_json = tmp_path / "f.json"
    assert main(["fit", "dataset:chinchilla_synthetic", "--law", "chinchilla", "--x",
                 "n_params,n_tokens", "--y", "loss", "--starts", "50", "--group", "none_col"
                 ]) == 1
    assert "none_col" in capsys.readouterr().err
    assert main(["fit", "dataset:chinchilla_synthetic", "--law", "chinchilla", "--x",
                 "n_params,n_tokens", "--y", "loss", "--starts", "50", "--json",
                 str(fit_json)]) == 0
    capsys.readouterr()
    assert main(["forecast", str(fit_json)]) == 2  # usage: neither --at nor --budget
    assert "give --at" in capsys.readouterr().err
    assert main(["forecast", str(tmp_path / "missing.json"), "--at", "n_params=1"]) == 1
    assert "does not exist" in capsys.readouterr().err
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"a": 1}))
    assert main(["forecast", str(other), "--at", "n_params=1"]) == 1
    assert "not a fit JSON" in capsys.readouterr().err
    assert main(["tasks", "generate", "bahri-d2", "--n", "10", "--seed", "0", "--out",
                 str(tmp_path / "x.csv")]) == 1
    assert ".npz or .parquet" in capsys.readouterr().err
    assert main(["tasks", "generate", "bahri-d2", "--n", "-1", "--seed", "0", "--out",
                 str(tmp_path / "x.npz")]) == 1
    assert "n must be an int >= 0" in capsys.readouterr().err
    bad = tmp_path / "t.toml"
    bad.write_text("family = \n")
    assert main(["tasks", "show", str(bad)]) == 1
    assert "Cannot parse task file" in capsys.readouterr().err


def test_cli_grouped_fit_needs_group_for_forecast(tmp_path, capsys):
    csv = tmp_path / "g.csv"
    rows = ["fam,n,loss"] + [f"{f},{n},{a * n ** -0.2}" for f, a in (("a", 2.0), ("b", 3.0))
                             for n in (1e5, 1e6, 1e7, 1e8)]
    csv.write_text("\n".join(rows))
    out = tmp_path / "g.json"
    assert main(["fit", str(csv), "--law", "power", "--x", "n", "--y", "loss", "--group",
                 "fam", "--json", str(out)]) == 0
    capsys.readouterr()
    assert main(["forecast", str(out), "--at", "n=1e8"]) == 1
    assert "choose one with --group" in capsys.readouterr().err
    assert main(["forecast", str(out), "--at", "n=1e8", "--group", "c"]) == 1
    assert "Unknown group" in capsys.readouterr().err
    assert main(["forecast", str(out), "--at", "n=1e8", "--group", "a", "--json",
                 str(tmp_path / "fc.json")]) == 0
    rows = json.loads((tmp_path / "fc.json").read_text())
    assert rows[0]["mean"] == pytest.approx(2.0 * 1e8 ** -0.2, rel=1e-6)


def test_sweep_cli_and_api_errors(tmp_path, capsys):
    pytest.importorskip("torch")
    from teacher_student.population import RunSpec, TrainConfig, train_population
    from teacher_student.suite import get_task
    from teacher_student.tasks import TaskConfigError

    cfg = tmp_path / "s.toml"
    cfg.write_text('task = "bahri-d2"\nwidths = [8]\nn_train = [16]\nseeds = [0]\nsteps = 5\n')
    import torch

    if not torch.cuda.is_available():
        assert main(["sweep", "run", str(cfg), "--out", str(tmp_path / "o"), "--device",
                     "cuda"]) == 1
        assert "no CUDA device" in capsys.readouterr().err
    assert main(["sweep", "run", str(cfg), "--out", str(tmp_path / "o2"), "--device", "cpu",
                 "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["sweep", "results", str(tmp_path / "o2"), "--out",
                 str(tmp_path / "r.json")]) == 1
    assert ".csv or .parquet" in capsys.readouterr().err
    with pytest.raises(TaskConfigError, match="lr must be a positive float"):
        train_population(get_task("bahri-d2"), [RunSpec(8, 2, 10, 0, lr=-1.0)],
                         TrainConfig(steps=2))
    with pytest.raises(TaskConfigError, match="n_train >= 1"):
        train_population(get_task("bahri-d2"), [RunSpec(8, 2, 0, 0)], TrainConfig(steps=2))
    no_task = tmp_path / "n.toml"
    no_task.write_text("widths = [8]\nn_train = [16]\nseeds = [0]\n")
    assert main(["sweep", "run", str(no_task), "--out", str(tmp_path / "o3")]) == 1
    assert "exactly one of 'task'" in capsys.readouterr().err
