"""Data checks: which rows a fit uses, and why the others are refused or excluded."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from scalelaw._validation import check_columns, describe_rows
from scalelaw.exceptions import DataValidationError, DuplicateRowsWarning, ExcludedRowsWarning
from scalelaw.laws import ScalingLaw
from scalelaw.optim import is_log

__all__ = ["as_frame", "prepare_data"]


#: Column of a sweep's table whose value "diverged" marks a run that never enters a fit.
STATUS_COLUMN = "status"


def as_frame(data: Any) -> pd.DataFrame:
    """A DataFrame from a DataFrame or a mapping of columns; duplicate names refused.

    Parameters
    ----------
    data : pandas.DataFrame or mapping of columns
        The table.

    Returns
    -------
    pandas.DataFrame
        The table.

    Examples
    --------
    >>> as_frame({"n": [1, 2]}).shape
    (2, 1)
    """
    if isinstance(data, Mapping) and not isinstance(data, pd.DataFrame):
        data = pd.DataFrame(dict(data))
    if not isinstance(data, pd.DataFrame):
        raise DataValidationError(
            f"Data must be a pandas DataFrame or a mapping of columns. Got "
            f"{type(data).__name__} instead.",
            column="data",
        )
    dup = data.columns[data.columns.duplicated()].unique().tolist()
    if dup:
        raise DataValidationError(
            f"The data have duplicate column names {[str(c) for c in dup]}; every column "
            "name must be unique (rename one of them).",
            column=str(dup[0]),
        )
    return data


def _as_numbers(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Values as float64 and the mask of entries that are text or another non-number."""
    if pd.api.types.is_bool_dtype(series):
        raise DataValidationError(
            f"Column {series.name!r} is boolean; a numeric column was expected.",
            column=str(series.name),
        )
    if pd.api.types.is_float_dtype(series) or pd.api.types.is_integer_dtype(series):
        # numbers already: nothing to coerce
        return (series.to_numpy(dtype=np.float64, na_value=np.nan),
                np.zeros(len(series), dtype=bool))
    converted = pd.to_numeric(series, errors="coerce")
    not_number = (converted.isna() & series.notna()).to_numpy()
    return converted.to_numpy(dtype=np.float64), not_number


def prepare_data(
    data: Any,
    law: ScalingLaw,
    *,
    x: str | Sequence[str],
    y: str,
    objective: str = "huber_log",
    weights: str | Sequence[float] | np.ndarray | None = None,
    keep: Sequence[str] = (),
    drop_invalid: bool = False,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Validate and extract the rows a fit will use.

    Parameters
    ----------
    data : pandas.DataFrame or mapping of columns
        The runs.
    law : ScalingLaw
        The law (its number of inputs and whether inputs must be positive).
    x : str or sequence of str
        Input column(s), matched in order to ``law.inputs``.
    y : str
        Target column.
    objective : str, default="huber_log"
        Log objectives need a positive target.
    weights : str or array-like, optional
        Column name or values of positive row weights.
    keep : sequence of str, default=()
        Extra columns to carry along (e.g. a bootstrap group column).
    drop_invalid : bool, default=False
        Exclude rows with text (such as ``"diverged"``), missing, non-finite
        or out-of-domain values (counted and warned) instead of raising.
        Rows whose ``status`` column says ``"diverged"`` (a sweep's final
        table) are always excluded, counted and warned.

    Returns
    -------
    frame : pandas.DataFrame
        Columns ``x..., y, weight, keep...``, one row per run used.
    excluded : dict
        Number of rows excluded per reason.

    Raises
    ------
    DataValidationError
        Missing or duplicate column (with a suggestion), non-numeric values,
        NaN/inf, values <= 0 where a logarithm is taken, too few distinct
        points, a constant input column.

    Warns
    -----
    DuplicateRowsWarning
        Identical rows are kept and counted.
    ExcludedRowsWarning
        With ``drop_invalid=True``, how many rows were excluded and why.

    Examples
    --------
    >>> import pandas as pd
    >>> from scalelaw.laws import PowerLaw
    >>> df = pd.DataFrame({"n": [1e6, 1e7, 1e8], "loss": [3.0, 2.5, "diverged"]})
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", ExcludedRowsWarning)
    ...     frame, excluded = prepare_data(df, PowerLaw(), x="n", y="loss",
    ...                                    drop_invalid=True)
    >>> len(frame), excluded
    (2, {"loss: not numbers (text such as 'diverged')": 1})
    """
    data = as_frame(data)
    xs = [x] if isinstance(x, str) else list(x)
    _check_column_roles(data, law, xs, y, weights, keep)
    cols, text, w, wname = _read_values(data, xs, y, weights)
    problems = _value_problems(law, xs, y, objective, cols, text, w, wname)
    keep_mask, excluded = _exclude_rows(data, problems, w, drop_invalid)
    frame = _used_rows(data, cols, w, xs, y, keep, keep_mask)
    _check_distinct_points(frame, xs, law)
    _check_token_counts(frame, xs, law)
    _warn_duplicates(frame, xs, y, np.asarray(data.index[keep_mask]))
    return frame, excluded


#: One value check: the column, why its flagged rows are unusable, and the row mask.
_Problem = tuple[str, str, np.ndarray]


def _check_column_roles(data: pd.DataFrame, law: ScalingLaw, xs: list[str], y: str,
                        weights: Any, keep: Sequence[str]) -> None:
    """The columns: one input per law input, inputs and target distinct, all present."""
    if len(xs) != len(law.inputs):
        raise DataValidationError(
            f"Law {law.name!r} takes {len(law.inputs)} input column(s) "
            f"({', '.join(law.inputs)}); got x={xs!r}.",
            column="x",
        )
    if len(set(xs)) != len(xs) or y in xs:
        raise DataValidationError(
            f"Input and target columns must be distinct; got x={xs!r}, y={y!r}.",
            column="x",
        )
    check_columns(data, xs, role="x")
    check_columns(data, [y], role="y")
    if isinstance(weights, str):
        check_columns(data, [weights], role="weights")
    check_columns(data, list(keep), role="group")
    if len(data) == 0:
        raise DataValidationError("The data have no rows.", column=None)


def _read_values(data: pd.DataFrame, xs: list[str], y: str, weights: Any
                 ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray, str]:
    """Inputs, target and weights as float64, with the masks of entries that are not numbers.

    Returns the values and text masks per column (the weights' under ``wname``),
    the weights (1 when none are given) and the name the weights go by.
    """
    cols: dict[str, np.ndarray] = {}
    text: dict[str, np.ndarray] = {}
    for c in [*xs, y]:
        cols[c], text[c] = _as_numbers(data[c])
    if weights is None:
        w = np.ones(len(data))
        wname = "weights"
        text[wname] = np.zeros(len(data), dtype=bool)
    elif isinstance(weights, str):
        w, text[weights] = _as_numbers(data[weights])
        wname = weights
    else:
        w = np.asarray(weights, dtype=np.float64).ravel()
        wname = "weights"
        if w.size != len(data):
            raise DataValidationError(
                f"weights has {w.size} values for {len(data)} rows.", column="weights"
            )
        text[wname] = np.zeros(len(data), dtype=bool)
    return cols, text, w, wname


def _value_problems(law: ScalingLaw, xs: list[str], y: str, objective: str,
                    cols: dict[str, np.ndarray], text: dict[str, np.ndarray], w: np.ndarray,
                    wname: str) -> list[_Problem]:
    """Every value check, in the order they are reported: text, NaN/inf, out of domain."""
    problems: list[_Problem] = []
    for c in [*xs, y]:
        v = cols[c]
        problems.append((c, "not numbers (text such as 'diverged')", text[c]))
        problems.append((c, "missing or non-finite (NaN/inf)", ~np.isfinite(v) & ~text[c]))
        if c != y and law.positive_inputs:
            problems.append((c, "<= 0 (inputs enter the law through logarithms)",
                             np.isfinite(v) & (v <= 0)))
        if c == y and is_log(objective):
            problems.append((y, f"<= 0 (objective {objective!r} takes log of the target)",
                             np.isfinite(v) & (v <= 0)))
    problems.append((wname, "not numbers", text[wname]))
    problems.append((wname, "not a finite positive weight",
                     ~(np.isfinite(w) & (w > 0)) & ~text[wname]))
    return problems


def _exclude_rows(data: pd.DataFrame, problems: list[_Problem], w: np.ndarray,
                  drop_invalid: bool) -> tuple[np.ndarray, dict[str, int]]:
    """Rows kept and the count excluded per reason; a problem raises unless ``drop_invalid``.

    Diverged runs (``status`` column) are always excluded; each row is counted
    under the first problem it has.
    """
    index = data.index
    bad_any = np.zeros(len(data), dtype=bool)
    excluded: dict[str, int] = {}
    if STATUS_COLUMN in data.columns:  # a sweep's table: diverged runs never enter a fit
        bad_any = (data[STATUS_COLUMN].astype(str) == "diverged").to_numpy()
        if bad_any.any():
            excluded[f"{STATUS_COLUMN}: diverged"] = int(bad_any.sum())
    for col, why, mask in problems:
        mask = mask & ~bad_any

        if not mask.any():
            continue
        rows = list(index[mask])
        if not drop_invalid:
            shown = data[col].to_numpy()[mask] if col in data.columns else w[mask]
            raise DataValidationError(
                f"Column {col!r} has {describe_rows(rows, list(shown))} that are {why}. "
                "Correct or remove them, or pass drop_invalid=True (--drop-invalid) to "
                "exclude them with a count.",
                column=col,
                rows=rows,
            )
        new = mask & ~bad_any
        excluded[f"{col}: {why}"] = int(new.sum())
        bad_any |= mask
    if bad_any.any():
        warnings.warn(
            f"Excluded {int(bad_any.sum())} of {len(data)} rows: "
            + "; ".join(f"{k} ({v})" for k, v in excluded.items() if v),
            ExcludedRowsWarning,
            stacklevel=4,  # one frame deeper than prepare_data: the same caller as before
        )
    return ~bad_any, excluded


def _used_rows(data: pd.DataFrame, cols: dict[str, np.ndarray], w: np.ndarray, xs: list[str],
               y: str, keep: Sequence[str], keep_mask: np.ndarray) -> pd.DataFrame:
    """The frame of the rows kept (``x..., y, weight, keep...``); no row or a constant
    input is refused."""
    used = {c: cols[c][keep_mask] for c in [*xs, y]}
    used["weight"] = w[keep_mask]
    for k in keep:
        used[k] = data[k].to_numpy()[keep_mask]
    n_kept = int(np.count_nonzero(keep_mask))
    if n_kept == 0:
        raise DataValidationError("No rows left after excluding invalid ones.")
    for c in xs:
        if np.ptp(used[c]) == 0:
            raise DataValidationError(
                f"Input column {c!r} is constant ({float(used[c][0])!r} in all "
                f"{n_kept} rows); its exponent cannot be estimated. Vary it or "
                "use a law without this input.",
                column=c,
            )
    return pd.DataFrame(used)  # a fresh RangeIndex


def _warn_duplicates(frame: pd.DataFrame, xs: list[str], y: str, labels: np.ndarray) -> None:
    """Warn about rows with the same inputs and target (kept); ``labels``: the rows' index."""
    dup = ~_first_occurrences(frame, [*xs, y])
    if dup.any():
        rows = list(labels[dup])
        warnings.warn(
            f"{int(dup.sum())} duplicate row(s) (same inputs and target) are kept; "
            f"{describe_rows(rows)}. Remove them if they are the same run logged twice.",
            DuplicateRowsWarning,
            stacklevel=4,  # one frame deeper than prepare_data: the same caller as before
        )


#: Tokens per parameter above which every row of a token column reads as FLOP:
#: 1,000 times the compute-optimal 20 (the most over-trained public models are
#: below 1e5, while FLOP given as tokens read 6 D per parameter, above 1e7 for
#: any run of more than a few million tokens) ...
MAX_TOKENS_PER_PARAM = 2e4
#: ... and a largest value above any corpus (1e14 tokens), so that toy models
#: trained far beyond 2e4 tokens per parameter are not refused.
MAX_PLAUSIBLE_TOKENS = 1e14


def _check_token_counts(frame: pd.DataFrame, xs: list[str], law: ScalingLaw) -> None:
    """Refuse a token column that holds training FLOP (a law of ``n_params, n_tokens``)."""
    if tuple(law.inputs) != ("n_params", "n_tokens") or len(xs) != 2:
        return
    n, d = frame[xs[0]].to_numpy(), frame[xs[1]].to_numpy()
    ratio = d / n
    if np.all(ratio > MAX_TOKENS_PER_PARAM) and np.max(d) > MAX_PLAUSIBLE_TOKENS:
        raise DataValidationError(
            f"Column {xs[1]!r} (the law's n_tokens input) looks like training FLOP, not "
            f"tokens: every row has more than {MAX_TOKENS_PER_PARAM:.0e} per parameter "
            f"(smallest {float(ratio.min()):.3g}) and the largest value is "
            f"{float(np.max(d)):.3g}. For training compute, derive tokens from C = 6ND: on "
            f"the command line --x {xs[0]},COL with COL named flops or compute, in Python "
            "scalelaw.io.tokens_from_compute.",
            column=xs[1],
        )


def _check_distinct_points(frame: pd.DataFrame, xs: list[str], law: ScalingLaw) -> None:
    """At least as many distinct input points as the law has free parameters."""
    n_distinct = int(np.count_nonzero(_first_occurrences(frame, xs)))
    n_par = int(np.count_nonzero(np.subtract(*law.internal_bounds()) < 0))
    if n_distinct < n_par:
        raise DataValidationError(
            f"Only {n_distinct} distinct input point(s) for {n_par} free parameters of "
            f"law {law.name!r} ({', '.join(law.param_names)}); at least {n_par} are "
            "needed.",
            column=xs[0],
        )


def _first_occurrences(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Mask of the rows whose values in ``columns`` did not occur in an earlier row
    (as ``~DataFrame.duplicated(keep="first")``; the values are finite numbers)."""
    values = np.column_stack([frame[c].to_numpy(dtype=np.float64) for c in columns])
    _, first = np.unique(values, axis=0, return_index=True)
    mask = np.zeros(len(values), dtype=bool)
    mask[first] = True
    return mask
