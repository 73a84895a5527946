"""Generalised Pareto fit to exceedances: maximum likelihood and profile-likelihood intervals.

The one generalised Pareto (GPD) fitter of the package. The density of an
exceedance ``y >= 0`` is ``(1 / sigma) (1 + xi y / sigma)^(-1 - 1/xi)``
(``scipy.stats.genpareto`` with ``c = xi``, ``loc = 0``, ``scale = sigma``).

Why not ``scipy.stats.genpareto.fit`` directly: it returns the same estimate
wherever the maximum-likelihood estimate exists (a test checks agreement to
1e-4), but it fits one sample per call (20-30 ms each), and seed-lottery
intervals and their calibration need thousands of fits; and where the
likelihood is unbounded (``xi < -1``, tails with an endpoint at the largest
observation, frequent with 10-40 exceedances) it stops at an arbitrary point.
Here the two-parameter problem is reduced to one dimension (Grimshaw 1993:
for fixed ``theta = xi / sigma`` the best ``xi`` is ``mean(log1p(theta y))``)
and every row of a batch is solved at once with SciPy's elementwise
bracketing minimiser (``scipy.optimize.elementwise.find_minimum``). The shape
is restricted to ``xi >= -1``, where the likelihood is bounded; the
boundary (a uniform tail ending at the sample maximum) is reported as
``xi = -1`` and flagged.

The interval of ``xi`` is the profile-likelihood (likelihood-ratio)
interval: for fixed ``xi`` the best ``sigma`` solves a monotone equation in
``theta`` (``mean(theta y / (1 + theta y)) = xi / (1 + xi)``), and the ends
are where the profile drops by half the chi-squared(1) quantile times the
Bartlett factor ``1 + BARTLETT_B / k``, both found with
``scipy.optimize.elementwise.find_root``. The likelihood-ratio statistic's
mean exceeds 1 at small ``k`` (``1 + b / k``, ``b`` about 5 over ``xi`` in
[-0.2, 1] and ``k`` from 20 to 212, by simulation); uncorrected, the 95 %
interval covered 92-94 % of generalised Pareto samples at ``k = 40``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scalelaw.exceptions import DataValidationError

__all__ = ["BARTLETT_B", "GPDFit", "fit_gpd", "gpd_profile_loglik"]

#: Coarse grid of ``t = theta * max(y)`` that brackets the profile maximum.
_T_GRID = np.r_[-np.geomspace(0.999, 1e-3, 14), 0.0, np.geomspace(1e-3, 1e30, 100)]
#: Largest shape searched for an interval's upper end (a heavier tail reads ``inf``).
_XI_MAX = 50.0
#: Shapes closer than this to 0 are evaluated at +-this (the profile is continuous there).
_XI_ZERO = 1e-7
#: Bartlett correction of the likelihood-ratio cut: E[2 (l_max - l(xi))] = 1 + b / k.
BARTLETT_B = 5.0


@dataclass(frozen=True)
class GPDFit:
    """Generalised Pareto fits, one per row of exceedances.

    ``shape`` (``xi``), ``scale`` (``sigma``) and ``loglik`` (the maximised
    log-likelihood) have one entry per row; ``shape_ci`` is ``(n_rows, 2)``
    (profile-likelihood interval at ``level``; NaN when no level was asked
    for; an upper end of ``inf`` when the profile stays above the cut up to
    ``xi = 50``). ``at_bound`` marks rows whose estimate is the boundary
    ``xi = -1``. Rows whose exceedances are all equal are NaN.
    """

    shape: np.ndarray
    scale: np.ndarray
    loglik: np.ndarray
    shape_ci: np.ndarray
    at_bound: np.ndarray
    level: float | None
    n_exceedances: int


def _rows(exceedances: np.ndarray) -> np.ndarray:
    y = np.asarray(exceedances, dtype=float)
    if y.ndim == 1:
        y = y[None, :]
    if y.ndim != 2 or y.shape[1] < 2:
        raise DataValidationError(
            f"exceedances must have shape (k,) or (n_rows, k) with k >= 2; got "
            f"{np.asarray(exceedances).shape}", column="exceedances")
    bad = ~np.isfinite(y) | (y < 0)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise DataValidationError(
            f"exceedances must be finite and non-negative; row {r}, position {c} is "
            f"{y[r, c]!r}", column="exceedances")
    return y


def _scaled(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ymax = y.max(axis=1)
    return y / np.where(ymax > 0, ymax, 1.0)[:, None], ymax


def _profile_t(t: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For ``t = theta max(y)`` (shape (...,)), per row of ``z = y / max(y)``: the best
    ``xi``, ``sigma / max(y)`` and the negative log-likelihood per exceedance
    (plus ``log max(y)``)."""
    with np.errstate(all="ignore"):
        logs = np.log1p(t[..., None] * z)
        xi = logs.mean(axis=-1)
        small = np.abs(t) < 1e-9
        ratio = np.where(small, z.mean(axis=-1), xi / np.where(small, 1.0, t))
        nll = np.log(ratio) + 1.0 + xi
    ok = np.isfinite(nll) & (ratio > 0) & (xi >= -1.0)
    return xi, ratio, np.where(ok, nll, np.inf)


def _maximise(z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: interior maximum of the profile in ``t`` (``xi``, ``sigma / max``, nll)."""
    from scipy.optimize import elementwise

    n_rows = z.shape[0]
    grid = np.broadcast_to(_T_GRID, (n_rows, _T_GRID.size))
    _, _, nll = _profile_t(grid, z[:, None, :])
    j = np.clip(np.argmin(nll, axis=1), 1, _T_GRID.size - 2)
    lo, mid, hi = _T_GRID[j - 1], _T_GRID[j], _T_GRID[j + 1]
    rows = np.arange(n_rows, dtype=float)

    def objective(t: np.ndarray, row: np.ndarray) -> np.ndarray:
        nll_t = _profile_t(t, z[row.astype(int)])[2]
        return np.where(np.isfinite(nll_t), nll_t, 1e300)

    valid = (objective(lo, rows) >= objective(mid, rows)) & (
        objective(hi, rows) >= objective(mid, rows))
    res = elementwise.find_minimum(objective, (lo, mid, hi), args=(rows,),
                                   tolerances={"xatol": 1e-12, "xrtol": 1e-10})
    t = np.where(valid & res.success, res.x, mid)
    xi, ratio, nll_best = _profile_t(t, z)
    return xi, ratio, nll_best


def fit_gpd(exceedances: np.ndarray, *, level: float | None = 0.95) -> GPDFit:
    """Maximum-likelihood generalised Pareto fit, per row, with a profile interval of ``xi``.

    Parameters
    ----------
    exceedances : ndarray, shape (k,) or (n_rows, k)
        Exceedances over a threshold (finite, non-negative, ``k >= 2``); each
        row is one sample (a bootstrap batch, or replicated simulations).
    level : float or None, default=0.95
        Coverage of the profile-likelihood interval of the shape (with the
        Bartlett factor, see the module notes); ``None`` skips it (faster).

    Returns
    -------
    GPDFit
        Arrays with one entry per row (a 1-D input is one row).

    Raises
    ------
    DataValidationError
        Non-finite or negative exceedances, fewer than 2 per row, or a level
        outside (0, 1).

    Examples
    --------
    >>> from scipy import stats
    >>> y = stats.genpareto.rvs(0.5, size=4000, random_state=0)
    >>> fit = fit_gpd(y)
    >>> round(float(fit.shape[0]), 1), bool(fit.shape_ci[0, 0] < 0.5 < fit.shape_ci[0, 1])
    (0.5, True)
    """
    if level is not None and not 0 < level < 1:
        raise DataValidationError(f"level must lie in (0, 1), got {level!r}", column="level")
    y = _rows(exceedances)
    n_rows, k = y.shape
    z, ymax = _scaled(y)
    xi, ratio, nll = _maximise(z)
    # the boundary xi = -1 (uniform on [0, max y]): log-likelihood -k log(max y)
    boundary = ~(nll < 0.0)  # interior nll per point is log(sigma/max) + 1 + xi
    xi = np.where(boundary, -1.0, xi)
    ratio = np.where(boundary, 1.0, ratio)
    nll = np.where(boundary, 0.0, nll)
    scale = ratio * ymax
    with np.errstate(divide="ignore"):
        loglik = -k * (nll + np.log(ymax))
    degenerate = np.ptp(y, axis=1) <= 0
    nan = np.full(n_rows, np.nan)
    shape = np.where(degenerate, nan, xi)
    ci = np.full((n_rows, 2), np.nan)
    if level is not None and (~degenerate).any():
        keep = np.flatnonzero(~degenerate)
        ci[keep] = _profile_interval(y[keep], shape[keep], loglik[keep], level)
    return GPDFit(shape=shape, scale=np.where(degenerate, nan, scale),
                  loglik=np.where(degenerate, nan, loglik), shape_ci=ci,
                  at_bound=boundary & ~degenerate, level=level, n_exceedances=k)


def _profile_xi(xi: np.ndarray, z: np.ndarray, ymax: np.ndarray) -> np.ndarray:
    """Profile log-likelihood at shape ``xi`` (one per row), maximised over the scale."""
    from scipy.optimize import elementwise

    k = z.shape[1]
    xi = np.asarray(xi, dtype=float)
    edge = xi <= -1.0 + 1e-6
    x = np.where(np.abs(xi) < _XI_ZERO, np.where(xi < 0, -_XI_ZERO, _XI_ZERO), xi)
    x = np.where(edge, -0.5, x)  # evaluated apart below
    target = x / (1.0 + x)
    rows = np.arange(z.shape[0], dtype=float)

    def score(t: np.ndarray, row: np.ndarray, c: np.ndarray) -> np.ndarray:
        zz = z[row.astype(int)]
        tz = t[..., None] * zz
        return (tz / (1.0 + tz)).mean(axis=-1) - c

    # brackets known in closed form: the score rises from -inf at t = -1 (the largest
    # exceedance has z = 1) through -c at t = 0 towards 1 - (share of z = 0) - c, and
    # mean(1 / (1 + t z)) < share0 + mean(1[z > 0] / z) / t bounds where it crosses 0
    share0 = (z <= 0).mean(axis=1)
    with np.errstate(divide="ignore"):
        inv = np.where(z > 0, 1.0 / np.where(z > 0, z, 1.0), 0.0).mean(axis=1)
    room = 1.0 / (1.0 + x) - share0
    top = np.where(room > 0, 1.01 * inv / np.where(room > 0, room, 1.0) + 1.0, 1e30)
    lo = np.where(x > 0, 0.0, -1.0 + 1e-13)
    hi = np.where(x > 0, top, 0.0)
    sol = elementwise.find_root(score, (lo, hi), args=(rows, target),
                                tolerances={"xatol": 1e-14, "xrtol": 1e-13})
    t = sol.x
    with np.errstate(all="ignore"):
        mean_log = np.log1p(t[:, None] * z).mean(axis=1)
        ll = -k * (np.log(ymax) + np.log(x / t) + (1.0 + 1.0 / x) * mean_log)
    return np.where(edge, -k * np.log(ymax), ll)


def gpd_profile_loglik(exceedances: np.ndarray, shape: float | np.ndarray) -> np.ndarray:
    """Profile log-likelihood of the GPD shape: the log-likelihood maximised over the scale.

    Parameters
    ----------
    exceedances : ndarray, shape (k,) or (n_rows, k)
        Exceedances over a threshold.
    shape : float or ndarray, shape (n_rows,)
        The shape ``xi`` (``>= -1``) at which to evaluate, per row.

    Returns
    -------
    ndarray, shape (n_rows,)
        ``max over sigma of log L(xi, sigma)``.

    Examples
    --------
    >>> from scipy import stats
    >>> y = stats.genpareto.rvs(0.3, size=50, random_state=1)
    >>> sigma = stats.genpareto.fit(y, fc=0.3, floc=0)[2]
    >>> bool(abs(gpd_profile_loglik(y, 0.3)[0]
    ...          - stats.genpareto.logpdf(y, 0.3, 0, sigma).sum()) < 1e-6)
    True
    """
    y = _rows(exceedances)
    z, ymax = _scaled(y)
    xi = np.broadcast_to(np.asarray(shape, dtype=float), (y.shape[0],))
    if np.any(xi < -1):
        raise DataValidationError(f"shape must be >= -1, got {xi.min()}", column="shape")
    return _profile_xi(xi, z, ymax)


def _profile_interval(y: np.ndarray, xi_hat: np.ndarray, loglik: np.ndarray,
                      level: float) -> np.ndarray:
    from scipy import stats
    from scipy.optimize import elementwise

    z, ymax = _scaled(y)
    cut = loglik - 0.5 * stats.chi2.ppf(level, 1) * (1.0 + BARTLETT_B / y.shape[1])
    rows = np.arange(y.shape[0], dtype=float)

    def drop(xi: np.ndarray, row: np.ndarray) -> np.ndarray:
        r = row.astype(int)
        return _profile_xi(xi, z[r], ymax[r]) - cut[r]

    # upper end: expand from the estimate until the profile falls below the cut
    up = np.full(y.shape[0], np.inf)
    br = elementwise.bracket_root(drop, xi_hat, xi_hat + 0.25, xmin=xi_hat,
                                  xmax=np.full_like(xi_hat, _XI_MAX), args=(rows,))
    ok = br.status == 0
    if ok.any():
        sol = elementwise.find_root(drop, (br.bracket[0][ok], br.bracket[1][ok]),
                                    args=(rows[ok],), tolerances={"xatol": 1e-5})
        up[ok] = sol.x
    # lower end: -1 when the boundary itself is inside the cut
    low = np.full(y.shape[0], -1.0)
    edge = np.full_like(xi_hat, -1.0)
    inside = drop(edge, rows) >= 0
    need = ~inside & (xi_hat > -1)
    if need.any():
        sol = elementwise.find_root(drop, (edge[need] + 1e-6, xi_hat[need]),
                                    args=(rows[need],), tolerances={"xatol": 1e-5})
        low[need] = sol.x
    return np.column_stack([low, up])
