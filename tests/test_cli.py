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
          "nope > 1"], "scalelaw: error: --where 'nope > 1' could not be applied"),
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
