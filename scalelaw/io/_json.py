"""Nested JSON run files: one object per file (or a list), flattened with pandas."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from scalelaw.exceptions import DataValidationError

__all__ = ["read_json_runs"]


def _load(p: Path) -> list[dict[str, Any]]:
    """The objects of one file: an object, a list of objects, or JSON Lines."""
    text = p.read_text()
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":  # one object per line
            try:
                return [json.loads(line) for line in text.splitlines() if line.strip()]
            except json.JSONDecodeError as exc2:
                exc = exc2
        raise DataValidationError(
            f"Could not read {str(p)!r} as JSON: {exc.msg} at line {exc.lineno}, column "
            f"{exc.colno}. Is the file complete?", column="file") from None
    objs = obj if isinstance(obj, list) else [obj]
    bad = [i for i, o in enumerate(objs) if not isinstance(o, dict)]
    if bad:
        raise DataValidationError(
            f"{str(p)!r} must hold a JSON object or a list of objects (one per run); item "
            f"{bad[0]} is a {type(objs[bad[0]]).__name__}.", column="file")
    return objs


def _resolve(flat: pd.DataFrame, path: str) -> pd.Series:
    """Values at a dotted path; integer parts index lists (``results.1.loss``)."""
    if path in flat.columns:
        return flat[path]
    parts = path.split(".")
    for k in range(len(parts) - 1, 0, -1):
        head = ".".join(parts[:k])
        if head in flat.columns:
            col = flat[head]
            for part in parts[k:]:
                if col.dtype != object:  # nothing nested left to index into
                    return pd.Series(float("nan"), index=col.index)
                col = col.str.get(int(part) if part.lstrip("-").isdigit() else part)
            return col
    tops = sorted({str(c).split(".")[0] for c in flat.columns})
    raise DataValidationError(
        f"The JSON path {path!r} is in no run file (top-level keys: {tops[:20]}). Name a "
        "nested field by its dotted path, with list positions as numbers (e.g. "
        "'results.0.loss').", column=path)


def read_json_runs(
    path: str | os.PathLike[str],
    *,
    fields: Mapping[str, str] | None = None,
    record_path: str | Sequence[str] | None = None,
    meta: Sequence[str | Sequence[str]] | None = None,
) -> pd.DataFrame:
    """Read nested JSON run files into one table (pandas ``json_normalize``).

    Each file holds one run as a JSON object, or a list of runs (JSON Lines
    also works); a folder is read file by file (``*.json``, sorted by name).
    Nested objects are flattened into dotted column names
    (``hyperparameters.params``); lists stay as values unless a field names a
    position in them.

    Parameters
    ----------
    path : str or path-like
        A ``.json`` file or a folder of them.
    fields : mapping, optional
        ``{"dotted.path": "column"}``: keep only these fields, renamed. Integer
        parts index lists: ``{"results.1.loss": "loss"}`` takes the loss of
        the second entry of each run's ``results`` list.
    record_path : str or list of str, optional
        One row per entry of this list inside each run (as
        ``pandas.json_normalize``), with ``meta`` fields of the run repeated.
    meta : sequence, optional
        Run-level fields kept beside ``record_path`` rows (dotted strings or
        lists of keys).

    Returns
    -------
    pandas.DataFrame
        One row per run (or per record), with a ``file`` column (the file's
        name without ``.json``); ``attrs["format"] = "json"``.

    Raises
    ------
    DataValidationError
        No ``.json`` file, an unreadable file, a path present in no run.

    Examples
    --------
    >>> import json, tempfile
    >>> d = tempfile.mkdtemp()
    >>> for n, loss in ((1e6, 3.2), (1e7, 2.9)):
    ...     run = {"hyperparameters": {"params": n}, "results": [{"loss": loss}]}
    ...     _ = open(f"{d}/run-{int(n)}.json", "w").write(json.dumps(run))
    >>> read_json_runs(d, fields={"hyperparameters.params": "n_params",
    ...                           "results.0.loss": "loss"}).loss.tolist()
    [3.2, 2.9]
    """
    p = Path(path)
    if not p.exists():
        raise DataValidationError(f"{str(p)!r} does not exist.", column="file")
    files = sorted(p.glob("*.json")) if p.is_dir() else [p]
    if not files:
        raise DataValidationError(
            f"{str(p)!r} is a folder with neither TensorBoard logs (*tfevents* files) nor "
            "run files (*.json); give a folder of one of these, or a table file.",
            column="file")
    frames = []
    for f in files:
        objs = _load(f)
        if not objs:
            continue
        try:
            flat = pd.json_normalize(objs, record_path=record_path, meta=meta,
                                     errors="ignore")
        except (KeyError, TypeError) as exc:
            raise DataValidationError(
                f"{str(f)!r}: record_path {record_path!r} is not a list of objects in every "
                f"run ({type(exc).__name__}: {exc}).", column="record_path") from None
        flat.insert(0, "file", f.name[:-5] if f.name.endswith(".json") else f.stem)
        frames.append(flat)
    if not frames:
        raise DataValidationError(f"The JSON under {str(p)!r} holds no runs.", column="file")
    table = pd.concat(frames, ignore_index=True)
    if fields:
        out = pd.DataFrame({"file": table["file"]})
        for src, name in fields.items():
            col = _resolve(table, src)
            if col.isna().all():
                raise DataValidationError(
                    f"The JSON path {src!r} (for column {name!r}) is missing from every run "
                    f"under {str(p)!r}.", column=name)
            if col.dtype == object:
                with contextlib.suppress(ValueError, TypeError):  # text stays text
                    col = pd.to_numeric(col)
            out[name] = col
        table = out
    table.attrs["format"] = "json"
    return table.reset_index(drop=True)
