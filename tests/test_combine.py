"""Combinations of fitted laws (CombinedFit): members keep their fits; honest intervals."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import scalelaw as sl
from scalelaw.cli import main
from scalelaw.fitting import NEVER_COMBINED, SOLO_RATIO
from scalelaw.fitting._select import MARGIN_Z, decide
from scalelaw.laws import average_names, get_law
from scalelaw.results import result_from_dict
from scalelaw.stats import mixture_interval


def _table(seed=0, n_rows=40, noise=0.01, lo=3, hi=7):
    n = np.logspace(lo, hi, n_rows)
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"n": n, "L": (0.5 + 20 * n**-0.4) * np.exp(noise * rng.normal(
        size=n_rows))})


def test_combination_keeps_each_members_own_fit_and_round_trips():
    df = _table()
    avg = sl.fit("average:m3+saturating_power", df, x="n", y="L", objective="mse_log")
    assert isinstance(avg, sl.CombinedFit) and avg.name == "average:m3+saturating_power"
    m3 = sl.fit("m3", df, x="n", y="L", objective="mse_log")
    sp = sl.fit("saturating_power", df, x="n", y="L", objective="mse_log")
    for member, alone in zip(avg.members, (m3, sp), strict=True):
        assert member.equals(alone)  # its own fit, dof, covariance: nothing joint
        assert member.dof_resid == alone.n_obs - len(alone.params)
    assert avg.params["m3.c"] == m3.params["c"] and avg.params.size == 6
    at = np.array([2e7, 5e7])
    # the same fits: the geometric mean, up to rounding of the mean of two logs
    np.testing.assert_allclose(avg.predict(n=at), np.sqrt(m3.predict(n=at) * sp.predict(n=at)),
                               rtol=1e-13)
    back = sl.CombinedFit.from_json(avg.to_json())
    assert back.equals(avg) and back.labels == avg.labels
    assert result_from_dict(json.loads(avg.to_json())).equals(avg)
    with pytest.raises(sl.DataValidationError, match="combination") as err:
        sl.FitResult.from_dict(avg.to_dict())
    assert err.value.column == "kind"


def test_combination_of_a_law_with_itself_has_that_laws_intervals():
    df = _table(seed=3, n_rows=20)
    one = sl.calibrate(sl.fit("saturating_power", df, x="n", y="L"))
    twice = sl.combine([one, one])
    assert twice.labels == ("saturating_power1", "saturating_power2")
    a = one.get_prediction(0.9, n=[1e5, 1e8], max_extrapolation=100)
    b = twice.get_prediction(0.9, n=[1e5, 1e8], max_extrapolation=100)
    # bisection to 2^-60 of the bracket: equal to rounding
    for col in ("mean", "mean_ci_lower", "mean_ci_upper", "obs_ci_lower", "obs_ci_upper"):
        np.testing.assert_allclose(b[col], a[col], rtol=1e-12, err_msg=col)


def test_three_members_on_nine_points_have_finite_intervals():
    # each member keeps its own residual dof (7, 6, and 3 or 4 for the broken power law,
    # whose offset rests on its bound and is held fixed), so nothing is NaN; fitted as one
    # law with all 2 + 3 + 6 parameters there would be none left (9 - 11 < 0)
    df = _table(seed=1, n_rows=9, lo=3, hi=6)
    with warnings.catch_warnings():
        # six parameters on nine points: the broken power law's optimum is not unique
        # (a warning it gives alone too, not the point here)
        warnings.simplefilter("ignore", sl.IdentifiabilityWarning)
        avg = sl.fit("average:power+saturating_power+broken_power", df, x="n", y="L")
    dofs = [m.dof_resid for m in avg.members]
    assert dofs[:2] == [7, 6] and dofs[2] in (3, 4)
    with pytest.warns(sl.ExtrapolationWarning, match="not calibrated"):
        tab = avg.get_prediction(0.9, n=[1e5, 1e7])
    assert np.all(np.isfinite(tab.drop(columns="n").to_numpy()))
    frame = avg.params_frame()
    # a parameter resting on its bound is held fixed (no interval), as in a single fit
    assert np.all(np.isfinite(frame.loc[~frame.at_bound, ["lower", "upper"]].to_numpy()))


def test_members_forecasts_lie_inside_the_combined_intervals():
    # power and saturating power at 10x beyond the data disagree (no floor vs a floor):
    # each member's forecast lies inside both combined intervals, at every level
    df = _table(seed=2, n_rows=15, lo=3, hi=5, noise=0.02)
    avg = sl.calibrate(sl.fit("average:power+saturating_power", df, x="n", y="L"))
    member = np.array([m.predict(n=1e6)[0] for m in avg.members])
    assert member.max() / member.min() > 1.05  # they do disagree
    for level in (0.5, 0.9, 0.99):
        tab = avg.get_prediction(level, n=1e6)
        for lo, hi in (("mean_ci_lower", "mean_ci_upper"), ("obs_ci_lower", "obs_ci_upper")):
            assert tab[lo][0] <= member.min() and member.max() <= tab[hi][0], (level, lo)
        assert set(tab.attrs["members"]) == {"power", "saturating_power"}
    # and wider than each member's own interval of the mean
    own = [m.get_prediction(0.9, n=1e6) for m in avg.members]
    tab = avg.get_prediction(0.9, n=1e6)
    assert tab.mean_ci_upper[0] - tab.mean_ci_lower[0] > max(
        o.mean_ci_upper[0] - o.mean_ci_lower[0] for o in own)


def test_mixture_interval_reaches_every_member_even_where_quantiles_would_not():
    # four members, one far off, at level 0.5: the mixture's quartiles alone would leave
    # the outlier out (its weight 1/4 is below 1 - level), so the interval is widened
    centers = np.array([[0.0], [0.0], [0.0], [5.0]])
    lo, hi = mixture_interval(centers, centers - 0.1, centers + 0.1, np.full(4, np.inf),
                              np.full(4, 0.25), 0.5)
    assert hi[0] == 5.0 and lo[0] < 0.0
    nan = np.array([[0.0], [1.0]])
    lo, hi = mixture_interval(nan, nan - np.array([[np.nan], [0.1]]), nan + 0.1,
                              np.array([3.0, 3.0]), np.array([0.5, 0.5]), 0.9)
    assert np.isnan(lo[0]) and np.isnan(hi[0])  # a member without an interval: none


def test_combination_input_errors_come_before_any_work():
    df = _table()
    fit = sl.fit("power", df, x="n", y="L")
    with pytest.raises(sl.DataValidationError, match="at least two"):
        sl.combine([fit])
    other = sl.fit("power", df.assign(L=df.L * 1.01), x="n", y="L")
    with pytest.raises(sl.DataValidationError, match="same rows"):
        sl.combine([fit, other])
    with pytest.raises(sl.DataValidationError, match="weights") as err:
        sl.combine([fit, fit], weights=[1.0, -1.0])
    assert err.value.column == "weights"
    with pytest.raises(sl.DataValidationError, match="starts/p0") as err:
        sl.fit("average:m3+saturating_power", df, x="n", y="L", starts=4)
    assert err.value.column == "starts"
    with pytest.raises(sl.DataValidationError, match="joined by"):
        average_names("average:m4")
    with pytest.raises(sl.DataValidationError, match="not one law"):
        get_law("average:m3+m4")
    assert average_names("average:m3+broken_power:n_breaks=2") == ["m3",
                                                                  "broken_power:n_breaks=2"]
    weighted = sl.combine([fit, sl.fit("saturating_power", df, x="n", y="L")],
                          weights=[3.0, 1.0])
    assert weighted.weights == (0.75, 0.25)
    np.testing.assert_allclose(
        weighted.predict(n=1e8),
        fit.predict(n=1e8) ** 0.75 * weighted.members[1].predict(n=1e8) ** 0.25, rtol=1e-13)


def _errors(log_errors: dict[float, np.ndarray]) -> pd.DataFrame:
    rows = [(cut, 0.1 * (i + 1), e) for cut, es in log_errors.items()
            for i, e in enumerate(es)]
    return pd.DataFrame(rows, columns=["cut", "distance", "log_error"])


def test_auto_combines_candidates_within_their_uncertainty_and_picks_a_clear_winner():
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
    # the tied candidates are combined, less those never combined (the broken power law)
    assert average_names(sel.chosen) == sel.margin["combined"] == [
        n for n in sel.margin["tied"] if n not in NEVER_COMBINED[1]]
    # a clear winner: the others' errors are 5x larger everywhere
    clear = {n: _errors({c: (1 if n == "m3" else 5) * np.abs(base[c]) + 0.01 for c in cuts})
             for n in names}
    sel = decide(names, clear, notes, ["n"], cuts, (0.65, 0.8))
    assert sel.chosen == "m3" and sel.margin["tied"] == ["m3"]
    assert min(sel.margin["z"].values()) > MARGIN_Z


def test_a_candidate_scored_on_other_points_counts_as_tied():
    # M4 skipped the cut at 0.65 (too few rows for its parameters): its errors cannot
    # be paired with the best's, so there is no evidence it is worse
    rng = np.random.default_rng(1)
    cuts = (0.5, 0.65, 0.8)
    base = {c: np.abs(rng.normal(0, 0.02, 12)) + 0.01 for c in cuts}
    names = ["m3", "m4"]
    errs = {"m3": _errors(base), "m4": _errors({c: 3 * base[c] for c in (0.5, 0.8)})}
    sel = decide(names, errs, {n: [] for n in names}, ["n"], cuts, (0.65, 0.8))
    assert np.isnan(sel.margin["z"]["m4"])
    assert sel.margin["tied"] == sel.margin["combined"] == ["m3", "m4"]
    assert sel.chosen == "average:m3+m4"
    assert "scored on other points" in sel.reason


def test_the_broken_power_law_is_chosen_only_as_a_clear_winner():
    # out of sample, ties that kept a broken power law extrapolated wildly (its fit to
    # all rows put a break at the end of the data): tied, it is left out; a clear
    # winner, it is chosen alone
    rng = np.random.default_rng(7)  # a draw where the noise leaves the tied ones tied
    cuts = (0.5, 0.65, 0.8)
    base = {c: rng.normal(0, 0.02, 12) for c in cuts}
    names = ["saturating_power", "m3", "m4", "broken_power"]
    notes = {n: [] for n in names}

    def errs(tied: list[str]) -> dict[str, pd.DataFrame]:
        # tied: the same errors (broken power's), the others plus small noise; the
        # rest 5x larger everywhere
        return {n: _errors({c: base[c] + (0 if n == "broken_power" else
                                          rng.normal(0, 0.002, 12)) if n in tied
                            else 5 * np.abs(base[c]) + 0.01 for c in cuts}) for n in names}

    # broken power tied with M3 (the others clearly worse): M3 alone
    sel = decide(names, errs(["broken_power", "m3"]), notes, ["n"], cuts, (0.65, 0.8))
    assert sel.margin["tied"] == ["m3", "broken_power"]
    assert sel.chosen == "m3" and sel.margin["combined"] == ["m3"]
    assert "broken_power tied but left out" in sel.reason
    # three tied, broken power the best: the other two combined
    sel = decide(names, errs(["broken_power", "m3", "m4"]), notes, ["n"], cuts, (0.65, 0.8))
    assert sel.margin["best"] == "broken_power"
    assert sel.margin["tied"] == ["m3", "m4", "broken_power"]
    assert sel.chosen == "average:m3+m4"
    # a clear winner at <= SOLO_RATIO x the best other's score: chosen alone
    sel = decide(names, errs(["broken_power"]), notes, ["n"], cuts, (0.65, 0.8))
    assert sel.chosen == "broken_power" and sel.margin["tied"] == ["broken_power"]
    assert sel.table.set_index("law").score["broken_power"] <= SOLO_RATIO * min(
        sel.table.set_index("law").score[n] for n in names[:3])
    # a clear winner by a smaller lead (0.67x the best other's score): the choice is
    # made among the others, and the full table and errors are kept
    scale = {"saturating_power": 1.5, "m3": 1.8, "m4": 3.0, "broken_power": 1.0}
    lead = {n: _errors({c: scale[n] * base[c] for c in cuts}) for n in names}
    sel = decide(names, lead, notes, ["n"], cuts, (0.65, 0.8))
    assert sel.chosen == "saturating_power"
    assert sel.margin["solo"]["law"] == "broken_power"
    assert sel.margin["solo"]["score"] > SOLO_RATIO * sel.margin["solo"]["best_other"]
    assert f"not at most {SOLO_RATIO}" in sel.reason
    assert len(sel.table) == 4 and set(sel.errors) == set(names)


def test_bootstrap_of_a_combination_bootstraps_each_member():
    df = _table(seed=5, n_rows=16, lo=3, hi=5, noise=0.02)
    avg = sl.fit("average:power+saturating_power", df, x="n", y="L", objective="mse_log",
                 bootstrap=5, random_state=3)
    for name, member in zip(("power", "saturating_power"), avg.members, strict=True):
        alone = sl.fit(name, df, x="n", y="L", objective="mse_log")
        np.testing.assert_array_equal(member.theta, alone.theta)  # its own fit
        assert member.bootstrap is not None and len(member.bootstrap) == 5
    assert np.all(np.isfinite(avg.conf_int().to_numpy()))
    assert avg.with_bootstrap(5, random_state=3).equals(avg)  # one seed: the same replicas


@pytest.mark.slow
def test_auto_with_a_tie_and_bootstrap_bootstraps_each_member():
    df = _table(seed=1, n_rows=36, noise=0.02)
    with warnings.catch_warnings():
        # M4's fit stops at its iteration limit here (a warning, not the point)
        warnings.simplefilter("ignore", sl.ConvergenceWarning)
        res = sl.fit("auto", df, x="n", y="L", objective="mse_log", bootstrap=6,
                     random_state=3)
    auto = res.settings["auto"]
    # on this curve saturating power and M4 tie (M3 and the broken power law are
    # clearly worse): a combination
    assert isinstance(res, sl.CombinedFit) and len(auto["margin"]["combined"]) == 2
    assert res.name == auto["chosen"]
    for name, member in zip(auto["margin"]["combined"], res.members, strict=True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sl.ConvergenceWarning)
            alone = sl.fit(name, df, x="n", y="L", objective="mse_log")
        np.testing.assert_array_equal(member.theta, alone.theta)  # its own fit
        assert member.bootstrap is not None and len(member.bootstrap) == 6
        # calibrated on the backtests that scored it while choosing
        assert "own backtests" in member.calibration.source
    tab = res.get_prediction(0.9, n=[1e8])
    assert np.all(np.isfinite(tab.drop(columns="n").to_numpy()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sl.ConvergenceWarning)
        again = res.with_bootstrap(6, random_state=3)
    assert again.equals(res)  # one seed: the same replicas


def test_combination_backtests_alike_one_by_one_and_batched():
    curves = pd.concat([_table(seed=s, n_rows=24).assign(curve=f"c{s}") for s in (0, 3)])
    kw = {"x": "n", "y": "L", "group": "curve", "holdout_largest": 5,
          "objective": "mse_log"}
    one = sl.backtest(curves, "average:saturating_power+m3", batch=False, **kw)
    many = sl.backtest(curves, "average:saturating_power+m3", batch=True, **kw)
    assert set(one.groups["law"]) == {"average:saturating_power+m3"}
    # stacked by padded length: the same arrays, the same numbers
    pd.testing.assert_frame_equal(one.groups, many.groups)
    pd.testing.assert_frame_equal(one.points, many.points)


def test_combination_backtest_with_as_many_training_as_held_out_rows():
    # the fitted and forecast tables then have attrs of equal shapes, whose member
    # arrays pandas compared when joining them (ValueError before the fix)
    df = _table(seed=6, n_rows=10, lo=3, hi=5)
    bt = sl.backtest(df, "average:power+saturating_power", x="n", y="L", holdout_largest=5,
                     objective="mse_log")
    assert bt.overall["n_groups"] == 1 and len(bt.points) == 10
    assert int(bt.points["heldout"].sum()) == 5


def test_average_on_the_command_line_saves_and_forecasts(tmp_path, capsys):
    df = _table(seed=4, n_rows=20, lo=3, hi=5, noise=0.02)
    data = tmp_path / "runs.csv"
    df.to_csv(data, index=False)
    out = tmp_path / "fit.json"
    assert main(["fit", str(data), "--law", "average:power+saturating_power", "--x", "n",
                 "--y", "L", "--calibrate", "--json", str(out)]) == 0
    assert "Combination of fitted laws" in capsys.readouterr().out
    saved = sl.CombinedFit.from_json(out.read_text())
    assert main(["forecast", str(out), "--at", "n=1e6", "--level", "0.9",
                 "--json", str(tmp_path / "f.json")]) == 0
    row = json.loads((tmp_path / "f.json").read_text())[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # calibrated: no warning
        tab = saved.get_prediction(0.9, n=1e6)
    assert row["mean"] == pytest.approx(tab["mean"][0], rel=1e-12)
    assert row["obs_ci_upper"] == pytest.approx(tab["obs_ci_upper"][0], rel=1e-12)
    assert main(["forecast", str(out), "--budget", "1e20"]) == 2  # one law needed
    assert "combination" in capsys.readouterr().err


def _coverage_of_the_truth(n_designs: int, seed0: int) -> dict[float, float]:
    """Share of designs whose combined 90 % interval of the mean holds the true curve."""
    n = np.logspace(3, 5, 12)
    at = np.array([2e5, 1e6])  # 2x and 10x beyond the largest run
    truth = 0.5 + 20 * at**-0.4
    hits = np.zeros(2)
    for k in range(n_designs):
        rng = np.random.default_rng([seed0, k])
        y = (0.5 + 20 * n**-0.4) * np.exp(0.02 * rng.standard_normal(n.size))
        avg = sl.fit("average:power+saturating_power", pd.DataFrame({"n": n, "L": y}),
                     x="n", y="L")
        _, lo, hi = avg.mean_band(0.9, n=at)
        hits += (lo <= truth) & (truth <= hi)
    return dict(zip((2.0, 10.0), hits / n_designs, strict=True))


def test_combined_interval_covers_the_true_curve_at_2x_and_10x():
    # truth: saturating power with 2 % log-normal noise, 12 runs over two decades;
    # combination: power (no floor: biased beyond the data) + saturating power (right).
    # bench/combination_coverage.py measured the 90 % interval of the mean on 1,000
    # designs (bench/RESULTS.md); here 60 fresh designs must not fall below the
    # nominal 0.90 by more than 3 binomial standard errors (sqrt(.9 .1 / 60) = 0.039)
    cov = _coverage_of_the_truth(60, 11)
    for factor, rate in cov.items():
        assert rate >= 0.90 - 3 * 0.039, (factor, rate)


@pytest.mark.slow
def test_combined_interval_coverage_at_2x_and_10x_many_designs():
    # 400 designs: binomial SE sqrt(.9 .1 / 400) = 0.015; within 3 SE below nominal
    cov = _coverage_of_the_truth(400, 12)
    for factor, rate in cov.items():
        assert rate >= 0.90 - 3 * 0.015, (factor, rate)
