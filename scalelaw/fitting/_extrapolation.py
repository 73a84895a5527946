"""Rolling-origin backtests inside the training data, and extrapolation calibration.

:func:`backtest_errors` refits a law on the rows below a cut of the
normalised log scale (0 = smallest run, 1 = largest) and measures its log
errors on the rows above. :func:`calibrate` turns those errors into the
growth of forecast error with distance beyond the domain
(:class:`~scalelaw.forecast.ExtrapolationCalibration`) and returns a new
result that carries it. Law selection (``law="auto"``) scores candidates
with the same backtests.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from scalelaw.exceptions import DataValidationError, ScaleLawError
from scalelaw.fitting._single import fit_table
from scalelaw.forecast import (
    calibration_from_errors,
    extrapolation_distance,
    log_residual_sd,
)
from scalelaw.laws import Inputs, ScalingLaw, get_law
from scalelaw.results import CombinedFit, FitResult

__all__ = ["DEFAULT_CUTS", "backtest_errors", "calibrate", "check_cuts", "normalised_scale"]

#: Cut positions of the backtests, on the normalised log scale of the inputs.
DEFAULT_CUTS = (0.5, 0.65, 0.8)


def normalised_scale(frame: pd.DataFrame, x: Sequence[str]) -> np.ndarray:
    """Sum of the log inputs rescaled to [0, 1]: 0 smallest run, 1 largest.

    For two inputs N and D this orders runs by compute (``log N + log D``).

    Parameters
    ----------
    frame : pandas.DataFrame
        Runs with positive input columns ``x``.
    x : sequence of str
        Input columns.

    Returns
    -------
    numpy.ndarray
        One value in [0, 1] per row.

    Examples
    --------
    >>> normalised_scale(pd.DataFrame({"n": [1e6, 1e7, 1e8]}), ["n"]).tolist()
    [0.0, 0.5, 1.0]
    """
    u = np.sum([np.log(frame[c].to_numpy(dtype=np.float64)) for c in x], axis=0)
    span = u.max() - u.min()
    return (u - u.min()) / span if span > 0 else np.zeros_like(u)


def check_cuts(cuts: Sequence[float]) -> tuple[float, ...]:
    """Validate cut positions (fractions strictly between 0 and 1)."""
    out = tuple(float(c) for c in cuts)
    if not out or not all(0.0 < c < 1.0 for c in out):
        raise DataValidationError(
            f"The 'cuts' parameter must hold fractions strictly between 0 and 1. Got "
            f"{list(cuts)!r} instead.",
            column="cuts",
        )
    return out


def _warning_note(caught: list[warnings.WarningMessage]) -> str:
    kinds: dict[str, int] = {}
    for w in caught:
        kinds[w.category.__name__] = kinds.get(w.category.__name__, 0) + 1
    return ", ".join(f"{v} {k}" for k, v in sorted(kinds.items()))


def backtest_errors(
    law: str | ScalingLaw,
    frame: pd.DataFrame,
    x: list[str],
    y: str,
    cuts: Sequence[float],
    fit_kwargs: dict[str, Any],
    *,
    starts: Callable[[pd.DataFrame], np.ndarray] | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Fit ``law`` on the rows below each cut and measure the log errors above it.

    A cut is skipped (with a note) when fewer than ``p + 2`` rows lie below it
    or none above, and when its fit fails. Warnings raised by a refit are
    recorded in the notes (by kind and count), not shown.

    Parameters
    ----------
    law : str or ScalingLaw
        The law.
    frame : pandas.DataFrame
        Clean runs (positive, finite), with a ``weight`` column if
        ``fit_kwargs`` names it.
    x, y
        Input and target columns.
    cuts : sequence of float
        Cut positions on the normalised log scale.
    fit_kwargs : dict
        ``objective``, ``delta``, ``weights`` and ``n_threads`` of the refits.
    starts : callable, optional
        ``starts(sub) -> (k, p)`` natural-unit starts for the refit on ``sub``.

    Returns
    -------
    errors : pandas.DataFrame
        ``cut``, ``distance`` (in observed log-ranges of the reduced fit) and
        ``log_error`` per held-out row.
    notes : list of str
        Skipped cuts and warnings, with reasons.
    """
    law_obj = get_law(law, inputs=x)
    plan, notes = _cut_plan(law_obj, frame, x, cuts)
    rows: list[tuple[float, float, float]] = []
    for cut, below in plan:
        sub = frame[below]
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                res = fit_table(
                    law_obj, sub, x=list(x), y=y, objective=fit_kwargs.get("objective",
                                                                          "huber_log"),
                    delta=fit_kwargs.get("delta", 1e-3), level=0.95,
                    weights=fit_kwargs.get("weights"),
                    starts=None if starts is None else starts(sub), p0=None,
                    random_state=None, drop_invalid=False, keep=[],
                    n_threads=fit_kwargs.get("n_threads"), refit=True,
                )
        except ScaleLawError as exc:  # a failed backtest fit is reported, not fatal
            notes.append(f"cut {cut}: refit failed ({exc})")
            continue
        rows += _cut_errors(res, frame[~below], cut, caught, notes)
    return _errors_frame(rows), _in_cut_order(notes)


def _in_cut_order(notes: list[str]) -> list[str]:
    """Notes ("cut 0.5: ...") sorted by their cut (stable within a cut)."""
    return sorted(notes, key=lambda text: float(text.split(":")[0].split()[1]))


def _cut_plan(law: ScalingLaw, frame: pd.DataFrame, x: Sequence[str], cuts: Sequence[float]
              ) -> tuple[list[tuple[float, np.ndarray]], list[str]]:
    """The cuts with enough rows on both sides (rows below each), and notes on the rest."""
    lo, hi = law.internal_bounds()
    n_free = int(np.count_nonzero(lo < hi))
    s = normalised_scale(frame, x)
    plan, notes = [], []
    for cut in cuts:
        below = s <= cut + 1e-12
        if below.sum() < n_free + 2 or (~below).sum() == 0:
            notes.append(f"cut {cut}: {int(below.sum())} rows below, {int((~below).sum())} "
                         "above; skipped")
            continue
        plan.append((float(cut), below))
    return plan, notes


def _cut_errors(res: FitResult, held: pd.DataFrame, cut: float,
                caught: list[warnings.WarningMessage], notes: list[str]
                ) -> list[tuple[float, float, float]]:
    """The reduced fit's (cut, distance, log error) on the rows above its cut."""
    if caught:
        notes.append(f"cut {cut}: refit warned ({_warning_note(caught)})")
    if not res.converged:  # e.g. a refit's search at its iteration limit (not polished)
        notes.append(f"cut {cut}: refit warned (did not meet its convergence test: "
                     f"{res.message}; its forecast error is measured from that optimum)")
    x, y = list(res.x), res.y
    cols = [held[c].to_numpy(dtype=np.float64) for c in x]
    # a refit at a law's limit (M3's gamma = 0) can forecast 0 or NaN: said in the
    # notes on both paths (batched and per group), not left to the caller's filters
    with warnings.catch_warnings(record=True) as forecast_warned:
        warnings.simplefilter("always")
        pred = res.predict(**dict(zip(x, cols, strict=True)))
    if forecast_warned:
        notes.append(f"cut {cut}: forecast warned ({_warning_note(forecast_warned)})")
    _, dist = extrapolation_distance(res, cols)
    with np.errstate(divide="ignore", invalid="ignore"):
        err = np.log(held[y].to_numpy(dtype=np.float64)) - np.log(pred)
    return [(float(cut), float(d), float(e)) for d, e in zip(dist, err, strict=True)]


def _errors_frame(rows: list[tuple[float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(np.array(rows, dtype=np.float64).reshape(-1, 3),
                        columns=["cut", "distance", "log_error"])


def _refit_starts(result: FitResult, frame: pd.DataFrame) -> np.ndarray:
    """Starts for a backtest refit: the fit's optima and up to 300 default starts."""
    X = Inputs([frame[c].to_numpy(dtype=np.float64) for c in result.x])
    y = frame[result.y].to_numpy(dtype=np.float64)
    default = result.law.start_points(X, y, np.random.default_rng(0))
    if default.shape[0] > 300:
        idx = np.linspace(0, default.shape[0] - 1, 300).round().astype(int)
        default = default[idx]
    names = list(result.law.param_names)
    optima = result.law.to_internal(result.optima[names].to_numpy(dtype=np.float64))
    # an optimum with a log-scale parameter collapsed to 0 (log -inf) is no start
    optima = optima[np.all(np.isfinite(optima), axis=1)]
    lo, hi = result.law.internal_bounds()
    internal = np.clip(np.vstack([optima, default]), lo, hi)
    return result.law.to_natural(internal)  # fit_table takes starts in natural units


def calibrate(result: FitResult | CombinedFit, cuts: Sequence[float] = DEFAULT_CUTS
              ) -> FitResult | CombinedFit:
    """Measure how the forecast error grows beyond the fitted domain; return a new result.

    Refits the law below each cut of the fit's own data (rolling-origin
    backtests) and fits the growth of the log error with distance (see
    :class:`~scalelaw.forecast.ExtrapolationCalibration`). The returned
    result carries the calibration; prediction intervals beyond the domain
    use it. The input result is not changed.

    Parameters
    ----------
    result : FitResult or CombinedFit
        The fit; its data, law, objective and weights are reused. A
        combination calibrates each member on its own backtests.
    cuts : sequence of float, default=(0.5, 0.65, 0.8)
        Cut positions on the normalised log scale of the inputs (0 = smallest
        run, 1 = largest). A cut is skipped when fewer than ``p + 2`` rows
        (``p`` free parameters) lie below it or none above.

    Returns
    -------
    FitResult or CombinedFit
        A copy of ``result`` with :attr:`~scalelaw.FitResult.calibration` set
        (on every member of a combination).

    Examples
    --------
    >>> import numpy as np, pandas as pd, scalelaw as sl
    >>> x = np.logspace(6, 9, 30)
    >>> y = 2.0 + 30 * x ** -0.2            # the law is right: errors stay small
    >>> res = sl.fit("saturating_power", pd.DataFrame({"n": x, "L": y}), x="n", y="L",
    ...              objective="mse_log")
    >>> cal = sl.calibrate(res).calibration
    >>> cal.n_points > 0 and cal.kappa < 1e-3
    True
    """
    cuts = check_cuts(cuts)
    if isinstance(result, CombinedFit):
        return replace(result, members=tuple(_calibrate_one(m, cuts) for m in result.members))
    return _calibrate_one(result, cuts)


def _calibrate_one(result: FitResult, cuts: tuple[float, ...]) -> FitResult:
    frame = _calibration_frame(result)
    errors, notes = backtest_errors(
        result.law, frame, list(result.x), result.y, cuts,
        {"objective": result.objective, "delta": result.delta, "weights": "weight",
         "n_threads": result.settings.get("n_threads")},
        starts=lambda sub: _refit_starts(result, sub),
    )
    cal = calibration_from_errors(log_residual_sd(result), errors, cuts, notes)
    return replace(result, calibration=cal)


def _calibration_frame(result: FitResult) -> pd.DataFrame:
    """The rows a calibration backtests on (positive inputs are required)."""
    if not all(result.domain[c][0] > 0 for c in result.x):
        raise DataValidationError(
            "Calibration orders runs by the log of their inputs, which needs positive "
            f"inputs; the domain is {result.domain}.",
            column=result.x[0],
        )
    return result.data[result.data["weight"] > 0].reset_index(drop=True)
