"""Uncertainty of fitted laws: Wald (sandwich-free M-estimator) covariance,
profile-objective intervals and the bootstrap over rows or groups of rows.

Notation: the fit minimises ``f(theta) = sum_i w_i rho(r_i(theta))`` over the
optimiser's coordinates ``theta`` (log scale for positive scales).

* Scale. ``s2 = sum w psi(r)^2 / (n - p)``; ``m`` is the mean slope of
  ``psi`` (1 for least squares; for Huber, the share of residuals inside
  ``+-delta``, estimated with a Gaussian kernel so that a handful of rows does
  not make it jumpy); ``K = 1 + (p / n) var(psi') / m^2`` is Huber's (1981,
  sec. 7.6) small-sample correction.
* Wald. ``cov = K^2 s2 / m^2 (J^T W J)^{-1}``, the classical covariance of a
  Huber M-estimator, equal to ``s2 (J^T W J)^{-1}`` for least squares.
* Profile. ``2 (f(theta_j) - f_hat) m / s2`` is compared with the ``F(1, n - p)``
  quantile: the likelihood-ratio test for least squares and the drop-in-
  dispersion test of Schrader & Hettmansperger (1980) for Huber losses.
* Bootstrap. Rows (or groups of rows, e.g. seeds) are resampled as
  multiplicity weights, every replica is refitted from the best distinct
  optima of the full fit by batched Levenberg-Marquardt to tight tolerance,
  and intervals are percentiles of the replica estimates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from scalelaw._objective import Objective, psi
from scalelaw._optimize import levenberg_marquardt_batch
from scalelaw.laws import ScalingLaw

__all__ = ["ScaleTerms", "bootstrap_weights", "scale_terms", "wald_covariance"]


@dataclass(frozen=True)
class ScaleTerms:
    """Residual scale quantities shared by Wald and profile intervals."""

    s2: float
    m: float
    k: float
    n_inside: int

    def to_dict(self) -> dict[str, float]:
        """Plain-type copy."""
        return {"s2": self.s2, "m": self.m, "k": self.k, "n_inside": self.n_inside}


def scale_terms(
    r: np.ndarray, w: np.ndarray, objective: str, delta: float, n_free: int
) -> ScaleTerms:
    """Compute ``s2``, ``m`` and ``K`` from residuals at the optimum."""
    n = int(np.count_nonzero(w))
    dof = max(n - n_free, 1)
    ps = psi(r, objective, delta)
    s2 = float(np.sum(w * ps**2) / dof)
    if objective != "huber_log":
        return ScaleTerms(s2=s2, m=1.0, k=1.0, n_inside=n)
    med = np.median(r)
    sigma = 1.4826 * float(np.median(np.abs(r - med)))
    h = 1.06 * max(sigma, delta) * n ** (-0.2)
    slope = stats.norm.cdf((delta - r) / h) - stats.norm.cdf((-delta - r) / h)
    wsum = float(np.sum(w))
    m = float(np.sum(w * slope) / wsum)
    var = float(np.sum(w * (slope - m) ** 2) / wsum)
    k = 1.0 + (n_free / max(n, 1)) * var / max(m * m, 1e-300)
    return ScaleTerms(
        s2=s2, m=m, k=k, n_inside=int(np.count_nonzero(np.abs(r) <= delta))
    )


def wald_covariance(
    jac: np.ndarray, w: np.ndarray, terms: ScaleTerms, free: np.ndarray
) -> tuple[np.ndarray, float]:
    """Covariance in the optimiser's coordinates, and the condition number.

    Parameters
    ----------
    jac : ndarray of shape (n, p)
        Derivatives of the residuals at the optimum.
    w : ndarray of shape (n,)
        Row weights.
    terms : ScaleTerms
        Residual scale terms.
    free : ndarray of bool, shape (p,)
        Parameters not held at a bound; the others get NaN rows/columns.

    Returns
    -------
    cov : ndarray of shape (p, p)
        Covariance (NaN where not identified).
    cond : float
        Condition number of the scaled information matrix (inf if singular).
    """
    p = jac.shape[1]
    cov = np.full((p, p), np.nan)
    idx = np.flatnonzero(free)
    if idx.size == 0:
        return cov, np.inf
    info = (jac[:, idx] * w[:, None]).T @ jac[:, idx]
    d = np.sqrt(np.clip(np.diag(info), 1e-300, None))
    scaled = info / np.outer(d, d)
    eig = np.linalg.eigvalsh(scaled)
    cond = float(eig[-1] / eig[0]) if eig[0] > 0 else np.inf
    if not np.isfinite(cond) or cond > 1e14:
        return cov, cond
    inv = np.linalg.inv(scaled) / np.outer(d, d)
    factor = terms.k**2 * terms.s2 / max(terms.m**2, 1e-300)
    cov[np.ix_(idx, idx)] = factor * inv
    return cov, cond


def profile_threshold(level: float, dof: int) -> float:
    """Critical value of the profile statistic: the F(1, dof) quantile."""
    return float(stats.f.ppf(level, 1, max(dof, 1)))


def profile_intervals(
    law: ScalingLaw,
    objective: Objective,
    theta: np.ndarray,
    loss: float,
    cov: np.ndarray,
    terms: ScaleTerms,
    level: float,
    dof: int,
    *,
    n_threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Profile-objective intervals (optimiser coordinates) for every parameter.

    Each parameter is fixed on a grid of values on both sides of the optimum
    (in units of its Wald standard error, or of a unit step when that is not
    available) while the others are refitted, all grid points of all
    parameters in one batched Levenberg-Marquardt call. The interval ends
    are where the statistic crosses its critical value, refined by a second
    batched pass.

    Returns
    -------
    lower, upper : ndarray of shape (p,)
        Interval ends (``-inf``/``inf``, or a bound, where the profile does not
        cross within the scanned range).
    notes : list of str
        One message per parameter whose profile did not close.
    """
    p = theta.size
    lo_b, hi_b = law.internal_bounds()
    crit = profile_threshold(level, dof)
    se = np.sqrt(np.diag(cov)) if cov is not None else np.full(p, np.nan)
    step = np.where(np.isfinite(se) & (se > 0), se, 0.1 * np.maximum(np.abs(theta), 1.0))
    multiples = np.array([0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0, 9.0, 14.0, 20.0])

    def stat(values: np.ndarray, which: np.ndarray) -> np.ndarray:
        starts = np.repeat(theta[None, :], values.size, axis=0)
        lo = np.repeat(lo_b[None, :], values.size, axis=0)
        hi = np.repeat(hi_b[None, :], values.size, axis=0)
        rows = np.arange(values.size)
        ok_cov = cov is not None and np.all(np.isfinite(cov))
        for i in rows:
            j = which[i]
            delta_j = values[i] - theta[j]
            if ok_cov and cov[j, j] > 0:
                # conditional mean of the others given theta_j: a good warm start
                starts[i] += cov[:, j] / cov[j, j] * delta_j
            starts[i, j] = values[i]
        starts = np.clip(starts, lo, hi)
        lo[rows, which] = values
        hi[rows, which] = values
        res = levenberg_marquardt_batch(
            objective.fun_grad_hess, objective.value, starts, lo, hi, ftol=1e-12,
            n_threads=n_threads,
        )
        return 2.0 * (res.fun - loss) * terms.m / max(terms.s2, 1e-300)

    lower = np.full(p, -np.inf)
    upper = np.full(p, np.inf)
    notes: list[str] = []
    for side, out in ((-1.0, lower), (1.0, upper)):
        values = (theta[:, None] + side * step[:, None] * multiples[None, :])
        bound = lo_b if side < 0 else hi_b
        values = np.where(side < 0, np.maximum(values, bound[:, None]),
                          np.minimum(values, bound[:, None]))
        which = np.repeat(np.arange(p), multiples.size)
        s = stat(values.ravel(), which).reshape(p, multiples.size)
        for j in range(p):
            grid = np.concatenate([[theta[j]], values[j]])
            sj = np.concatenate([[0.0], np.maximum(s[j], 0.0)])
            above = np.flatnonzero(sj >= crit)
            if above.size == 0:
                at_bound = np.isclose(values[j, -1], bound[j])
                out[j] = bound[j] if at_bound else side * np.inf
                notes.append(
                    f"the profile of parameter {law.params[j].name!r} does not reach "
                    f"the {level:.0%} threshold on the "
                    f"{'lower' if side < 0 else 'upper'} side"
                    + (" before its bound" if at_bound else "")
                )
                continue
            k = above[0]
            # interpolate the signed root statistic, which is nearly linear
            a, b = np.sqrt(sj[k - 1]), np.sqrt(sj[k])
            frac = (np.sqrt(crit) - a) / max(b - a, 1e-300)
            out[j] = grid[k - 1] + frac * (grid[k] - grid[k - 1])
    # refine each finite end once with a direct evaluation around it
    ends = np.concatenate([lower, upper])
    which = np.concatenate([np.arange(p), np.arange(p)])
    finite = np.isfinite(ends) & ~np.isin(ends, np.concatenate([lo_b, hi_b]))
    if finite.any():
        s_end = stat(ends[finite], which[finite])
        centre = np.concatenate([theta, theta])[finite]
        root = np.sqrt(np.maximum(s_end, 1e-300))
        # straight-line correction of the signed root through the optimum
        corrected = centre + (ends[finite] - centre) * np.sqrt(crit) / root
        ends = ends.copy()
        ends[finite] = corrected
        lower, upper = ends[:p], ends[p:]
    return lower, upper, notes


def bootstrap_weights(
    n_rows: int,
    n_boot: int,
    rng: np.random.Generator,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """Multiplicity weights ``(n_boot, n_rows)`` for a row or group bootstrap.

    With ``groups``, whole groups (e.g. all rows of one seed) are drawn with
    replacement and every row gets the count of its group.
    """
    if groups is None:
        return rng.multinomial(n_rows, np.full(n_rows, 1.0 / n_rows), size=n_boot).astype(
            np.float64
        )
    labels, inverse = np.unique(groups, return_inverse=True)
    counts = rng.multinomial(labels.size, np.full(labels.size, 1.0 / labels.size),
                             size=n_boot).astype(np.float64)
    return counts[:, inverse]


def run_bootstrap(
    objective_factory: Any,
    law: ScalingLaw,
    starts: np.ndarray,
    weights: np.ndarray,
    *,
    n_threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Refit every replica from every start; keep each replica's best.

    Parameters
    ----------
    objective_factory : callable
        ``(weights, weight_index) -> Objective``.
    law : ScalingLaw
        The law (for bounds).
    starts : ndarray of shape (k, p)
        Warm starts (optimiser coordinates).
    weights : ndarray of shape (n_boot, n)
        Replica row weights (already multiplied by any user weights).

    Returns
    -------
    theta : ndarray of shape (n_boot, p)
        Best estimate of every replica.
    loss : ndarray of shape (n_boot,)
        Its objective.
    converged : ndarray of bool, shape (n_boot,)
        Whether that best start met its convergence test.
    """
    n_boot = weights.shape[0]
    k, _p = starts.shape
    x0 = np.tile(starts, (n_boot, 1))
    index = np.repeat(np.arange(n_boot), k)
    obj: Objective = objective_factory(weights, index)
    lo, hi = law.internal_bounds()
    res = levenberg_marquardt_batch(
        obj.fun_grad_hess, obj.value, x0, lo, hi, ftol=1e-13, n_threads=n_threads
    )
    f = res.fun.reshape(n_boot, k)
    best = np.argmin(f, axis=1)
    sel = np.arange(n_boot) * k + best
    return res.x[sel], res.fun[sel], res.converged[sel]
