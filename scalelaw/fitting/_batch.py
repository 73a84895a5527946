"""One law on many tables at once: every table's search runs in the same batches.

A backtest of 92 learning curves fits one law 368 times (each curve and three
calibration cuts). Fitted one by one, each search pays NumPy's per-call cost
on a few hundred numbers; stacked (:class:`~scalelaw.optim.StackedObjective`),
one call covers every table's problems. Each table's result is what
:func:`~scalelaw.fitting._single.fit_table` gives on it alone (the same starts,
stages and tolerances per table; tables are stacked by padded length, so
the numbers are the same bit for bit).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from scalelaw.exceptions import ScaleLawError
from scalelaw.fitting._data import prepare_data
from scalelaw.fitting._extrapolation import (
    DEFAULT_CUTS,
    _calibration_frame,
    _cut_errors,
    _cut_plan,
    _errors_frame,
    _in_cut_order,
    _refit_starts,
    check_cuts,
)
from scalelaw.fitting._search import search, search_many
from scalelaw.fitting._select import (
    AUTO_CANDIDATES,
    SCORE_CUTS,
    auto_result,
    chosen_names,
    decide,
)
from scalelaw.fitting._single import build_result, fit_settings, problem
from scalelaw.forecast import calibration_from_errors, log_residual_sd
from scalelaw.laws import ScalingLaw, get_law
from scalelaw.optim import Objective, StackedObjective
from scalelaw.optim.objective import padded_rows
from scalelaw.results import CombinedFit, FitResult, combine

__all__ = ["calibrate_each", "calibrate_many", "fit_auto_tables", "fit_combined_tables",
           "fit_tables"]

#: Problem rows (starts x padded rows) at most in one stack; bigger stacks are fitted
#: in parts. It bounds one batch's memory: its Jacobian holds rows x parameters floats.
MAX_STACK_ROWS = 2_000_000


class _Table(NamedTuple):
    """A table ready to search: its index, rows, exclusions, objective, starts, settings."""

    k: int
    frame: pd.DataFrame
    excluded: dict[str, int]
    obj: Objective
    starts: np.ndarray
    settings: dict[str, Any]


def fit_tables(
    law: ScalingLaw,
    tables: Sequence[pd.DataFrame],
    *,
    x: list[str],
    y: str,
    objective: str,
    delta: float,
    level: float = 0.95,
    weights: Any = None,
    starts: Sequence[np.ndarray | None] | None = None,
    drop_invalid: bool = False,
    n_threads: int | None = None,
    refit: bool = False,
) -> list[tuple[FitResult | ScaleLawError, list[warnings.WarningMessage]]]:
    """Fit ``law`` to every table, as :func:`fit_table` does one, in shared batches.

    Parameters
    ----------
    law : ScalingLaw
        The law.
    tables : sequence of pandas.DataFrame
        The tables.
    x, y, objective, delta, level, weights, drop_invalid, n_threads
        As :func:`scalelaw.fit` (no random state: drawn starts use seed 0, as
        ``fit`` without one).
    starts : sequence of (ndarray or None), optional
        Per table, natural-unit starts (``None``: the law's default).
    refit : bool, default=False
        Backtest refits (the search's ``refit`` effort).

    Returns
    -------
    list of (FitResult or ScaleLawError, list of warnings)
        Per table, its result or the error that stopped it, and the warnings
        its fit raised (recorded, not shown).
    """
    n = len(tables)
    starts = [None] * n if starts is None else list(starts)
    out: list[Any] = [None] * n
    prepared: list[_Table] = []
    caught_all: list[list[warnings.WarningMessage]] = [[] for _ in range(n)]
    for k, table in enumerate(tables):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                frame, excluded = prepare_data(
                    table, law, x=x, y=y, objective=objective, weights=weights, keep=[],
                    drop_invalid=drop_invalid)
                rng, settings = fit_settings(starts[k], None, None, weights)
                obj, st = problem(law, frame, x=x, y=y, objective=objective, delta=delta,
                                  starts=starts[k], p0=None, rng=rng)
                prepared.append(_Table(k, frame, excluded, obj, st, settings))
            except ScaleLawError as exc:
                out[k] = exc
        caught_all[k].extend(caught)
    for part in _parts(prepared, law.stackable):
        if law.stackable:
            estimates = search_many(StackedObjective([t.obj for t in part]), law,
                                    [t.starts for t in part], n_threads, refit=refit)
        else:  # a law that takes one row of inputs: one search per table
            estimates = []
            for t in part:
                try:
                    estimates.append(search(t.obj, law, t.starts, n_threads, refit=refit))
                except ScaleLawError as exc:
                    estimates.append(exc)
        for t, est in zip(part, estimates, strict=True):
            if isinstance(est, ScaleLawError):
                out[t.k] = est
                continue
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    out[t.k] = build_result(law, t.frame, t.obj, est, x=x, y=y,
                                            objective=objective, delta=delta, level=level,
                                            excluded=t.excluded, settings=t.settings,
                                            n_threads=n_threads)
                except ScaleLawError as exc:
                    out[t.k] = exc
            caught_all[t.k].extend(caught)
    return list(zip(out, caught_all, strict=True))


def fit_combined_tables(names: Sequence[str], tables: Sequence[pd.DataFrame], **kw: Any
                        ) -> list[tuple[CombinedFit | ScaleLawError,
                                        list[warnings.WarningMessage]]]:
    """:func:`fit_tables` of every law in ``names``, combined per table (an average).

    ``kw`` as :func:`fit_tables` (no starts: each law from its own default
    starts). A table where one law fails gets that law's error.
    """
    per_law = [fit_tables(get_law(name, inputs=kw["x"]), tables, **kw) for name in names]
    out: list[tuple[CombinedFit | ScaleLawError, list[warnings.WarningMessage]]] = []
    for k in range(len(tables)):
        got = [fits[k] for fits in per_law]
        caught = [w for _, warned in got for w in warned]
        failed = [res for res, _ in got if isinstance(res, ScaleLawError)]
        out.append((failed[0] if failed else combine([res for res, _ in got]), caught))
    return out


def _parts(prepared: list[_Table], stackable: bool) -> list[list[_Table]]:
    """Stacks of tables of one padded length, of at most ``MAX_STACK_ROWS`` problem rows.

    Tables of one padded length stack without changing a number (see
    :class:`~scalelaw.optim.StackedObjective`); a law that cannot stack gets one
    table per part.
    """
    if not stackable:
        return [[t] for t in prepared]
    by_rows: dict[int, list[_Table]] = {}
    for t in prepared:
        by_rows.setdefault(padded_rows(t.obj.X.n), []).append(t)
    parts: list[list[_Table]] = []
    for rows, items in sorted(by_rows.items()):
        parts.append([])
        count = 0
        for t in items:
            if parts[-1] and rows * (count + len(t.starts)) > MAX_STACK_ROWS:
                parts.append([])
                count = 0
            parts[-1].append(t)
            count += len(t.starts)
    return parts


def fit_auto_tables(
    tables: Sequence[pd.DataFrame],
    *,
    x: list[str],
    y: str,
    objective: str,
    delta: float,
    n_threads: int | None = None,
) -> list[tuple[FitResult | ScaleLawError, list[warnings.WarningMessage]]]:
    """``fit(law="auto")`` on every table, each candidate's backtest refits in shared batches.

    Per table, the selection, the chosen law's fit and its pooled calibration
    are those of :func:`scalelaw.fitting._select.fit_auto` on that table alone
    (no weights, no random state).

    Returns
    -------
    list of (FitResult or ScaleLawError, list of warnings)
        As :func:`fit_tables`.
    """
    n = len(tables)
    out: list[Any] = [None] * n
    caught_all: list[list[warnings.WarningMessage]] = [[] for _ in range(n)]
    candidates = list(AUTO_CANDIDATES[len(x)])
    probe = get_law(candidates[0], inputs=x)
    frames: dict[int, pd.DataFrame] = {}
    for k, table in enumerate(tables):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                frames[k], _ = prepare_data(table, probe, x=x, y=y, objective=objective,
                                            weights=None, drop_invalid=False)
            except ScaleLawError as exc:
                out[k] = exc
        caught_all[k].extend(caught)
    errors: dict[int, dict[str, pd.DataFrame]] = {k: {} for k in frames}
    notes: dict[int, dict[str, list[str]]] = {k: {} for k in frames}
    for name in candidates:
        cut_errors = _cut_refits(get_law(name, inputs=x), frames, DEFAULT_CUTS, x=x, y=y,
                                 objective=objective, delta=delta, n_threads=n_threads)
        for k, (err, note) in cut_errors.items():
            errors[k][name], notes[k][name] = err, note
    selections: dict[int, Any] = {}
    needed: dict[str, list[int]] = {}  # law -> the tables whose choice fits it
    for k in frames:
        try:
            selections[k] = decide(candidates, errors[k], notes[k], x, DEFAULT_CUTS,
                                   SCORE_CUTS)
        except ScaleLawError as exc:
            out[k] = exc
            continue
        for name in chosen_names(selections[k]):
            needed.setdefault(name, []).append(k)
    fitted: dict[tuple[str, int], Any] = {}
    for name, ks in needed.items():
        fits = fit_tables(get_law(name, inputs=x), [tables[k] for k in ks], x=x, y=y,
                          objective=objective, delta=delta, n_threads=n_threads)
        for k, (res, warned) in zip(ks, fits, strict=True):
            caught_all[k].extend(warned)
            fitted[name, k] = res
    for k, sel in selections.items():
        got = [fitted[name, k] for name in chosen_names(sel)]
        failed = [res for res in got if isinstance(res, ScaleLawError)]
        out[k] = failed[0] if failed else auto_result(got, sel)
    return list(zip(out, caught_all, strict=True))


def calibrate_many(results: Sequence[FitResult], cuts: Sequence[float] = DEFAULT_CUTS
                   ) -> list[FitResult]:
    """:func:`calibrate` for many fits of one law, their backtest refits in shared batches.

    Each result is what :func:`calibrate` gives it alone (the same cuts,
    starts and notes).

    Parameters
    ----------
    results : sequence of FitResult
        Fits of one law (same inputs, target and objective).
    cuts : sequence of float, default=(0.5, 0.65, 0.8)
        As :func:`calibrate`.

    Returns
    -------
    list of FitResult
        The calibrated results, in order.

    Raises
    ------
    DataValidationError
        A result has non-positive inputs (the first such one).
    """
    out = []
    for res, caught in calibrate_each(results, cuts):
        for w in caught:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        if not isinstance(res, FitResult):
            raise res
        out.append(res)
    return out


def calibrate_each(results: Sequence[FitResult], cuts: Sequence[float] = DEFAULT_CUTS
                   ) -> list[tuple[FitResult | ScaleLawError, list[warnings.WarningMessage]]]:
    """:func:`calibrate_many`, with each result's error and warnings kept apart."""
    cuts = check_cuts(cuts)
    if not results:
        return []
    first = results[0]
    frames: dict[int, pd.DataFrame] = {}
    failed: dict[int, ScaleLawError] = {}
    for i, res in enumerate(results):
        try:
            frames[i] = _calibration_frame(res)
        except ScaleLawError as exc:
            failed[i] = exc
    cut_errors = _cut_refits(first.law, frames, cuts, x=list(first.x), y=first.y,
                             objective=first.objective, delta=first.delta,
                             n_threads=first.settings.get("n_threads"),
                             starts=lambda i, sub: _refit_starts(results[i], sub))
    out: list[tuple[FitResult | ScaleLawError, list[warnings.WarningMessage]]] = []
    for i, res in enumerate(results):
        if i in failed:
            out.append((failed[i], []))
            continue
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                err, note = cut_errors[i]
                cal = calibration_from_errors(log_residual_sd(res), err, cuts, note)
                out.append((replace(res, calibration=cal), list(caught)))
            except ScaleLawError as exc:
                out.append((exc, list(caught)))
    return out


def _cut_refits(
    law: ScalingLaw,
    frames: dict[int, pd.DataFrame],
    cuts: Sequence[float],
    *,
    x: list[str],
    y: str,
    objective: str,
    delta: float,
    n_threads: int | None,
    starts: Callable[[int, pd.DataFrame], np.ndarray] | None = None,
) -> dict[int, tuple[pd.DataFrame, list[str]]]:
    """:func:`~scalelaw.fitting.backtest_errors` for every frame, all refits in shared batches.

    ``starts(k, sub)`` gives the natural-unit starts of frame ``k``'s refit on
    ``sub`` (default: the law's). Returns, per frame, its errors and notes.
    """
    jobs: list[tuple[int, float, pd.DataFrame, pd.DataFrame]] = []
    notes: dict[int, list[str]] = {}
    for k, frame in frames.items():
        plan, notes[k] = _cut_plan(law, frame, x, cuts)
        jobs += [(k, cut, frame[below], frame[~below]) for cut, below in plan]
    fits = fit_tables(law, [sub for _, _, sub, _ in jobs], x=x, y=y, objective=objective,
                      delta=delta, weights="weight", n_threads=n_threads, refit=True,
                      starts=None if starts is None else [starts(k, sub)
                                                          for k, _, sub, _ in jobs])
    rows: dict[int, list[tuple[float, float, float]]] = {k: [] for k in frames}
    for (k, cut, _sub, held), (res, warned) in zip(jobs, fits, strict=True):
        if isinstance(res, ScaleLawError):
            notes[k].append(f"cut {cut}: refit failed ({res})")
            continue
        rows[k] += _cut_errors(res, held, cut, warned, notes[k])
    return {k: (_errors_frame(rows[k]), _in_cut_order(notes[k])) for k in frames}
