"""Intrinsic dimension on hostile input: ties, grids, bad files, huge values, retired names."""

from __future__ import annotations

import itertools
import re
from importlib.util import find_spec

import numpy as np
import pandas as pd
import pytest

from scalelaw.cli import main
from scalelaw.exceptions import DataValidationError
from scalelaw.intrinsic_dim import (
    MAX_TIED_SHARE,
    IntrinsicDimensionWarning,
    estimate_intrinsic_dim,
    estimate_intrinsic_dims,
)

pytestmark = pytest.mark.skipif(find_spec("skdim") is None, reason="needs scikit-dimension")

GRID = np.array(list(itertools.product(range(20), range(20))), dtype=float)
LATTICE = np.array(list(itertools.product(range(3), repeat=4)), dtype=float)


def _one_error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert "Traceback" not in err
    assert len(lines) == 1 and lines[0].startswith("scalelaw: error: "), err
    return lines[0]


@pytest.mark.parametrize("points, n_tied", [(GRID, 400), (LATTICE, 81)])
@pytest.mark.parametrize("method", ["twonn", "mle"])
def test_tied_neighbour_distances_are_refused_never_read_as_zero(points, n_tied, method):
    # every point of a grid has its two nearest neighbours at the same distance:
    # TwoNN's ratio is 1 and it used to return 0.00 [0.00, 0.00]
    with pytest.raises(DataValidationError,
                       match=rf"{n_tied} of {len(points)} distinct points .* same distance"):
        estimate_intrinsic_dim(points, method, n_boot=10)


def test_a_grid_still_has_a_linear_span():
    assert estimate_intrinsic_dim(GRID, "global_pca", n_boot=10).dimension == 2


def test_a_few_tied_points_are_left_out_with_their_count():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, 3))
    v = rng.normal(size=(20, 3)) * 1e-4  # p - v and p + v: p's two nearest, equidistant
    pts = np.vstack([x, x[:20] + v, x[:20] - v])
    assert 20 / len(pts) <= MAX_TIED_SHARE
    with pytest.warns(IntrinsicDimensionWarning, match=r"20 point\(s\) whose two nearest"):
        res = estimate_intrinsic_dim(pts, n_boot=20)
    assert res.settings["n_tied_left_out"] == 20
    assert any("20 point(s)" in w for w in res.warnings)
    assert 2.7 < res.dimension < 3.3  # a 3-d Gaussian: the tied points do not distort it


def test_rounded_coordinates_are_refused_with_the_count():
    rng = np.random.default_rng(1)
    pts = np.round(rng.uniform(size=(5000, 2)), 2)  # 2 decimals: a 100 x 100 grid, filled
    with pytest.raises(DataValidationError, match=r"of \d+ distinct points \(\d+%\)"):
        estimate_intrinsic_dim(pts, n_boot=10)


def test_huge_coordinates_are_rescaled_exactly():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(600, 3)) @ rng.normal(size=(3, 6))
    plain = estimate_intrinsic_dims(x, ["twonn", "mle"], n_boot=20)
    huge = estimate_intrinsic_dims(x * 2.0**1000, ["twonn", "mle"], n_boot=20)  # ~1e301
    for m in plain:
        # a power-of-two scale is exact: the very same estimate and interval
        assert huge[m].dimension == plain[m].dimension
        assert huge[m].ci == plain[m].ci
        assert any("rescaled" in w for w in huge[m].warnings)


def test_every_estimate_is_positive_and_finite():
    rng = np.random.default_rng(3)
    for X in (rng.normal(size=(50, 1)), rng.normal(size=(200, 2)) * 1e-200):
        for m, r in estimate_intrinsic_dims(X, ["twonn", "mle", "global_pca"],
                                            n_boot=10).items():
            assert np.isfinite(r.dimension) and r.dimension > 0, m
            assert 0 < r.ci[0] <= r.ci[1] and np.isfinite(r.ci[0]), m


# ----------------------------------------------------------------- the CLI
def _write_cases(tmp_path) -> dict[str, str]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 3))
    files = {}
    np.save(tmp_path / "grid.npy", GRID)
    files["grid"] = "grid.npy"
    np.save(tmp_path / "lattice.npy", LATTICE)
    files["lattice"] = "lattice.npy"
    np.save(tmp_path / "obj.npy", np.array([[1, "a"], [2, "b"]], dtype=object),
            allow_pickle=True)
    files["object"] = "obj.npy"
    np.save(tmp_path / "ok.npy", x)
    raw = (tmp_path / "ok.npy").read_bytes()
    (tmp_path / "trunc.npy").write_bytes(raw[: len(raw) // 2])
    files["truncated"] = "trunc.npy"
    (tmp_path / "empty.csv").write_text("")
    files["empty csv"] = "empty.csv"
    (tmp_path / "header.csv").write_text("a,b,c\n")
    files["header-only csv"] = "header.csv"
    np.save(tmp_path / "complex.npy", x.astype(complex))
    files["complex"] = "complex.npy"
    (tmp_path / "trunc.npz").write_bytes(b"PK\x03\x04garbage")
    files["truncated npz"] = "trunc.npz"
    np.save(tmp_path / "nan.npy", np.vstack([x, [[np.nan, 0, 0]]]))
    files["nan"] = "nan.npy"
    np.save(tmp_path / "text.npy", np.array([["a", "b"]] * 20))
    files["text"] = "text.npy"
    return files


@pytest.mark.parametrize("case, message", [
    ("grid", r"grid\.npy: 400 of 400 distinct points .*same distance"),
    ("lattice", r"lattice\.npy: 81 of 81 distinct points .*same distance"),
    ("object", r"obj\.npy.* Python objects .*pickles are never loaded"),
    ("truncated", r"trunc\.npy.* could not be read .*truncated"),
    ("empty csv", r"empty\.csv.* is empty"),
    ("header-only csv", r"header\.csv.* no rows"),
    ("complex", r"complex\.npy.* complex numbers"),
    ("truncated npz", r"trunc\.npz.* could not be read"),
    ("nan", r"nan\.npy.* 1 point\(s\) hold NaN"),
    ("text", r"text\.npy.* not numbers"),
])
def test_cli_id_refuses_bad_points_in_one_line(tmp_path, capsys, case, message):
    files = _write_cases(tmp_path)
    out = tmp_path / "out.json"
    rc = main(["id", str(tmp_path / files[case]), "--json", str(out), "--n-boot", "10"])
    cap = capsys.readouterr()
    assert rc == 1, cap
    line = _one_error_line(cap.err)
    assert re.search(message, line), line
    assert cap.out == "" and not out.exists()  # refused before any work or output


def test_cli_id_on_huge_coordinates_reads_the_same_dimension(tmp_path, capsys):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(400, 3)) @ rng.normal(size=(3, 5))
    np.save(tmp_path / "plain.npy", x)
    np.save(tmp_path / "huge.npy", x * 1e300)
    assert main(["id", str(tmp_path / "plain.npy"), "--n-boot", "20"]) == 0
    plain = capsys.readouterr().out
    assert main(["id", str(tmp_path / "huge.npy"), "--n-boot", "20"]) == 0
    huge = capsys.readouterr().out
    number = plain.split("intrinsic dimension ")[1].split(" (")[0]
    assert number in huge  # the same estimate and interval, to the printed digits
    assert "rescaled" in huge


def test_cli_id_refuses_retired_lpca_as_usage(tmp_path, capsys):
    np.save(tmp_path / "ok.npy", np.random.default_rng(0).normal(size=(100, 3)))
    assert main(["id", str(tmp_path / "ok.npy"), "--method", "lpca"]) == 2
    err = capsys.readouterr().err
    assert "global_pca" in err and "linear span" in err and "Traceback" not in err
    # check --id-data too, before the table is read
    assert main(["check", str(tmp_path / "never-read.csv"), "--x", "n_train", "--y", "loss",
                 "--id-data", str(tmp_path / "ok.npy"), "--method", "lpca"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "never-read" not in err
    assert "global_pca" in err.strip().splitlines()[-1]  # usage, then the reason


@pytest.mark.parametrize("option, value", [("--k", "2"), ("--n-boot", "0"),
                                           ("--max-points", "3"), ("--seed", "-1")])
def test_cli_id_checks_its_options_before_reading(tmp_path, capsys, option, value):
    rc = main(["id", str(tmp_path / "never-read.npy"), option, value])
    assert rc == 1
    line = _one_error_line(capsys.readouterr().err)
    assert option in line and "does not exist" not in line


def test_check_with_grid_id_data_fails_cleanly(tmp_path, capsys):
    np.save(tmp_path / "grid.npy", GRID)
    n = np.array([64, 128, 256, 512, 1024] * 2)
    pd.DataFrame({"n_train": n, "n_params": 50_000, "loss": 2.0 * n ** -0.8}).to_csv(
        tmp_path / "runs.csv", index=False)
    rc = main(["check", str(tmp_path / "runs.csv"), "--x", "n_train", "--y", "loss",
               "--regime", "resolution", "--id-data", str(tmp_path / "grid.npy")])
    err = capsys.readouterr().err
    assert rc == 1 and "ZeroDivisionError" not in err
    assert "same distance" in _one_error_line(err)
