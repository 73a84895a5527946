"""Read tables of runs: CSV, Parquet, JSON Lines, TensorBoard and W&B exports.

:func:`read_runs` is the one entry point: it picks the reader, renames
columns (``columns={"their_name": "our_name"}``), parses counts written with
unit suffixes (``"70M"``, ``"1.3B"``) and, for learning-curve logs with many
rows per run, reduces each run to its final or best row with the rule
recorded in ``DataFrame.attrs["reduction"]``.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from scalelaw import datasets
from scalelaw._validation import unknown_name
from scalelaw.exceptions import DataValidationError
from scalelaw.results import FitResult, GroupedFitResult

__all__ = ["filter_rows", "parse_units", "read_fit", "read_runs", "read_table", "read_tensorboard",
           "read_wandb", "reduce_runs"]

_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}


def _format_of(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".bz2", ".xz", ".zst") and len(suffixes) > 1:
        suffixes = suffixes[:-1]
    fmt = _FORMATS.get(suffixes[-1]) if suffixes else None
    if fmt is None:
        raise DataValidationError(
            f"Cannot tell the format of {str(path)!r} from its extension; expected one "
            f"of {sorted(_FORMATS)} (optionally compressed).",
            column="file",
        )
    return fmt


def read_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a CSV, TSV, Parquet or JSON Lines file into a DataFrame.

    Parameters
    ----------
    path : str or path-like
        File path; the format comes from the extension (``.csv``, ``.tsv``,
        ``.parquet``/``.pq``, ``.jsonl``/``.ndjson``/``.json``; ``.gz`` etc.
        compression allowed for the text formats).

    Returns
    -------
    pandas.DataFrame
        The table, with a default 0-based index (row numbers in messages).

    Raises
    ------
    DataValidationError
        Missing, empty, truncated or unreadable file, with the reason.

    Examples
    --------
    >>> import pandas as pd, tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> pd.DataFrame({"n": [1, 2], "loss": [3.0, 2.0]}).to_csv(f"{d}/runs.csv", index=False)
    >>> read_table(f"{d}/runs.csv").shape
    (2, 2)
    """
    p = Path(path)
    if not p.exists():
        raise DataValidationError(f"File {str(p)!r} does not exist.", column="file")
    if p.is_dir():
        raise DataValidationError(
            f"{str(p)!r} is a directory; give a CSV, Parquet or JSON Lines file.",
            column="file",
        )
    if p.stat().st_size == 0:
        raise DataValidationError(f"File {str(p)!r} is empty.", column="file")
    fmt = _format_of(p)
    try:
        if fmt == "csv":
            df = pd.read_csv(p)
        elif fmt == "tsv":
            df = pd.read_csv(p, sep="\t")
        elif fmt == "parquet":
            df = pd.read_parquet(p)
        else:
            df = pd.read_json(p, lines=True)
    except (ValueError, OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataValidationError(
            f"Could not read {str(p)!r} as {fmt}: {detail}. Is the file complete and "
            "in that format?",
            column="file",
        ) from None
    except ImportError as exc:  # pragma: no cover - pyarrow is a dependency
        raise DataValidationError(
            f"Reading {fmt} needs an optional library: {exc}.", column="file"
        ) from None
    if df.shape[1] == 0 or len(df) == 0:
        raise DataValidationError(f"File {str(p)!r} holds no rows.", column="file")
    return df.reset_index(drop=True)


# ------------------------------------------------------------------ TensorBoard
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
def reduce_runs(df: pd.DataFrame, *, run: str, y: str, rule: str = "final",
                step: str | None = None) -> pd.DataFrame:
    """Reduce a learning-curve table (many rows per run) to one row per run.

    Parameters
    ----------
    df : pandas.DataFrame
        Long table.
    run : str
        Column identifying the run.
    y : str
        The metric (e.g. the validation loss).
    rule : {"final", "best"}, default="final"
        ``final``: the row with the largest ``step`` (rows with a missing
        metric skipped); ``best``: the row with the lowest metric.
    step : str, optional
        Step column (required for ``final``).

    Returns
    -------
    pandas.DataFrame
        One row per run; ``attrs["reduction"]`` states the rule and counts.

    Examples
    --------
    >>> df = pd.DataFrame({"run": ["a", "a", "b", "b"], "step": [1, 2, 1, 2],
    ...                    "loss": [3.0, 2.0, 2.5, 2.7]})
    >>> reduce_runs(df, run="run", y="loss", rule="best").loss.tolist()
    [2.0, 2.5]
    >>> reduce_runs(df, run="run", y="loss", rule="final", step="step").loss.tolist()
    [2.0, 2.7]
    """
    for c in [run, y] + ([step] if step else []):
        if c not in df.columns:
            raise unknown_name("column", c, list(df.columns))
    if rule not in ("final", "best"):
        raise unknown_name("reduction rule", str(rule), ["best", "final"])
    if rule == "final" and step is None:
        raise DataValidationError("rule='final' needs the step column (step=...).",
                                  column="step")
    metric = pd.to_numeric(df[y], errors="coerce")
    have = metric.notna()
    n_missing = int((~have).sum())
    d = df[have].assign(**{y: metric[have]})
    if rule == "final":
        order = pd.to_numeric(d[step], errors="coerce")
        _refuse_ambiguous(d, run, step, y, order)
        idx = order.groupby(d[run], sort=False).idxmax()
        text = f"final: the row with the largest {step!r} of each run"
    else:
        idx = d[y].groupby(d[run], sort=False).idxmin()
        text = f"best: the row with the lowest {y!r} of each run"
    out = d.loc[idx.dropna().to_numpy()].reset_index(drop=True)
    out.attrs["reduction"] = (
        f"{text}; {len(df)} rows -> {len(out)} runs"
        + (f"; {n_missing} rows without a {y!r} value skipped" if n_missing else "")
    )
    return out


def _refuse_ambiguous(d: pd.DataFrame, run: str, step: str, y: str, order: pd.Series) -> None:
    """A long table (several metrics per run and step) has no single final row."""
    last = order.groupby(d[run], sort=False).transform("max")
    at_last = d[order == last]
    counts = at_last.groupby(run, sort=False).size()
    if (counts <= 1).all():
        return
    example = counts[counts > 1].index[0]
    rows = at_last[at_last[run] == example]
    varying = [str(c) for c in rows.columns if c not in (run, step, y)
               and rows[c].nunique(dropna=False) > 1]
    hint = (f" They differ in {varying}: keep one kind first, e.g. --where "
            f"\"{varying[0]} == {rows[varying[0]].iloc[-1]!r}\"" if varying else "")
    raise DataValidationError(
        f"{int((counts > 1).sum())} run(s) have several rows at their last {step!r} "
        f"(run {example!r}: {len(rows)} rows), so 'final' is ambiguous: this looks like a long "
        f"table with one row per metric.{hint}. A sweep directory gives one row per run with "
        "'scalelaw sweep results DIR --final --out FILE'.",
        column=run,
    )


# ------------------------------------------------------------------ front door
def read_runs(
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    columns: Mapping[str, str] | None = None,
    run: str | None = None,
    step: str | None = None,
    y: str | None = None,
    reduce: str | None = None,
    where: str | None = None,
    parse: bool = True,
) -> pd.DataFrame:
    """Read runs from any supported log format, with renaming, a filter and reduction.

    Parameters
    ----------
    path : str or path-like
        A CSV/TSV/Parquet/JSON Lines file, a W&B export, a TensorBoard event
        file or log directory, or ``"dataset:NAME"`` for a bundled data set.
    format : {"table", "wandb", "tensorboard"}, optional
        Default: TensorBoard for directories and ``*tfevents*`` files, else a
        W&B export if the columns look like one, else a plain table.
    columns : mapping, optional
        Renames ``{"their_column": "our_column"}`` (applied first, so later
        arguments use the new names).
    run, step, y : str, optional
        Run id, step and metric columns, for ``reduce``.
    reduce : {"final", "best"}, optional
        Reduce a learning-curve table to one row per run (:func:`reduce_runs`).
    where : str, optional
        Row filter, a pandas query such as ``"split == 'test'"``, applied
        before the reduction (a long table keeps one metric, then its final row).
    parse : bool, default=True
        Parse counts with unit suffixes in text columns (:func:`parse_units`).

    Returns
    -------
    pandas.DataFrame
        The runs; ``attrs`` record the source format, the filter and any reduction.

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> pd.DataFrame({"N": ["70M", "160M"], "val/loss": [3.1, 2.9]}).to_csv(
    ...     f"{d}/runs.csv", index=False)
    >>> read_runs(f"{d}/runs.csv", columns={"N": "n_params", "val/loss": "loss"}).n_params.tolist()
    [70000000.0, 160000000.0]
    """
    if isinstance(path, str) and path.startswith("dataset:"):
        df, fmt = datasets.load(path.split(":", 1)[1]), "dataset"
    else:
        df, fmt = _read_source(Path(path), format)
    attrs = dict(df.attrs)
    if columns:
        missing = [k for k in columns if k not in df.columns]
        if missing:
            raise unknown_name("column", missing[0], list(df.columns))
        df = df.rename(columns=dict(columns))
    if parse:
        df = parse_units(df)
    if where:
        n_rows = len(df)
        df = filter_rows(df, where)
        attrs["where"] = f"kept {len(df)} of {n_rows} rows ({where})"
    if reduce is not None:
        df = _reduce(df, run, step, y, reduce)
        attrs["reduction"] = df.attrs["reduction"]
    df.attrs.update(attrs, format=fmt)
    return df


def filter_rows(df: pd.DataFrame, where: str) -> pd.DataFrame:
    """Rows matching a pandas query; a clear error for a bad expression or no match.

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    where : str
        A pandas query, such as ``"split == 'test' and metric == 'loss'"``.

    Returns
    -------
    pandas.DataFrame
        The matching rows.

    Examples
    --------
    >>> df = pd.DataFrame({"split": ["train", "test"], "value": [0.1, 0.3]})
    >>> filter_rows(df, "split == 'test'").value.tolist()
    [0.3]
    """
    try:
        kept = df.query(where)
    except Exception as exc:  # pandas raises many types for a bad expression
        raise DataValidationError(
            f"where {where!r} could not be applied: {exc}. Columns: "
            f"{[str(c) for c in df.columns]}.",
            column="where",
        ) from None
    if len(kept) == 0:
        raise DataValidationError(f"where {where!r} keeps no rows.", column="where")
    return kept


def _read_source(p: Path, fmt: str | None) -> tuple[pd.DataFrame, str]:
    """Read a file or log directory; the format from the path and columns if not given."""
    if fmt is None:
        fmt = "tensorboard" if (p.is_dir() or "tfevents" in p.name) else "table"
    if fmt not in ("table", "wandb", "tensorboard"):
        raise unknown_name("format", str(fmt), ["table", "tensorboard", "wandb"])
    if fmt == "tensorboard":
        return read_tensorboard(p), fmt
    if fmt == "wandb":
        return read_wandb(p), fmt
    df = read_table(p)
    if "_step" in df.columns or ("Step" in df.columns and any(
            " - " in str(c) for c in df.columns)):
        return read_wandb(p), "wandb"
    return df, fmt


def _reduce(df: pd.DataFrame, run: str | None, step: str | None, y: str | None,
            rule: str) -> pd.DataFrame:
    if run is None or y is None:
        raise DataValidationError(
            "Reducing runs needs the run and metric columns (run=..., y=...).",
            column="run",
        )
    return reduce_runs(df, run=run, y=y, rule=rule, step=step)


def read_fit(path: str | os.PathLike[str], group: str | None = None) -> FitResult:
    """Read a fit saved by ``scalelaw fit --json`` (or ``FitResult.to_json``).

    Parameters
    ----------
    path : str or path-like
        The JSON file.
    group : str, optional
        For a file of one fit per group: the group to return.

    Returns
    -------
    FitResult
        The fit.

    Raises
    ------
    DataValidationError
        Missing or unreadable file, not a fit JSON, or a grouped file without
        (or with an unknown) ``group``.
    """
    p = Path(path)
    if not p.exists():
        raise DataValidationError(f"Fit file {str(p)!r} does not exist.", column="file")
    try:
        d = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataValidationError(
            f"{str(p)!r} is not a fit JSON written by 'scalelaw fit --json': {exc}.",
            column="file",
        ) from None
    if isinstance(d, dict) and "groups" in d and "group" in d:
        grouped = GroupedFitResult.from_dict(d)
        if group is None:
            raise DataValidationError(
                f"{str(p)!r} holds one fit per {', '.join(grouped.group)!r}; choose one with "
                f"--group ({sorted(grouped.results)[:5]}).",
                column="group",
            )
        if group not in grouped.results:
            raise unknown_name("group", group, list(grouped.results))
        return grouped.results[group]
    if not isinstance(d, dict) or "schema_version" not in d:
        raise DataValidationError(
            f"{str(p)!r} is not a fit JSON written by 'scalelaw fit --json'.", column="file"
        )
    return FitResult.from_dict(d)
