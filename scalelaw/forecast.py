"""Forecasts from fitted laws: prediction tables, extrapolation guard and calibration.

Three quantities are kept apart, as statsmodels does:

* ``mean``: the fitted curve at the new inputs;
* ``mean_ci_lower/upper``: the interval of that curve (parameter uncertainty:
  bootstrap replicas when the fit has them, else the delta method on the log
  prediction);
* ``obs_ci_lower/upper``: the prediction interval for one new run, which adds
  the run-to-run scatter of the fit's log residuals and, beyond the fitted
  domain, the extrapolation error measured by backtests on the fit's own data
  (:func:`extrapolation_calibration`).

Distances beyond the domain are reported two ways: ``extrapolation_factor``
(the largest ratio of a new input to the nearest edge of its observed range;
1 inside) and ``extrapolation_distance`` (the same excess in units of the
observed log-range of that input; 0 inside). With several inputs the product
of the inputs (compute, for N and D) counts as one more input, so a point
inside every input's range but beyond the largest run is still out.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from scalelaw._validation import check_level
from scalelaw.exceptions import DataValidationError, ExtrapolationError

if TYPE_CHECKING:
    from scalelaw.results import FitResult

__all__ = [
    "ExtrapolationCalibration",
    "extrapolation_calibration",
    "extrapolation_distance",
    "get_prediction",
    "log_residual_sd",
]

DEFAULT_CUTS = (0.5, 0.65, 0.8)


def _log_ranges(domain: dict[str, tuple[float, float]], names: tuple[str, ...]) -> tuple[
    np.ndarray, np.ndarray
]:
    lo = np.array([np.log(domain[c][0]) for c in names])
    hi = np.array([np.log(domain[c][1]) for c in names])
    return lo, hi


def extrapolation_distance(
    result: FitResult, columns: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Extrapolation factor and distance (in observed log-ranges) of new inputs.

    Parameters
    ----------
    result : FitResult
        The fit whose domain is the reference.
    columns : list of numpy.ndarray
        New inputs, one positive array per input column of the fit.

    Returns
    -------
    tuple of numpy.ndarray
        ``(factor, distance)``: the largest ratio ``x / max`` or ``min / x``
        over inputs (1 inside the domain) and the excess log-distance divided
        by the observed log-range of that input (0 inside).

    Examples
    --------
    >>> import numpy as np, pandas as pd, scalelaw as sl
    >>> x = np.logspace(6, 8, 10)
    >>> res = sl.fit("power", pd.DataFrame({"n": x, "L": 3 * x ** -0.1}), x="n", y="L")
    >>> f, d = extrapolation_distance(res, [np.array([1e7, 1e9, 1e10])])
    >>> f.round(3).tolist(), d.round(3).tolist()
    ([1.0, 10.0, 100.0], [0.0, 0.5, 1.0])
    """
    lo, hi = _log_ranges(result.domain, result.x)
    span = np.maximum(hi - lo, 1e-12)
    factor = np.zeros(np.shape(columns[0]))
    dist = np.zeros(np.shape(columns[0]))
    logs = [np.log(np.asarray(col, dtype=np.float64)) for col in columns]
    for j, u in enumerate(logs):
        excess = np.maximum(np.maximum(u - hi[j], lo[j] - u), 0.0)
        factor = np.maximum(factor, excess)
        dist = np.maximum(dist, excess / span[j])
    if len(columns) > 1:
        # the joint scale (log of the product of the inputs, e.g. compute for N
        # and D): a point can sit inside every input's range and still beyond
        # the largest run
        used = result.data[result.data["weight"] > 0]
        tot = np.sum([np.log(used[c].to_numpy(dtype=np.float64)) for c in result.x], axis=0)
        t_lo, t_hi = float(tot.min()), float(tot.max())
        t = np.sum(logs, axis=0)
        excess = np.maximum(np.maximum(t - t_hi, t_lo - t), 0.0)
        factor = np.maximum(factor, excess)
        dist = np.maximum(dist, excess / max(t_hi - t_lo, 1e-12))
    return np.exp(factor), dist


def log_residual_sd(result: FitResult) -> float:
    """Scatter of one new run around the curve, as a standard deviation of log loss.

    ``mse_log``: root mean square of the log residuals with ``n - p`` degrees
    of freedom; ``huber_log``: 1.4826 times their median absolute value (robust,
    as the fit itself); ``mse``: as ``mse_log`` on relative residuals.

    Parameters
    ----------
    result : FitResult
        A fit.

    Returns
    -------
    float
        The standard deviation on the log scale.

    Examples
    --------
    >>> import numpy as np, pandas as pd, scalelaw as sl
    >>> rng = np.random.default_rng(0)
    >>> x = np.logspace(6, 9, 400)
    >>> y = 3 * x ** -0.1 * np.exp(0.05 * rng.standard_normal(400))
    >>> res = sl.fit("power", pd.DataFrame({"n": x, "L": y}), x="n", y="L",
    ...              objective="mse_log")
    >>> round(log_residual_sd(res), 2)
    0.05
    """
    y = result.data[result.y].to_numpy(dtype=np.float64)
    pred = result.predict(**{c: result.data[c].to_numpy(dtype=np.float64) for c in result.x})
    w = result.data["weight"].to_numpy(dtype=np.float64)
    keep = w > 0
    if result.objective == "mse":
        r = (y - pred) / pred
    else:
        r = np.log(y) - np.log(pred)
    r = r[keep]
    if r.size == 0:
        return float("nan")
    if result.objective == "huber_log":
        return float(1.482602218505602 * np.median(np.abs(r - np.median(r))))
    dof = max(result.dof_resid, 1)
    return float(np.sqrt(np.sum(r**2) / dof))


@dataclass(frozen=True)
class ExtrapolationCalibration:
    """How fast the forecast error grows beyond the fitted domain.

    From rolling-origin backtests on the fit's own data: the law is refitted
    on the rows below a cut in scale and asked to predict the rows above it.
    The log errors ``e`` at distance ``d`` (in observed log-ranges of the
    reduced fit) are modelled as ``e ~ N(0, sigma^2 + kappa^2 d)``: the
    variance of the drift grows linearly with the distance, like a random
    walk in log scale. ``sigma`` is the residual scatter of the full fit and
    ``kappa`` the maximum-likelihood estimate (errors beyond 4 standard
    deviations are left out once, as outliers). On the Alabdulmohsin et al.
    benchmark this form covered held-out points at close to the nominal rate
    where a variance growing with ``d^2`` under-covered (bench/RESULTS.md).

    Attributes
    ----------
    kappa : float
        Extra log-scale standard deviation at one observed log-range beyond
        the domain (it grows as the square root of the distance; NaN when no
        backtest was possible).
    n_points : int
        Held-out points used.
    cuts : tuple of float
        Cut positions used (fractions of the normalised log scale).
    errors : pandas.DataFrame
        One row per held-out point: ``cut``, ``distance``, ``log_error``.
    note : str
        Why some cuts were skipped, if any.
    """

    kappa: float
    n_points: int
    cuts: tuple[float, ...]
    errors: pd.DataFrame
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready content."""
        return {
            "kappa": self.kappa,
            "n_points": self.n_points,
            "cuts": list(self.cuts),
            "errors": {c: self.errors[c].tolist() for c in self.errors.columns},
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ExtrapolationCalibration:
        """Inverse of :meth:`to_dict`."""
        return cls(
            kappa=float(d["kappa"]),
            n_points=int(d["n_points"]),
            cuts=tuple(float(c) for c in d["cuts"]),
            errors=pd.DataFrame(d["errors"]),
            note=str(d.get("note", "")),
        )


def normalised_scale(frame: pd.DataFrame, x: tuple[str, ...]) -> np.ndarray:
    """Sum of the log inputs rescaled to [0, 1]: 0 smallest run, 1 largest.

    For two inputs N and D this orders runs by compute (``log N + log D``).
    """
    u = np.sum([np.log(frame[c].to_numpy(dtype=np.float64)) for c in x], axis=0)
    span = u.max() - u.min()
    return (u - u.min()) / span if span > 0 else np.zeros_like(u)


def backtest_errors(
    law: Any, frame: pd.DataFrame, x: list[str], y: str, cuts: Sequence[float],
    fit_kwargs: dict[str, Any], *, starts: Callable[[pd.DataFrame], np.ndarray] | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Fit ``law`` on the rows below each cut and measure the log errors above it.

    A cut is skipped (with a note) when fewer than ``p + 2`` rows lie below it
    or none above, and when its fit fails.

    Returns
    -------
    tuple
        ``(errors, notes)``: a frame with ``cut``, ``distance`` (in observed
        log-ranges of the reduced fit) and ``log_error`` per held-out row, and
        the reasons for skipped cuts.
    """
    from scalelaw.exceptions import ScaleLawError
    from scalelaw.fitting import fit
    from scalelaw.laws import get_law

    law_obj = get_law(law, inputs=x)
    lo, hi = law_obj.internal_bounds()
    n_free = int(np.count_nonzero(lo < hi))
    s = normalised_scale(frame, tuple(x))
    rows: list[tuple[float, float, float]] = []
    notes: list[str] = []
    for cut in cuts:
        below = s <= cut + 1e-12
        if below.sum() < n_free + 2 or (~below).sum() == 0:
            notes.append(f"cut {cut}: {int(below.sum())} rows below, {int((~below).sum())} "
                         "above; skipped")
            continue
        sub = frame[below]
        kwargs = dict(fit_kwargs)
        if starts is not None:
            kwargs["starts"] = starts(sub)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = fit(law_obj, sub, x=x, y=y, **kwargs)
        except ScaleLawError as exc:  # a failed backtest fit is reported, not fatal
            notes.append(f"cut {cut}: refit failed ({exc})")
            continue
        held = frame[~below]
        cols = [held[c].to_numpy(dtype=np.float64) for c in x]
        pred = res.predict(**dict(zip(x, cols, strict=True)))
        _, dist = extrapolation_distance(res, cols)
        with np.errstate(divide="ignore", invalid="ignore"):
            err = np.log(held[y].to_numpy(dtype=np.float64)) - np.log(pred)
        rows += [(float(cut), float(d), float(e)) for d, e in zip(dist, err, strict=True)]
    errors = pd.DataFrame(np.array(rows, dtype=np.float64).reshape(-1, 3),
                          columns=["cut", "distance", "log_error"])
    return errors, notes


def _refit_starts(result: FitResult, frame: pd.DataFrame) -> np.ndarray:
    from scalelaw.laws import Inputs

    X = Inputs([frame[c].to_numpy(dtype=np.float64) for c in result.x])
    y = frame[result.y].to_numpy(dtype=np.float64)
    default = result.law._start_points(X, y, np.random.default_rng(0))
    if default.shape[0] > 300:
        idx = np.linspace(0, default.shape[0] - 1, 300).round().astype(int)
        default = default[idx]
    names = list(result.law.param_names)
    optima = result.law.to_internal(result.optima[names].to_numpy(dtype=np.float64))
    lo, hi = result.law.internal_bounds()
    internal = np.clip(np.vstack([optima, default]), lo, hi)
    return result.law.to_natural(internal)  # fit() takes starts in natural units


def extrapolation_calibration(
    result: FitResult, cuts: tuple[float, ...] = DEFAULT_CUTS
) -> ExtrapolationCalibration:
    """Measure how the forecast error grows with distance beyond the domain.

    Parameters
    ----------
    result : FitResult
        The fit; its data, law, objective and weights are reused.
    cuts : tuple of float, default=(0.5, 0.65, 0.8)
        Cut positions on the normalised log scale of the inputs (0 = smallest
        run, 1 = largest). A cut is skipped when fewer than ``p + 2`` rows
        (``p`` free parameters) lie below it or none above.

    Returns
    -------
    ExtrapolationCalibration
        ``kappa`` and the backtest errors. Cached on the result.

    Examples
    --------
    >>> import numpy as np, pandas as pd, scalelaw as sl
    >>> x = np.logspace(6, 9, 30)
    >>> y = 2.0 + 30 * x ** -0.2            # the law is right: errors stay small
    >>> res = sl.fit("saturating_power", pd.DataFrame({"n": x, "L": y}), x="n", y="L",
    ...              objective="mse_log")
    >>> cal = extrapolation_calibration(res)
    >>> cal.n_points > 0 and cal.kappa < 1e-3
    True
    """
    key = f"calibration:{tuple(cuts)!r}"
    if key in result._cache:
        return result._cache[key]
    frame = result.data[result.data["weight"] > 0].reset_index(drop=True)
    errors, notes = backtest_errors(
        result.law, frame, list(result.x), result.y, cuts,
        {"objective": result.objective, "delta": result.delta, "weights": "weight",
         "n_threads": result.settings.get("n_threads")},
        starts=lambda sub: _refit_starts(result, sub),
    )
    return calibration_from_errors(result, errors, tuple(cuts), notes)


def calibration_from_errors(
    result: FitResult, errors: pd.DataFrame, cuts: tuple[float, ...],
    notes: list[str] | None = None,
) -> ExtrapolationCalibration:
    """Build (and cache on ``result``) a calibration from backtest log errors."""
    notes = list(notes or [])
    sigma = log_residual_sd(result)
    use = errors[(errors["distance"] > 0) & np.isfinite(errors["log_error"])]
    kappa = float("nan")
    if len(use):
        e = use["log_error"].to_numpy()
        d = use["distance"].to_numpy()
        kappa, n_trim = _kappa_ml(e, d, max(sigma, 1e-6) if np.isfinite(sigma) else 1e-6)
        if n_trim:
            notes.append(f"{n_trim} backtest error(s) beyond 4 sd left out as outliers")
    else:
        notes.append("no held-out point beyond a cut: extrapolation error not measured")
    cal = ExtrapolationCalibration(kappa, len(use), tuple(cuts), errors, "; ".join(notes))
    result._cache[f"calibration:{tuple(cuts)!r}"] = cal
    return cal


def _kappa_ml(e: np.ndarray, d: np.ndarray, sigma: float) -> tuple[float, int]:
    """Maximum-likelihood ``kappa`` of ``e ~ N(0, sigma^2 + kappa^2 d)``.

    One trimming pass drops errors beyond 4 standard deviations (gross
    outliers would otherwise set the width of every interval).
    """
    from scipy.optimize import minimize_scalar

    keep = np.ones(e.size, dtype=bool)
    kappa = 0.0
    for _ in range(2):
        ee, dd = e[keep], d[keep]

        def nll(log_k: float, ee: np.ndarray = ee, dd: np.ndarray = dd) -> float:
            var = sigma**2 + np.exp(2 * log_k) * dd
            return float(np.sum(0.5 * np.log(var) + 0.5 * ee**2 / var))

        opt = minimize_scalar(nll, bounds=(-20.0, 5.0), method="bounded",
                              options={"xatol": 1e-6})
        kappa = float(np.exp(opt.x)) if opt.x > -19.9 else 0.0
        sd = np.sqrt(sigma**2 + kappa**2 * d)
        new_keep = np.abs(e) <= 4.0 * sd
        if new_keep.sum() < 2 or np.array_equal(new_keep, keep):
            break
        keep = new_keep
    return kappa, int((~keep).sum())


def get_prediction(
    result: FitResult,
    level: float | None = None,
    *,
    extrapolate: bool = False,
    max_extrapolation: float = 10.0,
    calibrate: bool = True,
    **inputs: Any,
) -> pd.DataFrame:
    """Forecast table: mean, interval of the mean curve, prediction interval.

    See :meth:`scalelaw.FitResult.get_prediction` (which calls this).
    """
    level = result.level if level is None else check_level(level)
    if not (max_extrapolation >= 1.0):  # inf allowed: no limit
        raise DataValidationError(
            f"The 'max_extrapolation' parameter must be a float >= 1 (a multiple of the "
            f"fitted domain). Got {max_extrapolation!r} instead.",
            column="max_extrapolation",
        )
    X, shape = result._inputs_from(inputs)
    cols = [np.ravel(c) for c in X.cols]
    factor, dist = extrapolation_distance(result, cols)
    too_far = factor > max_extrapolation * (1 + 1e-12)
    if np.any(too_far) and not extrapolate:
        i = int(np.argmax(factor))
        where = ", ".join(f"{c}={cols[j][i]:.4g}" for j, c in enumerate(result.x))
        dom = ", ".join(f"{c} in [{lo:.4g}, {hi:.4g}]" for c, (lo, hi) in result.domain.items())
        raise ExtrapolationError(
            f"{int(too_far.sum())} requested point(s) lie more than {max_extrapolation:g}x "
            f"beyond the fitted domain ({dom}); the farthest, {where}, is "
            f"{factor[i]:.3g}x out ({dist[i]:.2f} observed log-ranges). Pass "
            "extrapolate=True (--extrapolate) to forecast anyway, or raise "
            "max_extrapolation."
        )
    mean, mlo, mhi = result._band(X, level)
    q = float(stats.norm.ppf(0.5 + level / 2.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        se_mean = (np.log(mhi) - np.log(mlo)) / (2.0 * q)
    se_mean = np.where(np.isfinite(se_mean), se_mean, 0.0)
    sigma = log_residual_sd(result)
    kappa = 0.0
    if calibrate and np.any(dist > 0):
        cal = extrapolation_calibration(result)
        kappa = cal.kappa if np.isfinite(cal.kappa) else 0.0
    q_obs = float(stats.t.ppf(0.5 + level / 2.0, max(result.dof_resid, 1)))
    sd_obs = np.sqrt(se_mean**2 + sigma**2 + kappa**2 * dist)
    log_mean = np.log(mean)
    out = {c: cols[j] for j, c in enumerate(result.x)}
    out.update(
        mean=mean,
        mean_ci_lower=mlo,
        mean_ci_upper=mhi,
        obs_ci_lower=np.exp(log_mean - q_obs * sd_obs),
        obs_ci_upper=np.exp(log_mean + q_obs * sd_obs),
        extrapolation_factor=factor,
        extrapolation_distance=dist,
    )
    frame = pd.DataFrame(out)
    frame.attrs.update(level=level, log_residual_sd=sigma, kappa=kappa, shape=shape)
    return frame


def _draws(result: FitResult, n_draws: int, random_state: Any) -> np.ndarray:
    """Parameter draws in internal coordinates: bootstrap replicas, else Gaussian."""
    law = result.law
    if result.bootstrap is not None:
        nat = result.bootstrap[list(law.param_names)].dropna().to_numpy(dtype=np.float64)
        return law.to_internal(nat)
    rng = np.random.default_rng(random_state)
    cov = np.where(np.isfinite(result.cov_internal), result.cov_internal, 0.0)
    cov = 0.5 * (cov + cov.T)
    vals, vecs = np.linalg.eigh(cov)
    root = vecs * np.sqrt(np.maximum(vals, 0.0))
    draws = result.theta + rng.standard_normal((n_draws, cov.shape[0])) @ root.T
    lo, hi = law.internal_bounds()
    return np.clip(draws, lo, hi)
