"""Residual scale, Wald covariance, free parameters and information criteria."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from scalelaw.laws import ScalingLaw
from scalelaw.optim import Objective, psi

__all__ = ["ScaleTerms", "free_mask", "information_criteria", "scale_terms",
           "solver_options", "wald_covariance"]


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
    slope = special.ndtr((delta - r) / h) - special.ndtr((-delta - r) / h)
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
    if not np.all(np.isfinite(info)):  # a non-finite Jacobian: no Wald covariance
        return cov, np.inf
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
