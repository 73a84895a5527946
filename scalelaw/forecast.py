"""Forecasts from fitted laws: the prediction table, the extrapolation guard, calibration.

Three quantities are kept apart, as statsmodels does:

* ``mean``: the fitted curve at the new inputs;
* ``mean_ci_lower/upper``: the interval of that curve (parameter uncertainty:
  bootstrap replicas when the fit has them, else the delta method on the log
  prediction with the t quantile of the residual degrees of freedom);
* ``obs_ci_lower/upper``: the prediction interval for one new run, which adds
  the run-to-run scatter of the fit's log residuals and, beyond the fitted
  domain, the extrapolation error measured by backtests on the fit's own data
  when the fit was calibrated (:func:`scalelaw.calibrate`).

Inside the fitted domain, for a law linear in its parameters on the log
scale (``power`` with ``mse_log``), both intervals equal the textbook OLS
intervals on ``(log x, log y)``.

Distances beyond the domain are reported two ways: ``extrapolation_factor``
(the largest ratio of a new input to the nearest edge of its observed range;
1 inside) and ``extrapolation_distance`` (the same excess in units of the
observed log-range of that input; 0 inside). With several inputs the product
of the inputs (compute, for N and D) counts as one more input, so a point
inside every input's range but beyond the largest run is still out. Inputs
that are not all positive (user laws) are measured on the linear scale
instead: the factor is ``1 + excess / range``.

This module reads a fit's fields and calls nothing above it; results,
fitting and backtests build on it.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd
from scipy import special

from scalelaw._validation import check_level
from scalelaw.exceptions import DataValidationError, ExtrapolationError, ExtrapolationWarning
from scalelaw.inference import free_mask
from scalelaw.laws import Inputs, ScalingLaw
from scalelaw.stats import percentile_intervals, wald_draws

__all__ = [
    "ExtrapolationCalibration",
    "FittedLaw",
    "LogIntervals",
    "calibration_from_errors",
    "check_extrapolation",
    "extrapolation_distance",
    "log_intervals",
    "log_residual_sd",
    "parameter_draws",
    "prediction_table",
    "warn_uncalibrated",
]


class FittedLaw(Protocol):
    """What this layer reads of a fitted law (:class:`scalelaw.FitResult` has all of it).

    The forecast layer sits below the results layer, so it names the fields it
    needs instead of importing the result class.
    """

    law: ScalingLaw
    x: tuple[str, ...]
    y: str
    theta: np.ndarray
    cov_internal: np.ndarray
    objective: str
    dof_resid: int
    data: pd.DataFrame
    domain: dict[str, tuple[float, float]]
    scale: dict[str, float]
    level: float
    bootstrap: pd.DataFrame | None
    calibration: ExtrapolationCalibration | None

    def predict(self, data: Any = None, /, **inputs: Any) -> np.ndarray:
        """The law's mean at the inputs."""

    def _inputs_from(self, inputs: Mapping[str, Any]) -> tuple[Inputs, tuple[int, ...]]:
        """The law's inputs from keyword columns, and the broadcast shape."""


def _scales(result: FittedLaw) -> list[bool]:
    """Per input: whether distances are measured on the log scale (all values > 0)."""
    return [result.domain[c][0] > 0 for c in result.x]


def extrapolation_distance(
    result: FittedLaw, columns: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Extrapolation factor and distance (in observed log-ranges) of new inputs.

    Parameters
    ----------
    result : FitResult
        The fit whose domain is the reference.
    columns : list of numpy.ndarray
        New inputs, one array per input column of the fit.

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
    shape = np.shape(columns[0])
    log_excess = np.zeros(shape)  # excess on the log scale (factor = exp of it)
    dist = np.zeros(shape)
    logs = []
    for j, (c, positive) in enumerate(zip(result.x, _scales(result), strict=True)):
        lo, hi = result.domain[c]
        v = np.asarray(columns[j], dtype=np.float64)
        if positive:
            with np.errstate(divide="ignore", invalid="ignore"):
                u = np.log(v)
            lo_u, hi_u = np.log(lo), np.log(hi)
            logs.append(u)
        else:
            u, lo_u, hi_u = v, lo, hi
        span = max(hi_u - lo_u, 1e-12)
        excess = np.maximum(np.maximum(u - hi_u, lo_u - u), 0.0)
        step = excess if positive else np.log1p(excess / span)
        log_excess = np.maximum(log_excess, step)
        dist = np.maximum(dist, excess / span)
    if len(columns) > 1 and len(logs) == len(columns):
        # the joint scale (log of the product of the inputs, e.g. compute for N
        # and D): a point can sit inside every input's range and still beyond
        # the largest run
        used = result.data[result.data["weight"] > 0]
        tot = np.sum([np.log(used[c].to_numpy(dtype=np.float64)) for c in result.x], axis=0)
        t_lo, t_hi = float(tot.min()), float(tot.max())
        t = np.sum(logs, axis=0)
        excess = np.maximum(np.maximum(t - t_hi, t_lo - t), 0.0)
        log_excess = np.maximum(log_excess, excess)
        dist = np.maximum(dist, excess / max(t_hi - t_lo, 1e-12))
    return np.exp(log_excess), dist


def log_residual_sd(result: FittedLaw) -> float:
    """Scatter of one new run around the curve, as a standard deviation of log loss.

    ``mse_log``: the residual scale ``sqrt(sum w r^2 / (n - p))`` (the OLS or
    WLS scale; a new run has weight 1); ``huber_log``: 1.4826 times the median
    absolute log residual (robust, as the fit itself); ``mse``: the root mean
    square of relative residuals with ``n - p`` degrees of freedom. NaN when
    there are no residual degrees of freedom.

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
    if result.dof_resid < 1:
        return float("nan")
    if result.objective == "mse_log":
        return float(np.sqrt(result.scale["s2"]))
    y = result.data[result.y].to_numpy(dtype=np.float64)
    pred = result.predict(**{c: result.data[c].to_numpy(dtype=np.float64) for c in result.x})
    w = result.data["weight"].to_numpy(dtype=np.float64)
    keep = w > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (y - pred) / pred if result.objective == "mse" else np.log(y) - np.log(pred)
    r = r[keep]
    if result.objective == "huber_log":
        return float(1.482602218505602 * np.median(np.abs(r - np.median(r))))
    return float(np.sqrt(np.sum(r**2) / result.dof_resid))


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
    deviations are left out once, as outliers). This form was chosen on the
    Alabdulmohsin et al. benchmark (bench/RESULTS.md), where a variance
    growing with ``d^2`` under-covered; its coverage there is in-sample.

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
    source : str
        What the backtests refitted (``"own law"`` or the pooled candidates
        of an automatic choice).
    """

    kappa: float
    n_points: int
    cuts: tuple[float, ...]
    errors: pd.DataFrame
    note: str = ""
    source: str = "own law"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready content."""
        return {
            "kappa": self.kappa,
            "n_points": self.n_points,
            "cuts": list(self.cuts),
            "errors": {c: self.errors[c].tolist() for c in self.errors.columns},
            "note": self.note,
            "source": self.source,
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
            source=str(d.get("source", "own law")),
        )


def calibration_from_errors(
    sigma: float, errors: pd.DataFrame, cuts: tuple[float, ...],
    notes: list[str] | None = None, *, source: str = "own law",
) -> ExtrapolationCalibration:
    """Fit ``kappa`` to backtest log errors (see :class:`ExtrapolationCalibration`).

    Parameters
    ----------
    sigma : float
        The fit's log residual scale (:func:`log_residual_sd`).
    errors : pandas.DataFrame
        ``cut``, ``distance``, ``log_error`` per held-out point; with an
        optional ``base_sd`` (the refit's own log-scale predictive standard
        deviation at the point), which replaces ``sigma`` there, so that
        ``kappa`` measures only the error beyond what the refit's own
        forecast already allows.
    cuts : tuple of float
        The cuts the backtests used.
    notes : list of str, optional
        Reasons for skipped cuts.
    source : str, default="own law"
        What the backtests refitted.

    Returns
    -------
    ExtrapolationCalibration
        The calibration.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> d = rng.uniform(0.1, 1.0, 4000)
    >>> e = rng.normal(0.0, np.sqrt(0.01**2 + 0.05**2 * d))
    >>> err = pd.DataFrame({"cut": 0.5, "distance": d, "log_error": e})
    >>> round(calibration_from_errors(0.01, err, (0.5,)).kappa, 2)
    0.05
    """
    notes = list(notes or [])
    use = errors[(errors["distance"] > 0) & np.isfinite(errors["log_error"])]
    kappa = float("nan")
    if len(use):
        e = use["log_error"].to_numpy()
        d = use["distance"].to_numpy()
        base = np.full(e.size, max(sigma, 1e-6) if np.isfinite(sigma) else 1e-6)
        if "base_sd" in use.columns:
            own = use["base_sd"].to_numpy(dtype=np.float64)
            base = np.where(np.isfinite(own), np.maximum(own, 1e-6), base)
        kappa, n_trim = _kappa_ml(e, d, base)
        if n_trim:
            notes.append(f"{n_trim} backtest error(s) beyond 4 sd left out as outliers")
    else:
        notes.append("no held-out point beyond a cut: extrapolation error not measured")
    return ExtrapolationCalibration(kappa, len(use), tuple(cuts), errors, "; ".join(notes),
                                    source)


def _kappa_ml(e: np.ndarray, d: np.ndarray, sigma: float | np.ndarray) -> tuple[float, int]:
    """Maximum-likelihood ``kappa`` of ``e ~ N(0, sigma^2 + kappa^2 d)`` (``sigma`` a
    scalar or one per error).

    One trimming pass drops errors beyond 4 standard deviations (gross
    outliers would otherwise set the width of every interval).
    """
    from scipy.optimize import minimize_scalar

    keep = np.ones(e.size, dtype=bool)
    kappa = 0.0
    sigma = np.broadcast_to(np.asarray(sigma, dtype=np.float64), e.shape)
    for _ in range(2):
        ee, dd, ss = e[keep], d[keep], sigma[keep]

        def nll(log_k: float, ee: np.ndarray = ee, dd: np.ndarray = dd,
                ss: np.ndarray = ss) -> float:
            var = ss**2 + np.exp(2 * log_k) * dd
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


def log_mean_band(result: FittedLaw, X: Inputs, level: float
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log of the mean curve, its standard error and the band ends (log scale).

    Bootstrap percentiles when the fit has replicas (the standard error is
    then the band's half-width over the normal quantile), else the delta
    method with the t quantile of the residual degrees of freedom.

    Returns
    -------
    log_mean, se, (lo, hi) : ndarray
        Arrays of shape ``(n,)``; NaN where not defined.
    """
    mean, grads = result.law.value_and_jacobian(result.theta[None, :], X, log=True)
    mean = mean[0]
    if result.bootstrap is not None:
        draws = result.bootstrap[list(result.law.param_names)].dropna().to_numpy()
        if len(draws) == 0:
            nan = np.full(X.n, np.nan)
            return mean, nan, (nan, nan)
        theta_b = result.law.to_internal(draws)
        curves, _ = result.law.value_and_jacobian(theta_b, X, log=True, jac=False)
        # NaN curve values are left out (any number); infinite ones count as values
        with np.errstate(invalid="ignore"):
            lo, hi, _ = percentile_intervals(curves, level, max_failed_fraction=1.0,
                                             keep_infinite=True)
        se = (hi - lo) / (2.0 * float(special.ndtri(0.5 + level / 2.0)))
        return mean, se, (lo, hi)
    jac = np.stack([np.broadcast_to(g, (1, X.n))[0] for g in grads], axis=1)
    free, _ = free_mask(result.law, result.theta)
    cov = result.cov_internal[np.ix_(free, free)]
    if result.dof_resid < 1 or not np.all(np.isfinite(cov)):
        # no residual dof, or a singular information matrix: not estimable
        nan = np.full(X.n, np.nan)
        return mean, nan, (nan, nan)
    # parameters held at a bound contribute no variance
    se = np.sqrt(np.maximum(np.einsum("np,pq,nq->n", jac[:, free], cov, jac[:, free]), 0.0))
    q = t_quantile(level, result.dof_resid)
    return mean, se, (mean - q * se, mean + q * se)


def t_quantile(level: float, dof: int) -> float:
    """Two-sided Student-t quantile of ``level`` at ``dof`` (NaN when dof < 1)."""
    if dof < 1:
        return float("nan")
    return float(special.stdtrit(dof, 0.5 + level / 2.0))


def check_extrapolation(result: FittedLaw, cols: list[np.ndarray], *, extrapolate: bool,
                        max_extrapolation: float, stacklevel: int = 4
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Extrapolation factor and distance of new inputs, with the guard applied.

    Raises :class:`~scalelaw.ExtrapolationError` for points beyond
    ``max_extrapolation`` unless ``extrapolate``, which warns instead.
    """
    if not (max_extrapolation >= 1.0):  # inf allowed: no limit
        raise DataValidationError(
            f"The 'max_extrapolation' parameter must be a float >= 1 (a multiple of the "
            f"fitted domain). Got {max_extrapolation!r} instead.",
            column="max_extrapolation",
        )
    factor, dist = extrapolation_distance(result, cols)
    too_far = factor > max_extrapolation * (1 + 1e-12)
    if np.any(too_far):
        i = int(np.argmax(factor))
        where = ", ".join(f"{c}={cols[j][i]:.4g}" for j, c in enumerate(result.x))
        dom = ", ".join(f"{c} in [{lo:.4g}, {hi:.4g}]"
                        for c, (lo, hi) in result.domain.items())
        msg = (f"{int(too_far.sum())} requested point(s) lie more than "
               f"{max_extrapolation:g}x beyond the fitted domain ({dom}); the farthest, "
               f"{where}, is {factor[i]:.3g}x out ({dist[i]:.2f} observed log-ranges).")
        if not extrapolate:
            raise ExtrapolationError(
                msg + " Pass extrapolate=True (--extrapolate) to forecast anyway, or "
                "raise max_extrapolation."
            )
        warnings.warn(msg + " Treat these forecasts as speculative.", ExtrapolationWarning,
                      stacklevel=stacklevel)
    return factor, dist


def warn_uncalibrated(dist: np.ndarray, stacklevel: int = 4) -> None:
    """The warning for points beyond the domain of a fit without calibration."""
    if np.any(dist > 0):
        warnings.warn(
            f"{int(np.count_nonzero(dist > 0))} point(s) lie beyond the fitted domain and "
            "this fit is not calibrated: their prediction intervals hold the in-domain "
            "scatter only, not the growth of extrapolation error. Calibrate first with "
            "scalelaw.calibrate(result) (scalelaw fit --calibrate).",
            ExtrapolationWarning, stacklevel=stacklevel,
        )


@dataclass(frozen=True)
class LogIntervals:
    """A fit's forecast on the log scale: the mean curve, its band, the prediction band.

    ``dof_mean`` and ``dof_obs`` are the degrees of freedom of the quantiles
    the two bands use (``inf`` for bootstrap percentiles of the mean curve).
    """

    log_mean: np.ndarray
    mean_lo: np.ndarray
    mean_hi: np.ndarray
    obs_lo: np.ndarray
    obs_hi: np.ndarray
    dof_mean: float
    dof_obs: float
    sigma: float
    kappa: float


def log_intervals(result: FittedLaw, X: Inputs, dist: np.ndarray, level: float
                  ) -> LogIntervals:
    """Both intervals of a fit at inputs ``X`` (at distances ``dist`` beyond its domain).

    No guard and no warning: see :func:`prediction_table`.
    """
    log_mean, se_mean, (lo, hi) = log_mean_band(result, X, level)
    sigma = log_residual_sd(result)
    cal = result.calibration
    kappa = cal.kappa if cal is not None and np.isfinite(cal.kappa) else 0.0
    q_obs = t_quantile(level, result.dof_resid)
    sd_obs = np.sqrt(se_mean**2 + sigma**2 + kappa**2 * dist)
    dof_obs = float(result.dof_resid) if result.dof_resid >= 1 else float("nan")
    dof_mean = float("inf") if result.bootstrap is not None else dof_obs
    return LogIntervals(log_mean, lo, hi, log_mean - q_obs * sd_obs, log_mean + q_obs * sd_obs,
                        dof_mean, dof_obs, sigma, kappa)


def prediction_table(
    result: FittedLaw,
    level: float | None = None,
    *,
    extrapolate: bool = False,
    max_extrapolation: float = 10.0,
    **inputs: Any,
) -> pd.DataFrame:
    """Forecast table: mean, interval of the mean curve, prediction interval.

    See :meth:`scalelaw.FitResult.get_prediction`, which calls this.
    """
    level = result.level if level is None else check_level(level)
    X, shape = result._inputs_from(inputs)
    cols = [np.ravel(c) for c in X.cols]
    factor, dist = check_extrapolation(result, cols, extrapolate=extrapolate,
                                       max_extrapolation=max_extrapolation)
    if result.calibration is None:
        warn_uncalibrated(dist)
    parts = log_intervals(result, X, dist, level)
    out = {c: cols[j] for j, c in enumerate(result.x)}
    out.update(
        mean=np.exp(parts.log_mean),
        mean_ci_lower=np.exp(parts.mean_lo),
        mean_ci_upper=np.exp(parts.mean_hi),
        obs_ci_lower=np.exp(parts.obs_lo),
        obs_ci_upper=np.exp(parts.obs_hi),
        extrapolation_factor=factor,
        extrapolation_distance=dist,
    )
    frame = pd.DataFrame(out)
    frame.attrs.update(level=level, log_residual_sd=parts.sigma, kappa=parts.kappa,
                       shape=shape, calibrated=result.calibration is not None)
    return frame


def parameter_draws(result: FittedLaw, n_draws: int,
                    random_state: int | np.random.Generator | None, *,
                    student_t: bool = False, missing: str = "nan",
                    what: str | None = None) -> np.ndarray:
    """Parameter draws in optimiser coordinates: bootstrap replicas, else Wald draws.

    With bootstrap replicas, the replicas themselves (all of them, whatever
    ``n_draws``). Otherwise draws from the Wald covariance
    (:func:`scalelaw.stats.wald_draws`): parameters fixed or held at a bound
    stay at their estimate; when a free parameter has no finite covariance
    (no residual degrees of freedom, a singular information matrix) every
    draw is NaN, so every interval computed from the draws is NaN (or, with
    ``missing="raise"``, an error names ``what``). ``student_t`` draws from
    the multivariate t with the fit's residual degrees of freedom, as its
    t-based intervals do.

    Parameters
    ----------
    result : FitResult
        The fit.
    n_draws : int
        Number of Wald draws.
    random_state : int, numpy.random.Generator or None
        Seed or generator.
    student_t : bool, default=False
        Student-t rather than Gaussian draws.
    missing : {"nan", "raise"}, default="nan"
        What a free parameter without a finite covariance gives.
    what : str, optional
        How the fit is named in errors (default: ``"the fit of law NAME"``).

    Returns
    -------
    numpy.ndarray of shape (n, p)
        The draws.

    Examples
    --------
    >>> import numpy as np, pandas as pd, scalelaw as sl
    >>> x = np.logspace(6, 8, 10)
    >>> y = 3 * x ** -0.1 * np.exp(np.random.default_rng(0).normal(0, 0.01, 10))
    >>> res = sl.fit("power", pd.DataFrame({"n": x, "L": y}), x="n", y="L")
    >>> parameter_draws(res, 500, 0).shape
    (500, 2)
    """
    law = result.law
    if result.bootstrap is not None:
        nat = result.bootstrap[list(law.param_names)].dropna().to_numpy(dtype=np.float64)
        return law.to_internal(nat)
    free, _ = free_mask(law, result.theta)
    lo, hi = law.internal_bounds()
    return wald_draws(result.theta, result.cov_internal, n_draws, random_state, vary=free,
                      dof=result.dof_resid if student_t else None, lower=lo, upper=hi,
                      what=what or f"the fit of law {law.name!r}", missing=missing)
