"""Where the variance across seeds peaks in model size, and whether it falls after the peak.

The variance of the predictions is often unimodal in model size: it rises to
a peak near the interpolation threshold and falls after it (Adlam &
Pennington 2020; Lin & Dobriban 2021; Yang et al. 2020). From crossed
designs at three or more sizes, :func:`variance_peak` estimates the size of
the peak with an interval over the crossed draws, says whether the variance
falls after it, and which ANOVA component carries the peak.

The interval comes from a bootstrap over the crossed draws: every factor's
levels (data draws, init seeds, noise seeds) are resampled with replacement,
the same resampled seeds at every size (the sizes share their seeds, so
differences between sizes are measured on matched draws), and the unbiased
components are recomputed. Test points are held fixed: the interval is over
the draws, for the test set at hand. The replicates need only the Gram matrix
of the design cells over test points, so a thousand replicates cost about as
much as one decomposition.

Whether the variance rises to the peak and falls after it is decided by one
bootstrap test per end of the size range ("this end is the peak"), which
accounts for the peak being chosen in the sample; the verdict's rates of
correct, wrong and undecided calls on curves with known shapes are measured
in ``bench/variance_closed_forms.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from itertools import combinations
from typing import Any

import numpy as np

from scalelaw._validation import RandomStateLike, check_int, check_level, check_random_state
from scalelaw.exceptions import DataValidationError
from scalelaw.stats import percentile_interval

__all__ = ["MIN_PEAK_SIZES", "VariancePeak", "variance_peak"]

#: Sizes needed to place a peak between two ends.
MIN_PEAK_SIZES = 3
#: A size more than this many standard deviations below the tested end is no contender
#: for the peak in the end tests (see ``_end_p_values``).
CLEARLY_BELOW = 2.0
#: Verdicts of :func:`variance_peak`.
VERDICTS = ("unimodal", "increasing", "decreasing", "undecided")


@dataclass(frozen=True)
class VariancePeak:
    """The peak of the variance across model sizes.

    Attributes
    ----------
    size : float or None
        The size with the largest estimated variance.
    size_ci : list of float
        Percentile interval of the peak's size over bootstrap replicates (sizes
        of the grid).
    falls_after : bool or None
        The variance at the largest size is resolved below the peak
        (``p_fall`` below ``(1 - level) / 2``); ``None`` with too few sizes.
    verdict : str
        ``"unimodal"`` (both ends resolved below an interior peak: it rises
        to the peak and falls after it), ``"increasing"`` (the largest size is
        the peak and the smallest is resolved below it), ``"decreasing"`` (the
        mirror image), else ``"undecided"``.
    component : str or None
        The ANOVA component that carries most of the peak's excess over the
        lower end of the curve.
    reason : str
        Why, in words, with the numbers.
    sizes : list of float
        The sizes, ascending.
    total : list of float
        The estimated variance (sum of the unbiased components) per size.
    peak_probability : list of float
        Share of bootstrap replicates whose peak is at each size.
    p_rise, p_fall : float or None
        Bootstrap p-values of "the smallest (largest) size is the peak": the
        observed ``max log V - log V(end)`` against its distribution when the
        sizes that could be the peak have the same variance (the least
        favourable case; choosing the peak in the sample is accounted for).
        An end is resolved below the peak when its p-value is below
        ``(1 - level) / 2``.
    fall : float or None
        Relative fall from the peak to the largest size, ``1 - V(last) / V(peak)``.
    fall_ci : list of float
        Its bootstrap interval (the peak's size held at ``size``).
    component_shares : dict
        Each component's share of the peak's excess over the reference end
        (``reference_size``); they sum to 1.
    reference_size : float or None
        The end of the curve (smallest or largest size, not the peak) with the
        lower variance.
    n_boot, level : int, float
        Bootstrap replicates and interval level.
    """

    size: float | None
    size_ci: list[float]
    falls_after: bool | None
    verdict: str
    component: str | None
    reason: str
    sizes: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)
    peak_probability: list[float] = field(default_factory=list)
    p_rise: float | None = None
    p_fall: float | None = None
    fall: float | None = None
    fall_ci: list[float] = field(default_factory=list)
    component_shares: dict[str, float] = field(default_factory=dict)
    reference_size: float | None = None
    n_boot: int = 0
    level: float = 0.95

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form: ``size, size_ci, falls_after, verdict, component, reason`` first."""
        return asdict(self)


def _kron_projections(levels: tuple[int, ...]) -> dict[tuple[int, ...], np.ndarray]:
    """Per ANOVA term, the projection onto its effects over the flattened cells."""
    k = len(levels)
    avg = [np.full((n, n), 1.0 / n) for n in levels]
    cen = [np.eye(n) - a for n, a in zip(levels, avg, strict=True)]
    out = {}
    for r in range(1, k + 1):
        for term in combinations(range(k), r):
            mat = np.ones((1, 1))
            for i in range(k):
                mat = np.kron(mat, cen[i] if i in term else avg[i])
            out[term] = mat
    return out


def _components_from_gram(gram: np.ndarray, levels: tuple[int, ...],
                          proj: dict[tuple[int, ...], np.ndarray]) -> dict[tuple[int, ...],
                                                                           np.ndarray]:
    """Unbiased (expected-mean-squares) components from Gram matrices of the cells.

    ``gram`` has shape ``(..., n_cells, n_cells)`` (the mean over test points
    of products of two cells' predictions); the result per term has shape ``...``.
    """
    k = len(levels)
    ms = {}
    for term, p in proj.items():
        df = int(np.prod([levels[i] - 1 for i in term]))
        ms[term] = np.einsum("...ij,ij->...", gram, p) / df
    comp = {}
    for term in ms:
        acc = sum((-1) ** (len(sup) - len(term)) * ms[sup] for sup in ms
                  if set(term) <= set(sup))
        outside = int(np.prod([levels[i] for i in range(k) if i not in term]))
        comp[term] = acc / outside
    return comp


def _check_cubes(cubes: Sequence[np.ndarray], sizes: Sequence[float]
                 ) -> tuple[list[np.ndarray], np.ndarray]:
    if len(cubes) != len(sizes):
        raise DataValidationError(f"one cube per size is expected: {len(cubes)} cubes for "
                                  f"{len(sizes)} sizes", column="sizes")
    arr = [np.asarray(c, dtype=float) for c in cubes]
    s = np.asarray(sizes, dtype=float)
    if not np.all(np.isfinite(s)) or np.any(np.diff(s) <= 0):
        raise DataValidationError(f"sizes must be finite and strictly increasing, got "
                                  f"{list(sizes)}", column="sizes")
    k = arr[0].ndim - 1 if arr else 0
    for i, c in enumerate(arr):
        if c.ndim - 1 != k or k not in (2, 3) or min(c.shape[:-1]) < 2:
            raise DataValidationError(
                f"size {sizes[i]}: a crossed design of 2 or 3 factors with >= 2 levels each "
                f"and a trailing test-point axis is expected (like the first size's), got "
                f"shape {c.shape}", column="sizes")
        if not np.all(np.isfinite(c)):
            raise DataValidationError(f"size {sizes[i]}: the predictions hold "
                                      f"{int((~np.isfinite(c)).sum())} non-finite values",
                                      column="prediction")
    return arr, s


def _boot_totals(arr: list[np.ndarray], n_boot: int, rng: np.random.Generator
                 ) -> tuple[list[dict[tuple[int, ...], np.ndarray]], list[tuple[int, ...]]]:
    """Per size, per term: the components in each bootstrap replicate (shape ``(n_boot,)``)."""
    shapes = [c.shape[:-1] for c in arr]
    joint = len(set(shapes)) == 1  # same levels at every size: resample the same seeds
    draws: dict[int, list[np.ndarray]] = {}
    out = []
    for j, c in enumerate(arr):
        levels = shapes[j]
        key = 0 if joint else j
        if key not in draws:
            draws[key] = [rng.integers(0, n, size=(n_boot, n)) for n in levels]
        flat = c.reshape(-1, c.shape[-1])
        gram = flat @ flat.T / c.shape[-1]
        idx = draws[key][0]
        for i, n in enumerate(levels[1:], start=1):  # flattened cell index, row-major
            idx = idx[:, :, None] * n + draws[key][i][:, None, :]
            idx = idx.reshape(n_boot, -1)
        proj = _kron_projections(levels)
        comps: dict[tuple[int, ...], list[np.ndarray]] = {t: [] for t in proj}
        for lo in range(0, n_boot, 64):  # chunks bound the memory
            sel = idx[lo:lo + 64]
            g = gram[sel[:, :, None], sel[:, None, :]]
            for t, v in _components_from_gram(g, levels, proj).items():
                comps[t].append(v)
        out.append({t: np.concatenate(v) for t, v in comps.items()})
    return out, shapes


def variance_peak(cubes: Sequence[np.ndarray], sizes: Sequence[float], *,
                  factors: Sequence[str] = ("data", "init", "noise"), n_boot: int = 1000,
                  level: float = 0.95, random_state: RandomStateLike = 0) -> VariancePeak:
    """Locate the peak of the seed variance across sizes; say whether it falls after it.

    Parameters
    ----------
    cubes : sequence of ndarray
        Per size, the crossed predictions ``(levels_1, ..., levels_k, n_points)``
        (``k`` = 2 or 3) that :func:`scalelaw.variance.crossed_components` takes.
        With the same levels at every size, the same seeds are assumed at every
        size and resampled together.
    sizes : sequence of float
        Model sizes, strictly increasing.
    factors : sequence of str, default=("data", "init", "noise")
        Names of the factor axes (for the components' names).
    n_boot : int, default=1000
        Bootstrap replicates over the crossed draws.
    level : float, default=0.95
        Interval level; the fall and the rise are resolved at ``(1 - level) / 2``.
    random_state : int, numpy.random.Generator or None, default=0
        Seed of the bootstrap.

    Returns
    -------
    VariancePeak
        ``verdict`` ``"unimodal"``, ``"increasing"``, ``"decreasing"`` or
        ``"undecided"`` with a ``reason``; ``"undecided"`` with fewer than three sizes.

    Raises
    ------
    DataValidationError
        Cubes and sizes that do not match, sizes not increasing, a design
        that is not crossed, or non-finite predictions.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> scale = [0.2, 1.0, 3.0, 1.0, 0.3]            # a variance bump at the middle size
    >>> cubes = [s**0.5 * (rng.normal(size=(6, 6, 50)) + rng.normal(size=(6, 1, 50)))
    ...          for s in scale]
    >>> peak = variance_peak(cubes, [10, 20, 40, 80, 160], factors=("data", "init"),
    ...                      n_boot=200)
    >>> peak.size, peak.verdict, peak.falls_after
    (40.0, 'unimodal', True)
    """
    n_boot = check_int(n_boot, "n_boot", minimum=20)
    level = check_level(level)
    rng = check_random_state(random_state)
    arr, s = _check_cubes(cubes, sizes)
    if len(arr) < MIN_PEAK_SIZES:
        return VariancePeak(None, [], None, "undecided", None,
                            f"{len(arr)} model size(s): a peak needs at least "
                            f"{MIN_PEAK_SIZES}", sizes=s.tolist(), n_boot=n_boot, level=level)
    k = arr[0].ndim - 1
    names = tuple(factors)[:k]
    if len(names) < k:
        raise DataValidationError(f"{k} factor axes need {k} names, got {list(factors)}",
                                  column="factors")
    point = []
    for c in arr:
        flat = c.reshape(-1, c.shape[-1])
        levels = c.shape[:-1]
        point.append(_components_from_gram(flat @ flat.T / c.shape[-1], levels,
                                           _kron_projections(levels)))
    terms = list(point[0])
    label = {t: ":".join(names[i] for i in t) for t in terms}
    total = np.array([sum(float(p[t]) for t in terms) for p in point])
    boot, _ = _boot_totals(arr, n_boot, rng)
    tot_b = np.stack([sum(b[t] for t in terms) for b in boot], axis=1)  # (n_boot, n_sizes)
    tot_b = tot_b[np.all(np.isfinite(tot_b), axis=1)]
    arg_b = np.argmax(tot_b, axis=1)
    prob = np.bincount(arg_b, minlength=len(s)) / len(arg_b)
    alpha = (1 - level) / 2
    lo_i, hi_i = (int(np.quantile(arg_b, q, method=m))
                  for q, m in ((alpha, "lower"), (1 - alpha, "higher")))
    i_peak = int(np.argmax(total))
    last, first = len(s) - 1, 0
    p_end = _end_p_values(total, tot_b)
    falls = bool(i_peak != last and p_end[last] < alpha)
    rises = bool(i_peak != first and p_end[first] < alpha)
    ends = [e for e in (first, last) if e != i_peak]
    ref = min(ends, key=lambda e: total[e])
    excess = {label[t]: float(point[i_peak][t] - point[ref][t]) for t in terms}
    height = total[i_peak] - total[ref]
    shares = {n: float(v / height) for n, v in excess.items()} if height > 0 else {}
    component = max(excess, key=lambda n: excess[n]) if height > 0 else None
    fall = fall_ci = None
    if i_peak != last:
        rel = 1 - tot_b[:, last] / tot_b[:, i_peak]
        fall = float(1 - total[last] / total[i_peak])
        fall_ci = list(percentile_interval(rel, level, max_failed_fraction=0.0,
                                           keep_infinite=True)[0])
    verdict, reason = _verdict(s, total, p_end, i_peak, falls, rises, alpha, fall, fall_ci)
    if component is not None:
        reason += (f"; {component} carries {shares[component]:.0%} of the peak's excess over "
                   f"size {s[ref]:g}")
    return VariancePeak(
        float(s[i_peak]), [float(s[lo_i]), float(s[hi_i])], falls, verdict, component, reason,
        sizes=s.tolist(), total=total.tolist(), peak_probability=prob.tolist(),
        p_rise=float(p_end[first]), p_fall=float(p_end[last]), fall=fall,
        fall_ci=fall_ci or [], component_shares=shares, reference_size=float(s[ref]),
        n_boot=len(arg_b), level=level)


def _end_p_values(total: np.ndarray, tot_b: np.ndarray) -> np.ndarray:
    """Per size ``e``, the bootstrap p-value of "``e`` is the peak" (``V(e) >= V(s)`` for all s).

    The statistic is ``T = max_s L(s) - L(e)`` (``L`` = log variance when every
    estimate is positive: relative errors). Its null distribution is built
    from the replicates' deviations ``dev = L* - L_hat`` as
    ``max_s (g(s) + dev(s) - dev(e))``, with each gap ``g(s) = L(s) - L(e)``
    set to 0 (the boundary of the hypothesis, all sizes equal: the least
    favourable case) unless the size is clearly below ``e``, more than
    :data:`CLEARLY_BELOW` standard deviations of ``dev(s) - dev(e)``, when its
    estimated gap is kept (Hansen's 2005 test of superior predictive ability:
    sizes far below cannot be the peak and would only inflate the maximum).
    Taking the maximum in the replicates as in the data accounts for choosing
    the peak in-sample.
    """
    if np.all(total > 0) and np.all(tot_b > 0):
        est, rep = np.log(total), np.log(tot_b)
    else:
        est, rep = total, tot_b
    dev = rep - est                                  # (n_boot, n_sizes)
    out = np.empty(len(est))
    for e in range(len(est)):
        diff = dev - dev[:, [e]]
        gap = est - est[e]
        sd = diff.std(axis=0)
        mean = np.where(gap < -CLEARLY_BELOW * sd, gap, 0.0)
        null = (mean + diff).max(axis=1)
        out[e] = float((null >= gap.max()).mean())
    return out


def _verdict(s: np.ndarray, total: np.ndarray, p_end: np.ndarray, i_peak: int, falls: bool,
             rises: bool, alpha: float, fall: float | None, fall_ci: list[float] | None
             ) -> tuple[str, str]:
    first, last = 0, len(s) - 1
    at = f"the variance peaks at size {s[i_peak]:g} ({total[i_peak]:.4g})"
    p_first = f"the smallest size {s[first]:g} is the peak: p = {p_end[first]:.3f}"
    p_last = f"the largest size {s[last]:g} is the peak: p = {p_end[last]:.3f}"
    if falls and rises:
        return "unimodal", (f"{at}, above both ends ({p_first}; {p_last}; both below "
                            f"{alpha:.3g}); it falls by {fall:.0%} [{fall_ci[0]:.0%}, "
                            f"{fall_ci[1]:.0%}] to size {s[last]:g}")
    if i_peak == last:
        if rises:
            return "increasing", f"{at}, the largest size: no fall after it ({p_first})"
        return "undecided", (f"{at}, the largest size, but the rise to it is not resolved "
                             f"({p_first}, not below {alpha:.3g})")
    if i_peak == first:
        if falls:
            return "decreasing", f"{at}, the smallest size: it falls from the start ({p_last})"
        return "undecided", (f"{at}, the smallest size, but the fall from it is not resolved "
                             f"({p_last}, not below {alpha:.3g})")
    missing = [m for m, ok in ((p_first, rises), (p_last, falls)) if not ok]
    return "undecided", (f"{at}, inside the range, but not resolved from "
                         f"{'both ends' if len(missing) == 2 else 'an end'} ("
                         + "; ".join(missing) + f", not below {alpha:.3g})")
