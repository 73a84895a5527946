"""The multi-start search: every start optimised at once, the best basins polished.

Stage 1 finds the basins to a loose tolerance: batched box-constrained L-BFGS
from all starts, or (least-squares and Huber objectives from a default grid,
the defaults) the trust-region search from the prescreened best starts. Stage 2 polishes the best
distinct basins with batched Levenberg-Marquardt to tight tolerance. For
least-squares objectives (``mse``, ``mse_log``) the polish is a trust-region
Gauss-Newton method whose steps come from the SVD of the weighted Jacobian
(as MINPACK and scipy's ``trf``, but batched); it replaces stage 1 (from the
given starts, or the ``PRESCREEN_KEEP`` best of a default grid), and its
optima are final (polishing them again with the same method and tolerance
changed the mean forecast error on the 92 bundled curves by 2e-9). Huber
losses are sums of squares of transformed residuals
(:func:`~scalelaw.optim.objective.huber_root`), so they take the same
trust-region search to a loose tolerance, in place of L-BFGS from every
start; its Gauss-Newton model (iteratively reweighted least squares)
converges only linearly, so its best basins are then polished by damped
Newton steps on the exact Huber curvature, as after L-BFGS. The
best polished optimum is the estimate; the distinct optima are kept (they
warm-start the bootstrap and reveal optima that disagree). Both polishes run in
two rounds: a candidate still moving after the first continues only when it is
within 10 % of its data set's best. Backtest refits (``refit=True``) search from
fewer starts and keep the trust-region Huber optimum (see ``REFIT_PRESCREEN_KEEP``).
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
    StackedObjective,
    levenberg_marquardt_batch,
    minimize_batch,
)

__all__ = ["AT_BEST_RTOL", "MAX_WARM_STARTS", "POLISH_FTOL", "PRESCREEN_KEEP",
           "REFIT_PRESCREEN_KEEP", "REFIT_PRESCREEN_KEEP_MANY", "STAGE1_FTOL",
           "Estimate",
           "search", "search_many"]

MAX_WARM_STARTS = 8  # distinct optima kept (warm starts for bootstrap replicas)
STAGE1_FTOL = 1e-7  # multi-start search: locate basins (polished afterwards)
POLISH_FTOL = 1e-13  # Levenberg-Marquardt polish of the best basins
AT_BEST_RTOL = 1e-4  # a start "reached the best optimum" within this relative loss
#: Least-squares objectives from at most this many starts (starts the user gave) skip
#: the L-BFGS stage and run the trust-region Gauss-Newton search from every start;
#: from more (the default grids) L-BFGS finds the basins first.
TRUST_MAX_STARTS = 16
#: Least squares from more starts: prescreen them by objective (see ``search``) and
#: search from the best ``PRESCREEN_KEEP`` (``TRUST_MAX_STARTS`` for laws of more than
#: ``PRESCREEN_FEW_PARAMS`` free parameters, whose basins are more numerous). For the
#: curve laws of 3-5 parameters 8 gave the forecasts 16 gave on the 92 bundled curves
#: in half the time (bench/RESULTS.md).
PRESCREEN = True
PRESCREEN_KEEP = 8
PRESCREEN_FEW_PARAMS = 5
TRUST_MAXITER = 3000
#: The polish's first round: every candidate; then only those within 10 % of their
#: data set's best continue, for the second round. A total of 300 is what slow but
#: convergent problems need (NIST's Bennett5 from its default starts); what still
#: moves after that crawls along a ridge (M4's alpha -> 0 with eps_0 -> infinity),
#: and more iterations barely move the forecasts (bench/RESULTS.md).
TRUST_FIRST_ROUND = 100
TRUST_SECOND_ROUND = 200
#: The Huber polish (damped Newton) in the same two rounds: every candidate for the
#: first, then only those still moving and within 10 % of their data set's best,
#: up to the 500 iterations every candidate had before (the second round restarts
#: the damping). On the 92 bundled curves (M4) 63 of the 92 candidates that ran to
#: 500 ended 1e-10 to 10 % above their data set's best, crawling along M4's ridge;
#: the forecasts moved by at most 1.6e-4 in per-curve RMSLE (bench/RESULTS.md).
DAMPED_FIRST_ROUND = 60
DAMPED_SECOND_ROUND = 440
#: Backtest refits (``refit=True``: the rolling-origin refits behind calibrated
#: intervals and ``law="auto"``'s inner scores; not the chain's metric calibration,
#: which fits through ``scalelaw.fit``) search from start 0 (the reported fit's best
#: optimum for calibration refits, the law's guess for auto's) and the lowest-objective
#: prescreened starts, at most ``REFIT_PRESCREEN_KEEP`` in all (``REFIT_PRESCREEN_KEEP_MANY``
#: for laws of more than ``PRESCREEN_FEW_PARAMS`` free parameters), and keep the
#: trust-region search's Huber optimum (``STAGE1_FTOL``) unpolished. Measured
#: (tests/test_batch_fit.py): loss within 3e-6 of the full search's, or about 1 % where
#: the fewer starts miss the best basin, forecasts at 10x the data within 0.1 %;
#: auto's mean RMSLE on the 92 bundled curves 0.02841 against 0.02842
#: (bench/RESULTS.md). Unpolished optima depend on the batch they ran in at the
#: 1e-9 level, so batched and per-group backtests agree to that level, not bit for bit.
REFIT_PRESCREEN_KEEP = 4
REFIT_PRESCREEN_KEEP_MANY = 8
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


def _polish(obj: Objective, x0: np.ndarray, owner: np.ndarray, lo: np.ndarray,
            hi: np.ndarray, floors: np.ndarray, trust: bool, n_threads: int | None,
            ftol: float = POLISH_FTOL) -> Any:
    """Optimise candidates to ``ftol`` in two rounds (trust region or damped Newton).

    Every candidate gets ``TRUST_FIRST_ROUND`` iterations (``DAMPED_FIRST_ROUND``
    for the damped Newton polish of Huber losses); those still running and within
    10 % of the best loss so far on their data set (``owner``) continue for
    ``TRUST_SECOND_ROUND`` (``DAMPED_SECOND_ROUND``) more (a hopeless candidate
    must not cost the full iteration budget).
    """
    view, floor = obj.on(owner), floors[owner]

    def options(v: Any) -> dict[str, Any]:
        if not trust:  # damped Newton on the exact curvature (the Huber polish)
            return {"ftol": POLISH_FTOL, "n_threads": n_threads}
        return {"ftol": ftol, "n_threads": n_threads, "system": v.weighted_system,
                "model_system": v.model_and_system, "method": "trust"}

    rounds = ((TRUST_FIRST_ROUND, TRUST_SECOND_ROUND) if trust
              else (DAMPED_FIRST_ROUND, DAMPED_SECOND_ROUND))
    first = levenberg_marquardt_batch(view.fun_grad_hess, view.value, x0, lo, hi,
                                      maxiter=rounds[0], f_floor=floor, **options(view))
    best = np.full(len(floors), np.inf)
    np.minimum.at(best, owner, first.fun)
    more = np.flatnonzero((first.status == 3) & (first.fun <= 1.1 * best[owner] + floor))
    if more.size == 0:
        return first
    view = obj.on(owner[more])
    second = levenberg_marquardt_batch(view.fun_grad_hess, view.value, first.x[more], lo, hi,
                                       maxiter=rounds[1], f_floor=floor[more], **options(view))
    x, fun, status, n_iter = (first.x.copy(), first.fun.copy(), first.status.copy(),
                              first.n_iter.copy())
    x[more], fun[more], status[more] = second.x, second.fun, second.status
    n_iter[more] += second.n_iter
    return BatchResult(x=x, fun=fun, status=status, n_iter=n_iter,
                       n_eval=first.n_eval + second.n_eval)


def _split(batch: Any, owner: np.ndarray, n_sets: int) -> list[BatchResult]:
    """Per data set, its problems' part of a batched result (in batch order)."""
    out = []
    for k in range(n_sets):
        m = owner == k
        out.append(BatchResult(x=batch.x[m], fun=batch.fun[m], status=batch.status[m],
                               n_iter=batch.n_iter[m], n_eval=0))
    return out


def search(obj: Objective, law: ScalingLaw, starts: np.ndarray,
           n_threads: int | None = None, *, refit: bool = False) -> Estimate:
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
    refit : bool, default=False
        A backtest refit: search from fewer prescreened starts and leave the
        trust-region Huber optima unpolished (see ``REFIT_PRESCREEN_KEEP``).

    Returns
    -------
    Estimate
        The best optimum and the distinct optima.

    Raises
    ------
    FitError
        No start gave a finite objective.
    """
    if law.stackable and (obj.weights is None or obj.weights.ndim == 1):
        # a stack of one: the numbers a batch of many tables of this padded length
        # gives (fit_tables), bit for bit
        obj = StackedObjective([obj])
    out = search_many(obj, law, [starts], n_threads, refit=refit)[0]
    if isinstance(out, FitError):
        raise out
    return out


def search_many(obj: Objective, law: ScalingLaw, starts: list[np.ndarray],
                n_threads: int | None = None, *, refit: bool = False
                ) -> list[Estimate | FitError]:
    """:func:`search` on every data set of ``obj`` at once (one batch per stage).

    ``obj`` is an :class:`~scalelaw.optim.Objective` (one data set) or a
    :class:`~scalelaw.optim.StackedObjective`; ``starts[k]`` are the starts
    of data set ``k``. Each data set's estimate is what :func:`search` gives
    on it alone: the stages, rules and tolerances are per data set, and the
    problems of a batch do not interact.
    ``refit`` as in :func:`search`.

    Returns
    -------
    list of Estimate or FitError
        Per data set, its estimate, or the error when no start gave a finite
        objective.
    """
    lo, hi = law.internal_bounds()
    n_sets = len(starts)
    floors = np.array([obj.set_floor(k) for k in range(n_sets)])
    trust = obj.trust_search
    # least squares: the trust-region optima are final; Huber's are basins (polished
    # by damped Newton steps below)
    final = obj.least_squares
    ftol = POLISH_FTOL if final else STAGE1_FTOL
    # stage 1, by branch (the branch depends on the number of starts of a data set)
    stage1: list[BatchResult | None] = [None] * n_sets
    used = list(starts)
    screen = [k for k in range(n_sets) if trust and len(starts[k]) > TRUST_MAX_STARTS
              and PRESCREEN]
    direct = [k for k in range(n_sets) if trust and len(starts[k]) <= TRUST_MAX_STARTS]
    lbfgs = [k for k in range(n_sets) if k not in screen and k not in direct]
    if screen:
        # least squares from a default grid: the trust-region Gauss-Newton search
        # converges in tens of iterations where L-BFGS takes hundreds on curved
        # laws; it runs from the n_keep starts with the lowest objective
        # (the first start, the law's data-driven guess, always among them)
        n_keep = (PRESCREEN_KEEP if np.count_nonzero(lo < hi) <= PRESCREEN_FEW_PARAMS
                  else TRUST_MAX_STARTS)
        if refit:
            n_keep = min(n_keep, REFIT_PRESCREEN_KEEP if n_keep == PRESCREEN_KEEP
                         else REFIT_PRESCREEN_KEEP_MANY)
        owner = np.concatenate([np.full(len(starts[k]), k) for k in screen])
        f0 = obj.on(owner).value(np.concatenate([starts[k] for k in screen]))
        at = 0
        for k in screen:
            fk = f0[at:at + len(starts[k])]
            at += len(starts[k])
            keep = np.argsort(np.where(np.isfinite(fk), fk, np.inf), kind="stable")
            keep = np.unique(np.concatenate([[0], keep[: n_keep - 1]]))
            used[k] = starts[k][keep]
        # two rounds (as the polish): a start still running after TRUST_FIRST_ROUND
        # iterations continues only when it is within 10 % of the best loss so far
        _run_stage(stage1, screen, used, lambda x0, own: _polish(
            obj, x0, own, lo, hi, floors, True, n_threads, ftol))
    if direct:
        # least squares from few starts: trust-region Gauss-Newton to tight
        # tolerance straight away (robust from far starts; NIST StRD)
        def run_direct(x0: np.ndarray, own: np.ndarray) -> Any:
            view = obj.on(own)
            return levenberg_marquardt_batch(
                view.fun_grad_hess, view.value, x0, lo, hi, ftol=ftol,
                maxiter=TRUST_MAXITER, n_threads=n_threads, f_floor=floors[own],
                system=view.weighted_system, model_system=view.model_and_system,
                method="trust")
        _run_stage(stage1, direct, used, run_direct)
    if lbfgs:
        _run_stage(stage1, lbfgs, used, lambda x0, own: minimize_batch(
            obj.on(own), x0, lo, hi, ftol=STAGE1_FTOL, maxiter=300, n_threads=n_threads,
            f_floor=floors[own]))
    # stage 2: the best distinct basins of every data set; after L-BFGS they are
    # polished (one batch over the data sets); after the trust-region search they
    # already are for least squares, and Huber's are polished below (except for a
    # backtest refit)
    results: list[Estimate | FitError] = [None] * n_sets  # type: ignore[list-item]
    picks: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for k in range(n_sets):
        s1 = stage1[k]
        assert s1 is not None
        if not np.isfinite(s1.fun).any():
            results[k] = FitError(
                f"No starting point gave a finite objective for law {law.name!r} "
                f"({len(used[k])} tried). Check that the law can produce positive "
                "predictions on these inputs, or give p0=.",
                attempts={"n_starts": len(used[k])},
            )
            continue
        picks[k] = _candidates(s1)
    # stage 1 was already the polish itself (least squares), or is final for a
    # backtest refit
    polished = set(screen) | set(direct) if final or refit else set()
    again = [k for k in picks if k not in polished]
    pol: list[BatchResult] = [None] * n_sets  # type: ignore[list-item]
    if again:
        owner = np.concatenate([np.full(len(picks[k][1]), k) for k in again])
        x0 = np.concatenate([picks[k][0][picks[k][1]] for k in again])
        pol = _split(_polish(obj, x0, owner, lo, hi, floors, final, n_threads), owner,
                     n_sets)
    for k in picks:
        xs, cand, order = picks[k]
        s1 = stage1[k]
        done = pol[k] if k in again else BatchResult(  # type: ignore[index]
            x=xs[cand], fun=s1.fun[order][cand], status=s1.status[order][cand],
            n_iter=s1.n_iter[order][cand], n_eval=0)
        results[k] = _estimate(s1, done, picks[k], used[k], floors[k], obj.n_rows(k))
    return results


def _run_stage(stage1: list[Any], sets: list[int], starts: list[np.ndarray], run: Any
               ) -> None:
    """Run one batch over the starts of ``sets``; store each data set's part."""
    owner = np.concatenate([np.full(len(starts[k]), k) for k in sets])
    res = run(np.concatenate([starts[k] for k in sets]), owner)
    parts = _split(res, owner, len(stage1))
    for k in sets:
        stage1[k] = parts[k]


def _candidates(stage1: BatchResult) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stage-1 points best first, which of them to polish, and the order."""
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
    return xs, cand, order


def _estimate(stage1: BatchResult, pol: BatchResult, pick: Any, starts: np.ndarray,
              floor: float, n_rows: int) -> Estimate:
    """The best polished optimum and the distinct optima of one data set."""
    xs, cand, order = pick
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
    at_best = stage1.fun <= loss * (1.0 + AT_BEST_RTOL) + 1e-12 * n_rows
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
