"""Uncertainty and diagnostics of fitted laws, in one place.

Wald (M-estimator) covariance, profile-objective intervals, the bootstrap
over rows or groups of rows, information criteria and the diagnostics a fit
reports. Everything here works on the optimiser's coordinates and the
objective; :mod:`scalelaw.results` turns it into natural units and reports.

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
* No residual degrees of freedom (as many points as free parameters): the
  scale is not estimable, so every interval is undefined (NaN, with a
  ``no_dof`` diagnostic), never zero-width.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from scalelaw.exceptions import BootstrapWarning
from scalelaw.laws import ScalingLaw
from scalelaw.optim import Objective, levenberg_marquardt_batch, psi

__all__ = [
    "MIN_BOOTSTRAP_GROUPS",
    "Assessment",
    "Diagnostic",
    "ScaleTerms",
    "assess",
    "bootstrap_replicas",
    "bootstrap_weights",
    "free_mask",
    "profile_intervals",
    "scale_terms",
    "wald_covariance",
]

#: Fewer resampling units than this make a bootstrap warn: with k units there are
#: only C(2k - 1, k) distinct resamples (3 for two seeds), so percentiles are coarse.
MIN_BOOTSTRAP_GROUPS = 10


@dataclass(frozen=True)
class Diagnostic:
    """One finding about a fit.

    Parameters
    ----------
    code : str
        Machine-readable kind: ``at_bound``, ``high_correlation``,
        ``ill_conditioned``, ``start_disagreement``, ``not_converged``,
        ``few_inside``, ``profile_open``, ``bootstrap_failures``,
        ``few_groups``, ``low_dof``, ``no_dof``.
    message : str
        Explanation with what to do about it.
    params : tuple of str, default=()
        Parameters concerned.

    Examples
    --------
    >>> str(Diagnostic("low_dof", "1 residual degree of freedom"))
    'low_dof: 1 residual degree of freedom'
    """

    code: str
    message: str
    params: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain-type copy."""
        return {"code": self.code, "message": self.message, "params": list(self.params)}

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


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


def solver_options(obj: Objective) -> dict[str, Any]:
    """Levenberg-Marquardt variant for an objective: trust region for least squares.

    The same solver as the fit's polish, so refits (bootstrap replicas,
    profiles) converge the way the fit did.
    """
    if obj.least_squares:
        return {"system": obj.weighted_system, "method": "trust", "maxiter": 3000,
                "f_floor": obj.rounding_floor()}
    return {"f_floor": obj.rounding_floor()}


def scale_terms(
    r: np.ndarray, w: np.ndarray, objective: str, delta: float, n_free: int
) -> ScaleTerms:
    """Compute ``s2``, ``m`` and ``K`` from residuals at the optimum.

    ``s2`` is NaN when there are no residual degrees of freedom.
    """
    n = int(np.count_nonzero(w))
    dof = n - n_free
    ps = psi(r, objective, delta)
    s2 = float(np.sum(w * ps**2) / dof) if dof > 0 else float("nan")
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
    """Critical value of the profile statistic: the F(1, dof) quantile (NaN if dof < 1)."""
    if dof < 1:
        return float("nan")
    return float(stats.f.ppf(level, 1, dof))


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
    if not np.isfinite(crit) or not np.isfinite(terms.s2):
        nan = np.full(p, np.nan)
        return nan, nan.copy(), ["no residual degrees of freedom: profile intervals "
                                 "are undefined"]
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
            n_threads=n_threads, **solver_options(objective),
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
        obj.fun_grad_hess, obj.value, x0, lo, hi, ftol=1e-13, n_threads=n_threads,
        **solver_options(obj),
    )
    f = res.fun.reshape(n_boot, k)
    best = np.argmin(f, axis=1)
    sel = np.arange(n_boot) * k + best
    return res.x[sel], res.fun[sel], res.converged[sel]


def bootstrap_replicas(
    law: ScalingLaw,
    objective_factory: Callable[[np.ndarray, np.ndarray], Objective],
    starts: np.ndarray,
    n_rows: int,
    n_boot: int,
    rng: np.random.Generator,
    *,
    groups: np.ndarray | None = None,
    group_name: str | None = None,
    n_threads: int | None = None,
) -> tuple[pd.DataFrame, dict[str, Any], list[Diagnostic]]:
    """Resample rows (or groups), refit every replica, and report what happened.

    Parameters
    ----------
    law : ScalingLaw
        The law.
    objective_factory : callable
        ``(weights, weight_index) -> Objective`` on the fitted data.
    starts : ndarray of shape (k, p)
        Warm starts (the distinct optima of the fit, optimiser coordinates).
    n_rows : int
        Rows of the fitted data.
    n_boot : int
        Replicas.
    rng : numpy.random.Generator
        Source of the resamples.
    groups : ndarray, optional
        Group label of every row; whole groups are resampled.
    group_name : str, optional
        Name of the group column (for the report).
    n_threads : int, optional
        Optimiser threads.

    Returns
    -------
    replicas : pandas.DataFrame
        One row per replica: the parameters (natural units, NaN if the
        replica failed) and ``loss``.
    info : dict
        ``n_boot``, ``unit``, ``n_units``, ``n_starts``, ``n_failed``.
    diagnostics : list of Diagnostic
        ``bootstrap_failures`` and ``few_groups`` when they apply.

    Warns
    -----
    BootstrapWarning
        Fewer than :data:`MIN_BOOTSTRAP_GROUPS` resampling units.
    """
    n_units = n_rows if groups is None else len(np.unique(groups))
    unit = f"groups of {group_name!r}" if group_name else "rows"
    diags: list[Diagnostic] = []
    if n_units < MIN_BOOTSTRAP_GROUPS:
        msg = (f"the bootstrap resamples only {n_units} {unit}: there are "
               f"{_n_resamples(n_units)} distinct resamples, so its intervals are "
               f"coarse and usually too narrow; use at least {MIN_BOOTSTRAP_GROUPS} "
               "units, or Wald/profile intervals.")
        diags.append(Diagnostic("few_groups", msg))
        warnings.warn(msg[0].upper() + msg[1:], BootstrapWarning, stacklevel=3)
    mult = bootstrap_weights(n_rows, n_boot, rng, groups)
    theta_b, loss_b, ok = run_bootstrap(objective_factory, law, starts, mult,
                                        n_threads=n_threads)
    with np.errstate(over="ignore"):
        natural = law.to_natural(theta_b)
    failed = ~ok | ~np.all(np.isfinite(natural), axis=1)
    natural[failed] = np.nan
    frame = pd.DataFrame(natural, columns=list(law.param_names))
    frame["loss"] = np.where(failed, np.nan, loss_b)
    if failed.any():
        diags.append(Diagnostic(
            "bootstrap_failures",
            f"{int(failed.sum())} of {n_boot} bootstrap replicas did not converge; "
            "they are left out of the bootstrap intervals.",
        ))
    info = {"n_boot": n_boot, "unit": unit, "n_units": int(n_units),
            "n_starts": len(starts), "n_failed": int(failed.sum())}
    return frame, info, diags


def _n_resamples(k: int) -> int:
    """Distinct multisets of size k from k units: C(2k - 1, k)."""
    from math import comb

    return comb(2 * k - 1, k)


def free_mask(law: ScalingLaw, theta: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Parameters not held at a bound, and the names of those at a bound.

    Parameters fixed by their bounds (``lower == upper``, e.g. a known
    chance level) are neither free nor reported.

    Parameters
    ----------
    law : ScalingLaw
        The law.
    theta : ndarray of shape (p,)
        The estimate (optimiser coordinates).

    Returns
    -------
    free : ndarray of bool
        Parameters estimated in the interior.
    at_bound : list of str
        Names of parameters that ended on a bound.
    """
    lo, hi = law.internal_bounds()
    tol = 1e-8 * (1.0 + np.abs(theta))
    fixed = lo == hi
    at = (np.isfinite(lo) & (theta - lo <= tol)) | (np.isfinite(hi) & (hi - theta <= tol))
    at &= ~fixed
    # a log-scale parameter with lower bound 0 that has collapsed towards 0
    for j, prm in enumerate(law.params):
        if prm.log and prm.lower == 0 and theta[j] < np.log(1e-12):
            at[j] = True
    return ~(at | fixed), [law.params[j].name for j in np.flatnonzero(at)]


@dataclass(frozen=True)
class Assessment:
    """Covariance, scale, information criteria and diagnostics at an optimum."""

    cov_internal: np.ndarray
    cov: np.ndarray  # natural units
    stderr: np.ndarray
    terms: ScaleTerms
    dof_resid: int
    aic: float
    bic: float
    diagnostics: tuple[Diagnostic, ...]


def assess(
    law: ScalingLaw,
    obj: Objective,
    theta: np.ndarray,
    loss: float,
    *,
    weights: np.ndarray,
    objective: str,
    delta: float,
    converged: bool,
    message: str,
    optima_theta: np.ndarray,
    optima_loss: np.ndarray,
) -> Assessment:
    """Covariance, scale terms, Gaussian AIC/BIC and diagnostics of an optimum.

    Parameters
    ----------
    law : ScalingLaw
        The law.
    obj : Objective
        The objective on the fitted data.
    theta : ndarray of shape (p,)
        The best optimum (optimiser coordinates) and ``loss`` its objective.
    loss : float
        Objective at ``theta``.
    weights : ndarray of shape (n,)
        Row weights.
    objective, delta
        The fitting objective.
    converged, message
        The optimiser's verdict on ``theta`` and its message.
    optima_theta, optima_loss : ndarray
        The distinct optima found (best first).

    Returns
    -------
    Assessment
        Everything a :class:`~scalelaw.FitResult` reports about uncertainty.
    """
    names = list(law.param_names)
    r, grads = obj.residuals(theta[None, :])
    r = r[0]
    jac = np.stack([np.broadcast_to(g, (1, r.size))[0] for g in grads], axis=1)
    free, bound_names = free_mask(law, theta)
    n_obs = int(np.count_nonzero(weights))
    n_free = int(free.sum())
    dof = n_obs - n_free
    terms = scale_terms(r, weights, objective, delta, n_free)
    cov_int, cond = wald_covariance(jac, weights, terms, free)
    natural = law.to_natural(theta)
    dmap = np.where(law.log_mask, natural, 1.0)  # d natural / d internal
    cov_nat = cov_int * np.outer(dmap, dmap)
    stderr = np.sqrt(np.diag(cov_nat))
    aic, bic = information_criteria(r, weights, n_free, objective)

    diags: list[Diagnostic] = []
    if not converged:
        diags.append(Diagnostic(
            "not_converged",
            f"the best optimum did not meet the convergence test ({message}); results "
            "may be inaccurate (try more starts, p0=, or rescale the data).",
        ))
    if bound_names:
        diags.append(Diagnostic(
            "at_bound",
            f"{', '.join(bound_names)} at a bound ("
            + ", ".join(f"{n}={natural[names.index(n)]:.4g}" for n in bound_names)
            + "); held fixed for the covariance. The data do not constrain "
            "this parameter inside its range: widen the range of the data, fix the "
            "parameter, or use a simpler law.",
            tuple(bound_names),
        ))
    if dof < 1:
        diags.append(Diagnostic(
            "no_dof",
            f"{n_obs} point(s) for {n_free} free parameter(s): no residual degrees of "
            "freedom, so the noise scale is not estimable and every interval is "
            "undefined (NaN). Add runs or fix parameters.",
        ))
    elif not np.isfinite(cond) or cond > 1e14:
        diags.append(Diagnostic(
            "ill_conditioned",
            "the information matrix is singular (condition number "
            f"{cond:.3g}): some parameter combination is not identified; standard "
            "errors are unavailable. Use profile or bootstrap intervals, or a "
            "simpler law.",
            tuple(n for n, f in zip(names, free, strict=True) if f),
        ))
    elif cond > 1e10:
        diags.append(Diagnostic(
            "ill_conditioned",
            f"the information matrix is ill-conditioned (condition number "
            f"{cond:.3g}); Wald standard errors may be inaccurate.",
        ))
    diags += _correlation_diagnostics(cov_int, names)
    diags += _start_diagnostics(law, theta, loss, cov_int, optima_theta, optima_loss, n_obs)
    if objective == "huber_log" and terms.n_inside < n_free:
        diags.append(Diagnostic(
            "few_inside",
            f"only {terms.n_inside} residual(s) lie inside +-delta={delta:g} for "
            f"{n_free} free parameters: the fit behaves like least absolute "
            "deviations and Wald/profile intervals are rough; prefer the bootstrap.",
        ))
    if dof == 1:
        diags.append(Diagnostic(
            "low_dof",
            "1 residual degree of freedom: intervals are very wide and rest on the "
            "noise model alone.",
        ))
    return Assessment(cov_int, cov_nat, stderr, terms, dof, aic, bic, tuple(diags))


def information_criteria(r: np.ndarray, w: np.ndarray, n_free: int,
                         objective: str) -> tuple[float, float]:
    """Gaussian-likelihood AIC and BIC of the residuals on the fitted scale.

    Both count the noise variance as a parameter. They are NaN for
    ``huber_log`` fits, whose objective is not a Gaussian likelihood.
    """
    if objective == "huber_log":
        return float("nan"), float("nan")
    n_obs = int(np.count_nonzero(w))
    wn = w / w.mean()
    sigma2 = float(np.sum(wn * r**2) / max(n_obs, 1))
    loglik = -0.5 * n_obs * (np.log(2 * np.pi * max(sigma2, 1e-300)) + 1.0)
    k = n_free + 1
    return float(2 * k - 2 * loglik), float(k * np.log(max(n_obs, 1)) - 2 * loglik)


def _correlation_diagnostics(cov_int: np.ndarray, names: list[str]) -> list[Diagnostic]:
    out = []
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov_int / np.sqrt(np.outer(np.diag(cov_int), np.diag(cov_int)))
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            c = corr[i, j]
            if np.isfinite(c) and abs(c) > 0.95:
                out.append(Diagnostic(
                    "high_correlation",
                    f"corr({names[i]}, {names[j]}) = {c:+.3f} (|corr| > 0.95): they "
                    "are hard to separate on this domain; intervals of each are "
                    "wide, predictions inside the domain are not.",
                    (names[i], names[j]),
                ))
    return out


def _start_diagnostics(law: ScalingLaw, theta: np.ndarray, loss: float,
                       cov_int: np.ndarray, optima_theta: np.ndarray,
                       optima_loss: np.ndarray, n_obs: int) -> list[Diagnostic]:
    names = list(law.param_names)
    natural = law.to_natural(theta)
    se_int = np.sqrt(np.diag(cov_int))
    for t, f_alt in zip(optima_theta[1:], optima_loss[1:], strict=True):
        if not f_alt <= loss * (1.0 + 1e-3) + 1e-12 * n_obs:
            continue
        dist = np.abs(t - theta) / np.where(np.isfinite(se_int) & (se_int > 0), se_int,
                                             1.0 + np.abs(theta))
        if np.nanmax(dist) > 1.0:
            j = int(np.nanargmax(dist))
            return [Diagnostic(
                "start_disagreement",
                f"another optimum has nearly the same loss ({f_alt:.10g} vs "
                f"{loss:.10g}) but {names[j]} = {law.to_natural(t)[j]:.4g} instead "
                f"of {natural[j]:.4g} ({dist[j]:.1f} standard errors away): the "
                "optimum is not unique on this data.",
                (names[j],),
            )]
    return []
