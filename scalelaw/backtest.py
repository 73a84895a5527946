"""Backtests (fit small scales, predict held-out large ones) and law selection.

* :func:`backtest`: per group, fit on the smaller scales and score the
  forecast of the held-out larger ones: RMSLE, absolute relative error and the
  share of held-out points inside the prediction interval.
* :func:`select_law`: choose among candidate laws by how well each predicts
  larger scales *within the training data* (rolling-origin cuts), not by
  in-sample fit: in-sample fit rewards flexibility, extrapolation punishes it.
  ``scalelaw.fit("auto", ...)`` and ``scalelaw fit --law auto`` use it.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scalelaw._validation import check_level
from scalelaw.exceptions import DataValidationError, ScaleLawError
from scalelaw.forecast import DEFAULT_CUTS, backtest_errors, normalised_scale

__all__ = [
    "AUTO_CANDIDATES",
    "BacktestResult",
    "LawSelection",
    "backtest",
    "select_law",
]

#: Cuts whose backtests score the candidates (the later ones: their fits see
#: most of the data, like the final fit); the earlier cuts only feed the
#: extrapolation calibration.
SCORE_CUTS = (0.65, 0.8)

#: Candidate laws of ``"auto"`` by number of inputs.
AUTO_CANDIDATES: dict[int, tuple[str, ...]] = {
    1: ("saturating_power", "m3", "m4", "broken_power"),
    2: ("chinchilla", "kaplan"),
}


@dataclass(frozen=True)
class LawSelection:
    """Outcome of :func:`select_law`.

    Attributes
    ----------
    chosen : str
        Name of the chosen law.
    table : pandas.DataFrame
        One row per candidate: ``law``, ``score`` (held-out RMSLE averaged
        over cuts; lower is better), ``n_points``, ``n_cuts``, ``status``.
    reason : str
        One sentence saying why.
    cuts : tuple of float
        Cut positions on the normalised log scale.
    """

    chosen: str
    table: pd.DataFrame
    reason: str
    cuts: tuple[float, ...]
    errors: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready content."""
        return {
            "chosen": self.chosen,
            "reason": self.reason,
            "cuts": list(self.cuts),
            "table": self.table.replace({np.nan: None}).to_dict(orient="records"),
        }


def select_law(
    data: pd.DataFrame,
    *,
    x: str | Sequence[str],
    y: str,
    candidates: Sequence[str] | None = None,
    cuts: Sequence[float] = DEFAULT_CUTS,
    score_cuts: Sequence[float] | None = SCORE_CUTS,
    objective: str = "huber_log",
    delta: float = 1e-3,
    weights: str | None = None,
) -> LawSelection:
    """Choose a law by held-out-scale validation inside the training data.

    Each candidate is fitted on the rows below each cut of the normalised log
    scale (0 = smallest run, 1 = largest, by the product of the inputs) and
    scored by the RMSLE of its forecast of the rows above; the score is the
    mean over ``score_cuts``. A candidate that fails at a scoring cut scores
    infinity there. Ties (within 1 % + 1e-4) go to the law with fewer parameters.
    The backtest errors of all candidates at all cuts are kept (``errors``)
    to calibrate the prediction intervals of the chosen law: pooling them
    keeps the intervals from inheriting the optimism of picking the law with
    the smallest backtest errors, and carries the disagreement between
    plausible laws into the forecast.

    Parameters
    ----------
    data : pandas.DataFrame
        Runs (already cleaned: positive, finite).
    x : str or sequence of str
        Input column(s).
    y : str
        Target column.
    candidates : sequence of str, optional
        Law names (options allowed, e.g. ``"broken_power:n_breaks=2"``);
        default :data:`AUTO_CANDIDATES` for the number of inputs.
    cuts : sequence of float, default=(0.5, 0.65, 0.8)
        Cut positions of the backtests.
    score_cuts : sequence of float or None, default=(0.65, 0.8)
        The cuts that score (a subset of ``cuts``); None = all.
    objective, delta
        Fitting objective, as in :func:`scalelaw.fit`.
    weights : str, optional
        Column of row weights used by every backtest fit.

    Returns
    -------
    LawSelection
        The chosen law, the score table and the reason.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> n = np.logspace(3, 7, 40)
    >>> df = pd.DataFrame({"n": n, "L": 0.5 + 20 * n ** -0.4})
    >>> sel = select_law(df, x="n", y="L", candidates=["power", "saturating_power"])
    >>> sel.chosen
    'saturating_power'
    """
    xs = [x] if isinstance(x, str) else list(x)
    if candidates is None:
        if len(xs) not in AUTO_CANDIDATES:
            raise DataValidationError(
                f"Law 'auto' chooses among laws of 1 or 2 inputs; got x={xs!r}. Name a "
                "law instead.",
                column="law",
            )
        candidates = AUTO_CANDIDATES[len(xs)]
    if not candidates:
        raise DataValidationError("The 'candidates' parameter is empty.", column="candidates")
    cuts = tuple(float(c) for c in cuts)
    if not cuts or not all(0.0 < c < 1.0 for c in cuts):
        raise DataValidationError(
            f"The 'cuts' parameter must hold fractions strictly between 0 and 1. Got "
            f"{list(cuts)!r} instead.",
            column="cuts",
        )
    score_cuts = cuts if score_cuts is None else tuple(float(c) for c in score_cuts)
    if not set(score_cuts) <= set(cuts):
        raise DataValidationError(
            f"The 'score_cuts' parameter must be a subset of cuts {list(cuts)}. Got "
            f"{list(score_cuts)!r} instead.",
            column="score_cuts",
        )
    from scalelaw.laws import get_law

    rows = []
    errors = {}
    for name in candidates:
        law_obj = get_law(name, inputs=xs)
        err, notes = backtest_errors(name, data, xs, y, cuts,
                                     {"objective": objective, "delta": delta,
                                      "weights": weights})
        errors[name] = err
        per_cut = []
        for cut in score_cuts:
            e = err.loc[err["cut"] == cut, "log_error"].to_numpy()
            if e.size and np.all(np.isfinite(e)):
                per_cut.append(float(np.sqrt(np.mean(e**2))))
            elif e.size:
                per_cut.append(np.inf)
        score = float(np.mean(per_cut)) if per_cut else np.inf
        rows.append({"law": name, "score": score, "n_params": len(law_obj.params),
                     "n_points": len(err), "n_cuts": len(per_cut),
                     "status": "; ".join(notes) or "ok"})
    table = pd.DataFrame(rows)
    finite = table[np.isfinite(table["score"])]
    if finite.empty:
        raise ScaleLawError(
            "Law 'auto': no candidate could be validated (too few rows below the cuts "
            f"{list(cuts)}?). Details: "
            + " | ".join(f"{r.law}: {r.status}" for r in table.itertuples())
        )
    best = float(finite["score"].min())
    near = finite[finite["score"] <= best * 1.01 + 1e-4]  # 1e-4: far below any noise
    chosen = str(near.sort_values(["n_params", "score"]).iloc[0]["law"])
    ranked = finite.sort_values("score")
    others = ", ".join(f"{r.law} {r.score:.4g}" for r in ranked.itertuples()
                       if r.law != chosen)
    reason = (
        f"chose {chosen}: lowest held-out RMSLE when fitted below cuts {list(score_cuts)} of the "
        f"log-scale range and asked to predict the larger runs "
        f"({float(table.set_index('law').loc[chosen, 'score']):.4g}"
        + (f"; others: {others}" if others else "") + ")"
    )
    return LawSelection(chosen, table, reason, cuts, errors)


@dataclass(frozen=True)
class BacktestResult:
    """Outcome of :func:`backtest`.

    Attributes
    ----------
    overall : dict
        ``rmsle_mean``, ``rmsle_median`` (over groups), ``are_mean`` (mean over
        groups of the mean absolute relative error), ``pi_coverage`` (share of
        all held-out points inside the prediction interval), ``n_groups``,
        ``n_failed``, ``level``.
    groups : pandas.DataFrame
        One row per group: ``group``, ``law``, ``rmsle``, ``are``,
        ``pi_coverage``, ``n_train``, ``n_test``, ``n_excluded`` (held-out rows
        not scored: non-positive or non-finite), ``status``.
    points : pandas.DataFrame
        One row per held-out point with its forecast and interval.
    """

    overall: dict[str, Any]
    groups: pd.DataFrame
    points: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready ``{"overall": {...}, "groups": [...]}``."""
        groups = self.groups.astype(object).where(self.groups.notna(), None)
        return {"overall": dict(self.overall), "groups": groups.to_dict(orient="records")}

    def summary(self) -> str:
        """A readable table."""
        o = self.overall
        head = (f"backtest: {o['n_groups']} group(s), {o['n_failed']} failed; RMSLE mean "
                f"{o['rmsle_mean']:.4g} median {o['rmsle_median']:.4g}; ARE mean "
                f"{o['are_mean']:.4g}; {o['level']:.0%} PI coverage {o['pi_coverage']:.3f}")
        return head + "\n" + self.groups.to_string(index=False)


def _split(frame: pd.DataFrame, xs: list[str], holdout_largest: int | None,
           split_column: str | None) -> np.ndarray:
    """Boolean mask of the training rows of one group."""
    if split_column is not None:
        col = frame[split_column]
        mapping = {True: True, False: False, "train": True,  # 1 == True, 0 == False
                   "test": False, "training": True, "heldout": False, "held_out": False}
        bad = ~col.isin(list(mapping))
        if bad.any():
            rows = frame.index[bad][:5].tolist()
            raise DataValidationError(
                f"Column {split_column!r} must mark training rows with 1/True/'train' and "
                f"held-out rows with 0/False/'test'; rows {rows} hold "
                f"{col[bad].head(3).tolist()}.",
                column=split_column, rows=rows,
            )
        return col.map(mapping).to_numpy(dtype=bool)
    s = normalised_scale(frame, tuple(xs))
    order = np.argsort(s, kind="stable")
    mask = np.ones(len(frame), dtype=bool)
    mask[order[len(frame) - int(holdout_largest or 0):]] = False
    return mask


def backtest(
    data: pd.DataFrame,
    law: str,
    *,
    x: str | Sequence[str],
    y: str,
    group: str | None = None,
    holdout_largest: int | None = None,
    split_column: str | None = None,
    level: float = 0.9,
    objective: str = "huber_log",
    delta: float = 1e-3,
    max_extrapolation: float = np.inf,
) -> BacktestResult:
    """Fit on the smaller scales, forecast the held-out larger ones, score.

    Parameters
    ----------
    data : pandas.DataFrame
        Runs.
    law : str
        Law name, formula or ``"auto"`` (chosen per group on the training rows).
    x : str or sequence of str
        Input column(s).
    y : str
        Target column.
    group : str, optional
        One backtest per value of this column (e.g. a learning curve id).
    holdout_largest : int, optional
        Hold out the K largest-scale rows of each group (scale = mean
        normalised log input).
    split_column : str, optional
        Column marking training rows (1/True/"train") and held-out rows
        (0/False/"test"). Exactly one of ``holdout_largest``/``split_column``.
    level : float, default=0.9
        Prediction-interval level for the coverage score.
    objective, delta
        As in :func:`scalelaw.fit`.
    max_extrapolation : float, default=inf
        Passed to :meth:`FitResult.get_prediction` (backtests extrapolate by
        design, so no limit by default).

    Returns
    -------
    BacktestResult
        Overall and per-group scores and the per-point forecasts.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> n = np.logspace(3, 7, 30)
    >>> df = pd.DataFrame({"n": n, "L": 0.5 + 20 * n ** -0.4})
    >>> bt = backtest(df, "saturating_power", x="n", y="L", holdout_largest=5)
    >>> bt.overall["rmsle_mean"] < 1e-6, bt.overall["n_groups"]
    (True, 1)
    """
    from scalelaw.fitting import fit

    xs = [x] if isinstance(x, str) else list(x)
    level = check_level(level)
    if (holdout_largest is None) == (split_column is None):
        raise DataValidationError(
            "Give exactly one of holdout_largest (--holdout-largest K) and split_column "
            "(--split-column COL).",
            column="holdout_largest",
        )
    if holdout_largest is not None and not (
        isinstance(holdout_largest, int | np.integer) and holdout_largest >= 1
    ):
        raise DataValidationError(
            f"The 'holdout_largest' parameter must be an int >= 1. Got {holdout_largest!r} "
            "instead.",
            column="holdout_largest",
        )
    for col in [c for c in (group, split_column) if c is not None]:
        if col not in data.columns:
            from scalelaw._validation import unknown_name

            raise unknown_name("column", col, list(data.columns))
    from scalelaw.laws import get_law

    if law != "auto":
        get_law(law, inputs=xs)  # unknown names fail before any work
    groups = [(None, data)] if group is None else list(data.groupby(group, sort=False))
    rows, points = [], []
    for key, frame in groups:
        frame = frame.reset_index(drop=True)
        train_mask = _split(frame, xs, holdout_largest, split_column)
        train, test = frame[train_mask], frame[~train_mask]
        row: dict[str, Any] = {"group": None if key is None else _plain(key), "law": law,
                               "rmsle": np.nan, "are": np.nan, "pi_coverage": np.nan,
                               "n_train": len(train), "n_test": len(test),
                               "n_excluded": 0, "status": "ok"}
        try:
            if len(test) == 0:
                raise ScaleLawError("no held-out rows")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = fit(law, train, x=xs, y=y, objective=objective, delta=delta)
            row["law"] = res.law.name if law != "auto" else res.settings["auto"]["chosen"]
            vals = test[[*xs, y]].apply(pd.to_numeric, errors="coerce")
            ok_rows = np.isfinite(vals.to_numpy(dtype=np.float64)).all(axis=1) & (
                vals.to_numpy(dtype=np.float64) > 0).all(axis=1)
            row["n_excluded"] = int((~ok_rows).sum())
            if not ok_rows.any():
                raise ScaleLawError("no valid held-out rows (positive, finite)")
            clean = vals[ok_rows]
            cols = {c: clean[c].to_numpy(dtype=np.float64) for c in xs}
            tab = res.get_prediction(level, extrapolate=True,
                                     max_extrapolation=max(max_extrapolation, 1.0), **cols)
            obs = clean[y].to_numpy(dtype=np.float64)
            mean = tab["mean"].to_numpy()
            row["rmsle"] = float(np.sqrt(np.mean((np.log(mean) - np.log(obs)) ** 2)))
            row["are"] = float(np.mean(np.abs(mean - obs) / obs))
            inside = (obs >= tab["obs_ci_lower"].to_numpy()) & (
                obs <= tab["obs_ci_upper"].to_numpy())
            row["pi_coverage"] = float(np.mean(inside))
            tab[y] = obs
            tab["inside"] = inside
            tab["group"] = row["group"]
            points.append(tab)
        except ScaleLawError as exc:
            row["status"] = f"failed: {exc}"
        rows.append(row)
    table = pd.DataFrame(rows)
    ok = table[table["status"] == "ok"]
    pts = pd.concat(points, ignore_index=True) if points else pd.DataFrame()
    overall = {
        "rmsle_mean": float(ok["rmsle"].mean()) if len(ok) else float("nan"),
        "rmsle_median": float(ok["rmsle"].median()) if len(ok) else float("nan"),
        "are_mean": float(ok["are"].mean()) if len(ok) else float("nan"),
        "pi_coverage": float(pts["inside"].mean()) if len(pts) else float("nan"),
        "n_groups": len(ok),
        "n_failed": int(len(table) - len(ok)),
        "level": level,
    }
    return BacktestResult(overall, table, pts)


def _plain(value: Any) -> Any:
    if isinstance(value, tuple) and len(value) == 1:
        value = value[0]
    return value.item() if isinstance(value, np.generic) else value
