"""Calibrated intervals for the intrinsic dimension: the construction, the stored table, coverage.

The coverage rates and the table come from ``bench/intrinsic_dim_calibration.py``
(``bench/results/intrinsic_dim_calibration.json``); the fast test here checks
coverage on manifolds drawn with generator seeds that neither the calibration
(0-2) nor the bench's out-of-sample groups (100, 101; skdim 0-4) used.
"""

from __future__ import annotations

import json
import warnings
from importlib.util import find_spec
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pytest

from scalelaw.intrinsic_dim import (
    CALIBRATED,
    SAMPLING_ONLY,
    IDResult,
    estimate_intrinsic_dim,
    estimate_intrinsic_dims,
    pool_intrinsic_dims,
)
from scalelaw.intrinsic_dim._calibration import calibrated_interval, calibration_table
from scalelaw.intrinsic_dim.manifolds import FAMILIES, sample_manifold

pytestmark = pytest.mark.skipif(find_spec("skdim") is None, reason="needs scikit-dimension")

BENCH_JSON = Path(__file__).resolve().parents[1] / "bench/results/intrinsic_dim_calibration.json"


def _flat_table(low: float, high: float, spread: float) -> dict:
    d, n = [1, 24], [500, 10000]
    return {"methods": {"twonn": {"settings": {}, "d": d, "n": n,
                                  "bias_low": [[low, low], [low, low]],
                                  "bias_high": [[high, high], [high, high]],
                                  "spread": [[spread, spread], [spread, spread]]}}}


def test_without_bias_the_interval_is_the_normal_interval_of_log_d():
    # no bias, no spread: the set of d with |log(est) - log(d)| <= z s, i.e. est * exp(-+z s)
    z = NormalDist().inv_cdf(0.975)
    c = calibrated_interval("twonn", 5.0, 0.05, 2000, 50, 0.95,
                            table=_flat_table(0.0, 0.0, 0.0))
    assert c.ci[0] == pytest.approx(5 * np.exp(-z * 0.05), rel=2e-3)  # the grid's step
    assert c.ci[1] == pytest.approx(5 * np.exp(z * 0.05), rel=2e-3)
    assert c.corrected == pytest.approx(5.0, rel=2e-3) and c.covers == CALIBRATED


def test_a_known_bias_range_shifts_and_widens_the_interval():
    z = NormalDist().inv_cdf(0.975)
    # the estimator reads 5-15 % low, seeds of one family spread 0.04 beyond sampling
    low, high = np.log(0.85), np.log(0.95)
    c = calibrated_interval("twonn", 9.0, 0.03, 2000, 50, 0.95,
                            table=_flat_table(low, high, 0.04))
    t = z * np.hypot(0.04, 0.03)
    # log(9 / d) in [low - t, high + t]  <=>  d in [9 exp(-high - t), 9 exp(-low + t)]
    assert c.ci[0] == pytest.approx(9 * np.exp(-high - t), rel=2e-3)
    assert c.ci[1] == pytest.approx(9 * np.exp(-low + t), rel=2e-3)
    assert c.corrected == pytest.approx(9 * np.exp(-(low + high) / 2), rel=2e-3)


def test_beyond_the_calibrated_range_the_upper_end_is_the_number_of_features():
    table = _flat_table(np.log(0.85), np.log(0.95), 0.03)
    c = calibrated_interval("twonn", 22.0, 0.02, 2000, 64, 0.95, table=table)
    assert c.ci[1] == 64 and c.ci[0] < 22 / 0.9
    assert any("not calibrated" in note for note in c.notes)
    # the true dimension never exceeds the number of features
    c = calibrated_interval("twonn", 2.9, 0.02, 2000, 3, 0.95, table=table)
    assert c.ci[1] == 3


def test_uncalibrated_settings_say_their_interval_covers_sampling_error_only():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(800, 4)) @ rng.normal(size=(4, 9))
    res = estimate_intrinsic_dims(X, ["mle", "global_pca"], k=10, n_boot=20)
    for r in res.values():  # MLE is calibrated at k = 20 only
        assert r.interval_covers == SAMPLING_ONLY and r.ci == r.sampling_ci
        assert r.dimension_corrected is None
        assert r.to_dict()["interval_covers"] == "sampling error only"
    cal = estimate_intrinsic_dim(X, "mle", n_boot=20)
    assert cal.interval_covers == CALIBRATED and cal.ci != cal.sampling_ci


def test_stored_table_is_the_one_the_bench_fitted_and_reported():
    table = calibration_table()
    assert table is not None and sorted(table["methods"]) == ["mle", "twonn"]
    stored = json.loads(BENCH_JSON.read_text())
    assert stored["table"] == table
    for m, spec in table["methods"].items():
        shape = (len(spec["d"]), len(spec["n"]))
        low, high = np.asarray(spec["bias_low"]), np.asarray(spec["bias_high"])
        spread = np.asarray(spec["spread"])
        assert low.shape == high.shape == spread.shape == shape, m
        assert (low <= high).all() and (spread >= 0).all(), m
    # the coverage the README and bench/RESULTS.md quote is the one stored
    fresh = stored["groups"]["fresh"]
    for m in ("twonn", "mle"):
        assert fresh[m]["overall"]["calibrated"]["rate"] >= 0.95, m


def test_calibrated_intervals_cover_fresh_manifolds():
    # 8 families x d in {2, 5, 9} x 2 generator seeds (1000, 1001, never used by the
    # calibration), 1,000 points, 50 bootstrap replicas: 48 intervals per method.
    # If the true coverage is 0.95, 48 intervals miss 2.4 times on average and 8
    # or more misses (covered < 41/48 = 0.85) has binomial probability 0.3 %;
    # the bench measured 0.9 or more out of sample on these families.
    hits: dict[str, list[bool]] = {"twonn": [], "mle": []}
    sampling: dict[str, list[bool]] = {"twonn": [], "mle": []}
    widths = []
    for fam in FAMILIES:
        for d in (2, 5, 9):
            for g in (1000, 1001):
                X = sample_manifold(fam, d, 1000, generator_seed=g, random_state=7 * g + d)
                res = estimate_intrinsic_dims(X, ["twonn", "mle"], n_boot=50, random_state=g)
                for m, r in res.items():
                    hits[m].append(r.ci[0] <= d <= r.ci[1])
                    sampling[m].append(r.sampling_ci[0] <= d <= r.sampling_ci[1])
                    widths.append((r.ci[1] - r.ci[0]) / d)
    for m in hits:
        assert np.mean(hits[m]) >= 41 / 48, (m, np.mean(hits[m]))
        # the bias matters: the bootstrap interval alone covers clearly less often
        assert np.mean(sampling[m]) < np.mean(hits[m]) - 0.1, (m, np.mean(sampling[m]))
    # and the intervals stay useful: median width under half the dimension
    assert np.median(widths) < 0.5


def test_pooled_models_keep_the_shared_bias():
    rng = np.random.default_rng(3)
    models = []
    for seed in range(3):
        X = sample_manifold("relu_mlp", 6, 1500, generator_seed=seed, random_state=seed)
        models.append(estimate_intrinsic_dim(X, n_boot=30, random_state=seed))
    pooled = pool_intrinsic_dims(models, random_state=rng.integers(100))
    assert pooled.method == "pooled:twonn" and pooled.interval_covers == CALIBRATED
    # the bias does not average out over models: the pooled interval is not
    # narrower than the calibration's spread alone allows
    sigma = np.log(pooled.ci[1] / pooled.ci[0]) / (2 * NormalDist().inv_cdf(0.975))
    assert sigma >= 0.5 * min(np.log(m.ci[1] / m.ci[0]) for m in models) / (
        2 * NormalDist().inv_cdf(0.975))
    assert pooled.ci[0] <= 6 <= pooled.ci[1]
    uncal = pool_intrinsic_dims([IDResult("twonn", v, (v, v), 0.95, 1000, 8, False)
                                 for v in (3.6, 4.4, 3.8, 4.2)])
    assert uncal.interval_covers == SAMPLING_ONLY


@pytest.mark.slow
def test_coverage_out_of_sample_full_grid():
    # The bench's out-of-sample groups with new seeds: every family at d between
    # the grid's values, and scikit-dimension's benchmark manifolds (d <= 10, where
    # the bench measured its coverage), 2,000 points, default settings.
    from scalelaw.intrinsic_dim._skdim import skdim_datasets

    fam_hits: dict[str, list[bool]] = {"twonn": [], "mle": []}
    for fam in FAMILIES:
        for d in (3, 7, 11, 14):
            for g in (2000, 2001, 2002):
                X = sample_manifold(fam, d, 2000, generator_seed=g, random_state=g + d)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # lower-bound warnings at d = 14
                    res = estimate_intrinsic_dims(X, ["twonn", "mle"], random_state=g)
                for m, r in res.items():
                    fam_hits[m].append(r.ci[0] <= d <= r.ci[1])
    bench_hits: dict[str, list[bool]] = {"twonn": [], "mle": []}
    for g in (5, 6, 7):
        bm = skdim_datasets().BenchmarkManifolds(random_state=g)
        truth = bm.truth
        for name in truth.index:
            d = int(truth.loc[name, "Intrinsic Dimension"])
            if d > 10:
                continue
            X = bm.generate(name, n=2000, d=d, dim=int(truth.loc[name, "Number of variables"]))
            res = estimate_intrinsic_dims(X, ["twonn", "mle"], random_state=g)
            for m, r in res.items():
                bench_hits[m].append(r.ci[0] <= d <= r.ci[1])
    # families: 96 intervals per method; at a true 0.95 the binomial standard error is
    # 0.022, and 0.88 is three of them below the bench's out-of-sample rate (>= 0.95)
    for m, h in fam_hits.items():
        assert np.mean(h) >= 0.88, (m, np.mean(h))
    # benchmark manifolds: the rate the bench measured minus 3 binomial standard errors
    for m, h in bench_hits.items():
        assert np.mean(h) >= BENCH_FLOOR[m], (m, np.mean(h))


#: Lowest acceptable out-of-sample coverage on skdim's benchmark manifolds with
#: d <= 10 at 2,000 points (48 intervals: 16 manifolds x 3 seeds): the bench's rate
#: there (TwoNN 0.85, MLE 0.69 over 80 intervals, generator seeds 0-4) minus three
#: binomial standard errors of 48 intervals (0.155 and 0.20). Mbeta and the
#: paraboloids (density changing fast) lie outside the calibrated bias range.
BENCH_FLOOR = {"twonn": 0.70, "mle": 0.49}
