"""Averages of laws (AverageLaw): members fitted alone, joint covariance, auto's tie rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import scalelaw as sl
from scalelaw.fitting._select import MARGIN_Z, decide
from scalelaw.laws import AverageLaw, Inputs, ScalingLaw, get_law, law_from_spec


def _table(seed=0, n_rows=40, noise=0.01):
    n = np.logspace(3, 7, n_rows)
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"n": n, "L": (0.5 + 20 * n**-0.4) * np.exp(noise * rng.normal(
        size=n_rows))})


def test_average_is_the_geometric_mean_with_exact_derivatives():
    law = get_law("average:m4+broken_power+saturating_power")
    assert law.name == "average:m4+broken_power+saturating_power"
    x = Inputs([np.logspace(1, 6, 25)])
    theta = np.concatenate([
        [0.05, np.log(1.0), np.log(30.0), -0.4, 0.7],  # m4
        [0.1, 1.0, 0.3, 8.0, 0.4, -0.5],  # broken power, one break
        [0.1, np.log(20.0), 0.3],  # saturating power
    ])[None, :]
    v, g = law.value_and_jacobian(theta, x, log=False)
    parts = [m.value_and_jacobian(theta[:, sl], x, log=False)[0]
             for m, sl in zip(law.members, law.slices, strict=True)]
    # exp(mean of logs) against the cube root of the product: a few roundings apart
    np.testing.assert_allclose(v, np.prod(parts, axis=0) ** (1 / 3), rtol=1e-13)
    # closed form (members' own derivatives) against complex steps through evaluate
    # (M4's root by two solvers, each to 1e-12; its complex-step derivative through
    # two complex Newton steps, good to about 1e-8 as in test_curve_laws)
    v2, g2 = ScalingLaw.value_and_jacobian(law, theta, x, log=False)
    np.testing.assert_allclose(v, v2, rtol=1e-12)
    for a, b in zip(g, g2, strict=True):
        np.testing.assert_allclose(np.broadcast_to(a, v.shape), b, rtol=1e-8, atol=1e-12)


def test_fit_of_an_average_fits_each_member_alone():
    df = _table()
    avg = sl.fit("average:m4+saturating_power", df, x="n", y="L", objective="mse_log")
    m4 = sl.fit("m4", df, x="n", y="L", objective="mse_log")
    sp = sl.fit("saturating_power", df, x="n", y="L", objective="mse_log")
    for pre, res in (("m4", m4), ("saturating_power", sp)):
        for name, value in res.params.items():
            assert avg.params[f"{pre}.{name}"] == value  # the member's own optimum
        # the diagonal blocks of the joint covariance are the members' own (recomputed
        # through (J'WJ)^-1 of information matrices with condition numbers near 1e6:
        # rounding of 1e-16 grows to about 1e-10)
        names = [f"{pre}.{p}" for p in res.params.index]
        np.testing.assert_allclose(avg.cov.loc[names, names].to_numpy(),
                                   res.cov.to_numpy(), rtol=1e-10)
    at = np.array([2e7, 5e7])
    np.testing.assert_allclose(avg.predict(n=at), np.sqrt(m4.predict(n=at) * sp.predict(n=at)),
                               rtol=1e-12)  # the same fits: rounding only
    assert avg.default_interval_method == "wald"
    back = sl.FitResult.from_json(avg.to_json())
    assert back.law == avg.law and back.equals(avg)


def test_average_of_a_law_with_itself_has_its_covariance_in_every_block():
    # members fitted to the same rows share the noise: the cross-covariance of two
    # copies of one law is that law's covariance (the formula's exact case), so the
    # average's mean has the single law's standard error, not 1/sqrt(2) of it
    df = _table(seed=3)
    avg = sl.fit("average:saturating_power+saturating_power", df, x="n", y="L",
                 objective="mse_log")
    one = sl.fit("saturating_power", df, x="n", y="L", objective="mse_log")
    c = one.cov.to_numpy()
    cov = avg.cov.to_numpy()
    for i in (slice(0, 3), slice(3, 6)):
        for j in (slice(0, 3), slice(3, 6)):  # rounding through (J'WJ)^-1, as above
            np.testing.assert_allclose(cov[i, j], c, rtol=1e-10)


def test_average_refuses_what_it_cannot_do_before_fitting():
    df = _table()
    with pytest.raises(sl.DataValidationError, match="bootstrap") as err:
        sl.fit("average:m4+saturating_power", df, x="n", y="L", bootstrap=50)
    assert err.value.column == "bootstrap"
    with pytest.raises(sl.DataValidationError, match="bootstrap"):
        sl.fit("auto", df, x="n", y="L", bootstrap=50)  # one input: auto may average
    with pytest.raises(sl.DataValidationError, match="starts"):
        sl.fit("average:m4+saturating_power", df, x="n", y="L", starts=4)
    res = sl.fit("average:m4+saturating_power", df, x="n", y="L", objective="mse_log")
    with pytest.raises(sl.DataValidationError, match="profile"):
        res.conf_int(method="profile")
    with pytest.raises(sl.DataValidationError, match="joined by"):
        get_law("average:m4")
    with pytest.raises(sl.DataValidationError, match="at least two"):
        AverageLaw(members=(get_law("m4"),))
    with pytest.raises(sl.DataValidationError, match="same number of inputs"):
        AverageLaw(members=(get_law("m4"), get_law("chinchilla")))
    law = get_law("average:m3+broken_power:n_breaks=2")
    assert law_from_spec(law.to_spec()) == law


def _errors(log_errors: dict[float, np.ndarray]) -> pd.DataFrame:
    rows = [(cut, 0.1 * (i + 1), e) for cut, es in log_errors.items()
            for i, e in enumerate(es)]
    return pd.DataFrame(rows, columns=["cut", "distance", "log_error"])


def test_auto_averages_candidates_within_their_uncertainty_and_picks_a_clear_winner():
    rng = np.random.default_rng(0)
    cuts = (0.5, 0.65, 0.8)
    base = {c: rng.normal(0, 0.02, 12) for c in cuts}
    names = ["saturating_power", "m3", "m4", "broken_power"]
    notes = {n: [] for n in names}
    # a tie: every candidate's held-out errors are the same errors plus small noise
    tie = {n: _errors({c: base[c] + rng.normal(0, 0.002, 12) for c in cuts}) for n in names}
    sel = decide(names, tie, notes, ["n"], cuts, (0.65, 0.8))
    assert sel.chosen.startswith("average:") and len(sel.margin["tied"]) >= 2
    assert all(not z >= MARGIN_Z for n, z in sel.margin["z"].items()
               if n in sel.margin["tied"])
    assert get_law(sel.chosen).members  # the choice is a law get_law reads
    # a clear winner: the others' errors are 5x larger everywhere
    clear = {n: _errors({c: (1 if n == "m3" else 5) * np.abs(base[c]) + 0.01 for c in cuts})
             for n in names}
    sel = decide(names, clear, notes, ["n"], cuts, (0.65, 0.8))
    assert sel.chosen == "m3" and sel.margin["tied"] == ["m3"]
    assert min(sel.margin["z"].values()) > MARGIN_Z


def test_auto_average_on_noisy_curves_forecasts_as_its_members_mean():
    df = _table(seed=5, n_rows=36, noise=0.02)
    res = sl.fit("auto", df, x="n", y="L", objective="mse_log")
    auto = res.settings["auto"]
    assert get_law(auto["chosen"], inputs=["n"]) == res.law
    assert res.calibration is not None and "pooled" in res.calibration.source
    # on this curve two candidates tie (m3 and m4 are clearly worse): they are averaged
    assert isinstance(res.law, AverageLaw) and len(auto["margin"]["tied"]) == 2
    at = np.array([2e7])  # each member's own fit, geometric mean
    preds = [sl.fit(m, df, x="n", y="L", objective="mse_log").predict(n=at)
             for m in auto["margin"]["tied"]]
    # deterministic fits of the same rows: equal up to rounding of the mean of logs
    np.testing.assert_allclose(res.predict(n=at), np.prod(preds) ** (1 / len(preds)),
                               rtol=1e-10)


def test_average_calibrates_one_by_one_and_batched_alike():
    from scalelaw.fitting import calibrate_many

    tables = [_table(seed=s) for s in (0, 3)]
    fits = [sl.fit("average:m4+saturating_power", t, x="n", y="L", objective="mse_log")
            for t in tables]
    one = [sl.calibrate(f) for f in fits]
    # each cut's refit is an average refitted member by member: backtest points exist
    assert all(c.calibration.n_points > 0 and np.isfinite(c.calibration.kappa) for c in one)
    many = calibrate_many(fits)
    for a, b in zip(one, many, strict=True):  # stacked by padded length: the same arrays
        assert a.calibration.n_points == b.calibration.n_points
        assert a.calibration.kappa == b.calibration.kappa


def test_a_candidate_scored_on_other_points_counts_as_tied():
    # broken power skipped the cut at 0.65 (too few rows for its parameters): its
    # errors cannot be paired with the best's, so there is no evidence it is worse
    rng = np.random.default_rng(1)
    cuts = (0.5, 0.65, 0.8)
    base = {c: np.abs(rng.normal(0, 0.02, 12)) + 0.01 for c in cuts}
    names = ["m3", "broken_power"]
    errs = {"m3": _errors(base),
            "broken_power": _errors({c: 3 * base[c] for c in (0.5, 0.8)})}
    sel = decide(names, errs, {n: [] for n in names}, ["n"], cuts, (0.65, 0.8))
    assert np.isnan(sel.margin["z"]["broken_power"])
    assert sel.margin["tied"] == ["m3", "broken_power"]
    assert sel.chosen == "average:m3+broken_power"
    assert "scored on other points" in sel.reason


def test_average_bounds_reach_its_members_and_its_result_refuses_a_bootstrap():
    law = get_law("average:m4+saturating_power").with_bounds(**{"m4.alpha": (0.0, 2.0)})
    assert law.bounds["m4.alpha"] == (0.0, 2.0)
    assert law.members[0].bounds["alpha"] == (0.0, 2.0)  # the member is fitted with it
    res = sl.fit(law, _table(), x="n", y="L", objective="mse_log")
    assert 0.0 <= res.params["m4.alpha"] <= 2.0
    with pytest.raises(sl.DataValidationError, match="bootstrap") as err:
        res.with_bootstrap(20)
    assert err.value.column == "n_boot"
