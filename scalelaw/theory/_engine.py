"""The fits behind the theory checks, on one table or on thousands of replicates at once.

Every function takes per-size values as an array ``(R, K)`` (``R`` tables or
resamples, ``K`` sizes), so a check on one table, the whole-procedure
bootstrap and the calibration by simulation run the same code.

* :func:`line_windows`: ``log L = a - alpha log x`` fitted by least squares
  over every prefix window ``[0, n)``, each window's straightness p-value,
  the window chosen by the step-down rule and the windows the data cannot
  rule out (:mod:`scalelaw.theory._window` states the rule).
* :func:`floor_fits`: ``L = E + A x^-alpha`` (``E >= 0``) by damped
  Gauss-Newton in log space, started from a profile over ``alpha``.
* :func:`cluster_se`: the cluster-robust (linearisation) standard error over
  replicates (seeds), for either fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

__all__ = ["MIN_WINDOW", "FloorFits", "LineWindows", "cluster_se", "floor_fits",
           "line_windows", "t_quantile"]

#: Fewest sizes in a window (two parameters and two residual degrees of freedom).
MIN_WINDOW = 4


def t_quantile(level: float, df: np.ndarray | float) -> np.ndarray:
    """Two-sided Student-t quantile (NaN where ``df < 1``)."""
    df = np.asarray(df, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(df >= 1, special.stdtrit(np.maximum(df, 1), 0.5 + level / 2), np.nan)


def _t_sf2(t: np.ndarray, df: float) -> np.ndarray:
    """Two-sided p-value of a t statistic."""
    return 2.0 * special.stdtr(df, -np.abs(t))


def _line(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Slope, its standard error and the intercept at the mean of ``u``; ``v`` is (R, n)."""
    n = u.size
    uc = u - u.mean()
    sxx = float(uc @ uc)
    b = v @ uc / sxx
    a = v.mean(axis=-1)
    res = v - a[..., None] - b[..., None] * uc
    s2 = (res**2).sum(axis=-1) / (n - 2)
    return b, np.sqrt(s2 / sxx), a


def _straightness(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """p-value that ``v`` (R, n) is straight in ``u``: Bonferroni of two t-tests (df n - 3).

    (1) the quadratic term of ``v ~ 1 + u + u^2`` (a curve that bends
    gradually, as towards a floor); (2) the last point against the line
    through the others (a kink: one size past a change of slope).
    """
    n = u.size
    uc = u - u.mean()
    design = np.c_[np.ones(n), uc, uc**2]
    inv = np.linalg.inv(design.T @ design)
    coef = v @ (inv @ design.T).T
    res = v - coef @ design.T
    s2 = (res**2).sum(axis=-1) / (n - 3)
    scale = np.abs(v).max(axis=-1) + 1.0
    exact = s2 <= (1e-12 * scale) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        t_quad = coef[..., 2] / np.sqrt(s2 * inv[2, 2])
    p_quad = np.where(exact, np.where(np.abs(coef[..., 2]) > 1e-9 * scale, 0.0, 1.0),
                      _t_sf2(t_quad, n - 3))
    # the last point against the line through the first n - 1
    w = u[:-1]
    b, _, a = _line(w, v[..., :-1])
    wc = w - w.mean()
    res1 = v[..., :-1] - a[..., None] - b[..., None] * wc
    s2_1 = (res1**2).sum(axis=-1) / (n - 3)
    dev = v[..., -1] - (a + b * (u[-1] - w.mean()))
    se = np.sqrt(s2_1 * (1 + 1 / (n - 1) + (u[-1] - w.mean()) ** 2 / float(wc @ wc)))
    exact1 = s2_1 <= (1e-12 * scale) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        t_last = dev / se
    p_last = np.where(exact1, np.where(np.abs(dev) > 1e-9 * scale, 0.0, 1.0),
                      _t_sf2(t_last, n - 3))
    return np.minimum(1.0, 2.0 * np.minimum(p_quad, p_last))


@dataclass(frozen=True)
class LineWindows:
    """Straight-line fits over every prefix window of ``R`` tables.

    Arrays are indexed ``[r, n]`` by the window's size count ``n`` (the
    window ``[0, n)``); entries for ``n < min_points`` are NaN.

    Attributes
    ----------
    alpha, se : ndarray (R, K + 1)
        Exponent (minus the slope) and its standard error (df ``n - 2``).
    pvalue : ndarray (R, K + 1)
        Straightness p-value of the window (1 for ``n = min_points``).
    stop : ndarray of int (R,)
        The chosen window's end.
    plausible : ndarray of bool (R, K + 1)
        Windows in the interval: the chosen one and the longer ones, in turn,
        while their straightness p-value is at least the plausibility level.
    """

    alpha: np.ndarray
    se: np.ndarray
    pvalue: np.ndarray
    stop: np.ndarray
    plausible: np.ndarray


def line_windows(u: np.ndarray, v: np.ndarray, *, auto: bool, test_level: float,
                 plausible_level: float, min_points: int = MIN_WINDOW) -> LineWindows:
    """Fit every prefix window and choose one by the step-down rule.

    Parameters
    ----------
    u : ndarray (K,)
        ``log x``, ascending.
    v : ndarray (R, K)
        ``log`` of the per-size values.
    auto : bool
        Choose the window (step-down from all ``K`` sizes: the first window
        whose straightness p-value reaches ``test_level``); False keeps all.
    test_level, plausible_level : float
        Levels of the rule (see :mod:`scalelaw.theory._window`).
    min_points : int, default=4
        Shortest window.

    Returns
    -------
    LineWindows
        Every window's fit, the choice and the plausible windows.
    """
    v = np.atleast_2d(v)
    r, k = v.shape
    alpha = np.full((r, k + 1), np.nan)
    se = np.full((r, k + 1), np.nan)
    pval = np.full((r, k + 1), np.nan)
    lo_n = min(min_points, k) if auto else k
    for n in range(max(lo_n, 3), k + 1):
        b, s, _ = _line(u[:n], v[:, :n])
        alpha[:, n], se[:, n] = -b, s
        pval[:, n] = 1.0 if n <= min_points or not auto else _straightness(u[:n], v[:, :n])
    stop = np.full(r, max(lo_n, 3))
    found = np.zeros(r, dtype=bool)
    for n in range(k, lo_n - 1, -1):
        hit = ~found & (pval[:, n] >= test_level)
        stop[hit] = n
        found |= hit
    # plausible: the chosen window, then each longer one while the test cannot rule it out
    # (a window that contains a ruled-out one is ruled out too)
    plausible = np.zeros((r, k + 1), dtype=bool)
    plausible[np.arange(r), stop] = True
    alive = np.ones(r, dtype=bool)
    for n in range(int(stop.min()) + 1, k + 1):
        later = n > stop
        alive &= ~later | (np.nan_to_num(pval[:, n], nan=-1.0) >= plausible_level)
        plausible[:, n] |= later & alive
    return LineWindows(alpha, se, pval, stop, plausible)


@dataclass(frozen=True)
class FloorFits:
    """``L = E + A x^-alpha`` fitted to ``R`` tables (log-space least squares).

    Attributes
    ----------
    alpha, floor, log_a : ndarray (R,)
        The parameters (``floor`` is ``E >= 0``).
    se : ndarray (R,)
        Wald standard error of ``alpha`` (df ``K - 3``).
    grad : ndarray (R, K)
        ``d alpha / d log(y_k)`` at the optimum (for the cluster interval).
    converged : ndarray of bool (R,)
        The iteration converged (and ``alpha`` stayed inside the search range).
    at_bound : ndarray of bool (R,)
        The floor sits at its bound 0.
    """

    alpha: np.ndarray
    floor: np.ndarray
    log_a: np.ndarray
    se: np.ndarray
    grad: np.ndarray
    converged: np.ndarray
    at_bound: np.ndarray


#: Exponents searched by the floor fit's starting profile.
_GRID = np.geomspace(0.02, 8.0, 240)


def _floor_profile(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    """Starting values: for each alpha on a grid, E >= 0 and A by weighted linear
    least squares (weights 1/y^2, the first-order equivalent of log space)."""
    z = x[None, :] ** -_GRID[:, None]  # (G, K)
    w = 1.0 / y**2  # (R, K)
    sw = w.sum(-1)[:, None]
    sz = w @ z.T
    szz = w @ (z**2).T
    sy = (w * y).sum(-1)[:, None]
    szy = (w * y) @ z.T
    det = sw * szz - sz**2
    with np.errstate(divide="ignore", invalid="ignore"):
        e = (szz * sy - sz * szy) / det
        a = (sw * szy - sz * sy) / det
        a0 = szy / szz
    neg = ~(e >= 0)
    e = np.where(neg, 0.0, e)
    a = np.where(neg, a0, a)
    a = np.maximum(a, 1e-300)
    with np.errstate(divide="ignore", invalid="ignore"):
        model = e[..., None] + a[..., None] * z[None]
        rss = ((np.log(model) - np.log(y)[:, None, :]) ** 2).sum(-1)
    rss = np.where(np.isfinite(rss), rss, np.inf)
    j = rss.argmin(axis=1)
    rows = np.arange(y.shape[0])
    return _GRID[j], e[rows, j], np.log(a[rows, j])


def _floor_jacobian(lx: np.ndarray, p: np.ndarray, v: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Residuals (R, K) and Jacobian (R, K, 3) of ``log(E + exp(la - alpha log x)) - v``."""
    e, la, al = p[:, 0], p[:, 1], p[:, 2]
    pw = np.exp(la[:, None] - al[:, None] * lx[None])
    m = e[:, None] + pw
    res = np.log(m) - v
    jac = np.stack([1.0 / m, pw / m, -lx[None] * pw / m], axis=-1)
    return res, jac


def floor_fits(x: np.ndarray, y: np.ndarray, *, max_iter: int = 60) -> FloorFits:
    """Fit ``L = E + A x^-alpha`` with ``E >= 0`` to each row of ``y`` (R, K).

    Parameters
    ----------
    x : ndarray (K,)
        Sizes (positive).
    y : ndarray (R, K)
        Per-size values (positive; a row with a missing or non-positive value gives
        NaN and ``converged = False``).
    max_iter : int, default=60
        Levenberg-Marquardt iterations.

    Returns
    -------
    FloorFits
        Parameters, Wald standard error of ``alpha`` and convergence.
    """
    y = np.atleast_2d(np.asarray(y, dtype=float))
    r, k = y.shape
    bad = ~(np.isfinite(y) & (y > 0)).all(axis=1)  # a failed resample: fitted as a stand-in
    y = np.where(bad[:, None], 1.0 + (x / x[0]) ** -1.0, y)
    lx, v = np.log(x), np.log(y)
    a0, e0, la0 = _floor_profile(x, y)
    p = np.c_[e0, la0, a0]
    res, jac = _floor_jacobian(lx, p, v)
    cost = (res**2).sum(-1)
    lam = np.full(r, 1e-3)
    done = np.zeros(r, dtype=bool)
    eye = np.eye(3)
    for _ in range(max_iter):
        jtj = np.einsum("rki,rkj->rij", jac, jac)
        g = np.einsum("rki,rk->ri", jac, res)
        damp = jtj + lam[:, None, None] * (eye * np.maximum(
            np.diagonal(jtj, axis1=1, axis2=2), 1e-12)[:, None, :])
        try:
            step = np.linalg.solve(damp, g[..., None])[..., 0]
        except np.linalg.LinAlgError:
            step = np.stack([np.linalg.lstsq(m, gg, rcond=None)[0] for m, gg in zip(
                damp, g, strict=True)])
        trial = p - step
        trial[:, 0] = np.maximum(trial[:, 0], 0.0)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            res_t, jac_t = _floor_jacobian(lx, trial, v)
            cost_t = (res_t**2).sum(-1)
        better = np.isfinite(cost_t) & (cost_t <= cost) & ~done
        small = np.abs(cost - cost_t) <= 1e-14 * (1.0 + cost)
        p = np.where(better[:, None], trial, p)
        res = np.where(better[:, None], res_t, res)
        jac = np.where(better[:, None, None], jac_t, jac)
        done |= better & small
        cost = np.where(better, cost_t, cost)
        lam = np.where(better, lam / 3.0, lam * 4.0)
        done |= lam > 1e10
        if done.all():
            break
    at_bound = p[:, 0] <= 0.0
    jac_free = np.where(at_bound[:, None, None], jac * np.array([0.0, 1.0, 1.0]), jac)
    jtj = np.einsum("rki,rkj->rij", jac_free, jac_free)
    jtj = jtj + np.where(at_bound, 1.0, 0.0)[:, None, None] * np.diag([1.0, 0.0, 0.0])
    with np.errstate(invalid="ignore"):
        cov = np.linalg.pinv(jtj)
        grad = np.einsum("rj,rkj->rk", cov[:, 2, :], jac_free)
        dof = k - 3 + at_bound.astype(int)
        s2 = cost / np.maximum(dof, 1)
        se = np.sqrt(np.maximum(cov[:, 2, 2], 0.0) * s2)
    alpha = np.where(bad, np.nan, p[:, 2])
    converged = done & ~bad & np.isfinite(alpha) & (alpha > _GRID[0]) & (alpha < _GRID[-1])
    return FloorFits(alpha, np.where(bad, np.nan, p[:, 0]), np.where(bad, np.nan, p[:, 1]),
                     np.where(bad, np.nan, se), grad, converged, at_bound & ~bad)


def cluster_se(grad: np.ndarray, dev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cluster-robust standard error over replicates, by linearisation.

    With ``alpha`` a smooth function of the per-size values ``v_k`` and
    ``v_k`` a mean over the replicates ``g`` present at size ``k``, the
    replicate's influence is ``IF_g = sum_k grad_k dev_gk`` (``dev_gk`` its
    contribution to ``v_k``, zero where absent) and
    ``var = G / (G - 1) sum_g IF_g^2`` with ``G - 1`` degrees of freedom
    (``G`` replicates present).

    Parameters
    ----------
    grad : ndarray (R, K)
        ``d alpha / d v_k`` (zero outside the window).
    dev : ndarray (R, G, K)
        Each replicate's contribution to ``v_k`` (NaN where absent).

    Returns
    -------
    tuple of ndarray
        ``(se, df)``, each (R,).
    """
    present = np.isfinite(dev)
    d = np.where(present, dev, 0.0)
    infl = np.einsum("rk,rgk->rg", grad, d)
    used = (present & (grad[:, None, :] != 0)).any(axis=-1)
    g = used.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        var = g / (g - 1.0) * (np.where(used, infl, 0.0) ** 2).sum(axis=-1)
    return np.sqrt(var), (g - 1).astype(float)
