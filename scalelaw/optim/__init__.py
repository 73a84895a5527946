"""Objectives and batched optimisers: many small minimisations as one array problem.

* :class:`Objective`: the fitting objective of a law on one data set (Huber
  or squared log residuals, or squared raw residuals), its gradient and
  Gauss-Newton Hessian, for a whole batch of parameter vectors;
  :class:`StackedObjective`: the same on many data sets at once (one batch
  spans them all);
* :func:`minimize_batch`: box-constrained L-BFGS over a batch of problems;
* :func:`levenberg_marquardt_batch`: damped Gauss-Newton over a batch, used
  to polish optima, refit bootstrap replicas and profile parameters.

These are the engine under :func:`scalelaw.fit`; they know nothing of data
tables or results.
"""

from scalelaw.optim._common import (
    CONVERGED_STATUSES,
    STATUS_MESSAGES,
    BatchResult,
    default_threads,
    set_worker_threads,
)
from scalelaw.optim.lbfgs import minimize_batch
from scalelaw.optim.lm import levenberg_marquardt_batch
from scalelaw.optim.objective import (
    OBJECTIVES,
    Objective,
    StackedObjective,
    is_log,
    psi,
    rho,
)

__all__ = [
    "CONVERGED_STATUSES",
    "OBJECTIVES",
    "STATUS_MESSAGES",
    "BatchResult",
    "Objective",
    "StackedObjective",
    "default_threads",
    "is_log",
    "levenberg_marquardt_batch",
    "minimize_batch",
    "psi",
    "rho",
    "set_worker_threads",
]
