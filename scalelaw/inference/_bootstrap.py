"""The bootstrap over rows or groups of rows, refitted from warm starts."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from scalelaw.exceptions import BootstrapWarning, DataValidationError
from scalelaw.inference._diagnostics import Diagnostic
from scalelaw.inference._scale import solver_options
from scalelaw.laws import ScalingLaw
from scalelaw.optim import Objective, levenberg_marquardt_batch

__all__ = ["MIN_BOOTSTRAP_GROUPS", "bootstrap_groups", "bootstrap_replicas", "bootstrap_weights",
           "run_bootstrap"]

#: Fewer resampling units than this make a bootstrap warn: with k units there are
#: only C(2k - 1, k) distinct resamples (3 for two seeds), so percentiles are coarse.
MIN_BOOTSTRAP_GROUPS = 10


def bootstrap_groups(data: pd.DataFrame, groups: str) -> np.ndarray:
    """The group of each fitted row, for resampling groups whole (checked: >= 2 groups)."""
    if groups not in data.columns:
        raise DataValidationError(
            f"Bootstrap group column {groups!r} is not in the fitted data; pass it as "
            "bootstrap_groups= to fit() so that it is kept.",
            column=groups,
        )
    values = data[groups].to_numpy()
    if len(np.unique(values)) < 2:
        raise DataValidationError(
            f"Bootstrap group column {groups!r} has a single group; at least 2 are needed.",
            column=groups,
        )
    return values


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
