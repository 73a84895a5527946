"""Learning curves: loss against steps or tokens within runs.

Early points of a learning curve follow the warm-up of the learning rate, not
the scaling law; published practice drops them (Choshen et al. 2025 drop the
first 10 % of each curve; OLMo reviews drop steps below ~5-10k). Across runs
of different sizes, the compute-efficient frontier is the *lower envelope*:
the points no smaller-x point beats. Both filters count what they remove.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from scalelaw._validation import unknown_name
from scalelaw.exceptions import DataValidationError
from scalelaw.fitting import fit, fit_each_group
from scalelaw.results import CombinedFit, FitResult, GroupedFitResult

__all__ = ["drop_warmup", "fit_learning_curve", "fit_learning_curve_groups", "lower_envelope"]


def drop_warmup(
    data: pd.DataFrame,
    *,
    step: str,
    run: str | None = None,
    warmup_fraction: float = 0.0,
    min_step: float | None = None,
) -> pd.DataFrame:
    """Remove the warm-up part of each learning curve.

    Parameters
    ----------
    data : pandas.DataFrame
        Long table (one row per logged step).
    step : str
        Step, token or sample column.
    run : str, optional
        Run column (each run filtered on its own); default: one run.
    warmup_fraction : float, default=0.0
        Drop the first fraction of each run's logged points (by ``step``
        order), in ``[0, 1)``.
    min_step : float, optional
        Also drop rows with ``step < min_step``.

    Returns
    -------
    pandas.DataFrame
        The kept rows; ``attrs["excluded_warmup"]`` counts the others.

    Examples
    --------
    >>> df = pd.DataFrame({"step": range(1, 11), "loss": range(10, 0, -1)})
    >>> out = drop_warmup(df, step="step", warmup_fraction=0.2, min_step=4)
    >>> out.step.tolist(), out.attrs["excluded_warmup"]
    ([4, 5, 6, 7, 8, 9, 10], 3)
    """
    for c in [step] + ([run] if run else []):
        if c not in data.columns:
            raise unknown_name("column", c, list(data.columns))
    if not (0.0 <= warmup_fraction < 1.0):
        raise DataValidationError(
            f"The 'warmup_fraction' parameter must be in [0, 1). Got {warmup_fraction!r} "
            "instead.",
            column="warmup_fraction",
        )
    s = pd.to_numeric(data[step], errors="coerce")
    keep = np.ones(len(data), dtype=bool)
    if min_step is not None:
        keep &= (s >= float(min_step)).to_numpy()
    if warmup_fraction > 0:
        keys = data[run] if run else pd.Series(0, index=data.index)
        rank = s.groupby(keys).rank(method="first", pct=False)
        size = s.groupby(keys).transform("size")
        keep &= (rank > np.floor(warmup_fraction * size)).to_numpy()
    out = data[keep].copy()
    out.attrs["excluded_warmup"] = int((~keep).sum())
    return out


def lower_envelope(data: pd.DataFrame, *, x: str, y: str) -> pd.DataFrame:
    """Rows on the lower envelope of ``y`` against ``x`` (pooled over runs).

    A row is kept when its ``y`` is strictly below every ``y`` at smaller or
    equal ``x`` (ties in ``x``: the lowest ``y``): the Pareto frontier of
    loss against compute used by Kaplan et al. (2020) and Hoffmann et al.
    (2022, Approach 1).

    Parameters
    ----------
    data : pandas.DataFrame
        Rows from several runs.
    x, y : str
        The scale and loss columns.

    Returns
    -------
    pandas.DataFrame
        The envelope rows sorted by ``x``; ``attrs["excluded_envelope"]``
        counts the others.

    Examples
    --------
    >>> df = pd.DataFrame({"c": [1, 2, 2, 3, 4], "loss": [5.0, 4.0, 4.5, 4.2, 3.0]})
    >>> lower_envelope(df, x="c", y="loss").loss.tolist()
    [5.0, 4.0, 3.0]
    """
    for c in (x, y):
        if c not in data.columns:
            raise unknown_name("column", c, list(data.columns))
    d = data.sort_values([x, y], kind="stable")
    yv = pd.to_numeric(d[y], errors="coerce").to_numpy(dtype=np.float64)
    prev = np.minimum.accumulate(np.concatenate([[np.inf], yv[:-1]]))
    keep = yv < prev
    out = d[keep].copy()
    out.attrs["excluded_envelope"] = int((~keep).sum())
    return out


def fit_learning_curve(
    data: pd.DataFrame,
    law: str = "saturating_power",
    *,
    x: str,
    y: str,
    run: str | None = None,
    warmup_fraction: float = 0.1,
    min_step: float | None = None,
    envelope: bool = False,
    **fit_kwargs: Any,
) -> FitResult | CombinedFit:
    """Fit a law to loss against steps/tokens, after the warm-up filters.

    Parameters
    ----------
    data : pandas.DataFrame
        Long table (one row per logged point).
    law : str, default="saturating_power"
        Any law name (``"auto"``, ``"m4"``, ``"broken_power"``...) or formula.
    x : str
        Step, token or compute column.
    y : str
        Loss column.
    run : str, optional
        Run column. With several runs, give ``envelope=True`` to fit their
        lower envelope (else use :func:`scalelaw.fit_groups`, one fit per run).
    warmup_fraction : float, default=0.1
        First fraction of each run dropped (Choshen et al. 2025 use 0.1).
    min_step : float, optional
        Rows with ``x < min_step`` dropped as well.
    envelope : bool, default=False
        Fit the lower envelope across runs.
    **fit_kwargs
        Passed to :func:`scalelaw.fit`.

    Returns
    -------
    FitResult or CombinedFit
        The fit (a combination for an average, or when ``"auto"`` combines
        tied laws); ``excluded`` counts ``warmup`` and ``envelope`` rows (of
        every member of a combination).

    Examples
    --------
    >>> import numpy as np
    >>> steps = np.arange(100, 10001, 100)
    >>> loss = 2.0 + 50 * steps ** -0.5
    >>> loss[:5] += 3.0                       # warm-up bump
    >>> df = pd.DataFrame({"step": steps, "loss": loss})
    >>> res = fit_learning_curve(df, x="step", y="loss")
    >>> round(float(res.params["alpha"]), 3), res.excluded["warmup"]
    (0.5, 10)
    """
    runs: Sequence[Any] = data[run].unique() if run else [None]
    if run and len(runs) > 1 and not envelope:
        raise DataValidationError(
            f"Column {run!r} holds {len(runs)} runs; pass envelope=True to fit their lower "
            "envelope, or fit each run with scalelaw.fit_groups(..., group=run).",
            column=run,
        )
    kept = drop_warmup(data, step=x, run=run, warmup_fraction=warmup_fraction,
                       min_step=min_step)
    n_warm = kept.attrs["excluded_warmup"]
    n_env = 0
    if envelope:
        kept = lower_envelope(kept, x=x, y=y)
        n_env = kept.attrs["excluded_envelope"]
    if len(kept) == 0:
        raise DataValidationError(
            f"No rows left after the warm-up filters ({n_warm} dropped).", column=x
        )
    res = fit(law, kept, x=x, y=y, **fit_kwargs)
    filters = {"warmup_fraction": warmup_fraction, "min_step": min_step,
               "envelope": envelope}

    def record(r: FitResult) -> FitResult:
        return replace(r, excluded={**r.excluded, "warmup": n_warm, "envelope": n_env},
                       settings={**r.settings, "learning_curve": filters})

    if isinstance(res, CombinedFit):
        return replace(res, members=tuple(record(m) for m in res.members),
                       settings={**res.settings, "learning_curve": filters})
    return record(res)


def fit_learning_curve_groups(
    data: pd.DataFrame,
    law: str = "saturating_power",
    *,
    group: str | Sequence[str],
    x: str,
    y: str,
    run: str | None = None,
    warmup_fraction: float = 0.1,
    min_step: float | None = None,
    envelope: bool = False,
    **fit_kwargs: Any,
) -> GroupedFitResult:
    """:func:`fit_learning_curve` on every group: the filters apply within each group.

    Parameters
    ----------
    data : pandas.DataFrame
        Long table of several groups.
    law : str, default="saturating_power"
        Any law.
    group : str or sequence of str
        Group column(s) (``"family,run"`` for several).
    x, y, run, warmup_fraction, min_step, envelope, **fit_kwargs
        As in :func:`fit_learning_curve`, applied per group.

    Returns
    -------
    GroupedFitResult
        One fit per group; groups whose fit failed are listed with the reason.

    Examples
    --------
    >>> import numpy as np
    >>> steps = np.arange(100, 5001, 100)
    >>> df = pd.concat([pd.DataFrame({"g": g, "step": steps, "loss": 2 + a * steps ** -0.5})
    ...                 for g, a in [("a", 50.0), ("b", 80.0)]])
    >>> res = fit_learning_curve_groups(df, group="g", x="step", y="loss")
    >>> [res[g].excluded["warmup"] for g in ("a", "b")]
    [5, 5]
    """
    return fit_each_group(data, group, lambda sub: fit_learning_curve(
        sub, law, x=x, y=y, run=run, warmup_fraction=warmup_fraction, min_step=min_step,
        envelope=envelope, **fit_kwargs))
