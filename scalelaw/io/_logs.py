"""Readers of training logs: TensorBoard event files, W&B CSV exports, unit suffixes."""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from scalelaw._validation import unknown_name
from scalelaw.exceptions import DataValidationError
from scalelaw.io._tables import read_table

__all__ = ["parse_units", "read_tensorboard", "read_wandb"]


def read_tensorboard(path: str | os.PathLike[str], tags: Sequence[str] | None = None
                     ) -> pd.DataFrame:
    """Read scalar summaries from TensorBoard event files (with tbparse).

    Parameters
    ----------
    path : str or path-like
        An event file or a log directory (searched recursively; each
        sub-directory holding event files is one run).
    tags : sequence of str, optional
        Scalar tags to keep (default: all).

    Returns
    -------
    pandas.DataFrame
        One row per (run, step): ``run`` (the directory relative to ``path``,
        ``"."`` for the top level), ``step`` and one column per tag.

    Raises
    ------
    DataValidationError
        No event file, no scalar, an unknown tag, or an unreadable file.
    """
    p = Path(path)
    if not p.exists():
        raise DataValidationError(f"{str(p)!r} does not exist.", column="file")
    try:
        from tbparse import SummaryReader
    except ImportError:  # pragma: no cover - optional dependency
        raise DataValidationError(
            "Reading TensorBoard logs needs tbparse: pip install 'scalelaw[tensorboard]'.",
            column="file",
        ) from None
    events = [p] if p.is_file() else sorted(p.rglob("*tfevents*"))
    if not events:
        raise DataValidationError(
            f"No TensorBoard event file (*tfevents*) under {str(p)!r}.", column="file"
        )
    try:
        with warnings.catch_warnings():
            # tbparse calls pandas APIs that newer pandas deprecates; not ours to show
            warnings.simplefilter("ignore", category=FutureWarning)
            warnings.simplefilter("ignore", category=DeprecationWarning)
            df = SummaryReader(str(p), pivot=False, extra_columns={"dir_name"},
                               event_types={"scalars"}).scalars
    except Exception as exc:  # tbparse/tensorboard raise many types on corrupt files
        raise DataValidationError(
            f"Could not read TensorBoard events under {str(p)!r}: {exc}. Is the file "
            "complete?",
            column="file",
        ) from None
    if df is None or len(df) == 0:
        raise DataValidationError(
            f"The TensorBoard events under {str(p)!r} hold no scalar summaries.",
            column="file",
        )
    df = df.rename(columns={"dir_name": "run"})
    if "run" not in df.columns:
        df["run"] = "."
    df["run"] = df["run"].replace("", ".")
    if tags is not None:
        have = sorted(df["tag"].unique())
        for t in tags:
            if t not in have:
                raise unknown_name("TensorBoard tag", t, have)
        df = df[df["tag"].isin(list(tags))]
    wide = df.pivot_table(index=["run", "step"], columns="tag", values="value",
                          aggfunc="last").reset_index()
    wide.columns.name = None
    return wide


# ------------------------------------------------------------------------ W&B
_WANDB_SERIES = re.compile(r"^(?P<run>.+?) - (?P<metric>.+?)(?P<agg>__MIN|__MAX)?$")


def read_wandb(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a Weights & Biases export (CSV, JSON Lines or Parquet).

    Two layouts are recognised:

    * run history (``run.history()`` / ``scan_history()`` saved to a file, or
      the "Export CSV" of a run table): a ``_step`` column and one column per
      metric; an optional ``run``/``run_id``/``name`` column tells runs apart
      (else the file stem is the run name);
    * chart export ("Download CSV" of a line plot): a ``Step`` column and
      ``"<run> - <metric>"`` columns, with ``__MIN``/``__MAX`` band columns
      (dropped; their number is recorded in ``attrs["dropped_columns"]``).

    Parameters
    ----------
    path : str or path-like
        The exported file.

    Returns
    -------
    pandas.DataFrame
        Long by run and step: ``run``, ``step`` and one column per metric.
    """
    df = read_table(path)
    if "_step" in df.columns:
        out = df.rename(columns={"_step": "step"})
        for cand in ("run", "run_id", "name", "run_name"):
            if cand in out.columns:
                out = out.rename(columns={cand: "run"})
                break
        else:
            out.insert(0, "run", Path(path).name.split(".")[0])
        out.attrs["dropped_columns"] = 0
        return out
    if "Step" in df.columns:
        series = [c for c in df.columns if c != "Step"]
        parsed = {c: _WANDB_SERIES.match(str(c)) for c in series}
        bad = [c for c, m in parsed.items() if m is None]
        if bad:
            raise DataValidationError(
                f"W&B chart export {str(path)!r}: column(s) {bad[:3]} are not of the form "
                "'<run> - <metric>'.",
                column=str(bad[0]),
            )
        keep = [c for c, m in parsed.items() if m and not m.group("agg")]
        parts = []
        for c in keep:
            m = parsed[c]
            part = df[["Step", c]].dropna(subset=[c]).rename(columns={"Step": "step",
                                                                      c: m.group("metric")})
            part.insert(0, "run", m.group("run"))
            parts.append(part)
        if not parts:
            raise DataValidationError(f"W&B chart export {str(path)!r} has no series.",
                                      column="file")
        long = pd.concat(parts, ignore_index=True)
        out = long.groupby(["run", "step"], sort=False).first().reset_index()
        out.attrs["dropped_columns"] = len(series) - len(keep)
        return out
    raise DataValidationError(
        f"{str(path)!r} does not look like a W&B export: expected a '_step' column (run "
        "history) or a 'Step' column with '<run> - <metric>' columns (chart export); found "
        f"{list(df.columns)[:6]}.",
        column="file",
    )


# ---------------------------------------------------------------------- units
_UNIT_RE = re.compile(
    r"^\s*(?P<num>[-+]?(?:\d[\d_,]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*"
    r"(?P<suffix>[kKMGBT]?)\s*(?P<word>[A-Za-z][A-Za-z_\- ]*)?\s*$"
)
_MULT = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "B": 1e9, "T": 1e12}


def parse_units(df: pd.DataFrame, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Turn counts written as text (``"70M"``, ``"1.3B"``, ``"2e9 tokens"``) into floats.

    Suffixes: k/K = 1e3, M = 1e6, G/B = 1e9, T = 1e12. A trailing unit word
    (``tokens``, ``FLOPs``...) is allowed if every row of the column uses the
    same one.

    Parameters
    ----------
    df : pandas.DataFrame
        The table (not modified).
    columns : sequence of str, optional
        Columns to parse; default every text column whose values all parse.

    Returns
    -------
    pandas.DataFrame
        A copy with those columns as float64.

    Raises
    ------
    DataValidationError
        Mixed units in a column: some rows with a suffix and others without
        (``"7B"`` next to ``"7"``), or different unit words; or, for an
        explicitly named column, a value that does not parse.

    Examples
    --------
    >>> df = pd.DataFrame({"n_params": ["70M", "1.3B", "2.5e8"]})
    >>> parse_units(df, ["n_params"])
    Traceback (most recent call last):
    ...
    scalelaw.exceptions.DataValidationError: Column 'n_params' mixes units: ...
    >>> parse_units(pd.DataFrame({"n_params": ["70M", "1.3B"]})).n_params.tolist()
    [70000000.0, 1300000000.0]
    """
    out = df.copy()
    explicit = columns is not None
    cols = list(columns) if explicit else [
        c for c in df.columns if df[c].dtype == object or pd.api.types.is_string_dtype(df[c])
    ]
    for c in cols:
        if c not in df.columns:
            raise unknown_name("column", c, list(df.columns))
        col = df[c]
        if pd.api.types.is_numeric_dtype(col):
            continue
        text = col.astype("string")
        matches = [(_UNIT_RE.match(v) if isinstance(v, str) else None)
                   for v in text.fillna("").tolist()]
        present = col.notna().to_numpy()
        bad = [i for i, (m, pr) in enumerate(zip(matches, present, strict=True))
               if pr and m is None]
        if bad:
            if explicit:
                rows = df.index[bad][:5].tolist()
                raise DataValidationError(
                    f"Column {c!r} holds values that are not numbers with an optional "
                    f"k/M/B/T suffix: rows {rows} ({col.iloc[bad[:3]].tolist()}).",
                    column=c, rows=rows,
                )
            continue  # a genuine text column (e.g. run names)
        ok = [m for m, pr in zip(matches, present, strict=True) if pr]
        suffixed = np.array([bool(m.group("suffix")) for m in ok])
        words = {(m.group("word") or "").strip().lower() for m in ok}
        idx = df.index[present]
        if suffixed.any() and not suffixed.all():
            plain = idx[~suffixed][:5].tolist()
            raise DataValidationError(
                f"Column {c!r} mixes units: rows {plain} have no k/M/B/T suffix while "
                f"{int(suffixed.sum())} others do (e.g. {col[idx[suffixed]].iloc[0]!r}). Write "
                "every value with its suffix, or none.",
                column=c, rows=plain,
            )
        if len(words) > 1:
            raise DataValidationError(
                f"Column {c!r} mixes units: {sorted(w or '(none)' for w in words)}. Convert "
                "to one unit first.",
                column=c,
            )
        vals = np.full(len(df), np.nan)
        vals[present] = [float(m.group("num").replace(",", "").replace("_", ""))
                         * _MULT[m.group("suffix")] for m in ok]
        out[c] = vals
    return out


# ------------------------------------------------------------------ reduction
