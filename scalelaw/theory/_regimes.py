"""Which regime a slice of a sweep is in: D >> P, P >> D, or the crossover between.

A slice varies one size at a fixed other: the training-set size ``D`` at a
fixed model (``P`` parameters), or the model at a fixed ``D``. With ``r`` the
ratio of the varied size to the fixed one:

* varying ``D``: ``D >= 10 P`` everywhere is variance-limited in data;
  ``P >= 10 D`` everywhere, or a model that interpolates its training set
  (train/test loss below 0.1) at every size, is resolution-limited in data;
* varying the model: ``P >= 10 D`` everywhere is variance-limited in width;
  ``D >= 10 P`` everywhere is resolution-limited in parameters;
* anything else is the crossover, where neither prediction applies.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalelaw.stats import aggregate_by_size
from scalelaw.theory._engine import MIN_WINDOW
from scalelaw.theory._window import INTERPOLATION_RATIO

__all__ = ["FAR", "classify_regime", "classify_regimes", "slice_regime"]

#: "Much larger": a factor of 10.
FAR = 10.0


def classify_regime(sizes: np.ndarray, fixed: np.ndarray, *, varies: str,
                    train_over_test: np.ndarray | None = None) -> tuple[str, str]:
    """Regime of one slice, and why.

    Parameters
    ----------
    sizes : ndarray
        The varied size at each point (``D`` or ``P``).
    fixed : ndarray
        The other size at each point (``P`` or ``D``).
    varies : {"data", "model"}
        Which one varies.
    train_over_test : ndarray, optional
        Train loss over test loss at each point (for the interpolation test).

    Returns
    -------
    tuple of str
        ``(regime, reason)`` with regime ``"variance"``, ``"resolution"`` or
        ``"crossover"``.

    Examples
    --------
    >>> classify_regime(np.array([2e3, 4e3, 8e3]), np.full(3, 121.0), varies="data")
    ('variance', 'D >> P: D/P from 16.5 to 66.1 (>= 10 everywhere)')
    """
    sizes, fixed = np.asarray(sizes, float), np.asarray(fixed, float)
    r = sizes / fixed
    big, small = ("D", "P") if varies == "data" else ("P", "D")
    span = f"{big}/{small} from {r.min():.3g} to {r.max():.3g}"
    if np.all(r >= FAR):
        return "variance", f"{big} >> {small}: {span} (>= {FAR:g} everywhere)"
    if np.all(r <= 1 / FAR):
        return "resolution", f"{small} >> {big}: {span} (<= {1 / FAR:g} everywhere)"
    if varies == "data" and train_over_test is not None and np.all(
            np.asarray(train_over_test) < INTERPOLATION_RATIO):
        return "resolution", (f"the model interpolates every training set (train/test "
                              f"< {INTERPOLATION_RATIO:g}); {span}")
    return "crossover", (f"{span}: neither size is {FAR:g}x the other everywhere, so "
                         "neither the resolution- nor the variance-limited prediction applies "
                         "to the whole slice")


def classify_regimes(
    data: pd.DataFrame,
    *,
    n_train: str = "n_train",
    n_params: str = "n_params",
    width: str | None = "width",
    test: str | None = "test_loss",
    train: str | None = "train_loss",
    min_sizes: int = 3,
) -> pd.DataFrame:
    """Regime of every slice of a sweep's final table (one row per run).

    Slices: each model (fixed ``width``, or ``n_params``) across ``n_train``,
    and each ``n_train`` across models.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per run, e.g. :func:`teacher_student.sweep.final_metrics`.
    n_train, n_params : str
        Size columns.
    width : str or None, default="width"
        Model column for the slices (``n_params`` when None or absent).
    test, train : str or None
        Loss columns for the interpolation test (skipped when absent).
    min_sizes : int, default=3
        Slices with fewer distinct sizes are left out.

    Returns
    -------
    pandas.DataFrame
        ``slice``, ``varies``, ``fixed``, ``sizes`` (smallest, largest), ``regime``,
        ``reason``.

    Examples
    --------
    >>> df = pd.DataFrame({"width": 8, "n_params": 121, "n_train": [2048, 4096, 8192]})
    >>> classify_regimes(df, test=None, train=None)[["slice", "regime"]].values.tolist()
    [['width = 8', 'variance']]
    """
    model = width if (width and width in data.columns) else n_params
    rows = []
    for varies, key, size_col in (("data", model, n_train), ("model", n_train, n_params)):
        for value, sub in data.groupby(key, sort=True):
            g = sub.groupby(size_col)
            if g.ngroups < min_sizes:
                continue
            sizes = np.array(sorted(g.groups))
            fixed_col = n_params if varies == "data" else n_train
            fixed = g[fixed_col].mean().reindex(sizes).to_numpy(dtype=float)
            ratio = None
            if (varies == "data" and test in (data.columns if test else ())
                    and train in (data.columns if train else ())):
                ratio = _train_over_test(sub, size_col, train, test, sizes)
            regime, reason = classify_regime(sizes, fixed, varies=varies,
                                             train_over_test=ratio)
            rows.append({"slice": f"{key} = {value}", "varies": size_col, "fixed": value,
                         "sizes": (float(sizes.min()), float(sizes.max())),
                         "regime": regime, "reason": reason})
    return pd.DataFrame(rows, columns=["slice", "varies", "fixed", "sizes", "regime",
                                       "reason"])


def _train_over_test(sub: pd.DataFrame, size: str, train: str, test: str,
                     sizes: np.ndarray) -> np.ndarray:
    """Per-size geometric mean of train loss over that of test loss (zeros floored)."""
    floored = sub.assign(**{c: np.maximum(pd.to_numeric(sub[c], errors="coerce"), 1e-300)
                            for c in (train, test)})
    agg = aggregate_by_size(floored, size, {train: "geometric", test: "geometric"})
    agg = agg.set_index(size).reindex(sizes)
    return (agg[train] / agg[test]).to_numpy()


def slice_regime(sub: pd.DataFrame, x: str, y: str, train: str | None,
                 n_params: str | None, n_train: str | None
                 ) -> tuple[str, str, pd.DataFrame]:
    """The regime of one slice of a check, why, and its rows.

    The varied size is compared with the fixed one: ``x = n_train`` against
    ``n_params`` (D/P); ``x = n_params`` against ``n_train`` (P/D); any other
    model axis (``width``) through its ``n_params`` against ``n_train`` (P/D).
    A crossover slice whose sizes reach one regime at 4 or more sizes is
    restricted to those sizes.

    Parameters
    ----------
    sub : pandas.DataFrame
        The slice's runs.
    x, y : str
        Varied size and loss.
    train : str or None
        Training-loss column (the interpolation test).
    n_params, n_train : str or None
        Size columns.

    Returns
    -------
    tuple
        ``(regime, reason, rows)``; regime ``"unknown"`` when a size column is missing.
    """
    varies = "data" if x == n_train else "model"
    fixed_col = n_params if varies == "data" else n_train
    size_col = x if x in (n_train, n_params) else n_params
    need = [c for c in (fixed_col, size_col) if c is None or c not in sub.columns]
    if need:
        return "unknown", (f"no {need[0]!r} column to compare the sizes with: give the "
                           "regime (--regime resolution|variance)"), sub
    # sizes, not measurements: an infinite one (a D -> inf or P -> inf limit) is kept
    num = pd.DataFrame({c: pd.to_numeric(sub[c], errors="coerce")
                        for c in dict.fromkeys((x, size_col, fixed_col))})
    num = num[np.isfinite(num[x]) & (num[x] > 0)].dropna()
    means = num.groupby(x, sort=True).mean()
    xs = means.index.to_numpy(dtype=float)
    sizes = means[size_col].to_numpy(dtype=float) if size_col != x else xs
    fixed = means[fixed_col].to_numpy(dtype=float)
    if xs.size == 0:
        return "unknown", f"no run with a finite positive {x!r}", sub
    ratio = None
    if train is not None and train in sub.columns and varies == "data":
        ratio = _train_over_test(sub, x, train, y, xs)
    kind, why = classify_regime(sizes, fixed, varies=varies, train_over_test=ratio)
    if kind != "crossover":
        return kind, why, sub
    parts = []
    for part in (sizes / fixed >= FAR, sizes / fixed <= 1 / FAR if ratio is None
                 else (sizes / fixed <= 1 / FAR) | (ratio < INTERPOLATION_RATIO)):
        if part.sum() >= MIN_WINDOW:
            k, w = classify_regime(sizes[part], fixed[part], varies=varies,
                                   train_over_test=None if ratio is None else ratio[part])
            if k != "crossover":
                parts.append((int(part.sum()), k, w, set(xs[part])))
    if not parts:
        return kind, why, sub
    n, kind, part_why, keep = max(parts, key=lambda t: t[0])
    rows = sub[pd.to_numeric(sub[x], errors="coerce").isin(keep)]
    return kind, (f"the slice spans the crossover ({why.split(':')[0]}); its {n} of "
                  f"{len(sizes)} sizes in one regime are used: {part_why}"), rows
