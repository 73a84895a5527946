"""Shared-slope sigmoid fits: one slope and ceiling for all families, a midpoint each."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from scalelaw.exceptions import DataValidationError
from scalelaw.fitting import as_frame, fit
from scalelaw.laws import ExpressionLaw
from scalelaw.results import FitResult

__all__ = ["fit_shared_slope"]


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
