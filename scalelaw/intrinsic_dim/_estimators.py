"""The estimators, their bootstrap and the result they return."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
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
from scalelaw.intrinsic_dim._calibration import SAMPLING_ONLY, calibrated_interval
from scalelaw.intrinsic_dim._skdim import skdim_id
from scalelaw.stats import percentile_interval

__all__ = [
    "DEFAULT_MLE_NEIGHBOURS",
    "LOWER_BOUND_ABOVE",
    "MAX_TIED_SHARE",
    "METHODS",
    "IDResult",
    "IntrinsicDimensionWarning",
    "Method",
    "estimate_intrinsic_dim",
    "estimate_intrinsic_dims",
    "pool_intrinsic_dims",
]

Method = Literal["twonn", "mle", "global_pca"]
METHODS: tuple[str, ...] = ("twonn", "mle", "global_pca")
#: Estimates above this read low by 10-25 % or more: they are flagged as lower bounds.
LOWER_BOUND_ABOVE = 12.0
DEFAULT_MLE_NEIGHBOURS = 20
#: Above this share of points whose two nearest neighbours are equidistant (a
#: grid, a lattice, rounded coordinates), neighbour-ratio estimates are refused.
MAX_TIED_SHARE = 0.05
_RETIRED = {
    "lpca": "'lpca' was never scikit-dimension's local PCA: it counted the principal "
            "components of the whole data set above 5 % of the largest (Fukunaga-Olsen), "
            "i.e. the dimension of the data's linear span. That estimator is now called "
            "'global_pca'; use 'twonn' or 'mle' for the dimension of a curved manifold.",
}
_KNN_METHODS = ("twonn", "mle")
#: Two neighbour distances closer than this (relative) count as tied.
_TIE_RTOL = 1e-9


class IntrinsicDimensionWarning(ScaleLawWarning):
    """An intrinsic-dimension estimate is a lower bound only, or rests on tied distances."""


@dataclass(frozen=True)
class IDResult:
    """An intrinsic-dimension estimate with its interval.

    Attributes
    ----------
    method : str
        ``"twonn"``, ``"mle"`` or ``"global_pca"`` (``"pooled:<method>"`` when pooled).
    dimension : float
        The estimator's value (not bias-corrected: comparable with published
        TwoNN and MLE numbers).
    ci : tuple of float
        Interval for the true intrinsic dimension at ``level``. What it covers
        is stated in ``interval_covers``: sampling error and the estimator's
        bias calibrated on manifolds of known dimension (TwoNN and MLE at their
        defaults), or sampling error only.
    level : float
        Its nominal coverage.
    n_points : int
        Distinct points used.
    ambient_dim : int
        Number of features.
    lower_bound : bool
        The estimate is above :data:`LOWER_BOUND_ABOVE`: the estimator reads
        low there (the calibrated interval's upper end says by how much).
    warnings : tuple of str
        What to know about this estimate (duplicates removed, ties, lower bound, ...).
    settings : dict
        Neighbours, bootstrap replicas, seed, the calibration applied.
    sampling_ci : tuple of float or None
        Bootstrap percentile interval of the estimator's value (sampling error
        only); ``None`` when not computed.
    interval_covers : str
        What ``ci`` accounts for: ``"sampling error only"`` or
        ``"sampling error and calibrated estimator bias"``.
    dimension_corrected : float or None
        The estimate with the calibrated median bias removed (``None`` when
        the interval is not calibrated).
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
    sampling_ci: tuple[float, float] | None = None
    interval_covers: str = SAMPLING_ONLY
    dimension_corrected: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary of every field.

        Returns
        -------
        dict
            ``method, dimension, ci, level, interval_covers, sampling_ci,
            dimension_corrected, n_points, ambient_dim, lower_bound, warnings,
            settings``.
        """
        def pair(v: tuple[float, float] | None) -> list[float] | None:
            return None if v is None else [float(v[0]), float(v[1])]

        return {"method": self.method, "dimension": float(self.dimension),
                "ci": pair(self.ci), "level": self.level,
                "interval_covers": self.interval_covers,
                "sampling_ci": pair(self.sampling_ci),
                "dimension_corrected": (None if self.dimension_corrected is None
                                        else float(self.dimension_corrected)),
                "n_points": int(self.n_points), "ambient_dim": int(self.ambient_dim),
                "lower_bound": bool(self.lower_bound), "warnings": list(self.warnings),
                "settings": dict(self.settings)}


def check_method(method: str) -> str:
    """The method's name, or a clear error for a retired or unknown one.

    Examples
    --------
    >>> check_method("twonn")
    'twonn'
    """
    if method in _RETIRED:
        raise DataValidationError(_RETIRED[method], column="method")
    if method not in METHODS:
        raise unknown_name("intrinsic-dimension method", str(method), METHODS)
    return method


def _as_points(X: Any) -> np.ndarray:
    """A 2-D float64 array of finite real coordinates, or a DataValidationError."""
    arr = np.asarray(X)
    if np.iscomplexobj(arr):
        raise DataValidationError(
            "Points hold complex numbers; intrinsic dimension needs real coordinates "
            "(give the real and imaginary parts as separate features if that is meant).",
            column="X")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise DataValidationError(f"Points hold {arr.dtype} values, not numbers.",
                                  column="X")
    arr = arr.astype(np.float64)
    if arr.ndim != 2 or arr.shape[0] < 10 or arr.shape[1] < 1:
        raise DataValidationError(
            f"Intrinsic dimension needs a 2-D array of at least 10 points (rows) x 1 "
            f"feature. Got shape {arr.shape} instead.", column="X")
    bad = ~np.all(np.isfinite(arr), axis=1)
    if bad.any():
        raise DataValidationError(
            f"{int(bad.sum())} point(s) hold NaN or infinite coordinates (first at row "
            f"{int(np.argmax(bad))}); remove them first.",
            column="X", rows=list(np.flatnonzero(bad)[:5]))
    return arr


def _points(X: Any) -> tuple[np.ndarray, list[str]]:
    """Distinct points, rescaled if their distances would overflow, and notes."""
    arr = _as_points(X)
    notes: list[str] = []
    big = float(np.max(np.abs(arr)))
    if big > 2.0**500 or 0.0 < big < 2.0**-500:
        # a power of two: exact, and every estimator here is scale-free
        exponent = int(np.frexp(big)[1])
        arr = np.ldexp(arr, -exponent)
        notes.append(f"coordinates up to {big:.3g} rescaled by 2^{-exponent} (exact; the "
                     "dimension does not depend on the scale) so that distances stay finite")
    uniq = np.unique(arr, axis=0)
    n_dup = arr.shape[0] - uniq.shape[0]
    if n_dup:
        notes.append(f"{n_dup} duplicate point(s) removed (they carry no distance "
                     "information)")
    if uniq.shape[0] < 10:
        raise DataValidationError(
            f"Only {uniq.shape[0]} distinct point(s) among {arr.shape[0]}; intrinsic "
            "dimension needs at least 10.", column="X")
    return uniq, notes


def _neighbours(pts: np.ndarray, need: int, methods: Sequence[str]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distances and indices of the ``need`` nearest neighbours, and the tied points."""
    from sklearn.neighbors import NearestNeighbors

    n = pts.shape[0]
    if need >= n:
        raise DataValidationError(
            f"{n} distinct points are too few for {need} neighbours; give more points or a "
            "smaller k.", column="X")
    # k-d trees lose to brute force from about 8 intrinsic dimensions on (3.4 vs 0.6 s
    # for 10,000 points of a 12-d Gaussian in R^14); below 7 features they win
    algorithm = "kd_tree" if pts.shape[1] <= 6 else "brute"
    nn = NearestNeighbors(n_neighbors=need + 1, algorithm=algorithm).fit(pts)
    dist, idx = nn.kneighbors(pts)
    dist, idx = dist[:, 1:], idx[:, 1:]
    tied = dist[:, 1] <= dist[:, 0] * (1.0 + _TIE_RTOL)
    n_tied = int(tied.sum())
    if n_tied > MAX_TIED_SHARE * n:
        raise DataValidationError(
            f"{n_tied} of {n} distinct points ({n_tied / n:.0%}) have their two nearest "
            "neighbours at the same distance (as on a grid, a lattice or rounded "
            f"coordinates): {'/'.join(m for m in methods if m in _KNN_METHODS)} read "
            "dimensions from neighbour-distance ratios and cannot estimate one here (TwoNN "
            f"would read 0). At most {MAX_TIED_SHARE:.0%} of points may be tied; "
            "'global_pca' gives the dimension of the points' linear span.", column="X")
    return dist, idx, tied


def _bootstrap_ci(boots: np.ndarray, level: float) -> tuple[float, float]:
    """Percentile interval of the replicas kept (the failed ones are already left out)."""
    return percentile_interval(boots, level, max_failed_fraction=1.0)[0]


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
        The points (data, or activations of a layer): real, finite numbers.
    methods : sequence of {"twonn", "mle", "global_pca"}, default=all three
        Estimators to run (see :mod:`scalelaw.intrinsic_dim`).
    k : int, default=20
        Neighbours of the MLE estimator (its interval is calibrated at 20 only).
    level : float, default=0.95
        Coverage of the intervals.
    n_boot : int, default=200
        Bootstrap replicates (resampled points; neighbours kept).
    max_points : int, optional
        Use a random subset of this many points.
    random_state : int, numpy.random.Generator or None, default=0
        Seed of the subset and the bootstrap.

    Returns
    -------
    dict
        ``{method: IDResult}``.

    Raises
    ------
    DataValidationError
        Not a 2-D array of real finite numbers, fewer than 10 distinct points,
        too few points for ``k``, more than :data:`MAX_TIED_SHARE` of the points
        with tied neighbour distances (TwoNN and MLE), or the retired ``"lpca"``.

    Warns
    -----
    IntrinsicDimensionWarning
        An estimate above :data:`LOWER_BOUND_ABOVE`, or tied points left out.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> z = rng.uniform(size=(2000, 3))
    >>> X = z @ np.linalg.qr(rng.normal(size=(10, 10)))[0][:3]  # a 3-cube in R^10
    >>> res = estimate_intrinsic_dims(X, ["twonn", "global_pca"])
    >>> print(f"{res['twonn'].dimension:.1f} {res['global_pca'].dimension:.0f}")
    2.9 3
    >>> res["twonn"].interval_covers
    'sampling error and calibrated estimator bias'
    """
    methods = [check_method(m) for m in methods]
    k = check_int(k, "k", minimum=3)
    level = check_level(level)
    n_boot = check_int(n_boot, "n_boot", minimum=10)
    rng = check_random_state(random_state)
    skdim_id()  # imported first (it brings scikit-learn), with warnings.filters kept
    pts, notes = _points(X)
    if max_points is not None and pts.shape[0] > check_int(max_points, "max_points",
                                                            minimum=10):
        pts = pts[rng.choice(pts.shape[0], size=max_points, replace=False)]
    n, ambient = pts.shape
    knn = [m for m in methods if m in _KNN_METHODS]
    dist = idx = tied = None
    if knn:
        need = max(k if m == "mle" else 2 for m in knn)
        dist, idx, tied = _neighbours(pts, need, methods)
    out: dict[str, IDResult] = {}
    for m in methods:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            est, boots, extra, m_notes = _ESTIMATORS[m](pts, dist, idx, tied, k, n_boot, rng)
        if not (np.isfinite(est) and est > 0):  # guarded above; never report 0 or NaN
            raise DataValidationError(
                f"The {m} estimate is {est}: the points carry no usable distance "
                "information.", column="X")
        boots = boots[np.isfinite(boots) & (boots > 0)]
        settings = {"n_boot": n_boot, "random_state": _seed(random_state), **extra}
        out[m] = _result(m, est, boots, level, n, ambient, notes + m_notes, settings)
    return out


def _seed(random_state: RandomStateLike) -> int | None:
    return int(random_state) if isinstance(random_state, int | np.integer) else None


def _result(method: str, est: float, boots: np.ndarray, level: float, n: int, ambient: int,
            notes: list[str], settings: dict[str, Any], *, calibrate: bool = True,
            stacklevel: int = 3) -> IDResult:
    """The IDResult: bootstrap interval, calibrated interval where one applies, notes."""
    notes = list(notes)
    sampling = _bootstrap_ci(boots, level)
    sd_log = float(np.std(np.log(boots), ddof=1)) if len(boots) > 1 else 0.0
    settings = {**settings, "sampling_sd_log": sd_log}
    cal = calibrated_interval(method, est, sd_log, n, ambient, level,
                              k=settings.get("k", DEFAULT_MLE_NEIGHBOURS)) if calibrate else None
    if cal is None:
        ci, covers, corrected = sampling, SAMPLING_ONLY, None
    else:
        ci, covers, corrected = cal.ci, cal.covers, cal.corrected
        settings["calibration"] = cal.settings
        notes.extend(cal.notes)
    lower = est > LOWER_BOUND_ABOVE and method in _KNN_METHODS
    if lower:
        msg = (f"{method} estimate {est:.2f} is above {LOWER_BOUND_ABOVE:g}: nearest-neighbour "
               "estimators read low there (TwoNN reads 16 as 12-15), so treat it as a lower "
               "bound of the intrinsic dimension")
        notes.append(msg)
        warnings.warn(msg[0].upper() + msg[1:] + ".", IntrinsicDimensionWarning,
                      stacklevel=stacklevel)
    return IDResult(method, float(est), ci, level, n, ambient, lower, tuple(notes), settings,
                    sampling, covers, corrected)


_Est = tuple[float, np.ndarray, dict[str, Any], list[str]]


def _twonn(pts: np.ndarray, dist: np.ndarray, idx: np.ndarray, tied: np.ndarray, k: int,
           n_boot: int, rng: np.random.Generator) -> _Est:
    twonn = skdim_id().TwoNN
    notes = []
    r12 = dist[:, :2]
    if tied.any():
        r12 = r12[~tied]
        msg = (f"{int(tied.sum())} point(s) whose two nearest neighbours are equidistant "
               "(r2 = r1, impossible under a continuous density) left out of TwoNN")
        notes.append(msg)
        warnings.warn(msg[0].upper() + msg[1:] + ".", IntrinsicDimensionWarning, stacklevel=4)

    def fit(rows: np.ndarray) -> float:  # a fresh estimator every time: no shared state
        return float(twonn(dist=True).fit(rows).dimension_)

    est = fit(r12)
    boots = np.array([fit(r12[rng.integers(0, len(r12), len(r12))]) for _ in range(n_boot)])
    return est, boots, {"discard_fraction": 0.1, "n_tied_left_out": int(tied.sum())}, notes


def _mle(pts: np.ndarray, dist: np.ndarray, idx: np.ndarray, tied: np.ndarray, k: int,
         n_boot: int, rng: np.random.Generator) -> _Est:
    if pts.shape[1] == 1:  # skdim checks for 2 features; a zero column keeps every distance
        pts = np.hstack([pts, np.zeros_like(pts)])
    est_obj = skdim_id().MLE().fit(pts, n_neighbors=k, precomputed_knn_arrays=(
        dist[:, :k], idx[:, :k]))
    # skdim's comb="mle" is 1 / mean(1 / d_i); 1 / d_i = mean log(r_k / r_j): finite
    # and positive unless all k neighbours are equidistant
    inv = 1.0 / np.asarray(est_obj.dimension_pw_, dtype=np.float64)
    good = np.isfinite(inv) & (inv > 0)
    notes = []
    if not good.all():
        notes.append(f"{int((~good).sum())} point(s) whose {k} nearest neighbours are all "
                     "equidistant left out of the MLE")
    inv = inv[good]
    boots = np.array([1.0 / np.mean(inv[rng.integers(0, len(inv), len(inv))])
                      for _ in range(n_boot)])
    return float(1.0 / np.mean(inv)), boots, {"k": k, "n_tied_left_out": int((~good).sum())}, \
        notes


def _global_pca(pts: np.ndarray, dist: Any, idx: Any, tied: Any, k: int, n_boot: int,
                rng: np.random.Generator) -> _Est:
    settings = {"version": "FO", "alpha": 0.05}
    if pts.shape[1] == 1:
        return 1.0, np.ones(n_boot), settings, []
    lpca = skdim_id().lPCA

    def fit(x: np.ndarray) -> float:  # scikit-dimension's lPCA on the whole set
        return float(lpca(ver="FO", alphaFO=0.05).fit(x).dimension_)

    boots = np.array([fit(pts[rng.integers(0, len(pts), len(pts))]) for _ in range(n_boot)])
    return fit(pts), boots, settings, []


_ESTIMATORS = {"twonn": _twonn, "mle": _mle, "global_pca": _global_pca}


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
    """Intrinsic dimension of a point cloud, with an interval for the true dimension.

    Parameters
    ----------
    X : array_like of shape (n_points, n_features)
        The points.
    method : {"twonn", "mle", "global_pca"}, default="twonn"
        The estimator (see :mod:`scalelaw.intrinsic_dim`).
    k, level, n_boot, max_points, random_state
        As in :func:`estimate_intrinsic_dims`.

    Returns
    -------
    IDResult
        The estimate, its interval (``interval_covers`` says what it covers)
        and what to know about it.

    Raises
    ------
    DataValidationError
        As in :func:`estimate_intrinsic_dims`. The dimension returned is
        always finite and positive, and so is the interval's lower end.

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

    The pooled dimension is the mean of the per-model estimates. Its sampling
    interval is the bootstrap over models (a cluster bootstrap: the spread
    between models, ~10 % across student sizes in Sharma & Kaplan, usually
    exceeds each model's own sampling error). The estimator's bias is shared
    by every model and does not average out: where the models' intervals are
    calibrated, the pooled interval carries the same calibrated bias.

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
        boots = np.array([results[0].dimension])
    else:
        boots = d[rng.integers(0, len(d), (n_boot, len(d)))].mean(axis=1)
    notes = [f"pooled over {len(d)} model(s): mean of their estimates, sampling interval "
             "from the bootstrap over models"]
    method = results[0].method
    calibrated = all(r.interval_covers != SAMPLING_ONLY for r in results)
    n_each = int(np.median([r.n_points for r in results]))
    settings = {"n_models": len(d), "per_model": d.tolist(), "n_boot": n_boot,
                "n_points_per_model": n_each}
    if calibrated:
        settings["k"] = results[0].settings.get("k", DEFAULT_MLE_NEIGHBOURS)
    out = _result(method, float(d.mean()), boots, level, n_each, results[0].ambient_dim,
                  notes, settings, calibrate=calibrated, stacklevel=2)
    if len(d) == 1 and out.sampling_ci is not None:  # one model: its own interval
        out = IDResult(out.method, out.dimension, results[0].ci, level, out.n_points,
                       out.ambient_dim, out.lower_bound, out.warnings, out.settings,
                       results[0].sampling_ci, results[0].interval_covers,
                       results[0].dimension_corrected)
    settings = {**out.settings}
    settings.pop("k", None)
    return IDResult(f"pooled:{method}", out.dimension, out.ci, out.level,
                    int(sum(r.n_points for r in results)), out.ambient_dim, out.lower_bound,
                    out.warnings, settings, out.sampling_ci, out.interval_covers,
                    out.dimension_corrected)
