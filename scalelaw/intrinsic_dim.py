"""Intrinsic dimension of data and of learned representations.

Three estimators of scikit-dimension, on nearest neighbours computed once
with scikit-learn and shared:

* ``"twonn"``: TwoNN (Facco et al. 2017), the ratio of each point's second
  to first neighbour distance; skdim's fast path from precomputed distances
  (its default path sorts full distance rows above 25 features: 20-30 s for
  10,000 points in R^100 instead of 2 s).
* ``"mle"``: Levina & Bickel (2005) maximum likelihood on ``k`` neighbours
  (default 20; Sharma & Kaplan used 100), combined over points as
  ``1 / mean(1 / d_i)``.
* ``"lpca"``: local-free PCA (Fukunaga-Olsen: eigenvalues above 5 % of the
  largest), a *linear* reference: it reads the dimension of the linear span,
  so it overestimates curved data (a ReLU embedding of a 4-cube reads 11).

Intervals come from the bootstrap over points of the per-point statistics
(the neighbours are not recomputed), so they hold the sampling uncertainty,
not the estimator's bias. The bias is systematic and documented (shared
science notes, scikit-dimension benchmark at 2,000 points): all kNN
estimators read low at high dimension (TwoNN reads 16 as 12-15 and 20 as
16-17) and on bounded cubes (uniform 8-cube: 6.9), and read low where the
density changes fast (skdim's ``Mbeta``, 10 -> 6.5; the 9-d paraboloid
``Mp3``, 9 -> 7.0-7.5). An estimate above :data:`LOWER_BOUND_ABOVE` is
therefore flagged as a lower bound (``IDResult.lower_bound``, with a warning),
and the theory checks use it as one.

Exact duplicate points (common in ReLU representations: inputs mapped to the
same activations) carry no distance information; they are removed first and
counted in ``IDResult.warnings``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from scalelaw._validation import (
    RandomStateLike,
    check_int,
    check_level,
    check_random_state,
    unknown_name,
)
from scalelaw.exceptions import DataValidationError, ScaleLawWarning

__all__ = [
    "LOWER_BOUND_ABOVE",
    "METHODS",
    "IDResult",
    "IntrinsicDimensionWarning",
    "estimate_intrinsic_dim",
    "estimate_intrinsic_dims",
    "pool_intrinsic_dims",
    "read_points",
]

Method = Literal["twonn", "mle", "lpca"]
METHODS: tuple[str, ...] = ("twonn", "mle", "lpca")
#: Estimates above this read low by 10-25 % or more (see the module docstring):
#: they are reported as lower bounds.
LOWER_BOUND_ABOVE = 12.0
DEFAULT_MLE_NEIGHBOURS = 20


class IntrinsicDimensionWarning(ScaleLawWarning):
    """An intrinsic-dimension estimate is high enough to be a lower bound only."""


@dataclass(frozen=True)
class IDResult:
    """An intrinsic-dimension estimate with its interval.

    Attributes
    ----------
    method : str
        ``"twonn"``, ``"mle"`` or ``"lpca"`` (``"pooled:<method>"`` when pooled).
    dimension : float
        The estimate.
    ci : tuple of float
        Bootstrap percentile interval (sampling uncertainty only).
    level : float
        Its coverage.
    n_points : int
        Distinct points used.
    ambient_dim : int
        Number of features.
    lower_bound : bool
        The estimate is above :data:`LOWER_BOUND_ABOVE`: treat it as a lower bound.
    warnings : tuple of str
        What to know about this estimate (duplicates removed, lower bound, ...).
    settings : dict
        Neighbours, bootstrap replicas, seed.
    """

    method: str
    dimension: float
    ci: tuple[float, float]
    level: float
    n_points: int
    ambient_dim: int
    lower_bound: bool
    warnings: tuple[str, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready ``{"method", "dimension", "ci", "n_points", "ambient_dim", "warnings"}``.

        Returns
        -------
        dict
            The estimate.
        """
        return {"method": self.method, "dimension": float(self.dimension),
                "ci": [float(self.ci[0]), float(self.ci[1])], "level": self.level,
                "n_points": int(self.n_points), "ambient_dim": int(self.ambient_dim),
                "lower_bound": bool(self.lower_bound), "warnings": list(self.warnings),
                "settings": dict(self.settings)}


def _points(X: Any) -> tuple[np.ndarray, int]:
    """Float64 points with exact duplicates removed, and how many were removed."""
    arr = np.asarray(X, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] < 10 or arr.shape[1] < 1:
        raise DataValidationError(
            f"Intrinsic dimension needs a 2-D array of at least 10 points (rows) x 1 "
            f"feature. Got shape {arr.shape} instead.",
            column="X",
        )
    bad = ~np.all(np.isfinite(arr), axis=1)
    if bad.any():
        raise DataValidationError(
            f"{int(bad.sum())} point(s) hold NaN or infinite coordinates (first at row "
            f"{int(np.argmax(bad))}); remove them first.",
            column="X",
            rows=list(np.flatnonzero(bad)[:5]),
        )
    uniq = np.unique(arr, axis=0)
    return uniq, arr.shape[0] - uniq.shape[0]


def estimate_intrinsic_dims(
    X: Any,
    methods: Sequence[str] = METHODS,
    *,
    k: int = DEFAULT_MLE_NEIGHBOURS,
    level: float = 0.95,
    n_boot: int = 200,
    max_points: int | None = None,
    random_state: RandomStateLike = 0,
) -> dict[str, IDResult]:
    """Several estimators on one point cloud, sharing its nearest neighbours.

    Parameters
    ----------
    X : array_like of shape (n_points, n_features)
        The points (data, or activations of a layer).
    methods : sequence of {"twonn", "mle", "lpca"}, default=all three
        Estimators to run.
    k : int, default=20
        Neighbours of the MLE estimator.
    level : float, default=0.95
        Coverage of the bootstrap intervals.
    n_boot : int, default=200
        Bootstrap replicates (resampled points; neighbours kept).
    max_points : int, optional
        Use a random subset of this many points (estimates depend slowly on
        the number of points; see the module docstring).
    random_state : int, numpy.random.Generator or None, default=0
        Seed of the subset and the bootstrap.

    Returns
    -------
    dict
        ``{method: IDResult}``.

    Warns
    -----
    IntrinsicDimensionWarning
        An estimate above :data:`LOWER_BOUND_ABOVE` (a lower bound only).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> z = rng.uniform(size=(2000, 3))
    >>> X = z @ np.linalg.qr(rng.normal(size=(10, 10)))[0][:3]  # a 3-cube in R^10
    >>> res = estimate_intrinsic_dims(X, ["twonn", "lpca"])
    >>> print(f"{res['twonn'].dimension:.1f} {res['lpca'].dimension:.0f}")  # a cube reads low
    2.9 3
    """
    for m in methods:
        if m not in METHODS:
            raise unknown_name("intrinsic-dimension method", str(m), METHODS)
    k = check_int(k, "k", minimum=3)
    level = check_level(level)
    n_boot = check_int(n_boot, "n_boot", minimum=10)
    rng = check_random_state(random_state)
    pts, n_dup = _points(X)
    if max_points is not None and pts.shape[0] > check_int(max_points, "max_points",
                                                            minimum=10):
        pts = pts[rng.choice(pts.shape[0], size=max_points, replace=False)]
    notes = []
    if n_dup:
        notes.append(f"{n_dup} duplicate point(s) removed (they carry no distance "
                     "information)")
    n, ambient = pts.shape
    need = max([k if m == "mle" else 2 for m in methods if m != "lpca"] or [0])
    if need >= n:
        raise DataValidationError(
            f"{n} distinct points are too few for {need} neighbours; give more points or a "
            "smaller k.", column="X")
    dist = idx = None
    if need:
        from sklearn.neighbors import NearestNeighbors

        nn = NearestNeighbors(n_neighbors=need + 1).fit(pts)
        dist, idx = nn.kneighbors(pts)
        dist, idx = dist[:, 1:], idx[:, 1:]
    out: dict[str, IDResult] = {}
    for m in methods:
        est, boots, extra = _ESTIMATORS[m](pts, dist, idx, k, n_boot, rng)
        a = (1.0 - level) / 2.0
        ci = (float(np.quantile(boots, a)), float(np.quantile(boots, 1 - a)))
        out[m] = _result(m, est, ci, level, n, ambient, notes,
                         {"n_boot": n_boot, "random_state": _seed(random_state), **extra})
    return out


def _seed(random_state: RandomStateLike) -> int | None:
    return int(random_state) if isinstance(random_state, int | np.integer) else None


def _result(method: str, est: float, ci: tuple[float, float], level: float, n: int,
            ambient: int, notes: list[str], settings: dict[str, Any]) -> IDResult:
    notes = list(notes)
    lower = est > LOWER_BOUND_ABOVE and method != "lpca"
    if lower:
        msg = (f"{method} estimate {est:.2f} is above {LOWER_BOUND_ABOVE:g}: nearest-neighbour "
               "estimators read low there (TwoNN reads 16 as 12-15), so treat it as a lower "
               "bound of the intrinsic dimension")
        notes.append(msg)
        warnings.warn(msg[0].upper() + msg[1:] + ".", IntrinsicDimensionWarning, stacklevel=3)
    return IDResult(method, float(est), ci, level, n, ambient, lower, tuple(notes), settings)


def _twonn(pts: np.ndarray, dist: np.ndarray, idx: np.ndarray, k: int, n_boot: int,
           rng: np.random.Generator) -> tuple[float, np.ndarray, dict[str, Any]]:
    import skdim

    r12 = dist[:, :2]

    def fit(rows: np.ndarray) -> float:  # a fresh estimator every time: no shared state
        return float(skdim.id.TwoNN(dist=True).fit(rows).dimension_)

    est = fit(r12)
    boots = np.array([fit(r12[rng.integers(0, len(r12), len(r12))]) for _ in range(n_boot)])
    return est, boots, {"discard_fraction": 0.1}


def _mle(pts: np.ndarray, dist: np.ndarray, idx: np.ndarray, k: int, n_boot: int,
         rng: np.random.Generator) -> tuple[float, np.ndarray, dict[str, Any]]:
    import skdim

    est_obj = skdim.id.MLE().fit(pts, n_neighbors=k, precomputed_knn_arrays=(
        dist[:, :k], idx[:, :k]))
    local = np.asarray(est_obj.dimension_pw_, dtype=np.float64)
    local = local[np.isfinite(local) & (local > 0)]

    def combine(v: np.ndarray) -> float:  # skdim's comb="mle": 1 / mean(1 / d_i)
        return float(1.0 / np.mean(1.0 / v))

    boots = np.array([combine(local[rng.integers(0, len(local), len(local))])
                      for _ in range(n_boot)])
    return combine(local), boots, {"k": k}


def _lpca(pts: np.ndarray, dist: Any, idx: Any, k: int, n_boot: int,
          rng: np.random.Generator) -> tuple[float, np.ndarray, dict[str, Any]]:
    def fit(x: np.ndarray) -> float:
        ev = np.linalg.svd(x - x.mean(axis=0), compute_uv=False) ** 2
        return float(np.count_nonzero(ev > 0.05 * ev.max()))  # Fukunaga-Olsen, alpha 0.05

    boots = np.array([fit(pts[rng.integers(0, len(pts), len(pts))]) for _ in range(n_boot)])
    return fit(pts), boots, {"version": "FO", "alpha": 0.05}


_ESTIMATORS = {"twonn": _twonn, "mle": _mle, "lpca": _lpca}


def estimate_intrinsic_dim(
    X: Any,
    method: Method = "twonn",
    *,
    k: int = DEFAULT_MLE_NEIGHBOURS,
    level: float = 0.95,
    n_boot: int = 200,
    max_points: int | None = None,
    random_state: RandomStateLike = 0,
) -> IDResult:
    """Intrinsic dimension of a point cloud, with a bootstrap interval.

    Parameters
    ----------
    X : array_like of shape (n_points, n_features)
        The points.
    method : {"twonn", "mle", "lpca"}, default="twonn"
        The estimator (see the module docstring).
    k, level, n_boot, max_points, random_state
        As in :func:`estimate_intrinsic_dims`.

    Returns
    -------
    IDResult
        The estimate, its interval and what to know about it.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> X = rng.normal(size=(3000, 4)) @ rng.normal(size=(4, 50))  # 4-d Gaussian in R^50
    >>> res = estimate_intrinsic_dim(X)
    >>> print(f"{res.dimension:.1f}", res.ci[0] < 4 < res.ci[1])
    4.1 True
    """
    return estimate_intrinsic_dims(X, [method], k=k, level=level, n_boot=n_boot,
                                   max_points=max_points, random_state=random_state)[method]


def pool_intrinsic_dims(results: Sequence[IDResult], *, level: float = 0.95,
                        n_boot: int = 2000, random_state: RandomStateLike = 0) -> IDResult:
    """One estimate from several models' estimates (e.g. students of several sizes and seeds).

    The pooled dimension is the mean of the per-model estimates; its interval
    is the bootstrap over models (a cluster bootstrap: the spread between
    models, ~10 % across student sizes in Sharma & Kaplan, usually exceeds
    each model's own sampling error).

    Parameters
    ----------
    results : sequence of IDResult
        One per model, same method.
    level : float, default=0.95
        Coverage.
    n_boot : int, default=2000
        Replicates over models.
    random_state : int, numpy.random.Generator or None, default=0
        Seed.

    Returns
    -------
    IDResult
        Method ``"pooled:<method>"``; ``n_points`` sums the models' points.

    Examples
    --------
    >>> from scalelaw.intrinsic_dim import IDResult
    >>> rs = [IDResult("twonn", d, (d - 0.1, d + 0.1), 0.95, 1000, 8, False)
    ...       for d in (3.9, 4.1, 4.0, 4.2)]
    >>> print(f"{pool_intrinsic_dims(rs).dimension:.2f}")
    4.05
    """
    if not results:
        raise DataValidationError("No estimates to pool.", column="results")
    methods = {r.method for r in results}
    if len(methods) != 1:
        raise DataValidationError(f"Estimates to pool must share one method; got "
                                  f"{sorted(methods)}.", column="results")
    level = check_level(level)
    rng = check_random_state(random_state)
    d = np.array([r.dimension for r in results])
    if len(d) == 1:
        boots = np.array([results[0].ci[0], results[0].ci[1]])
        ci = results[0].ci
    else:
        boots = d[rng.integers(0, len(d), (n_boot, len(d)))].mean(axis=1)
        a = (1 - level) / 2
        ci = (float(np.quantile(boots, a)), float(np.quantile(boots, 1 - a)))
    notes = [f"pooled over {len(d)} model(s): mean of their estimates, interval from the "
             "bootstrap over models"]
    method = results[0].method
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IntrinsicDimensionWarning)  # said once, below
        out = _result(method, float(d.mean()), ci, level, int(sum(r.n_points for r in results)),
                      results[0].ambient_dim, notes,
                      {"n_models": len(d), "per_model": d.tolist(), "n_boot": n_boot})
    if out.lower_bound:
        warnings.warn(out.warnings[-1][0].upper() + out.warnings[-1][1:] + ".",
                      IntrinsicDimensionWarning, stacklevel=2)
    return IDResult(f"pooled:{method}", out.dimension, out.ci, out.level, out.n_points,
                    out.ambient_dim, out.lower_bound, out.warnings, out.settings)


def read_points(path: str | Path, *, key: str | None = None,
                columns: Sequence[str] | None = None) -> np.ndarray:
    """Points (embeddings, activations) from a ``.npy``, ``.npz``, Parquet or CSV file.

    Parameters
    ----------
    path : str or Path
        The file. ``.npy``: a 2-D array. ``.npz``: the array named ``key`` (or
        the only one). Tables (``.parquet``, ``.csv``, ``.tsv``): one point per
        row, the ``columns`` given or else every numeric column.
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
        Missing file, unknown extension, no such array or column, text in a
        chosen column, or not 2-D.

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
    ext = p.suffix.lower()
    if ext == ".npy":
        arr = np.load(p, allow_pickle=False)
    elif ext == ".npz":
        with np.load(p, allow_pickle=False) as z:
            names = list(z.files)
            if key is None and len(names) != 1:
                raise DataValidationError(
                    f"{str(p)!r} holds arrays {names}; choose one with key= (--key).",
                    column="key")
            name = names[0] if key is None else key
            if name not in names:
                raise unknown_name("array", name, names)
            arr = z[name]
    elif ext in (".parquet", ".pq", ".csv", ".tsv"):
        arr = _table_points(p, ext, columns)
    else:
        raise DataValidationError(
            f"{str(p)!r}: unknown extension {ext!r}; points are read from .npy, .npz, "
            ".parquet or .csv files.", column="file")
    arr = np.asarray(arr)
    if arr.ndim != 2:
        raise DataValidationError(f"Points must be a 2-D array (points x features); "
                                  f"{str(p)!r} holds shape {arr.shape}.", column="file")
    if not np.issubdtype(arr.dtype, np.number):
        raise DataValidationError(f"{str(p)!r} holds {arr.dtype} values, not numbers.",
                                  column="file")
    return arr.astype(np.float64)


def _table_points(p: Path, ext: str, columns: Sequence[str] | None) -> np.ndarray:
    import pandas as pd

    df = (pd.read_parquet(p) if ext in (".parquet", ".pq")
          else pd.read_csv(p, sep="\t" if ext == ".tsv" else ","))
    if columns:
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise unknown_name("column", missing[0], [str(c) for c in df.columns])
        df = df[list(columns)]
        text = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
        if text:
            raise DataValidationError(f"Column {text[0]!r} is not numeric.", column=text[0])
    else:
        ignored = [str(c) for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
        df = df.select_dtypes("number")
        if ignored:
            warnings.warn(f"{str(p)!r}: {len(ignored)} non-numeric column(s) left out of the "
                          f"points: {ignored[:5]}.", ScaleLawWarning, stacklevel=3)
        if df.shape[1] == 0:
            raise DataValidationError(f"{str(p)!r} has no numeric columns.", column="file")
    return df.to_numpy(dtype=np.float64)
