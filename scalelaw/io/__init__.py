"""Readers: tables of runs (CSV, Parquet, JSON Lines, nested JSON, TensorBoard, W&B) and points.

:func:`read_runs` is the one entry point: it picks the reader, renames
columns (``columns={"their_name": "our_name"}``), parses counts written with
unit suffixes (``"70M"``, ``"1.3B"``) and, for learning-curve logs with many
rows per run, reduces each run to its final or best row with the rule
recorded in ``DataFrame.attrs["reduction"]``. Nested JSON run files (one
object per file, or a list) are flattened with ``pandas.json_normalize``
(:func:`read_json_runs`); :func:`tokens_from_compute` derives the token count
from training compute (``C = 6 N D``); :func:`read_points` reads point clouds
(``.npy``, ``.npz``, Parquet, CSV) for the intrinsic dimension. Fits saved as
JSON are read by :func:`scalelaw.results.read_fit`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from scalelaw import datasets
from scalelaw._validation import unknown_name
from scalelaw.exceptions import DataValidationError
from scalelaw.io._compute import looks_like_compute, tokens_from_compute
from scalelaw.io._json import read_json_runs
from scalelaw.io._logs import parse_units, read_tensorboard, read_wandb
from scalelaw.io._points import read_points
from scalelaw.io._tables import read_table
from scalelaw.io._where import evaluate_where

__all__ = ["evaluate_where", "filter_rows", "looks_like_compute", "parse_units",
           "read_json_runs", "read_points", "read_runs", "read_table", "read_tensorboard",
           "read_wandb", "reduce_runs", "tokens_from_compute"]


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
    json_fields: Mapping[str, str] | None = None,
    record_path: str | None = None,
) -> pd.DataFrame:
    """Read runs from any supported log format, with renaming, a filter and reduction.

    Parameters
    ----------
    path : str or path-like
        A CSV/TSV/Parquet/JSON Lines file, a W&B export, a TensorBoard event
        file or log directory, a nested JSON run file or a folder of them, or
        ``"dataset:NAME"`` for a bundled data set.
    format : {"table", "wandb", "tensorboard", "json"}, optional
        Default: for a folder, TensorBoard when it holds ``*tfevents*`` files,
        else nested JSON run files (``*.json``); ``json`` for a ``.json`` file
        (an object, a list of objects or JSON Lines); else a W&B export if the
        columns look like one, else a plain table.
    columns : mapping, optional
        Renames ``{"their_column": "our_column"}`` (applied first, so later
        arguments use the new names).
    run, step, y : str, optional
        Run id, step and metric columns, for ``reduce``.
    reduce : {"final", "best"}, optional
        Reduce a learning-curve table to one row per run (:func:`reduce_runs`).
    where : str, optional
        Row filter (:func:`evaluate_where`), such as ``"split == 'test'"``, applied
        before the reduction (a long table keeps one metric, then its final row).
    parse : bool, default=True
        Parse counts with unit suffixes in text columns (:func:`parse_units`).
    json_fields : mapping, optional
        Nested JSON: ``{"dotted.path": "column"}`` fields to keep
        (:func:`read_json_runs`; ``"results.0.loss"`` indexes a list).
    record_path : str, optional
        Nested JSON: one row per entry of this list in each run.

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
        df, fmt = _read_source(Path(path), format, json_fields, record_path)
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
    """Rows matching a filter expression; a clear error for a bad expression or no match.

    The expression is checked against a whitelist and evaluated on the
    table's columns alone (:func:`scalelaw.io.evaluate_where`): unlike
    :meth:`pandas.DataFrame.query` it can reach nothing outside the table.

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    where : str
        A filter such as ``"split == 'test' and metric == 'loss'"``: column
        names, literals, comparisons, ``in``, ``and``/``or``/``not``, ``+ - * /``.

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
    kept = df[evaluate_where(df, where)]
    if len(kept) == 0:
        raise DataValidationError(f"where {where!r} keeps no rows.", column="where")
    return kept


def _read_source(p: Path, fmt: str | None, json_fields: Mapping[str, str] | None = None,
                 record_path: str | None = None) -> tuple[pd.DataFrame, str]:
    """Read a file or folder; the format from the path and columns if not given."""
    if fmt is None:
        if p.is_dir():
            fmt = "tensorboard" if any(p.rglob("*tfevents*")) else "json"
        elif "tfevents" in p.name:
            fmt = "tensorboard"
        elif p.suffix.lower() == ".json":
            fmt = "json"
        else:
            fmt = "table"
    if fmt not in ("table", "wandb", "tensorboard", "json"):
        raise unknown_name("format", str(fmt), ["json", "table", "tensorboard", "wandb"])
    if (json_fields or record_path) and fmt != "json":
        raise DataValidationError(
            f"JSON fields and record paths apply to nested JSON run files; {str(p)!r} was "
            f"read as {fmt}.", column="json_path")
    if fmt == "json":
        return read_json_runs(p, fields=json_fields, record_path=record_path), fmt
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
