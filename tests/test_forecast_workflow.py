"""Forecast interface and backtests: --at-file, the budget guard, parallel groups with
the same numbers, minimum group size, duplicate rows, and the robust law choice."""

from __future__ import annotations

import importlib.util
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scalelaw as sl
from scalelaw.cli import main
from scalelaw.exceptions import DuplicateRowsWarning
from scalelaw.fitting import CUT_RATIO, MARGIN_RATIO, MARGIN_Z, SCORE_CUTS, select_law
from scalelaw.fitting._select import decide
from scalelaw.laws import get_law

DATA = "dataset:chinchilla_synthetic"


@pytest.fixture(scope="module")
def fit_json(tmp_path_factory):
    path = tmp_path_factory.mktemp("fit") / "fit.json"
    assert main(["fit", DATA, "--law", "chinchilla", "--x", "n_params,n_tokens", "--y",
                 "loss", "--starts", "100", "--json", str(path)]) == 0
    return path


def test_forecast_at_file_one_row_per_point(fit_json, tmp_path, capsys):
    pts = pd.DataFrame({"name": ["a", "b", "c"], "n_params": [1e8, 1e9, 3e9],
                        "n_tokens": [2e9, 2e10, 6e10]})
    pts.to_csv(tmp_path / "pts.csv", index=False)
    out = tmp_path / "fc.json"
    capsys.readouterr()
    assert main(["forecast", str(fit_json), "--at-file", str(tmp_path / "pts.csv"),
                 "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert [r["name"] for r in rows] == ["a", "b", "c"]
    from scalelaw.results import read_fit

    res = sl.calibrate(read_fit(fit_json))
    direct = res.get_prediction(None, n_params=pts.n_params.to_numpy(),
                                n_tokens=pts.n_tokens.to_numpy())
    np.testing.assert_allclose([r["mean"] for r in rows], direct["mean"], rtol=1e-12)
    # a file without the fit's inputs: exit 1 naming the missing column
    pts.drop(columns="n_tokens").to_parquet(tmp_path / "bad.parquet")
    assert main(["forecast", str(fit_json), "--at-file", str(tmp_path / "bad.parquet")]) == 1
    assert "n_tokens" in capsys.readouterr().err


def test_budget_honours_the_extrapolation_guard_and_names_intervals_once(fit_json, tmp_path,
                                                                        capsys):
    capsys.readouterr()
    # 1e30 FLOPs is far beyond the fitted domain: refused as --at refuses
    assert main(["forecast", str(fit_json), "--budget", "1e30"]) == 1
    assert "beyond the fitted domain" in capsys.readouterr().err
    out = tmp_path / "b.json"
    assert main(["forecast", str(fit_json), "--budget", "1e30", "--extrapolate",
                 "--json", str(out)]) == 0
    (row,) = json.loads(out.read_text())
    assert "loss_ci_lower" not in row and "mean_ci_lower" in row and "obs_ci_lower" in row
    assert row["extrapolation_factor"] > 10


def _curves(n_groups=6, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for g in range(n_groups):
        n = np.logspace(3, 7, 14)
        loss = (0.3 + 0.1 * g) + (20 + 5 * g) * n ** -(0.3 + 0.02 * g)
        rows += [(f"c{g}", x, y) for x, y in zip(n, loss * np.exp(rng.normal(0, 0.01, 14)),
                                                 strict=True)]
    return pd.DataFrame(rows, columns=["curve", "n", "loss"])


def test_parallel_backtest_gives_the_same_numbers():
    df = _curves(4)
    one = sl.backtest(df, "saturating_power", x="n", y="loss", group="curve",
                      holdout_largest=4, n_jobs=1)
    two = sl.backtest(df, "saturating_power", x="n", y="loss", group="curve",
                      holdout_largest=4, n_jobs=2)
    np.testing.assert_allclose(one.groups["rmsle"], two.groups["rmsle"], rtol=0, atol=1e-12)
    assert one.overall["pi_coverage"] == two.overall["pi_coverage"]


def test_small_groups_are_reported_and_duplicates_warned():
    df = _curves(3)
    small = df[df.curve == "c0"].iloc[:6]  # 6 rows, 4 held out: 2 training rows
    df = pd.concat([df[df.curve != "c0"], small, df[df.curve == "c1"].iloc[:1]])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bt = sl.backtest(df, "saturating_power", x="n", y="loss", group="curve",
                         holdout_largest=4)
    dup = [w for w in caught if issubclass(w.category, DuplicateRowsWarning)]
    assert len(dup) == 1 and "'c1': 1" in str(dup[0].message)
    row = bt.groups.set_index("group").loc["c0"]
    # saturating_power has 3 free parameters: 3 + 2 = 5 training rows needed
    assert row["status"].startswith("not scorable: 2 training row(s); at least 5")
    assert bt.overall["n_not_scorable"] == 1 and bt.overall["n_groups"] == 2


def _kaplan_data(noise, seed):
    law = get_law("kaplan", inputs=["N", "D"])
    N = np.repeat(np.logspace(7, 9.5, 8), 6)
    D = np.tile(np.logspace(9, 11.5, 6), 8)
    L = law({"N_c": 8.8e13, "D_c": 5.4e13, "alpha_N": 0.076, "alpha_D": 0.095},
            n_params=N, n_tokens=D)
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"N": N, "D": D, "L": L * np.exp(rng.normal(0, noise, N.size))})


def test_auto_keeps_the_default_law_when_the_inner_scores_tie():
    # Kaplan-law data with 5 % noise: Kaplan scores a little lower than Chinchilla in the
    # inner backtests, but by less than MARGIN_Z standard errors: the default is kept
    sel = select_law(_kaplan_data(0.05, 3), x=["N", "D"], y="L")
    m = sel.margin
    assert m["best"] == "kaplan" and m["difference"] > 0 and m["z"] < MARGIN_Z
    assert sel.chosen == "chinchilla" and sel.reason.startswith("kept the default chinchilla")
    # the same law with 0.1 % noise: Kaplan wins by many standard errors
    clear = select_law(_kaplan_data(0.001, 0), x=["N", "D"], y="L")
    assert clear.chosen == "kaplan" and clear.margin["z"] > 5
    assert clear.margin["best_score"] <= MARGIN_RATIO * clear.margin["default_score"]
    assert max(clear.margin["cut_ratios"].values()) <= CUT_RATIO
    # a tie (the geometric mean of the two laws, neither right): Kaplan leads the inner
    # scores by more than MARGIN_Z standard errors but only to 0.66 x Chinchilla's, short
    # of MARGIN_RATIO: the default is kept (out of sample such leads did not carry)
    chin = get_law("chinchilla", inputs=["N", "D"])
    tie = _kaplan_data(0.01, 2)
    tie["L"] = np.sqrt(tie.L * chin({"E": 1.82, "A": 482.0, "B": 2085.0, "alpha": 0.348,
                                     "beta": 0.366}, n_params=tie.N, n_tokens=tie.D))
    sel_tie = select_law(tie, x=["N", "D"], y="L")
    assert sel_tie.margin["best"] == "kaplan" and sel_tie.margin["z"] >= MARGIN_Z
    assert sel_tie.chosen == "chinchilla" and "not below 0.25" in sel_tie.reason
    # the margin is part of what a fit with law="auto" records (settings["auto"])
    assert sel.to_dict()["margin"]["z"] == pytest.approx(m["z"])


def _inner_errors(lead_at_last_cut):
    """Inner backtest errors of Chinchilla and Kaplan: Kaplan's RMSLE is 0.1x Chinchilla's
    at cut 0.65 and ``lead_at_last_cut`` x at cut 0.8 (12 held-out points per cut, a
    small smooth wiggle so that the bootstrap has some spread)."""
    wiggle = 1 + 0.05 * np.sin(np.arange(12))
    rows = {"chinchilla": (0.05, 0.01), "kaplan": (0.005, 0.01 * lead_at_last_cut)}
    return {law: pd.DataFrame({"cut": np.repeat(SCORE_CUTS, 12),
                               "distance": np.tile(np.linspace(0.05, 0.3, 12), 2),
                               "log_error": np.concatenate([a * wiggle, b * wiggle[::-1]])})
            for law, (a, b) in rows.items()}


def test_auto_needs_the_lead_at_every_scoring_cut():
    # the score averages the cuts: a lead to 0.18x Chinchilla's on the average, many
    # standard errors clear, but carried by cut 0.65 alone (0.6x at cut 0.8) keeps the
    # default; the same lead with 0.4x at cut 0.8 (below CUT_RATIO = 0.5) chooses Kaplan
    laws, notes, xs = ["chinchilla", "kaplan"], {"chinchilla": [], "kaplan": []}, ["N", "D"]
    uneven = decide(laws, _inner_errors(0.6), notes, xs, (0.5, *SCORE_CUTS), SCORE_CUTS)
    m = uneven.margin
    assert m["best_score"] / m["default_score"] == pytest.approx(0.0055 / 0.03, rel=0.01)
    assert m["z"] >= MARGIN_Z and m["best_score"] <= MARGIN_RATIO * m["default_score"]
    assert m["cut_ratios"] == pytest.approx({0.65: 0.1, 0.8: 0.6}, rel=1e-6)
    assert m["max_cut_ratio"] == CUT_RATIO == 0.5
    assert uneven.chosen == "chinchilla"
    assert "not below 0.5 x the default's score at every cut (0.60 x at cut 0.8)" in uneven.reason
    even = decide(laws, _inner_errors(0.4), notes, xs, (0.5, *SCORE_CUTS), SCORE_CUTS)
    assert even.chosen == "kaplan" and even.reason.startswith("chose kaplan")


def test_auto_gives_no_lead_to_a_law_scored_at_fewer_cuts():
    # Kaplan's refit below cut 0.8 gave no errors (Chinchilla's did): its lead at cut
    # 0.65 alone is no lead at every cut, and its errors are not paired with the
    # default's, so no margin in standard errors either: the default is kept
    laws, notes, xs = ["chinchilla", "kaplan"], {"chinchilla": [], "kaplan": []}, ["N", "D"]
    errors = _inner_errors(0.4)
    errors["kaplan"] = errors["kaplan"][errors["kaplan"]["cut"] != SCORE_CUTS[1]]
    sel = decide(laws, errors, notes, xs, (0.5, *SCORE_CUTS), SCORE_CUTS)
    assert sel.margin["cut_ratios"][SCORE_CUTS[1]] == np.inf
    assert sel.chosen == "chinchilla"


def _bench_designs():
    """``bench/two_input_auto.py``: the ladder designs with known truth (one generator)."""
    path = Path(__file__).resolve().parents[1] / "bench" / "two_input_auto.py"
    spec = importlib.util.spec_from_file_location("two_input_auto", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


#: Fresh designs per case for the tests: the seeds [TEST_ROOT, case, k], neither those
#: the rule was chosen on nor those bench/two_input_auto.py reports it on.
TEST_DESIGNS = {"chinchilla": 3, "kaplan_clear": 2, "kaplan_noisy": 2, "tie": 2}


def _designs(cases):
    """Per design: the case, auto's choice, auto's and Chinchilla's held-out error (ARE)."""
    bench = _bench_designs()
    out = []
    for case in cases:
        for k in range(TEST_DESIGNS[case]):
            train, target = bench.ladder_design(case, [bench.TEST_ROOT, list(bench.CASES)
                                                       .index(case), k])
            at = {"n_params": target.n_params.to_numpy(), "n_tokens": target.n_tokens.to_numpy()}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                auto = sl.fit("auto", train, x=list(at), y="loss")
                chin = sl.fit("chinchilla", train, x=list(at), y="loss")
            are = {name: float(np.mean(np.abs(res.predict(**at) - target.loss) / target.loss))
                   for name, res in (("auto", auto), ("chinchilla", chin))}
            out.append({"case": case, "chosen": auto.settings["auto"]["chosen"],
                        "ratio": are["auto"] / are["chinchilla"], **are})
    return out


# two fixtures: test workers that split the two tests below share no fixture, and
# each then recomputes only what its test needs
@pytest.fixture(scope="module")
def chinchilla_designs():
    return _designs(["chinchilla"])


@pytest.fixture(scope="module")
def other_designs():
    return _designs(["kaplan_clear", "kaplan_noisy", "tie"])


def test_auto_keeps_chinchilla_on_the_tie_whose_lead_one_cut_carried():
    # bench/two_input_auto.py's report design tie/4 (seed [REPORT_ROOT, 3, 4]; the truth is
    # the geometric mean of Chinchilla and Kaplan): Kaplan led the inner scores to 0.21x
    # Chinchilla's at 3.5 standard errors, but to 0.57x at cut 0.8; chosen, it read 1.187x
    # Chinchilla's held-out error (bench/RESULTS.md). In-sample: CUT_RATIO was chosen on
    # these seeds; this checks that the library applies it
    bench = _bench_designs()
    train, _ = bench.ladder_design("tie", [bench.REPORT_ROOT, 3, 4])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel = select_law(train, x=["n_params", "n_tokens"], y="loss")
    m = sel.margin
    assert m["best"] == "kaplan" and m["z"] >= MARGIN_Z
    assert m["best_score"] <= MARGIN_RATIO * m["default_score"]
    assert m["cut_ratios"][0.8] > CUT_RATIO  # 0.57 when measured
    assert sel.chosen == "chinchilla"


def test_auto_keeps_chinchilla_when_chinchilla_is_true(chinchilla_designs):
    # Chinchilla-true ladders (0.5-1.5 % noise, parameters jittered around Epoch AI's
    # refit, 4-6 sizes x 4-8 token multipliers, a 2.5-10x larger model held out): auto
    # keeps the default, so its forecast is the default's and the ratio of held-out
    # errors is 1; 1.1 is the bound a law choice must never exceed (the default's error
    # x 1.1), kept as the tolerance so that a choice that departs but stays harmless
    # would still pass while a switch to Kaplan (14x here, bench) would not
    rows = chinchilla_designs
    assert len(rows) == 3 and {r["case"] for r in rows} == {"chinchilla"}
    for r in rows:
        assert r["chosen"] == "chinchilla", r
        assert r["ratio"] <= 1.1, r


def test_auto_is_within_1_1x_the_default_on_fresh_designs_of_every_case(chinchilla_designs,
                                                                        other_designs):
    # bench/two_input_auto.py --designs 20 (80 designs, bench/RESULTS.md) measured auto
    # within 1.1x of Chinchilla's held-out error on 79 of 80 (one tie at 1.19x). Here 9
    # designs: a rule whose rate were 0.95 would show two or more failures among 9 with
    # probability 0.07, so at most one is allowed; always choosing Kaplan fails it (within
    # the bar on 34 of those 80). Nine designs cannot tell the adopted rule from the
    # margin alone (within the bar on 0.85-1.00 of the bench's designs per case): the
    # ratio is what the tie in the test above checks
    designs = chinchilla_designs + other_designs
    ratios = np.array([r["ratio"] for r in designs])
    assert len(ratios) == sum(TEST_DESIGNS.values())
    assert np.sum(ratios > 1.1) <= 1, designs
    # where Kaplan is clearly right (0.1 % noise) auto must also gain: Kaplan is chosen
    # on at least one of the two designs (bench: 14 of 20) and lowers the error there
    clear = [r for r in other_designs if r["case"] == "kaplan_clear"]
    assert any(r["chosen"] == "kaplan" for r in clear), clear
    assert all(r["ratio"] < 1 for r in clear if r["chosen"] == "kaplan"), clear


def test_backtest_n_jobs_must_be_positive():
    with pytest.raises(sl.DataValidationError, match="n_jobs must be at least 1"):
        sl.backtest(_curves(2), "saturating_power", x="n", y="loss", group="curve",
                    holdout_largest=4, n_jobs=0)
