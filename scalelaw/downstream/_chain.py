"""Downstream metrics: chained forecasts and shared-slope sigmoid fits.

* :func:`fit_chain`: the two-step chain of observational scaling laws and
  ladder-style predictions: a law for an intermediate quantity (the loss, or
  a capability score) from the inputs (``N``, ``D``, compute), a law for the
  metric from that quantity (``logit_linear``, ``sigmoid_log``), and
  forecasts of the metric whose intervals carry the uncertainty of both
  steps (:meth:`ChainResult.get_prediction`).
* :func:`fit_shared_slope`: a sigmoid in log compute per group (model
  family) with one slope and ceiling shared by all groups and a midpoint per
  group.

Both use scalelaw's fitting core (multi-start search, Wald covariances).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from scalelaw._validation import check_level
from scalelaw.exceptions import DataValidationError
from scalelaw.fitting import fit
from scalelaw.fitting._data import as_frame
from scalelaw.forecast import log_residual_sd
from scalelaw.laws import ExpressionLaw, Inputs
from scalelaw.results import FitResult

__all__ = ["ChainResult", "fit_chain", "fit_shared_slope"]


def _draws(res: FitResult, n: int, rng: np.random.Generator) -> np.ndarray:
    """Parameter vectors (optimiser coordinates) from the fit's Wald distribution."""
    cov = np.nan_to_num(res.cov_internal, nan=0.0)
    return rng.multivariate_normal(res.theta, cov, size=n, method="eigh")


def _values(res: FitResult, theta: np.ndarray, columns: list[np.ndarray]) -> np.ndarray:
    value, _ = res.law.value_and_jacobian(theta, Inputs([np.asarray(c, dtype=np.float64)
                                                         for c in columns]),
                                          log=False, jac=False)
    return np.broadcast_to(value, (theta.shape[0], len(columns[0])))


@dataclass(frozen=True)
class ChainResult:
    """A two-step chain: ``first`` (inputs -> intermediate) and ``second``
    (intermediate -> metric)."""

    first: FitResult
    second: FitResult

    def get_prediction(self, level: float = 0.9, *, n_draws: int = 4000,
                       random_state: int = 0, **inputs: Any) -> pd.DataFrame:
        """Forecast the metric at new inputs with intervals that carry both steps.

        Monte Carlo: parameter vectors of each step are drawn from its Wald
        distribution; the intermediate is predicted by the first step and fed
        to the second. ``mean_ci_*`` is the interval of the metric's curve
        (parameter uncertainty of both steps); ``obs_ci_*`` adds the scatter
        of a new run at both steps (each step's log-residual scale). Beyond
        the fitted domain these are Wald intervals: they do not grow with the
        extrapolation error as calibrated single-step forecasts do.

        Parameters
        ----------
        level : float, default=0.9
            Interval coverage.
        n_draws : int, default=4000
            Monte Carlo draws.
        random_state : int, default=0
            Seed of the draws.
        **inputs : array_like
            The first step's inputs by name.

        Returns
        -------
        pandas.DataFrame
            The inputs, ``intermediate`` (the first step's prediction), ``mean``
            (the metric at it), ``mean_ci_lower/upper``, ``obs_ci_lower/upper``.

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
        >>> tab = ch.get_prediction(c=[1e4])
        >>> bool(tab.mean_ci_lower[0] < tab["mean"][0] < tab.mean_ci_upper[0])
        True
        """
        level = check_level(level)
        rng = np.random.default_rng(random_state)
        cols = [np.atleast_1d(np.asarray(inputs[c], dtype=np.float64)) for c in self.first.x]
        mid = self.first.predict(**dict(zip(self.first.x, cols, strict=True)))
        t1, t2 = _draws(self.first, n_draws, rng), _draws(self.second, n_draws, rng)
        inter = _values(self.first, t1, cols)  # (draws, points)
        metric = np.stack([_values(self.second, t2[i:i + 1], [inter[i]])[0]
                           for i in range(n_draws)])
        sd1, sd2 = (np.nan_to_num(log_residual_sd(r)) for r in (self.first, self.second))
        inter_obs = inter * np.exp(sd1 * rng.standard_normal(inter.shape))
        obs = np.stack([_values(self.second, t2[i:i + 1], [inter_obs[i]])[0]
                        for i in range(n_draws)])
        obs = obs * np.exp(sd2 * rng.standard_normal(obs.shape))
        q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
        lo, hi = np.percentile(metric, q, axis=0)
        olo, ohi = np.percentile(obs, q, axis=0)
        out = pd.DataFrame(dict(zip(self.first.x, cols, strict=True)))
        out["intermediate"] = mid
        out["mean"] = self.second.predict(**{self.second.x[0]: mid})
        out["mean_ci_lower"], out["mean_ci_upper"] = lo, hi
        out["obs_ci_lower"], out["obs_ci_upper"] = olo, ohi
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


def fit_shared_slope(data: pd.DataFrame, *, x: str, y: str, group: str,
                     floor: float | None = None, ceiling: float | None = None,
                     min_rows: int = 2, **fit_kwargs: Any) -> FitResult:
    """Sigmoid in log ``x`` per group with a shared slope and ceiling.

    ``y = floor + (ceiling - floor) / (1 + exp(-slope (log x - m_g)))`` with
    one midpoint ``m_g`` (log scale) per group: families differ in how much
    compute they need, not in how fast the metric rises. Parameters are named
    ``mid_0``, ``mid_1``, ... ; ``settings["groups"]`` maps them to the groups.

    Parameters
    ----------
    data : pandas.DataFrame
        Runs with ``x`` (positive), ``y`` and ``group``.
    x, y, group : str
        Columns.
    floor, ceiling : float, optional
        Fixed levels (e.g. ``floor=0.25`` for four-way multiple choice);
        free (shared) when not given.
    min_rows : int, default=2
        Groups with fewer rows are left out (counted in
        ``settings["groups_excluded"]``).
    **fit_kwargs
        Passed to :func:`scalelaw.fit`; the objective defaults to ``mse_log``
        (least squares on log accuracy: the Huber objective's small threshold
        suits losses, and it stalls on the flat floor of weak families).

    Returns
    -------
    FitResult
        The joint fit.
    """
    data = as_frame(data)
    fit_kwargs.setdefault("objective", "mse_log")
    for col in (x, y, group):
        if col not in data.columns:
            raise DataValidationError(f"Column {col!r} is not in the table.", column=col)
    d = data.dropna(subset=[x, y, group])
    counts = d[group].value_counts()
    keep = sorted(counts[counts >= min_rows].index, key=str)
    excluded = {str(g): int(n) for g, n in counts[counts < min_rows].items()}
    if len(keep) < 2:
        raise DataValidationError(f"A shared slope needs at least 2 groups with {min_rows} "
                                  f"or more rows; got {len(keep)}.", column=group)
    d = d[d[group].isin(keep)].reset_index(drop=True)
    pooled = fit(f"sigmoid_log:{_opts(floor, ceiling)}" if (floor, ceiling) != (None, None)
                 else "sigmoid_log", d, x=x, y=y, objective=fit_kwargs["objective"])
    names = [f"g{i}" for i in range(len(keep))]
    for name, g in zip(names, keep, strict=True):
        d[name] = (d[group] == g).astype(float)
    mid = " + ".join(f"mid_{i} * {n}" for i, n in enumerate(names))
    f_txt = "floor" if floor is None else repr(float(floor))
    c_txt = "ceiling" if ceiling is None else repr(float(ceiling))
    expr = f"{f_txt} + ({c_txt} - {f_txt}) / (1 + exp(-slope * (log({x}) - ({mid}))))"
    p0 = {"slope": float(pooled.params["slope"]),
          **{f"mid_{i}": float(np.log(pooled.params["x_mid"])) for i in range(len(keep))}}
    # a family whose models all sit at the floor (or the ceiling) does not identify
    # its midpoint: bounded to 10 e-folds beyond the data, it ends on a bound (and says so)
    logx = np.log(d[x].to_numpy(dtype=float))
    span = (float(logx.min()) - 10.0, float(logx.max()) + 10.0)
    bounds = {"slope": (-50.0, 50.0), **{f"mid_{i}": span for i in range(len(keep))}}
    for i in range(len(keep)):
        p0[f"mid_{i}"] = float(np.clip(p0[f"mid_{i}"], *span))
    if floor is None:
        p0["floor"], bounds["floor"] = float(pooled.params["floor"]), (0.0, np.inf)
    if ceiling is None:
        p0["ceiling"], bounds["ceiling"] = float(pooled.params["ceiling"]), (0.0, np.inf)
    law = ExpressionLaw.from_string(expr, inputs=[x, *names], bounds=bounds, p0=p0)
    res = fit(law, d, x=[x, *names], y=y, **fit_kwargs)
    return replace(res, settings={**res.settings, "groups": {f"mid_{i}": str(g) for i, g
                                                             in enumerate(keep)},
                                  "groups_excluded": excluded, "pooled_slope": p0["slope"]})


def _opts(floor: float | None, ceiling: float | None) -> str:
    return ",".join(f"{k}={v}" for k, v in (("floor", floor), ("ceiling", ceiling))
                    if v is not None)
