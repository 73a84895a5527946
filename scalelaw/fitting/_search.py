"""The multi-start search: every start optimised at once, the best basins polished.

Stage 1 runs batched box-constrained L-BFGS from all starts to a loose
tolerance (it only has to find the basins). Stage 2 polishes the best
distinct basins with batched Levenberg-Marquardt to tight tolerance. The
best polished optimum is the estimate; the distinct optima are kept (they
warm-start the bootstrap and reveal optima that disagree).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scalelaw.exceptions import FitError
from scalelaw.laws import ScalingLaw
from scalelaw.optim import (
    CONVERGED_STATUSES,
    STATUS_MESSAGES,
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
    cand = np.unique(np.concatenate([np.arange(min(len(xs), MAX_WARM_STARTS)), reps]))
    pol = levenberg_marquardt_batch(
        obj.fun_grad_hess, obj.value, xs[cand], lo, hi, ftol=POLISH_FTOL,
        n_threads=n_threads, f_floor=floor,
    )
    # keep the stage-1 point if polishing did not improve it
    better = pol.fun <= stage1.fun[order][cand]
    px = np.where(better[:, None], pol.x, xs[cand])
    pf = np.where(better, pol.fun, stage1.fun[order][cand])
    pstat = np.where(better, pol.status, stage1.status[order][cand])
    idx = np.argsort(pf, kind="stable")
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
