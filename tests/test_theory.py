"""Theory checks: exponents, windows, regimes and verdicts on tables with known answers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from scalelaw.cli import main
from scalelaw.exceptions import DataValidationError
from scalelaw.intrinsic_dim import IDResult
from scalelaw.theory import (
    check_scaling,
    classify_regime,
    classify_regimes,
    curvature_window,
    fit_exponent,
    interpolating_window,
)

SEEDS = 3


def _resolution_table(alpha: float, *, noise: float = 0.03, seed: int = 0,
                      sizes=None, n_params: float = 40_000.0,
                      floor: float = 0.0) -> pd.DataFrame:
    """Data scaling with P >> D: L = 3 D^-alpha (+ floor), log-normal seed noise."""
    rng = np.random.default_rng(seed)
    sizes = 2.0 ** np.arange(5, 12) if sizes is None else sizes
    D = np.repeat(sizes, SEEDS)
    loss = (3 * D ** -alpha + floor) * np.exp(noise * rng.standard_normal(D.size))
    return pd.DataFrame({"n_train": D, "n_params": n_params, "test_loss": loss,
                         "seed": np.tile(np.arange(SEEDS), len(sizes))})


def _variance_table(alpha: float, *, noise: float = 0.02, seed: int = 0, P: int = 121,
                    l_inf: float = 0.05, finite_sample: bool = True) -> pd.DataFrame:
    """D >> P: L = L_inf + c (D - P - 1)^-alpha (least squares' finite-sample form), the
    excess twice L_inf at the smallest D."""
    rng = np.random.default_rng(seed)
    D = np.repeat(2.0 ** np.arange(11, 17), SEEDS)
    base = D - P - 1 if finite_sample else D
    loss = (l_inf + 2 * l_inf * (base / base[0]) ** -alpha) * np.exp(
        noise * rng.standard_normal(D.size))
    return pd.DataFrame({"n_train": D, "n_params": float(P), "test_loss": loss})


# ------------------------------------------------------------------ verdicts
def test_resolution_limited_consistent_when_alpha_meets_4_over_d():
    c = check_scaling(_resolution_table(1.0), "n_train", "test_loss", dimension=4)[0]
    assert c.regime == "resolution" and c.verdict == "consistent"
    # 7 sizes x 3 seeds with 3 % noise: the exponent is known to about +-0.03
    assert c.alpha == pytest.approx(1.0, abs=0.05)
    assert c.alpha_ci[0] < 1.0 < c.alpha_ci[1]
    assert c.predicted_alpha == 1.0 and c.dimension == 4
    bound, estimate = c.question("bound"), c.question("estimate")
    assert bound.verdict == estimate.verdict == "consistent"
    # both ask about 4 / (alpha d), here 1 / alpha, with the default margin 0.2
    assert estimate.estimate == pytest.approx(1 / c.alpha, rel=1e-12)
    assert estimate.band == (0.8, 1.2) and bound.band == (-np.inf, 1.2)
    assert estimate.interval == pytest.approx((1 / c.alpha_ci[1], 1 / c.alpha_ci[0]))
    assert c.tolerance == 0.2 and c.dimension_estimate.exact


def test_resolution_limited_bound_allows_a_larger_exponent_but_not_the_estimate():
    # alpha >= 4/d is a bound: alpha = 1.5 at d = 4 (4/d = 1) satisfies it, but 4/alpha =
    # 2.7 is 33 % below d, beyond the estimate's 20 % margin
    c = check_scaling(_resolution_table(1.5), "n_train", "test_loss", dimension=4)[0]
    assert c.verdict == "consistent" and c.question("bound").verdict == "consistent"
    est = c.question("estimate")
    assert est.verdict == "inconsistent" and est.interval[1] < 0.8


def test_resolution_limited_inconsistent_when_alpha_is_clearly_below():
    # alpha = 0.5 with d = 4: 4/(alpha d) = 2, far above the bound's 1.2
    c = check_scaling(_resolution_table(0.5), "n_train", "test_loss", dimension=4)[0]
    assert c.verdict == "inconsistent" and c.question("estimate").verdict == "inconsistent"
    assert c.question("bound").interval[0] > 1.2 and "entirely outside" in c.reason


def test_a_small_deviation_is_consistent_and_a_wide_interval_is_not():
    # 4 % below 4/d with a narrow interval: inside the margin, consistent (the old rule,
    # "the interval reaches 4/d", called a 2 % deviation inconsistent)
    c = check_scaling(_resolution_table(0.96, noise=0.01), "n_train", "test_loss",
                      dimension=4)[0]
    assert c.alpha_ci[1] < 1.0 and c.verdict == "consistent"
    # an interval far wider than the margin is no evidence for the prediction
    wide = check_scaling(_resolution_table(1.0, noise=0.5, sizes=2.0 ** np.arange(5, 10)),
                         "n_train", "test_loss", dimension=4)[0]
    assert wide.alpha_ci[0] < 0.8 and wide.verdict == "inconclusive"
    assert "straddles" in wide.reason


def test_measured_dimension_interval_bias_and_lower_bound_enter_the_questions():
    table = _resolution_table(0.85)
    wide = IDResult("twonn", 4.0, (3.0, 5.0), 0.95, 5000, 20, False)
    c = check_scaling(table, "n_train", "test_loss", dimension=wide)[0]
    # 4/(alpha d) ranges over about [0.92, 1.6]: d's interval decides nothing, and says so
    bound = c.question("bound")
    assert c.dimension_estimate.plausible == (3.0, 5.0)
    assert bound.interval[0] == pytest.approx(4 / (c.alpha_ci[1] * 5.0))
    assert bound.interval[1] == pytest.approx(4 / (c.alpha_ci[0] * 3.0))
    assert c.verdict == "inconclusive" and bound.uncertain_end == "upper"
    assert "d's interval" in bound.reason
    tight = IDResult("twonn", 4.0, (3.9, 4.1), 0.95, 5000, 20, False)
    low = _resolution_table(0.7)
    assert check_scaling(low, "n_train", "test_loss", dimension=tight)[0].verdict == \
        "inconsistent"
    # a lower-bound d (above 12) may be up to 1.5x larger: alpha = 0.2 against 4/13 = 0.31
    # is inconclusive; alpha = 0.1 is below even 4 / (1.5 x 13.2 x 1.2) and is inconsistent
    high = IDResult("twonn", 13.0, (12.8, 13.2), 0.95, 5000, 40, True)
    c = check_scaling(_resolution_table(0.2), "n_train", "test_loss", dimension=high)[0]
    assert c.verdict == "inconclusive" and "lower bound" in c.reason
    assert c.dimension_estimate.plausible == pytest.approx((12.8, 13.2 * 1.5))
    c = check_scaling(_resolution_table(0.1), "n_train", "test_loss", dimension=high)[0]
    assert c.verdict == "inconsistent"
    # a known estimator bias (estimate / true - 1 in [-10 %, 0]) widens the d range
    biased = IDResult("twonn", 4.0, (3.9, 4.1), 0.95, 5000, 20, False)
    object.__setattr__(biased, "bias", (-0.1, 0.0))
    d = check_scaling(table, "n_train", "test_loss", dimension=biased)[0].dimension_estimate
    assert d.plausible == pytest.approx((3.9, 4.1 / 0.9))


def test_resolution_limited_inconclusive_cases():
    noisy = _resolution_table(1.0, noise=0.8, sizes=2.0 ** np.arange(5, 9))
    c = check_scaling(noisy, "n_train", "test_loss", dimension=4)[0]
    assert c.verdict == "inconclusive" and "straddles" in c.reason
    c = check_scaling(_resolution_table(1.0), "n_train", "test_loss")[0]
    assert c.verdict == "inconclusive" and "no intrinsic dimension" in c.reason
    few = _resolution_table(1.0, sizes=2.0 ** np.arange(5, 8))
    c = check_scaling(few, "n_train", "test_loss", dimension=4)[0]
    assert c.verdict == "inconclusive" and "4 are needed" in c.reason
    assert all(q.verdict == "inconclusive" for q in c.questions)


def test_variance_limited_finite_sample_correction_follows_the_model():
    t = _variance_table(1.0)  # drawn from L_inf + c (D - P - 1)^-1, least squares' form
    trained = check_scaling(t, "n_train", "test_loss")[0]
    linear = check_scaling(t, "n_train", "test_loss", model="linear")[0]
    assert trained.regime == linear.regime == "variance"
    # both exponents are always computed; the model decides which one is judged
    for c in (trained, linear):
        assert c.fit.alpha_corrected is not None and c.fit.alpha_raw is not None
        assert c.fit.correction == "n_train - n_params - 1"
    assert not trained.fit.correction_applied and "trained network" in \
        trained.fit.correction_reason
    assert linear.fit.correction_applied and "linear in its parameters" in \
        linear.fit.correction_reason
    assert trained.alpha == trained.fit.alpha_raw and linear.alpha == linear.fit.alpha_corrected
    # the profile of a 3-parameter fit over 6 sizes: about +-0.1
    assert linear.alpha == pytest.approx(1.0, abs=0.06) and linear.verdict == "consistent"
    # the same data against D itself reads steeper (the factor D / (D - P - 1))
    assert linear.fit.alpha_raw > linear.alpha
    forced = check_scaling(t, "n_train", "test_loss", correct_finite_sample=True)[0]
    assert forced.alpha == linear.alpha and "asked for" in forced.fit.correction_reason
    off = check_scaling(t, "n_train", "test_loss", model="linear",
                        correct_finite_sample=False)[0]
    assert off.alpha == pytest.approx(linear.fit.alpha_raw)


def test_variance_limited_inconsistent_and_given_limit():
    c = check_scaling(_variance_table(1.6), "n_train", "test_loss", model="linear")[0]
    assert c.verdict == "inconsistent" and c.question("variance").interval[0] > 1.15
    assert "entirely outside [0.85, 1.15]" in c.reason
    t = _variance_table(1.0, noise=0.005).assign(l_inf=0.05)
    given = check_scaling(t, "n_train", "test_loss", l_inf="l_inf", model="linear")[0]
    free = check_scaling(t, "n_train", "test_loss", model="linear")[0]
    assert given.fit.l_inf_source == "given" and free.fit.l_inf_source == "fitted"
    # 0.5 % noise on the loss is up to 5 % of the excess at the largest D: alpha to +-0.03
    assert given.alpha == pytest.approx(1.0, abs=0.03)
    # knowing the limit narrows the interval (two parameters instead of three)
    assert np.ptp(given.alpha_ci) < np.ptp(free.alpha_ci)


def test_variance_limited_inconclusive_when_noise_swamps_the_excess():
    c = check_scaling(_variance_table(1.0, noise=0.3), "n_train", "test_loss")[0]
    assert c.verdict == "inconclusive" and "straddles" in c.reason
    assert c.question("variance").uncertain_end in ("lower", "upper", "both")


def test_crossover_slices_are_restricted_to_their_regime_or_left_inconclusive():
    # P = 121, D from 256 (2P) to 65,536: the sizes with D >= 10 P form the check
    rng = np.random.default_rng(1)
    D = np.repeat(2.0 ** np.arange(8, 17), 2)
    t = pd.DataFrame({"n_train": D, "n_params": 121.0,
                      "test_loss": (0.05 + 363 / (D - 122)) * np.exp(
                          0.01 * rng.standard_normal(D.size))})
    c = check_scaling(t, "n_train", "test_loss")[0]
    assert c.regime == "variance" and "spans the crossover" in c.regime_reason
    assert c.window[0] >= 1210 and c.verdict == "consistent"
    narrow = t[t.n_train <= 2048]
    c = check_scaling(narrow, "n_train", "test_loss")[0]
    assert c.regime == "crossover" and c.verdict == "inconclusive"


def test_grouped_checks_one_per_slice():
    a = _resolution_table(1.0).assign(width=192)
    b = _variance_table(1.0).assign(width=8)
    checks = check_scaling(pd.concat([a, b]), "n_train", "test_loss", group="width",
                           dimension=4)
    assert [c.group for c in checks] == [8, 192]
    assert [c.regime for c in checks] == ["variance", "resolution"]
    assert all(c.verdict == "consistent" for c in checks)


# ------------------------------------------------------------------ windows
def test_interpolation_window_and_curvature_window():
    assert interpolating_window(np.arange(5.0), np.array([1e-3, 0.01, 0.05, 0.2, 0.01])) \
        == (0, 3)
    x = 2.0 ** np.arange(4, 14)
    straight = 5 * x ** -0.7
    assert curvature_window(x, straight) == (0, 10)
    bent = 5 * x ** -0.7 + 5 * 2.0 ** (-0.7 * 9)  # a floor reached at x = 2^9
    a, b = curvature_window(x, bent)
    assert a == 0 and 4 <= b <= 5  # stops before the floor (index 5) bends the line
    # a kink: slope 0.7 up to 2^10, then 0.2; the window ends at the kink (index 6),
    # not one size past it
    kinked = np.where(x <= 2.0**10, x ** -0.7, 2.0 ** (-7.0) * (x / 2.0**10) ** -0.2)
    assert curvature_window(x, kinked) == (0, 7)


def test_window_from_train_loss_and_sensitivity():
    t = _resolution_table(1.0, floor=0.0)
    t["train_loss"] = np.where(t.n_train <= 512, 1e-5, 0.5 * t.test_loss)
    e = fit_exponent(t, "n_train", "test_loss", regime="resolution", train="train_loss")
    assert e.window == (32.0, 512.0) and "interpolates" in e.rule
    lo, hi = e.sensitivity
    assert lo <= e.alpha <= hi and hi - lo < 0.1
    with pytest.raises(DataValidationError, match="window"):
        fit_exponent(t, "n_train", "test_loss", regime="resolution", window=(1e6, 2e6))
    # data-rich model scaling: train = test everywhere, no size interpolates; the window
    # falls back to the straight prefix and reads the exponent (0.03 noise, 7 sizes)
    rich = _resolution_table(0.8).assign(train_loss=lambda d: d.test_loss)
    e = fit_exponent(rich, "n_train", "test_loss", regime="resolution", train="train_loss")
    assert "no size interpolates" in e.rule and e.alpha == pytest.approx(0.8, abs=0.05)


def test_regime_classification_of_a_sweep():
    rows = []
    for width, P in ((8, 121), (32, 1_185), (192, 38_000)):
        for D in (2048, 4096, 8192, 16384):
            rows.append({"width": width, "n_params": P, "n_train": D})
    table = classify_regimes(pd.DataFrame(rows), test=None, train=None)
    by = dict(zip(table.slice, table.regime, strict=True))
    assert by["width = 8"] == "variance"  # D >= 17 P
    assert by["width = 192"] == "crossover"  # D/P 0.05 .. 0.43
    assert by["n_train = 2048"] == "crossover"  # P/D from 0.06 to 18.6
    regime, why = classify_regime(np.array([100.0, 200.0]), np.array([5e4, 5e4]),
                                  varies="data")
    assert regime == "resolution" and "P >> D" in why


# ------------------------------------------------------------------ random features
def test_random_feature_model_reads_alpha_k_and_one_in_its_four_regimes():
    from teacher_student.random_features import RandomFeatureModel
    from teacher_student.suite import get_task

    rf = RandomFeatureModel(get_task("random-features"), n_pool=2500)
    alpha_k = rf.alpha_k()
    tabs = rf.regime_tables(n_draws=2)
    ex = {}
    for key, x in (("resolution_D", "n_train"), ("resolution_P", "n_params")):
        ex[key] = fit_exponent(tabs[key], x, "loss", regime="resolution", window="all").alpha
    for key, x, other in (("variance_D", "n_train", "n_params"),
                          ("variance_P", "n_params", "n_train")):
        c = check_scaling(tabs[key], x, "loss", l_inf="loss_inf", model="linear")[0]
        ex[key] = c.alpha
        assert c.regime == "variance" and c.fit.correction == f"{x} - {other} - 1"
        assert c.fit.correction_applied and c.fit.l_inf_source == "given"
    # resolution-limited: alpha_D = alpha_P = alpha_K (Bahri et al. sec. 2.3); the pool
    # and the spectrum's fit window leave about 10 % between them
    assert ex["resolution_D"] == pytest.approx(alpha_k, rel=0.12)
    assert ex["resolution_P"] == pytest.approx(alpha_k, rel=0.12)
    # variance-limited, after the finite-sample correction: 1 within 0.1 (two draws)
    assert ex["variance_D"] == pytest.approx(1.0, abs=0.1)
    assert ex["variance_P"] == pytest.approx(1.0, abs=0.15)
    # the exact prediction asked as such: alpha_D = alpha_K within the 20 % margin
    c = check_scaling(tabs["resolution_D"], "n_train", "loss", regime="resolution",
                      window="all", exponent=alpha_k)[0]
    q = c.question("exact")
    assert q.estimate == pytest.approx(ex["resolution_D"] / alpha_k)
    assert q.band == (0.8, 1.2) and c.verdict in ("consistent", "inconclusive")


# ------------------------------------------------------------------ CLI
def test_cli_check_json_schema_and_plot(tmp_path, capsys):
    t = pd.concat([_resolution_table(1.0).assign(width=192),
                   _variance_table(1.0).assign(width=8)])
    f = tmp_path / "runs.csv"
    t.to_csv(f, index=False)
    out, png = tmp_path / "checks.json", tmp_path / "checks.png"
    assert main(["check", str(f), "--x", "n_train", "--y", "test_loss", "--group", "width",
                 "--dimension", "4", "--json", str(out), "--plot", str(png)]) == 0
    assert "consistent" in capsys.readouterr().out
    checks = json.loads(out.read_text())["checks"]
    assert len(checks) == 2
    for c in checks:
        assert {"group", "regime", "alpha", "alpha_ci", "alpha_raw", "alpha_corrected",
                "correction", "predicted_alpha", "dimension", "dimension_interval", "verdict",
                "window", "window_rule", "tolerance", "questions", "n_boot_failed",
                "reason"} <= set(c)
        for q in c["questions"]:
            assert {"question", "tolerance", "band", "interval", "verdict", "reason"} <= set(q)
    var, res = checks
    assert var["tolerance"] == 0.15 and var["questions"][0]["band"] == [0.85, 1.15]
    assert var["correction"]["applied"] is False and var["alpha_raw"] == var["alpha"]
    assert var["alpha_corrected"] < var["alpha_raw"]  # against D - P - 1: shallower
    assert res["dimension_interval"] == [4.0, 4.0] and res["n_boot_failed"] == 0
    assert [q["kind"] for q in res["questions"]] == ["bound", "estimate"]
    assert res["fit"]["candidates"][-1]["chosen"]  # the whole range kept
    assert png.stat().st_size > 10_000
    # measured dimension from points
    rng = np.random.default_rng(0)
    np.save(tmp_path / "pts.npy", rng.normal(size=(2000, 4)) @ rng.normal(size=(4, 12)))
    assert main(["check", str(f), "--x", "n_train", "--y", "test_loss", "--where",
                 "width == 192", "--id-data", str(tmp_path / "pts.npy"), "--json",
                 str(out)]) == 0
    c = json.loads(out.read_text())["checks"][0]
    assert c["dimension_estimate"]["source"] == "measured (twonn)"
    assert abs(c["dimension"] - 4) < 0.4
    # the measured d's interval is carried into the questions' intervals
    lo, hi = c["dimension_interval"]
    assert lo < c["dimension"] < hi
    assert c["questions"][0]["interval"][1] == pytest.approx(4 / (c["alpha_ci"][0] * lo))
    assert main(["check", str(f), "--x", "n_train", "--y", "test_loss", "--dimension", "4",
                 "--id-data", str(tmp_path / "pts.npy")]) == 2
    assert main(["check", str(f), "--x", "n_train", "--y", "nope"]) == 1
    assert "'nope'" in capsys.readouterr().err
    for bad in ("0", "1", "-0.1", "1.5"):
        assert main(["check", str(f), "--x", "n_train", "--y", "test_loss",
                     "--tolerance", bad]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "--tolerance" in err and "(0, 1)" in err
    # a tolerance and a linear model on the command line reach the verdicts
    assert main(["check", str(f), "--x", "n_train", "--y", "test_loss", "--where",
                 "width == 8", "--tolerance", "0.3", "--model", "linear", "--json",
                 str(out)]) == 0
    c = json.loads(out.read_text())["checks"][0]
    assert c["tolerance"] == 0.3 and c["correction"]["applied"] is True
    assert c["questions"][0]["band"] == [0.7, 1.3]
    printed = capsys.readouterr().out
    assert "alpha = 1 within +-0.3" in printed and "finite-sample correction" in printed
