"""The two-step chain: a law for an intermediate (a loss), a law for the metric from it."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from scalelaw._validation import RandomStateLike, check_level, check_random_state
from scalelaw.exceptions import DataValidationError, ExtrapolationWarning, ScaleLawError
from scalelaw.fitting import DEFAULT_CUTS, fit
from scalelaw.forecast import (
    calibration_from_errors,
    extrapolation_distance,
    log_mean_band,
    log_residual_sd,
    prediction_table,
)
from scalelaw.laws import Inputs
from scalelaw.results import FitResult
from scalelaw.stats import percentile_intervals

__all__ = ["ChainCalibration", "ChainResult", "calibrate_metric", "chain_log_draws", "refit_on"]


def _step_name(res: FitResult, which: str) -> str:
    return f"the {which} step (law {res.law.name!r}, {res.y} from {', '.join(res.x)})"


def _no_interval(res: FitResult, which: str, why: str, remedy: str) -> DataValidationError:
    name = _step_name(res, which)
    return DataValidationError(
        f"{name[:1].upper()}{name[1:]} has no interval ({why}), so the chain has none: "
        f"{remedy}.", column=res.y,
    )


def _step_draws(res: FitResult, columns: list[np.ndarray], level: float, rng: np.random.Generator,
                which: str) -> tuple[np.ndarray, np.ndarray]:
    """Draws of the step's curve and of a new run at the inputs (log scale), each from the
    step's own forecast distribution: log mean + Student-t deviate x its standard deviation.

    The curve's standard deviation is the fit's (delta method or bootstrap band); a new
    run's adds the residual scatter and, for a calibrated fit, the extrapolation term
    ``kappa^2 d`` at the inputs' distance beyond the fitted domain.
    """
    X = Inputs(columns)
    log_mean, se, _ = log_mean_band(res, X, level)
    sigma = log_residual_sd(res)
    if not np.isfinite(sigma):
        raise _no_interval(res, which, "no residual degrees of freedom",
                           "fit that step on more rows than it has free parameters, or "
                           "bootstrap it")
    ok = np.isfinite(log_mean)
    if not np.all(np.isfinite(se[ok])) or not ok.any():
        raise _no_interval(
            res, which, f"its covariance is not finite: {res.n_obs} rows do not identify "
            f"its parameters {', '.join(res.law.param_names)} (a singular information "
            "matrix, as when an optimum drifts toward a limit of the law where parameters "
            "trade off)", "bootstrap that step, or choose a law with fewer parameters")
    var = se**2 + sigma**2
    cal = res.calibration
    if cal is not None and np.isfinite(cal.kappa):
        var = var + cal.kappa**2 * extrapolation_distance(res, columns)[1]
    dof = max(res.dof_resid, 1)
    curve = log_mean + se * rng.standard_t(dof, size=log_mean.shape)
    new = log_mean + np.sqrt(var) * rng.standard_t(dof, size=log_mean.shape)
    return curve, new


def chain_log_draws(chain: ChainResult, columns: list[np.ndarray], level: float,
                    n_draws: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draws of the chained curve and of a new run's metric (log scale), ``(n_draws, n)``.

    The intermediate is drawn from the first step's forecast at the inputs,
    the metric from the second step's forecast at each drawn intermediate;
    a chain calibration (:class:`ChainCalibration`) spreads a new run's
    draws about their median by ``sqrt(1 + growth^2 d)``, ``d`` the inputs'
    distance beyond the first step's domain.
    """
    first, second = chain.first, chain.second
    tiled = [np.tile(c, n_draws) for c in columns]  # draw-major: (n_draws, n) when reshaped
    shape = (n_draws, len(columns[0]))
    inter_curve, inter_new = _step_draws(first, tiled, level, rng, "first")
    with np.errstate(over="ignore"):
        m_curve, _ = _step_draws(second, [np.exp(inter_curve)], level, rng, "second")
        _, m_new = _step_draws(second, [np.exp(inter_new)], level, rng, "second")
    m_curve, m_new = m_curve.reshape(shape), m_new.reshape(shape)
    cal = chain.calibration
    if cal is not None and np.isfinite(cal.growth) and cal.growth > 0:
        d = extrapolation_distance(first, [np.asarray(c, dtype=np.float64) for c in columns])[1]
        with warnings.catch_warnings(), np.errstate(invalid="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)  # an input with no finite draw
            mid = np.nanmedian(m_new, axis=0)
        m_new = mid + (m_new - mid) * np.sqrt(1.0 + cal.growth**2 * d)
    return m_curve, m_new


@dataclass(frozen=True)
class ChainCalibration:
    """How fast the chain's forecast error grows toward larger models (:func:`calibrate_chain`).

    From rolling-origin backtests over model size: both steps refitted on
    the smaller models, the larger models' metric forecast through the
    refitted chain. Each log error, divided by the refitted chain's own
    predictive standard deviation there, gives ``z``; with ``d`` the
    distance beyond the refitted first step's domain (in observed
    log-ranges), ``z ~ N(0, 1 + growth^2 d)`` (maximum likelihood). A
    forecast at distance ``d`` beyond the chain's domain then spreads a new
    run's draws about their median by ``sqrt(1 + growth^2 d)``.

    Attributes
    ----------
    growth : float
        Relative growth of the chain's spread per observed log-range beyond
        the domain (0 when its own intervals held the backtests; NaN when no
        backtest was possible).
    n_points : int
        Backtest errors used.
    cuts : tuple of float
        Cut positions (fractions of the normalised log scale of the first input).
    errors : pandas.DataFrame
        One row per backtest error: ``cut``, ``distance``, ``log_error``,
        ``base_sd`` (the refitted chain's own log-scale spread), ``z``.
    note : str
        Why some cuts were skipped, if any.
    """

    growth: float
    n_points: int
    cuts: tuple[float, ...]
    errors: pd.DataFrame
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready content."""
        return {"growth": self.growth, "n_points": self.n_points, "cuts": list(self.cuts),
                "errors": {c: self.errors[c].tolist() for c in self.errors.columns},
                "note": self.note}


@dataclass(frozen=True)
class ChainResult:
    """A two-step chain: ``first`` (inputs -> intermediate) and ``second``
    (intermediate -> metric); ``calibration`` the chain's own extrapolation
    error (:func:`calibrate_chain`), if measured."""

    first: FitResult
    second: FitResult
    calibration: ChainCalibration | None = None

    def get_prediction(self, level: float = 0.9, *, n_draws: int = 4000,
                       random_state: RandomStateLike = 0, extrapolate: bool = False,
                       max_extrapolation: float = 10.0, **inputs: Any) -> pd.DataFrame:
        """Forecast the metric at new inputs with intervals that carry both steps.

        The chain composes the two steps' own forecast distributions by Monte
        Carlo. Each step's forecast at an input is its fitted curve on the log
        scale plus a Student-t deviate (the fit's residual degrees of freedom)
        times a standard deviation: the curve's standard error for the
        interval of the curve (``mean_ci``; delta method, or the bootstrap
        band), and for a new run (``obs_ci``) that error with the fit's
        residual scatter and, for a calibrated fit, the extrapolation error at
        the input's distance beyond the fitted domain. So the chain's
        intermediate interval is exactly the first fit's own, and given the
        intermediate the metric's interval is exactly the second fit's own:

        * draw the intermediate (the loss) from the first step at the inputs;
        * draw the metric from the second step at each drawn intermediate;
        * take percentiles.

        A chain calibrated as a whole (:func:`calibrate_chain`, the default
        of :func:`fit_chain`) then spreads a new run's draws about their
        median by ``sqrt(1 + growth^2 d)``, ``d`` the inputs' distance beyond
        the first step's domain (in observed log-ranges; 0 inside it): the
        error its refits on smaller models made on the larger ones, beyond
        what their own intervals allowed. ``mean_ci`` (the curve) is not
        widened.

        A step without an interval (no residual degrees of freedom, a
        covariance that is not finite) is refused, naming the step: the chain
        never reports a finite interval that leaves a step's uncertainty out.
        (Drawing the metric law's parameters from their Wald distribution and
        pushing them through the law under-covered on small designs, where
        the metric law is non-linear in poorly identified parameters: 80 % for
        a nominal 90 % in bench/chains.py.)

        Parameters
        ----------
        level : float, default=0.9
            Interval coverage.
        n_draws : int, default=4000
            Monte Carlo draws.
        random_state : int or numpy.random.Generator, default=0
            Seed of the draws.
        extrapolate : bool, default=False
            Forecast the first step beyond ``max_extrapolation`` times its
            fitted domain (with a warning) instead of refusing.
        max_extrapolation : float, default=10.0
            The first step's extrapolation guard (see
            :meth:`scalelaw.FitResult.get_prediction`).
        **inputs : array_like
            The first step's inputs by name.

        Returns
        -------
        pandas.DataFrame
            The inputs, ``intermediate`` (the first step's prediction) with
            ``intermediate_obs_lower/upper`` (its prediction interval),
            ``mean`` (the metric at it), ``mean_ci_lower/upper``,
            ``obs_ci_lower/upper`` and the first step's
            ``extrapolation_factor``.

        Raises
        ------
        DataValidationError
            A missing input, or a step with no interval.

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> c = np.logspace(0, 3, 20)
        >>> loss = 2 + 5 * c ** -0.3
        >>> acc = 0.25 + 0.7 / (1 + np.exp(-(8 - 3 * loss)))
        >>> df = pd.DataFrame({"c": c, "loss": loss * np.exp(rng.normal(0, .01, 20)),
        ...                    "acc": acc * np.exp(rng.normal(0, .01, 20))})
        >>> from scalelaw.downstream import fit_chain
        >>> ch = fit_chain(df, first_law="saturating_power", x="c", intermediate="loss",
        ...                second_law="logit_linear:floor=0.25")
        >>> import warnings
        >>> from scalelaw import ExtrapolationWarning
        >>> with warnings.catch_warnings():  # 1e4 is beyond the fitted c, on purpose
        ...     warnings.simplefilter("ignore", ExtrapolationWarning)
        ...     tab = ch.get_prediction(c=[1e4])
        ...     own = ch.second.get_prediction(0.9, loss=tab.intermediate)
        >>> bool(tab.obs_ci_lower[0] < tab["mean"][0] < tab.obs_ci_upper[0])
        True
        >>> bool(tab.obs_ci_upper[0] - tab.obs_ci_lower[0]
        ...      > 0.95 * (own.obs_ci_upper[0] - own.obs_ci_lower[0]))
        True
        """
        level = check_level(level)
        first, second = self.first, self.second
        missing = [c for c in first.x if c not in inputs]
        if missing:
            raise DataValidationError(f"The chain's first step needs inputs {list(first.x)}; "
                                      f"missing {missing}.", column=missing[0])
        if not (isinstance(n_draws, int) and n_draws >= 10):
            raise DataValidationError(f"The 'n_draws' parameter must be an int >= 10. Got "
                                      f"{n_draws!r} instead.", column="n_draws")
        rng = check_random_state(random_state)
        cols = [np.atleast_1d(np.asarray(inputs[c], dtype=np.float64)).ravel()
                for c in first.x]
        # the guard and the "not calibrated" warning of the first step's own forecast
        # (not said of a chain calibrated as a whole)
        with warnings.catch_warnings():
            if self.calibration is not None and np.isfinite(self.calibration.growth):
                warnings.filterwarnings("ignore", message=".*this fit is not calibrated",
                                        category=ExtrapolationWarning)
            tab1 = prediction_table(first, level, extrapolate=extrapolate,
                                    max_extrapolation=max_extrapolation,
                                    **dict(zip(first.x, cols, strict=True)))
        m_curve, m_new = chain_log_draws(self, cols, level, n_draws, rng)
        with np.errstate(over="ignore"):
            metric, obs = np.exp(m_curve), np.exp(m_new)
        # NaN draws are left out (any number); overflowed (infinite) ones count as values
        with np.errstate(invalid="ignore"):
            lo, hi, _ = percentile_intervals(metric, level, max_failed_fraction=1.0,
                                             keep_infinite=True)
            olo, ohi, _ = percentile_intervals(obs, level, max_failed_fraction=1.0,
                                               keep_infinite=True)
        out = pd.DataFrame(dict(zip(first.x, cols, strict=True)))
        mid = tab1["mean"].to_numpy()
        out["intermediate"] = mid
        out["intermediate_obs_lower"] = tab1["obs_ci_lower"].to_numpy()
        out["intermediate_obs_upper"] = tab1["obs_ci_upper"].to_numpy()
        out["mean"] = second.predict(**{second.x[0]: mid})
        out["mean_ci_lower"], out["mean_ci_upper"] = lo, hi
        out["obs_ci_lower"], out["obs_ci_upper"] = olo, ohi
        out["extrapolation_factor"] = tab1["extrapolation_factor"].to_numpy()
        seed = random_state if isinstance(random_state, int) else type(random_state).__name__
        out.attrs.update(level=level, n_draws=n_draws, random_state=seed,
                         undefined_draws=int(np.count_nonzero(~np.isfinite(obs))))
        return out


def refit_on(result: FitResult, rows: pd.DataFrame) -> FitResult:
    """The law refitted on some of its rows: from its optimum and 8 of its default starts."""
    kw: dict[str, Any] = {"x": list(result.x), "y": result.y, "objective": result.objective,
                          "delta": result.delta, "weights": "weight", "starts": 8,
                          "random_state": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fit(result.law, rows, p0=result.params.to_dict(), **kw)
        except DataValidationError:  # the optimum sits on a bound: no start there
            return fit(result.law, rows, **kw)


def calibrate_metric(result: FitResult, cuts: Sequence[float] = DEFAULT_CUTS, *,
                     scale: str = "refit") -> FitResult:
    """Calibrate a metric step's extrapolation toward lower loss; return a new result.

    A chain forecasts larger runs, whose loss lies below every training
    run's: the metric law extrapolates toward lower loss, where
    :func:`scalelaw.calibrate` (which refits on the smaller inputs) would
    test the other direction. Here the law is refitted on the rows of
    highest loss (a cut of the normalised ``-log loss`` scale: 0 = highest
    loss, 1 = lowest) and its log errors on the lower-loss rows, against
    their distance beyond the refit's domain, give the growth of the error
    (:func:`scalelaw.forecast.calibration_from_errors`). A cut is skipped
    when fewer than ``p + 2`` rows lie above it or none below. Each refit
    starts from the full fit's optimum and 8 of the law's default starts.
    By default (``scale="refit"``) each error is set against the refit's own
    forecast spread there (its band and residual scatter), so ``kappa``
    measures only the error beyond what a fit on fewer rows already allows;
    ``scale="residual"`` sets every error against the full fit's residual
    scatter, which counts the refits' larger parameter uncertainty as
    extrapolation error. Either way the metric step's calibration is
    conservative on the synthetic designs of bench/chains.py (1.000 coverage
    for a nominal 0.90, bench/RESULTS.md).

    Parameters
    ----------
    result : FitResult
        A fit of a metric against one intermediate (a loss).
    cuts : sequence of float, default=(0.5, 0.65, 0.8)
        Cut positions on the normalised scale.
    scale : {"refit", "residual"}, default="refit"
        What each backtest error is measured against (above).

    Returns
    -------
    FitResult
        A copy with :attr:`~scalelaw.FitResult.calibration` set.

    Examples
    --------
    >>> import numpy as np, pandas as pd, scalelaw as sl
    >>> loss = np.linspace(2.4, 4.0, 25)
    >>> err = 0.86 - 2.2 * np.exp(-0.71 * loss)  # the law is right: errors stay small
    >>> res = sl.fit("gadre_error", pd.DataFrame({"loss": loss, "err": err}), x="loss",
    ...              y="err", objective="mse_log")
    >>> cal = calibrate_metric(res).calibration
    >>> cal.n_points > 0 and cal.kappa < 1e-3
    True
    """
    if scale not in ("refit", "residual"):
        raise DataValidationError(f"The 'scale' parameter must be 'refit' or 'residual'. Got "
                                  f"{scale!r} instead.", column="scale")
    cuts = tuple(float(c) for c in cuts)
    if not cuts or not all(0.0 < c < 1.0 for c in cuts):
        raise DataValidationError(f"The 'cuts' parameter must hold fractions strictly between "
                                  f"0 and 1. Got {list(cuts)!r} instead.", column="cuts")
    if len(result.x) != 1:
        raise DataValidationError(f"A metric step has one input; this fit has {list(result.x)}.",
                                  column="x")
    frame = result.data[result.data["weight"] > 0].reset_index(drop=True)
    v = frame[result.x[0]].to_numpy(dtype=np.float64)
    u = -np.log(v) if np.all(v > 0) else -v
    s = (u - u.min()) / max(float(np.ptp(u)), 1e-300)
    lo, hi = result.law.internal_bounds()
    n_free = int(np.count_nonzero(lo < hi))
    rows: list[tuple[float, float, float]] = []
    notes: list[str] = []
    for cut in cuts:
        below = s <= cut + 1e-12
        if below.sum() < n_free + 2 or (~below).sum() == 0:
            notes.append(f"cut {cut}: {int(below.sum())} rows of higher loss, "
                         f"{int((~below).sum())} lower; skipped")
            continue
        try:
            sub = refit_on(result, frame[below])
        except ScaleLawError as exc:
            notes.append(f"cut {cut}: refit failed ({' '.join(str(exc).split())})")
            continue
        held = frame[~below]
        col = held[result.x[0]].to_numpy(dtype=np.float64)
        _, dist = extrapolation_distance(sub, [col])
        with np.errstate(divide="ignore", invalid="ignore"):
            log_mean, se, _ = log_mean_band(sub, Inputs([col]), 0.9)
            err = np.log(held[result.y].to_numpy(dtype=np.float64)) - log_mean
            base = (np.sqrt(se**2 + log_residual_sd(sub) ** 2) if scale == "refit"
                    else np.full(col.shape, np.nan))
        rows += [(float(cut), float(d), float(e), float(b))
                 for d, e, b in zip(dist, err, base, strict=True)]
    errors = pd.DataFrame(np.array(rows, dtype=np.float64).reshape(-1, 4),
                          columns=["cut", "distance", "log_error", "base_sd"])
    cal = calibration_from_errors(log_residual_sd(result), errors, cuts, notes,
                                  source="own law, toward lower loss")
    return replace(result, calibration=cal)
