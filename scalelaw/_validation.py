"""Input checks shared by the whole package: one message format everywhere."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from scalelaw.exceptions import DataValidationError, UnknownNameError

RandomStateLike = int | np.random.Generator | None


def check_random_state(random_state: RandomStateLike) -> np.random.Generator:
    """Return a Generator from an int seed, a Generator or None (fresh entropy)."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or isinstance(random_state, int | np.integer):
        if random_state is not None and int(random_state) < 0:
            raise DataValidationError(
                f"The 'random_state' parameter must be a non-negative int, a "
                f"numpy.random.Generator or None. Got {random_state!r} instead.",
                column="random_state",
            )
        return np.random.default_rng(random_state)
    raise DataValidationError(
        "The 'random_state' parameter must be a non-negative int, a "
        f"numpy.random.Generator or None. Got {random_state!r} instead.",
        column="random_state",
    )


def suggest(name: str, choices: Iterable[str]) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest choice, or ``""``."""
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def unknown_name(kind: str, name: str, choices: Iterable[str]) -> UnknownNameError:
    """Build the standard error for an unknown name, with a suggestion."""
    options = sorted(str(c) for c in choices)
    return UnknownNameError(
        f"Unknown {kind} {name!r}.{suggest(name, options)} Available: {options}.",
        name=name,
        choices=options,
    )


def describe_rows(rows: Sequence[Any], values: Sequence[Any] | None = None) -> str:
    """Describe offending rows compactly: count, then the first few with values."""
    n = len(rows)
    shown = list(rows[:5])
    shown = [r.item() if isinstance(r, np.generic) else r for r in shown]
    if values is not None:
        vals = [v.item() if isinstance(v, np.generic) else v for v in list(values[:5])]
        parts = [f"{r}: {v!r}" for r, v in zip(shown, vals, strict=False)]
    else:
        parts = [str(r) for r in shown]
    more = f", ... ({n - len(shown)} more)" if n > len(shown) else ""
    noun = "row" if n == 1 else "rows"
    return f"{n} {noun} (index {', '.join(parts)}{more})"


def check_columns(data: pd.DataFrame, columns: Sequence[str], *, role: str) -> None:
    """Raise if any of ``columns`` is missing, suggesting the closest name."""
    for col in columns:
        if col not in data.columns:
            raise DataValidationError(
                f"Column {col!r} (given as {role}) is not in the data."
                f"{suggest(col, map(str, data.columns))} "
                f"Columns present: {[str(c) for c in data.columns]}.",
                column=col,
            )


def numeric_column(data: pd.DataFrame, col: str) -> np.ndarray:
    """Return column ``col`` as float64, or raise naming the non-numeric rows."""
    series = data[col]
    if pd.api.types.is_bool_dtype(series):
        raise DataValidationError(
            f"Column {col!r} is boolean; a numeric column was expected.", column=col
        )
    converted = pd.to_numeric(series, errors="coerce")
    bad = converted.isna() & series.notna()
    if bad.any():
        idx = list(series.index[bad.to_numpy()])
        raise DataValidationError(
            f"Column {col!r} must be numeric; {describe_rows(idx, list(series[bad]))} "
            "could not be read as numbers. Correct or drop these rows.",
            column=col,
            rows=idx,
        )
    return converted.to_numpy(dtype=np.float64)


def check_positive_float(value: Any, name: str, *, allow_zero: bool = False) -> float:
    """Validate a positive scalar parameter and return it as float."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        out = float("nan")
    ok = np.isfinite(out) and (out >= 0 if allow_zero else out > 0)
    if not ok:
        rng = "[0, inf)" if allow_zero else "(0, inf)"
        raise DataValidationError(
            f"The {name!r} parameter must be a finite float in the range {rng}. "
            f"Got {value!r} instead.",
            column=name,
        )
    return out


def check_int(value: Any, name: str, *, minimum: int = 0) -> int:
    """Validate an integer parameter with a lower bound."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise DataValidationError(
            f"The {name!r} parameter must be an int >= {minimum}. Got {value!r} "
            "instead.",
            column=name,
        )
    if int(value) < minimum:
        raise DataValidationError(
            f"The {name!r} parameter must be an int >= {minimum}. Got {value!r} "
            "instead.",
            column=name,
        )
    return int(value)


def check_level(level: Any, name: str = "level") -> float:
    """Validate a confidence level in (0, 1)."""
    try:
        out = float(level)
    except (TypeError, ValueError):
        out = float("nan")
    if not (0.0 < out < 1.0):
        raise DataValidationError(
            f"The {name!r} parameter must be a float in the range (0, 1). "
            f"Got {level!r} instead.",
            column=name,
        )
    return out
