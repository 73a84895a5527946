"""Theory checks: the verdict object, interval methods, and what a check carries from its fit."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from scalelaw.exceptions import DataValidationError, ExcludedRowsWarning
from scalelaw.theory import (
    DimensionEstimate,
    check_scaling,
    fit_exponent,
    with_dimension,
)


def _table(alpha: float = 1.0, *, seeds: int = 5, noise: float = 0.03, seed: int = 0,
           sizes=None, slope_sd: float = 0.0) -> pd.DataFrame:
    """P >> D data scaling, ``seeds`` replicates shared across sizes."""
    rng = np.random.default_rng(seed)
    sizes = 2.0 ** np.arange(5, 12) if sizes is None else sizes
    D = np.tile(sizes, seeds)
    rep = np.repeat(np.arange(seeds), len(sizes))
    own = slope_sd * rng.standard_normal(seeds)[rep]
    loss = 3 * D ** -(alpha + own) * np.exp(noise * rng.standard_normal(D.size))
    return pd.DataFrame({"n_train": D, "n_params": 4e4, "test_loss": loss, "seed": rep})


def test_verdict_objects_are_typed_and_serialise():
    c = check_scaling(_table(), "n_train", "test_loss", dimension=4)[0]
    bound = c.question("bound")
    assert bound.kind == "bound" and bound.tolerance == 0.2 and bound.prediction == 1.0
    assert "4/alpha at most 1.2 d" in bound.question and bound.verdict == c.verdict
    assert bound.interval[0] <= bound.estimate <= bound.interval[1]
    d = c.to_dict()
    text = json.dumps(d)  # plain JSON types throughout
    assert "Infinity" not in text and "NaN" not in text
    assert d["questions"][0]["band"] == [None, 1.2]  # a bound: no lower end
    assert d["fit"]["ci_method"].startswith("cluster-robust")
    crossover = check_scaling(_table().assign(n_params=300.0), "n_train", "test_loss",
                              dimension=4)[0]
    assert crossover.regime == "crossover" and json.dumps(crossover.to_dict())


def test_tolerance_is_checked_before_any_work():
    t = _table()
    for bad in (0, 1, -0.2, 1.5, "x"):
        with pytest.raises(DataValidationError, match="'tolerance'") as err:
            check_scaling(t, "n_train", "test_loss", dimension=4, tolerance=bad)
        assert err.value.column == "tolerance"
    c = check_scaling(t, "n_train", "test_loss", dimension=4, tolerance=0.05)[0]
    assert c.question("estimate").band == (0.95, 1.05) and c.tolerance == 0.05
    with pytest.raises(DataValidationError, match="model"):
        check_scaling(t, "n_train", "test_loss", model="kernel")
    with pytest.raises(DataValidationError, match="interval"):
        check_scaling(t, "n_train", "test_loss", interval="wald")


def test_with_dimension_keeps_the_fits_convergence_and_level():
    c = check_scaling(_table(0.5), "n_train", "test_loss", dimension=8, level=0.9)[0]
    assert c.verdict == "consistent" and c.fit.level == 0.9
    again = with_dimension(c, 2)
    assert again.fit is c.fit and again.fit.level == 0.9 and again.verdict == "inconsistent"
    assert again.alpha_ci == c.alpha_ci and again.dimension == 2
    # an inconclusive check from a fit that did not converge stays inconclusive
    failed = replace(c, fit=replace(c.fit, converged=False))
    for d in (2, 8, 100):
        w = with_dimension(failed, d)
        assert w.verdict == "inconclusive" and "did not converge" in w.reason
        assert all(q.verdict == "inconclusive" for q in w.questions)
    w = with_dimension(c, DimensionEstimate(8.0, (7.0, 9.0), source="representation"),
                       tolerance=0.1)
    assert w.tolerance == 0.1 and w.dimension_estimate.source == "representation"
    with pytest.raises(DataValidationError, match="resolution-limited"):
        with_dimension(replace(c, fit=None), 4)


def test_width_axis_decides_the_regime_from_n_params_over_d():
    # widths 16..64 of a 2-layer net: P = w^2 + 23 w + 1; D = 100, so P/D = 0.93 .. 56
    rows = []
    for w in (16, 24, 32, 48, 64):
        p = w * w + 23 * w + 1
        for s in range(3):
            rows.append({"width": w, "n_params": p, "n_train": 100, "seed": s,
                         "test_loss": 0.1 + 1.0 / w})
    t = pd.DataFrame(rows)
    c = var = check_scaling(t, "width", "test_loss")[0]
    # P/D from 6.25 to 55.7 spans the crossover, labelled P/D with P's values (width / D
    # would read 0.16 .. 0.64); its 4 sizes with P >= 10 D are variance-limited in width
    assert c.regime == "variance" and "spans the crossover (P/D from 6.25 to 55.7" in \
        c.regime_reason
    assert c.window == (24.0, 64.0) and "P/D from 11.3" in c.regime_reason
    c = check_scaling(t[t.width <= 32], "width", "test_loss")[0]
    assert c.regime == "crossover" and c.verdict == "inconclusive"
    # the finite-sample factor is defined against D or P, not width
    assert var.fit.alpha_corrected is None and "not 'width'" in var.fit.correction_reason
    no_p = t.drop(columns="n_params")
    c = check_scaling(no_p, "width", "test_loss")[0]
    assert c.regime == "unknown" and "'n_params'" in c.reason


def test_bootstrap_failures_and_diagnostics_are_carried_into_the_check():
    t = _table(seeds=10)
    # the largest size has 3 of the 10 seeds: a resample of seeds misses all three with
    # probability 0.7^10 = 2.8 %; those draws fail and are counted, not dropped
    t = t[(t.n_train < 2048) | (t.seed < 3)]
    c = check_scaling(t, "n_train", "test_loss", dimension=4, interval="bootstrap",
                      n_boot=1000, random_state=1)[0]
    f = c.fit
    assert f.n_boot == 1000 and 10 <= f.n_boot_failed <= 50
    assert np.isfinite(c.alpha_ci).all() and c.to_dict()["n_boot_failed"] == f.n_boot_failed
    assert any("bootstrap draws failed" in n for n in f.notes)
    # one seed at the largest size: 0.9^10 = 35 % of the draws fail, above the 10 % the
    # interval tolerates: no interval, an inconclusive check that says why
    t1 = t[(t.n_train < 2048) | (t.seed < 1)]
    c = check_scaling(t1, "n_train", "test_loss", dimension=4, interval="bootstrap",
                      n_boot=1000, random_state=1)[0]
    assert c.verdict == "inconclusive" and "bootstrap draws failed" in c.reason
    assert c.fit.n_boot_failed > 250
    # the same with a fitted L_inf (the floor fit of a resample that misses a size fails)
    rng = np.random.default_rng(2)
    d = np.tile(1000 * 2.0 ** np.arange(6), 10)
    v = pd.DataFrame({"n_train": d, "n_params": 10.0, "seed": np.repeat(np.arange(10), 6),
                      "test_loss": (1 + 4000 / d) * np.exp(0.02 * rng.standard_normal(60))})
    v = v[(v.n_train < 32000) | (v.seed < 3)]
    c = check_scaling(v, "n_train", "test_loss", interval="bootstrap", n_boot=500,
                      random_state=0)[0]
    assert c.regime == "variance" and 3 <= c.fit.n_boot_failed <= 30
    assert c.alpha_ci[0] < 1.0 < c.alpha_ci[1]
    # invalid runs are refused (column and rows named), or excluded and counted on request
    bad = _table().copy()
    bad.loc[[0, 7], "test_loss"] = [np.nan, np.inf]
    with pytest.raises(DataValidationError, match=r"'test_loss' has 1 row \(index 0") as err:
        check_scaling(bad, "n_train", "test_loss", dimension=4)
    assert err.value.column == "test_loss" and err.value.rows == [0]
    with pytest.warns(ExcludedRowsWarning, match="Excluded 2 of"):
        c = check_scaling(bad, "n_train", "test_loss", dimension=4, drop_invalid=True)[0]
    assert any("missing (NaN) (1)" in n and "infinite (1)" in n for n in c.fit.notes)


def test_interval_methods():
    t = _table(seeds=5)
    auto = fit_exponent(t, "n_train", "test_loss", regime="resolution")
    clus = fit_exponent(t, "n_train", "test_loss", regime="resolution", interval="cluster")
    tint = fit_exponent(t, "n_train", "test_loss", regime="resolution", interval="t")
    assert auto.ci == clus.ci and "4 degrees of freedom" in clus.ci_method
    assert tint.ci != clus.ci and "5 degrees of freedom" in tint.ci_method
    # without replicate identities: the t interval, with a note saying so
    anon = fit_exponent(t.drop(columns="seed"), "n_train", "test_loss", regime="resolution")
    assert anon.ci == pytest.approx(tint.ci) and any("independent" in n for n in anon.notes)
    with pytest.raises(DataValidationError, match="replicates") as err:
        fit_exponent(t.drop(columns="seed"), "n_train", "test_loss", regime="resolution",
                     interval="cluster")
    assert err.value.column == "interval"
    # a replicate's own slope (sd 0.05): the cluster interval widens to cover it
    own = _table(seeds=6, slope_sd=0.05, seed=3)
    w_c = np.ptp(fit_exponent(own, "n_train", "test_loss", regime="resolution").ci)
    w_t = np.ptp(fit_exponent(own, "n_train", "test_loss", regime="resolution",
                              interval="t").ci)
    assert w_c > 2 * w_t


def test_l_inf_is_paired_per_run():
    # each run has its own limit (the linearised network from its initialisation),
    # scattered by a factor of 2 between runs; the excess is exactly 0.2 (D / 1000)^-1
    rng = np.random.default_rng(5)
    D = np.tile(1000 * 2.0 ** np.arange(6), 4)
    lim = 0.5 * np.exp(0.7 * rng.standard_normal(D.size))
    t = pd.DataFrame({"n_train": D, "n_params": 50.0, "test_loss": lim + 0.2 * 1000 / D,
                      "l_inf": lim, "seed": np.repeat(np.arange(4), 6)})
    c = check_scaling(t, "n_train", "test_loss", l_inf="l_inf")[0]
    assert c.regime == "variance" and c.fit.l_inf_source == "given"
    assert c.alpha == pytest.approx(1.0, abs=1e-9)  # exact: the pairs cancel the scatter
    assert c.fit.points[1] == pytest.approx(0.2 * 1000 / np.unique(D))
    # averaging the loss and the limit separately (geometric mean of the loss less the
    # mean limit) reads a different, wrong exponent on the same table
    g = t.groupby("n_train")
    unpaired = np.exp(g.test_loss.apply(lambda v: np.log(v).mean())) - g.l_inf.mean()
    u = np.log(unpaired.index.to_numpy())
    slope = np.polyfit(u, np.log(np.maximum(unpaired.to_numpy(), 1e-9)), 1)[0]
    assert abs(-slope - 1.0) > 0.1
