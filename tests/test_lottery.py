"""Seed lotteries: the checks of the shared science notes, Part II section 5."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from scalelaw.exceptions import DataValidationError, ExcludedRowsWarning
from scalelaw.lottery import (
    analyze_lottery,
    best_of_k,
    binomial_sd,
    delta_method_sd,
    expected_max_normal,
    expected_max_pareto,
    extrapolate_best_of_k,
    find_outliers,
    independent_errors_sd,
    inverse_transform,
    outlier_threshold,
    seeds_needed,
    transform_metric,
)

# Table E1 of the notes: exact quadrature, given to 4 decimals.
E1 = {2: 0.5642, 3: 0.8463, 5: 1.1630, 10: 1.5388, 20: 1.8675, 50: 2.2491, 100: 2.5076,
      1000: 3.2414, 10000: 3.8516}


@pytest.mark.parametrize("k", sorted(E1))
def test_expected_max_normal_matches_table_e1(k):
    # the table is rounded to 4 decimals: 5e-5 plus quadrature error
    assert expected_max_normal(k) == pytest.approx(E1[k], abs=1e-4)


def test_expected_max_pareto_exact_and_by_monte_carlo():
    # table E3 of the notes (exact values)
    assert expected_max_pareto(1.5, 10) == pytest.approx(12.5742, abs=1e-4)
    assert expected_max_pareto(3.0, 100) == pytest.approx(6.2922, abs=1e-4)
    assert expected_max_pareto(1.0, 5) == np.inf
    rng = np.random.default_rng(0)
    draws = rng.pareto(3.0, (200_000, 10)) + 1  # classical Pareto, x_m = 1
    # 200k maxima of k = 10 with sd ~ 1.6: standard error 0.004, far inside 2 %
    assert draws.max(axis=1).mean() == pytest.approx(expected_max_pareto(3.0, 10), rel=0.02)


def test_unbiased_best_of_k_and_biased_plugin():
    rng = np.random.default_rng(1)
    samples = rng.normal(size=(5000, 20))
    u = np.array([best_of_k(s, [5, 10, 20]) for s in samples]).mean(axis=0)
    # 5000 replicates: standard error of the mean of the k = 20 estimate ~ 0.006 (sd ~ 0.4)
    assert u == pytest.approx([E1[5], E1[10], E1[20]], abs=0.02)
    plug = np.mean([best_of_k(s, 20, method="plugin")[0] for s in samples])
    assert plug < 1.70  # documented bias: 1.657 against 1.8675 (notes, section 1.4)
    # a loss: best is the smallest value, and the estimator mirrors
    assert best_of_k([3.0, 1.0, 2.0], 3, higher_is_better=False)[0] == pytest.approx(1.0)
    with pytest.raises(DataValidationError, match="k <= number of runs"):
        best_of_k([1.0, 2.0], 3)


def test_extrapolated_best_of_k_beyond_the_runs():
    rng = np.random.default_rng(2)
    normal = [extrapolate_best_of_k(rng.normal(size=500), 1000)[0] for _ in range(20)]
    # a GPD tail fitted to 100 exceedances: the median over 20 samples within 15 % of 3.24
    assert np.median(normal) == pytest.approx(E1[1000], rel=0.15)
    par = [extrapolate_best_of_k(rng.pareto(3.0, 1000) + 1, 100)[0] for _ in range(20)]
    assert np.median(par) == pytest.approx(expected_max_pareto(3.0, 100), rel=0.15)
    x = np.arange(30.0)
    assert seeds_needed(x, within=100.0) == 1
    assert seeds_needed(x, within=1e-9) == 30


def test_lottery_classes_on_clear_cases_and_undecided_at_small_n():
    rng = np.random.default_rng(5)
    for n in (10, 20, 49):
        g = analyze_lottery(pd.DataFrame({"v": rng.pareto(1.0, n)}), "v",
                            n_boot=50).groups[0]
        assert g.tail_class_upper == "undecided" and "runs" in g.tail_reason_upper
    heavy = analyze_lottery(pd.DataFrame({"v": rng.pareto(1.5, 1000)}), "v").groups[0]
    assert heavy.tail_class_upper == "heavy" and heavy.tail_size == 95
    assert "both estimators say heavy" in heavy.tail_reason_upper
    bounded = analyze_lottery(pd.DataFrame({"v": rng.uniform(size=1000)}), "v").groups[0]
    assert bounded.tail_class_upper == "bounded"


def test_transforms_and_accuracy_null():
    assert 100 * binomial_sd(0.94, 10_000) == pytest.approx(0.237, abs=5e-4)  # notes 1.5
    assert 100 * binomial_sd(0.905, 10_000) == pytest.approx(0.293, abs=5e-4)
    # delta method: a = 0.94, sd 0.15 pp -> logit sd 0.0266 (notes 1.5); check by simulation
    assert delta_method_sd(0.94, 0.0015, "logit") == pytest.approx(0.0266, abs=1e-4)
    sim = transform_metric(np.random.default_rng(6).normal(0.94, 0.0015, 200_000), "logit")
    assert sim.std() == pytest.approx(0.0266, rel=0.01)
    p = np.random.default_rng(7).uniform(0.5, 1.0, 1000)
    assert independent_errors_sd(p) <= binomial_sd(p.mean(), 1000)
    with pytest.raises(DataValidationError, match="row 1 is 1.0"):
        transform_metric([0.5, 1.0], "logit", name="acc")
    with pytest.raises(DataValidationError, match="positive"):
        transform_metric([0.5, 0.0], "log")


def test_outlier_rule_false_flag_rate_and_sides():
    rng = np.random.default_rng(8)
    flagged = np.mean([len(find_outliers(rng.normal(size=20))) > 0 for _ in range(2000)])
    # calibrated for n: 5 % of clean Gaussian samples have any flag; 2000 samples
    # give a binomial sd of 0.5 %, so [3 %, 7 %] is four sd wide on each side
    assert 0.03 <= flagged <= 0.07
    strict = np.mean([len(find_outliers(rng.normal(size=20), false_flag_rate=0.01)) > 0
                      for _ in range(2000)])
    assert strict < 0.025  # 1 % asked; binomial sd 0.2 %
    assert outlier_threshold(20, 0.01) > outlier_threshold(20, 0.05)
    with pytest.raises(DataValidationError, match="false_flag_rate"):
        find_outliers(rng.normal(size=20), false_flag_rate=5)
    x = np.r_[rng.normal(1.0, 0.01, 18), 5.0, -3.0]
    out = find_outliers(x)
    assert [(o.row, o.side) for o in out] == [(18, "high"), (19, "low")]


def test_failure_mixture_keeps_collapsed_runs_out_of_the_tail():
    rng = np.random.default_rng(9)
    acc = np.r_[rng.normal(0.9, 0.003, 57), [0.1, 0.1, 0.12]]
    df = pd.DataFrame({"acc": acc, "seed": range(60)})
    plain = analyze_lottery(df, "acc", seed="seed", transform="logit",
                            higher_is_better=True).groups[0]
    mix = analyze_lottery(df, "acc", seed="seed", transform="logit", higher_is_better=True,
                          failures=True).groups[0]
    assert plain.tail_class_lower != "light"  # three collapses dominate the lower tail
    assert mix.failures == [57, 58, 59] and mix.failure_share == pytest.approx(0.05)
    lo, hi = mix.failure_share_ci
    assert lo < 0.05 < hi
    assert mix.tail_class_lower != "heavy" and mix.sd < plain.sd / 5


def test_trend_verdicts():
    rng = np.random.default_rng(10)
    sizes = [1e6, 4e6, 1.6e7, 6.4e7]
    rows = [(n, s, 2.0 + (n / 1e6) ** -0.5 * rng.normal()) for n in sizes for s in range(60)]
    df = pd.DataFrame(rows, columns=["n_params", "seed", "loss"])
    res = analyze_lottery(df, "loss", size="n_params", seed="seed", n_boot=100)
    t = res.trend
    # sd ~ size^-0.5 by construction, 60 runs per size: the fitted exponent within 0.2
    assert t["sd"]["shrink"] == pytest.approx(0.5, abs=0.2)
    assert t["verdict"] == "homogenising", t["reason"]
    rows = [(n, s, 2.0 + (n / 1e6) ** 0.5 * rng.normal()) for n in sizes for s in range(60)]
    grow = analyze_lottery(pd.DataFrame(rows, columns=["n_params", "seed", "loss"]), "loss",
                           size="n_params", n_boot=100)
    assert grow.trend["verdict"] == "heterogenising"
    assert "spread grows" in grow.trend["reason"]
    two = analyze_lottery(df[df.n_params < 1e7], "loss", size="n_params", n_boot=50)
    assert two.trend["verdict"] == "undecided" and "at least 3" in two.trend["reason"]


def test_bad_input_is_refused_before_work():
    df = pd.DataFrame({"loss": [1.0, 2.0, 3.0], "seed": [0, 0, 1], "n": [1, 2, 3]})
    with pytest.raises(DataValidationError, match="value column 'acc'"):
        analyze_lottery(df, "acc")
    with pytest.raises(DataValidationError, match="repeat the same seed"):
        analyze_lottery(df, "loss", seed="seed")
    with pytest.raises(DataValidationError, match="row 1 is 'x'"):
        analyze_lottery(pd.DataFrame({"loss": [1.0, "x"]}), "loss")
    with pytest.raises(DataValidationError, match="logit"):
        analyze_lottery(df, "loss", transform="logit")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        res = analyze_lottery(pd.DataFrame({"loss": [1.0, np.nan, 1.2, 1.1]}), "loss")
    assert any(issubclass(x.category, ExcludedRowsWarning) and "rows [1]" in str(x.message)
               for x in w)
    assert res.groups[0].n_runs == 3 and res.settings["n_excluded"] == 1


def test_real_small_sweep_one_collapsed_run(tmp_path, capsys):
    """Ten seeds of a width-4 student trained by the engine; seed 1 collapses to a
    constant output (all ReLUs dead): the CLI flags it and calls no tail."""
    from scalelaw.cli import main
    from teacher_student.sweep import SweepConfig, final_metrics, run_sweep

    cfg = SweepConfig.from_dict({
        "task": "bahri-d4", "widths": [4], "depths": [2], "n_train": [256],
        "seeds": list(range(10)), "data_seeds": [0], "steps": 1500, "lr": 0.03,
        "batch_size": 0, "n_test": 2000, "eval_steps": 3})
    run_sweep(cfg, tmp_path / "sweep", device="cpu", progress=False, threads=1)
    table = final_metrics(tmp_path / "sweep")
    table.to_csv(tmp_path / "runs.csv", index=False)
    collapsed = table.test_loss.idxmax()
    assert table.test_loss.max() > 4 * table.test_loss.median()  # a real collapse
    out = tmp_path / "lottery.json"
    assert main(["lottery", str(tmp_path / "runs.csv"), "--value", "test_loss", "--size",
                 "n_params", "--seed", "seed", "--transform", "log", "--json", str(out),
                 "--plot", str(tmp_path / "lottery.png")]) == 0
    res = json.loads(out.read_text())
    (g,) = res["groups"]
    assert g["n_runs"] == 10
    assert g["tail_class_upper"] == "undecided" and g["tail_class_lower"] == "undecided"
    assert [o["row"] for o in g["outliers"]] == [int(collapsed)]
    assert g["outliers"][0]["side"] == "high"
    assert g["outliers"][0]["value"] == pytest.approx(table.test_loss.max())
    assert set(g["best_of_k"]) >= {"1", "2", "5", "10"}
    assert (tmp_path / "lottery.png").stat().st_size > 1000
    assert "undecided" in capsys.readouterr().out


def test_non_finite_runs_count_as_failures_under_the_mixture():
    df = pd.DataFrame({"loss": [1.0, 1.1, np.inf, 0.9, np.nan, 1.05]})
    g = analyze_lottery(df, "loss", failures=True, n_boot=20).groups[0]
    # both non-finite runs are failures with their rows; the bulk holds the other four
    assert g.n_runs == 6 and g.failures == [2, 4]
    assert g.failure_share == pytest.approx(2 / 6) and len(g.values) == 4


def _expected_best_logit_normal(mu: float, s: float, k: int) -> float:
    """E[max of k accuracies] when logit(accuracy) ~ N(mu, s^2), by quadrature."""
    from scipy import integrate, special

    def f(z: float) -> float:
        return special.expit(mu + s * z) * k * stats.norm.pdf(z) * stats.norm.cdf(z) ** (k - 1)

    return integrate.quad(f, -12, 12, epsabs=1e-12)[0]


def test_best_of_k_is_on_the_metrics_own_scale():
    """With transform="logit" the expected best of k runs is an accuracy: the known
    answer for logit-normal accuracies, not the best of the logits."""
    rng = np.random.default_rng(11)
    mu, s = 2.2, 0.3
    acc = stats.logistic.cdf(mu + s * rng.normal(size=4000))
    res = analyze_lottery(pd.DataFrame({"acc": acc}), "acc", transform="logit",
                          higher_is_better=True, n_boot=20)
    g = res.groups[0]
    for k in (10, 100):
        exact = _expected_best_logit_normal(mu, s, k)
        # U-statistic over 4000 runs: sd about 0.3 x 0.09 x 0.3 / sqrt(40) < 4e-4 on the
        # accuracy scale at k = 100; 2e-3 is > 5 sd (a logit would be off by ~2)
        assert g.best_of_k[k] == pytest.approx(exact, abs=2e-3), k
    assert res.settings["best_of_k_scale"] == "metric"
    # beyond the runs: a GPD tail on the logit scale, mapped back (normal tails read a
    # slightly negative xi at this n: within 1e-2 of the exact 0.9596 at k = 10,000)
    small = analyze_lottery(pd.DataFrame({"acc": acc[:400]}), "acc", transform="logit",
                            higher_is_better=True, n_boot=20).groups[0]
    assert small.best_of_k_extrapolated[1000] == pytest.approx(
        _expected_best_logit_normal(mu, s, 1000), abs=1e-2)
    assert 0 < small.best_of_k_extrapolated[1000] < 1
    # a loss on the log scale: the best is the smallest, and stays a loss
    loss = np.exp(0.1 * rng.normal(size=500))
    lg = analyze_lottery(pd.DataFrame({"loss": loss}), "loss", transform="log",
                         n_boot=20).groups[0]
    assert lg.best_of_k[1] == pytest.approx(loss.mean(), rel=1e-12)
    assert lg.best_of_k[100] < lg.best_of_k[10] < 1.0 < lg.best_of_k_plugin[1] * 1.01
    assert 0 < lg.best_of_k_extrapolated[1000] < lg.best_of_k[100]
    assert inverse_transform(transform_metric([0.3], "log"), "log")[0] == pytest.approx(0.3)


def test_lottery_settings_renamed_and_checked():
    rng = np.random.default_rng(12)
    df = pd.DataFrame({"loss": rng.normal(1, 0.1, 40)})
    gen = analyze_lottery(df, "loss", n_boot=20, random_state=np.random.default_rng(3))
    seed = analyze_lottery(df, "loss", n_boot=20, random_state=3)
    assert gen.groups[0].xi_upper_ci == seed.groups[0].xi_upper_ci
    res = analyze_lottery(df, "loss", n_boot=20, false_flag_rate=0.2)
    assert res.settings["false_flag_rate"] == 0.2 and "xi_coverage" in res.settings
    with pytest.raises(TypeError):
        analyze_lottery(df, "loss", alpha=0.05)  # the old name is gone
    for kwargs, match in (({"n_test": 0}, "n_test"), ({"n_boot": 5}, "n_boot"),
                          ({"false_flag_rate": 0.0}, "false_flag_rate"),
                          ({"transform": "sqrt"}, "transform"), ({"level": 95}, "level"),
                          ({"random_state": -1}, "random_state")):
        with pytest.raises(DataValidationError, match=match):
            analyze_lottery(df, "loss", **({"n_boot": 20} | kwargs))


def test_lottery_refuses_negative_sizes_and_huge_values():
    df = pd.DataFrame({"loss": np.linspace(1, 2, 40), "n": [-5] * 20 + [10] * 20})
    with pytest.raises(DataValidationError, match=r"n: rows 0, 1, .* size -5") as e:
        analyze_lottery(df, "loss", size="n")
    assert e.value.column == "n" and e.value.rows[:2] == [0, 1]
    huge = df.assign(n=10, loss=np.r_[1e308, np.ones(39)])
    with pytest.raises(DataValidationError, match=r"loss: row 0 is 1e\+308") as e:
        analyze_lottery(huge, "loss")
    assert e.value.column == "loss"


def test_plot_tail_index_shows_both_estimators_and_the_margins():
    import matplotlib

    matplotlib.use("Agg")
    from scalelaw.lottery import BOUNDED_MAX_XI, LIGHT_MAX_XI
    from scalelaw.plotting import plot_tail_index

    rng = np.random.default_rng(13)
    df = pd.DataFrame({"loss": rng.normal(1, 0.1, 120), "n": [10] * 60 + [100] * 60})
    res = analyze_lottery(df, "loss", size="n", n_boot=20)
    ax = plot_tail_index(res).axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"upper tail, moment", "upper tail, GPD", "lower tail, moment",
            "lower tail, GPD"} <= set(labels)
    levels = {line.get_ydata()[0] for line in ax.get_lines() if len(line.get_ydata()) == 2}
    assert {0.0, LIGHT_MAX_XI, BOUNDED_MAX_XI} <= levels
