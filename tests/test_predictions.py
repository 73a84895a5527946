"""Crossed seed designs in sweeps, stored per-example predictions, and their decomposition."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch")

from scalelaw.cli import main
from scalelaw.variance import decompose_table
from teacher_student.predictions import probe_set, sweep_predictions
from teacher_student.store import (
    final_metrics,
    load_weights,
    prepare_store,
    runs_with_predictions,
)
from teacher_student.suite import get_task
from teacher_student.sweep import SweepConfig, run_sweep
from teacher_student.tasks import TaskConfigError


def _cfg(label_noise: float = 0.3, **extra) -> SweepConfig:
    task = get_task("bahri-d2").to_dict()
    task["label_noise"] = label_noise
    task["name"] = f"bahri-d2-noise{label_noise}"
    task.pop("task_id", None)
    d = {"task_config": task, "widths": [8], "n_train": [64], "seeds": [0, 1, 2],
         "data_seeds": [0, 1, 2], "noise_seeds": [0, 1, 2], "steps": 150, "lr": 1e-2,
         "n_test": 64, "eval_steps": 1, "predictions": "float16", "n_probe": 40}
    d.update(extra)
    return SweepConfig.from_dict(d)


def _components(out) -> dict[str, float]:
    table = sweep_predictions(out)
    res = decompose_table(table, "prediction", factors=["data_seed", "seed", "noise_seed"],
                          example="example", target="target", size="width")
    comp = res.results[0]
    return {**comp.components, "total": comp.total, "bias2": comp.bias2}


def test_crossed_sweep_stores_a_complete_prediction_table(tmp_path):
    cfg = _cfg()
    rep = run_sweep(cfg, tmp_path, device="cpu", progress=False)
    assert rep.n_trained == 27
    table = sweep_predictions(tmp_path)
    # 3 x 3 x 3 seeds, 40 probe rows, one output: every cell present once
    assert len(table) == 27 * 40
    assert table.groupby(["data_seed", "seed", "noise_seed"]).size().eq(40).all()
    # the probe inputs are shared: one noise-free target per example, across runs
    assert table.groupby("example")["target"].nunique().eq(1).all()
    _, target = probe_set(cfg.task, 40, 0)
    assert np.allclose(table.loc[table["run_id"] == table["run_id"].iloc[0], "target"],
                       target[:, 0])
    comp = _components(tmp_path)
    # Label noise sd 0.3 on 64 rows. The noise seed draws the same noise vector for
    # every data draw, so its mean (sd 0.3 / 8) shifts every fit alike: a noise main
    # effect near 0.3^2 / 64 = 0.0014 (0.0016 with 4 x 4 x 4 seeds). The rest of the
    # noise acts on different inputs per data draw: the data x noise interaction.
    # The init seed moves every fit. Each is over 5 % of the total here (measured
    # 12-40 %); the data main effect itself is near zero (64 rows cover the square
    # alike) and is not asserted.
    for term in ("seed", "noise_seed", "data_seed:noise_seed"):
        assert comp[term] > 0.05 * comp["total"], comp
    assert comp["bias2"] >= 0


def test_without_label_noise_the_noise_seed_changes_nothing(tmp_path):
    run_sweep(_cfg(label_noise=0.0, seeds=[0, 1], data_seeds=[0, 1], noise_seeds=[0, 1]),
              tmp_path, device="cpu", progress=False)
    table = sweep_predictions(tmp_path)
    wide = table.pivot_table(index=["data_seed", "seed", "example"], columns="noise_seed",
                             values="prediction")
    # the same data, init and batches: identical runs, so noise terms are zero
    assert np.array_equal(wide[0].to_numpy(), wide[1].to_numpy())
    comp = _components(tmp_path)
    noise_terms = [k for k in comp if "noise_seed" in k]
    assert len(noise_terms) == 4  # main effect and three interactions
    for k in noise_terms:
        assert abs(comp[k]) <= 1e-9 * comp["total"], (k, comp)
    assert comp["data_seed"] > 0 and comp["seed"] > 0


def test_stored_predictions_are_the_runs_outputs(tmp_path):
    cfg = _cfg(seeds=[0, 1], data_seeds=[0], noise_seeds=[0], predictions="float32",
               keep_weights=True, n_probe=25)
    run_sweep(cfg, tmp_path, device="cpu", progress=False)
    table = sweep_predictions(tmp_path)
    x, _ = probe_set(cfg.task, 25, 0)
    for rid, rows in table.groupby("run_id"):
        w = load_weights(tmp_path, rid)
        h = x
        for k in range(0, len(w) - 2, 2):
            h = np.maximum(h @ w[k] + w[k + 1], 0.0)
        expected = (h @ w[-2] + w[-1])[:, 0]
        # float32 training and storage against a float64 forward of the same weights
        assert np.allclose(rows.sort_values("row")["prediction"], expected, rtol=1e-5,
                           atol=1e-6)


def test_float16_storage_rounds_within_half_precision(tmp_path):
    run_sweep(_cfg(seeds=[0], data_seeds=[0], noise_seeds=[0], predictions="float32"),
              tmp_path / "a", device="cpu", progress=False)
    run_sweep(_cfg(seeds=[0], data_seeds=[0], noise_seeds=[0]), tmp_path / "b",
              device="cpu", progress=False)
    a = sweep_predictions(tmp_path / "a")["prediction"].to_numpy()
    b = sweep_predictions(tmp_path / "b")["prediction"].to_numpy()
    # float16 has an 11-bit significand: relative rounding error at most 2^-11
    assert np.all(np.abs(a - b) <= 2.0 ** -11 * np.abs(a) + 1e-7)
    assert not np.array_equal(a, b)  # it did round


def test_asking_for_predictions_later_retrains_only_runs_without_them(tmp_path):
    base = {"seeds": [0, 1], "data_seeds": [0], "noise_seeds": [0]}
    run_sweep(_cfg(predictions="none", **base), tmp_path, device="cpu", progress=False)
    before = final_metrics(tmp_path).set_index("run_id")["test_loss"]
    # the store's config now asks for predictions, but none are recorded yet: counted
    prepare_store(_cfg(**base), tmp_path)
    with pytest.warns(UserWarning, match="2 of 2 finished runs have no predictions"):
        assert sweep_predictions(tmp_path).empty
    rep = run_sweep(_cfg(**base), tmp_path, device="cpu", progress=False)
    assert rep.n_trained == 2
    after = final_metrics(tmp_path).set_index("run_id")["test_loss"]
    assert np.allclose(before.sort_index(), after.sort_index(), rtol=1e-6)  # deterministic
    assert len(sweep_predictions(tmp_path)) == 2 * 40
    # a temporary file left by a killed write is no record of a run
    probe = next((tmp_path / "predictions").iterdir())
    (probe / ".0123456789abcdef.999.tmp.npy").write_bytes(b"cut short")
    recorded = runs_with_predictions(_cfg(**base), tmp_path)
    assert recorded == set(final_metrics(tmp_path)["run_id"])
    assert run_sweep(_cfg(**base), tmp_path, device="cpu", progress=False).n_trained == 0
    assert len(sweep_predictions(tmp_path)) == 2 * 40
    # another probe set is another record: those runs train once more
    assert run_sweep(_cfg(n_probe=10, **base), tmp_path, device="cpu",
                     progress=False).n_trained == 2


@pytest.mark.parametrize("key, value, match", [
    ("predictions", "float8", "'predictions' must be one of"),
    ("n_probe", 0, "'n_probe' must be an int >= 1"),
    ("probe_seed", -1, "'probe_seed' must be an int >= 0"),
])
def test_bad_prediction_settings_are_named(key, value, match):
    with pytest.raises(TaskConfigError, match=match):
        _cfg(**{key: value})


def test_sweep_without_predictions_says_how_to_get_them(tmp_path):
    run_sweep(_cfg(predictions="none", seeds=[0], data_seeds=[0], noise_seeds=[0]), tmp_path,
              device="cpu", progress=False)
    with pytest.raises(TaskConfigError, match="does not keep predictions"):
        sweep_predictions(tmp_path)


def test_cli_exports_predictions_for_scalelaw_variance(tmp_path, capsys):
    cfg = _cfg(seeds=[0, 1], data_seeds=[0, 1], noise_seeds=[0, 1], widths=[4, 8])
    run_sweep(cfg, tmp_path / "store", device="cpu", progress=False)
    table = tmp_path / "preds.parquet"
    assert main(["sweep", "results", str(tmp_path / "store"), "--out", str(table),
                 "--predictions"]) == 0
    assert "wrote 640 rows (16 runs)" in capsys.readouterr().out
    out_json = tmp_path / "variance.json"
    assert main(["variance", str(table), "--prediction", "prediction",
                 "--factors", "data_seed,seed,noise_seed", "--example", "example",
                 "--target", "target", "--size", "width", "--json", str(out_json)]) == 0
    doc = json.loads(out_json.read_text())
    assert [g["size"] for g in doc["groups"]] == [4.0, 8.0]
    assert main(["sweep", "results", str(tmp_path / "store"), "--out", str(table),
                 "--predictions", "--final"]) != 0
    # a wrong suffix is refused before any work, naming what is expected
    assert main(["sweep", "results", str(tmp_path / "store"), "--out",
                 str(tmp_path / "preds.txt"), "--predictions"]) == 1
    assert ".csv or .parquet" in capsys.readouterr().err
