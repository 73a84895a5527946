"""Expected best of ``k`` seeds: unbiased, plug-in, and extreme-value extrapolation.

For ``B`` runs sorted ascending, ``E[max of k]`` is estimated by the
U-statistic ``sum_i C(i-1, k-1) / C(B, k) x_(i)`` (Tang et al. 2020;
unbiased for ``k <= B``), the Dodge et al. (2019) plug-in
``sum_i x_(i) [(i/B)^k - ((i-1)/B)^k]`` (sampling with replacement from the
empirical distribution; biased low, kept for comparison), and beyond ``B`` by
a generalised Pareto tail above a threshold (shared science notes, Part II
section 1.4), fitted on the analysis scale (e.g. logit of an accuracy) and
mapped back to the metric's own scale.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import special

from scalelaw.exceptions import DataValidationError
from scalelaw.lottery._tails import tail_size
from scalelaw.lottery._transforms import inverse_transform, transform_metric
from scalelaw.stats import fit_gpd

__all__ = ["best_of_k", "expected_max_normal", "expected_max_pareto", "extrapolate_best_of_k",
           "seeds_needed"]


def _sorted(x: np.ndarray, higher_is_better: bool) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or x.size == 0 or not np.all(np.isfinite(x)):
        raise DataValidationError("best-of-k needs a non-empty 1-D array of finite values",
                                  column="x")
    return np.sort(x if higher_is_better else -x)


def _ks(ks: int | list[int] | np.ndarray) -> np.ndarray:
    ks_arr = np.atleast_1d(np.asarray(ks))
    if ks_arr.size == 0 or not np.all(np.mod(ks_arr, 1) == 0) or np.any(ks_arr < 1):
        raise DataValidationError(f"k must be whole numbers of runs >= 1, got {ks!r}",
                                  column="k")
    return ks_arr.astype(int)


def best_of_k(x: np.ndarray, ks: int | list[int] | np.ndarray, *, method: str = "unbiased",
              higher_is_better: bool = True) -> np.ndarray:
    """Expected best of ``k`` runs drawn from the same distribution as ``x``.

    Parameters
    ----------
    x : array_like
        One outcome per run.
    ks : int or sequence of int
        Numbers of runs; at most ``len(x)`` for ``method="unbiased"``.
    method : {"unbiased", "plugin"}, default="unbiased"
        ``unbiased``: Tang et al.'s U-statistic; ``plugin``: Dodge et al.'s
        expected-validation-performance estimator (biased low as ``k``
        approaches ``len(x)``; defined for any ``k``).
    higher_is_better : bool, default=True
        ``False`` for losses: the best is then the smallest value.

    Returns
    -------
    ndarray
        One expected best per ``k`` (in the metric's own sign).

    Examples
    --------
    >>> best_of_k([1.0, 2.0, 3.0, 4.0], [1, 2, 4]).round(4).tolist()
    [2.5, 3.3333, 4.0]
    >>> best_of_k([1.0, 2.0, 3.0, 4.0], 2, higher_is_better=False).round(4).tolist()
    [1.6667]
    """
    xs = _sorted(x, higher_is_better)
    b = xs.size
    ks_arr = _ks(ks)
    i = np.arange(1, b + 1)
    out = []
    for k in ks_arr:
        if method == "unbiased":
            if k > b:
                raise DataValidationError(
                    f"the unbiased estimator needs k <= number of runs ({b}), got k = {k}; "
                    "use extrapolate_best_of_k beyond", column="k")
            logw = (special.gammaln(i) - special.gammaln(k) - special.gammaln(i - k + 1)
                    - (special.gammaln(b + 1) - special.gammaln(k + 1)
                       - special.gammaln(b - k + 1)))
            w = np.where(i >= k, np.exp(np.where(i >= k, logw, 0.0)), 0.0)
        elif method == "plugin":
            w = (i / b) ** k - ((i - 1) / b) ** k
        else:
            raise DataValidationError(f"method must be 'unbiased' or 'plugin', got "
                                      f"{method!r}", column="method")
        out.append(float(np.dot(w, xs)))
    res = np.array(out)
    return res if higher_is_better else -res


def expected_max_normal(k: int) -> float:
    """``E[max of k]`` independent standard normals, by quadrature (table E1 of the notes).

    Examples
    --------
    >>> round(expected_max_normal(10), 4)
    1.5388
    """
    from scipy import integrate  # imported here, as scipy.stats below: slow to import

    def density(z: float) -> float:  # z times the density of the max of k normals
        return z * k * np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi) * special.ndtr(z) ** (k - 1)

    val, _ = integrate.quad(density, -12, 12, limit=200, epsabs=1e-12)
    return float(val)


def expected_max_pareto(alpha: float, k: int) -> float:
    """``E[max of k]`` classical Pareto(``alpha``, ``x_m = 1``) draws:
    ``Gamma(k+1) Gamma(1-1/alpha) / Gamma(k+1-1/alpha)``; infinite for ``alpha <= 1``.

    Examples
    --------
    >>> round(expected_max_pareto(3.0, 10), 4)
    2.9498
    """
    if alpha <= 1:
        return float("inf")
    return float(np.exp(special.gammaln(k + 1) + special.gammaln(1 - 1 / alpha)
                        - special.gammaln(k + 1 - 1 / alpha)))


@functools.lru_cache(maxsize=1)
def _legendre() -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes on (-1, 1) for the best-of-k integral (computed once)."""
    return np.polynomial.legendre.leggauss(400)


def _tail_quantile(xs: np.ndarray, k: int):
    """Quantile function of the sorted sample ``xs``: empirical up to the ``(k + 1)``-th
    largest value, a generalised Pareto fit to the ``k`` exceedances above it."""
    from scipy import stats

    u = float(xs[-k - 1])
    fit = fit_gpd(xs[-k:] - u, level=None)
    shape, scale = float(fit.shape[0]), float(fit.scale[0])
    zeta = k / xs.size

    def quantile(q: np.ndarray) -> np.ndarray:  # q = 1 - v, the upper-tail probability
        q = np.asarray(q, dtype=float)
        body = np.quantile(xs, np.minimum(1 - q, 1 - zeta))
        tail = u + stats.genpareto.isf(np.clip(q / zeta, 1e-300, 1.0), shape, 0.0, scale)
        return np.where(q < zeta, tail, body)

    return quantile, shape


def extrapolate_best_of_k(x: np.ndarray, ks: int | list[int] | np.ndarray, *,
                          higher_is_better: bool = True, transform: str = "none",
                          k_tail: int | None = None) -> np.ndarray:
    """Model-based ``E[max of k]`` for any ``k``: the empirical distribution below a
    threshold, a generalised Pareto tail above it (:func:`scalelaw.stats.fit_gpd`).

    ``E[max_k] = E[F^-1(U^(1/k))]`` is integrated numerically. The tail is
    fitted on the analysis scale (``transform``: the logit of an accuracy,
    the log of a loss) and the integral is taken on the metric's own scale;
    it is infinite when the fitted tail index is at least 1 and the
    transform is ``none`` (or ``log`` with any positive index).

    Parameters
    ----------
    x : array_like
        One outcome per run, on the metric's own scale (at least 25).
    ks : int or sequence of int
        Numbers of runs (any size).
    higher_is_better : bool, default=True
        ``False`` for losses.
    transform : {"none", "logit", "log"}, default="none"
        Scale on which the tail is fitted.
    k_tail : int, optional
        Runs in the fitted tail (default :func:`~scalelaw.lottery.tail_size`).

    Returns
    -------
    ndarray
        One expected best per ``k``, on the metric's own scale.

    Examples
    --------
    >>> x = np.random.default_rng(0).normal(size=400)
    >>> bool(abs(extrapolate_best_of_k(x, 1000)[0] - 3.24) < 0.5)
    True
    """
    raw = np.asarray(x, dtype=float)
    z = transform_metric(raw, transform)
    xs = _sorted(z, higher_is_better)
    if xs.size < 25:
        raise DataValidationError(f"extrapolation fits a tail: it needs at least 25 runs, got "
                                  f"{xs.size}", column="x")
    k = int(k_tail) if k_tail is not None else tail_size(xs.size)
    if not 5 <= k < xs.size:
        raise DataValidationError(f"k_tail must lie in [5, {xs.size - 1}], got {k}",
                                  column="k_tail")
    quantile, shape = _tail_quantile(xs, k)
    sign = 1.0 if higher_is_better else -1.0

    def back(v: np.ndarray) -> np.ndarray:  # oriented analysis scale -> metric scale
        return inverse_transform(sign * v, transform)

    nodes, weights = _legendre()
    out = []
    for k_runs in _ks(ks):
        # the mean of the maximum is infinite: a GPD tail with xi >= 1 on the metric's
        # own scale, or any heavy tail of log(metric) when the best is the largest
        if (shape >= 1 and transform == "none") or (
                shape > 0 and transform == "log" and higher_is_better):
            out.append(sign * float("inf"))
            continue
        # E = int_0^1 F^-1(w^(1/k)) dw with w = 1 - t^3 (nodes crowd where the maximum
        # lives); the upper-tail probability 1 - w^(1/k) is formed without cancellation
        t = 0.5 * (nodes + 1)
        q = -np.expm1(np.log1p(-t**3) / k_runs)
        with np.errstate(over="ignore"):
            out.append(float(np.sum(weights * 1.5 * t**2 * back(quantile(q)))))
    return np.array(out)


def seeds_needed(x: np.ndarray, within: float, *, reference_k: int | None = None,
                 higher_is_better: bool = True) -> int:
    """Fewest runs whose expected best is within ``within`` of the expected best of
    ``reference_k`` runs (default: all of them).

    Uses the unbiased estimator up to ``len(x)`` and the extreme-value
    extrapolation beyond (``reference_k > len(x)`` needs at least 25 runs).

    Parameters
    ----------
    x : array_like
        One outcome per run.
    within : float
        Tolerance, in the metric's units (positive).
    reference_k : int, optional
        The budget to compare with; default ``len(x)``.
    higher_is_better : bool, default=True
        ``False`` for losses.

    Returns
    -------
    int
        The number of runs (at most ``reference_k``).

    Examples
    --------
    >>> seeds_needed(np.arange(20.0), within=3.0)
    5
    """
    if not within > 0:
        raise DataValidationError(f"within must be positive, got {within}", column="within")
    x = np.asarray(x, dtype=float)
    ref_k = x.size if reference_k is None else int(reference_k)
    if ref_k < 1:
        raise DataValidationError(f"reference_k must be at least 1, got {ref_k}",
                                  column="reference_k")
    sign = 1.0 if higher_is_better else -1.0
    ks = np.arange(1, ref_k + 1)
    small, big = ks[ks <= x.size], ks[ks > x.size]
    vals = sign * best_of_k(x, small, higher_is_better=higher_is_better)
    if big.size:
        vals = np.concatenate([vals, sign * extrapolate_best_of_k(
            x, big, higher_is_better=higher_is_better)])
    return int(ks[np.flatnonzero(vals >= vals[-1] - within)[0]])
