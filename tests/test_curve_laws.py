"""Recovery of the learning-curve laws (broken power, M1-M4) on synthetic data."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import scalelaw as sl
from scalelaw.laws import BrokenPowerLaw, Inputs, M4Law, ScalingLaw, get_law
from scalelaw.laws._curves import _solve_m4, _solve_m4_safeguarded


def _frame(law, params, x, noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    y = law(params, x=x) * np.exp(noise * rng.standard_normal(x.size))
    return pd.DataFrame({"x": x, "loss": y})


CASES = [
    ("m1", {"beta": 3.0, "c": -0.3}),
    ("m2", {"eps_inf": 0.2, "beta": 5.0, "c": -0.4}),
    ("m3", {"beta": 2.0, "gamma": 1e-4, "c": 0.35}),
    ("m4:eps_0=0.95", {"eps_inf": 0.1, "eps_0": 0.95, "beta": 30.0, "c": -0.5,
                       "alpha": 1.5}),
    ("m4", {"eps_inf": 0.1, "eps_0": 0.95, "beta": 30.0, "c": -0.5, "alpha": 1.5}),
    ("broken_power", {"a": 0.1, "b": 3.0, "c0": 0.1, "d1": 1e4, "c1": 0.4, "f1": 0.3}),
]


@pytest.mark.parametrize(("name", "truth"), CASES, ids=[c[0] for c in CASES])
def test_noisy_recovery_within_interval(name, truth):
    law = get_law(name)
    if set(truth) != set(law.param_names):
        pytest.fail(f"test parameters {sorted(truth)} != law parameters {law.param_names}")
    x = np.logspace(2, 7, 60)
    df = _frame(law, truth, x, noise=0.005, seed=1)
    res = sl.fit(law, df, x="x", y="loss", objective="mse_log")
    # The curve is what is identified: predictions at the data agree with the
    # truth to well under the 0.5 % noise level (a 4-sigma band of the mean
    # curve with 60 points is about 0.005 * 4 / sqrt(60 / 6) ~ 0.6 %).
    pred = res.predict(x=x)
    assert np.max(np.abs(np.log(pred / law(truth, x=x)))) < 0.006
    # and each free parameter's 99.9 % Wald interval covers its true value
    ci = res.conf_int(0.999, method="wald")
    fixed = {q.name for q in law.params if q.lower == q.upper}
    for p, v in truth.items():
        if p in fixed:  # a known constant (e.g. M4's chance level) is kept exactly
            assert res.params[p] == v
            continue
        lo, hi = ci.loc[p, "lower"], ci.loc[p, "upper"]
        assert lo - 1e-9 * abs(v) <= v <= hi + 1e-9 * abs(v), (p, v, lo, hi)


def test_m4_solver_satisfies_its_equation():
    rng = np.random.default_rng(0)
    lk = rng.normal(0, 3, 2000)
    al = rng.uniform(0, 5, 2000)
    w = _solve_m4(lk, al)
    z = np.exp(w)
    ok = 1 - z > 1e-12  # beyond that 1 - z is not representable in float64
    resid = w[ok] - al[ok] * np.log1p(-z[ok]) - lk[ok]
    # residual divided by the slope of the equation = error in w itself
    slope = 1 + al[ok] * z[ok] / (1 - z[ok])
    assert np.max(np.abs(resid) / slope) < 1e-11
    assert np.all(w <= np.minimum(lk, 0) + 1e-12)



def test_m4_halley_path_equals_safeguarded_solver_over_extremes():
    # log_k from -700 to 700 and alpha from 1e-16 to 10, with zeros and non-finite
    # values: the fast path (Halley steps, fallback on a residual above rounding)
    # must give the safeguarded solver's root wherever that one is finite
    lk = np.concatenate([np.linspace(-700, 700, 301), [0.0, 1e-300, -1e-300, np.inf,
                                                        -np.inf, np.nan]])
    al = np.concatenate([[0.0], np.logspace(-16, 1, 40)])
    lk, al = np.meshgrid(lk, al)
    fast, safe = _solve_m4(lk, al), _solve_m4_safeguarded(lk, al)
    assert np.array_equal(np.isfinite(fast), np.isfinite(safe))
    ok = np.isfinite(safe)
    # both stop at a residual of at most 1e-12 max(|log_k|, 1); the equation's slope
    # is >= 1, so each root is that close to the true one, and the two within twice it
    err = np.abs(fast[ok] - safe[ok]) / np.maximum(np.abs(lk[ok]), 1.0)
    assert err.max() < 2e-12

@pytest.mark.parametrize("law", [BrokenPowerLaw(n_breaks=2), M4Law(), M4Law(eps_0=0.9)])
def test_closed_form_jacobian_matches_complex_step(law):
    x = Inputs([np.logspace(1, 6, 25)])
    if isinstance(law, BrokenPowerLaw):
        theta = np.array([[0.1, 1.0, 0.3, 8.0, 0.4, -0.5, 11.0, -0.2, 0.3]])
    else:
        theta = np.array([[0.05, np.log(law.eps_0 or 1.0), np.log(30.0), -0.4, 0.7]])
    v1, g1 = law.value_and_jacobian(theta, x, log=True)
    v2, g2 = ScalingLaw.value_and_jacobian(law, theta, x, log=True)
    np.testing.assert_allclose(v1, v2, rtol=1e-13)
    for a, b in zip(g1, g2, strict=True):
        np.testing.assert_allclose(np.broadcast_to(a, b.shape), b, rtol=1e-8, atol=1e-12)


def test_broken_power_with_two_breaks_fits_noiseless_curve():
    law = get_law("broken_power:n_breaks=2")
    truth = {"a": 0.05, "b": 2.0, "c0": 0.05, "d1": 1e3, "c1": 0.5, "f1": 0.2,
             "d2": 1e5, "c2": -0.3, "f2": 0.2}
    x = np.logspace(1, 7, 80)
    df = _frame(law, truth, x)
    with warnings.catch_warnings():
        # the two breaks can swap labels (the same curve): when the search finds both
        # labellings, the fit says so (IdentifiabilityWarning), as for any symmetric law
        warnings.simplefilter("ignore", sl.IdentifiabilityWarning)
        res = sl.fit(law, df, x="x", y="loss", objective="mse_log")
    # noiseless: the curve is matched to 0.1 % everywhere
    assert np.max(np.abs(np.log(res.predict(x=x) / df.loss.to_numpy()))) < 1e-3


def test_law_options_syntax_and_errors():
    assert get_law("broken_power:n_breaks=3").n_breaks == 3
    assert get_law("m4:eps_0=0.5").eps_0 == 0.5
    with pytest.raises(sl.UnknownNameError, match="Did you mean 'eps_0'"):
        get_law("m4:eps0=0.5")
    with pytest.raises(sl.DataValidationError, match="takes no options"):
        get_law("power:k=1")
    with pytest.raises(sl.DataValidationError, match="key=value"):
        get_law("m4:eps_0")
    with pytest.raises(sl.DataValidationError, match="n_breaks"):
        get_law("broken_power:n_breaks=-1")


def test_options_survive_json_round_trip():
    law = get_law("broken_power:n_breaks=2")
    x = np.logspace(1, 6, 40)
    df = _frame(law, {"a": 0.05, "b": 2.0, "c0": 0.05, "d1": 1e3, "c1": 0.5, "f1": 0.2,
                      "d2": 1e5, "c2": -0.3, "f2": 0.2}, x)
    res = sl.fit(law, df, x="x", y="loss", objective="mse_log", starts=50)
    back = sl.FitResult.from_json(res.to_json())
    assert back.law.n_breaks == 2
    np.testing.assert_allclose(back.predict(x=x), res.predict(x=x), rtol=1e-14)
