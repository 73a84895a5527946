"""One law on one prepared table: search, assess, and build the result."""

from __future__ import annotations

import functools
import platform
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from scalelaw._validation import check_random_state
from scalelaw.fitting._data import prepare_data
from scalelaw.fitting._search import POLISH_FTOL, STAGE1_FTOL, Estimate, search
from scalelaw.fitting._starts import starting_points
from scalelaw.inference import assess
from scalelaw.laws import Inputs, ScalingLaw
from scalelaw.optim import Objective
from scalelaw.results import FitResult

__all__ = ["build_result", "fit_prepared", "fit_settings", "fit_table", "problem",
           "versions"]


def versions() -> dict[str, str]:
    """Versions of scalelaw and the libraries a fit depends on (for results)."""
    return dict(_versions())


@functools.cache
def _versions() -> tuple[tuple[str, str], ...]:
    from importlib import metadata

    import scipy

    try:
        own = metadata.version("scalelaw")
    except metadata.PackageNotFoundError:  # pragma: no cover - source checkout
        own = "0+unknown"
    return (("scalelaw", own), ("numpy", np.__version__), ("scipy", scipy.__version__),
            ("pandas", pd.__version__), ("python", platform.python_version()))


def fit_prepared(
    law: ScalingLaw,
    frame: pd.DataFrame,
    *,
    x: list[str],
    y: str,
    objective: str,
    delta: float,
    level: float,
    excluded: dict[str, int],
    starts: int | np.ndarray | None,
    p0: Mapping[str, float] | None,
    rng: np.random.Generator,
    settings: dict[str, Any],
    n_threads: int | None = None,
    refit: bool = False,
) -> FitResult:
    """Fit ``law`` to a table that :func:`~scalelaw.fitting.prepare_data` produced.

    Parameters
    ----------
    law : ScalingLaw
        The law.
    frame : pandas.DataFrame
        Columns ``x``, ``y``, ``weight`` (and any kept columns).
    x, y
        Input and target columns.
    objective, delta, level
        As in :func:`scalelaw.fit`.
    excluded : dict
        Rows excluded by the data checks, per reason.
    starts, p0
        As in :func:`scalelaw.fit`.
    rng : numpy.random.Generator
        For drawn starts.
    settings : dict
        Settings recorded in the result.
    n_threads : int, optional
        Optimiser threads.
    refit : bool, default=False
        A backtest refit (the search's ``refit`` effort).

    Returns
    -------
    FitResult
        The result (no bootstrap, no calibration).
    """
    obj, start_points = problem(law, frame, x=x, y=y, objective=objective, delta=delta,
                                starts=starts, p0=p0, rng=rng)
    est = search(obj, law, start_points, n_threads, refit=refit)
    return build_result(law, frame, obj, est, x=x, y=y, objective=objective, delta=delta,
                        level=level, excluded=excluded, settings=settings,
                        n_threads=n_threads)


def problem(law: ScalingLaw, frame: pd.DataFrame, *, x: list[str], y: str, objective: str,
            delta: float, starts: int | np.ndarray | None, p0: Mapping[str, float] | None,
            rng: np.random.Generator) -> tuple[Objective, np.ndarray]:
    """The objective of ``law`` on a prepared table, and its starting points."""
    yv = frame[y].to_numpy(dtype=np.float64)
    w = frame["weight"].to_numpy(dtype=np.float64)
    inputs = Inputs([frame[c].to_numpy(dtype=np.float64) for c in x])
    start_points = starting_points(law, inputs, yv, starts, p0, rng)
    obj = Objective(law, inputs, yv, objective, delta,
                    weights=None if np.all(w == 1.0) else w)
    return obj, start_points


def build_result(law: ScalingLaw, frame: pd.DataFrame, obj: Objective, est: Estimate, *,
                 x: list[str], y: str, objective: str, delta: float, level: float,
                 excluded: dict[str, int], settings: dict[str, Any],
                 n_threads: int | None) -> FitResult:
    """The :class:`FitResult` of a search on a prepared table (uncertainty included)."""
    w = frame["weight"].to_numpy(dtype=np.float64)
    a = assess(law, obj, est.theta, est.loss, weights=w, objective=objective,
               delta=delta, converged=est.converged, message=est.message,
               optima_theta=est.optima_theta, optima_loss=est.optima_loss)
    names = list(law.param_names)
    optima = pd.DataFrame(law.to_natural(est.optima_theta), columns=names)
    optima["loss"] = est.optima_loss
    return FitResult(
        law=law,
        x=tuple(x),
        y=y,
        params=pd.Series(law.to_natural(est.theta), index=names, dtype=np.float64),
        stderr=pd.Series(a.stderr, index=names, dtype=np.float64),
        cov=pd.DataFrame(a.cov, index=names, columns=names),
        theta=est.theta.copy(),
        cov_internal=a.cov_internal,
        objective=objective,
        delta=delta,
        loss=est.loss,
        n_obs=len(frame),
        dof_resid=a.dof_resid,
        aic=a.aic,
        bic=a.bic,
        converged=est.converged,
        message=est.message,
        n_starts=est.n_starts,
        n_starts_converged=est.n_converged,
        n_starts_at_best=est.n_at_best,
        optima=optima,
        data=frame,
        domain={c: (float(frame[c].min()), float(frame[c].max())) for c in x},
        excluded=excluded,
        diagnostics=a.diagnostics,
        scale=a.terms.to_dict(),
        level=level,
        bootstrap=None,
        bootstrap_info={},
        settings={**settings, "stage1_ftol": STAGE1_FTOL, "polish_ftol": POLISH_FTOL,
                  "n_threads": n_threads},
        versions=versions(),
    )


def fit_table(
    law: ScalingLaw,
    data: Any,
    *,
    x: list[str],
    y: str,
    objective: str,
    delta: float,
    level: float,
    weights: Any,
    starts: int | np.ndarray | None,
    p0: Mapping[str, float] | None,
    random_state: Any,
    drop_invalid: bool,
    keep: list[str],
    n_threads: int | None,
    refit: bool = False,
) -> FitResult:
    """Check the data and fit one law (the core of :func:`scalelaw.fit`).

    Draws of starts use ``random_state``; without one they use a fixed seed,
    so a fit without a seed is deterministic. ``refit``: a backtest refit
    (see :func:`~scalelaw.fitting._search.search`).

    Returns
    -------
    FitResult
        The result (no bootstrap, no calibration).
    """
    frame, excluded = prepare_data(
        data, law, x=x, y=y, objective=objective, weights=weights, keep=keep,
        drop_invalid=drop_invalid,
    )
    rng, settings = fit_settings(starts, p0, random_state, weights)
    return fit_prepared(law, frame, x=x, y=y, objective=objective, delta=delta,
                        level=level, excluded=excluded, starts=starts, p0=p0, rng=rng,
                        settings=settings, n_threads=n_threads, refit=refit)


def fit_settings(starts: Any, p0: Mapping[str, float] | None, random_state: Any,
                 weights: Any) -> tuple[np.random.Generator, dict[str, Any]]:
    """The generator of drawn starts (seed 0 without one) and the settings recorded."""
    seed = int(random_state) if isinstance(random_state, int | np.integer) else None
    rng = check_random_state(0 if random_state is None else random_state)
    settings = {
        "starts": "default" if starts is None else (
            int(starts) if isinstance(starts, int | np.integer) else "array"),
        "p0": None if p0 is None else {k: float(v) for k, v in dict(p0).items()},
        "random_state": seed,
        "weights": None if weights is None else (
            weights if isinstance(weights, str) else "array"),
    }
    return rng, settings
