"""Per-size aggregation: one value per size from the runs (seeds) at that size.

Two means, named for what they average:

* ``"geometric"``: ``exp(mean(log v))``, the mean of log-losses (Bahri et
  al. and Sharma & Kaplan average log-loss over seeds); needs positive values;
* ``"arithmetic"``: the plain mean, the expectation a variance-limited
  prediction is about (``E[L] - L_inf ~ 1/D``); values may be negative (a
  per-run excess ``L - L_inf``).

:func:`size_means` works on arrays and on many resamples at once (weights of
shape ``(n_draws, n_runs)``); :func:`aggregate_by_size` is its table form,
which drops unusable runs and counts them.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from scalelaw.exceptions import DataValidationError

__all__ = ["aggregate_by_size", "size_means"]

_HOW = ("geometric", "arithmetic")


def size_means(codes: np.ndarray, values: np.ndarray, n_sizes: int, *,
               weights: np.ndarray | None = None, how: str = "geometric") -> np.ndarray:
    """Weighted mean of ``values`` at each size.

    Parameters
    ----------
    codes : ndarray of int
        Size index (``0 .. n_sizes - 1``) of each run.
    values : ndarray
        One value per run (positive for ``"geometric"``).
    n_sizes : int
        Number of sizes.
    weights : ndarray, optional
        ``(n_runs,)`` or ``(n_draws, n_runs)`` (e.g. bootstrap counts); default 1.
    how : {"geometric", "arithmetic"}, default="geometric"
        Which mean.

    Returns
    -------
    ndarray
        ``(n_sizes,)`` or ``(n_draws, n_sizes)``; NaN where a size has no weight.

    Examples
    --------
    >>> size_means(np.array([0, 0, 1]), np.array([1.0, 4.0, 3.0]), 2).round(6).tolist()
    [2.0, 3.0]
    >>> size_means(np.array([0, 0, 1]), np.array([1.0, 4.0, 3.0]), 2,
    ...            how="arithmetic").tolist()
    [2.5, 3.0]
    """
    if how not in _HOW:
        raise DataValidationError(f"'how' must be one of {list(_HOW)}; got {how!r}.",
                                  column="how")
    codes = np.asarray(codes, dtype=np.int64)
    vals = np.asarray(values, dtype=float)
    if how == "geometric":
        vals = np.log(vals)
    w = np.ones(vals.shape) if weights is None else np.asarray(weights, dtype=float)
    onehot = np.zeros((codes.size, n_sizes))
    onehot[np.arange(codes.size), codes] = 1.0
    tot = w @ onehot
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (w * vals) @ onehot / tot
    mean = np.where(tot > 0, mean, np.nan)
    return np.exp(mean) if how == "geometric" else mean


def aggregate_by_size(data: pd.DataFrame, size: str, columns: Mapping[str, str]
                      ) -> pd.DataFrame:
    """One row per size: each column's geometric or arithmetic mean over the runs.

    A run with a missing or non-finite size or value, a non-positive size, or a
    non-positive value in a ``"geometric"`` column is excluded (every column
    of that run); the count is in ``attrs["n_dropped"]`` and the positions
    (0-based, in the table as given) in ``attrs["dropped_rows"]``.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per run.
    size : str
        The size column (rows with equal sizes are averaged).
    columns : mapping of str to {"geometric", "arithmetic"}
        Columns to average and how.

    Returns
    -------
    pandas.DataFrame
        ``size``, the averaged columns and ``n_runs``, sorted by size.

    Examples
    --------
    >>> df = pd.DataFrame({"n": [10, 10, 20, 20], "loss": [1.0, 4.0, 0.5, -1.0]})
    >>> out = aggregate_by_size(df, "n", {"loss": "geometric"})
    >>> out.to_dict("list"), out.attrs["n_dropped"]
    ({'n': [10.0, 20.0], 'loss': [2.0, 0.5], 'n_runs': [2, 1]}, 1)
    """
    for c in (size, *columns):
        if c not in data.columns:
            raise DataValidationError(
                f"Column {c!r} is not in the data; columns present: "
                f"{[str(k) for k in data.columns]}.", column=c)
    for c, how in columns.items():
        if how not in _HOW:
            raise DataValidationError(f"Column {c!r}: 'how' must be one of {list(_HOW)}; "
                                      f"got {how!r}.", column=c)
    sizes = pd.to_numeric(data[size], errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(sizes) & (sizes > 0)
    vals = {}
    for c, how in columns.items():
        v = pd.to_numeric(data[c], errors="coerce").to_numpy(dtype=float)
        ok &= np.isfinite(v) & ((v > 0) if how == "geometric" else True)
        vals[c] = v
    uniq, codes = np.unique(sizes[ok], return_inverse=True)
    out = pd.DataFrame({size: uniq})
    for c, how in columns.items():
        out[c] = size_means(codes, vals[c][ok], uniq.size, how=how)
    out["n_runs"] = np.bincount(codes, minlength=uniq.size)
    out.attrs["n_dropped"] = int((~ok).sum())
    out.attrs["dropped_rows"] = np.flatnonzero(~ok).tolist()
    return out
