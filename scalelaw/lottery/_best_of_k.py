"""Expected best of ``k`` seeds: unbiased, plug-in, and extreme-value extrapolation.

For ``B`` runs sorted ascending, ``E[max of k]`` is estimated by the
U-statistic ``sum_i C(i-1, k-1) / C(B, k) x_(i)`` (Tang et al. 2020;
unbiased for ``k <= B``), the Dodge et al. (2019) plug-in
``sum_i x_(i) [(i/B)^k - ((i-1)/B)^k]`` (sampling with replacement from the
empirical distribution; biased low, kept for comparison), and beyond ``B`` by
a generalised Pareto tail above a threshold (shared science notes, Part II
section 1.4).
"""

from __future__ import annotations

import numpy as np
from scipy import special

__all__ = ["best_of_k", "expected_max_normal", "expected_max_pareto", "extrapolate_best_of_k",
           "seeds_needed"]


def _sorted(x: np.ndarray, higher_is_better: bool) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or x.size == 0 or not np.all(np.isfinite(x)):
        raise ValueError("best-of-k needs a non-empty 1-D array of finite values")
    return np.sort(x if higher_is_better else -x)


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
    ks_arr = np.atleast_1d(np.asarray(ks, dtype=int))
    if np.any(ks_arr < 1):
        raise ValueError(f"k must be at least 1, got {ks_arr.min()}")
    i = np.arange(1, b + 1)
    out = []
    for k in ks_arr:
        if method == "unbiased":
            if k > b:
                raise ValueError(f"the unbiased estimator needs k <= number of runs ({b}), "
                                 f"got k = {k}; use extrapolate_best_of_k beyond")
            logw = (special.gammaln(i) - special.gammaln(k) - special.gammaln(i - k + 1)
                    - (special.gammaln(b + 1) - special.gammaln(k + 1)
                       - special.gammaln(b - k + 1)))
            w = np.where(i >= k, np.exp(np.where(i >= k, logw, 0.0)), 0.0)
        elif method == "plugin":
            w = (i / b) ** k - ((i - 1) / b) ** k
        else:
            raise ValueError(f"method must be 'unbiased' or 'plugin', got {method!r}")
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


def _gpd_quantile(xs: np.ndarray, fraction: float) -> tuple:
    n_tail = max(round(fraction * xs.size), 5)
    u = float(xs[-n_tail - 1])
    from scipy import stats

    shape, _, scale = stats.genpareto.fit(xs[-n_tail:] - u, floc=0.0)
    zeta = n_tail / xs.size

    def quantile(q: np.ndarray) -> np.ndarray:  # q = 1 - v, the upper-tail probability
        q = np.asarray(q, dtype=float)
        body = np.quantile(xs, np.minimum(1 - q, 1 - zeta))
        tail_p = np.clip(q / zeta, 1e-300, 1.0)
        if abs(shape) < 1e-9:
            tail = u - scale * np.log(tail_p)
        else:
            tail = u + scale / shape * np.expm1(-shape * np.log(tail_p))
        return np.where(q < zeta, tail, body)

    return quantile, float(shape), float(scale), u


def extrapolate_best_of_k(x: np.ndarray, ks: int | list[int] | np.ndarray, *,
                          higher_is_better: bool = True, fraction: float = 0.2) -> np.ndarray:
    """Model-based ``E[max of k]`` for any ``k``: the empirical distribution below a
    threshold, a generalised Pareto tail above it (fitted to the top ``fraction``).

    ``E[max_k] = E[F^-1(U^(1/k))]`` is integrated numerically; it is infinite
    when the fitted tail index is at least 1.

    Parameters
    ----------
    x : array_like
        One outcome per run (at least 25).
    ks : int or sequence of int
        Numbers of runs (any size).
    higher_is_better : bool, default=True
        ``False`` for losses.
    fraction : float, default=0.2
        Share of the runs in the fitted tail.

    Returns
    -------
    ndarray
        One expected best per ``k``.

    Examples
    --------
    >>> x = np.random.default_rng(0).normal(size=400)
    >>> bool(abs(extrapolate_best_of_k(x, 1000)[0] - 3.24) < 0.5)
    True
    """
    xs = _sorted(x, higher_is_better)
    if xs.size < 25:
        raise ValueError(f"extrapolation fits a tail to the top {fraction:.0%}: it needs at "
                         f"least 25 runs, got {xs.size}")
    quantile, shape, _, _ = _gpd_quantile(xs, fraction)
    # Gauss-Legendre on w in (0, 1), dense near 1 where the maximum lives
    nodes, weights = np.polynomial.legendre.leggauss(400)
    out = []
    for k in np.atleast_1d(np.asarray(ks, dtype=int)):
        if shape >= 1:
            out.append(float("inf"))
            continue
        # E = int_0^1 F^-1(w^(1/k)) dw with w = 1 - t^3 (nodes crowd where the maximum
        # lives); the upper-tail probability 1 - w^(1/k) is formed without cancellation
        t = 0.5 * (nodes + 1)
        q = -np.expm1(np.log1p(-t**3) / k)
        out.append(float(np.sum(weights * 1.5 * t**2 * quantile(q))))
    res = np.array(out)
    return res if higher_is_better else -res


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
    if within <= 0:
        raise ValueError(f"within must be positive, got {within}")
    x = np.asarray(x, dtype=float)
    ref_k = x.size if reference_k is None else int(reference_k)
    if ref_k < 1:
        raise ValueError(f"reference_k must be at least 1, got {ref_k}")
    sign = 1.0 if higher_is_better else -1.0
    ks = np.arange(1, ref_k + 1)
    small, big = ks[ks <= x.size], ks[ks > x.size]
    vals = sign * best_of_k(x, small, higher_is_better=higher_is_better)
    if big.size:
        vals = np.concatenate([vals, sign * extrapolate_best_of_k(
            x, big, higher_is_better=higher_is_better)])
    return int(ks[np.flatnonzero(vals >= vals[-1] - within)[0]])
