"""Variance components with known answers: orthogonal random-features ridge (Lin & Dobriban).

The closed forms of :mod:`scalelaw.synthetic_variance` against the reference
table of the shared science notes (Part II section 8), and
:func:`scalelaw.variance.crossed_components` on crossed Monte Carlo draws of
the model against the closed forms.

Monte Carlo tolerance. Each design point is estimated by ``R`` independent
crossed designs (fresh seeds for every source and a fresh target); the
check is ``|mean - limit| <= t * sd / sqrt(R) + 0.02 * variance``:

* ``t * sd / sqrt(R)``: ``sd`` is the spread of one crossed design's
  unbiased estimate over the ``R`` replicates, so the term shrinks with the
  number of draws (levels per source and replicates); ``t`` is the Student
  quantile at ``1 - 1e-4`` (two-sided ``2e-4`` per check, under 1 % for the
  whole slow grid of ~80 checks);
* ``0.02 * variance``: the limits are for ``n -> inf``; real Wishart spectra
  deviate from the Marchenko-Pastur law by O(1/n). Measured with 24-40
  replicates per point (8 x 8 x 3 draws): at n = 100 the estimates sit within
  1.5 % of the limits except near the ridgeless threshold at p/n = 0.8
  (variance +2.5 %, data:init +4.3 %, both at about 2.5 standard errors),
  and at n = 200 within 1 % everywhere. Hence n = 200 on the slow grid and
  the fast subset at points measured within 1.5 % at n = 100.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from scalelaw.exceptions import DataValidationError
from scalelaw.synthetic_variance import (
    COMPONENTS,
    OrthogonalFeaturesRidge,
    optimal_ridge,
    ridge_variance_limits,
)
from scalelaw.variance import crossed_components, decompose_table

#: Shared science notes, Part II section 8: pi = 0.8, alpha^2 = 1, sigma = 0.3,
#: optimal ridge. (MSE, bias^2, variance, V_s, V_i, V_sl, V_si, V_sli) per delta.
TABLE_OPTIMAL = {
    0.5: (0.3421, 0.1171, 0.2251, .0323, .1082, .0249, .0512, .0085),
    1.0: (0.4954, 0.2454, 0.2500, .0838, .0637, .0307, .0605, .0113),
    1.25: (0.5580, 0.3114, 0.2466, .1006, .0488, .0291, .0577, .0105),
    2.0: (0.6867, 0.4715, 0.2151, .1152, .0245, .0220, .0461, .0073),
    3.0: (0.7780, 0.6053, 0.1727, .1050, .0123, .0156, .0350, .0048),
    5.0: (0.8610, 0.7413, 0.1197, .0793, .0048, .0096, .0232, .0027),
}
#: Same section, ridge 0.01: (variance, V_si) per delta; the variance peaks at p = n.
TABLE_RIDGELESS = {0.5: (0.3382, 0.1061), 1.0: (0.9572, 0.4823), 1.25: (1.4742, 0.7917),
                   2.0: (0.6868, 0.2461), 3.0: (0.4213, 0.1121)}
#: The table is printed to 4 decimals.
ROUNDING = 5.1e-5


def test_limits_reproduce_the_reference_table() -> None:
    names = ("mse", "bias2", "variance", "data", "init", "data:noise", "data:init",
             "data:init:noise")
    for delta, ref in TABLE_OPTIMAL.items():
        lim = ridge_variance_limits(0.8, delta, "optimal", signal=1.0, noise=0.3)
        got = {"mse": lim.mse, "bias2": lim.bias2, "variance": lim.variance} | lim.components
        for name, want in zip(names, ref, strict=True):
            assert got[name] == pytest.approx(want, abs=ROUNDING), (delta, name)
    for delta, (var, v_si) in TABLE_RIDGELESS.items():
        lim = ridge_variance_limits(0.8, delta, 0.01)
        assert lim.variance == pytest.approx(var, abs=ROUNDING)
        assert lim.components["data:init"] == pytest.approx(v_si, abs=ROUNDING)
    peak = max(TABLE_RIDGELESS, key=lambda d: ridge_variance_limits(0.8, d, 0.01).variance)
    assert peak == 1.25  # p = pi delta n = n


@pytest.mark.parametrize(("pi", "delta", "ridge"), [(0.8, 1.0, 0.29), (0.3, 4.0, 0.01),
                                                    (1.0, 0.7, 0.5), (0.05, 0.5, 2.0)])
def test_limits_are_a_decomposition(pi: float, delta: float, ridge: float) -> None:
    lim = ridge_variance_limits(pi, delta, ridge, signal=1.3, noise=0.5)
    assert set(lim.components) == set(COMPONENTS)
    assert sum(lim.components.values()) == pytest.approx(lim.variance, rel=1e-12)
    assert lim.mse == pytest.approx(lim.bias2 + lim.variance, rel=1e-12)
    assert min(lim.components.values()) >= -1e-12  # ANOVA terms are variances
    assert lim.components["noise"] == lim.components["init:noise"] == 0.0
    if pi == 1.0:  # the features are a rotation: the init has no effect at all
        for k in ("init", "data:init", "data:init:noise"):
            assert abs(lim.components[k]) < 1e-12


def test_pi_one_is_isotropic_ridge_regression() -> None:
    """pi = 1: ridge on x itself, whose limits are classical (Dobriban & Wager 2018):
    bias^2 = alpha^2 lam^2 E[1/(s+lam)^2] and variance = sigma^2 gamma E[s/(s+lam)^2] +
    alpha^2 (E[(s/(s+lam))^2] - c^2) (computed here by quadrature of the MP density)."""
    from scipy.integrate import quad

    gamma, lam, sigma2 = 0.5, 0.3, 0.25
    lo, hi = (1 - gamma**0.5) ** 2, (1 + gamma**0.5) ** 2

    def mp(f):  # no atom for gamma < 1
        dens = lambda s: np.sqrt((hi - s) * (s - lo)) / (2 * np.pi * gamma * s)  # noqa: E731
        return quad(lambda s: f(s) * dens(s), lo, hi, limit=200)[0]

    c = mp(lambda s: s / (s + lam))
    lim = ridge_variance_limits(1.0, gamma, lam, signal=1.0, noise=sigma2**0.5)
    assert lim.bias2 == pytest.approx((1 - c) ** 2, rel=1e-7)
    var = sigma2 * gamma * mp(lambda s: s / (s + lam) ** 2) + mp(
        lambda s: (s / (s + lam)) ** 2) - c * c
    assert lim.variance == pytest.approx(var, rel=1e-7)


def test_the_compression_is_consistent() -> None:
    """Two routes to the mean prediction agree: through the features' own spectrum
    (Marchenko-Pastur of ratio gamma) and through the free compression of the input
    spectrum (ratio delta) at the subordination point mu. A wrong compression law breaks
    this identity; it holds to ~1e-13 over a wide range of designs."""
    from scipy.optimize import brentq

    from scalelaw.synthetic_variance import _mp_stieltjes

    rng = np.random.default_rng(0)
    for _ in range(200):
        pi, delta, lam = rng.uniform(0.01, 0.999), np.exp(rng.uniform(-3, 3)), np.exp(
            rng.uniform(-7, 3))
        c = pi * (1 - lam * _mp_stieltjes(pi * delta, lam)[0])
        mu = brentq(lambda m: (m - lam) * _mp_stieltjes(delta, m)[0] - (1 - pi), lam,  # noqa: B023
                    1e4, xtol=1e-15, rtol=1e-14)
        assert 1 - mu * _mp_stieltjes(delta, mu)[0] == pytest.approx(c, rel=1e-10)


def test_optimal_ridge_minimises_the_error() -> None:
    for pi, delta in ((0.8, 1.0), (0.4, 3.0), (0.9, 0.5)):
        lam = optimal_ridge(pi, delta)
        best = ridge_variance_limits(pi, delta, lam).mse
        for f in (0.5, 0.8, 1.25, 2.0):
            assert ridge_variance_limits(pi, delta, lam * f).mse > best


def _replicates(n: int, delta: float, ridge: float | str, reps: int, levels=(8, 8, 3),
                pi: float = 0.8, first_seed: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
    """Estimates (bias2, variance, 7 components) per replicate, their limits, and the variance."""
    d = round(delta * n)
    p = round(pi * d)
    est = []
    for r in range(reps):
        model = OrthogonalFeaturesRidge(n, d, ridge=ridge, seed=first_seed + r)
        vc = crossed_components(model.crossed_predictions(p, n_data=levels[0],
                                                          n_init=levels[1],
                                                          n_noise=levels[2]),
                                target=model.target)
        est.append([vc.bias2, vc.total, *(vc.components[k] for k in COMPONENTS)])
    lim = model.limits(p)
    truth = np.array([lim.bias2, lim.variance, *(lim.components[k] for k in COMPONENTS)])
    return np.array(est), truth, lim.variance


def _assert_within_mc(est: np.ndarray, truth: np.ndarray, variance: float, label: str
                      ) -> None:
    reps = est.shape[0]
    t = stats.t.ppf(1 - 1e-4, reps - 1)
    tol = t * est.std(axis=0, ddof=1) / np.sqrt(reps) + 0.02 * variance
    names = ("bias2", "variance", *COMPONENTS)
    for name, m, want, tl in zip(names, est.mean(axis=0), truth, tol, strict=True):
        assert abs(m - want) <= tl, f"{label} {name}: Monte Carlo {m:.4f}, limit {want:.4f}, " \
                                    f"tolerance {tl:.4f}"


@pytest.mark.parametrize(("delta", "ridge"), [(1.0, "optimal"), (1.25, 0.01), (2.0, 0.01)])
def test_monte_carlo_matches_the_limits(delta: float, ridge: float | str) -> None:
    """Fast subset: optimal ridge at delta = 1; near-ridgeless at the peak (p = n) and after."""
    est, truth, var = _replicates(100, delta, ridge, reps=8, first_seed=500)
    _assert_within_mc(est, truth, var, f"delta {delta}, ridge {ridge}")


@pytest.mark.slow
@pytest.mark.parametrize("ridge", ["optimal", 0.01])
@pytest.mark.parametrize("delta", [0.5, 1.0, 1.25, 2.0, 3.0, 5.0])
def test_monte_carlo_matches_the_limits_full_grid(delta: float, ridge: float | str) -> None:
    est, truth, var = _replicates(200, delta, ridge, reps=16, first_seed=2000)
    _assert_within_mc(est, truth, var, f"delta {delta}, ridge {ridge}")


def test_table_path_and_peak_on_the_model() -> None:
    """Through ``decompose_table`` (as ``scalelaw variance`` reads it) across p through p = n:
    the near-ridgeless variance peaks at p = n, carried by the data x init interaction."""
    model = OrthogonalFeaturesRidge(40, 120, ridge=0.01, seed=7)
    sizes = [10, 20, 30, 40, 60, 80, 120]
    table = model.crossed_table(sizes, n_data=5, n_init=5, n_noise=3)
    res = decompose_table(table, "prediction", factors=["data_seed", "init_seed", "noise_seed"],
                          example="example", target="target", size="n_features")
    limits = [model.limits(p).variance for p in sizes]
    assert int(np.argmax(limits)) == sizes.index(40)
    peak = res.peak
    assert peak is not None and peak.size == 40.0
    assert peak.size_ci[0] <= 40 <= peak.size_ci[1]
    assert peak.verdict == "unimodal" and peak.falls_after is True
    assert peak.component == "data_seed:init_seed"
    # the closed form's share of the data x init term in the peak's excess over p = d
    lim_peak, lim_end = model.limits(40), model.limits(120)
    share = ((lim_peak.components["data:init"] - lim_end.components["data:init"])
             / (lim_peak.variance - lim_end.variance))
    # 5 x 5 x 3 draws: the estimated share's spread over seeds is about 0.05
    assert peak.component_shares["data_seed:init_seed"] == pytest.approx(share, abs=0.15)
    d = res.to_dict()["peak"]
    assert list(d)[:6] == ["size", "size_ci", "falls_after", "verdict", "component", "reason"]


def test_sampler_reuses_draws_and_checks_input() -> None:
    model = OrthogonalFeaturesRidge(20, 30, ridge=0.1, seed=1)
    a = model.predict(10, 0, 1, [0, 1])
    assert np.allclose(a[1], model.predict(10, 0, 1, 1), rtol=1e-12, atol=1e-12)
    # p > n goes through the n x n system: the same ridge solution
    wide = OrthogonalFeaturesRidge(20, 30, ridge=0.1, seed=1)
    w = wide._haar(1)[:25]
    x, y = wide._x(0), wide._x(0) @ wide.theta + wide._eps(2)
    f = x @ w.T
    coef = np.linalg.solve(f.T @ f / 20 + 0.1 * np.eye(25), f.T @ y / 20)
    assert np.allclose(wide.predict(25, 0, 1, 2), wide.x_test @ (w.T @ coef))
    assert abs(np.linalg.norm(model.theta) - 1.0) < 1e-12
    with pytest.raises(DataValidationError, match="n_features"):
        model.predict(31, 0, 0, 0)
    with pytest.raises(DataValidationError, match="ridge"):
        OrthogonalFeaturesRidge(20, 30, ridge=0.0)
    with pytest.raises(DataValidationError, match="pi"):
        ridge_variance_limits(1.5, 1.0, 0.1)
    with pytest.raises(DataValidationError, match="ridge"):
        ridge_variance_limits(0.5, 1.0, "best")
    with pytest.raises(DataValidationError, match="noise"):
        ridge_variance_limits(0.5, 1.0, 0.1, noise=-1)
