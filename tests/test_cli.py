import json

import pytest

from scalelaw.cli import main

DATA = "dataset:chinchilla_synthetic"


def test_fit_prints_summary_and_writes_json_and_plot(tmp_path, capsys):
    out, png = tmp_path / "fit.json", tmp_path / "fit.png"
    rc = main(["fit", DATA, "--law", "chinchilla", "--x", "n_params,n_tokens", "--y",
               "loss", "--starts", "200", "--bootstrap", "100", "--seed", "0", "--json",
               str(out), "--plot", str(png)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "Scaling-law fit: chinchilla" in text and "bootstrap interval" in text
    d = json.loads(out.read_text())
    assert d["law"] == "chinchilla" and d["n_obs"] == 245 and d["converged"] is True
    assert set(d["params"]) == {"E", "A", "B", "alpha", "beta"}
    lo, hi = d["conf_int"]["alpha"]
    assert lo < d["params"]["alpha"] < hi
    assert isinstance(d["diagnostics"], list)
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_where_and_group(tmp_path, capsys):
    csv = tmp_path / "runs.csv"
    lines = ["family,n,loss,split"]
    for fam, a in (("a", 2.0), ("b", 3.0)):
        for n in (1e5, 1e6, 1e7, 1e8, 1e9):
            lines.append(f"{fam},{n},{a * n ** -0.2},test")
            lines.append(f"{fam},{n},{99.0},train")
    csv.write_text("\n".join(lines))
    out = tmp_path / "g.json"
    rc = main(["fit", str(csv), "--law", "power", "--x", "n", "--y", "loss", "--group",
               "family", "--where", "split == 'test'", "--json", str(out)])
    assert rc == 0
    captured = capsys.readouterr()
    assert "where: kept 10 of 20 rows" in captured.err
    d = json.loads(out.read_text())
    assert sorted(d["groups"]) == ["a", "b"]
    assert d["groups"]["b"]["params"]["A"] == pytest.approx(3.0, rel=1e-6)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["fit", DATA, "--law", "chinchila", "--x", "n_params", "--y", "loss"],
         "scalelaw: error: Unknown law 'chinchila'. Did you mean 'chinchilla'?"),
        (["fit", DATA, "--law", "power", "--x", "n_param", "--y", "loss"],
         "scalelaw: error: Column 'n_param' (given as x) is not in the data. Did you "
         "mean 'n_params'?"),
        (["fit", "missing.csv", "--law", "power", "--x", "n", "--y", "loss"],
         "scalelaw: error: File 'missing.csv' does not exist."),
        (["fit", DATA, "--law", "power", "--x", "n_params", "--y", "loss", "--where",
          "nope > 1"], "scalelaw: error: where 'nope > 1' names the column 'nope'"),
    ],
)
def test_errors_exit_1_with_one_line(argv, message, capsys):
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(message)
    assert "Traceback" not in "\n".join(err)


def test_debug_shows_traceback():
    with pytest.raises(Exception, match="Unknown law"):
        main(["--debug", "fit", DATA, "--law", "nope", "--x", "n_params", "--y", "loss"])


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["fit", DATA, "--law", "power"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["fit", DATA, "--law", "power", "--x", "n", "--y", "l", "--objective", "l1"])
    assert exc.value.code == 2
    assert "invalid choice: 'l1'" in capsys.readouterr().err


def test_warnings_are_shown_on_stderr(tmp_path, capsys):
    csv = tmp_path / "dup.csv"
    csv.write_text("n,loss\n10,1.0\n10,1.0\n100,0.5\n1000,0.25\n")
    assert main(["fit", str(csv), "--law", "power", "--x", "n", "--y", "loss"]) == 0
    assert "scalelaw: warning: 1 duplicate row(s)" in capsys.readouterr().err


# ------------------------------------------------------------ issue 3 commands
def _curves_csv(tmp_path):
    import numpy as np
    import pandas as pd

    x = np.logspace(3, 7, 20)
    frames = []
    for g, e in (("c0", 0.5), ("c1", 0.3)):
        frames.append(pd.DataFrame({"curve": g, "n": x, "L": e + 20 * x**-0.4,
                                    "training": (np.arange(20) < 15).astype(int)}))
    p = tmp_path / "curves.csv"
    pd.concat(frames).to_csv(p, index=False)
    return p


def test_backtest_command_json_schema(tmp_path, capsys):
    p = _curves_csv(tmp_path)
    out = tmp_path / "bt.json"
    rc = main(["backtest", str(p), "--law", "saturating_power", "--x", "n", "--y", "L",
               "--group", "curve", "--split-column", "training", "--json", str(out)])
    assert rc == 0
    d = json.loads(out.read_text())
    assert {"rmsle_mean", "rmsle_median", "are_mean", "pi_coverage",
            "n_groups"} <= set(d["overall"])
    assert d["overall"]["n_groups"] == 2
    assert [g["group"] for g in d["groups"]] == ["c0", "c1"]
    assert all({"group", "law", "rmsle", "are", "pi_coverage"} <= set(g) for g in d["groups"])
    assert d["overall"]["rmsle_mean"] < 1e-6  # the right law on noiseless curves
    assert "backtest: 2 group(s)" in capsys.readouterr().out
    # the per-group reference path gives the same numbers, bit for bit
    ref = tmp_path / "bt_ref.json"
    assert main(["backtest", str(p), "--law", "saturating_power", "--x", "n", "--y", "L",
                 "--group", "curve", "--split-column", "training", "--json", str(ref),
                 "--no-batch"]) == 0
    assert json.loads(ref.read_text())["groups"] == d["groups"]
    with pytest.raises(SystemExit) as exc:  # one of the split options is required
        main(["backtest", str(p), "--law", "power", "--x", "n", "--y", "L"])
    assert exc.value.code == 2


def test_forecast_command_points_and_budget(tmp_path, capsys):
    fit_json = tmp_path / "fit.json"
    assert main(["fit", DATA, "--law", "chinchilla", "--x", "n_params,n_tokens", "--y",
                 "loss", "--starts", "100", "--json", str(fit_json)]) == 0
    capsys.readouterr()
    out = tmp_path / "fc.json"
    rc = main(["forecast", str(fit_json), "--at", "n_params=1e9,n_tokens=2e10",
               "--budget", "1e22", "--level", "0.9", "--json", str(out)])
    assert rc == 0
    rows = json.loads(out.read_text())
    assert len(rows) == 2
    for r in rows:
        assert {"n_params", "n_tokens", "mean", "mean_ci_lower", "mean_ci_upper",
                "obs_ci_lower", "obs_ci_upper"} <= set(r)
        assert r["obs_ci_lower"] <= r["mean_ci_lower"] <= r["mean"] <= r["mean_ci_upper"]
    assert rows[0]["n_params"] == 1e9
    assert rows[1]["compute"] == 1e22
    assert abs(6 * rows[1]["n_params"] * rows[1]["n_tokens"] / 1e22 - 1) < 1e-9
    # too far out without --extrapolate: exit 1 with the guard's message
    rc = main(["forecast", str(fit_json), "--at", "n_params=1e13,n_tokens=1e11"])
    assert rc == 1
    assert "beyond the fitted domain" in capsys.readouterr().err
    rc = main(["forecast", str(fit_json), "--at", "n_params=abc"])
    assert rc == 1
    assert "COL=NUMBER" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    assert main(["forecast", str(bad), "--at", "n_params=1"]) == 1
    assert "not a fit JSON" in capsys.readouterr().err


def test_fit_auto_and_law_options(tmp_path, capsys):
    p = _curves_csv(tmp_path)
    rc = main(["fit", str(p), "--law", "auto", "--x", "n", "--y", "L",
               "--where", "curve == 'c0'", "--objective", "mse_log"])
    assert rc == 0
    out = capsys.readouterr().out
    # the choice and its reason: a clear winner, or the average of the tied candidates
    assert "law: chose" in out or "law: averaged" in out
    rc = main(["fit", str(p), "--law", "broken_power:n_breaks=2", "--x", "n", "--y", "L",
               "--where", "curve == 'c0'", "--starts", "20"])
    assert rc == 0
    assert "d2" in capsys.readouterr().out
    assert main(["fit", str(p), "--law", "m4:eps0=1", "--x", "n", "--y", "L"]) == 1
    assert "Did you mean 'eps_0'" in capsys.readouterr().err


def test_fit_learning_curve_options_and_reduce(tmp_path, capsys):
    import numpy as np
    import pandas as pd

    steps = np.arange(100, 5001, 100)
    rows = []
    for w, e in (("w64", 2.0), ("w128", 1.8)):
        for s in steps:
            rows.append({"Run": w, "it": s, "val/loss": e + 30 * s**-0.5})
    p = tmp_path / "log.csv"
    pd.DataFrame(rows).to_csv(p, index=False)
    rc = main(["fit", str(p), "--law", "saturating_power", "--x", "it", "--y", "L",
               "--map", "val/loss=L", "--warmup-fraction", "0.1", "--envelope",
               "--run", "Run"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "warmup=10" in text and "envelope=" in text
    out = tmp_path / "runs.csv"
    rc = main(["fit", str(p), "--law", "power", "--x", "it", "--y", "L", "--map",
               "val/loss=L", "--reduce", "final", "--run", "Run", "--step", "it"])
    # two runs reduce to two rows with the same step: too few distinct inputs
    assert rc == 1
    err = capsys.readouterr().err
    assert "reduce: final: the row with the largest 'it' of each run; 100 rows -> 2 runs" in err
    assert main(["fit", str(p), "--law", "power", "--x", "it", "--y", "L", "--map",
                 "val/loss"]) == 1
    assert "THEIRS=OURS" in capsys.readouterr().err
    del out
