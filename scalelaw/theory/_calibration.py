"""How often a check is right: its procedure on many tables with a known answer.

:func:`simulate_check_rates` draws replicated sweeps whose true exponent is
known (log-normal scatter between runs, optional replicate effects, an
optional bend), runs the same window rule, fit, interval and questions as
:func:`~scalelaw.theory.check_scaling` on all of them at once, and reports
the interval's coverage, how often the whole range was kept and the share of
each verdict. ``CheckRates.table(i)`` rebuilds replicate ``i`` as a table, so
any single replicate can be rechecked with :func:`check_scaling`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scalelaw._validation import RandomStateLike, check_int, check_level, check_random_state
from scalelaw.exceptions import DataValidationError
from scalelaw.stats import VERDICTS, equivalence_codes
from scalelaw.theory._engine import MIN_WINDOW
from scalelaw.theory._intervals import batch_fit
from scalelaw.theory._verdicts import DEFAULT_TOLERANCE, DimensionEstimate
from scalelaw.theory._window import PLAUSIBLE_LEVEL

__all__ = ["CheckRates", "simulate_check_rates"]


@dataclass(frozen=True)
class CheckRates:
    """Rates of a check's procedure over replicated tables with a known exponent.

    Attributes
    ----------
    settings : dict
        The scenario (regime, sizes, seeds, noise, truth, prediction, ...).
    n_replicates : int
        Tables drawn.
    coverage : float
        Share of intervals that contain the true exponent (replicates without
        an interval count as not covering).
    kept_whole : float
        Share of replicates whose window kept every size.
    n_failed : int
        Replicates with no exponent or no interval.
    rates : dict
        ``{question kind: {"consistent": p, "inconsistent": p, "inconclusive": p}}``.
    mean_width : float
        Mean interval width (replicates with an interval).
    alpha, ci, stop, codes : ndarray
        Per replicate: exponent, interval ``(R, 2)``, window end, verdict codes
        ``(R, n_questions)`` (1 consistent, 0 inconclusive, -1 inconsistent).
    """

    settings: dict[str, Any]
    n_replicates: int
    coverage: float
    kept_whole: float
    n_failed: int
    rates: dict[str, dict[str, float]]
    mean_width: float
    alpha: np.ndarray = field(repr=False, compare=False)
    ci: np.ndarray = field(repr=False, compare=False)
    stop: np.ndarray = field(repr=False, compare=False)
    codes: np.ndarray = field(repr=False, compare=False)
    values: np.ndarray = field(repr=False, compare=False)
    l_inf_values: np.ndarray | None = field(repr=False, compare=False, default=None)

    def table(self, i: int) -> pd.DataFrame:
        """Replicate ``i`` as a table of runs (``size``, ``loss``, ``seed`` [, ``l_inf``]).

        Parameters
        ----------
        i : int
            Replicate.

        Returns
        -------
        pandas.DataFrame
            One row per run.
        """
        vals = self.values[i]
        g, k = vals.shape
        sizes = np.asarray(self.settings["sizes"], dtype=float)
        out = {"size": np.tile(sizes, g), "seed": np.repeat(np.arange(g), k)}
        if self.l_inf_values is not None:
            lim = self.l_inf_values[i].ravel()
            out["loss"] = vals.ravel() + lim
            out["l_inf"] = lim
        else:
            out["loss"] = vals.ravel()
        return pd.DataFrame(out)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (without the per-replicate arrays).

        Returns
        -------
        dict
            ``settings, n_replicates, coverage, kept_whole, n_failed, rates, mean_width``.
        """
        s = {k: (list(v) if isinstance(v, tuple | np.ndarray) else v)
             for k, v in self.settings.items()}
        s["sizes"] = [float(v) for v in s["sizes"]]
        return {"settings": s, "n_replicates": self.n_replicates, "coverage": self.coverage,
                "kept_whole": self.kept_whole, "n_failed": self.n_failed,
                "rates": self.rates, "mean_width": self.mean_width}


def _mean_curve(x: np.ndarray, alpha: float, bend: Any) -> np.ndarray:
    rel = x / x[0]
    if bend is None:
        return 3.0 * rel**-alpha
    kind, xb = bend[0], float(bend[1]) / x[0]
    if kind == "floor":
        return 3.0 * rel**-alpha + 3.0 * xb**-alpha
    if kind == "crossover":
        alpha2 = float(bend[2])
        return np.where(rel <= xb, 3.0 * rel**-alpha, 3.0 * xb**-alpha * (rel / xb) ** -alpha2)
    raise DataValidationError(f"bend must be None, ('floor', x) or ('crossover', x, alpha2); "
                              f"got {bend!r}.", column="bend")


def _simulate(rng: np.random.Generator, x: np.ndarray, r: int, g: int, s: dict[str, Any]
              ) -> tuple[np.ndarray, np.ndarray | None]:
    """Runs ``(R, G, K)`` (the averaged quantity) and, when paired, ``L_inf`` per run."""
    k = x.size
    u = np.log(x) - np.log(x).mean()
    z = s["noise"] * rng.standard_normal((r, g, k))
    z = z + s["seed_offset"] * rng.standard_normal((r, g, 1))
    z = z - s["seed_slope"] * rng.standard_normal((r, g, 1)) * u
    curve = _mean_curve(x, s["alpha"], s["bend"])
    if s["regime"] == "resolution":
        return curve * np.exp(z), None
    excess = s["excess"] * curve / 3.0  # the excess over L_inf = 1 at the smallest size
    if s["l_inf"] == "fitted":
        return (1.0 + excess) * np.exp(z), None
    lim = np.exp(0.1 * rng.standard_normal((r, g, k)))  # L_inf of each run, paired
    return excess * np.exp(z), lim


def _ratio_interval(lo: np.ndarray, hi: np.ndarray, d: DimensionEstimate
                    ) -> tuple[np.ndarray, np.ndarray]:
    d_lo, d_hi = d.plausible
    with np.errstate(divide="ignore", invalid="ignore"):
        r_lo = np.where(hi > 0, 4.0 / (hi * d_hi), np.inf)
        r_hi = np.where(lo > 0, 4.0 / (lo * d_lo), np.inf)
    return r_lo, r_hi


def simulate_check_rates(
    *,
    regime: str,
    alpha: float,
    sizes: Any,
    n_seeds: int,
    noise: float,
    dimension: Any = None,
    exponent: float | None = None,
    l_inf: str = "fitted",
    excess: float = 4.0,
    seed_offset: float = 0.0,
    seed_slope: float = 0.0,
    bend: Any = None,
    window: str = "auto",
    tolerance: float | None = None,
    level: float = 0.95,
    interval: str = "auto",
    n_replicates: int = 400,
    random_state: RandomStateLike = None,
) -> CheckRates:
    """Coverage and verdict rates of the check's procedure on tables with a known exponent.

    Parameters
    ----------
    regime : {"resolution", "variance"}
        Resolution-limited: ``L = 3 (x/x_0)^-alpha``; variance-limited:
        ``L = L_inf + excess (x/x_0)^-alpha`` with ``L_inf = 1``.
    alpha : float
        The true exponent.
    sizes : array_like
        Sizes (ascending).
    n_seeds : int
        Runs per size (replicates ``seed = 0 .. n_seeds - 1``).
    noise : float
        Log-normal scatter of each run (0.05: 5 %): of the loss, or (``l_inf
        ="given"``) of the excess.
    dimension : float or DimensionEstimate, optional
        Resolution-limited: the ``d`` of the questions (bound and estimate).
    exponent : float, optional
        Resolution-limited: an exact predicted exponent instead.
    l_inf : {"fitted", "given"}, default="fitted"
        Variance-limited: fit a free ``L_inf``, or give each run's own ``L_inf``
        (scattered 10 % between runs) and subtract it run by run.
    excess : float, default=4.0
        Variance-limited: the excess over ``L_inf`` at the smallest size.
    seed_offset, seed_slope : float, default=0.0
        Standard deviations of a replicate's common log-offset and of its own
        exponent (the same at every size).
    bend : tuple, optional
        ``("floor", x_b)``: a floor equal to the power law at ``x_b``;
        ``("crossover", x_b, alpha2)``: slope ``alpha2`` beyond ``x_b``.
    window : {"auto", "all"}, default="auto"
        Resolution-limited window rule.
    tolerance : float, optional
        Margin (defaults as in :func:`check_scaling`).
    level : float, default=0.95
        Interval coverage.
    interval : {"auto", "t", "cluster"}, default="auto"
        Interval method; ``"auto"`` is ``"cluster"`` with 3 or more seeds (the
        simulated replicates are shared across sizes), as in :func:`check_scaling`.
    n_replicates : int, default=400
        Tables drawn.
    random_state : int, Generator or None
        Seed.

    Returns
    -------
    CheckRates
        Coverage, window and verdict rates, per-replicate results.

    Examples
    --------
    >>> r = simulate_check_rates(regime="resolution", alpha=1.0, dimension=4.0,
    ...                          sizes=2.0 ** np.arange(8, 16), n_seeds=5, noise=0.05,
    ...                          n_replicates=200, random_state=0)
    >>> r.coverage > 0.9, r.rates["estimate"]["consistent"] > 0.8
    (True, True)
    """
    if regime not in ("resolution", "variance"):
        raise DataValidationError(f"regime must be 'resolution' or 'variance'; got "
                                  f"{regime!r}.", column="regime")
    if l_inf not in ("fitted", "given"):
        raise DataValidationError(f"l_inf must be 'fitted' or 'given'; got {l_inf!r}.",
                                  column="l_inf")
    if interval not in ("auto", "t", "cluster"):
        raise DataValidationError(f"interval must be 'auto', 't' or 'cluster' here; got "
                                  f"{interval!r}.", column="interval")
    level = check_level(level)
    r = check_int(n_replicates, "n_replicates", minimum=1)
    g = check_int(n_seeds, "n_seeds", minimum=1)
    x = np.asarray(sizes, dtype=float)
    if x.ndim != 1 or x.size < MIN_WINDOW or np.any(np.diff(x) <= 0) or np.any(x <= 0):
        raise DataValidationError(f"sizes must be {MIN_WINDOW} or more positive ascending "
                                  f"values; got {sizes!r}.", column="sizes")
    if interval == "auto":
        interval = "cluster" if g >= 3 else "t"
    tol = DEFAULT_TOLERANCE[regime] if tolerance is None else float(tolerance)
    settings = {"regime": regime, "alpha": float(alpha), "sizes": tuple(x.tolist()),
                "n_seeds": g, "noise": float(noise), "l_inf": l_inf, "excess": float(excess),
                "seed_offset": float(seed_offset), "seed_slope": float(seed_slope),
                "bend": bend, "window": window, "tolerance": tol, "level": level,
                "interval": interval, "random_state": random_state}
    rng = check_random_state(random_state)
    vals, lim = _simulate(rng, x, r, g, settings)
    floor = regime == "variance" and l_inf == "fitted"
    how = "geometric" if regime == "resolution" else "arithmetic"
    b = batch_fit(x, vals, how, floor=floor, auto=(regime == "resolution" and
                                                     window == "auto"),
                  level=level, interval=interval)
    ok = b.converged & np.isfinite(b.lo) & np.isfinite(b.hi) & (b.stop >= MIN_WINDOW)
    decided = ok.copy()
    if b.lines is not None and x.size > MIN_WINDOW:  # as check_scaling: cut to the minimum
        decided &= ~((b.stop == MIN_WINDOW)
                     & (b.lines.pvalue[:, MIN_WINDOW + 1] < PLAUSIBLE_LEVEL))
    kinds, codes = _questions(regime, b, decided, tol, dimension, exponent)
    rates = {kd: {VERDICTS[c + 1]: float(np.mean(codes[:, j] == c)) for c in (1, -1, 0)}
             for j, kd in enumerate(kinds)}
    cover = ok & (b.lo <= alpha) & (alpha <= b.hi)
    settings["dimension"] = (None if dimension is None else
                             DimensionEstimate.coerce(dimension).to_dict())
    settings["exponent"] = exponent
    return CheckRates(settings=settings, n_replicates=r, coverage=float(cover.mean()),
                      kept_whole=float(np.mean(b.stop == x.size)),
                      n_failed=int((~ok).sum()), rates=rates,
                      mean_width=float(np.mean((b.hi - b.lo)[ok])) if ok.any() else np.nan,
                      alpha=b.alpha, ci=np.c_[b.lo, b.hi], stop=b.stop, codes=codes,
                      values=vals, l_inf_values=lim)


def _questions(regime: str, b: Any, ok: np.ndarray, tol: float, dimension: Any,
               exponent: float | None) -> tuple[list[str], np.ndarray]:
    """Verdict codes of every question, as :func:`check_scaling` asks them."""
    cols, kinds = [], []
    if regime == "variance":
        kinds.append("variance")
        cols.append(equivalence_codes(b.lo, b.hi, 1 - tol, 1 + tol))
    elif exponent is not None:
        kinds.append("exact")
        cols.append(equivalence_codes(b.lo / exponent, b.hi / exponent, 1 - tol, 1 + tol))
    elif dimension is not None:
        d = DimensionEstimate.coerce(dimension)
        r_lo, r_hi = _ratio_interval(b.lo, b.hi, d)
        kinds += ["bound", "estimate"]
        cols.append(equivalence_codes(r_lo, r_hi, -np.inf, 1 + tol))
        cols.append(equivalence_codes(r_lo, r_hi, 1 - tol, 1 + tol))
    codes = np.stack(cols, axis=1) if cols else np.zeros((ok.size, 0), dtype=int)
    return kinds, np.where(ok[:, None], codes, 0)
