"""Intervals equal the textbook ones where a textbook answer exists.

For ``power`` fitted with ``mse_log`` the model is linear on the log scale,
``log y = log A - alpha log x``, so scalelaw's fit is ordinary (or weighted)
least squares on ``(log x, log y)`` and its intervals must equal statsmodels'
to rounding: 1e-8 in log units leaves room for the optimiser's tolerance
(its relative decrease test stops within ~1e-13 of the objective, which moves
a linear fit's parameters by far less than 1e-8).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import scalelaw as sl


def _data(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = np.logspace(6, 9, n)
    return pd.DataFrame({"n": x, "L": 3.0 * x**-0.1 * np.exp(0.05 * rng.standard_normal(n))})


@pytest.mark.parametrize(("n", "level"), [(8, 0.95), (8, 0.9), (30, 0.8)])
def test_power_mse_log_intervals_equal_ols(n, level):
    df = _data(n, seed=n)
    res = sl.fit("power", df, x="n", y="L", objective="mse_log")
    new = np.array([1.3e6, 4e7, 9.9e8])  # inside the fitted domain
    tab = res.get_prediction(level, n=new)
    ols = sm.OLS(np.log(df.L), sm.add_constant(np.log(df.n))).fit()
    ref = ols.get_prediction(sm.add_constant(np.log(new), has_constant="add")) \
        .summary_frame(alpha=1 - level)
    for ours, theirs in [("mean", "mean"), ("mean_ci_lower", "mean_ci_lower"),
                         ("mean_ci_upper", "mean_ci_upper"), ("obs_ci_lower", "obs_ci_lower"),
                         ("obs_ci_upper", "obs_ci_upper")]:
        np.testing.assert_allclose(np.log(tab[ours].to_numpy()), ref[theirs].to_numpy(),
                                   rtol=0, atol=1e-8, err_msg=ours)
    # the parameters' Wald intervals are OLS's too (alpha = -slope)
    ci = res.conf_int(level, method="wald")
    lo, hi = ols.conf_int(alpha=1 - level).iloc[1]
    np.testing.assert_allclose([ci.loc["alpha", "lower"], ci.loc["alpha", "upper"]],
                               [-hi, -lo], rtol=0, atol=1e-8)


def test_weighted_power_intervals_equal_wls():
    df = _data(12, seed=3)
    w = np.linspace(0.5, 2.0, 12)
    res = sl.fit("power", df, x="n", y="L", objective="mse_log", weights=w)
    new = np.array([2e6, 3e8])
    tab = res.get_prediction(0.95, n=new)
    wls = sm.WLS(np.log(df.L), sm.add_constant(np.log(df.n)), weights=w).fit()
    ref = wls.get_prediction(sm.add_constant(np.log(new), has_constant="add")) \
        .summary_frame(alpha=0.05)
    for col in ("mean_ci_lower", "mean_ci_upper", "obs_ci_lower", "obs_ci_upper"):
        np.testing.assert_allclose(np.log(tab[col].to_numpy()), ref[col].to_numpy(),
                                   rtol=0, atol=1e-8, err_msg=col)


def test_as_many_points_as_parameters_gives_undefined_intervals():
    df = _data(2, seed=1)
    res = sl.fit("power", df, x="n", y="L", objective="mse_log")
    assert res.dof_resid == 0
    assert "no_dof" in [d.code for d in res.diagnostics]
    for method in ("wald", "profile"):
        ci = res.conf_int(method=method)
        assert ci.isna().all().all(), method  # undefined, never zero-width
    tab = res.get_prediction(n=[2e6])
    assert tab[["mean_ci_lower", "mean_ci_upper", "obs_ci_lower", "obs_ci_upper"]] \
        .isna().all().all()
    assert np.isfinite(tab["mean"]).all()
    assert "nan" in res.summary()


def test_huber_fits_report_no_information_criteria():
    df = _data(20, seed=2)
    huber = sl.fit("power", df, x="n", y="L")
    ls = sl.fit("power", df, x="n", y="L", objective="mse_log")
    assert np.isnan(huber.aic) and np.isnan(huber.bic)
    assert "AIC/BIC n/a" in huber.summary()
    # Gaussian log-likelihood of the log residuals, with the variance as a parameter
    r = np.log(df.L) - np.log(ls.predict(n=df.n))
    s2 = np.mean(r**2)
    loglik = -0.5 * len(r) * (np.log(2 * np.pi * s2) + 1)
    assert ls.aic == pytest.approx(2 * 3 - 2 * loglik, rel=1e-9)
    assert "Gaussian AIC" in ls.summary()


def test_bootstrap_over_few_groups_warns():
    rng = np.random.default_rng(0)
    x = np.repeat(np.logspace(6, 9, 10), 2)
    df = pd.DataFrame({"n": x, "L": 2 * x**-0.1 * np.exp(0.02 * rng.standard_normal(20)),
                       "seed": np.tile([0, 1], 10)})
    with pytest.warns(sl.BootstrapWarning, match="only 2 groups of 'seed'.*3 distinct"):
        res = sl.fit("power", df, x="n", y="L", bootstrap=50, bootstrap_groups="seed",
                     random_state=0)
    assert "few_groups" in [d.code for d in res.diagnostics]
    # ten or more units: no warning (pytest turns warnings into errors)
    sl.fit("power", df, x="n", y="L", bootstrap=50, random_state=0)
