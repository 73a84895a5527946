"""Profile-objective intervals: every parameter fixed on a grid, the others refitted."""

from __future__ import annotations

import numpy as np
from scipy import special

from scalelaw.inference._scale import ScaleTerms, solver_options
from scalelaw.laws import ScalingLaw
from scalelaw.optim import Objective, levenberg_marquardt_batch

__all__ = ["profile_intervals", "profile_threshold"]


def profile_threshold(level: float, dof: int) -> float:
    """Critical value of the profile statistic: the F(1, dof) quantile (NaN if dof < 1)."""
    if dof < 1:
        return float("nan")
    return float(special.fdtri(1, dof, level))


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
