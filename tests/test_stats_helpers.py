"""Shared statistics helpers: the bootstrap's NaN policy, per-size means, equivalence verdicts."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from scalelaw.exceptions import DataValidationError
from scalelaw.stats import (
    aggregate_by_size,
    bootstrap_counts,
    equivalence_codes,
    equivalence_verdict,
    percentile_bootstrap,
    percentile_interval,
    percentile_intervals,
    size_means,
)


# ------------------------------------------------------------------ bootstrap
def test_bootstrap_counts_resample_with_replacement_within_strata():
    c = bootstrap_counts(6, 500, strata=np.array([0, 0, 0, 1, 1, 2]), random_state=1)
    assert c.shape == (500, 6) and c.dtype.kind == "i"
    # every stratum keeps its size in every draw; a one-unit stratum is always itself
    assert (c[:, :3].sum(1) == 3).all() and (c[:, 3:5].sum(1) == 2).all()
    assert (c[:, 5] == 1).all()
    # each unit of a 3-unit stratum is drawn 3 x 1/3 = 1 time on average (500 draws:
    # the mean's standard error is about 0.04)
    assert c[:, :3].mean(0) == pytest.approx([1, 1, 1], abs=0.15)
    with pytest.raises(DataValidationError, match="strata"):
        bootstrap_counts(3, 10, strata=np.array([0, 1]))


def test_failed_draws_are_counted_not_dropped():
    x = np.arange(20.0)

    def fragile(counts: np.ndarray) -> float:
        if counts[0] == 0:  # about (19/20)^20 = 36 % of draws leave unit 0 out
            raise ZeroDivisionError
        return float(np.average(x, weights=counts))

    res = percentile_bootstrap(fragile, x.size, n_boot=400, random_state=0,
                               max_failed_fraction=0.5)
    assert res.n_boot == 400 and 0.25 * 400 < res.n_failed < 0.47 * 400
    assert np.isnan(res.draws).sum() == res.n_failed  # kept as NaN, never dropped
    assert np.isfinite(res.ci).all() and res.estimate == pytest.approx(9.5)
    # the same failures above the default 10 % leave no interval, and say how many failed
    strict = percentile_bootstrap(fragile, x.size, n_boot=400, random_state=0)
    assert strict.n_failed == res.n_failed and np.isnan(strict.ci).all()
    assert json.dumps(strict.to_dict())  # NaN ends become null
    # a statistic that returns a non-finite value fails the same way
    inf = percentile_bootstrap(lambda c: np.inf if c[0] == 0 else 1.0, x.size, n_boot=100,
                               random_state=0, max_failed_fraction=0.9)
    assert inf.n_failed > 0 and np.isnan(inf.draws).sum() == inf.n_failed


def test_vectorised_and_looped_bootstraps_agree_and_cover():
    rng = np.random.default_rng(3)
    x = rng.normal(size=40)
    loop = percentile_bootstrap(lambda c: np.average(x, weights=c), x.size, n_boot=300,
                                random_state=7)
    vec = percentile_bootstrap(lambda c: (c @ x) / c.sum(axis=-1), x.size, n_boot=300,
                               random_state=7, vectorized=True)
    np.testing.assert_allclose(loop.draws, vec.draws, rtol=1e-12)
    assert loop.ci == pytest.approx(vec.ci)
    # the percentile interval of a mean of 40 normal draws covers the truth about 93-95 %
    # of the time; 300 samples: the binomial standard error is 1.3 %, so 0.89 is 3-4 sd low
    samples = rng.normal(size=(300, 40))
    hits = 0
    for s in samples:
        r = percentile_bootstrap(lambda c, s=s: (c @ s) / c.sum(axis=-1), 40, n_boot=400,
                                 random_state=0, vectorized=True)
        hits += r.ci[0] <= 0.0 <= r.ci[1]
    assert hits / 300 > 0.89


def test_percentile_interval_policy():
    (lo, hi), n_failed = percentile_interval([1.0, 2.0, 3.0, np.nan], 0.5,
                                             max_failed_fraction=0.25)
    assert (lo, hi, n_failed) == (1.5, 2.5, 1)
    (lo, hi), n_failed = percentile_interval([1.0, 2.0, np.nan, np.nan], 0.5)
    assert np.isnan(lo) and np.isnan(hi) and n_failed == 2


def test_percentile_intervals_values_column_by_column():
    rng = np.random.default_rng(5)
    d = rng.normal(size=(200, 4)) * [1.0, 10.0, 0.1, 3.0]
    lo, hi, n_failed = percentile_intervals(d, 0.9)
    lo5, hi5, _ = percentile_intervals(np.arange(1.0, 6.0)[:, None], 0.5)
    # exactly numpy's linear-interpolation quantiles at (1 - level) / 2 and 1 - that
    a = (1 - 0.9) / 2
    assert np.array_equal(lo, [np.quantile(d[:, j], a) for j in range(4)])
    assert np.array_equal(hi, [np.quantile(d[:, j], 1 - a) for j in range(4)])
    assert lo == pytest.approx(np.percentile(d, 5, axis=0))
    assert n_failed.tolist() == [0, 0, 0, 0]
    # hand-checked: draws 1..5, 50 % interval = 25th and 75th percentiles = 2 and 4
    assert (lo5.tolist(), hi5.tolist()) == ([2.0], [4.0])
    # the draws may lie along another axis; 1-D draws give 0-d ends equal to the 1-D helper
    lo_t, hi_t, _ = percentile_intervals(d.T, 0.9, axis=1)
    assert np.array_equal(lo_t, lo) and np.array_equal(hi_t, hi)
    lo1, hi1, nf1 = percentile_intervals(d[:, 1], 0.9)
    assert lo1.shape == () and ((float(lo1), float(hi1)), int(nf1)) == percentile_interval(
        d[:, 1], 0.9)


def test_percentile_intervals_nan_policy_per_column():
    d = np.tile(np.arange(10.0)[:, None], (1, 4))
    d[:1, 1] = np.nan     # 10 % failed: tolerated by the default
    d[:2, 2] = np.nan     # 20 % failed: beyond the default 10 %
    d[:, 3] = np.inf      # every draw failed
    d[0, 3] = 1.0         # ... but one: one successful draw is no interval
    lo, hi, n_failed = percentile_intervals(d, 0.5)
    assert n_failed.tolist() == [0, 1, 2, 9]
    assert (lo[0], hi[0]) == (2.25, 6.75)                # quantiles of 0..9
    assert (lo[1], hi[1]) == (3.0, 7.0)                  # of 1..9: the failed draw left out
    assert np.isnan([lo[2], hi[2], lo[3], hi[3]]).all()
    lo, hi, _ = percentile_intervals(d, 0.5, max_failed_fraction=0.2)
    assert (lo[2], hi[2]) == (3.75, 7.25)                # of 2..9
    # 1.0 tolerates any number of failures (numpy.nanquantile); 0.0 none (numpy.quantile)
    lo, _, _ = percentile_intervals(d, 0.5, max_failed_fraction=1.0)
    assert np.isfinite(lo[:3]).all() and np.isnan(lo[3])  # one draw is still no interval
    lo, _, _ = percentile_intervals(d[:, :3], 0.5, max_failed_fraction=0.0)
    assert np.isfinite(lo[0]) and np.isnan(lo[1:]).all()
    # with keep_infinite an infinite draw is a value (it sorts last) and NaN still fails
    x = np.array([1.0, 2.0, 3.0, np.inf, np.nan])
    lo, hi, nf = percentile_intervals(x, 0.5, max_failed_fraction=0.5, keep_infinite=True)
    assert (float(lo), float(hi), int(nf)) == (1.75, np.inf, 1)
    with np.errstate(invalid="ignore"):
        ref = np.nanquantile(x, [0.25, 0.75])
    assert np.array_equal([lo, hi], ref)
    lo, hi, nf = percentile_intervals(x, 0.5, max_failed_fraction=0.5)
    assert (float(lo), float(hi), int(nf)) == (1.5, 2.5, 2)
    # no draws at all: no interval
    lo, hi, nf = percentile_intervals(np.empty((0, 2)), 0.9)
    assert np.isnan(lo).all() and np.isnan(hi).all() and nf.tolist() == [0, 0]


def test_percentile_intervals_rejects_bad_settings():
    with pytest.raises(DataValidationError, match="max_failed_fraction"):
        percentile_intervals(np.ones((5, 2)), 0.9, max_failed_fraction=1.5)
    with pytest.raises(DataValidationError, match="level"):
        percentile_intervals(np.ones((5, 2)), 1.0)


# ------------------------------------------------------------------ per-size means
def test_size_means_geometric_arithmetic_and_weighted_draws():
    codes = np.array([0, 0, 1, 1, 1])
    vals = np.array([1.0, 4.0, 2.0, 2.0, 8.0])
    assert size_means(codes, vals, 2) == pytest.approx([2.0, 32.0 ** (1 / 3)])
    assert size_means(codes, vals, 2, how="arithmetic") == pytest.approx([2.5, 4.0])
    w = np.array([[1, 0, 1, 1, 1], [0, 0, 3, 0, 0]])
    out = size_means(codes, vals, 2, weights=w, how="arithmetic")
    assert out[0] == pytest.approx([1.0, 4.0]) and np.isnan(out[1, 0]) and out[1, 1] == 2.0
    with pytest.raises(DataValidationError, match="how"):
        size_means(codes, vals, 2, how="median")


def test_aggregate_by_size_counts_what_it_excludes():
    df = pd.DataFrame({"n": [10, 10, 20, 20, 40, np.nan],
                       "loss": [1.0, 4.0, 0.5, -1.0, np.inf, 1.0],
                       "excess": [-0.5, 0.5, 1.0, 1.0, 1.0, 1.0]})
    out = aggregate_by_size(df, "n", {"loss": "geometric", "excess": "arithmetic"})
    assert out["n"].tolist() == [10.0, 20.0]
    assert out["loss"].tolist() == pytest.approx([2.0, 0.5])
    assert out["excess"].tolist() == pytest.approx([0.0, 1.0])  # negative values allowed
    assert out["n_runs"].tolist() == [2, 1]
    assert out.attrs["n_dropped"] == 3 and out.attrs["dropped_rows"] == [3, 4, 5]
    with pytest.raises(DataValidationError, match="'nope'"):
        aggregate_by_size(df, "n", {"nope": "geometric"})


# ------------------------------------------------------------------ equivalence
@pytest.mark.parametrize(("interval", "band", "verdict", "end"), [
    ((0.96, 1.04), (0.85, 1.15), "consistent", None),
    ((0.70, 1.02), (0.85, 1.15), "inconclusive", "lower"),
    ((1.10, 1.30), (0.85, 1.15), "inconclusive", "upper"),
    ((0.50, 1.60), (0.85, 1.15), "inconclusive", "both"),
    ((1.20, 1.60), (0.85, 1.15), "inconsistent", None),
    ((0.20, 0.80), (0.85, 1.15), "inconsistent", None),
    ((0.50, 1.10), (-np.inf, 1.2), "consistent", None),  # a bound: only its upper end
    ((1.10, 1.30), (-np.inf, 1.2), "inconclusive", "upper"),
    ((1.30, np.inf), (-np.inf, 1.2), "inconsistent", None),
    ((np.nan, np.nan), (0.85, 1.15), "inconclusive", "both"),
])
def test_equivalence_verdicts(interval, band, verdict, end):
    r = equivalence_verdict(interval, band)
    assert (r.verdict, r.uncertain_end) == (verdict, end)
    code = equivalence_codes(interval[0], interval[1], band[0], band[1])
    assert {1: "consistent", 0: "inconclusive", -1: "inconsistent"}[int(code)] == verdict
    assert json.dumps(r.to_dict())


def test_equivalence_rejects_a_reversed_band():
    with pytest.raises(DataValidationError, match="band"):
        equivalence_verdict((0.9, 1.1), (1.2, 0.8))
