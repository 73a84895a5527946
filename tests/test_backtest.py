"""Backtests, law selection by held-out scale, and fit(law="auto")."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import scalelaw as sl
from scalelaw.backtest import backtest
from scalelaw.fitting import select_law


def _curves():
    rows = []
    x = np.logspace(3, 7, 24)
    for g, (e, a) in enumerate([(0.5, 0.4), (0.2, 0.3)]):
        rng = np.random.default_rng(g)
        y = (e + 20 * x**-a) * np.exp(0.002 * rng.standard_normal(x.size))
        rows.append(pd.DataFrame({"curve": f"c{g}", "n": x, "L": y,
                                  "training": (np.arange(x.size) < 18).astype(int)}))
    return pd.concat(rows, ignore_index=True)


def test_select_law_prefers_the_law_that_extrapolates():
    # Data bend towards a floor: a pure power law fits the small scales about
    # as well in-sample but forecasts the larger ones badly.
    n = np.logspace(3, 7, 40)
    df = pd.DataFrame({"n": n, "L": 0.5 + 20 * n**-0.4})
    sel = select_law(df, x="n", y="L", candidates=["power", "saturating_power"])
    assert sel.chosen == "saturating_power"
    t = sel.table.set_index("law")
    assert t.loc["saturating_power", "score"] < 1e-6 < t.loc["power", "score"]
    assert "held-out RMSLE" in sel.reason and "power" in sel.reason


def test_fit_auto_records_its_reason_and_calibration():
    n = np.logspace(3, 7, 30)
    df = pd.DataFrame({"n": n, "L": 0.5 + 20 * n**-0.4})
    with warnings.catch_warnings():
        # noise-free: the candidates tie at rounding level, and when the default M4
        # is kept its eps_0 is not identified at alpha = 0 (a warning, not the point)
        warnings.simplefilter("ignore", sl.IdentifiabilityWarning)
        res = sl.fit("auto", df, x="n", y="L", objective="mse_log")
    auto = res.settings["auto"]
    # noise-free, the candidates tie: their combination
    assert isinstance(res, sl.CombinedFit) and auto["chosen"] == res.name
    assert {r["law"] for r in auto["table"]} == {"saturating_power", "m3", "m4",
                                                 "broken_power"}
    assert auto["reason"].split(" (")[0] in res.summary()  # "averaged X, Y"
    # each member calibrated on the backtests that scored it
    assert all(m.calibration is not None and "own backtests" in m.calibration.source
               for m in res.members)
    back = sl.CombinedFit.from_json(res.to_json())
    assert back.settings["auto"]["chosen"] == res.name and back.equals(res)


def test_fit_auto_rejects_starts_and_many_inputs():
    df = pd.DataFrame({"a": [1.0, 2, 3, 4], "b": [1.0, 3, 2, 5], "c": [2.0, 1, 4, 3],
                       "L": [3.0, 2, 1.5, 1.2]})
    with pytest.raises(sl.DataValidationError, match="1 or 2 inputs"):
        sl.fit("auto", df, x=["a", "b", "c"], y="L")
    with pytest.raises(sl.DataValidationError, match="starts/p0"):
        sl.fit("auto", df, x="a", y="L", starts=5)


def test_backtest_split_column_scores_each_group():
    df = _curves()
    bt = backtest(df, "saturating_power", x="n", y="L", group="curve",
                  split_column="training")
    d = bt.to_dict()
    assert set(d["overall"]) >= {"rmsle_mean", "rmsle_median", "are_mean", "pi_coverage",
                                 "n_groups"}
    assert d["overall"]["n_groups"] == 2
    g = pd.DataFrame(d["groups"])
    assert set(g.columns) >= {"group", "law", "rmsle", "are", "pi_coverage"}
    assert g.group.tolist() == ["c0", "c1"]
    assert (g.n_test == 6).all()
    # right law, 0.2 % noise: held-out errors of the order of the noise
    assert (g.rmsle < 0.01).all()
    assert d["overall"]["rmsle_mean"] == pytest.approx(g.rmsle.mean())
    # relative error and log error agree for small errors
    np.testing.assert_allclose(g.are, g.rmsle, rtol=0.6)


def test_backtest_holdout_largest_and_wrong_law_scores_worse():
    df = _curves()
    good = backtest(df, "saturating_power", x="n", y="L", group="curve", holdout_largest=5)
    bad = backtest(df, "power", x="n", y="L", group="curve", holdout_largest=5)
    assert (good.groups.n_test == 5).all()
    assert bad.overall["rmsle_mean"] > 10 * good.overall["rmsle_mean"]


def test_backtest_input_errors():
    df = _curves()
    with pytest.raises(sl.DataValidationError, match="exactly one"):
        backtest(df, "power", x="n", y="L")
    with pytest.raises(sl.DataValidationError, match="exactly one"):
        backtest(df, "power", x="n", y="L", holdout_largest=3, split_column="training")
    with pytest.raises(sl.DataValidationError, match="holdout_largest"):
        backtest(df, "power", x="n", y="L", holdout_largest=0)
    bad = df.assign(training=df.training.astype(str).replace("0", "maybe"))
    with pytest.raises(sl.DataValidationError, match="'training'.*rows"):
        backtest(bad, "power", x="n", y="L", split_column="training")
    with pytest.raises(sl.DataValidationError, match="curv"):
        backtest(df, "power", x="n", y="L", group="curv", holdout_largest=2)
    with pytest.raises(sl.UnknownNameError):
        backtest(df, "powr", x="n", y="L", holdout_largest=2)


def test_auto_selection_uses_row_weights():
    # the largest runs follow a floor; small runs are corrupted upward. With zero
    # weight on the corrupted rows the backtests see the clean law.
    n = np.logspace(3, 7, 40)
    clean = 0.5 + 20 * n**-0.4
    y = clean.copy()
    y[:8] *= 3.0
    w = np.ones(40)
    w[:8] = 1e-9
    df = pd.DataFrame({"n": n, "L": y, "w": w})
    sel_w = select_law(df.assign(weight=df.w), x="n", y="L",
                       candidates=["power", "saturating_power"], weights="weight")
    assert sel_w.chosen == "saturating_power"
    assert sel_w.table.set_index("law").loc["saturating_power", "score"] < 1e-3
    plain = select_law(df, x="n", y="L", candidates=["saturating_power"])
    assert plain.table.set_index("law").loc["saturating_power", "score"] > 1e-2


def test_backtest_does_not_depend_on_the_loss_unit():
    # The first model of the first language task of the bundled revisiting_nsl curves:
    # given in units 1e300 times larger, the optimiser's absolute coordinates (E,
    # eps_inf) and tolerances used to choose another law (an average of saturating
    # power and M3) and score 0.046 against 0.085. Fitted in the training rows' own
    # unit, the choice is the same and the scores agree to rounding (rtol 1e-6: the
    # rescaled data differ from the originals in the last bits only).
    from scalelaw.datasets import data_dir

    df = pd.read_csv(data_dir() / "revisiting_nsl" / "benchmark.lang.csv")
    df = df[(df.Task == df.Task.iloc[0]) & (df.Model == df.Model.iloc[0])]
    out = {}
    for unit in (1.0, 1e300):
        d = df.assign(Loss=df.Loss * unit)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out[unit] = backtest(d, "auto", x="Seen Examples", y="Loss", holdout_largest=3)
    ref = out[1.0].groups.iloc[0]
    assert ref.status == "ok"
    for unit in (1e300,):
        g = out[unit].groups.iloc[0]
        assert g.law == ref.law
        assert g.rmsle == pytest.approx(ref.rmsle, rel=1e-6)
        assert g.pi_coverage == ref.pi_coverage
        # forecasts come back in the data's own unit
        np.testing.assert_allclose(out[unit].points["mean"] / unit, out[1.0].points["mean"],
                                   rtol=1e-6)


def _out_of_sample_curve(seed: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """A learning curve of ``bench/auto_out_of_sample.py`` (one generator)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "bench" / "auto_out_of_sample.py"
    spec = importlib.util.spec_from_file_location("auto_out_of_sample", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod._curve(mod.FAMILIES[seed[1]], np.random.default_rng(seed))


def test_one_input_auto_is_not_worse_than_m4_out_of_sample():
    # Curves with a known law, fitted on x <= 1e6 and forecast to 10^7.5 (1.5 % noise):
    # a fresh one where the saturating power law is right (a pure power law; seed
    # [2028, 3, 0], used nowhere else) and the M4-shaped curve [2026, 1, 6], on which
    # the rule before (every tied candidate combined) kept the broken power law and
    # forecast at 0.53 RMSLE against M4's 0.010 (that law's fit to all rows put its
    # break beyond the data). Tolerance 0.02 on the mean RMSLE of the two: on 60 fresh
    # curves (bench/auto_out_of_sample.py --seed 2029, bench/RESULTS.md) auto's mean
    # was 0.0037 above M4's (standard error 0.0047), and on the power family below it;
    # the rule before reads ~0.25 above M4 here.
    err = {"auto": [], "m4": []}
    for seed in ([2028, 3, 0], [2026, 1, 6]):
        x, y = _out_of_sample_curve(seed)
        train = pd.DataFrame({"x": x[x <= 1e6], "loss": y[x <= 1e6]})
        for law in err:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = sl.fit(law, train, x="x", y="loss")
            if law == "auto":
                # the broken power law is never combined with tied candidates
                chosen = res.settings["auto"]["chosen"]
                assert not (chosen.startswith("average:") and "broken_power" in chosen)
            pred = res.predict(x=x[x > 1e6])
            err[law].append(float(np.sqrt(np.mean(np.log(pred / y[x > 1e6]) ** 2))))
    assert np.mean(err["auto"]) <= np.mean(err["m4"]) + 0.02, err
