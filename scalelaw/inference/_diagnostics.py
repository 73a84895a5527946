"""Findings about a fit (:class:`Diagnostic`) and the assessment of an optimum."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from scalelaw.inference._scale import (
    ScaleTerms,
    free_mask,
    information_criteria,
    scale_terms,
    wald_covariance,
)
from scalelaw.laws import ScalingLaw
from scalelaw.optim import Objective

__all__ = ["Assessment", "Diagnostic", "assess"]


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
        # a log-scale parameter driven to 0 at both optima (exp underflows) is the same
        # value however far apart its logarithms are: not a disagreement
        dist = np.where(law.to_natural(t) == natural, 0.0, dist)
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
