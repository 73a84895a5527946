"""Tail classes and intervals of the extreme-value index, calibrated with known truth.

Fast checks run by default (vectorised: hundreds of samples per check, seconds);
the full grid of ``bench/tail_calibration.py`` runs with ``--runslow``. Every
rate is over independent samples; tolerances are binomial Monte Carlo errors,
``sqrt(p (1 - p) / reps)``, stated beside each assertion. Seeds here differ
from those the rule was chosen on and from the benchmark's.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from scalelaw.exceptions import DataValidationError
from scalelaw.lottery import (
    LIGHT_MAX_XI,
    classify_tail,
    fit_tail,
    fit_tails,
    gpd_tail_index,
    moment_tail_index,
    tail_index,
    tail_size,
)
from scalelaw.stats import fit_gpd, gpd_profile_loglik


# ----------------------------------------------------------------- GPD fitter
def test_fit_gpd_agrees_with_scipy_where_the_mle_exists():
    rng = np.random.default_rng(101)
    rows = [stats.genpareto.rvs(xi, size=60, random_state=rng)
            for xi in (-0.3, 0.0, 0.2, 0.5, 1.0, 2.0, 5.0) for _ in range(3)]
    fit = fit_gpd(np.array(rows), level=None)
    for y, shape, scale, ll in zip(rows, fit.shape, fit.scale, fit.loglik, strict=True):
        c, _, s = stats.genpareto.fit(y, floc=0)
        # both maximise the same likelihood; scipy's optimiser stops at ~1e-4
        assert shape == pytest.approx(c, abs=2e-3)
        assert scale == pytest.approx(s, rel=2e-3)
        # our log-likelihood is scipy's own density at our estimate, and not below scipy's
        assert ll == pytest.approx(stats.genpareto.logpdf(y, shape, 0, scale).sum(), abs=1e-8)
        assert ll >= stats.genpareto.logpdf(y, c, 0, s).sum() - 1e-6


def test_fit_gpd_at_the_unbounded_likelihood_reports_the_boundary():
    # 10 uniform exceedances: xi -> -1 where the likelihood grows without bound below -1;
    # the fitter stops at the boundary (uniform on [0, max]) and flags it
    y = np.random.default_rng(102).uniform(size=(20, 10))
    fit = fit_gpd(y)
    assert np.all(fit.shape >= -1.0)
    assert fit.at_bound.any()
    b = fit.at_bound
    np.testing.assert_allclose(fit.loglik[b], -10 * np.log(y[b].max(axis=1)))
    assert np.all(fit.shape_ci[b, 0] == -1.0)


def test_profile_loglik_matches_a_fixed_shape_fit():
    y = stats.genpareto.rvs(0.3, size=80, random_state=103)
    for xi in (-0.5, 0.0, 0.3, 1.5):
        s = stats.genpareto.fit(y, fc=xi, floc=0)[2] if xi > -0.5 else None
        ll = gpd_profile_loglik(y, xi)[0]
        if s is not None:  # scipy's fixed-shape fit: the same maximum over the scale
            assert ll == pytest.approx(stats.genpareto.logpdf(y, xi, 0, s).sum(), abs=1e-5)
        # a maximum over the scale: no scale on a grid does better
        grid = np.geomspace(0.05, 50, 400) * y.mean()
        best = stats.genpareto.logpdf(y[:, None], xi, 0, grid).sum(axis=0).max()
        assert ll >= best - 1e-6


def test_gpd_profile_intervals_cover_on_gpd_samples():
    rng = np.random.default_rng(104)
    reps, k = 400, 95  # the tail of 1,000 runs
    for xi in (0.0, 0.5):
        y = stats.genpareto.rvs(xi, size=(reps, k), random_state=rng)
        ci = fit_gpd(y).shape_ci
        cover = np.mean((ci[:, 0] <= xi) & (xi <= ci[:, 1]))
        # 95 % intervals over 400 samples: binomial sd 1.1 %; 0.92 is 2.7 sd below,
        # the benchmark measures 0.93-0.96 on 500 samples per cell
        assert 0.92 <= cover <= 0.985, (xi, cover)


def test_fit_gpd_refuses_bad_exceedances():
    with pytest.raises(DataValidationError, match="non-negative"):
        fit_gpd(np.array([1.0, -0.5, 2.0]))
    with pytest.raises(DataValidationError, match="k >= 2"):
        fit_gpd(np.array([1.0]))
    with pytest.raises(DataValidationError, match="level"):
        fit_gpd(np.array([1.0, 2.0]), level=95)


# -------------------------------------------------------------- tail classes
def test_class_needs_both_estimators():
    assert classify_tail(200, (0.1, 0.5), (0.05, 0.6))[0] == "heavy"
    assert classify_tail(200, (-0.6, 0.05), (-0.5, 0.08))[0] == "light"
    assert classify_tail(200, (-1.0, -0.5), (-1.0, -0.4))[0] == "bounded"
    # one bounded, one light: both put xi below the light margin
    assert classify_tail(200, (-1.0, -0.5), (-0.5, 0.05))[0] == "light"
    cls, why = classify_tail(200, (0.1, 0.5), (-0.2, 0.4))
    assert cls == "undecided" and "disagree" in why and "GPD [-0.20, 0.40]" in why
    cls, why = classify_tail(200, (-0.3, 0.3), (-0.2, 0.4))
    assert cls == "undecided" and "neither" in why
    assert classify_tail(20, (0.5, 2.0), (0.4, 1.5))[0] == "undecided"
    assert classify_tail(200, (np.nan, 1.0), (0.1, 1.0))[0] == "undecided"


def test_estimates_are_location_and_scale_invariant():
    x = np.random.default_rng(105).standard_t(4, 600)
    a = fit_tail(x, n_boot=50, random_state=1)
    b = fit_tail(1e3 + 7.5 * x, n_boot=50, random_state=1)
    assert b.xi_moment == pytest.approx(a.xi_moment, abs=1e-9)
    assert b.xi_gpd == pytest.approx(a.xi_gpd, abs=1e-6)
    assert b.xi_moment_ci == pytest.approx(a.xi_moment_ci, abs=1e-9)
    assert b.tail_class == a.tail_class


def test_heavy_tails_are_not_called_light():
    """xi >= 0.2 called light in <= 10 % at n >= 200 (Student-t(5) is the hardest case:
    its index converges slowly, the estimators read it near 0 at n = 200)."""
    rng = np.random.default_rng(106)
    for draw, n, reps in ((lambda s: rng.standard_t(5, s), 200, 300),
                          (lambda s: rng.standard_t(3, s), 200, 300),
                          (lambda s: rng.standard_t(5, s), 1000, 120)):
        fits = fit_tails(draw((reps, n)), n_boot=100, random_state=rng)
        light = np.mean([f.tail_class == "light" for f in fits])
        # benchmark: 3-5 % at these cells; with 300 (120) samples the binomial sd at 5 %
        # is 1.3 % (2.0 %): 10 % is 3.9 (2.5) sd above
        assert light <= 0.10, (n, light)


def test_gaussian_is_never_heavy_and_sometimes_light():
    rng = np.random.default_rng(107)
    fits = fit_tails(rng.normal(size=(300, 1000)), n_boot=100, random_state=rng)
    classes = [f.tail_class for f in fits]
    # the science notes ask that a Gaussian is never called heavy at n >= 200: 0 of 300
    assert classes.count("heavy") == 0
    # benchmark: light in ~60 % at n = 1,000 (the rest undecided): 300 samples, sd 3 %
    assert 0.4 <= classes.count("light") / 300 <= 0.8


def test_moment_interval_covers_heavy_gpd_tails():
    """The bootstrap alone covered xi = 1 in 87-90 %; the union with the asymptotic
    interval restores the level."""
    rng = np.random.default_rng(108)
    fits = fit_tails(stats.genpareto.rvs(1.0, size=(300, 1000), random_state=rng),
                     n_boot=100, random_state=rng)
    cover = np.mean([f.xi_moment_ci[0] <= 1.0 <= f.xi_moment_ci[1] for f in fits])
    # 300 samples: binomial sd 1.3 % at 0.95; 0.91 is 3 sd below
    assert cover >= 0.91, cover


def test_estimators_on_pareto_and_gaussian_at_n_1000():
    rng = np.random.default_rng(109)
    par = [moment_tail_index(rng.pareto(1.5, 1000) + 1) for _ in range(40)]
    gpd = [gpd_tail_index(rng.pareto(1.5, 1000) + 1) for _ in range(40)]
    # xi = 2/3: science notes section 5 item 8 asks for [0.55, 0.8]; medians of 40
    # (measured: moment 0.71, GPD 0.66, sd 0.13-0.16 per sample, 0.03 for the median)
    assert 0.55 <= np.median(par) <= 0.8 and 0.55 <= np.median(gpd) <= 0.8
    gauss = [moment_tail_index(rng.normal(size=1000)) for _ in range(20)]
    assert np.median(gauss) < 0.1
    _xi, (lo, hi) = tail_index(rng.pareto(3.0, 1000) + 1, method="gpd")
    assert lo < 1 / 3 < hi
    assert tail_size(1000) == 95 and LIGHT_MAX_XI == 0.1


def test_fit_tail_refuses_bad_settings_and_takes_a_generator():
    x = np.random.default_rng(110).normal(size=100)
    with pytest.raises(DataValidationError, match="n_boot"):
        fit_tail(x, n_boot=5)
    with pytest.raises(DataValidationError, match="level"):
        fit_tail(x, level=1.5)
    with pytest.raises(DataValidationError, match="at least 6 finite"):
        fit_tail(np.r_[x[:10], np.inf])
    with pytest.raises(DataValidationError, match="method"):
        tail_index(x, method="hill")
    a = fit_tail(x, n_boot=30, random_state=np.random.default_rng(5))
    b = fit_tail(x, n_boot=30, random_state=5)
    assert a.xi_moment_ci == b.xi_moment_ci  # a seed and its generator draw alike


# --------------------------------------------------------- full grid (slow)
@pytest.mark.slow
@pytest.mark.parametrize("n", [200, 1000, 5000])
def test_calibration_grid(n):
    """The benchmark's grid at 200 samples per cell: the requirements hold."""
    rng = np.random.default_rng(111 + n)
    reps = 200
    grid = {"gpd(0.2)": (0.2, lambda s: stats.genpareto.rvs(0.2, size=s, random_state=rng)),
            "gpd(0.5)": (0.5, lambda s: stats.genpareto.rvs(0.5, size=s, random_state=rng)),
            "gpd(0)": (0.0, lambda s: stats.genpareto.rvs(0.0, size=s, random_state=rng)),
            "t(3)": (1 / 3, lambda s: rng.standard_t(3, s)),
            "t(5)": (0.2, lambda s: rng.standard_t(5, s)),
            "normal": (0.0, lambda s: rng.normal(size=s)),
            "lognormal(0.5)": (0.0, lambda s: rng.lognormal(0, 0.5, s))}
    for name, (xi, draw) in grid.items():
        fits = fit_tails(draw((reps, n)), random_state=rng)
        cls = [f.tail_class for f in fits]
        if xi >= 0.2:  # heavy: light in <= 10 % (binomial sd at 5 %: 1.5 %)
            assert cls.count("light") / reps <= 0.10, (name, n)
        if name.startswith("gpd"):
            # 95 % intervals on their own model: coverage within 3 binomial sd (1.5 %)
            for attr in ("xi_moment_ci", "xi_gpd_ci"):
                cover = np.mean([getattr(f, attr)[0] <= xi <= getattr(f, attr)[1]
                                 for f in fits])
                assert cover >= 0.905, (name, n, attr, cover)
        if name == "normal":
            assert cls.count("heavy") == 0
        if name == "lognormal(0.5)":
            # measured false-heavy rate up to ~10 % at n = 5,000 (penultimate tail)
            assert cls.count("heavy") / reps <= 0.16, (name, n)
