"""What the batched optimisers share: result type, status codes, tests, helpers."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from scalelaw.exceptions import DataValidationError

__all__ = ["CONVERGED_STATUSES", "SMALL_STEPS_TO_STOP", "STATIONARY_RTOL", "STATUS_MESSAGES",
           "BatchResult", "default_threads"]

STATUS_MESSAGES = {
    0: "converged: relative decrease below ftol",
    1: "converged: projected gradient below gtol",
    2: "converged: no further decrease possible, and the remaining decrease the "
       "gradient allows is below rounding (first-order test passed)",
    3: "stopped: iteration limit reached",
    4: "failed: objective not finite at the start",
    5: "stopped: no further decrease possible, but the gradient is not negligible "
       "(first-order test failed)",
}
CONVERGED_STATUSES = (0, 1, 2)
#: First-order test for a search that can no longer decrease the objective: the
#: remaining decrease the local model allows (the Newton decrement g^T H^+ g / 2
#: for Levenberg-Marquardt, the projected-gradient step for L-BFGS) must be below
#: this fraction of the objective plus the objective's rounding floor (``f_floor``:
#: what rounding errors of the residuals alone contribute).
STATIONARY_RTOL = 1e-10
#: Levenberg-Marquardt stops on a small relative decrease only after this many
#: accepted steps in a row decreased the objective by less than ``ftol``.
SMALL_STEPS_TO_STOP = 3


@dataclass(frozen=True)
class BatchResult:
    """Outcome of :func:`minimize_batch` (one entry per problem)."""

    x: np.ndarray
    fun: np.ndarray
    status: np.ndarray
    n_iter: np.ndarray
    n_eval: int

    @property
    def converged(self) -> np.ndarray:
        """Boolean mask of problems that met a convergence test."""
        return np.isin(self.status, CONVERGED_STATUSES)


#: Set in worker processes that already split the CPUs between them (the backtest's
#: pool sets 1): their optimisers then run on this many threads.
THREADS_IN_WORKER: int | None = None


def set_worker_threads(n: int | None) -> None:
    """Run this process's optimisers on ``n`` threads (None: the CPUs it may use, up to 8).

    For worker processes that already share the CPUs between them (the
    backtest's pool sets 1 in each worker). It changes this process only.

    Examples
    --------
    >>> set_worker_threads(1); default_threads()
    1
    >>> set_worker_threads(None)
    """
    global THREADS_IN_WORKER
    if n is not None and (not isinstance(n, int) or n < 1):
        raise DataValidationError(f"n must be an int >= 1 or None; got {n!r}.", column="n")
    THREADS_IN_WORKER = n


def default_threads() -> int:
    """Number of worker threads: the CPUs this process may use, at most 8."""
    if THREADS_IN_WORKER is not None:
        return THREADS_IN_WORKER
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        n = os.cpu_count() or 1
    return max(1, min(n, 8))


def _safe(f: np.ndarray) -> np.ndarray:
    f = np.asarray(f, dtype=np.float64)
    return np.where(np.isfinite(f), f, np.inf)


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("bp,bp->b", a, b)


