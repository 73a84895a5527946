"""Forecast tables, the extrapolation guard, and prediction-interval coverage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import scalelaw as sl
from scalelaw.forecast import extrapolation_distance


def _power_runs(n=40, noise=0.03, seed=0, lo=6, hi=9):
    rng = np.random.default_rng(seed)
    x = np.logspace(lo, hi, n)
    y = 2.0 + 40.0 * x**-0.25 * 1.0
    return pd.DataFrame({"n": x, "L": y * np.exp(noise * rng.standard_normal(n))})


def test_prediction_table_columns_and_ordering():
    res = sl.fit("saturating_power", _power_runs(), x="n", y="L", objective="mse_log")
    tab = res.get_prediction(0.9, n=[1e7, 1e8])
    assert list(tab.columns) == ["n", "mean", "mean_ci_lower", "mean_ci_upper",
                                 "obs_ci_lower", "obs_ci_upper", "extrapolation_factor",
                                 "extrapolation_distance"]
    np.testing.assert_allclose(tab["mean"], res.predict(n=[1e7, 1e8]))
    assert np.all(tab.obs_ci_lower < tab.mean_ci_lower)
    assert np.all(tab.mean_ci_lower < tab["mean"])
    assert np.all(tab["mean"] < tab.mean_ci_upper)
    assert np.all(tab.mean_ci_upper < tab.obs_ci_upper)
    assert tab.extrapolation_factor.tolist() == [1.0, 1.0]


def test_extrapolation_guard_message_and_override():
    res = sl.fit("power", _power_runs(), x="n", y="L", calibrate=True)
    with pytest.raises(sl.ExtrapolationError, match=r"more than 10x beyond the fitted domain.*"
                       r"n=1e\+11.*100x out"):
        res.get_prediction(n=[1e8, 1e11])
    with pytest.warns(sl.ExtrapolationWarning, match="speculative"):
        tab = res.get_prediction(n=[1e8, 1e11], extrapolate=True)
    np.testing.assert_allclose(tab.extrapolation_factor, [1.0, 100.0])
    np.testing.assert_allclose(tab.extrapolation_distance, [0.0, 2.0 / 3.0])
    # a custom multiple
    assert len(res.get_prediction(n=1e11, max_extrapolation=200)) == 1
    with pytest.raises(sl.ExtrapolationError):
        res.get_prediction(n=1e4, max_extrapolation=50)  # below the domain counts too
    with pytest.raises(sl.DataValidationError, match="max_extrapolation"):
        res.get_prediction(n=1e8, max_extrapolation=0.5)


def test_joint_scale_counts_for_two_inputs():
    from scalelaw.synthetic import chinchilla_design, simulate_runs

    runs = simulate_runs(chinchilla_design(), noise=0.0)
    res = sl.fit("chinchilla", runs, x=["n_params", "n_tokens"], y="loss", starts=64)
    top = runs.assign(c=runs.n_params * runs.n_tokens).sort_values("c").iloc[-1]
    # both inputs inside their ranges, product 4x beyond the largest run
    n, d = top.n_params / 2, top.n_tokens * 8
    d = min(d, runs.n_tokens.max())
    f, _ = extrapolation_distance(res, [np.array([top.n_params]), np.array([d])])
    assert f[0] == pytest.approx(d / top.n_tokens, rel=1e-9)
    del n


def test_obs_interval_coverage_inside_domain():
    # New runs drawn from the same law and noise inside the domain: the 90 %
    # prediction interval must cover about 90 % of them. 30 fits x 100 new
    # runs; the binomial sd of the pooled rate is ~0.3 %, but the runs of one
    # fit share its estimation error, so allow 0.86-0.94.
    inside = []
    rng = np.random.default_rng(123)
    for seed in range(30):
        df = _power_runs(n=30, noise=0.05, seed=seed)
        res = sl.fit("saturating_power", df, x="n", y="L", objective="mse_log", starts=20)
        xn = 10 ** rng.uniform(6, 9, 100)
        yn = (2.0 + 40.0 * xn**-0.25) * np.exp(0.05 * rng.standard_normal(100))
        tab = res.get_prediction(0.9, n=xn)
        inside.append((yn >= tab.obs_ci_lower) & (yn <= tab.obs_ci_upper))
    rate = float(np.mean(np.concatenate(inside)))
    assert 0.86 <= rate <= 0.94, rate


def test_calibration_grows_intervals_for_a_wrong_law():
    # data bend away from a pure power law: backtests see growing error, so
    # kappa is clearly positive and the interval widens with distance
    x = np.logspace(3, 7, 40)
    df = pd.DataFrame({"n": x, "L": 0.5 + 20 * x**-0.4})
    plain = sl.fit("power", df, x="n", y="L", objective="mse_log")
    res = sl.calibrate(plain)
    cal = res.calibration
    assert cal.n_points > 10 and cal.kappa > 0.05
    tab = res.get_prediction(0.9, n=[1e7, 1e8], extrapolate=True)
    width = np.log(tab.obs_ci_upper / tab.obs_ci_lower)
    assert width[1] > 2 * width[0]
    # the uncalibrated fit says so, and its interval holds the in-domain scatter only
    with pytest.warns(sl.ExtrapolationWarning, match="not calibrated"):
        no_cal = plain.get_prediction(0.9, n=[1e8], extrapolate=True)
    assert np.log(no_cal.obs_ci_upper / no_cal.obs_ci_lower)[0] < width[1] / 1.5


def test_calibration_is_serialised():
    res = sl.fit("saturating_power", _power_runs(), x="n", y="L", objective="mse_log",
                 calibrate=True)
    back = sl.FitResult.from_json(res.to_json())
    tab1 = res.get_prediction(n=5e9)
    tab2 = back.get_prediction(n=5e9)
    pd.testing.assert_frame_equal(tab1, tab2)
    assert back.calibration.kappa == res.calibration.kappa
    assert back.calibration.errors.equals(res.calibration.errors)


def test_results_are_immutable_and_getters_pure():
    # every getter leaves the result as it was: same JSON, equal to a copy made
    # before the calls (the calibration used to be written into a cache)
    res = sl.fit("saturating_power", _power_runs(), x="n", y="L", objective="mse_log")
    before = res.to_json()
    copy = sl.FitResult.from_json(before)
    with pytest.warns(sl.ExtrapolationWarning):
        res.get_prediction(n=[1e7, 5e9])
    res.conf_int(method="profile")
    res.conf_int(0.5, method="wald")
    res.summary()
    res.params_frame()
    res.predict(n=1e7)
    assert res.to_json() == before
    assert res.equals(copy) and copy.equals(res)
    with pytest.raises(AttributeError):
        res.loss = 0.0  # frozen dataclass
    cal = sl.calibrate(res)
    assert res.calibration is None and cal.calibration is not None
    assert not cal.equals(res) and res.to_json() == before
