"""Learning curves from kernel spectra: the known answers of the theory."""

from __future__ import annotations

import numpy as np
import pytest

from scalelaw.exceptions import DataValidationError
from scalelaw.spectral import (
    SpectralWarning,
    complete_tail,
    fit_decay_exponent,
    fit_tail_exponent,
    learning_curve,
    mode_errors,
    predict_exponent,
    solve_kappa,
    spectrum_from_gram,
)


def _power(n_modes: int, a: float) -> np.ndarray:
    return np.arange(1, n_modes + 1, dtype=float) ** -(1.0 + a)


def test_learnabilities_sum_to_p_at_ridge_zero():
    lam = _power(5000, 0.5)
    p = np.array([1.0, 3.5, 10, 100, 1000, 4999])
    curve = learning_curve(lam, lam, p)
    # exact identity of the ridge-0 equation (sum_k lambda/(P lambda + kappa) = 1):
    # only round-off remains
    np.testing.assert_allclose(curve.learnability, p, rtol=1e-10)
    # past the number of modes kappa = 0 and every mode is learned
    past = learning_curve(lam, lam, [5000.0, 1e5])
    np.testing.assert_array_equal(past.kappa, [0.0, 0.0])
    np.testing.assert_allclose(past.learnability, [5000, 5000])


def test_ridge_learnabilities_and_kappa_equation():
    lam = _power(3000, 1.0)
    p = np.geomspace(1, 1e7, 15)
    for ridge in (1e-8, 1e-3, 1.0):
        kap = solve_kappa(lam, p, ridge=ridge)
        # the defining equation, to round-off
        rhs = ridge + kap * (lam / (p[:, None] * lam + kap[:, None])).sum(axis=1)
        np.testing.assert_allclose(kap, rhs, rtol=1e-11)
        learn = learning_curve(lam, lam, p, ridge=ridge).learnability
        np.testing.assert_allclose(learn, p * (1 - ridge / kap), rtol=1e-9, atol=1e-9)


def test_degeneracies_equal_repeated_modes():
    lam = np.array([1.0, 0.3, 0.05, 0.01])
    g = np.array([1, 3, 5, 20])
    v = lam * g  # the block's total power
    rep_l, rep_v = np.repeat(lam, g), np.repeat(lam, g)
    p = [1.0, 4.0, 12.0, 28.0, 40.0]
    a = learning_curve(lam, v, p, degeneracy=g, noise=0.1)
    b = learning_curve(rep_l, rep_v, p, noise=0.1)
    np.testing.assert_allclose(a.error, b.error, rtol=1e-12)
    np.testing.assert_allclose(a.local_exponent, b.local_exponent, rtol=1e-9)


def test_robust_from_one_to_ten_million():
    lam = _power(20_000, 0.5)
    p = np.geomspace(1, 1e7, 40)
    for ridge in (0.0, 1e-10, 1e-2):
        c = learning_curve(lam, lam, p, ridge=ridge, noise=0.05)
        assert np.all(np.isfinite(c.kappa)) and np.all(c.kappa >= 0)
        ok = np.isfinite(c.error)  # ridge 0 with noise: the pole at P = N is infinite
        assert ok.sum() >= 38
        if ridge > 0:
            assert np.all(np.diff(c.kappa) < 0)  # kappa falls with P


@pytest.mark.parametrize("a, n_modes, sizes", [
    (0.5, 2_000_000, [100.0, 300.0, 1000.0]),
    (1.0, 1_000_000, [100.0, 1000.0, 10_000.0]),
])
def test_asymptotic_slope_is_a(a, n_modes, sizes):
    # lambda_k = k^-(1+a), target power proportional to lambda_k: E ~ P^-a. The
    # tolerance 0.02 is the issue's. Computed: a = 0.5 reads 0.498, 0.502, 0.507
    # (P = 100, 300, 1000 with 2e6 modes); a = 1 reads 0.993, 0.999, 1.005: below
    # P = 100 pre-asymptotic terms flatten the curve, and the finite spectrum's
    # missing tail (about (P/N)^a of the error) steepens it as P nears N.
    lam = _power(n_modes, a)
    slope = learning_curve(lam, lam, sizes).local_exponent
    np.testing.assert_allclose(slope, a, atol=0.02)


def test_local_exponent_is_the_derivative():
    lam = _power(4000, 0.7)
    v = _power(4000, 0.3)
    h = 1e-5
    for ridge, noise, p in ((0.0, 0.0, np.array([3.0, 40.0, 700.0, 3900.0])),
                            (1e-3, 0.2, np.array([3.0, 40.0, 700.0, 3900.0, 9000.0])),
                            (0.0, 0.2, np.array([9000.0]))):  # past N: kappa = 0
        lo = learning_curve(lam, v, p * np.exp(-h), ridge=ridge, noise=noise).error
        hi = learning_curve(lam, v, p * np.exp(h), ridge=ridge, noise=noise).error
        fd = -(np.log(hi) - np.log(lo)) / (2 * h)
        exact = learning_curve(lam, v, p, ridge=ridge, noise=noise).local_exponent
        np.testing.assert_allclose(exact, fd, rtol=1e-5, atol=1e-8)  # O(h^2) differences


def test_finite_spectrum_gives_the_maloney_plateau():
    # a kernel with N modes and a target spread over M > N modes: the power the
    # kernel cannot represent stays, a double-descent peak at P = N, then the
    # plateau; the plateau falls as N^-a (here a = 1)
    m, a = 1_000_000, 1.0
    v = _power(m, a)
    plateaus = []
    for n in (100, 1000, 10_000):
        lam = np.where(np.arange(m) < n, v, 0.0)
        c = learning_curve(lam, v, [n / 4, n * 0.999, 1e9])
        resid = v[n:].sum()
        assert c.error[1] > 10 * c.error[0]  # the peak (1 / (1 - gamma) with gamma -> 1)
        np.testing.assert_allclose(c.error[2], resid, rtol=3 * n / 1e9)  # 1 / (1 - N / P)
        plateaus.append(c.error[2])
    np.testing.assert_allclose(np.diff(np.log10(plateaus)), -a, atol=0.01)


def test_label_noise_term():
    lam = _power(2000, 0.5)
    base = learning_curve(lam, lam, [50.0, 500.0])
    noisy = learning_curve(lam, lam, [50.0, 500.0], noise=0.3)
    np.testing.assert_allclose(noisy.error - base.error,
                               0.09 * base.gamma / (1 - base.gamma), rtol=1e-10)


def test_mode_errors_reassemble_the_error():
    lam = _power(1000, 0.5)
    v = _power(1000, 1.0)
    p = [5.0, 50.0, 500.0]
    e = mode_errors(lam, p)
    np.testing.assert_allclose(e @ v, learning_curve(lam, v, p).error, rtol=1e-12)


def test_science_notes_numbers():
    # shared science notes section 8: Gaussian design, lambda_k = k^-1.5, 4,000 modes
    lam = _power(4000, 0.5)
    err = learning_curve(lam, lam, [25, 50, 100, 200, 400, 800]).error
    np.testing.assert_allclose(err, [0.683, 0.476, 0.325, 0.216, 0.138, 0.0816], rtol=0.005)


def test_spectrum_from_gram_and_decay_fit():
    rng = np.random.default_rng(0)
    n, m = 600, 3000
    lam_true = _power(m, 0.8)
    x = rng.standard_normal((n, m)) * np.sqrt(lam_true)  # features: K = X X^T
    y = x @ np.ones(m)
    lam, v = spectrum_from_gram(x @ x.T, y)
    np.testing.assert_allclose(v.sum(), np.mean(y ** 2), rtol=1e-10)
    assert np.all(np.diff(lam) <= 0)
    # eig(K)/n estimates the top eigenvalues (relative error ~ sqrt(1/n) for the largest)
    np.testing.assert_allclose(lam[:3], lam_true[:3], rtol=0.25)
    fit = fit_decay_exponent(lam, k_range=(3, 60))
    assert abs(fit.exponent - 1.8) < 0.15  # n = 600 resolves the first ~60 modes
    assert fit.ci[0] <= fit.exponent <= fit.ci[1]


def test_tail_completion_recovers_the_full_curve():
    # the empirical spectrum of a Gram matrix on n = 1,000 points of a Gaussian
    # design with 20,000 features: as given, the curve steepens long before
    # P = n; continued by its power laws it follows the true curve
    rng = np.random.default_rng(1)
    full = _power(20_000, 1.0)
    x = rng.standard_normal((1000, full.size)) * np.sqrt(full)
    lam, v = spectrum_from_gram(x @ x.T, x.sum(axis=1))
    p = np.array([20.0, 100.0, 500.0])
    truth = learning_curve(full, full, p).error
    cut = learning_curve(lam, v, p).error
    cl, cv, g = complete_tail(lam, v)
    done = learning_curve(cl, cv, p, degeneracy=g).error
    assert cut[-1] / truth[-1] < 0.6
    # the fitted exponents and amplitude carry the sampling error of one draw of
    # 1,000 points: over seeds 1-3 and a = 0.5, 1 the completed curve was within
    # 3-9 % of the truth at P = 20-500 (the truncated one 48 % low at P = 500)
    np.testing.assert_allclose(done, truth, rtol=0.12)
    slope = -np.polyfit(np.log(p), np.log(done), 1)[0]
    assert abs(slope - 1.0) < 0.05


def test_predict_exponent_reads_a():
    lam = _power(30_000, 1.0)
    pred = predict_exponent(lam, lam, window=(100, 300), n_grid=40)
    assert abs(pred.predicted_alpha - 1.0) < 0.02
    assert abs(pred.decay.exponent - 2.0) < 1e-6
    assert abs(pred.tail.exponent - 1.0) < 0.02
    d = pred.to_dict()
    assert set(d) >= {"decay_exponent", "decay_ci", "predicted_alpha", "predicted_curve",
                      "warnings"}
    assert len(d["predicted_curve"]["P"]) == len(d["predicted_curve"]["E"])


def test_predict_exponent_warns_past_resolved_modes():
    lam = _power(1000, 0.5)
    with pytest.warns(SpectralWarning) as rec:
        pred = predict_exponent(lam, lam, window=(50, 500))
    assert any("past the modes" in str(r.message) for r in rec)
    assert len(pred.warnings) == len(rec) == 2


def test_tail_exponent_of_a_known_tail():
    # power k^-2 per mode: tail ~ 1/k - 1/N, local exponent 1.005 at k = 100 and
    # 1.01 at k = N/100
    k = np.arange(1, 1_000_001, dtype=float)
    assert abs(fit_tail_exponent(k ** -2.0, k_range=(100, 10_000)).exponent - 1.0) < 0.02


@pytest.mark.parametrize("kwargs, match", [
    ({"eigenvalues": [1.0, -0.5, 0.1], "target_power": [1, 1, 1]}, "index 1"),
    ({"eigenvalues": [1.0, 0.5], "target_power": [1.0]}, "target_power"),
    ({"eigenvalues": [1.0, np.nan], "target_power": [1, 1]}, "finite"),
    ({"eigenvalues": [0.0, 0.0], "target_power": [1, 1]}, "all zero"),
])
def test_bad_spectra_are_refused(kwargs, match):
    with pytest.raises(DataValidationError, match=match):
        learning_curve(kwargs["eigenvalues"], kwargs["target_power"], [10.0])


def test_bad_gram_is_refused():
    with pytest.raises(DataValidationError, match="symmetric"):
        spectrum_from_gram(np.array([[1.0, 2.0], [0.0, 1.0]]), [1.0, 2.0])
    with pytest.raises(DataValidationError, match="negative eigenvalue"):
        spectrum_from_gram(np.array([[1.0, 2.0], [2.0, 1.0]]), [1.0, 2.0])
    with pytest.raises(DataValidationError, match="3 values"):
        spectrum_from_gram(np.eye(2), [1.0, 2.0, 3.0])
    with pytest.raises(DataValidationError, match="n_train"):
        learning_curve([1.0], [1.0], [0.0])
