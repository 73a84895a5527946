"""Fits of an :class:`~scalelaw.laws.AverageLaw`: each member fitted alone, then combined.

The combined result's covariance is the joint covariance of the members'
estimates. Each member's estimate is, to first order,
``theta_i - theta_i* = (J_i' W J_i)^-1 J_i' W eps`` with the same noise
``eps`` for every member (they are fitted to the same rows), so
``cov(theta_i, theta_j) = c_ij (J_i' W J_i)^-1 J_i' W J_j (J_j' W J_j)^-1``
with ``c_ij = sqrt(f_i f_j)`` and ``f_i`` the member's Wald factor
(``K^2 s2 / m^2``, :mod:`scalelaw.inference`); for ``i = j`` it is the
member's own Wald covariance. The residual scale, AIC and BIC come from the
average's residuals, with the members' free parameters counted together.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from scalelaw.inference import Diagnostic, free_mask, information_criteria, scale_terms
from scalelaw.laws import AverageLaw, Inputs
from scalelaw.optim import Objective
from scalelaw.results import FitResult

__all__ = ["combine_fits"]


def combine_fits(law: AverageLaw, fits: list[FitResult]) -> FitResult:
    """The fit of ``law`` from its members' fits on the same table.

    Parameters
    ----------
    law : AverageLaw
        The average.
    fits : list of FitResult
        One fit per member, in order, all on the same rows and objective.

    Returns
    -------
    FitResult
        The average's result (no bootstrap, no calibration).
    """
    first = fits[0]
    frame = first.data
    x, y = list(first.x), first.y
    w = frame["weight"].to_numpy(dtype=np.float64)
    inputs = Inputs([frame[c].to_numpy(dtype=np.float64) for c in x])
    yv = frame[y].to_numpy(dtype=np.float64)

    def objective_of(member: Any) -> Objective:
        return Objective(member, inputs, yv, first.objective, first.delta,
                         weights=None if np.all(w == 1.0) else w)

    theta = np.concatenate([f.theta for f in fits])
    obj = objective_of(law)
    r = obj.residuals(theta[None, :], jac=False)[0][0]
    loss = float(obj.value(theta[None, :])[0])
    cov = _joint_covariance(law, fits, [objective_of(m) for m in law.members], w)
    natural = law.to_natural(theta)
    dmap = np.where(law.log_mask, natural, 1.0)  # d natural / d internal
    cov_nat = cov * np.outer(dmap, dmap)
    names = list(law.param_names)
    n_obs = int(np.count_nonzero(w))
    n_free = int(sum(free_mask(m, f.theta)[0].sum() for m, f in zip(law.members, fits,
                                                                      strict=True)))
    terms = scale_terms(r, w, first.objective, first.delta, n_free)
    aic, bic = information_criteria(r, w, n_free, first.objective)
    diagnostics = tuple(
        Diagnostic(d.code, f"{lab}: {d.message}", tuple(f"{lab}.{p}" for p in d.params))
        for lab, f in zip(law.labels, fits, strict=True) for d in f.diagnostics)
    converged = all(f.converged for f in fits)
    message = "; ".join(f"{lab}: {f.message}" for lab, f in zip(law.labels, fits,
                                                                strict=True))
    optima = pd.DataFrame([natural], columns=names)
    optima["loss"] = loss
    members = {lab: {"loss": f.loss, "converged": f.converged, "aic": f.aic}
               for lab, f in zip(law.labels, fits, strict=True)}
    return FitResult(
        law=law, x=tuple(x), y=y,
        params=pd.Series(natural, index=names, dtype=np.float64),
        stderr=pd.Series(np.sqrt(np.diag(cov_nat)), index=names, dtype=np.float64),
        cov=pd.DataFrame(cov_nat, index=names, columns=names),
        theta=theta, cov_internal=cov, objective=first.objective, delta=first.delta,
        loss=loss, n_obs=n_obs, dof_resid=n_obs - n_free, aic=aic, bic=bic,
        converged=converged, message=message,
        n_starts=sum(f.n_starts for f in fits),
        n_starts_converged=sum(f.n_starts_converged for f in fits),
        n_starts_at_best=min(f.n_starts_at_best for f in fits),
        optima=optima, data=frame, domain=dict(first.domain), excluded=dict(first.excluded),
        diagnostics=diagnostics, scale=terms.to_dict(), level=first.level, bootstrap=None,
        bootstrap_info={}, settings={**first.settings, "members": members},
        versions=dict(first.versions),
    )


def _joint_covariance(law: AverageLaw, fits: list[FitResult], objectives: list[Objective],
                      w: np.ndarray) -> np.ndarray:
    """Joint Wald covariance of the members' estimates (optimiser coordinates)."""
    p = len(law.params)
    cov = np.full((p, p), np.nan)
    blocks = []
    for f, o in zip(fits, objectives, strict=True):
        _, grads = o.residuals(f.theta[None, :])
        n = len(w)
        jac = np.stack([np.broadcast_to(g, (1, n))[0] for g in grads], axis=1)
        t = f.scale
        factor = t["k"] ** 2 * t["s2"] / max(t["m"] ** 2, 1e-300)
        own = np.asarray(f.cov_internal, dtype=np.float64)
        free = np.isfinite(np.diag(own))
        # (J' W J)^-1 on the free parameters: the member's covariance over its factor
        inv = own[np.ix_(free, free)] / factor if factor > 0 else None
        blocks.append((jac[:, free], inv, factor, free))
    for i, sl_i in enumerate(law.slices):
        ji, inv_i, f_i, free_i = blocks[i]
        for j, sl_j in enumerate(law.slices):
            jj, inv_j, f_j, free_j = blocks[j]
            if inv_i is None or inv_j is None:
                continue
            cross = inv_i @ ((ji * w[:, None]).T @ jj) @ inv_j * np.sqrt(f_i * f_j)
            rows = np.arange(sl_i.start, sl_i.stop)[free_i]
            cols = np.arange(sl_j.start, sl_j.stop)[free_j]
            cov[np.ix_(rows, cols)] = cross
    return cov
