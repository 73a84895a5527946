"""The rows a theory check may use: refused, or excluded with a count, never dropped silently.

A sweep's table marks runs that blew up with ``status == "diverged"``; those
are always excluded and counted. Any other row whose size or loss is text,
missing, infinite or not positive is an error naming the column and rows,
unless the caller asks to exclude such rows (``drop_invalid``), in which case
they are excluded, counted by reason and warned about. Identical runs (the
same size, loss, replicate and group) are kept and warned about with a count.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from scalelaw._validation import describe_rows
from scalelaw.exceptions import DataValidationError, DuplicateRowsWarning, ExcludedRowsWarning

__all__ = ["STATUS_COLUMN", "screen_runs"]

#: The column of a sweep's table whose value ``"diverged"`` excludes a run.
STATUS_COLUMN = "status"


def _numbers(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Values as float and the mask of entries that are text or another non-number."""
    if pd.api.types.is_bool_dtype(series):
        raise DataValidationError(f"Column {series.name!r} is boolean; a numeric column was "
                                  "expected.", column=str(series.name))
    if pd.api.types.is_complex_dtype(series):
        raise DataValidationError(f"Column {series.name!r} holds complex numbers; real "
                                  "numbers were expected.", column=str(series.name))
    converted = pd.to_numeric(series, errors="coerce")
    text = (converted.isna() & series.notna()).to_numpy()
    return converted.to_numpy(dtype=float), text


def _problems(data: pd.DataFrame, x: str, y: str, sizes: Sequence[str],
              l_inf: str | None) -> list[tuple[str, str, np.ndarray]]:
    """``(column, what is wrong, mask)`` for every check, in the order they are reported."""
    out: list[tuple[str, str, np.ndarray]] = []
    roles = [(x, "size"), (y, "loss")] + [(c, "other size") for c in sizes
                                         if c in data.columns and c not in (x, y)]
    if l_inf is not None:
        roles.append((l_inf, "l_inf"))
    for col, role in roles:
        v, text = _numbers(data[col])
        out.append((col, "text, not numbers (such as 'diverged')", text))
        missing = np.isnan(v) & ~text
        out.append((col, "missing (NaN)", missing))
        if role == "other size":  # an infinite fixed size is a limit (P -> inf), kept
            out.append((col, "negative, zero or -inf (a size must be positive)",
                        ~np.isnan(v) & ~(v > 0)))
            continue
        out.append((col, "infinite", np.isinf(v)))
        if role == "size":
            out.append((col, "negative or zero (a size must be positive)",
                        np.isfinite(v) & (v <= 0)))
        elif role == "loss":
            out.append((col, "negative or zero (the loss enters through its logarithm)",
                        np.isfinite(v) & (v <= 0)))
    return out


def screen_runs(data: pd.DataFrame, x: str, y: str, *, sizes: Sequence[str] = (),
                l_inf: str | None = None, replicates: Sequence[str] = (),
                group: str | None = None, drop_invalid: bool = False
                ) -> tuple[pd.DataFrame, dict[str, int]]:
    """The runs a check may use, and how many were excluded for each reason.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per run.
    x, y : str
        The varied size (finite, positive) and the loss (finite, positive).
    sizes : sequence of str, default=()
        Other size columns (``n_params``, ``n_train``) where present: positive
        numbers, ``inf`` allowed (a limit).
    l_inf : str, optional
        A column of ``L_inf`` (finite numbers).
    replicates : sequence of str, default=()
        Replicate columns; with ``x``, ``y`` and ``group`` they define a
        duplicate run.
    group : str, optional
        The slice column.
    drop_invalid : bool, default=False
        Exclude invalid rows (counted and warned) instead of raising.

    Returns
    -------
    frame : pandas.DataFrame
        The rows kept (original index).
    excluded : dict
        Rows excluded per reason (``"column: reason"``).

    Raises
    ------
    DataValidationError
        A value that is text, missing, infinite or not positive (naming the
        column and rows), unless ``drop_invalid``.

    Warns
    -----
    ExcludedRowsWarning
        Rows were excluded (diverged runs, or invalid rows with ``drop_invalid``).
    DuplicateRowsWarning
        Identical runs are kept and counted.

    Examples
    --------
    >>> df = pd.DataFrame({"n_train": [64, 128, -256, 512], "loss": [1.0, 0.5, 0.3, 0.1]})
    >>> try:
    ...     screen_runs(df, "n_train", "loss")
    ... except DataValidationError as err:
    ...     print(err.column, err.rows)
    n_train [2]
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     kept, excluded = screen_runs(df, "n_train", "loss", drop_invalid=True)
    >>> len(kept), excluded
    (3, {'n_train: negative or zero (a size must be positive)': 1})
    """
    bad = np.zeros(len(data), dtype=bool)
    excluded: dict[str, int] = {}
    if STATUS_COLUMN in data.columns:  # a sweep's table: diverged runs never enter a check
        bad = (data[STATUS_COLUMN].astype(str) == "diverged").to_numpy()
        if bad.any():
            excluded[f"{STATUS_COLUMN}: diverged"] = int(bad.sum())
    for col, why, mask in _problems(data, x, y, sizes, l_inf):
        mask = mask & ~bad
        if not mask.any():
            continue
        rows = list(data.index[mask])
        if not drop_invalid:
            raise DataValidationError(
                f"Column {col!r} has {describe_rows(rows, list(data[col].to_numpy()[mask]))} "
                f"that are {why}. Correct or remove them, or pass drop_invalid=True "
                "(--drop-invalid) to exclude them with a count.", column=col, rows=rows)
        excluded[f"{col}: {why}"] = int(mask.sum())
        bad |= mask
    if bad.any():
        warnings.warn(f"Excluded {int(bad.sum())} of {len(data)} runs: "
                      + "; ".join(f"{k} ({v})" for k, v in excluded.items()),
                      ExcludedRowsWarning, stacklevel=3)
    kept = data[~bad]
    key = list(dict.fromkeys([x, y, *[c for c in replicates if c in kept.columns],
                              *([group] if group is not None else [])]))
    dup = kept.duplicated(subset=key, keep="first").to_numpy()
    if dup.any():
        warnings.warn(
            f"{int(dup.sum())} duplicate run(s) (the same {', '.join(key)}) are kept; "
            f"{describe_rows(list(kept.index[dup]))}. Remove them if they are the same run "
            "logged twice: each copy counts as a run and narrows the interval.",
            DuplicateRowsWarning, stacklevel=3)
    return kept, excluded
