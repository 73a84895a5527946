"""``scalelaw lottery`` and ``scalelaw variance`` on bad input: one line, an exit code,
no traceback, before any work (the CLI's ``main`` is called in-process)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from scalelaw.cli import main


def _run(capsys, argv: list[str]) -> tuple[int, str, str]:
    code = main(argv)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def _assert_error(err: str, code: int, expected: int, *needles: str) -> None:
    assert code == expected, err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("scalelaw: error:")]
    assert len(errors) == 1, err
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])


@pytest.fixture
def tables(tmp_path):
    rng = np.random.default_rng(0)
    idx = pd.MultiIndex.from_product([range(3), range(3), range(5)], names=["d", "s", "x"])
    design = idx.to_frame(index=False)
    paths = {}
    for name, frame in {
        "ok": design.assign(p=rng.normal(size=45)),
        "const": design.assign(p=0.1),
        "huge": design.assign(p=1e300 * (1 + 0.1 * rng.normal(size=45))),
        "onelevel": design[design.d == 0].assign(p=rng.normal(size=15)),
        "diverged": design.assign(p=np.where((design.d == 1) & (design.s == 2), np.inf,
                                             rng.normal(size=45))),
        "negsize": pd.DataFrame({"loss": rng.normal(1, 0.1, 40), "n": [-5] * 20 + [10] * 20,
                                 "seed": list(range(20)) * 2}),
        "runs": pd.DataFrame({"loss": rng.normal(1, 0.1, 60)}),
        "inf": pd.DataFrame({"loss": np.r_[rng.normal(1, 0.1, 58), np.inf, 1e308]}),
        "nonfinite": pd.DataFrame({"loss": np.r_[rng.normal(1, 0.1, 58), np.inf, np.nan]}),
    }.items():
        paths[name] = str(tmp_path / f"{name}.csv")
        frame.to_csv(paths[name], index=False)
    return paths


VAR = ["--prediction", "p", "--example", "x"]


def test_variance_constant_predictions_share_is_not_above_one(tables, capsys):
    code, out, err = _run(capsys, ["variance", tables["const"], *VAR, "--factors", "d,s",
                                   "--json", "-"])
    assert code == 0, err
    doc = json.loads(out[out.index("{"):])
    assert doc["groups"][0]["total"] == 0.0
    assert doc["groups"][0]["interaction_share"] == "nan"  # scalelaw writes NaN as "nan"
    assert "no variance to share" in out


def test_variance_refuses_huge_values(tables, capsys):
    code, out, err = _run(capsys, ["variance", tables["huge"], *VAR, "--factors", "d,s"])
    _assert_error(err, code, 1, "p: row 0", "rescale")
    assert out == ""


def test_variance_one_level_factor_is_named(tables, capsys):
    code, _, err = _run(capsys, ["variance", tables["onelevel"], *VAR, "--factors", "d,s"])
    _assert_error(err, code, 1, "factor 'd' has 1 level")


def test_variance_repeated_factor_is_named(tables, capsys):
    code, _, err = _run(capsys, ["variance", tables["ok"], *VAR, "--factors", "s,s"])
    _assert_error(err, code, 2, "--factors names 's' twice")


def test_variance_negative_threshold_is_refused(tables, capsys, tmp_path):
    plot = tmp_path / "v.png"
    code, out, err = _run(capsys, ["variance", tables["ok"], *VAR, "--factors", "d,s",
                                   "--threshold", "-3", "--plot", str(plot)])
    _assert_error(err, code, 2, "--threshold must be a positive size", "-3")
    assert out == "" and not plot.exists()


def test_variance_diverged_run_is_counted(tables, capsys):
    code, out, err = _run(capsys, ["variance", tables["diverged"], *VAR, "--factors", "d,s"])
    assert code == 0, err
    assert "1 diverged run" in err  # the warning, on the console
    assert "excluded: 1 diverged run(s)" in out


def test_lottery_negative_size_names_column_and_rows(tables, capsys):
    code, out, err = _run(capsys, ["lottery", tables["negsize"], "--value", "loss", "--size",
                                   "n", "--seed", "seed"])
    _assert_error(err, code, 1, "n: rows 0, 1, 2", "size -5", "positive")
    assert out == ""


@pytest.mark.parametrize("option, value, needle", [
    ("--n-test", "0", "--n-test must be a positive integer"),
    ("--n-test", "-3", "--n-test must be a positive integer"),
    ("--n-boot", "0", "--n-boot must be at least 20"),
])
def test_lottery_bad_numbers_are_usage_errors(tables, capsys, option, value, needle):
    code, out, err = _run(capsys, ["lottery", tables["runs"], "--value", "loss", option, value])
    _assert_error(err, code, 2, needle)
    assert out == ""


def test_lottery_huge_values_name_the_users_column(tables, capsys):
    code, _, err = _run(capsys, ["lottery", tables["inf"], "--value", "loss"])
    _assert_error(err, code, 1, "loss: row 59", "rescale")
    assert "'sd'" not in err and "--drop-invalid" not in err


def test_lottery_non_finite_runs_are_counted_on_the_console(tables, capsys):
    code, out, err = _run(capsys, ["lottery", tables["nonfinite"], "--value", "loss",
                                   "--n-boot", "20"])
    assert code == 0, err
    assert "2 of 60 runs excluded" in err and "--failures" in err
    assert "60 runs, 2 excluded" in out
