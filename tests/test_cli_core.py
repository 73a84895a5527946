"""The command line is thin and never ignores what it is told."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import scalelaw as sl
from scalelaw.cli import main

DATA = "dataset:chinchilla_synthetic"


def _curves(tmp_path, n_runs: int = 2):
    """Two families of learning curves with a warm-up bump in the first points."""
    steps = np.arange(100, 5001, 100)
    rows = []
    for fam, a in (("a", 50.0), ("b", 80.0)):
        for run in range(n_runs):
            loss = 2.0 + a * steps**-0.5 * (1 + 0.01 * run)
            loss[:5] += 3.0  # warm-up
            rows.append(pd.DataFrame({"family": fam, "run": run, "step": steps, "loss": loss}))
    path = tmp_path / "curves.csv"
    pd.concat(rows).to_csv(path, index=False)
    return path


def test_learning_curve_filters_apply_within_each_group(tmp_path, capsys):
    path = _curves(tmp_path, n_runs=1)
    out = tmp_path / "g.json"
    rc = main(["fit", str(path), "--law", "saturating_power", "--x", "step", "--y", "loss",
               "--group", "family", "--warmup-fraction", "0.1", "--json", str(out)])
    assert rc == 0
    d = json.loads(out.read_text())
    for g in ("a", "b"):
        fit = d["groups"][g]
        assert fit["excluded"]["warmup"] == 5  # 10 % of each group's 50 points
        assert fit["params"]["alpha"] == pytest.approx(0.5, rel=1e-6)  # bump dropped


def test_group_by_several_columns(tmp_path, capsys):
    path = _curves(tmp_path, n_runs=2)
    out = tmp_path / "g.json"
    rc = main(["fit", str(path), "--law", "saturating_power", "--x", "step", "--y", "loss",
               "--group", "family,run", "--warmup-fraction", "0.1", "--json", str(out)])
    assert rc == 0
    d = json.loads(out.read_text())
    assert d["group"] == ["family", "run"]
    assert sorted(d["groups"]) == ["a/0", "a/1", "b/0", "b/1"]
    df = pd.read_csv(path)
    res = sl.fit_groups("power", df[df.step > 500], group=["family", "run"], x="step",
                        y="loss")
    assert sorted(res.results) == ["a/0", "a/1", "b/0", "b/1"]


def test_holdout_larger_than_a_group_is_not_scorable(tmp_path, capsys):
    rows = [{"g": "big", "n": n, "L": 2 * n**-0.3} for n in np.logspace(2, 6, 12)]
    rows += [{"g": "small", "n": n, "L": 3 * n**-0.3} for n in (1e2, 1e3, 1e4)]
    path = tmp_path / "b.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    out = tmp_path / "b.json"
    rc = main(["backtest", str(path), "--law", "power", "--x", "n", "--y", "L", "--group",
               "g", "--holdout-largest", "3", "--json", str(out)])
    assert rc == 0
    d = json.loads(out.read_text())
    by = {r["group"]: r for r in d["groups"]}
    assert by["big"]["status"] == "ok"
    assert by["small"]["status"].startswith("not scorable: 3 row(s)")
    assert d["overall"]["n_not_scorable"] == 1 and d["overall"]["n_groups"] == 1


def test_unwritable_json_fails_before_any_fitting(tmp_path, capsys):
    target = tmp_path / "no" / "such" / "dir" / "fit.json"
    rc = main(["fit", DATA, "--law", "chinchilla", "--x", "n_params,n_tokens", "--y",
               "loss", "--json", str(target)])
    captured = capsys.readouterr()
    assert rc == 1
    assert captured.err.startswith("scalelaw: error: --json")
    assert "does not exist" in captured.err and captured.out == ""  # nothing was fitted


def test_debug_works_after_the_subcommand_and_version(capsys):
    with pytest.raises(sl.DataValidationError):
        main(["fit", DATA, "--law", "power", "--x", "nope", "--y", "loss", "--debug"])
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"scalelaw {sl.__version__}"


def test_python_dash_m_scalelaw():
    proc = subprocess.run([sys.executable, "-m", "scalelaw", "--version"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and proc.stdout.startswith("scalelaw ")


def test_drop_invalid_drops_text_with_a_count(tmp_path, capsys):
    n = np.logspace(6, 9, 10)
    loss = [f"{v:.6f}" for v in 2 * n**-0.1]
    loss[3] = "diverged"
    path = tmp_path / "r.csv"
    pd.DataFrame({"n": n, "loss": loss}).to_csv(path, index=False)
    assert main(["fit", str(path), "--law", "power", "--x", "n", "--y", "loss"]) == 1
    assert "not numbers (text such as 'diverged')" in capsys.readouterr().err
    assert main(["fit", str(path), "--law", "power", "--x", "n", "--y", "loss",
                 "--drop-invalid"]) == 0
    captured = capsys.readouterr()
    assert "Excluded 1 of 10 rows" in captured.err and "n_obs=9" in captured.out


def test_duplicate_column_names_are_an_error(tmp_path, capsys):
    path = tmp_path / "d.csv"
    path.write_text("n,loss,loss\n1,2,3\n10,1,2\n100,0.5,1\n")
    df = pd.read_csv(path)  # pandas renames the second to loss.1 ...
    df.columns = ["n", "loss", "loss"]  # ... so build the clash directly
    with pytest.raises(sl.DataValidationError, match=r"duplicate column names \['loss'\]"):
        sl.fit("power", df, x="n", y="loss")


def test_messages_print_numbers_not_numpy_reprs(capsys):
    df = pd.DataFrame({"n": np.array([0.0, 1e6, 1e7, 1e8]), "L": [1.0, 0.5, 0.4, 0.3]})
    with pytest.raises(sl.DataValidationError) as exc:
        sl.fit("power", df, x="n", y="L")
    assert "np.float64" not in str(exc.value) and "index 0: 0.0" in str(exc.value)
    res = sl.fit("power", df.iloc[1:], x="n", y="L")
    with pytest.raises(sl.DataValidationError) as exc:
        res.predict(n=np.array([-1.0]))
    assert "np.float64" not in str(exc.value) and "[-1.0]" in str(exc.value)


def test_numpy_warnings_do_not_leak(tmp_path, capsys):
    # a formula that overflows at many trial points of the search
    x = np.linspace(1, 50, 30)
    path = tmp_path / "o.csv"
    pd.DataFrame({"x": x, "y": 2 * np.exp(0.05 * x)}).to_csv(path, index=False)
    rc = main(["fit", str(path), "--law", "a * exp(k * x)", "--x", "x", "--y", "y",
               "--objective", "mse"])
    assert rc == 0
    err = capsys.readouterr().err
    assert "RuntimeWarning" not in err and "overflow" not in err


@pytest.mark.parametrize(("argv", "needle"), [
    (["fit", DATA, "--law", "power", "--x", "n_params,n_tokens", "--y", "loss",
      "--warmup-fraction", "0.1"], "need one --x column"),
    (["fit", DATA, "--law", "power", "--x", "n_params", "--y", "loss", "--bootstrap-groups",
      "n_params"], "--bootstrap-groups needs --bootstrap"),
    (["fit", DATA, "--law", "auto", "--x", "n_params", "--y", "loss", "--starts", "3"],
     "--starts cannot be given with --law auto"),
    (["fit", DATA, "--law", "power", "--x", "n_params", "--y", "loss", "--reduce", "final",
      "--run", "n_tokens", "--min-x", "1"], "use one or the other"),
])
def test_incompatible_options_are_usage_errors(argv, needle, capsys):
    assert main(argv) == 2
    assert needle in capsys.readouterr().err


def test_tasks_list_into_a_closed_pipe_ends_quietly():
    code = ("import subprocess, sys; p = subprocess.Popen([sys.executable, '-m', 'scalelaw', "
            "'tasks', 'list'], stdout=subprocess.PIPE, stderr=subprocess.PIPE); "
            "p.stdout.readline(); p.stdout.close(); err = p.stderr.read().decode(); "
            "rc = p.wait(); print(rc, repr(err))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    rc, err = out.split(" ", 1)
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert rc in ("0", "120")  # 120: Python could not flush stdout at exit (no traceback)


def test_sweep_without_torch_says_how_to_install_it(monkeypatch, capsys, tmp_path):
    import scalelaw.cli as cli

    monkeypatch.setattr(cli, "_torch_missing", lambda: True)
    assert main(["sweep", "run", str(tmp_path / "c.toml"), "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'scalelaw[torch]'" in err[0]


def test_predict_takes_a_table_and_plots_take_axes(tmp_path):
    from matplotlib.figure import Figure

    x = np.logspace(6, 9, 12)
    df = pd.DataFrame({"n": x, "L": 2 * x**-0.1, "g": np.repeat(["a", "b"], 6)})
    res = sl.fit("power", df, x="n", y="L")
    np.testing.assert_allclose(res.predict(df), res.predict(n=x), rtol=0)
    tab = res.get_prediction(data=df.iloc[:3])
    assert len(tab) == 3
    fig = Figure()
    ax = fig.subplots()
    assert sl.plot_fit(res, ax=ax) is fig and len(fig.axes) == 1
    assert len(ax.lines) == 1 and len(ax.collections) >= 2  # curve, points and band
    grouped = sl.fit_groups("power", df, group="g", x="n", y="L")
    gfig = sl.plot_fit(grouped)
    assert len(gfig.axes) == 1 and len(gfig.axes[0].lines) == 2  # one curve per group
    gfig.savefig(tmp_path / "g.png")
    assert (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"
