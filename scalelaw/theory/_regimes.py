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

from scalelaw.theory._window import INTERPOLATION_RATIO

__all__ = ["FAR", "classify_regime", "classify_regimes"]

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
                geo = g[[train, test]].agg(lambda v: float(np.exp(np.mean(np.log(
                    np.maximum(v.astype(float), 1e-300))))))
                ratio = (geo[train] / geo[test]).reindex(sizes).to_numpy()
            regime, reason = classify_regime(sizes, fixed, varies=varies,
                                             train_over_test=ratio)
            rows.append({"slice": f"{key} = {value}", "varies": size_col, "fixed": value,
                         "sizes": (float(sizes.min()), float(sizes.max())),
                         "regime": regime, "reason": reason})
    return pd.DataFrame(rows, columns=["slice", "varies", "fixed", "sizes", "regime",
                                       "reason"])
