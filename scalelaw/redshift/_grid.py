"""The complexity of random networks over a grid of architectures (Neural Redshift)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scalelaw._validation import (
    RandomStateLike,
    check_int,
    check_level,
    check_random_state,
    unknown_name,
)
from scalelaw.exceptions import DataValidationError
from scalelaw.redshift._measures import compressibility, mean_frequency, polynomial_order
from scalelaw.redshift._networks import ACTIVATIONS, draw_uniform, grid_inputs, network_outputs

__all__ = ["MEASURES", "RedshiftResult", "check_redshift_args", "complexity_ratio",
           "random_network_complexity"]

#: The three measures, each as in the JSON rows (per-initialisation values in ``samples``).
MEASURES = ("frequency", "compressibility", "polynomial_order")
KEY = ("activation", "depth", "width", "weight_scale", "layernorm", "residual")


@dataclass(frozen=True)
class RedshiftResult:
    """Complexity of random networks per architecture.

    Attributes
    ----------
    rows : pandas.DataFrame
        One row per architecture: ``activation, depth, width, weight_scale,
        layernorm, residual``, each measure's mean over initialisations and
        its interval (``frequency_ci``, ``compressibility_ci``,
        ``polynomial_order_ci``: the t-interval of the mean at ``level``).
    samples : dict
        Per architecture (the key columns as a tuple), each measure's values
        over initialisations, in initialisation order (paired across
        architectures: :func:`complexity_ratio`).
    settings : dict
        Grid, initialisations, seed, level, Legendre degree, seconds.
    """

    rows: pd.DataFrame
    samples: dict[tuple, dict[str, np.ndarray]] = field(repr=False)
    settings: dict

    def to_dict(self) -> dict[str, Any]:
        """``{"rows": [...], "settings": {...}}`` for JSON.

        Returns
        -------
        dict
            Rows as records (intervals as two-element lists).
        """
        rows = []
        for rec in self.rows.to_dict(orient="records"):
            for m in MEASURES:
                rec[f"{m}_ci"] = list(rec[f"{m}_ci"])
            rows.append(rec)
        return {"rows": rows, "settings": dict(self.settings)}

    def values(self, measure: str = "frequency", **key: Any) -> np.ndarray:
        """Per-initialisation values of one architecture (named by its key columns).

        Returns
        -------
        ndarray
            One value per initialisation.
        """
        match = [k for k in self.samples if all(
            k[KEY.index(name)] == v for name, v in key.items())]
        if len(match) != 1:
            raise DataValidationError(f"{key} matches {len(match)} architectures; name one "
                                      f"by {list(KEY)}.", column="key")
        return self.samples[match[0]][measure]


def _floats(values: Sequence[Any], name: str, *, positive: bool = True) -> list[float]:
    out = []
    for v in values:
        try:
            f = float(v)
        except (TypeError, ValueError):
            f = float("nan")
        if not np.isfinite(f) or (positive and f <= 0):
            raise DataValidationError(f"{name} must be positive numbers; got {v!r}.",
                                      column=name)
        out.append(f)
    if not out:
        raise DataValidationError(f"{name} must not be empty.", column=name)
    return out


def _ints(values: Sequence[Any], name: str, minimum: int) -> list[int]:
    out = [check_int(v, name, minimum=minimum) for v in values]
    if not out:
        raise DataValidationError(f"{name} must not be empty.", column=name)
    return out


def _flags(value: bool | Sequence[bool], name: str) -> list[bool]:
    vals = [value] if isinstance(value, bool | np.bool_) else list(value)
    if not vals or not all(isinstance(v, bool | np.bool_) for v in vals):
        raise DataValidationError(f"{name} must be a bool or a list of bools; got {value!r}.",
                                  column=name)
    return [bool(v) for v in dict.fromkeys(vals)]


def check_redshift_args(activations: Sequence[str], depths: Sequence[int],
                        weight_scales: Sequence[float], widths: Sequence[int],
                        n_init: int, grid: int) -> tuple[list[str], list[int], list[float],
                                                         list[int]]:
    """Validate the grid of architectures (before any work); return it as lists.

    Raises
    ------
    DataValidationError, UnknownNameError
        An unknown activation, a depth or width below 1, a scale that is not
        positive, fewer than 2 initialisations or a grid below 8 points.
    """
    acts = list(activations)
    for a in acts:
        if a not in ACTIVATIONS:
            raise unknown_name("activation", a, ACTIVATIONS)
    if not acts:
        raise DataValidationError("activations must not be empty.", column="activations")
    check_int(n_init, "n_init", minimum=2)
    check_int(grid, "grid", minimum=8)
    return (acts, sorted(set(_ints(depths, "depths", 1))),
            sorted(set(_floats(weight_scales, "weight_scales"))),
            sorted(set(_ints(widths, "widths", 1))))


def random_network_complexity(
    activations: Sequence[str] = ("relu", "gelu", "tanh", "gauss", "sin"),
    depths: Sequence[int] = (1, 2, 4, 8),
    weight_scales: Sequence[float] = (0.5, 1.0, 2.0, 4.0),
    widths: Sequence[int] = (16, 64, 256),
    *,
    layernorm: bool | Sequence[bool] = False,
    residual: bool | Sequence[bool] = False,
    n_init: int = 100,
    grid: int = 64,
    legendre_degree: int = 16,
    seed: int = 0,
    level: float = 0.95,
    chunk: int = 25,
    progress: bool = False,
    should_stop: Callable[[], bool] | None = None,
) -> RedshiftResult:
    """Complexity of random MLPs ``R^2 -> R`` on a grid, per architecture (Teney et al. 2024).

    Each network is evaluated on a ``grid x grid`` square of ``[-1, 1]^2``;
    its complexity is measured three ways (:func:`mean_frequency`,
    :func:`compressibility`, :func:`polynomial_order`) and summarised by the
    mean over ``n_init`` initialisations with a t-interval. Initialisations
    are batched (stacked weights, one matrix product per layer for a chunk
    of them); deeper networks extend shallower ones (see
    :mod:`scalelaw.redshift._networks`).

    Parameters
    ----------
    activations : sequence of str
        Any of ``relu, gelu, tanh, gauss, sin``.
    depths, widths : sequence of int
        Hidden layers and units per hidden layer.
    weight_scales : sequence of float
        ``s``: weights and biases ``U(-s / sqrt(fan_in), s / sqrt(fan_in))``.
    layernorm, residual : bool or sequence of bool, default=False
        Architectures with (True), without (False), or both (``[False, True]``).
    n_init : int, default=100
        Initialisations per architecture.
    grid : int, default=64
        Points per side of the input grid.
    legendre_degree : int, default=16
        Highest Legendre degree per variable of the polynomial fit.
    seed : int, default=0
        Seed of the weights (every architecture uses the same draws).
    level : float, default=0.95
        Level of the intervals.
    chunk : int, default=25
        Initialisations evaluated together (memory: ``chunk * grid^2 * width``
        floats per layer).
    progress : bool, default=False
        Show a progress bar.
    should_stop : callable, optional
        Polled between chunks; returning True raises ``KeyboardInterrupt``.

    Returns
    -------
    RedshiftResult
        Rows (means and intervals), per-initialisation samples, settings.

    Examples
    --------
    >>> res = random_network_complexity(["relu", "sin"], depths=[2], weight_scales=[4.0],
    ...                                 widths=[16], n_init=10, grid=32)
    >>> relu, sin = res.rows["frequency"]
    >>> bool(relu < sin)
    True
    """
    from scipy import stats
    from tqdm.auto import tqdm

    acts, deps, scales, wids = check_redshift_args(activations, depths, weight_scales, widths,
                                                   n_init, grid)
    lns, ress = _flags(layernorm, "layernorm"), _flags(residual, "residual")
    level = check_level(level)
    check_int(legendre_degree, "legendre_degree", minimum=1)
    chunk = check_int(chunk, "chunk", minimum=1)
    seed = check_int(seed, "seed")
    x = grid_inputs(grid)
    t0 = time.perf_counter()
    samples: dict[tuple, dict[str, list[np.ndarray]]] = {}
    blocks = [range(s, min(s + chunk, n_init)) for s in range(0, n_init, chunk)]
    combos = list(itertools.product(acts, scales, lns, ress))
    bar = tqdm(total=len(wids) * len(blocks) * len(combos), desc="random networks",
               disable=not progress)
    for width in wids:
        for block in blocks:
            if should_stop is not None and should_stop():
                raise KeyboardInterrupt
            hidden, readout = draw_uniform(seed, width, max(deps), block)
            for act, s, ln, res in combos:
                outs = network_outputs(x, hidden, readout, activation=act, weight_scale=s,
                                       depths=deps, layernorm=ln, residual=res)
                for depth, f in outs.items():
                    f = f.reshape(len(block), grid, grid)
                    got = samples.setdefault((act, depth, width, s, ln, res),
                                             {m: [] for m in MEASURES})
                    got["frequency"].append(mean_frequency(f))
                    got["compressibility"].append(compressibility(f))
                    got["polynomial_order"].append(polynomial_order(f, degree=legendre_degree))
                bar.update(1)
    bar.close()
    tq = stats.t.ppf(0.5 + level / 2, n_init - 1)
    rows, final = [], {}
    for key in sorted(samples, key=lambda k: (acts.index(k[0]), k[4], k[5], k[2], k[3], k[1])):
        vals = {m: np.concatenate(v) for m, v in samples[key].items()}
        final[key] = vals
        row: dict[str, Any] = dict(zip(KEY, key, strict=True))
        for m, v in vals.items():
            mean, half = float(v.mean()), float(tq * v.std(ddof=1) / np.sqrt(len(v)))
            row[m], row[f"{m}_ci"] = mean, (mean - half, mean + half)
        rows.append(row)
    frame = pd.DataFrame(rows)
    settings = {"n_init": n_init, "grid": grid, "legendre_degree": legendre_degree,
                "seed": seed, "level": level, "init": "U(-s/sqrt(fan_in), s/sqrt(fan_in))",
                "seconds": round(time.perf_counter() - t0, 3),
                "n_networks": int(len(rows) * n_init)}
    return RedshiftResult(rows=frame, samples=final, settings=settings)


def complexity_ratio(result: RedshiftResult, numerator: dict[str, Any],
                     denominator: dict[str, Any], *, measure: str = "frequency",
                     n_boot: int = 2000, level: float = 0.95, random_state: RandomStateLike = 0
                     ) -> tuple[float, tuple[float, float]]:
    """Ratio of two architectures' mean complexity, with a paired bootstrap interval.

    Both architectures share their initialisations' uniform draws, so the
    bootstrap resamples initialisations jointly (``scipy.stats.bootstrap``,
    ``paired=True``, percentile method).

    Parameters
    ----------
    result : RedshiftResult
        From :func:`random_network_complexity`.
    numerator, denominator : dict
        Key columns naming one architecture each (``activation``, ``depth``, ...).
    measure : str, default="frequency"
        One of :data:`MEASURES`.
    n_boot, level, random_state
        Bootstrap replicas, interval level, seed.

    Returns
    -------
    tuple
        ``(ratio, (lower, upper))``.

    Examples
    --------
    >>> res = random_network_complexity(["sin"], depths=[4], weight_scales=[1.0, 4.0],
    ...                                 widths=[16], n_init=20, grid=32)
    >>> r, (lo, hi) = complexity_ratio(res, {"weight_scale": 4.0}, {"weight_scale": 1.0})
    >>> bool(lo > 2)
    True
    """
    from scipy import stats

    if measure not in MEASURES:
        raise unknown_name("measure", measure, MEASURES)
    a, b = result.values(measure, **numerator), result.values(measure, **denominator)

    def ratio(u: np.ndarray, v: np.ndarray, axis: int = -1) -> np.ndarray:
        return u.mean(axis=axis) / v.mean(axis=axis)

    boot = stats.bootstrap((a, b), ratio, paired=True, n_resamples=n_boot,
                           confidence_level=check_level(level), method="percentile",
                           random_state=check_random_state(random_state), vectorized=True)
    ci = boot.confidence_interval
    return float(ratio(a, b)), (float(ci.low), float(ci.high))
