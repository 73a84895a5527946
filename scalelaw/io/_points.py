"""Points from files: ``.npy``, ``.npz``, Parquet, CSV and TSV, refused cleanly when unusable."""

from __future__ import annotations

import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from scalelaw._validation import unknown_name
from scalelaw.exceptions import DataValidationError, ScaleLawWarning

__all__ = ["read_points"]


def read_points(path: str | Path, *, key: str | None = None,
                columns: Sequence[str] | None = None) -> np.ndarray:
    """Points (embeddings, activations) from a ``.npy``, ``.npz``, Parquet or CSV file.

    Parameters
    ----------
    path : str or Path
        The file. ``.npy``: a 2-D array. ``.npz``: the array named ``key`` (or
        the only one). Tables (``.parquet``, ``.csv``, ``.tsv``): one point per
        row, the ``columns`` given or else every numeric column. Pickled
        (object) arrays are never loaded.
    key : str, optional
        Array of an ``.npz`` holding several.
    columns : sequence of str, optional
        Table columns to use.

    Returns
    -------
    ndarray of shape (n_points, n_features)
        The points (float64).

    Raises
    ------
    DataValidationError
        Missing, empty, truncated or unreadable file; unknown extension;
        pickled or object array; no such array or column; text in a chosen
        column; complex values; not 2-D. The message names the file.

    Examples
    --------
    >>> import tempfile, os
    >>> f = os.path.join(tempfile.mkdtemp(), "emb.npz")
    >>> np.savez(f, emb=np.ones((20, 3)))
    >>> read_points(f).shape
    (20, 3)
    """
    p = Path(path)
    if not p.is_file():
        raise DataValidationError(f"Points file {str(p)!r} does not exist.", column="file")
    if p.stat().st_size == 0:
        raise DataValidationError(f"Points file {str(p)!r} is empty.", column="file")
    ext = p.suffix.lower()
    if ext == ".npy":
        arr = _load_npy(p)
    elif ext == ".npz":
        arr = _load_npz(p, key)
    elif ext in (".parquet", ".pq", ".csv", ".tsv"):
        arr = _table_points(p, ext, columns)
    else:
        raise DataValidationError(
            f"{str(p)!r}: unknown extension {ext!r}; points are read from .npy, .npz, "
            ".parquet or .csv files.", column="file")
    return _check_array(np.asarray(arr), p)


def _unreadable(p: Path, exc: BaseException) -> DataValidationError:
    detail = " ".join(str(exc).split())[:200]
    return DataValidationError(f"{str(p)!r} could not be read ({type(exc).__name__}: "
                               f"{detail}); is it truncated or not a {p.suffix} file?",
                               column="file")


def _pickled(p: Path) -> DataValidationError:
    return DataValidationError(
        f"{str(p)!r} holds Python objects (a pickled or object-dtype array); points must be "
        "a numeric array, and pickles are never loaded (they can run code).", column="file")


def _load_npy(p: Path) -> np.ndarray:
    try:
        return np.load(p, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "pickle" in str(exc).lower():
            raise _pickled(p) from None
        raise _unreadable(p, exc) from None
    except (OSError, EOFError) as exc:
        raise _unreadable(p, exc) from None


def _load_npz(p: Path, key: str | None) -> np.ndarray:
    try:
        with np.load(p, allow_pickle=False) as z:
            names = list(z.files)
            if key is None and len(names) != 1:
                raise DataValidationError(
                    f"{str(p)!r} holds arrays {names}; choose one with key= (--key).",
                    column="key")
            name = names[0] if key is None else key
            if name not in names:
                raise unknown_name("array", name, names)
            return z[name]
    except ValueError as exc:
        if isinstance(exc, DataValidationError):
            raise
        if "pickle" in str(exc).lower():
            raise _pickled(p) from None
        raise _unreadable(p, exc) from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise _unreadable(p, exc) from None


def _check_array(arr: np.ndarray, p: Path) -> np.ndarray:
    if arr.dtype == object:
        raise _pickled(p)
    if np.iscomplexobj(arr):
        raise DataValidationError(
            f"{str(p)!r} holds complex numbers; points need real coordinates (store the real "
            "and imaginary parts as separate features if that is meant).", column="file")
    if arr.ndim != 2:
        raise DataValidationError(f"Points must be a 2-D array (points x features); "
                                  f"{str(p)!r} holds shape {arr.shape}.", column="file")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise DataValidationError(f"{str(p)!r} holds {arr.dtype} values, not numbers.",
                                  column="file")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise DataValidationError(f"{str(p)!r} holds no points (shape {arr.shape}).",
                                  column="file")
    out = arr.astype(np.float64)
    bad = ~np.all(np.isfinite(out), axis=1)
    if bad.any():
        raise DataValidationError(
            f"{str(p)!r}: {int(bad.sum())} point(s) hold NaN or infinite coordinates (first "
            f"at row {int(np.argmax(bad))}); remove them first.", column="file",
            rows=list(np.flatnonzero(bad)[:5]))
    return out


def _table_points(p: Path, ext: str, columns: Sequence[str] | None) -> np.ndarray:
    import pandas as pd

    try:
        df = (pd.read_parquet(p) if ext in (".parquet", ".pq")
              else pd.read_csv(p, sep="\t" if ext == ".tsv" else ","))
    except pd.errors.EmptyDataError:
        raise DataValidationError(f"Points file {str(p)!r} is empty (no header, no rows).",
                                  column="file") from None
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise _unreadable(p, exc) from None
    except Exception as exc:  # pyarrow's errors for a corrupt Parquet file
        if type(exc).__module__.startswith("pyarrow"):
            raise _unreadable(p, exc) from None
        raise
    if df.empty:
        raise DataValidationError(f"{str(p)!r} has a header but no rows.", column="file")
    if columns:
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise unknown_name("column", missing[0], [str(c) for c in df.columns])
        df = df[list(columns)]
        text = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
        if text:
            raise DataValidationError(f"{str(p)!r}: column {text[0]!r} is not numeric.",
                                      column=text[0])
    else:
        ignored = [str(c) for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
        df = df.select_dtypes("number")
        if ignored:
            warnings.warn(f"{str(p)!r}: {len(ignored)} non-numeric column(s) left out of the "
                          f"points: {ignored[:5]}.", ScaleLawWarning, stacklevel=3)
        if df.shape[1] == 0:
            raise DataValidationError(f"{str(p)!r} has no numeric columns.", column="file")
    cplx = [c for c in df.columns if pd.api.types.is_complex_dtype(df[c])]
    if cplx:
        raise DataValidationError(f"{str(p)!r}: column {cplx[0]!r} holds complex numbers; "
                                  "points need real coordinates.", column=str(cplx[0]))
    return df.to_numpy(dtype=np.float64)
