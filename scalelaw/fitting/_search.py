"""The multi-start search: every start optimised at once, the best basins polished.

Stage 1 runs batched box-constrained L-BFGS from all starts to a loose
tolerance (it only has to find the basins). Stage 2 polishes the best
distinct basins with batched Levenberg-Marquardt to tight tolerance. For
least-squares objectives (``mse``, ``mse_log``) the polish is a trust-region
Gauss-Newton method whose steps come from the SVD of the weighted Jacobian
(as MINPACK and scipy's ``trf``, but batched); from up to
``TRUST_MAX_STARTS`` starts it replaces stage 1 too. The
best polished optimum is the estimate; the distinct optima are kept (they
warm-start the bootstrap and reveal optima that disagree).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from scalelaw.exceptions import FitError
from scalelaw.laws import ScalingLaw
from scalelaw.optim import (
    CONVERGED_STATUSES,
    STATUS_MESSAGES,
    BatchResult,
    Objective,
    levenberg_marquardt_batch,
    minimize_batch,
)

__all__ = ["AT_BEST_RTOL", "MAX_WARM_STARTS", "POLISH_FTOL", "STAGE1_FTOL", "Estimate",
           "search"]

MAX_WARM_STARTS = 8  # distinct optima kept (warm starts for bootstrap replicas)
STAGE1_FTOL = 1e-7  # multi-start search: locate basins (polished afterwards)
POLISH_FTOL = 1e-13  # Levenberg-Marquardt polish of the best basins
AT_BEST_RTOL = 1e-4  # a start "reached the best optimum" within this relative loss
#: Least-squares objectives from at most this many starts (starts the user gave) skip
#: the L-BFGS stage and run the trust-region Gauss-Newton search from every start;
#: from more (the default grids) L-BFGS finds the basins first.
TRUST_MAX_STARTS = 16
#: Least squares from more starts: prescreen them by objective (see ``search``).
PRESCREEN = True
TRUST_MAXITER = 3000
TRUST_FIRST_ROUND = 200
TIE_RTOL = 1e-10  # optima this close in loss (or within rounding) are one fit


@dataclass(frozen=True)
class Estimate:
    """Outcome of :func:`search`.

    Attributes
    ----------
    theta : ndarray of shape (p,)
        Best optimum (optimiser coordinates).
    loss : float
        Its objective.
    status : int
        Optimiser status of the best optimum (see ``scalelaw.optim.STATUS_MESSAGES``).
    optima_theta, optima_loss : ndarray
        Distinct optima, best first.
    n_starts, n_converged, n_at_best : int
        Starts tried, starts whose stage-1 search converged, and starts that
        reached the best optimum.
    """

    theta: np.ndarray
    loss: float
    status: int
    optima_theta: np.ndarray
    optima_loss: np.ndarray
    n_starts: int
    n_converged: int
    n_at_best: int

    @property
    def converged(self) -> bool:
        """Whether the best optimum met a convergence test."""
        return self.status in CONVERGED_STATUSES

    @property
    def message(self) -> str:
        """The optimiser's message for the best optimum."""
        return STATUS_MESSAGES.get(self.status, f"status {self.status}")


def _polish(obj: Objective, x0: np.ndarray, lo: np.ndarray, hi: np.ndarray, floor: float,
            trust: bool, n_threads: int | None) -> Any:
    """Polish candidates to tight tolerance; the trust-region search goes in two rounds.

    Every candidate gets ``TRUST_FIRST_ROUND`` iterations; those still running
    and within 10 % of the best loss so far continue to ``TRUST_MAXITER`` (a
    hopeless candidate must not cost the full iteration budget).
    """
    if not trust:
        return levenberg_marquardt_batch(obj.fun_grad_hess, obj.value, x0, lo, hi,
                                         ftol=POLISH_FTOL, n_threads=n_threads, f_floor=floor)
    kw = {"ftol": POLISH_FTOL, "n_threads": n_threads, "f_floor": floor,
          "system": obj.weighted_system, "method": "trust"}
    first = levenberg_marquardt_batch(obj.fun_grad_hess, obj.value, x0, lo, hi,
                                      maxiter=TRUST_FIRST_ROUND, **kw)
    best = float(np.min(first.fun))
    more = np.flatnonzero((first.status == 3) & (first.fun <= 1.1 * best + floor))
    if more.size == 0:
        return first
    second = levenberg_marquardt_batch(obj.fun_grad_hess, obj.value, first.x[more], lo, hi,
                                       maxiter=TRUST_MAXITER, **kw)
    x, fun, status, n_iter = (first.x.copy(), first.fun.copy(), first.status.copy(),
                              first.n_iter.copy())
    x[more], fun[more], status[more] = second.x, second.fun, second.status
    n_iter[more] += second.n_iter
    return BatchResult(x=x, fun=fun, status=status, n_iter=n_iter,
                       n_eval=first.n_eval + second.n_eval)


def search(obj: Objective, law: ScalingLaw, starts: np.ndarray,
           n_threads: int | None = None) -> Estimate:
    """Optimise all ``starts`` together, then polish the best distinct basins.

    Parameters
    ----------
    obj : Objective
        The objective on the data.
    law : ScalingLaw
        The law (bounds).
    starts : ndarray of shape (k, p)
        Starting points (optimiser coordinates).
    n_threads : int, optional
        Worker threads.

    Returns
    -------
    Estimate
        The best optimum and the distinct optima.

    Raises
    ------
    FitError
        No start gave a finite objective.
    """
    lo, hi = law.internal_bounds()
    floor = obj.rounding_floor()
    trust = obj.least_squares
    if trust and len(starts) > TRUST_MAX_STARTS and PRESCREEN:
        # least squares from a default grid: the trust-region Gauss-Newton search
        # converges in tens of iterations where L-BFGS takes hundreds on curved
        # laws; it runs from the TRUST_MAX_STARTS starts with the lowest objective
        # (the first start, the law's data-driven guess, always among them)
        f0 = obj.value(starts)
        keep = np.argsort(np.where(np.isfinite(f0), f0, np.inf), kind="stable")
        keep = np.unique(np.concatenate([[0], keep[: TRUST_MAX_STARTS - 1]]))
        starts = starts[keep]
        # two rounds (as the polish): a start still running after TRUST_FIRST_ROUND
        # iterations continues only when it is within 10 % of the best loss so far
        stage1 = _polish(obj, starts, lo, hi, floor, True, n_threads)
    elif trust and len(starts) <= TRUST_MAX_STARTS:
        # least squares from few starts: trust-region Gauss-Newton to tight
        # tolerance straight away (robust from far starts; NIST StRD)
        stage1 = levenberg_marquardt_batch(
            obj.fun_grad_hess, obj.value, starts, lo, hi, ftol=POLISH_FTOL,
            maxiter=TRUST_MAXITER, n_threads=n_threads, f_floor=floor,
            system=obj.weighted_system, method="trust")
    else:
        stage1 = minimize_batch(obj, starts, lo, hi, ftol=STAGE1_FTOL, maxiter=300,
                                n_threads=n_threads, f_floor=floor)
    if not np.isfinite(stage1.fun).any():
        raise FitError(
            f"No starting point gave a finite objective for law {law.name!r} "
            f"({len(starts)} tried). Check that the law can produce positive "
            "predictions on these inputs, or give p0=.",
            attempts={"n_starts": len(starts)},
        )
    order = np.argsort(stage1.fun, kind="stable")
    order = order[np.isfinite(stage1.fun[order])]
    xs = stage1.x[order]
    # representatives of coarse clusters, so that distinct basins are polished
    reps: list[int] = []
    scale = 1.0 + np.abs(xs)
    for i in range(len(xs)):
        if len(reps) >= 2 * MAX_WARM_STARTS:
            break
        if not reps or np.all(
            np.max(np.abs(xs[reps] - xs[i]) / scale[reps], axis=1) > 0.05
        ):
            reps.append(i)
    # the first start (the user's p0, or the law's data-driven guess) is always polished
    first = np.flatnonzero(order == 0)
    cand = np.unique(np.concatenate([np.arange(min(len(xs), MAX_WARM_STARTS)), reps,
                                     first]))
    pol = _polish(obj, xs[cand], lo, hi, floor, trust, n_threads)
    # keep the stage-1 point if polishing did not improve it
    better = pol.fun <= stage1.fun[order][cand]
    px = np.where(better[:, None], pol.x, xs[cand])
    pf = np.where(better, pol.fun, stage1.fun[order][cand])
    pstat = np.where(better, pol.status, stage1.status[order][cand])
    idx = np.argsort(pf, kind="stable")
    # optima whose losses differ by rounding only are the same fit (a law with a
    # symmetry, such as a sum of exponentials whose terms can swap labels): the
    # one closest to the first start (the user's p0 or the law's guess) comes first
    tie = pf <= pf[idx[0]] + max(TIE_RTOL * abs(pf[idx[0]]), floor)
    if np.count_nonzero(tie) > 1:
        near = np.max(np.abs(px - starts[0]) / (1.0 + np.abs(starts[0])), axis=1)
        ties = np.flatnonzero(tie)
        lead = ties[np.argmin(near[ties])]
        idx = np.concatenate([[lead], idx[idx != lead]])
    distinct: list[int] = []
    for i in idx:
        same = [
            j for j in distinct
            if np.max(np.abs(px[i] - px[j]) / (1.0 + np.abs(px[j]))) < 1e-4
        ]
        if not same:
            distinct.append(i)
        if len(distinct) >= MAX_WARM_STARTS:
            break
    loss = float(pf[distinct[0]])
    at_best = stage1.fun <= loss * (1.0 + AT_BEST_RTOL) + 1e-12 * obj.target.size
    return Estimate(
        theta=px[distinct[0]].copy(),
        loss=loss,
        status=int(pstat[distinct[0]]),
        optima_theta=px[distinct],
        optima_loss=pf[distinct],
        n_starts=len(starts),
        n_converged=int(stage1.converged.sum()),
        n_at_best=int(at_best.sum()),
    )
