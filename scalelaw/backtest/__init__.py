"""Backtests: fit the smaller scales, forecast the held-out larger ones, score.

Per group, the law is fitted on the training rows (the smaller scales, or a
split column), calibrated on them (:func:`scalelaw.calibrate`, unless the
law is ``"auto"``, whose choice calibrates itself) and asked to forecast the
held-out rows: RMSLE, absolute relative error and the share of held-out
points inside the prediction interval. Every row's forecast and intervals
are kept (:attr:`BacktestResult.points`; :meth:`BacktestResult.write_points`
writes them as a table, :func:`scalelaw.plotting.plot_backtest` draws them).
Warnings raised while fitting a group are recorded in its row, never hidden.
Groups are independent: ``n_jobs`` spreads them over worker processes (each
limited to one BLAS thread), with the same numbers as one process.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scalelaw._validation import check_columns, check_level, unknown_name
from scalelaw.backtest._points import _score_group
from scalelaw.exceptions import DataValidationError, DuplicateRowsWarning, ScaleLawError
from scalelaw.fitting import as_frame, calibrate, fit, group_labels, normalised_scale
from scalelaw.laws import average_names, get_law
from scalelaw.results import CombinedFit, FitResult

__all__ = ["MIN_EXTRA_ROWS", "UNIT_FREE_LAWS", "BacktestResult", "backtest"]

#: A group is scored only with at least (free parameters + this) training rows: with
#: fewer the fit has almost no residual degrees of freedom and its forecast interval
#: is undefined or meaningless. ``"auto"`` counts the largest candidate.
MIN_EXTRA_ROWS = 2
#: Batched backtests: each worker's groups go in up to BATCH_PARTS_PER_JOB parts of
#: equal size, as many as keep MIN_BATCH_GROUPS groups in each (one part per worker
#: when there are fewer; two in all with one worker and a progress bar, so that it
#: moves). A batch's optimiser iterations cost about the same for 10 problems as for
#: 100 (array overhead), and the slowest problem sets their number, so fewer, larger
#: batches are faster: M4 on the 92 bundled curves took 24.3 s in batches of 23
#: groups, 19.8 s of 46 and 18.4 s of 92 (CPU time, one process, 2026-12-06); the 92
#: curves on 2 workers go in one batch each.
BATCH_PARTS_PER_JOB = 4
MIN_BATCH_GROUPS = 48
#: Laws whose log-space fit does not depend on the target's unit: multiplying the loss by
#: ``c`` multiplies their amplitudes (``A``, ``B``, ``E``, ``a``, ``b``, ``beta``,
#: ``eps_inf``, ``eps_0``) and every forecast by ``c`` and leaves the exponents alone.
#: Kaplan's law (no amplitude), formulas and M4 with a fixed ``eps_0`` are not.
UNIT_FREE_LAWS = frozenset({"power", "saturating_power", "chinchilla", "broken_power",
                            "gadre", "m1", "m2", "m3", "m4"})


@dataclass(frozen=True)
class BacktestResult:
    """Outcome of :func:`backtest`.

    Attributes
    ----------
    overall : dict
        ``rmsle_mean``, ``rmsle_median`` (over groups), ``are_mean`` (mean over
        groups of the mean absolute relative error), ``pi_coverage`` (share of
        all held-out points inside the prediction interval), ``n_groups``
        (scored), ``n_failed`` (not scored, including ``n_not_scorable``),
        ``level``.
    groups : pandas.DataFrame
        One row per group: ``group``, ``law``, ``rmsle``, ``are``,
        ``pi_coverage``, ``n_train``, ``n_test``, ``n_excluded`` (held-out rows
        not scored: non-positive or non-finite), ``status`` (``ok``,
        ``failed: ...`` or ``not scorable: ...``) and ``warnings`` (what
        fitting the group warned about).
    points : pandas.DataFrame
        One row per point of every scored group, training rows included:
        the inputs, the target (actual), ``mean`` (the forecast, or the
        fitted value of a training row), ``mean_ci_lower``/``upper`` (interval
        of the mean curve), ``obs_ci_lower``/``upper`` (prediction interval
        at ``level``), ``extrapolation_factor``, ``extrapolation_distance``,
        ``inside`` (actual inside the prediction interval), ``heldout``
        (False for the training rows the fit saw), ``group`` and ``law``.
        Scores use the held-out rows only.
    """

    overall: dict[str, Any]
    groups: pd.DataFrame
    points: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready ``{"overall": {...}, "groups": [...], "points": [...]}``.

        ``points`` holds one record per row of :attr:`points` (held-out and
        training rows; ``heldout`` tells them apart).
        """
        groups = self.groups.astype(object).where(self.groups.notna(), None)
        points = self.points.astype(object).where(self.points.notna(), None)
        return {"overall": dict(self.overall), "groups": groups.to_dict(orient="records"),
                "points": points.to_dict(orient="records")}

    def write_points(self, path: str | os.PathLike[str]) -> None:
        """Write :attr:`points` as a table: CSV (``.csv``, ``.tsv``) or Parquet (``.parquet``).

        Parameters
        ----------
        path : str or path-like
            Output file; its extension picks the format.

        Raises
        ------
        DataValidationError
            Another extension.

        Examples
        --------
        >>> import tempfile, numpy as np, pandas as pd
        >>> n = np.logspace(3, 7, 30)
        >>> df = pd.DataFrame({"n": n, "L": 0.5 + 20 * n ** -0.4})
        >>> bt = backtest(df, "saturating_power", x="n", y="L", holdout_largest=5)
        >>> with tempfile.TemporaryDirectory() as d:
        ...     bt.write_points(f"{d}/points.csv")
        ...     table = pd.read_csv(f"{d}/points.csv")
        >>> int(table["heldout"].sum()), len(table)
        (5, 30)
        """
        suffix = os.fspath(path).lower().rsplit(".", 1)[-1]
        if suffix in ("csv", "tsv"):
            self.points.to_csv(path, index=False, sep="," if suffix == "csv" else "\t")
        elif suffix in ("parquet", "pq"):
            self.points.to_parquet(path, index=False)
        else:
            raise DataValidationError(
                f"The points table is written as CSV (.csv, .tsv) or Parquet (.parquet); got "
                f"{os.fspath(path)!r}.", column="out")

    def summary(self) -> str:
        """A readable table, then the warnings of each group that had any.

        Returns
        -------
        str
            The report.
        """
        o = self.overall
        head = (f"backtest: {o['n_groups']} group(s) scored, {o['n_failed']} not "
                f"({o.get('n_not_scorable', 0)} not scorable); RMSLE mean "
                f"{o['rmsle_mean']:.4g} median {o['rmsle_median']:.4g}; ARE mean "
                f"{o['are_mean']:.4g}; {o['level']:.0%} PI coverage {o['pi_coverage']:.3f}")
        table = self.groups.drop(columns=["warnings"], errors="ignore")
        lines = [head, table.to_string(index=False)]
        warned = self.groups[self.groups.get("warnings", pd.Series(dtype=str)).astype(bool)] \
            if "warnings" in self.groups else self.groups.iloc[:0]
        if len(warned):
            lines.append("warnings:")
            lines += [f"  {r.group!r}: {r.warnings}" for r in warned.itertuples()]
        return "\n".join(lines)


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
    group: str | Sequence[str] | None = None,
    holdout_largest: int | None = None,
    split_column: str | None = None,
    level: float = 0.9,
    objective: str = "huber_log",
    delta: float = 1e-3,
    max_extrapolation: float = np.inf,
    n_jobs: int | None = 1,
    progress: bool = False,
    batch: bool = True,
) -> BacktestResult:
    """Fit on the smaller scales, forecast the held-out larger ones, score.

    Parameters
    ----------
    data : pandas.DataFrame
        Runs.
    law : str
        Law name, formula, ``"average:a+b+..."`` (each law fitted, forecasts
        combined) or ``"auto"`` (chosen per group on the training rows).
    x : str or sequence of str
        Input column(s).
    y : str
        Target column.
    group : str or sequence of str, optional
        One backtest per value of this column (or combination of columns,
        e.g. ``"family,run"``).
    holdout_largest : int, optional
        Hold out the K largest-scale rows of each group (scale = normalised
        log input). A group with K rows or fewer is reported as not scorable.
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
    n_jobs : int or None, default=1
        Worker processes for the groups (``None``: one per CPU). Results do
        not depend on it.
    progress : bool, default=False
        Show a progress bar over groups (tqdm).
    batch : bool, default=True
        Fit every group, and every backtest refit inside them (calibration,
        and each candidate of ``law="auto"``), of one law in shared array
        batches. ``False`` fits group by group; both give the same numbers.

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
    data = as_frame(data)
    xs = [x] if isinstance(x, str) else list(x)
    check_columns(data, xs, role="x")
    check_columns(data, [y], role="y")
    level = check_level(level)
    if (holdout_largest is None) == (split_column is None):
        raise DataValidationError(
            "Give exactly one of holdout_largest (--holdout-largest K) and split_column "
            "(--split-column COL).",
            column="holdout_largest",
        )
    if holdout_largest is not None and not (
        isinstance(holdout_largest, int | np.integer) and not isinstance(holdout_largest, bool)
        and holdout_largest >= 1
    ):
        raise DataValidationError(
            f"The 'holdout_largest' parameter must be an int >= 1. Got {holdout_largest!r} "
            "instead.",
            column="holdout_largest",
        )
    if split_column is not None:
        if split_column not in data.columns:
            raise unknown_name("column", split_column, [str(c) for c in data.columns])
        _split(data, xs, None, split_column)  # bad markers fail before any work
    if law != "auto":  # unknown names fail before any work
        for name in average_names(law) or [law]:
            get_law(name, inputs=xs)
    if group is None:
        groups: list[tuple[Any, pd.DataFrame]] = [(None, data)]
    else:
        _, labels = group_labels(data, group)
        groups = [(key, data[(labels == key).to_numpy()])
                  for key in pd.unique(labels.to_numpy())]
    min_rows = _min_train_rows(law, xs)
    unit_free = _unit_free(law, xs, objective)
    _warn_duplicates(groups, xs, y)
    tasks = [(frame.reset_index(drop=True), key, law, xs, y, holdout_largest, split_column,
              level, objective, delta, max_extrapolation, min_rows, unit_free)
             for key, frame in groups]
    results = _run_groups(tasks, n_jobs, progress, batch=batch)
    rows = [r for r, _ in results]
    points = [t for _, t in results if t is not None]
    table = pd.DataFrame(rows)
    ok = table[table["status"] == "ok"]
    pts = (pd.concat(points, ignore_index=True) if points
           else pd.DataFrame(columns=[*xs, y, "heldout", "inside", "group", "law"]))
    held = pts[pts["heldout"].astype(bool)]
    overall = {
        "rmsle_mean": float(ok["rmsle"].mean()) if len(ok) else float("nan"),
        "rmsle_median": float(ok["rmsle"].median()) if len(ok) else float("nan"),
        "are_mean": float(ok["are"].mean()) if len(ok) else float("nan"),
        "pi_coverage": float(held["inside"].mean()) if len(held) else float("nan"),
        "n_groups": len(ok),
        "n_failed": int((table["status"] != "ok").sum()),
        "n_not_scorable": int(table["status"].str.startswith("not scorable").sum()),
        "level": level,
        "x": list(xs),
        "y": y,
    }
    return BacktestResult(overall, table, pts)


def _min_train_rows(law: str, xs: list[str]) -> int:
    from scalelaw.fitting import AUTO_CANDIDATES

    names = (AUTO_CANDIDATES.get(len(xs), ()) if law == "auto"
             else average_names(law) or [law])
    n_par = max((int(np.count_nonzero(np.subtract(*get_law(n, inputs=xs).internal_bounds())
                                      < 0)) for n in names), default=1)
    return n_par + MIN_EXTRA_ROWS


def _unit_free(law: str, xs: list[str], objective: str) -> bool:
    """Whether every law the backtest may fit ignores the target's unit (log objectives)."""
    from scalelaw.fitting import AUTO_CANDIDATES
    from scalelaw.optim.objective import is_log

    if not is_log(objective):
        return False
    names = (AUTO_CANDIDATES.get(len(xs), ()) if law == "auto"
             else average_names(law) or [law])  # a combination: each of its members
    laws = [get_law(n, inputs=xs) for n in names]
    return bool(laws) and all(lw.name in UNIT_FREE_LAWS and getattr(lw, "eps_0", None) is None
                              for lw in laws)


def _in_unit(train: pd.DataFrame, test: pd.DataFrame, y: str
             ) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """Both parts with the target divided by the training rows' geometric mean.

    Log-space fits of a law in :data:`UNIT_FREE_LAWS` are unchanged by the
    target's unit in exact arithmetic, but not in the optimiser's: its
    coordinates for ``E`` or ``eps_inf`` and its tolerances are absolute, so a
    loss given in another unit (x 1e300) chose another law and scored worse.
    Fitted in this unit, a group's forecasts and scores do not depend on it.
    """
    if not pd.api.types.is_numeric_dtype(train[y]) or not pd.api.types.is_numeric_dtype(
            test[y]):
        return train, test, 1.0  # text in the target: the fit reports it as given
    v = train[y].to_numpy(dtype=np.float64)
    ok = np.isfinite(v) & (v > 0)
    if not ok.any():
        return train, test, 1.0
    unit = float(np.exp(np.mean(np.log(v[ok]))))
    if not (np.isfinite(unit) and unit > 0):
        return train, test, 1.0
    return (train.assign(**{y: train[y] / unit}), test.assign(**{y: test[y] / unit}), unit)


def _warn_duplicates(groups: list[tuple[Any, pd.DataFrame]], xs: list[str], y: str) -> None:
    """The warning ``fit`` gives, once for the whole table, with the groups concerned."""
    hit = []
    for key, frame in groups:
        n = int(frame.duplicated(subset=[*xs, y]).sum())
        if n:
            hit.append((key, n))
    if hit:
        total = sum(n for _, n in hit)
        where = ", ".join(f"{_plain(k)!r}: {n}" for k, n in hit[:5])
        warnings.warn(
            f"{total} duplicate row(s) (same inputs and target) are kept in {len(hit)} "
            f"group(s) ({where}{', ...' if len(hit) > 5 else ''}). Remove them if they are "
            "the same run logged twice.", DuplicateRowsWarning, stacklevel=3)


def _one_thread() -> None:
    """Worker initialiser: the workers share the CPUs, so each computes on one thread."""
    from scalelaw.optim import set_worker_threads

    set_worker_threads(1)  # this worker process only
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn brings it
        return
    threadpool_limits(1)


def _run_groups(tasks: list[tuple], n_jobs: int | None, progress: bool,
                batch: bool = False) -> list[tuple]:
    n_jobs = (os.cpu_count() or 1) if n_jobs is None else int(n_jobs)
    if n_jobs < 1:
        raise DataValidationError(f"n_jobs must be at least 1 or None, got {n_jobs}",
                                  column="n_jobs")
    if batch:  # up to BATCH_PARTS_PER_JOB per worker: the bar moves, the batches stay big
        parts = min(BATCH_PARTS_PER_JOB, max(2 if progress and n_jobs == 1 else 1,
                                             len(tasks) // (n_jobs * MIN_BATCH_GROUPS)))
        size = max(1, -(-len(tasks) // (parts * n_jobs)))
        units: list[tuple[Any, list[tuple]]] = [
            (_backtest_batch, [tasks[i:i + size]]) for i in range(0, len(tasks), size)]
    else:
        units = [(_backtest_group, list(t)) for t in tasks]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(tasks), desc="backtest", unit="group")

    def done(result: Any) -> list[tuple]:
        out = result if isinstance(result, list) else [result]
        if bar is not None:
            bar.update(len(out))
        return out

    try:
        if n_jobs == 1 or len(units) < 2:
            return [r for fn, args in units for r in done(fn(*args))]
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # fork where the platform has it: workers need no re-import of the caller's
        # script (spawn would run an unguarded script again); elsewhere spawn
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        with ProcessPoolExecutor(min(n_jobs, len(units)), mp_context=ctx,
                                 initializer=_one_thread) as ex:
            futures = [ex.submit(fn, *args) for fn, args in units]
            return [r for f in futures for r in done(f.result())]
    finally:
        if bar is not None:
            bar.close()


def _prepare_group(frame: pd.DataFrame, key: Any, law: str, xs: list[str],
                   holdout_largest: int | None, split_column: str | None,
                   min_rows: int, y: str | None = None
                   ) -> tuple[dict[str, Any], pd.DataFrame | None, pd.DataFrame | None, float]:
    """The group's row of the table, its training and held-out rows (None: not scored),
    and the unit of the target they are in (with ``y``: see :func:`_in_unit`)."""
    row: dict[str, Any] = {"group": None if key is None else _plain(key), "law": law,
                           "rmsle": np.nan, "are": np.nan, "pi_coverage": np.nan,
                           "n_train": 0, "n_test": 0, "n_excluded": 0, "status": "ok",
                           "warnings": ""}
    if holdout_largest is not None and len(frame) <= holdout_largest:
        row["status"] = (f"not scorable: {len(frame)} row(s), but --holdout-largest "
                         f"{holdout_largest} needs more rows than it holds out")
        row["n_test"] = len(frame)
        return row, None, None, 1.0
    try:
        train_mask = _split(frame, xs, holdout_largest, split_column)
    except ScaleLawError as exc:
        row["status"] = f"failed: {exc}"
        return row, None, None, 1.0
    train, test = frame[train_mask], frame[~train_mask]
    row["n_train"], row["n_test"] = len(train), len(test)
    if len(test) == 0:
        row["status"] = "not scorable: no held-out rows"
        return row, None, None, 1.0
    if len(train) < min_rows:
        row["status"] = (f"not scorable: {len(train)} training row(s); at least {min_rows} "
                         f"are needed (the law's free parameters + {MIN_EXTRA_ROWS})")
        return row, None, None, 1.0
    if y is None:
        return row, train, test, 1.0
    return (row, *_in_unit(train, test, y))


def _backtest_group(frame: pd.DataFrame, key: Any, law: str, xs: list[str], y: str,
                    holdout_largest: int | None, split_column: str | None, level: float,
                    objective: str, delta: float, max_extrapolation: float,
                    min_rows: int = 1, unit_free: bool = False
                    ) -> tuple[dict[str, Any], pd.DataFrame | None]:
    """Score one group; the row says why when it cannot be scored."""
    row, train, test, unit = _prepare_group(frame, key, law, xs, holdout_largest,
                                            split_column, min_rows, y if unit_free else None)
    if train is None:
        return row, None
    res: Any
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = fit(law, train, x=xs, y=y, objective=objective, delta=delta)
            if law != "auto":
                res = calibrate(res)
        except (ScaleLawError, np.linalg.LinAlgError, FloatingPointError) as exc:
            res = exc
    return _score_group(row, res, list(caught), train, test, law, xs, y, level,
                        max_extrapolation, unit)


def _backtest_batch(tasks: list[tuple]) -> list[tuple[dict[str, Any], pd.DataFrame | None]]:
    """Score many groups: every fit and refit of one law in shared batches.

    Each group's numbers are what :func:`_backtest_group` gives it alone, bit for
    bit (the same starts, stages and tolerances, on arrays of the same shapes).
    """
    from scalelaw.fitting import fit_auto_tables, fit_combined_tables, fit_tables, warn_about_fit

    law, xs, y, level, objective, delta, max_extrapolation = (
        tasks[0][2], tasks[0][3], tasks[0][4], tasks[0][7], tasks[0][8], tasks[0][9],
        tasks[0][10])
    prepared = [_prepare_group(t[0], t[1], law, xs, t[5], t[6], t[11],
                               y if t[12] else None) for t in tasks]
    todo = [i for i, (_, train, _, _) in enumerate(prepared) if train is not None]
    trains = [prepared[i][1] for i in todo]
    names = average_names(law)
    fitted: list[tuple[Any, list[warnings.WarningMessage]]]
    if law == "auto":
        fitted = list(fit_auto_tables(trains, x=xs, y=y, objective=objective, delta=delta))
    elif names:
        fitted = list(fit_combined_tables(names, trains, x=xs, y=y, objective=objective,
                                          delta=delta))
    else:
        fitted = fit_tables(get_law(law, inputs=xs), trains, x=xs, y=y,
                            objective=objective, delta=delta)
    caught: dict[int, list[warnings.WarningMessage]] = {}
    outcome: dict[int, Any] = {}
    for i, (res, warned) in zip(todo, fitted, strict=True):
        caught[i], outcome[i] = list(warned), res
        if isinstance(res, FitResult | CombinedFit):
            with warnings.catch_warnings(record=True) as more:
                warnings.simplefilter("always")
                warn_about_fit(res)  # what fit() says of its result
            caught[i] += more
    ok = [i for i in todo if isinstance(outcome[i], FitResult | CombinedFit)]
    if law != "auto":  # auto's result carries its calibration
        _calibrate_batch(outcome, caught, ok)
    out = []
    for i, (row, train, test, unit) in enumerate(prepared):
        if train is None:
            out.append((row, None))
            continue
        out.append(_score_group(row, outcome[i], caught[i], train, test, law, xs, y, level,
                                max_extrapolation, unit))
    return out


def _calibrate_batch(outcome: dict[int, Any], caught: dict[int, list[Any]], ok: list[int]
                     ) -> None:
    """Calibrate every fit in ``outcome[ok]`` in shared batches (each member of a combination)."""
    from dataclasses import replace

    from scalelaw.fitting import calibrate_each

    combos = [i for i in ok if isinstance(outcome[i], CombinedFit)]
    singles = [i for i in ok if i not in combos]
    for i, (res, warned) in zip(singles, calibrate_each([outcome[i] for i in singles]),
                                strict=True):
        outcome[i] = res
        caught[i] += warned
    if not combos:
        return
    members: dict[int, list[Any]] = {i: [] for i in combos}
    for j in range(len(outcome[combos[0]].members)):
        done = calibrate_each([outcome[i].members[j] for i in combos])
        for i, (res, warned) in zip(combos, done, strict=True):
            members[i].append(res)
            caught[i] += warned
    for i in combos:
        failed = [m for m in members[i] if not isinstance(m, FitResult)]
        outcome[i] = failed[0] if failed else replace(outcome[i], members=tuple(members[i]))


def _plain(value: Any) -> Any:
    if isinstance(value, tuple) and len(value) == 1:
        value = value[0]
    return value.item() if isinstance(value, np.generic) else value
