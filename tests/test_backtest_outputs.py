"""What a backtest writes and draws: every point, as JSON, a table and a figure."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import scalelaw as sl
from scalelaw.cli import main
from scalelaw.plotting import plot_backtest


def _curves():
    rows = []
    x = np.logspace(3, 7, 24)
    for g, (e, a) in enumerate([(0.5, 0.4), (0.2, 0.3)]):
        rng = np.random.default_rng(g)
        y = (e + 20 * x**-a) * np.exp(0.01 * rng.standard_normal(x.size))
        rows.append(pd.DataFrame({"curve": f"c{g}", "n": x, "L": y,
                                  "training": (np.arange(x.size) < 18).astype(int)}))
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def bt():
    return sl.backtest(_curves(), "saturating_power", x="n", y="L", group="curve",
                       split_column="training")


def test_points_hold_every_held_out_forecast_as_a_refit_gives_it(bt):
    pts = bt.points
    held = pts[pts.heldout]
    assert len(held) == 2 * 6 and len(pts) == 2 * 24  # training rows kept beside them
    assert set(held.columns) >= {"n", "L", "mean", "obs_ci_lower", "obs_ci_upper",
                                 "mean_ci_lower", "mean_ci_upper", "group", "law", "inside"}
    assert set(pts.law) == {"saturating_power"}
    # the forecast column is what a refit of one group's training rows predicts
    df = _curves()
    sub = df[(df.curve == "c1") & (df.training == 1)]
    refit = sl.calibrate(sl.fit("saturating_power", sub, x="n", y="L"))
    mine = held[held.group == "c1"]
    tab = refit.get_prediction(0.9, n=mine.n.to_numpy(), max_extrapolation=np.inf)
    # the backtest fits the loss divided by its training rows' geometric mean (a unit-free
    # fit) and maps back: the same optimum up to the search's tolerance (8e-12 seen)
    np.testing.assert_allclose(mine["mean"], tab["mean"], rtol=1e-9)
    np.testing.assert_allclose(mine["obs_ci_upper"], tab["obs_ci_upper"], rtol=1e-9)
    # the scores come from the held-out rows only
    assert bt.overall["pi_coverage"] == pytest.approx(held.inside.mean())
    assert bt.groups.set_index("group").loc["c1", "rmsle"] == pytest.approx(
        np.sqrt(np.mean(np.log(mine["mean"] / mine["L"]) ** 2)), rel=1e-12)
    d = json.loads(json.dumps(bt.to_dict()))
    assert len(d["points"]) == len(pts)
    first = pd.DataFrame(d["points"]).query("heldout and group == 'c1'")
    np.testing.assert_allclose(first["mean"], mine["mean"], rtol=1e-15)


def test_points_table_is_written_as_csv_or_parquet(bt, tmp_path):
    bt.write_points(tmp_path / "p.csv")
    bt.write_points(tmp_path / "p.parquet")
    for name in ("p.csv", "p.parquet"):
        back = (pd.read_csv if name.endswith("csv") else pd.read_parquet)(tmp_path / name)
        np.testing.assert_allclose(back["mean"], bt.points["mean"], rtol=1e-15)
        assert back["heldout"].sum() == 12
    with pytest.raises(sl.DataValidationError, match="CSV") as err:
        bt.write_points(tmp_path / "p.xlsx")
    assert err.value.column == "out"


def test_plot_draws_each_group_with_its_fitted_range_and_interval(bt):
    fig = plot_backtest(bt)
    axes = [a for a in fig.axes if a.get_visible()]
    assert len(axes) == 2
    for ax, g in zip(axes, ["c0", "c1"], strict=True):
        sub = bt.points[bt.points.group == g]
        train_x = sub.n[~sub.heldout]
        # the fitted range: one shaded span from the smallest to the largest training x
        spans = [p for p in ax.patches if p.get_label() == "fitted range"]
        assert len(spans) == 1
        x0, x1 = spans[0].get_x(), spans[0].get_x() + spans[0].get_width()
        assert x0 == pytest.approx(train_x.min()) and x1 == pytest.approx(train_x.max())
        # the view holds every point and every interval end
        lo, hi = ax.get_ylim()
        assert lo <= sub.obs_ci_lower.min() and hi >= sub.obs_ci_upper.max()
        assert ax.get_xlim()[1] >= sub.n.max()
        labels = {c.get_label() for c in ax.collections}
        assert {"prediction interval", "actual (held out)", "training"} <= labels
        assert g in ax.get_title() and "saturating_power" in ax.get_title()
    with pytest.raises(sl.DataValidationError, match="No backtest points"):
        plot_backtest(bt, groups=["nope"])


def test_backtest_command_writes_json_table_and_plot(tmp_path, capsys):
    data = tmp_path / "curves.csv"
    _curves().to_csv(data, index=False)
    out, js, png = tmp_path / "pts.csv", tmp_path / "bt.json", tmp_path / "bt.png"
    assert main(["backtest", str(data), "--law", "saturating_power", "--x", "n", "--y", "L",
                 "--group", "curve", "--split-column", "training", "--jobs", "1",
                 "--no-progress", "--json", str(js), "--out", str(out),
                 "--plot", str(png)]) == 0
    table = pd.read_csv(out)
    d = json.loads(js.read_text())
    assert len(d["points"]) == len(table) == 48
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"
    assert main(["backtest", str(data), "--law", "power", "--x", "n", "--y", "L",
                 "--holdout-largest", "3", "--out", str(tmp_path / "x.xlsx")]) == 2
    assert "--out" in capsys.readouterr().err
