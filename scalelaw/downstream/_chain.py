"""The two-step chain: a law for an intermediate (a loss), a law for the metric from it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scalelaw._validation import check_level
from scalelaw.exceptions import DataValidationError
from scalelaw.fitting import as_frame, fit
from scalelaw.forecast import (
    extrapolation_distance,
    log_mean_band,
    log_residual_sd,
    parameter_draws,
    prediction_table,
)
from scalelaw.laws import Inputs
from scalelaw.results import FitResult

__all__ = ["ChainResult", "fit_chain"]


class _RowInputs(Inputs):
    """Inputs of shape ``(b, n)``: row ``i`` goes with parameter row ``i``."""

    def __init__(self, columns: list[np.ndarray]) -> None:
        self.cols = [np.asarray(c, dtype=np.float64) for c in columns]
        self._logs = [None] * len(self.cols)
        self.n = self.cols[0].shape[1]


def _rowwise(res: FitResult, theta: np.ndarray, inter: np.ndarray) -> np.ndarray:
    """The law at parameter row ``i`` and input row ``i``: ``(b, p)``, ``(b, n)`` -> ``(b, n)``."""
    law = res.law
    with np.errstate(all="ignore"):
        if law.stackable:
            value, _ = law.value_and_jacobian(theta, _RowInputs([inter]), log=False, jac=False)
            return np.broadcast_to(value, inter.shape)
        return np.stack([law.value_and_jacobian(theta[i:i + 1], Inputs([inter[i]]), log=False,
                                                jac=False)[0][0] for i in range(len(theta))])


def _step_name(res: FitResult, which: str) -> str:
    return f"the {which} step (law {res.law.name!r}, {res.y} from {', '.join(res.x)})"


def _no_interval(res: FitResult, which: str, why: str) -> DataValidationError:
    return DataValidationError(
        f"{_step_name(res, which)} has no interval ({why}), so the chain has none: "
        "fit that step on more rows than it has parameters, or bootstrap it.",
        column=res.y,
    )


@dataclass(frozen=True)
class ChainResult:
    """A two-step chain: ``first`` (inputs -> intermediate) and ``second``
    (intermediate -> metric)."""

    first: FitResult
    second: FitResult

    def get_prediction(self, level: float = 0.9, *, n_draws: int = 4000,
                       random_state: int = 0, extrapolate: bool = False,
                       max_extrapolation: float = 10.0, **inputs: Any) -> pd.DataFrame:
        """Forecast the metric at new inputs with intervals that carry both steps.

        Monte Carlo through both steps:

        * the intermediate (a loss) is drawn from the first step's own forecast
          distribution at the inputs: its log is the fitted curve plus a
          Student-t deviate (the fit's residual degrees of freedom) scaled by
          the curve's standard error (``mean_ci``) or by the prediction
          standard deviation of a new run (``obs_ci``: curve, residual scatter
          and, for a calibrated fit, the extrapolation error growing with the
          distance beyond the data), so each step-1 interval is exactly the
          first fit's own;
        * the metric law's parameters are drawn from the multivariate t of the
          second fit (its Wald covariance with its residual degrees of
          freedom; its bootstrap replicas when it has them) and evaluated at
          each drawn intermediate;
        * ``obs_ci`` adds the second step's scatter of a new run around its
          curve (its log-residual scale, t-distributed, plus the extrapolation
          term when that fit is calibrated).

        A step without an interval (no residual degrees of freedom, a singular
        covariance) is refused, naming the step: the chain never reports a
        finite interval that leaves a step's uncertainty out.

        Parameters
        ----------
        level : float, default=0.9
            Interval coverage.
        n_draws : int, default=4000
            Monte Carlo draws.
        random_state : int, default=0
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
        >>> ch = fit_chain(df, first_law="saturating_power", x="c", intermediate="loss",
        ...                second_law="logit_linear:floor=0.25")
        >>> import warnings
        >>> from scalelaw import ExtrapolationWarning
        >>> with warnings.catch_warnings():  # 1e4 is beyond the fitted c, on purpose
        ...     warnings.simplefilter("ignore", ExtrapolationWarning)
        ...     tab = ch.get_prediction(c=[1e4])
        >>> bool(tab.mean_ci_lower[0] < tab["mean"][0] < tab.mean_ci_upper[0])
        True
        >>> bool(tab.obs_ci_lower[0] < tab["mean"][0] < tab.obs_ci_upper[0])
        True
        """
        level = check_level(level)
        first, second = self.first, self.second
        missing = [c for c in first.x if c not in inputs]
        if missing:
            raise DataValidationError(f"The chain's first step needs inputs {list(first.x)}; "
                                      f"missing {missing}.", column=missing[0])
        rng = np.random.default_rng(random_state)
        cols = [np.atleast_1d(np.asarray(inputs[c], dtype=np.float64)).ravel()
                for c in first.x]
        tab1 = prediction_table(first, level, extrapolate=extrapolate,
                                max_extrapolation=max_extrapolation,
                                **dict(zip(first.x, cols, strict=True)))
        log_mid, se1, _ = log_mean_band(first, Inputs(cols), level)
        sigma1 = float(tab1.attrs["log_residual_sd"])
        if not (np.all(np.isfinite(se1)) and np.isfinite(sigma1)):
            raise _no_interval(first, "first", "its forecast has no standard error")
        sd1 = np.sqrt(se1**2 + sigma1**2
                      + tab1.attrs["kappa"]**2 * tab1["extrapolation_distance"].to_numpy())
        dof1 = max(first.dof_resid, 1)
        shape = (n_draws, len(cols[0]))
        inter = np.exp(log_mid + se1 * rng.standard_t(dof1, size=shape))
        inter_obs = np.exp(log_mid + sd1 * rng.standard_t(dof1, size=shape))
        theta = parameter_draws(second, n_draws, rng, student_t=True,
                                what=_step_name(second, "second"))
        if len(theta) != n_draws:  # bootstrap replicas: resample them to n_draws
            theta = theta[rng.integers(0, len(theta), n_draws)]
        sigma2 = log_residual_sd(second)
        if not np.isfinite(sigma2):
            raise _no_interval(second, "second", "no residual degrees of freedom")
        metric = _rowwise(second, theta, inter)
        obs = _rowwise(second, theta, inter_obs)
        var2 = np.full(shape, sigma2**2)
        cal = second.calibration
        if cal is not None and np.isfinite(cal.kappa):
            _, d2 = extrapolation_distance(second, [inter_obs.ravel()])
            var2 = var2 + cal.kappa**2 * d2.reshape(shape)
        obs = obs * np.exp(np.sqrt(var2) * rng.standard_t(max(second.dof_resid, 1),
                                                           size=shape))
        q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
        lo, hi = np.nanpercentile(metric, q, axis=0)
        olo, ohi = np.nanpercentile(obs, q, axis=0)
        out = pd.DataFrame(dict(zip(first.x, cols, strict=True)))
        mid = np.exp(log_mid)
        out["intermediate"] = mid
        out["intermediate_obs_lower"] = tab1["obs_ci_lower"].to_numpy()
        out["intermediate_obs_upper"] = tab1["obs_ci_upper"].to_numpy()
        out["mean"] = second.predict(**{second.x[0]: mid})
        out["mean_ci_lower"], out["mean_ci_upper"] = lo, hi
        out["obs_ci_lower"], out["obs_ci_upper"] = olo, ohi
        out["extrapolation_factor"] = tab1["extrapolation_factor"].to_numpy()
        out.attrs.update(level=level, n_draws=n_draws, random_state=random_state)
        return out


def fit_chain(data: pd.DataFrame, *, first_law: str, x: str | list[str], intermediate: str,
              second_law: str, y: str | None = None, second_data: pd.DataFrame | None = None,
              **fit_kwargs: Any) -> ChainResult:
    """Fit ``intermediate = first_law(x)`` and ``y = second_law(intermediate)``.

    Parameters
    ----------
    data : pandas.DataFrame
        Rows with ``x`` and ``intermediate`` (the first step); with ``y`` too
        when ``second_data`` is not given.
    first_law : str
        Law of the intermediate (e.g. ``"chinchilla"``, ``"saturating_power"``).
    x : str or list of str
        The first step's inputs.
    intermediate : str
        The intermediate column (loss, capability score).
    second_law : str
        Law of the metric given the intermediate, e.g.
        ``"logit_linear:floor=0.25"``.
    y : str, optional
        The metric column (default ``"acc"`` when present).
    second_data : pandas.DataFrame, optional
        Rows for the second step (e.g. models with a measured metric), if
        different from ``data``.
    **fit_kwargs
        Passed to both fits (objective, starts, ...).

    Returns
    -------
    ChainResult
        Both fits.
    """
    data = as_frame(data)
    second = as_frame(second_data) if second_data is not None else data
    if y is None:
        if "acc" not in second.columns:
            raise DataValidationError("Give y=, the metric column of the second step.",
                                      column="y")
        y = "acc"
    for col, frame, what in ((intermediate, data, "data"), (intermediate, second,
                                                             "second_data"),
                             (y, second, "second_data")):
        if col not in frame.columns:
            raise DataValidationError(f"Column {col!r} is not in {what} (columns: "
                                      f"{list(frame.columns)}).", column=col)
    first = fit(first_law, data.dropna(subset=[intermediate]), x=x, y=intermediate,
                **fit_kwargs)
    step2 = fit(second_law, second.dropna(subset=[intermediate, y]), x=intermediate, y=y,
                **fit_kwargs)
    return ChainResult(first, step2)
