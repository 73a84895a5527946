"""``scalelaw spectrum`` and ``scalelaw sweep results --linearised``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from scalelaw.cli import main


@pytest.fixture
def spectrum_files(tmp_path):
    k = np.arange(1, 20_001, dtype=float)
    np.save(tmp_path / "lam.npy", k ** -2.0)
    pd.DataFrame({"power": k ** -2.0}).to_csv(tmp_path / "power.csv", index=False)
    np.save(tmp_path / "short.npy", k[:100] ** -2.0)
    np.save(tmp_path / "neg.npy", -(k ** -2.0))
    np.save(tmp_path / "pickled.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    return tmp_path


def test_spectrum_from_files_writes_the_json_and_plot(spectrum_files, capsys):
    d = spectrum_files
    out, png = d / "out.json", d / "out.png"
    rc = main(["spectrum", "--eigenvalues", str(d / "lam.npy"), "--target-power",
               str(d / "power.csv"), "--window", "30,300", "--json", str(out),
               "--plot", str(png)])
    assert rc == 0
    assert "predicted data exponent alpha_D" in capsys.readouterr().out
    res = json.loads(out.read_text())
    assert {"decay_exponent", "decay_ci", "predicted_alpha", "predicted_curve",
            "warnings"} <= set(res)
    assert abs(res["decay_exponent"] - 2.0) < 1e-9
    # lambda_k = k^-2 with power proportional to it: alpha = 1 (20,000 modes: the finite
    # spectrum steepens the curve by about P / N = 1.5 % at P = 300)
    assert abs(res["predicted_alpha"] - 1.0) < 0.03
    assert len(res["predicted_curve"]["P"]) == len(res["predicted_curve"]["E"]) > 50
    assert png.stat().st_size > 1000


@pytest.mark.parametrize("files, message", [
    (("missing.npy", "power.csv"), "--eigenvalues '{d}/missing.npy': no such file"),
    (("neg.npy", "power.csv"), "--eigenvalues must be finite and >= 0"),
    (("short.npy", "power.csv"), "--eigenvalues has 100 values but --target-power has 20000"),
    (("lam.npy", "pickled.npy"), "--target-power '{d}/pickled.npy' cannot be read as a plain"),
])
def test_bad_spectrum_files_exit_1_with_one_line(spectrum_files, files, message, capsys):
    d = spectrum_files
    rc = main(["spectrum", "--eigenvalues", str(d / files[0]), "--target-power",
               str(d / files[1])])
    assert rc == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("scalelaw: error: " + message.format(d=d))


@pytest.mark.parametrize("argv", [
    ["spectrum"],
    ["spectrum", "--eigenvalues", "a.npy"],
    ["spectrum", "--task", "bahri-d2", "--width", "8"],
    ["spectrum", "--task", "bahri-d2", "--width", "8", "--depth", "2", "--eigenvalues",
     "a.npy", "--target-power", "b.npy"],
    ["spectrum", "--task", "bahri-d2", "--width", "8", "--depth", "2", "--ridge", "0.1"],
])
def test_spectrum_usage_errors_exit_2(argv, capsys):
    assert main(argv) == 2
    assert "scalelaw: error:" in capsys.readouterr().err


def test_spectrum_of_students_at_init_and_trained(tmp_path, capsys):
    from teacher_student.sweep import SweepConfig, run_sweep

    out = tmp_path / "init.json"
    assert main(["spectrum", "--task", "bahri-d2", "--width", "16", "--depth", "2", "--n",
                 "200", "--device", "cpu", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["input"]["state"] == "init" and res["input"]["n"] == 200
    assert res["decay_exponent"] > 1.0
    cfg = SweepConfig.from_dict({"task": "bahri-d2", "widths": [16], "depths": [2],
                                 "n_train": [16, 64], "seeds": [0], "steps": 30,
                                 "n_test": 300, "keep_weights": True})
    run_sweep(cfg, tmp_path / "sweep", device="cpu", progress=False, threads=1)
    out2, png = tmp_path / "trained.json", tmp_path / "trained.png"
    assert main(["spectrum", "--task", "bahri-d2", "--width", "16", "--depth", "2", "--n",
                 "200", "--device", "cpu", "--trained", str(tmp_path / "sweep"), "--json",
                 str(out2), "--plot", str(png)]) == 0
    res2 = json.loads(out2.read_text())
    assert res2["input"]["state"] == "trained" and res2["input"]["n_train"] in (16, 64)
    assert png.stat().st_size > 1000
    capsys.readouterr()
    assert main(["spectrum", "--task", "bahri-d3", "--width", "16", "--depth", "2",
                 "--trained", str(tmp_path / "sweep")]) == 1
    assert "is a sweep of task 'bahri-d2'" in capsys.readouterr().err


def test_sweep_results_linearised_writes_l_inf(tmp_path, capsys):
    from teacher_student.sweep import SweepConfig, run_sweep

    cfg = SweepConfig.from_dict({"task": "bahri-d2", "widths": [8, 16], "depths": [2],
                                 "n_train": [32], "seeds": [0], "steps": 20, "n_test": 300})
    run_sweep(cfg, tmp_path / "sweep", device="cpu", progress=False, threads=1)
    target = tmp_path / "lin.csv"
    assert main(["sweep", "results", str(tmp_path / "sweep"), "--linearised", "--out",
                 str(target)]) == 0
    table = pd.read_csv(target)
    assert len(table) == 2 and table["l_inf"].notna().all()
    assert {"test_loss", "width", "l_inf_train"} <= set(table.columns)
