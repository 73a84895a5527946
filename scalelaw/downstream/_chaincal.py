"""The chain's own extrapolation error: both steps refitted on the smaller models."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from scalelaw._validation import RandomStateLike, check_random_state
from scalelaw.downstream._chain import ChainCalibration, ChainResult, chain_log_draws, refit_on
from scalelaw.exceptions import DataValidationError, ScaleLawError
from scalelaw.fitting import DEFAULT_CUTS, as_frame
from scalelaw.forecast import extrapolation_distance
from scalelaw.results import FitResult

__all__ = ["calibrate_chain"]

_COLUMNS = ["cut", "distance", "log_error", "base_sd", "z"]

#: The level whose interval half-width sets each refit chain's log-scale spread.
_SPREAD_LEVEL = 0.9


def _aligned(frame: pd.DataFrame, used: pd.DataFrame, subset: list[str], what: str
             ) -> pd.DataFrame:
    """The rows of ``frame`` a step was fitted on, in order, with all their columns.

    A fit keeps its table's rows in order and leaves out diverged runs (a
    ``status`` column) and, with ``drop_invalid``, rows whose values it cannot
    use; the rows it kept are matched in order on their ``subset`` values (the
    values of a left-out row cannot match a kept one's, except a diverged run's,
    which is left out first).
    """
    rows = frame
    if "status" in rows.columns:  # the fit's rule: diverged runs never enter a fit
        rows = rows[(rows["status"].astype(str) != "diverged").to_numpy()]
    vals = np.column_stack([pd.to_numeric(rows[c], errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan) for c in subset])
    want = used[subset].to_numpy(dtype=np.float64)
    picked, i = [], 0
    for row in want:
        while i < len(vals) and not np.array_equal(vals[i], row):
            i += 1
        if i == len(vals):
            raise DataValidationError(
                f"{what} is not the table the chain's step was fitted on (its rows with "
                f"{subset} do not hold the {len(used)} the fit used, in order).",
                column=subset[0])
        picked.append(i)
        i += 1
    return rows.iloc[picked].reset_index(drop=True)


def calibrate_chain(chain: ChainResult, data: pd.DataFrame,
                    second_data: pd.DataFrame | None = None, *,
                    cuts: Sequence[float] = DEFAULT_CUTS, n_draws: int = 2000,
                    random_state: RandomStateLike = 0) -> ChainResult:
    """Measure the chain's own forecast error toward larger models; return a new chain.

    Rolling origin over model size: at each cut of the normalised log scale
    of the first input (the model size ``N`` for an ``(N, D)`` loss law;
    0 = smallest fitted size, 1 = largest), both steps are refitted on the
    rows of size at or below the cut, and the metric of the metric step's
    rows above the cut is forecast through the refitted chain from their
    inputs alone (uncalibrated draws, as :meth:`ChainResult.get_prediction`).
    Each log error ``e = log(actual) - median`` is divided by the refitted
    chain's own predictive spread there, ``s`` (the half-width of its 90 %
    log interval over the normal quantile): ``z = e / s``, at ``d``, the
    inputs' distance beyond the refitted first step's domain (in observed
    log-ranges). ``growth`` is the maximum-likelihood value of
    ``z ~ N(0, 1 + growth^2 d)``, and the chain's forecasts then spread a
    new run's draws about their median by ``sqrt(1 + growth^2 d)`` at the
    inputs' distance ``d`` beyond the full first step's domain: relative to
    the chain's own spread (which differs up to 60-fold between the
    Gadre et al. tasks), growing with the distance, and nothing inside the
    domain.

    So the calibration measures what a forecast of larger models through
    both laws gets wrong, whichever step it comes from. On the Gadre et al.
    testbed the uncalibrated chain under-covers because the metric law fitted
    on small models is biased at the larger models' loss; the loss step's own
    calibration cannot see that, and the metric step's backtests toward
    lower loss (:func:`calibrate_metric`) did not (bench/RESULTS.md).

    A cut is skipped (with a note) when fewer than 2 model sizes or ``p + 2``
    rows of a step lie at or below it, when no metric row lies above it, when
    it keeps the same rows as an earlier cut, or when the refitted chain has
    no interval. Without any backtest ``growth`` is NaN and the chain's
    intervals are its steps' own.

    Parameters
    ----------
    chain : ChainResult
        The fitted chain (its steps' calibrations are not used by the refits).
    data : pandas.DataFrame
        The table the first step was fitted on.
    second_data : pandas.DataFrame, optional
        The table the metric step was fitted on, if not ``data``; it needs the
        first step's inputs (to cut by size and to forecast through the chain).
    cuts : sequence of float, default=(0.5, 0.65, 0.8)
        Cut positions on the normalised log scale of the first input.
    n_draws : int, default=2000
        Monte Carlo draws of each refitted chain's forecast.
    random_state : int or numpy.random.Generator, default=0
        Seed of the draws.

    Returns
    -------
    ChainResult
        A copy with :attr:`ChainResult.calibration` set
        (:class:`ChainCalibration`).

    Raises
    ------
    DataValidationError
        Bad cuts, or tables that are not the ones the steps were fitted on.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> n = np.repeat(np.logspace(7, 9, 5), 4)
    >>> d = n * np.tile([10.0, 20.0, 40.0, 80.0], 5)
    >>> loss = (1.7 + 400 * n ** -0.34 + 410 * d ** -0.28) * np.exp(rng.normal(0, .01, 20))
    >>> acc = 0.25 + 0.7 / (1 + np.exp(-(9.0 - 3.5 * loss)))
    >>> runs = pd.DataFrame({"n_params": n, "n_tokens": d, "loss": loss,
    ...                      "acc": acc * np.exp(rng.normal(0, .02, 20))})
    >>> from scalelaw.downstream import fit_chain
    >>> ch = fit_chain(runs, first_law="chinchilla", x=["n_params", "n_tokens"],
    ...                intermediate="loss", second_law="logit_linear:floor=0.25",
    ...                objective="mse_log", calibrate=False)
    >>> cal = calibrate_chain(ch, runs).calibration
    >>> cal.n_points > 0 and cal.growth < 3
    True
    """
    cuts = tuple(float(c) for c in cuts)
    if not cuts or not all(0.0 < c < 1.0 for c in cuts):
        raise DataValidationError(f"The 'cuts' parameter must hold fractions strictly between "
                                  f"0 and 1. Got {list(cuts)!r} instead.", column="cuts")
    if not (isinstance(n_draws, int) and n_draws >= 100):
        raise DataValidationError(f"The 'n_draws' parameter must be an int >= 100. Got "
                                  f"{n_draws!r} instead.", column="n_draws")
    first, second = chain.first, chain.second
    xs, inter, y = list(first.x), first.y, second.y
    data = as_frame(data)
    frame2 = as_frame(second_data) if second_data is not None else data
    rows1 = _aligned(data, first.data, [inter], "data")
    rows2 = _aligned(frame2, second.data, [inter, y], "second_data")
    missing = [c for c in xs if c not in rows2.columns]
    notes: list[str] = []
    errors = pd.DataFrame(np.empty((0, 5)), columns=_COLUMNS)
    if missing:
        notes.append(f"the metric step's rows lack the inputs {missing}: the chain's error "
                     "toward larger models was not measured")
        return replace(chain, calibration=_growth(errors, cuts, notes))
    rng = check_random_state(random_state)
    use1 = (first.data["weight"] > 0).to_numpy()
    use2 = (second.data["weight"] > 0).to_numpy()
    size1 = rows1[xs[0]].to_numpy(dtype=np.float64)
    size2 = rows2[xs[0]].to_numpy(dtype=np.float64)
    lo, hi = np.log(size1[use1].min()), np.log(size1[use1].max())
    records: list[pd.DataFrame] = []
    seen: set[tuple[bytes, bytes]] = set()
    for cut in cuts:
        thr = np.exp(lo + cut * (hi - lo)) * (1 + 1e-12)
        below1, below2 = use1 & (size1 <= thr), use2 & (size2 <= thr)
        held = use2 & (size2 > thr)
        key = (below1.tobytes(), below2.tobytes())
        why = _skip_reason(first, second, size1[below1], below1, below2, held, key in seen)
        if why:
            notes.append(f"cut {cut}: {why}; skipped")
            continue
        seen.add(key)
        try:
            sub = ChainResult(refit_on(first, first.data[below1]),
                              refit_on(second, second.data[below2]))
            cols = [rows2.loc[held, c].to_numpy(dtype=np.float64) for c in xs]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _, log_new = chain_log_draws(sub, cols, _SPREAD_LEVEL, n_draws, rng)
        except ScaleLawError as exc:
            notes.append(f"cut {cut}: {' '.join(str(exc).split())}; skipped")
            continue
        records.append(_cut_errors(sub, cols, log_new, rows2.loc[held, y], cut))
    if records:
        errors = pd.concat(records, ignore_index=True)
    return replace(chain, calibration=_growth(errors, cuts, notes))


def _growth(errors: pd.DataFrame, cuts: tuple[float, ...], notes: list[str]
            ) -> ChainCalibration:
    """Maximum-likelihood ``growth`` of ``z ~ N(0, 1 + growth^2 d)`` (NaN without errors)."""
    from scipy.optimize import minimize_scalar

    use = errors[(errors["distance"] > 0) & np.isfinite(errors["z"])]
    if not len(use):
        notes.append("no backtest error beyond a cut: the chain's error toward larger "
                     "models was not measured")
        return ChainCalibration(float("nan"), 0, cuts, errors, "; ".join(notes))
    z2, d = use["z"].to_numpy() ** 2, use["distance"].to_numpy()

    def nll(log_g: float) -> float:
        var = 1.0 + np.exp(2.0 * log_g) * d
        return float(np.sum(0.5 * np.log(var) + 0.5 * z2 / var))

    opt = minimize_scalar(nll, bounds=(-12.0, 5.0), method="bounded",
                          options={"xatol": 1e-6})
    growth = float(np.exp(opt.x)) if nll(opt.x) < nll(-np.inf) else 0.0
    return ChainCalibration(growth, len(use), cuts, errors, "; ".join(notes))


def _skip_reason(first: FitResult, second: FitResult, sizes_below: np.ndarray,
                 below1: np.ndarray, below2: np.ndarray, held: np.ndarray, seen: bool) -> str:
    """Why a cut cannot be backtested ('' when it can)."""
    n1 = int(np.count_nonzero(np.less(*first.law.internal_bounds())))
    n2 = int(np.count_nonzero(np.less(*second.law.internal_bounds())))
    if np.unique(sizes_below).size < 2:
        return f"{np.unique(sizes_below).size} model size(s) at or below it"
    if below1.sum() < n1 + 2 or below2.sum() < n2 + 2:
        return (f"{int(below1.sum())} loss-step and {int(below2.sum())} metric-step rows "
                "at or below it")
    if not held.any():
        return "no metric-step row above it"
    if seen:
        return "the same rows as an earlier cut"
    return ""


def _cut_errors(sub: ChainResult, cols: list[np.ndarray], log_new: np.ndarray,
                actual: pd.Series, cut: float) -> pd.DataFrame:
    """Per held-out row: its distance beyond the refit, log error and the refit's spread."""
    from scipy import special

    with np.errstate(invalid="ignore", divide="ignore"):
        q_lo, med, q_hi = np.nanquantile(log_new, [(1 - _SPREAD_LEVEL) / 2, 0.5,
                                                   (1 + _SPREAD_LEVEL) / 2], axis=0)
        base = (q_hi - q_lo) / (2.0 * float(special.ndtri((1 + _SPREAD_LEVEL) / 2)))
        err = np.log(actual.to_numpy(dtype=np.float64)) - med
        z = err / base
    _, dist = extrapolation_distance(sub.first, cols)
    return pd.DataFrame({"cut": cut, "distance": dist, "log_error": err, "base_sd": base,
                         "z": z})
