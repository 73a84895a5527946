"""Interval of an exponent by resampling seeds: the spread between runs, not a model of it.

Runs of one seed are correlated across sizes (nested training sets, the same
initialisation), and the seed-to-seed scatter of a final loss is often larger
than a fit's residuals suggest. With enough replicates at every size the
interval of :func:`~scalelaw.theory.fit_exponent` is therefore a cluster
bootstrap: replicate identities (``seed``, ``data_seed``, ``noise_seed``) are
resampled with replacement, the per-size geometric means recomputed and the
exponent refitted (warm-started from the full fit); without replicate
columns, rows are resampled within each size.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

__all__ = ["MIN_REPLICATES", "REPLICATE_COLUMNS", "seed_bootstrap"]

#: Columns that identify a replicate of a run.
REPLICATE_COLUMNS = ("seed", "data_seed", "noise_seed")
#: Fewest runs at every size for the bootstrap (fewer give a too discrete distribution).
MIN_REPLICATES = 5


def _slope(axis: np.ndarray, target: np.ndarray) -> float:
    return float(-np.polyfit(np.log(axis), np.log(target), 1)[0])


def _floor_fit(axis: np.ndarray, target: np.ndarray, start: np.ndarray) -> float:
    def resid(p: np.ndarray) -> np.ndarray:
        return np.log(p[0] + np.exp(p[1]) * axis ** -p[2]) - np.log(target)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        r = least_squares(resid, start, bounds=([0.0, -np.inf, 0.0], np.inf), method="trf")
    return float(r.x[2])


def seed_bootstrap(rows: pd.DataFrame, x: str, y: str, *, sizes: np.ndarray,
                   axis: np.ndarray, limit: np.ndarray | None, floor_start: np.ndarray | None,
                   level: float, n_boot: int = 200, random_state: int = 0
                   ) -> tuple[tuple[float, float], str] | None:
    """Percentile interval of the exponent over resampled replicates.

    Parameters
    ----------
    rows : pandas.DataFrame
        The runs (finite positive ``x`` and ``y``).
    x, y : str
        Size and loss columns.
    sizes, axis : ndarray
        The window's sizes and the abscissa fitted at each (the size, or the
        size less the finite-sample correction).
    limit : ndarray or None
        ``L_inf`` given at each size (the excess is fitted).
    floor_start : ndarray or None
        ``(E, log A, alpha)`` of the full fit when ``L_inf`` is fitted.
    level : float
        Coverage.
    n_boot : int, default=200
        Replicas.
    random_state : int, default=0
        Seed.

    Returns
    -------
    tuple or None
        ``((lo, hi), how)``; None when some size has fewer than
        :data:`MIN_REPLICATES` runs.
    """
    xs = pd.to_numeric(rows[x], errors="coerce").to_numpy()
    ys = pd.to_numeric(rows[y], errors="coerce").to_numpy()
    inside = np.isin(xs, sizes) & np.isfinite(ys) & (ys > 0)
    sub = rows[inside]
    size_of = np.searchsorted(sizes, xs[inside])
    logy = np.log(pd.to_numeric(sub[y], errors="coerce").to_numpy(dtype=float))
    counts = np.bincount(size_of, minlength=len(sizes))
    if counts.min() < MIN_REPLICATES:
        return None
    id_cols = [c for c in REPLICATE_COLUMNS if c in sub.columns]
    rng = np.random.default_rng(random_state)
    if id_cols:
        ids = pd.MultiIndex.from_frame(sub[id_cols].astype(str)).codes
        rep = np.zeros(len(sub), dtype=np.int64)
        for codes in ids:
            rep = rep * (int(codes.max()) + 1) + codes
        _, rep = np.unique(rep, return_inverse=True)
        n_rep = int(rep.max()) + 1
        how = (f"cluster bootstrap over {n_rep} replicates ({', '.join(id_cols)}), "
               f"{n_boot} draws")
    else:
        rep, n_rep = None, 0
        how = f"bootstrap of the runs within each size, {n_boot} draws"
    alphas = []
    for _ in range(n_boot):
        if rep is not None:
            weight = np.bincount(rng.integers(0, n_rep, n_rep), minlength=n_rep)[rep]
        else:
            weight = np.zeros(len(sub))
            for k in range(len(sizes)):
                idx = np.flatnonzero(size_of == k)
                np.add.at(weight, rng.choice(idx, idx.size), 1.0)
        tot = np.bincount(size_of, weights=weight, minlength=len(sizes))
        if (tot == 0).any():
            continue
        gm = np.exp(np.bincount(size_of, weights=weight * logy, minlength=len(sizes)) / tot)
        target = gm if limit is None else gm - limit
        if (target <= 0).any():
            continue
        alphas.append(_slope(axis, target) if floor_start is None
                      else _floor_fit(axis, target, floor_start))
    if len(alphas) < n_boot // 2:
        return None
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(alphas, [tail, 100 - tail])
    return (float(lo), float(hi)), how

