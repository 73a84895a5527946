"""Reading one table (CSV, TSV, Parquet, JSON Lines, JSON, or a bundled dataset)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from scalelaw.exceptions import DataValidationError

__all__ = ["read_table"]


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
