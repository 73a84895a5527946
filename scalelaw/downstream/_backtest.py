"""The chain scored on held-out runs: forecast error and prediction-interval coverage."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scalelaw._validation import RandomStateLike, check_columns, check_level, unknown_name
from scalelaw.downstream._chain import ChainResult
from scalelaw.downstream._fitchain import check_chain_calibrate, fit_chain
from scalelaw.exceptions import DataValidationError, ScaleLawError
from scalelaw.fitting import as_frame, group_labels, normalised_scale

__all__ = ["ChainBacktest", "ChainGroup", "backtest_chain"]

#: Split-column markers: both steps' training rows, the metric step's only,
#: held-out rows, rows left out of this backtest.
_ROLES = {True: "train", False: "test", "train": "train", "training": "train",
          "test": "test", "heldout": "test", "held_out": "test", "metric": "metric",
          "second": "metric", "skip": "skip", "exclude": "skip"}


@dataclass(frozen=True)
class ChainGroup:
    """The chain backtest of one group.

    Attributes
    ----------
    group : str
        The group label (``"all"`` without groups).
    status : str
        ``"ok"``, or why the group could not be backtested.
    rows : pandas.DataFrame
        One row per held-out run: ``row`` (its index in the input table), the
        inputs, ``actual``, ``predicted``, ``lower``/``upper`` (the
        prediction interval of a new run), ``curve_lower``/``curve_upper``
        (the interval of the chained curve), ``covered``, ``abs_error``,
        ``via_actual``, ``via_predicted``, ``via_lower``/``via_upper`` (the
        first step's prediction interval), ``via_rel_error``,
        ``extrapolation_factor``.
    n_first, n_second, n_test : int
        Rows that fitted each step, and held-out rows scored.
    excluded : dict
        Rows left out, by reason.
    chain : ChainResult or None
        The fitted chain.
    notes : tuple of str
        Warnings raised while forecasting (by kind and count).
    """

    group: str
    status: str
    rows: pd.DataFrame
    n_first: int = 0
    n_second: int = 0
    n_test: int = 0
    excluded: dict[str, int] = field(default_factory=dict)
    chain: ChainResult | None = None
    notes: tuple[str, ...] = ()

    @property
    def mae(self) -> float:
        """Mean absolute error of the metric forecasts (NaN without rows)."""
        return float(self.rows["abs_error"].mean()) if len(self.rows) else float("nan")

    @property
    def pi_coverage(self) -> float:
        """Share of held-out runs inside their prediction interval."""
        return float(self.rows["covered"].mean()) if len(self.rows) else float("nan")

    @property
    def via_mean_abs_rel_error(self) -> float:
        """Mean absolute relative error of the intermediate (loss) forecasts."""
        if not len(self.rows):
            return float("nan")
        return float(self.rows["via_rel_error"].abs().mean())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready content."""
        out: dict[str, Any] = {
            "group": self.group, "status": self.status, "mae": _num(self.mae),
            "pi_coverage": _num(self.pi_coverage),
            "via_mean_abs_rel_error": _num(self.via_mean_abs_rel_error),
            "n_train_first": self.n_first, "n_train_second": self.n_second,
            "n_test": self.n_test, "excluded": dict(self.excluded), "notes": list(self.notes),
        }
        if self.chain is not None:
            for name, res in (("first", self.chain.first), ("second", self.chain.second)):
                out[name] = {"law": res.law.name, "x": list(res.x), "y": res.y,
                             "params": {k: float(v) for k, v in res.params.items()},
                             "dof_resid": int(res.dof_resid)}
        rows = self.rows.astype(object).where(self.rows.notna(), None)
        out["rows"] = [{k: _num(v) for k, v in r.items()} for r in rows.to_dict("records")]
        return out


def _num(v: Any) -> Any:
    if isinstance(v, np.bool_ | bool):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating | float):
        return float(v) if np.isfinite(v) else None
    return v


@dataclass(frozen=True)
class ChainBacktest:
    """Chain backtests of every group (:func:`backtest_chain`).

    Attributes
    ----------
    groups : tuple of ChainGroup
        One per group.
    settings : dict
        Columns, laws, split, level, draws and fit options.
    """

    groups: tuple[ChainGroup, ...]
    settings: dict[str, Any]

    @property
    def rows(self) -> pd.DataFrame:
        """Every held-out row, with its ``group``."""
        frames = [g.rows.assign(group=g.group) for g in self.groups if len(g.rows)]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    @property
    def overall(self) -> dict[str, Any]:
        """Pooled over groups: ``n_groups`` scored, ``n_test``, ``mae``, ``pi_coverage``."""
        rows = self.rows
        ok = [g for g in self.groups if g.status == "ok"]
        return {"n_groups": len(ok), "n_failed": len(self.groups) - len(ok),
                "n_test": len(rows),
                "mae": float(rows["abs_error"].mean()) if len(rows) else float("nan"),
                "pi_coverage": float(rows["covered"].mean()) if len(rows) else float("nan")}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready content: ``{"groups": [...], "overall": {...}, "settings": {...}}``."""
        return {"groups": [g.to_dict() for g in self.groups],
                "overall": {k: _num(v) for k, v in self.overall.items()},
                "settings": self.settings}

    def summary(self) -> str:
        """A plain-text table: one line per group, then the pooled scores."""
        s = self.settings
        lines = [f"Chain backtest: {s['y']} <- {s['second_law']}({s['via']}) <- "
                 f"{s['first_law']}({', '.join(s['x'])}); {s['level']:.0%} prediction "
                 "intervals",
                 f"{'group':<24} {'fit1':>5} {'fit2':>5} {'test':>5} {'MAE':>9} "
                 f"{'PI cover':>9} {'via |rel err|':>14}  status"]
        for g in self.groups:
            lines.append(f"{g.group[:24]:<24} {g.n_first:>5} {g.n_second:>5} {g.n_test:>5} "
                         f"{g.mae:>9.4g} {g.pi_coverage:>9.2f} "
                         f"{g.via_mean_abs_rel_error:>14.4g}  {g.status}")
        o = self.overall
        lines.append(f"overall: {o['n_test']} held-out runs in {o['n_groups']} group(s), "
                     f"MAE {o['mae']:.4g}, PI coverage {o['pi_coverage']:.2f}"
                     + (f"; {o['n_failed']} group(s) failed" if o["n_failed"] else ""))
        return "\n".join(lines)


def _roles(frame: pd.DataFrame, xs: list[str], holdout_largest: int | None,
           split_column: str | None) -> np.ndarray:
    """Role of each row of one group: train, metric, test or skip."""
    if split_column is not None:
        col = frame[split_column]
        key = col.map(lambda v: v.strip().lower() if isinstance(v, str) else v)
        bad = ~key.isin(list(_ROLES))
        if bad.any():
            rows = frame.index[bad][:5].tolist()
            raise DataValidationError(
                f"Column {split_column!r} must mark rows with 1/True/'train' (both steps), "
                "'metric' (the metric step only), 0/False/'test' (held out) or 'skip'; "
                f"rows {rows} hold {col[bad].head(3).tolist()}.",
                column=split_column, rows=rows)
        return key.map(_ROLES).to_numpy(dtype=object)
    order = np.argsort(normalised_scale(frame, xs), kind="stable")
    roles = np.full(len(frame), "train", dtype=object)
    roles[order[len(frame) - int(holdout_largest or 0):]] = "test"
    return roles


def _one_group(frame: pd.DataFrame, label: str, roles: np.ndarray, *, xs: list[str],
               via: str, y: str, first_law: str, second_law: str, level: float,
               n_draws: int, random_state: RandomStateLike, fit_kwargs: dict[str, Any]
               ) -> ChainGroup:
    excluded: dict[str, int] = {}

    def count(mask: np.ndarray, reason: str) -> np.ndarray:
        if int(mask.sum()):
            excluded[reason] = excluded.get(reason, 0) + int(mask.sum())
        return ~mask

    have_via, have_y = frame[via].notna().to_numpy(), frame[y].notna().to_numpy()
    first_rows = (roles == "train") & count((roles == "train") & ~have_via,
                                            f"training rows without {via!r}")
    second_rows = np.isin(roles, ["train", "metric"]) & have_via & count(
        np.isin(roles, ["train", "metric"]) & have_via & ~have_y,
        f"metric-step rows without {y!r}")
    test_rows = (roles == "test") & count((roles == "test") & ~have_y,
                                          f"held-out rows without {y!r}")
    if int((roles == "skip").sum()):
        excluded["rows marked skip"] = int((roles == "skip").sum())
    empty = pd.DataFrame()
    if not test_rows.any():
        return ChainGroup(label, "no held-out row with a metric", empty, excluded=excluded)
    try:
        chain = fit_chain(frame[first_rows], first_law=first_law, x=xs, intermediate=via,
                          second_law=second_law, y=y, second_data=frame[second_rows],
                          **fit_kwargs)
        test = frame[test_rows]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            tab = chain.get_prediction(level, n_draws=n_draws, random_state=random_state,
                                       extrapolate=True, max_extrapolation=np.inf,
                                       **{c: test[c].to_numpy(dtype=float) for c in xs})
    except ScaleLawError as exc:
        return ChainGroup(label, f"failed: {' '.join(str(exc).split())}", empty,
                          int(first_rows.sum()), int(second_rows.sum()),
                          int(test_rows.sum()), excluded)
    kinds: dict[str, int] = {}
    for w in caught:
        kinds[w.category.__name__] = kinds.get(w.category.__name__, 0) + 1
    actual = test[y].to_numpy(dtype=float)
    via_actual = pd.to_numeric(test[via], errors="coerce").to_numpy(dtype=float)
    rows = pd.DataFrame({"row": test.index.to_numpy()})
    for c in xs:
        rows[c] = test[c].to_numpy(dtype=float)
    rows["actual"] = actual
    rows["predicted"] = tab["mean"].to_numpy()
    rows["lower"], rows["upper"] = tab["obs_ci_lower"].to_numpy(), tab["obs_ci_upper"].to_numpy()
    rows["curve_lower"] = tab["mean_ci_lower"].to_numpy()
    rows["curve_upper"] = tab["mean_ci_upper"].to_numpy()
    rows["covered"] = (rows["lower"] <= actual) & (actual <= rows["upper"])
    rows["abs_error"] = np.abs(rows["predicted"] - actual)
    rows["via_actual"] = via_actual
    rows["via_predicted"] = tab["intermediate"].to_numpy()
    rows["via_lower"] = tab["intermediate_obs_lower"].to_numpy()
    rows["via_upper"] = tab["intermediate_obs_upper"].to_numpy()
    rows["via_rel_error"] = (rows["via_predicted"] - via_actual) / via_actual
    rows["extrapolation_factor"] = tab["extrapolation_factor"].to_numpy()
    notes = tuple(f"{n} {k} while forecasting" for k, n in sorted(kinds.items()))
    return ChainGroup(label, "ok", rows, int(first_rows.sum()), int(second_rows.sum()),
                      int(test_rows.sum()), excluded, chain, notes)


def backtest_chain(
    data: pd.DataFrame,
    *,
    x: str | Sequence[str],
    via: str,
    y: str,
    first_law: str = "chinchilla",
    second_law: str = "logit_linear",
    holdout_largest: int | None = None,
    split_column: str | None = None,
    group: str | Sequence[str] | None = None,
    level: float = 0.9,
    n_draws: int = 4000,
    random_state: RandomStateLike = 0,
    calibrate: bool | str = "chain",
    **fit_kwargs: Any,
) -> ChainBacktest:
    """Fit the loss-to-metric chain on training runs and score it on held-out runs.

    Per group: the first step (``via`` from ``x``, e.g. the loss from ``N``
    and ``D``) is fitted on the training rows, the second (``y`` from
    ``via``, e.g. accuracy from the loss) on the training rows and any rows
    marked ``"metric"``; the held-out rows' metric is forecast from their
    inputs alone (:meth:`ChainResult.get_prediction`, beyond the data
    without a guard) and scored: absolute error, and whether the prediction
    interval of a new run holds it. Rows without the columns a step needs
    are left out of that step and counted; a group that cannot be fitted is
    reported with its reason, the others go on.

    Parameters
    ----------
    data : pandas.DataFrame
        The runs.
    x : str or sequence of str
        The first step's input column(s) (a comma-separated string names
        several).
    via : str
        The intermediate column (a loss).
    y : str
        The metric column.
    first_law, second_law : str, default="chinchilla", "logit_linear"
        The laws of each step (any law name with options, or a formula).
    holdout_largest : int, optional
        Hold out the ``K`` largest-scale rows of each group.
    split_column : str, optional
        A column marking each row: 1/True/``"train"`` (both steps),
        ``"metric"`` (the metric step only), 0/False/``"test"`` (held out) or
        ``"skip"``. Exactly one of ``holdout_largest`` and ``split_column``.
    group : str or sequence of str, optional
        One backtest per value of these columns.
    level : float, default=0.9
        Prediction-interval level.
    n_draws : int, default=4000
        Monte Carlo draws of the chain's intervals.
    random_state : int or numpy.random.Generator, default=0
        Seed of the draws.
    calibrate : {"chain", "first", True, False}, default="chain"
        Calibrate the chain's own error toward larger models (``"chain"``),
        the first step's (``"first"``), both steps' (``True``) or nothing
        (``False``) on the training rows (see :func:`fit_chain`).
    **fit_kwargs
        Passed to both fits (``objective``, ``starts``, ...).

    Returns
    -------
    ChainBacktest
        Per group: the held-out rows with forecasts and intervals, the mean
        absolute error and the interval coverage.

    Raises
    ------
    DataValidationError
        Missing columns, both or neither split option, bad split markers.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> n = np.repeat(np.logspace(7, 9, 5), 3)
    >>> d = np.tile([20.0, 40.0, 80.0], 5) * n
    >>> loss = (1.8 + 400 * n ** -0.34 + 410 * d ** -0.28) * np.exp(rng.normal(0, .01, 15))
    >>> acc = 0.25 + 0.7 / (1 + np.exp(-(9.0 - 3.5 * loss)))
    >>> runs = pd.DataFrame({"n_params": n, "n_tokens": d, "loss": loss, "acc": acc})
    >>> bt = backtest_chain(runs, x="n_params,n_tokens", via="loss", y="acc",
    ...                     second_law="logit_linear:floor=0.25", holdout_largest=3,
    ...                     objective="mse_log", n_draws=1000)
    >>> g = bt.groups[0]
    >>> g.n_first, g.n_test, bool(g.mae < 0.02)
    (12, 3, True)
    """
    data = as_frame(data)
    xs = [c.strip() for c in x.split(",") if c.strip()] if isinstance(x, str) else list(x)
    level = check_level(level)
    if (holdout_largest is None) == (split_column is None):
        raise DataValidationError("Give exactly one of holdout_largest (--holdout-largest "
                                  "K) and split_column (--split-column COL).",
                                  column="split_column")
    if holdout_largest is not None and not (isinstance(holdout_largest, int | np.integer)
                                            and holdout_largest >= 1):
        raise DataValidationError(f"The 'holdout_largest' parameter must be an int >= 1. "
                                  f"Got {holdout_largest!r} instead.",
                                  column="holdout_largest")
    check_chain_calibrate(calibrate)
    check_columns(data, xs, role="x")
    check_columns(data, [via], role="via")
    check_columns(data, [y], role="y")
    if split_column is not None:
        if split_column not in data.columns:
            raise unknown_name("column", split_column, [str(c) for c in data.columns])
        _roles(data, xs, None, split_column)  # bad markers fail before any work
    if group is not None:
        _, labels = group_labels(data, group)
    else:
        labels = pd.Series("all", index=data.index)
    groups = []
    for label in sorted(labels.unique(), key=str):
        frame = data[labels == label]
        roles = _roles(frame, xs, holdout_largest, split_column)
        groups.append(_one_group(frame, str(label), roles, xs=xs, via=via, y=y,
                                 first_law=first_law, second_law=second_law, level=level,
                                 n_draws=n_draws, random_state=random_state,
                                 fit_kwargs={**fit_kwargs, "calibrate": calibrate}))
    settings = {"x": xs, "via": via, "y": y, "first_law": first_law,
                "second_law": second_law, "level": level, "holdout_largest": holdout_largest,
                "split_column": split_column, "group": group, "n_draws": n_draws,
                "random_state": (random_state if isinstance(random_state, int)
                                 else type(random_state).__name__), "calibrate": calibrate,
                "fit": {k: v for k, v in fit_kwargs.items() if isinstance(v, str | int | float
                                                                         | bool | None)}}
    return ChainBacktest(tuple(groups), settings)
