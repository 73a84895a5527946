"""From a table of runs to a grid ``replicate x size``: the input of every theory fit.

Runs of one replicate (``seed``, ``data_seed``, ``noise_seed``) are one row of
the grid across sizes: they may be correlated (nested training sets, the same
initialisation), which the cluster interval and the cluster bootstrap use.
Without replicate columns, runs at a size fill the grid in table order and are
treated as independent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from scalelaw.exceptions import DataValidationError
from scalelaw.stats import size_means

__all__ = ["REPLICATE_COLUMNS", "RunGrid", "grid_deviations", "grid_means", "run_grid"]

#: Columns that identify a replicate of a run.
REPLICATE_COLUMNS = ("seed", "data_seed", "noise_seed")


@dataclass(frozen=True)
class RunGrid:
    """Runs of one slice as a grid.

    Attributes
    ----------
    sizes : ndarray (K,)
        Distinct sizes, ascending.
    values : ndarray (G, K)
        The averaged quantity of each run (the loss, or the paired excess
        ``L - L_inf``); NaN where a replicate has no run at a size.
    how : str
        ``"geometric"`` or ``"arithmetic"``.
    clusters : str or None
        Replicate columns that define the grid's rows (None: no replicate
        identity, rows are positions within each size).
    n_dropped : int
        Runs excluded (missing or non-finite size or loss, a non-positive loss,
        a missing ``L_inf``).
    train : ndarray (K,) or None
        Per-size geometric mean of the training loss.
    test : ndarray (K,)
        Per-size geometric mean of the loss itself (for the interpolation test).
    other : ndarray (K,) or None
        Per-size mean of the column of the finite-sample correction.
    l_inf : ndarray (K,) or None
        Per-size mean of a given ``L_inf``.
    """

    sizes: np.ndarray
    values: np.ndarray
    how: str
    clusters: str | None
    n_dropped: int
    train: np.ndarray | None
    test: np.ndarray
    other: np.ndarray | None
    l_inf: np.ndarray | None

    @property
    def n_runs(self) -> np.ndarray:
        """Runs at each size."""
        return np.isfinite(self.values).sum(axis=0)

    def subset(self, keep: np.ndarray) -> RunGrid:
        """The grid restricted to the sizes where ``keep`` is True."""
        def cut(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[keep]

        return RunGrid(self.sizes[keep], self.values[:, keep], self.how, self.clusters,
                       self.n_dropped, cut(self.train), self.test[keep], cut(self.other),
                       cut(self.l_inf))


def _column(data: pd.DataFrame, col: str) -> np.ndarray:
    if col not in data.columns:
        raise DataValidationError(f"Column {col!r} is not in the data; columns present: "
                                  f"{[str(c) for c in data.columns]}.", column=col)
    return pd.to_numeric(data[col], errors="coerce").to_numpy(dtype=float)


def run_grid(data: pd.DataFrame, x: str, y: str, *, how: str, l_inf: str | float | None = None,
             train: str | None = None, other: str | None = None) -> RunGrid:
    """Build the grid of one slice.

    Parameters
    ----------
    data : pandas.DataFrame
        Runs (one row each).
    x, y : str
        Size and loss columns.
    how : {"geometric", "arithmetic"}
        Mean over runs at a size.
    l_inf : str or float, optional
        Subtracted from each run's loss *before* averaging (paired per run):
        a column (e.g. the linearised network's loss from the same
        initialisation) or a value.
    train : str, optional
        Training-loss column.
    other : str, optional
        Column of the finite-sample correction (averaged per size).

    Returns
    -------
    RunGrid
        The grid.
    """
    xs, ys = _column(data, x), _column(data, y)
    ok = np.isfinite(xs) & (xs > 0) & np.isfinite(ys) & (ys > 0)
    lim = None
    if isinstance(l_inf, str):
        lim = _column(data, l_inf)
        ok &= np.isfinite(lim)
    elif l_inf is not None:
        lim = np.full(len(data), float(l_inf))
    tr = _column(data, train) if train is not None else None
    oth = _column(data, other) if other is not None else None
    sizes, codes = np.unique(xs[ok], return_inverse=True)
    k = sizes.size
    vals = ys[ok] if lim is None else ys[ok] - lim[ok]
    cols = [c for c in REPLICATE_COLUMNS if c in data.columns]
    rep = None
    if cols:
        rep = data.loc[ok, cols].groupby(cols, dropna=False, sort=True).ngroup().to_numpy()
        if pd.Series(rep * k + codes).duplicated().any():
            rep, cols = None, []  # two runs of one replicate at one size: no identity
    if rep is None:
        order = pd.Series(codes).groupby(codes).cumcount().to_numpy()
        rep = order
    grid = np.full((int(rep.max()) + 1 if rep.size else 0, k), np.nan)
    grid[rep, codes] = vals
    test = size_means(codes, ys[ok], k, how="geometric") if k else np.array([])

    def per_size(v: np.ndarray | None, geometric: bool) -> np.ndarray | None:
        if v is None:
            return None
        w = np.isfinite(v[ok]).astype(float)
        vv = np.where(w > 0, v[ok], 1.0)
        if geometric:
            vv = np.maximum(vv, 1e-300)
        return size_means(codes, vv, k, weights=w, how="geometric" if geometric else
                          "arithmetic")

    return RunGrid(sizes=sizes, values=grid, how=how, clusters=", ".join(cols) or None,
                   n_dropped=int((~ok).sum()), train=per_size(tr, True), test=test,
                   other=per_size(oth, False),
                   l_inf=None if lim is None else per_size(lim, False))


def grid_means(values: np.ndarray, how: str, weights: np.ndarray | None = None) -> np.ndarray:
    """Per-size means of a grid ``(G, K)`` or ``(R, G, K)``, optionally weighted.

    Parameters
    ----------
    values : ndarray
        The grid (NaN: no run).
    how : {"geometric", "arithmetic"}
        Mean.
    weights : ndarray, optional
        Broadcastable to ``(R, G, K)`` (bootstrap counts).

    Returns
    -------
    ndarray (R, K)
        Means (NaN where a size has no weight).
    """
    v = values if values.ndim == 3 else values[None]
    present = np.isfinite(v)
    w = present if weights is None else present * weights
    v, w = np.broadcast_arrays(np.where(present, v, 1.0), w)
    r, g, k = v.shape
    codes = np.tile(np.arange(k), g)
    return size_means(codes, v.reshape(r, g * k), k, weights=w.reshape(r, g * k), how=how)


def grid_deviations(values: np.ndarray, how: str) -> np.ndarray:
    """Each run's contribution to ``v_k = log(mean_k)`` (NaN where absent), ``(R, G, K)``.

    Geometric: ``(log y_gk - v_k) / n_k``; arithmetic: ``(y_gk - m_k) / (n_k m_k)``.
    """
    v = values if values.ndim == 3 else values[None]
    n = np.isfinite(v).sum(axis=1, keepdims=True)
    m = grid_means(v, how)[:, None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        if how == "geometric":
            return (np.log(v) - np.log(m)) / n
        return (v - m) / (n * m)
