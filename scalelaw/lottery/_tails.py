"""Extreme-value index of a tail, two estimators, and a tail class that both must agree on.

Location- and scale-invariant tools (shared science notes, Part II section 1):

* the tail: the top ``k`` values, ``k = tail_size(n) = min(0.2 n, 3 sqrt(n))``
  (40 of 200, 95 of 1,000, 212 of 5,000): a fixed 20 % reads Student-t(5)
  (``xi = 0.2``) at 0.04-0.06 at n = 1,000-5,000 (GPD fit), the shrinking
  share at 0.08-0.13 (its second-order bias shrinks with the threshold);
* the moment (Dekkers-Einmahl-de Haan) estimator on ``x - median(x)``
  (location and scale invariant), with a bootstrap interval;
* a generalised Pareto maximum-likelihood fit to the exceedances over the
  threshold (:func:`scalelaw.stats.fit_gpd`) with its profile-likelihood
  interval.

Tail class (:func:`classify_tail`): each estimator's interval says *bounded*
(upper end below :data:`BOUNDED_MAX_XI`), *light* (upper end below
:data:`LIGHT_MAX_XI`), *heavy* (lower end above 0) or nothing; the class is
the one both say (one *bounded* and one *light* give *light*), else
``undecided`` with the reason. The thresholds were set by simulation with
known truth (``bench/tail_calibration.py``; rates in ``bench/RESULTS.md``):
Student-t(5), the slowest-converging heavy tail there, is called light in at
most a few per cent of samples at n >= 200, which forbids calling light any
sample that reads like an exponential tail at n = 1,000 (the two are
indistinguishable there). Power-law tooling (Hill, Clauset et al.) is not
used: it is not location-invariant and seed outcomes sit far from the origin.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scalelaw._validation import RandomStateLike, check_random_state
from scalelaw.exceptions import DataValidationError
from scalelaw.stats import fit_gpd, percentile_interval

__all__ = ["BOUNDED_MAX_XI", "COVERAGE_NOTE", "LIGHT_MAX_XI", "MIN_RUNS_FOR_TAIL",
           "TAIL_CLASSES", "TailFit", "classify_tail", "fit_tail", "fit_tails", "gpd_tail_index",
           "moment_tail_index", "tail_index", "tail_ratio", "tail_size"]

#: Classes: heavy ("extremistan"), light ("mediocristan"), bounded, undecided.
TAIL_CLASSES = ("heavy", "light", "bounded", "undecided")
#: Fewer runs give no class (the tail would hold fewer than 16 runs).
MIN_RUNS_FOR_TAIL = 50
#: An interval whose upper end lies below this says light: set so that tails with
#: ``xi >= 0.2`` (Student-t(5) the hardest) are called light in <= 10 % at n >= 200.
LIGHT_MAX_XI = 0.1
#: An interval whose upper end lies below this says bounded: Gaussian samples read
#: -0.27 to -0.14 at n = 200-5,000 (their tail converges to xi = 0 logarithmically).
BOUNDED_MAX_XI = -0.35
#: What the intervals cover, measured (bench/tail_calibration.py, 95 % intervals).
COVERAGE_NOTE = (
    "xi intervals cover sampling error of the tail above the threshold: 94-98 % (GPD "
    "profile) on generalised Pareto samples; on Student-t, lognormal and normal samples "
    "the tail index converges slowly (second-order bias), so they cover the true xi far "
    "less often (see bench/RESULTS.md, tail calibration)")


def tail_size(n: int) -> int:
    """Number of top values treated as the tail: ``round(min(0.2 n, 3 sqrt(n)))``, at least 5.

    Examples
    --------
    >>> [tail_size(n) for n in (50, 200, 1000, 5000)]
    [10, 40, 95, 212]
    """
    return int(max(5, round(min(0.2 * n, 3.0 * np.sqrt(n)))))


def _moment_rows(xs: np.ndarray, k: int) -> np.ndarray:
    """Moment estimator per row of sorted samples ``xs`` (n_rows, n), origin at the median."""
    n = xs.shape[1]
    med = 0.5 * (xs[:, (n - 1) // 2] + xs[:, n // 2])
    top = xs[:, -k:] - med[:, None]
    thr = xs[:, -k - 1] - med
    with np.errstate(all="ignore"):
        logs = np.log(top) - np.log(thr)[:, None]
        m1 = logs.mean(axis=1)
        m2 = (logs**2).mean(axis=1)
        xi = m1 + 1.0 - 0.5 / (1.0 - m1**2 / m2)
    return np.where((thr > 0) & np.isfinite(xi), xi, np.nan)


def _sample(x: Any, name: str = "x") -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or x.size < 6 or not np.all(np.isfinite(x)):
        raise DataValidationError(f"{name} must be a 1-D array of at least 6 finite values; "
                                  f"got shape {x.shape}", column=name)
    return x


def moment_tail_index(x: np.ndarray, *, k: int | None = None) -> float:
    """Dekkers-Einmahl-de Haan moment estimator of the upper tail's index ``xi``.

    Computed on ``x - median(x)``, so it is location and scale invariant
    (the estimator works on logarithms of the top values over the threshold).

    Parameters
    ----------
    x : ndarray
        The sample.
    k : int, optional
        Tail size (default :func:`tail_size`).

    Returns
    -------
    float
        ``xi`` (any sign; NaN when the threshold does not exceed the median).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> bool(0.55 < moment_tail_index(rng.pareto(1.5, 2000) + 1) < 0.85)  # xi = 1/1.5
    True
    """
    x = _sample(x)
    return float(_moment_rows(np.sort(x)[None, :], k or tail_size(x.size))[0])


def gpd_tail_index(x: np.ndarray, *, k: int | None = None) -> float:
    """``xi`` of a generalised Pareto fit to the exceedances over the ``(k + 1)``-th
    largest value (maximum likelihood, :func:`scalelaw.stats.fit_gpd`).

    Parameters
    ----------
    x : ndarray
        The sample.
    k : int, optional
        Tail size (default :func:`tail_size`).

    Returns
    -------
    float
        The fitted shape ``xi`` (``>= -1``).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> bool(abs(gpd_tail_index(rng.normal(size=2000))) < 0.3)
    True
    """
    x = np.sort(_sample(x))
    k = k or tail_size(x.size)
    return float(fit_gpd(x[-k:] - x[-k - 1], level=None).shape[0])


def _moment_from_counts(xs: np.ndarray, counts: np.ndarray, k: int) -> np.ndarray:
    """Moment estimator per resample given by ``counts`` (n_rows, n) of the sorted
    sample ``xs``: the resample is ``repeat(xs, counts)``, read without sorting."""
    n = xs.size
    above = np.cumsum(counts[:, ::-1], axis=1)[:, ::-1]  # copies at or above each value
    # median: the mean of the resample's values at ranks (n - 1) // 2 and n // 2 (0-based)
    below = n - above + counts  # copies strictly below, plus own: rank of the last copy + 1
    med = 0.5 * (xs[np.argmax(below > (n - 1) // 2, axis=1)]
                 + xs[np.argmax(below > n // 2, axis=1)])
    # the threshold is the (k + 1)-th largest; the tail holds the k copies above it
    thr = xs[n - 1 - np.argmax(above[:, ::-1] >= k + 1, axis=1)]
    in_tail = np.clip(k - (above - counts), 0, counts)
    with np.errstate(all="ignore"):
        logs = np.log(xs[None, :] - med[:, None]) - np.log(thr - med)[:, None]
        logs = np.where(in_tail > 0, logs, 0.0)
        m1 = (in_tail * logs).sum(axis=1) / k
        m2 = (in_tail * logs**2).sum(axis=1) / k
        xi = m1 + 1.0 - 0.5 / (1.0 - m1**2 / m2)
    return np.where((thr > med) & np.isfinite(xi), xi, np.nan)


def _moment_boots(xs: np.ndarray, k: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap replicas of the moment estimator of one sorted sample."""
    n = xs.size
    out = np.empty(n_boot)
    chunk = max(1, 2_000_000 // n)
    for start in range(0, n_boot, chunk):
        m = min(chunk, n_boot - start)
        draws = rng.integers(0, n, (m, n)) + (n * np.arange(m))[:, None]
        counts = np.bincount(draws.ravel(), minlength=m * n).reshape(m, n)
        out[start:start + m] = _moment_from_counts(xs, counts, k)
    return out


def _moment_sd(xi: float, k: int) -> float:
    """Asymptotic sd of the moment estimator (Dekkers, Einmahl & de Haan 1989)."""
    if xi >= 0:
        var = 1.0 + xi**2
    else:
        var = ((1 - xi) ** 2 * (1 - 2 * xi) * (1 - xi + 6 * xi**2)
               / ((1 - 3 * xi) * (1 - 4 * xi)))
    return float(np.sqrt(var / k))


def _moment_interval(xi: float, boots: np.ndarray, k: int, level: float
                     ) -> tuple[float, float]:
    """The union of the percentile-bootstrap interval and the asymptotic (Wald) one.

    The bootstrap cannot draw values beyond the sample's largest, so it is too
    narrow for heavy tails (90 % coverage at xi = 1 on GPD samples, 95 %
    intervals); the asymptotic variance ignores the finite-k excess, so it is
    too narrow for light ones (88-92 % at xi <= 0.2): the union covers both
    (bench/tail_calibration.py measures it). More than half of the replicas
    failing leaves no bootstrap interval, and no interval.
    """
    (lo, hi), _ = percentile_interval(boots, level, max_failed_fraction=0.5)
    if not (np.isfinite(xi) and np.isfinite(lo)):
        return float("nan"), float("nan")
    from scipy.special import ndtri

    half = float(ndtri(0.5 + level / 2)) * _moment_sd(xi, k)
    return min(lo, xi - half), max(hi, xi + half)


def _verdict(lo: float, hi: float) -> str | None:
    if hi < BOUNDED_MAX_XI:
        return "bounded"
    if hi < LIGHT_MAX_XI:
        return "light"
    if lo > 0:
        return "heavy"
    return None


def _says(v: str | None) -> str:
    return {"bounded": f"bounded (upper end below {BOUNDED_MAX_XI})",
            "light": f"light (upper end below {LIGHT_MAX_XI})",
            "heavy": "heavy (lower end above 0)"}.get(
        v or "", f"nothing (it spans 0 to {LIGHT_MAX_XI}: light and heavy both fit)")


def classify_tail(n: int, ci_moment: tuple[float, float], ci_gpd: tuple[float, float]
                  ) -> tuple[str, str]:
    """Tail class from both estimators' intervals of ``xi``, and why.

    Each interval says *bounded* (upper end below :data:`BOUNDED_MAX_XI`),
    *light* (upper end below :data:`LIGHT_MAX_XI`), *heavy* (lower end above
    0) or nothing. The class is what both say (a *bounded* and a *light*
    give *light*: both put ``xi`` below the light margin); otherwise, and
    below :data:`MIN_RUNS_FOR_TAIL` runs, ``undecided`` with the reason.

    Parameters
    ----------
    n : int
        Number of runs.
    ci_moment, ci_gpd : tuple of float
        The moment estimator's and the GPD fit's intervals.

    Returns
    -------
    tuple of str
        ``(class, reason)``.

    Examples
    --------
    >>> classify_tail(200, (0.3, 0.9), (0.2, 1.1))[0]
    'heavy'
    >>> cls, reason = classify_tail(200, (-0.5, 0.05), (-0.4, 0.3))
    >>> cls, reason.split(":")[0]
    ('undecided', 'the estimators disagree')
    >>> classify_tail(20, (0.5, 2.0), (0.4, 1.5))[0]
    'undecided'
    """
    if n < MIN_RUNS_FOR_TAIL:
        return "undecided", (f"{n} runs: a tail class needs at least {MIN_RUNS_FOR_TAIL} "
                             f"(the tail then holds {tail_size(MIN_RUNS_FOR_TAIL)} runs)")
    (ml, mh), (gl, gh) = ci_moment, ci_gpd
    if not all(np.isfinite(v) or v == np.inf for v in (ml, mh, gl, gh)):
        return "undecided", "the tail index could not be estimated (tied or too few values)"
    vm, vg = _verdict(ml, mh), _verdict(gl, gh)
    both = (f"moment [{ml:.2f}, {mh:.2f}], GPD [{gl:.2f}, {gh:.2f}]")
    if vm == vg and vm is not None:
        return vm, f"both estimators say {_says(vm)}: {both}"
    if {vm, vg} == {"light", "bounded"}:
        return "light", (f"both put xi below {LIGHT_MAX_XI} (only one below "
                         f"{BOUNDED_MAX_XI}): {both}")
    if vm is None and vg is None:
        return "undecided", (f"neither interval decides (each spans 0 to {LIGHT_MAX_XI}): "
                             f"{both}")
    return "undecided", (f"the estimators disagree: moment [{ml:.2f}, {mh:.2f}] says "
                         f"{_says(vm)}; GPD [{gl:.2f}, {gh:.2f}] says {_says(vg)}")


@dataclass(frozen=True)
class TailFit:
    """The upper tail of one sample: both estimators, their intervals, the class.

    ``xi_moment`` with its bootstrap interval ``xi_moment_ci``; ``xi_gpd``
    (generalised Pareto maximum likelihood) with its profile-likelihood
    interval ``xi_gpd_ci``; ``tail_size`` values above ``threshold``.
    ``boots`` holds the moment estimator's bootstrap replicas (for trends).
    """

    n: int
    tail_size: int
    threshold: float
    xi_moment: float
    xi_moment_ci: tuple[float, float]
    xi_gpd: float
    xi_gpd_ci: tuple[float, float]
    tail_class: str
    reason: str
    level: float
    boots: np.ndarray = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (without the bootstrap replicas)."""
        return {k: getattr(self, k) for k in ("n", "tail_size", "threshold", "xi_moment",
                                               "xi_moment_ci", "xi_gpd", "xi_gpd_ci",
                                               "tail_class", "reason", "level")}


def fit_tails(samples: np.ndarray, *, level: float = 0.95, n_boot: int = 200,
              random_state: RandomStateLike = 0) -> list[TailFit]:
    """:func:`fit_tail` for many samples of one size at once (the GPD fits are batched).

    Parameters
    ----------
    samples : ndarray, shape (n_samples, n)
        One sample per row (finite, ``n >= 6``).
    level, n_boot, random_state
        As in :func:`fit_tail`; one generator serves every row in turn.

    Returns
    -------
    list of TailFit
        One per row, the same as :func:`fit_tail` of that row given the
        generator's state at its turn.

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> fits = fit_tails(rng.normal(size=(3, 500)), n_boot=50)
    >>> [f.tail_size for f in fits]
    [67, 67, 67]
    """
    xs = np.asarray(samples, dtype=float)
    if xs.ndim != 2 or xs.shape[1] < 6 or not np.all(np.isfinite(xs)):
        raise DataValidationError(f"samples must be a 2-D array of finite values with at least "
                                  f"6 per row; got shape {xs.shape}", column="samples")
    if not 0 < level < 1:
        raise DataValidationError(f"level must lie in (0, 1), got {level!r}", column="level")
    if isinstance(n_boot, bool) or int(n_boot) != n_boot or n_boot < 20:
        raise DataValidationError(f"n_boot must be an integer >= 20 (bootstrap replicas), got "
                                  f"{n_boot!r}", column="n_boot")
    rng = check_random_state(random_state)
    xs = np.sort(xs, axis=1)
    n = xs.shape[1]
    k = min(tail_size(n), n - 1)
    xi_m = _moment_rows(xs, k)
    boots = [_moment_boots(row, k, int(n_boot), rng) for row in xs]
    ci_m = [_moment_interval(float(a), b, k, level) for a, b in zip(
        xi_m, boots, strict=True)]
    exc = xs[:, -k:] - xs[:, -k - 1:-k]
    xi_g = np.full(xs.shape[0], np.nan)
    ci_g = np.full((xs.shape[0], 2), np.nan)
    ok = np.ptp(exc, axis=1) > 0
    if ok.any():
        g = fit_gpd(exc[ok], level=level)
        xi_g[ok], ci_g[ok] = g.shape, g.shape_ci
    out = []
    for i in range(xs.shape[0]):
        cig = (float(ci_g[i, 0]), float(ci_g[i, 1]))
        cls, reason = classify_tail(n, ci_m[i], cig)
        out.append(TailFit(n=n, tail_size=k, threshold=float(xs[i, -k - 1]),
                           xi_moment=float(xi_m[i]), xi_moment_ci=ci_m[i],
                           xi_gpd=float(xi_g[i]), xi_gpd_ci=cig, tail_class=cls,
                           reason=reason, level=level, boots=boots[i]))
    return out


def fit_tail(x: np.ndarray, *, level: float = 0.95, n_boot: int = 200,
             random_state: RandomStateLike = 0) -> TailFit:
    """The upper tail of a sample: moment and GPD estimates of ``xi``, intervals, class.

    Negate the sample for its lower tail.

    Parameters
    ----------
    x : ndarray
        One value per run (finite, at least 6).
    level : float, default=0.95
        Coverage of both intervals.
    n_boot : int, default=200
        Bootstrap replicas of the moment estimator (at least 20).
    random_state : int or numpy.random.Generator, default=0
        Seed or generator of the bootstrap.

    Returns
    -------
    TailFit
        Estimates, intervals, the class (:func:`classify_tail`) and its reason.

    Raises
    ------
    DataValidationError
        Fewer than 6 or non-finite values, ``level`` outside (0, 1) or
        ``n_boot`` below 20.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> fit = fit_tail(rng.pareto(1.5, 1000) + 1)  # xi = 2/3
    >>> fit.tail_class, fit.tail_size
    ('heavy', 95)
    """
    return fit_tails(_sample(x)[None, :], level=level, n_boot=n_boot,
                     random_state=random_state)[0]


def tail_index(x: np.ndarray, *, method: str = "moment", n_boot: int = 200,
               level: float = 0.95, random_state: RandomStateLike = 0
               ) -> tuple[float, tuple[float, float]]:
    """``xi`` of the upper tail with its interval, by one estimator.

    Parameters
    ----------
    x : ndarray
        The sample (negate it for the lower tail).
    method : {"moment", "gpd"}, default="moment"
        Estimator: the moment estimator with a bootstrap interval, or the
        GPD fit with its profile-likelihood interval.
    n_boot : int, default=200
        Bootstrap replicas (moment).
    level : float, default=0.95
        Coverage.
    random_state : int or numpy.random.Generator, default=0
        Seed or generator of the bootstrap.

    Returns
    -------
    tuple
        ``(xi, (lo, hi))``.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> xi, (lo, hi) = tail_index(rng.pareto(3.0, 1000) + 1, method="gpd")  # xi = 1/3
    >>> bool(lo < 1 / 3 < hi)
    True
    """
    if method not in ("moment", "gpd"):
        raise DataValidationError(f"method must be 'moment' or 'gpd', got {method!r}",
                                  column="method")
    fit = fit_tail(x, level=level, n_boot=n_boot, random_state=random_state)
    if method == "moment":
        return fit.xi_moment, fit.xi_moment_ci
    return fit.xi_gpd, fit.xi_gpd_ci


def tail_ratio(x: np.ndarray) -> float:
    """``(q99 - q50) / (q75 - q50)``: location- and scale-free (normal 3.45, uniform 1.96,
    logistic 4.18, Student-t(3) 5.94).

    Examples
    --------
    >>> round(tail_ratio(np.random.default_rng(0).normal(size=200_000)), 2)
    3.45
    """
    q50, q75, q99 = np.percentile(np.asarray(x, dtype=float), [50, 75, 99])
    return float((q99 - q50) / (q75 - q50)) if q75 > q50 else float("nan")
