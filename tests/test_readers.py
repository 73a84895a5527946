"""Readers on small fixtures written in the real formats by the tests themselves."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

import scalelaw as sl
from scalelaw.io import parse_units, read_runs, read_tensorboard, read_wandb, reduce_runs


def _write_tb(logdir, runs):
    from torch.utils.tensorboard import SummaryWriter

    for name, series in runs.items():
        w = SummaryWriter(log_dir=str(logdir / name))
        for step, loss in series:
            w.add_scalar("val/loss", loss, step)
            w.add_scalar("train/lr", 1e-3, step)
        w.close()


def test_tensorboard_directory_of_runs(tmp_path):
    _write_tb(tmp_path, {"w64": [(10, 3.0), (20, 2.5), (30, 2.2)],
                         "w128": [(10, 2.8), (20, 2.1)]})
    df = read_tensorboard(tmp_path)
    assert set(df.columns) == {"run", "step", "val/loss", "train/lr"}
    assert sorted(df.run.unique()) == ["w128", "w64"]
    w64 = df[df.run == "w64"].sort_values("step")
    # event files store scalars as float32: 1e-6 relative is their resolution
    np.testing.assert_allclose(w64["val/loss"], [3.0, 2.5, 2.2], rtol=1e-6)
    final = read_runs(tmp_path, columns={"val/loss": "loss"}, run="run", step="step",
                      y="loss", reduce="final")
    assert final.attrs["format"] == "tensorboard"
    got = dict(zip(final.run, final.loss, strict=True))
    assert got == pytest.approx({"w64": 2.2, "w128": 2.1}, rel=1e-6)
    assert "largest 'step'" in final.attrs["reduction"]
    with pytest.raises(sl.UnknownNameError, match="val/los"):
        read_tensorboard(tmp_path, tags=["val/los"])


def test_tensorboard_errors(tmp_path):
    with pytest.raises(sl.DataValidationError, match="No TensorBoard event file"):
        read_tensorboard(tmp_path)
    bad = tmp_path / "events.out.tfevents.123.host"
    bad.write_bytes(b"\x00\x01garbage" * 10)
    with pytest.raises(sl.DataValidationError, match="TensorBoard"):
        read_tensorboard(bad)


def test_wandb_history_export(tmp_path):
    hist = pd.DataFrame({"_step": [0, 100, 200, 0, 100], "_runtime": [1, 2, 3, 1, 2],
                         "name": ["a", "a", "a", "b", "b"],
                         "val_loss": [4.0, 3.0, 3.5, 3.9, 2.9]})
    p = tmp_path / "history.csv"
    hist.to_csv(p, index=False)
    df = read_runs(p, run="run", step="step", y="val_loss", reduce="best")
    assert df.attrs["format"] == "wandb"
    assert dict(zip(df.run, df.val_loss, strict=True)) == {"a": 3.0, "b": 2.9}
    jl = tmp_path / "history.jsonl"
    hist.drop(columns="name").to_json(jl, orient="records", lines=True)
    one = read_wandb(jl)
    assert one.run.unique().tolist() == ["history"]


def test_wandb_chart_export(tmp_path):
    p = tmp_path / "chart.csv"
    pd.DataFrame({
        "Step": [1, 2, 3],
        "run-a - val/loss": [3.0, 2.0, np.nan],
        "run-a - val/loss__MIN": [2.9, 1.9, np.nan],
        "run-a - val/loss__MAX": [3.1, 2.1, np.nan],
        "run-b - val/loss": [2.5, 2.2, 2.0],
    }).to_csv(p, index=False)
    df = read_wandb(p)
    assert df.attrs["dropped_columns"] == 2
    assert len(df) == 5  # the NaN of run-a at step 3 is absent, not a row
    fin = reduce_runs(df, run="run", y="val/loss", rule="final", step="step")
    assert dict(zip(fin.run, fin["val/loss"], strict=True)) == {"run-a": 2.0, "run-b": 2.0}


def test_wandb_unrecognised(tmp_path):
    p = tmp_path / "x.csv"
    pd.DataFrame({"a": [1], "b": [2]}).to_csv(p, index=False)
    with pytest.raises(sl.DataValidationError, match="does not look like a W&B export"):
        read_wandb(p)


def test_unit_suffixes_and_mixed_units():
    df = pd.DataFrame({"N": ["70M", "1.3B", "2.5B"], "D": ["300B tokens"] * 3,
                       "name": ["x", "y", "z"]})
    out = parse_units(df)
    assert out.N.tolist() == [7e7, 1.3e9, 2.5e9]
    assert out.D.tolist() == [3e11] * 3
    assert out.name.tolist() == ["x", "y", "z"]  # plain text left alone
    with pytest.raises(sl.DataValidationError, match=r"'N' mixes units: rows \[1\]"):
        parse_units(pd.DataFrame({"N": ["70M", "7", "1B"]}))
    with pytest.raises(sl.DataValidationError, match="'C' mixes units"):
        parse_units(pd.DataFrame({"C": ["1e20 FLOPs", "3 PF-days"]}))
    with pytest.raises(sl.DataValidationError, match=r"'N' holds values .* rows \[1\]"):
        parse_units(pd.DataFrame({"N": ["70M", "big"]}), ["N"])


def test_read_table_bad_files(tmp_path):
    empty = tmp_path / "e.csv"
    empty.write_text("")
    with pytest.raises(sl.DataValidationError, match="is empty"):
        read_runs(empty)
    header = tmp_path / "h.csv"
    header.write_text("n,loss\n")
    with pytest.raises(sl.DataValidationError, match="holds no rows"):
        read_runs(header)
    pq = tmp_path / "t.parquet"
    pd.DataFrame({"n": np.arange(100.0), "loss": np.arange(100.0)}).to_parquet(pq)
    pq.write_bytes(pq.read_bytes()[:200])  # truncated
    with pytest.raises(sl.DataValidationError, match="Could not read .* as parquet"):
        read_runs(pq)
    gz = tmp_path / "t.jsonl.gz"
    with gzip.open(gz, "wt") as f:
        f.write('{"n": 1, "loss": 2}\n{"n": 2, "lo')
    with pytest.raises(sl.DataValidationError, match="Could not read"):
        read_runs(gz)
    with pytest.raises(sl.UnknownNameError, match="Did you mean 'loss'"):
        read_runs(tmp_path / "h.csv", columns={"los": "y"}) if False else read_runs(
            _csv(tmp_path), columns={"los": "y"})
    with pytest.raises(sl.UnknownNameError):
        read_runs(_csv(tmp_path), format="excel")


def _csv(tmp_path):
    p = tmp_path / "ok.csv"
    pd.DataFrame({"n": [1, 2], "loss": [2.0, 1.0]}).to_csv(p, index=False)
    return p


def test_wrong_types_reach_fit_with_a_clear_error(tmp_path):
    p = tmp_path / "runs.csv"
    p.write_text("n,loss\n1e6,3.0\n1e7,abc\n1e8,2.0\n")
    df = read_runs(p)
    with pytest.raises(sl.DataValidationError, match=r"'loss'.*row"):
        sl.fit("power", df, x="n", y="loss")


def test_reduce_counts_rows_without_metric():
    df = pd.DataFrame({"run": ["a", "a", "b"], "step": [1, 2, 1], "loss": [3.0, None, 2.0]})
    out = reduce_runs(df, run="run", y="loss", rule="final", step="step")
    assert out.loss.tolist() == [3.0, 2.0]
    assert "1 rows without a 'loss' value skipped" in out.attrs["reduction"]
    with pytest.raises(sl.DataValidationError, match="step"):
        reduce_runs(df, run="run", y="loss", rule="final")
    with pytest.raises(sl.UnknownNameError):
        reduce_runs(df, run="run", y="loss", rule="last")


def test_final_of_a_long_table_is_refused_until_one_metric_is_kept(tmp_path):
    # one row per (run, step, split): the last step holds both the train and the test loss
    df = pd.DataFrame({"run": ["a"] * 4 + ["b"] * 4, "step": [1, 1, 2, 2] * 2,
                       "split": ["train", "test"] * 4,
                       "value": [3.0, 3.5, 1.0, 2.0, 2.5, 3.0, 0.5, 1.5]})
    with pytest.raises(sl.DataValidationError,
                       match=r"2 run\(s\) have several rows at their last 'step'.*"
                             r"differ in \['split'\].*--where \"split == 'test'\""):
        reduce_runs(df, run="run", y="value", rule="final", step="step")
    p = tmp_path / "long.csv"
    df.to_csv(p, index=False)
    out = read_runs(p, run="run", step="step", y="value", reduce="final",
                    where="split == 'test'")
    assert out.value.tolist() == [2.0, 1.5]  # the final test losses
    assert out.attrs["where"] == "kept 4 of 8 rows (split == 'test')"
