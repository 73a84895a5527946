"""Bounded-metric laws, the two-step chain and shared-slope fits (issue: downstream
metrics), on synthetic data and on the observational-scaling-laws table."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scalelaw as sl
from scalelaw.downstream import fit_chain, fit_shared_slope
from scalelaw.exceptions import ExtrapolationWarning
from scalelaw.laws import get_law

OBS = Path(__file__).parent / "data" / "obs_scaling_base_llm_eval.csv"


def test_sigmoid_log_and_logit_linear_recover_their_parameters():
    rng = np.random.default_rng(0)
    c = np.logspace(-1, 4, 40)
    truth = {"floor": 0.25, "ceiling": 0.9, "slope": 1.2, "x_mid": 50.0}
    law = get_law("sigmoid_log")
    acc = law(truth, x=c) * np.exp(rng.normal(0, 0.01, c.size))
    res = sl.fit("sigmoid_log:floor=0.25", pd.DataFrame({"c": c, "acc": acc}), x="c", y="acc",
                 objective="mse_log")
    ci = res.conf_int(0.99, method="wald")
    for p in ("ceiling", "slope", "x_mid"):  # 1 % noise, 40 points: 99 % Wald intervals
        assert ci.loc[p, "lower"] <= truth[p] <= ci.loc[p, "upper"], p
    assert res.params["floor"] == 0.25  # fixed chance level
    # an error rate falls: a negative slope on the same law
    err = 1 - law(truth, x=c)
    fall = sl.fit("sigmoid_log", pd.DataFrame({"c": c, "err": err}), x="c", y="err",
                  objective="mse_log")
    assert fall.params["slope"] < 0 and np.allclose(fall.predict(c=c), err, rtol=1e-4)
    s = np.linspace(-2.0, 3.0, 30)  # a score of any sign
    lt = {"floor": 0.25, "ceiling": 1.0, "a": 1.0, "b": -2.0}
    y = get_law("logit_linear")(lt, s=s)
    fit = sl.fit("logit_linear:floor=0.25,ceiling=1.0", pd.DataFrame({"s": s, "y": y}),
                 x="s", y="y", objective="mse_log")
    assert fit.params["a"] == pytest.approx(1.0, rel=1e-5)
    assert fit.params["b"] == pytest.approx(-2.0, rel=1e-5)


def _chain_data(rng, n_noise=0.01, a_noise=0.01):
    N = np.repeat(np.logspace(7, 9, 5), 4)
    D = np.tile(np.logspace(9, 11, 4), 5)
    loss = 1.7 + 400 * N ** -0.34 + 410 * D ** -0.28
    acc = 0.25 + 0.7 / (1 + np.exp(-(9.0 - 3.5 * loss)))
    return pd.DataFrame({"n_params": N, "n_tokens": D,
                         "loss": loss * np.exp(rng.normal(0, n_noise, N.size)),
                         "acc": acc * np.exp(rng.normal(0, a_noise, N.size))})


def test_chain_propagates_both_steps_and_covers_new_runs():
    rng = np.random.default_rng(1)
    ch = fit_chain(_chain_data(rng), first_law="chinchilla", x=["n_params", "n_tokens"],
                   intermediate="loss", second_law="logit_linear:floor=0.25",
                   objective="mse_log", starts=50, calibrate=False)
    at = {"n_params": np.array([3e9]), "n_tokens": np.array([3e11])}
    with pytest.warns(ExtrapolationWarning, match="not calibrated"):  # beyond the data
        tab = ch.get_prediction(0.9, **at)
    loss_true = 1.7 + 400 * 3e9 ** -0.34 + 410 * 3e11 ** -0.28
    acc_true = 0.25 + 0.7 / (1 + np.exp(-(9.0 - 3.5 * loss_true)))
    assert tab["mean"][0] == pytest.approx(ch.second.predict(loss=ch.first.predict(**at)))
    assert tab.obs_ci_lower[0] <= acc_true <= tab.obs_ci_upper[0]
    # the chain's curve interval is wider than the second step's alone at the same loss:
    # it carries the first step's uncertainty too
    with warnings.catch_warnings():  # the loss there is beyond the second step's data
        warnings.simplefilter("ignore", ExtrapolationWarning)
        own = ch.second.get_prediction(0.9, loss=tab.intermediate.to_numpy())
    assert (tab.mean_ci_upper - tab.mean_ci_lower)[0] > (own.mean_ci_upper
                                                         - own.mean_ci_lower)[0]
    # coverage over repeated designs with known truth: tests/test_chains.py


@pytest.fixture(scope="module")
def obs():
    d = pd.read_csv(OBS).rename(columns={"FLOPs (1E21)": "flops", "Model Family": "family"})
    return d.dropna(subset=["flops", "MMLU"])


def test_observational_compute_to_mmlu_pooled_per_family_and_shared(obs):
    pooled = sl.fit("sigmoid_log:floor=0.25", obs, x="flops", y="MMLU")
    assert pooled.conf_int().loc["slope", "lower"] > 0  # MMLU rises with compute, clearly
    # one fit per family where a family spans the rise (Qwen1.5: 0.5B to 110B models)
    qwen = sl.fit("sigmoid_log:floor=0.25", obs[obs.family == "Qwen1.5"], x="flops",
                  y="MMLU")
    assert qwen.params["slope"] > 0
    # shared slope, a midpoint per family; out of sample: hold out each family's largest
    # model (families with >= 4), fit the rest, forecast it
    fams = obs.family.value_counts()
    test = (obs[obs.family.isin(fams[fams >= 4].index)].sort_values("flops")
            .groupby("family").tail(1))
    train = obs.drop(test.index)
    shared = fit_shared_slope(train, x="flops", y="MMLU", group="family", floor=0.25,
                              min_rows=3)
    base = sl.fit("sigmoid_log:floor=0.25", train, x="flops", y="MMLU")
    groups = {g: k for k, g in shared.settings["groups"].items()}
    err_shared, err_pooled = [], []
    for r in test.itertuples():
        if r.family not in groups:
            continue
        cols = {"flops": [r.flops]}
        for k, g in shared.settings["groups"].items():
            cols["g" + k.split("_")[1]] = [1.0 if g == r.family else 0.0]
        err_shared.append(abs(shared.predict(**cols)[0] - r.MMLU))
        err_pooled.append(abs(base.predict(flops=[r.flops])[0] - r.MMLU))
    # measured: mean absolute error 0.055 (shared) against 0.100 (pooled) on 13 families;
    # the family offsets must help out of sample by at least a quarter
    assert len(err_shared) >= 10
    assert np.mean(err_shared) < 0.75 * np.mean(err_pooled)
    assert shared.params["slope"] > 0 and "Qwen1.5" in groups
    # families with fewer rows are counted, never dropped silently
    assert sum(shared.settings["groups_excluded"].values()) == (
        train.family.map(train.family.value_counts()) < 3).sum()


def test_downstream_errors_name_what_is_missing():
    df = pd.DataFrame({"c": [1.0, 10.0, 100.0], "loss": [3.0, 2.5, 2.2]})
    with pytest.raises(sl.DataValidationError, match="'acc' is not in second_data"):
        fit_chain(df, first_law="power", x="c", intermediate="loss", second_law="logit_linear",
                  y="acc")
    one = pd.DataFrame({"flops": [1.0, 10.0, 100.0], "MMLU": [0.3, 0.4, 0.5],
                        "family": ["a", "a", "b"]})
    with pytest.raises(sl.DataValidationError, match="at least 2 groups"):
        fit_shared_slope(one, x="flops", y="MMLU", group="family")
