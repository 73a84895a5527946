"""Random-effects (ANOVA) estimators of variance components for seed designs.

Fully crossed designs (every data draw trained with every init seed, and
with every label-noise seed) give the symmetric (Hoeffding-Sobol)
decomposition of the prediction variance with the standard expected-mean-
squares estimators, unbiased for any number of levels (shared science notes,
Part II section 3.2 (a), (b)); nested designs (each data draw with its own
seeds) give only the sequential split, with the finite-seed correction of
3.2 (c). Inputs hold one prediction per design cell and test point; the
components are computed per point and averaged over points.

Numerics: predictions are divided by a power of two near their largest
magnitude before the mean squares are formed and the components multiplied
back, so values near 1e300 decompose as well as values near 1 (a result
beyond the floating-point range is refused). Components within the rounding
floor ``1e4 eps^2 mean(y^2)`` of zero (``eps`` the float64 machine epsilon,
about 5e-28 of the mean square) are set to exactly 0: constant predictions
give a total of 0, not rounding noise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import combinations
from typing import Any

import numpy as np

from scalelaw.exceptions import DataValidationError

__all__ = ["VarianceComponents", "crossed_components", "nested_components"]


@dataclass(frozen=True)
class VarianceComponents:
    """Variance components averaged over test points.

    ``components`` are the unbiased estimates (they can be negative with few
    levels); ``clipped`` sets negative ones to 0 (biased, for display and for
    shares, which therefore lie in [0, 1]).
    ``bias2`` is the squared bias corrected for the finite design (``None``
    without a target). ``levels`` maps each factor to its number of levels.
    """

    factors: tuple[str, ...]
    levels: dict[str, int]
    components: dict[str, float]
    clipped: dict[str, float]
    total: float
    bias2: float | None
    design: str
    per_point: dict[str, np.ndarray] | None = None

    def without(self, factor: str) -> float:
        """The variance left after averaging over infinitely many levels of ``factor``
        (ensembling over init seeds: ``without("init")``), unbiased.

        Examples
        --------
        >>> y = np.random.default_rng(0).normal(size=(4, 4, 10))
        >>> vc = crossed_components(y, factors=("data", "init"))
        >>> bool(abs(vc.without("init") - vc.components["data"]) < 1e-12)
        True
        """
        if factor not in self.factors:
            raise DataValidationError(f"{factor!r} is not a factor of this design "
                                      f"{self.factors}", column=factor)
        return float(sum(v for k, v in self.components.items()
                         if factor not in k.split(":")))

    def interaction_share(self) -> float:
        """Share of the variance carried by interaction terms (names with ``:``), from the
        clipped components: in [0, 1] (an unbiased estimate can be negative, and a
        share of unbiased terms could leave [0, 1]); NaN when every clipped
        component is 0 (no variance to share).

        Examples
        --------
        >>> y = np.ones((3, 3, 4))  # the same prediction in every run
        >>> vc = crossed_components(y, factors=("data", "init"))
        >>> vc.total, vc.interaction_share()
        (0.0, nan)
        """
        denom = sum(self.clipped.values())
        inter = sum(v for k, v in self.clipped.items() if ":" in k)
        return float(min(1.0, inter / denom)) if denom > 0 else float("nan")

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (without per-point arrays), with ``interaction_share``."""
        d = asdict(self)
        d.pop("per_point")
        d["factors"] = list(self.factors)
        d["interaction_share"] = self.interaction_share() if self.design == "crossed" else None
        return d


def _power_of_two_scale(y: np.ndarray) -> float:
    """A power of two near the largest magnitude (exact division, no rounding)."""
    top = float(np.max(np.abs(y))) if y.size else 0.0
    if not np.isfinite(top):
        raise DataValidationError("predictions must be finite", column="y")
    return float(2.0 ** np.frexp(top)[1]) if top > 0 else 1.0


def _floor(y: np.ndarray) -> float:
    """Rounding floor of a variance of ``y`` (already scaled to magnitudes <= 1)."""
    return 1e4 * np.finfo(float).eps ** 2 * float(np.mean(y**2))


def _scale_back(values: dict[str, float], scale: float, floor: float, what: str
                ) -> dict[str, float]:
    out = {}
    for name, v in values.items():
        v = 0.0 if abs(v) <= floor else v
        with np.errstate(over="ignore"):
            back = np.float64(v) * np.float64(scale) ** 2
        if not np.isfinite(back):
            raise DataValidationError(
                f"the variance {what} {name!r} of the predictions is beyond the floating-point "
                "range "
                f"({v:.3g} x {scale:.3g}^2); rescale the predictions (a unit change)",
                column=name)
        out[name] = float(back)
    return out


def _means(y: np.ndarray, keep: tuple[int, ...], n_factors: int) -> np.ndarray:
    drop = tuple(i for i in range(n_factors) if i not in keep)
    return y.mean(axis=drop, keepdims=True) if drop else y


def _effects(y: np.ndarray, n_factors: int) -> dict[tuple[int, ...], np.ndarray]:
    """Sums of squared effects per term (main effects and interactions), per point."""
    eff: dict[tuple[int, ...], np.ndarray] = {}
    grand = _means(y, (), n_factors)
    cache: dict[tuple[int, ...], np.ndarray] = {(): grand}
    for r in range(1, n_factors + 1):
        for term in combinations(range(n_factors), r):
            m = _means(y, term, n_factors)
            e = m.copy()
            for sub_r in range(0, r):  # inclusion-exclusion over lower-order terms
                for sub in combinations(term, sub_r):
                    e = e + (-1) ** (r - sub_r) * cache[sub]
            cache[term] = m
            eff[term] = e
    return eff


def crossed_components(y: np.ndarray, *, factors: tuple[str, ...] = ("data", "init", "noise"),
                       target: np.ndarray | None = None, keep_per_point: bool = False
                       ) -> VarianceComponents:
    """Symmetric variance decomposition from a fully crossed design, unbiased.

    Mean squares of every main effect and interaction, and the random-effects
    expected-mean-squares solution: for two factors ``V_A = (MS_A - MS_AB)/b``,
    ``V_AB = MS_AB``; for three, ``V_A = (MS_A - MS_AB - MS_AC + MS_ABC)/(bc)``,
    ``V_AB = (MS_AB - MS_ABC)/c``, ``V_ABC = MS_ABC`` (the highest
    interaction also holds any run-to-run nondeterminism). Bias squared:
    ``(grand mean - target)^2`` minus the estimated variance of the grand mean
    (each component over the product of its factors' levels), unbiased for
    ``(E y - y*)^2``.

    Parameters
    ----------
    y : ndarray, shape (levels_1, ..., levels_k, n_points)
        One prediction per design cell and test point (``k`` = 2 or 3 factors,
        each with at least 2 levels). A trailing output dimension can be
        summed beforehand (squared Euclidean norm).
    factors : tuple of str, default=("data", "init", "noise")
        Names of the leading axes (the first ``k`` are used).
    target : ndarray, shape (n_points,), optional
        The noiseless target ``y*`` for the bias.
    keep_per_point : bool, default=False
        Also return the components per test point.

    Returns
    -------
    VarianceComponents
        Components named ``"data"``, ``"init"``, ``"data:init"``, ... .

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a, b = 40, 40
    >>> y = (rng.normal(0, 0.5**0.5, (a, 1, 1)) + rng.normal(0, 1.0, (1, b, 1))
    ...      + rng.normal(0, 0.8**0.5, (a, b, 1)))
    >>> vc = crossed_components(y, factors=("data", "init"))
    >>> sorted(vc.components)
    ['data', 'data:init', 'init']
    """
    y = np.asarray(y, dtype=float)
    k = y.ndim - 1
    if k not in (2, 3):
        raise DataValidationError(f"y must have 2 or 3 factor axes plus a test-point axis, "
                                  f"got shape {y.shape}", column="y")
    names = tuple(factors[:k])
    if len(names) < k:
        raise DataValidationError(f"{k} factor axes need {k} names, got {factors}",
                                  column="factors")
    levels = y.shape[:k]
    if min(levels) < 2:
        few = [f"{n!r} has {v}" for n, v in zip(names, levels, strict=True) if v < 2]
        raise DataValidationError(f"every factor needs at least 2 levels: {', '.join(few)}",
                                  column=names[int(np.argmin(levels))])
    scale = _power_of_two_scale(y)
    y = y / scale
    floor = _floor(y)
    eff = _effects(y, k)
    n_cells = int(np.prod(levels))
    ms: dict[tuple[int, ...], np.ndarray] = {}
    for term, e in eff.items():
        df = int(np.prod([levels[i] - 1 for i in term]))
        reps = n_cells // int(np.prod([levels[i] for i in term]))
        ss = (e**2).sum(axis=tuple(range(k))) * reps
        ms[term] = ss / df
    # EMS solution: V_T = sum over supersets S of T of (-1)^{|S|-|T|} MS_S / (levels outside T)
    comp: dict[tuple[int, ...], np.ndarray] = {}
    for term in ms:
        acc = np.zeros(y.shape[-1])
        for sup in ms:
            if set(term) <= set(sup):
                acc = acc + (-1) ** (len(sup) - len(term)) * ms[sup]
        outside = int(np.prod([levels[i] for i in range(k) if i not in term]))
        comp[term] = acc / outside
    label = {t: ":".join(names[i] for i in t) for t in comp}
    avg = _scale_back({label[t]: float(v.mean()) for t, v in comp.items()}, scale, floor,
                      "component")
    total = float(sum(avg.values()))
    bias2 = None
    if target is not None:
        tgt = np.asarray(target, dtype=float)
        if tgt.shape != (y.shape[-1],):
            raise DataValidationError(f"target must have shape ({y.shape[-1]},), got "
                                      f"{tgt.shape}", column="target")
        var_grand = sum(v / np.prod([levels[i] for i in t]) for t, v in comp.items())
        grand = y.mean(axis=tuple(range(k)))
        bias2 = _scale_back({"bias2": float(((grand - tgt / scale) ** 2 - var_grand).mean())},
                            scale, floor, "bias")["bias2"]
    per_point = ({label[t]: v * scale**2 for t, v in comp.items()} if keep_per_point
                 else None)
    return VarianceComponents(
        names, dict(zip(names, map(int, levels), strict=True)), avg,
        {n: max(v, 0.0) for n, v in avg.items()}, total, bias2, "crossed", per_point)


def nested_components(y: np.ndarray, *, factors: tuple[str, str] = ("data", "init"),
                      target: np.ndarray | None = None) -> VarianceComponents:
    """Sequential split from a nested design (each data draw with its own seeds).

    ``within`` (named after the inner factor, e.g. ``"init|data"``) estimates
    ``E_X Var_P = V_P + V_XP`` by the mean within-draw variance; the outer
    factor's component estimates ``V_X`` by the variance of draw means minus
    ``within / b`` (the naive variance of draw means is biased up by
    ``(V_P + V_XP) / b``). A nested design cannot separate ``V_P`` from
    ``V_XP``.

    Parameters
    ----------
    y : ndarray, shape (a, b, n_points)
        ``a`` data draws, ``b`` seeds each (seeds not shared across draws).
    factors : tuple of str, default=("data", "init")
        Outer and inner factor names.
    target : ndarray, shape (n_points,), optional
        Noiseless target for the bias.

    Returns
    -------
    VarianceComponents
        Components ``outer`` and ``"inner|outer"``; ``design="nested"``.

    Examples
    --------
    >>> y = np.random.default_rng(0).normal(size=(20, 3, 50))
    >>> sorted(nested_components(y).components)
    ['data', 'init|data']
    """
    y = np.asarray(y, dtype=float)
    if y.ndim != 3 or min(y.shape[:2]) < 2:
        raise DataValidationError(f"y must have shape (a >= 2, b >= 2, n_points), got "
                                  f"{y.shape}", column="y")
    a, b = y.shape[:2]
    scale = _power_of_two_scale(y)
    y = y / scale
    floor = _floor(y)
    within = y.var(axis=1, ddof=1).mean(axis=0)
    draw_means = y.mean(axis=1)
    outer = draw_means.var(axis=0, ddof=1) - within / b
    names = (factors[0], f"{factors[1]}|{factors[0]}")
    comp = _scale_back({names[0]: float(outer.mean()), names[1]: float(within.mean())},
                       scale, floor, "component")
    bias2 = None
    if target is not None:
        grand = y.mean(axis=(0, 1))
        var_grand = outer / a + within / (a * b)
        bias2 = _scale_back({"bias2": float(((grand - np.asarray(target, float) / scale) ** 2
                                             - var_grand).mean())}, scale, floor,
                            "bias")["bias2"]
    return VarianceComponents(tuple(factors), {factors[0]: a, factors[1]: b}, comp,
                              {k: max(v, 0.0) for k, v in comp.items()},
                              float(sum(comp.values())), bias2, "nested")
