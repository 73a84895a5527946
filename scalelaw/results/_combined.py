"""Combinations of fitted laws: each member keeps its own fit; forecasts are combined.

A :class:`CombinedFit` holds fitted results (as scikit-learn's
``VotingRegressor`` holds fitted estimators): it is not a law and is never
optimised. Its forecast is the weighted geometric mean of the members'
forecasts; its intervals are those of the mixture of the members' forecast
distributions (:func:`scalelaw.stats.mixture_interval`), so the spread
between members, the uncertainty about which law holds, widens them, and
they always contain every member's forecast.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from scalelaw._validation import RandomStateLike, check_level, check_random_state
from scalelaw.exceptions import DataValidationError
from scalelaw.forecast import check_extrapolation, log_intervals, warn_uncalibrated
from scalelaw.inference import Diagnostic
from scalelaw.laws import Inputs
from scalelaw.results._fit import FitResult
from scalelaw.results._json import SCHEMA_VERSION, from_jsonable, to_jsonable
from scalelaw.stats import mixture_interval

__all__ = ["CombinedFit", "combine", "result_from_dict"]

#: The ``kind`` key that marks a combination's JSON.
COMBINATION_KIND = "combination"
#: How members' intervals combine: ``"mixture"`` (the default, see
#: :class:`CombinedFit`) or ``"union"`` (from the lowest lower end to the highest
#: upper end; the alternative measured in bench/RESULTS.md).
COMBINED_INTERVAL = "mixture"


def _combined_band(centers: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                   dof: np.ndarray, weights: np.ndarray, level: float
                   ) -> tuple[np.ndarray, np.ndarray]:
    if COMBINED_INTERVAL == "union":
        return np.min(lower, axis=0), np.max(upper, axis=0)
    return mixture_interval(centers, lower, upper, dof, weights, level)


@dataclass(frozen=True, eq=False)
class CombinedFit:
    """Fitted laws combined: the geometric mean of their forecasts, with honest intervals.

    Built by :func:`combine`, by :func:`scalelaw.fit` with
    ``law="average:a+b+..."``, or by ``law="auto"`` when its candidates tie.
    Each member is an ordinary :class:`~scalelaw.FitResult`: its own fit,
    residual degrees of freedom, intervals, bootstrap and calibration.

    * ``mean``: ``exp(sum_i w_i log mean_i)``;
    * intervals (of the mean curve, and for a new run): the central interval
      of the mixture, weights ``w_i``, of the members' forecast distributions
      on the log scale (each a two-piece Student-t that reproduces that
      member's interval at the level asked), widened where needed to reach
      every member's forecast. With one member, or identical members, it is
      that member's interval. It is NaN only where a member's is.

    The members' parameter intervals here (:meth:`conf_int`, the summary,
    JSON) are Wald intervals, or bootstrap percentiles for a bootstrapped
    member: profile intervals would refit every member many times; a
    member's own ``conf_int(method="profile")`` gives them.

    Attributes
    ----------
    members : tuple of FitResult
        The fits, on the same rows, inputs and target.
    weights : tuple of float
        Member weights (sum 1).
    settings : dict
        What built the combination (``auto`` holds the law selection when
        ``law="auto"`` chose it).

    Examples
    --------
    >>> import numpy as np, pandas as pd, scalelaw as sl
    >>> n = np.logspace(3, 6, 30)
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"n": n, "L": (0.5 + 20 * n ** -0.4) * np.exp(
    ...     0.01 * rng.standard_normal(30))})
    >>> avg = sl.fit("average:power+saturating_power", df, x="n", y="L")
    >>> avg.name, avg.labels
    ('average:power+saturating_power', ('power', 'saturating_power'))
    >>> tab = sl.calibrate(avg).get_prediction(0.9, n=1e7)
    >>> members = [m.predict(n=1e7)[0] for m in avg.members]
    >>> bool(tab.obs_ci_lower[0] <= min(members) and max(members) <= tab.obs_ci_upper[0])
    True
    """

    members: tuple[FitResult, ...]
    weights: tuple[float, ...]
    settings: dict[str, Any] = field(default_factory=dict)

    # ----------------------------------------------------------- identity
    @property
    def labels(self) -> tuple[str, ...]:
        """Member labels: their law names, numbered where a name repeats."""
        names = [m.law.name for m in self.members]
        return tuple(n if names.count(n) == 1 else f"{n}{i + 1}" for i, n in enumerate(names))

    @property
    def name(self) -> str:
        """``"average:a+b+..."``, as ``law=`` reads it."""
        return "average:" + "+".join(m.law.name for m in self.members)

    @property
    def formula(self) -> str:
        """What the forecast is."""
        return "geometric mean of " + ", ".join(self.labels)

    @property
    def x(self) -> tuple[str, ...]:
        """Input columns."""
        return self.members[0].x

    @property
    def y(self) -> str:
        """Target column."""
        return self.members[0].y

    @property
    def data(self) -> pd.DataFrame:
        """The rows every member was fitted to."""
        return self.members[0].data

    @property
    def domain(self) -> dict[str, tuple[float, float]]:
        """The fitted domain (the same for every member)."""
        return self.members[0].domain

    @property
    def level(self) -> float:
        """Default interval coverage."""
        return self.members[0].level

    @property
    def objective(self) -> str:
        """The members' objective."""
        return self.members[0].objective

    @property
    def n_obs(self) -> int:
        """Rows fitted."""
        return self.members[0].n_obs

    @property
    def converged(self) -> bool:
        """Whether every member's optimum met its convergence test."""
        return all(m.converged for m in self.members)

    @property
    def calibrated(self) -> bool:
        """Whether every member carries an extrapolation calibration."""
        return all(m.calibration is not None for m in self.members)

    @property
    def diagnostics(self) -> tuple[Diagnostic, ...]:
        """The members' diagnostics, each prefixed with its label."""
        return tuple(
            Diagnostic(d.code, f"{lab}: {d.message}", tuple(f"{lab}.{p}" for p in d.params))
            for lab, m in zip(self.labels, self.members, strict=True) for d in m.diagnostics)

    # ---------------------------------------------------------- parameters
    def _stack(self, frames: list[pd.Series | pd.DataFrame]) -> Any:
        out = []
        for lab, f in zip(self.labels, frames, strict=True):
            f = f.copy()
            f.index = [f"{lab}.{p}" for p in f.index]
            out.append(f)
        return pd.concat(out)

    @property
    def params(self) -> pd.Series:
        """Every member's estimates, named ``"<label>.<parameter>"``."""
        return self._stack([m.params for m in self.members])

    @property
    def stderr(self) -> pd.Series:
        """Every member's standard errors, named as :attr:`params`."""
        return self._stack([m.stderr for m in self.members])

    def conf_int(self, level: float | None = None) -> pd.DataFrame:
        """Each member's parameter intervals (Wald, or bootstrap when it has replicas), stacked.

        Parameters
        ----------
        level : float, optional
            Coverage (default: the fit's level).

        Returns
        -------
        pandas.DataFrame
            Index ``"<label>.<parameter>"``; columns ``lower``, ``upper``.
        """
        return self._stack([m.conf_int(level, method=_method(m)) for m in self.members])

    def params_frame(self, level: float | None = None) -> pd.DataFrame:
        """Every member's estimates, standard errors and intervals (:meth:`conf_int`).

        Parameters
        ----------
        level : float, optional
            Interval coverage (default: the fit's level).

        Returns
        -------
        pandas.DataFrame
            Columns ``estimate``, ``stderr``, ``lower``, ``upper``, ``at_bound``.
        """
        frames = []
        for m in self.members:
            ci = m.conf_int(level, method=_method(m))
            at_bound = {p for d in m.diagnostics if d.code == "at_bound" for p in d.params}
            frames.append(pd.DataFrame({"estimate": m.params, "stderr": m.stderr,
                                        "lower": ci["lower"], "upper": ci["upper"],
                                        "at_bound": [p in at_bound for p in m.params.index]}))
        return self._stack(frames)

    # ---------------------------------------------------------- prediction
    def _log_means(self, X: Inputs) -> np.ndarray:
        logs = [m.law.value_and_jacobian(m.theta[None, :], X, log=True, jac=False)[0][0]
                for m in self.members]
        return np.stack(logs)

    def predict(self, data: Any = None, /, **inputs: Any) -> np.ndarray:
        """The combined forecast (weighted geometric mean) at new inputs.

        Parameters
        ----------
        data : pandas.DataFrame or mapping, optional
            A table with the input columns :attr:`x`.
        **inputs : array_like
            Or the inputs by column name (broadcast together).

        Returns
        -------
        numpy.ndarray
            Forecasts, shaped like the broadcast inputs.
        """
        first = self.members[0]
        X, shape = first._inputs_from(first._inputs_of(data, inputs))
        w = np.asarray(self.weights)
        return np.exp(np.einsum("k,kn->n", w, self._log_means(X))).reshape(shape)

    def mean_band(self, level: float | None = None, /, **inputs: Any
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The combined mean curve and its interval, with no extrapolation guard.

        Parameters
        ----------
        level : float, optional
            Coverage (default: the fit's level).
        **inputs : array_like
            The inputs by column name.

        Returns
        -------
        mean, lower, upper : numpy.ndarray
            On the target's scale, flattened.
        """
        level = self.level if level is None else check_level(level)
        first = self.members[0]
        X, _ = first._inputs_from(inputs)
        dist = np.zeros(X.n)
        parts = [log_intervals(m, X, dist, level) for m in self.members]
        w = np.asarray(self.weights)
        centers = np.stack([p.log_mean for p in parts])
        lo, hi = _combined_band(centers, np.stack([p.mean_lo for p in parts]),
                                np.stack([p.mean_hi for p in parts]),
                                np.array([p.dof_mean for p in parts]), w, level)
        return np.exp(w @ centers), np.exp(lo), np.exp(hi)

    def get_prediction(
        self,
        level: float | None = None,
        *,
        data: Any = None,
        extrapolate: bool = False,
        max_extrapolation: float = 10.0,
        **inputs: Any,
    ) -> pd.DataFrame:
        """Forecast table with the combined intervals (the columns of a single fit's).

        Parameters
        ----------
        level : float, optional
            Coverage of both intervals (default: the fit's level).
        data : pandas.DataFrame or mapping, optional
            New inputs as a table.
        extrapolate : bool, default=False
            Allow points beyond ``max_extrapolation`` (with a warning).
        max_extrapolation : float, default=10.0
            Largest allowed ratio of a new input to the nearest edge of its
            observed range, unless ``extrapolate=True``.
        **inputs : array_like
            Or the new inputs by column name.

        Returns
        -------
        pandas.DataFrame
            As :meth:`scalelaw.FitResult.get_prediction`; ``attrs["members"]``
            holds each member's ``mean`` by label.

        Raises
        ------
        ExtrapolationError
            A point lies beyond ``max_extrapolation`` and ``extrapolate`` is False.

        Warns
        -----
        ExtrapolationWarning
            Points beyond the guard with ``extrapolate=True``, or beyond the
            domain when a member is not calibrated.
        """
        level = self.level if level is None else check_level(level)
        first = self.members[0]
        X, shape = first._inputs_from(first._inputs_of(data, inputs))
        cols = [np.ravel(c) for c in X.cols]
        factor, dist = check_extrapolation(first, cols, extrapolate=extrapolate,
                                           max_extrapolation=max_extrapolation, stacklevel=3)
        if not self.calibrated:
            warn_uncalibrated(dist, stacklevel=3)
        parts = [log_intervals(m, X, dist, level) for m in self.members]
        w = np.asarray(self.weights)
        centers = np.stack([p.log_mean for p in parts])

        def band(lo_attr: str, hi_attr: str, dof_attr: str) -> tuple[np.ndarray, np.ndarray]:
            return _combined_band(centers, np.stack([getattr(p, lo_attr) for p in parts]),
                                  np.stack([getattr(p, hi_attr) for p in parts]),
                                  np.array([getattr(p, dof_attr) for p in parts]), w, level)

        mean_lo, mean_hi = band("mean_lo", "mean_hi", "dof_mean")
        obs_lo, obs_hi = band("obs_lo", "obs_hi", "dof_obs")
        out = {c: cols[j] for j, c in enumerate(self.x)}
        out.update(mean=np.exp(w @ centers), mean_ci_lower=np.exp(mean_lo),
                   mean_ci_upper=np.exp(mean_hi), obs_ci_lower=np.exp(obs_lo),
                   obs_ci_upper=np.exp(obs_hi), extrapolation_factor=factor,
                   extrapolation_distance=dist)
        frame = pd.DataFrame(out)
        frame.attrs.update(level=level, shape=shape, calibrated=self.calibrated,
                           members={lab: np.exp(c) for lab, c in zip(self.labels, centers,
                                                                     strict=True)})
        return frame

    # ------------------------------------------------------------ refits
    def with_bootstrap(self, n_boot: int, *, groups: str | None = None,
                       random_state: RandomStateLike = None) -> CombinedFit:
        """Return a copy whose members each carry ``n_boot`` bootstrap replicas.

        Parameters
        ----------
        n_boot : int
            Replicas per member.
        groups : str, optional
            Column whose groups are resampled whole.
        random_state : int, numpy.random.Generator or None, default=None
            Seed; the members draw from one generator, in order.

        Returns
        -------
        CombinedFit
            The combination of the bootstrapped members.
        """
        rng = check_random_state(random_state)
        members = tuple(m.with_bootstrap(n_boot, groups=groups, random_state=rng)
                        for m in self.members)
        seed = random_state if isinstance(random_state, int | np.integer) else None
        return replace(self, members=members, settings={
            **self.settings, "bootstrap": {"n_boot": int(n_boot), "groups": groups,
                                           "random_state": None if seed is None
                                           else int(seed)}})

    # -------------------------------------------------------------- report
    def summary(self) -> str:
        """Return the combination's report: how it combines, then each member in brief.

        Returns
        -------
        str
            The report.
        """
        level = self.level
        lines = [f"Combination of fitted laws: {self.name}    {self.formula}",
                 "weights: " + ", ".join(f"{lab} {w:.3g}" for lab, w in
                                         zip(self.labels, self.weights, strict=True)),
                 f"inputs: {list(self.x)}    target: {self.y!r}    n_obs={self.n_obs}    "
                 f"objective={self.objective}",
                 "forecast intervals: the mixture of the members' forecast distributions "
                 "(they hold every member's forecast)"]
        if "auto" in self.settings:
            lines.append(f"law: {self.settings['auto']['reason']}")
        frame = self.params_frame(level)
        for lab, m in zip(self.labels, self.members, strict=True):
            cal = ("" if m.calibration is None else
                   f"  calibration kappa={m.calibration.kappa:.4g} ({m.calibration.source})")
            lines += ["", f"member {lab}: {m.law.formula}",
                      f"  dof_resid={m.dof_resid}  loss={m.loss:.10g}  converged="
                      f"{m.converged}{cal}",
                      f"  {'':12s}{'estimate':>14s}{'std err':>12s}   {level:.0%} "
                      f"{_method(m)} interval"]
            for name in m.params.index:
                r = frame.loc[f"{lab}.{name}"]
                lines.append(f"  {name:12s}{r.estimate:>14.6g}{r.stderr:>12.4g}   "
                             f"[{r.lower:.6g}, {r.upper:.6g}]"
                             + ("  at bound" if r.at_bound else ""))
        diags = self.diagnostics
        lines.append("")
        lines += (["diagnostics:"] + [f"  - {d}" for d in diags]) if diags else \
            ["diagnostics: none"]
        return "\n".join(lines)

    # ---------------------------------------------------------------- JSON
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready content: the command-line keys, then every member's fit.

        ``law``, ``params``, ``stderr``, ``conf_int``, ``n_obs``, ``converged``
        and ``diagnostics`` read as for a single fit; ``members`` holds each
        member's :meth:`~scalelaw.FitResult.to_dict`.

        Returns
        -------
        dict
            JSON-ready content (``kind`` is ``"combination"``).
        """
        members = [m.to_dict(conf_int_method=_method(m)) for m in self.members]
        conf_int = {f"{lab}.{k}": v for lab, m in zip(self.labels, members, strict=True)
                    for k, v in m["conf_int"].items()}
        out = {
            "schema_version": SCHEMA_VERSION,
            "kind": COMBINATION_KIND,
            "law": self.name,
            "formula": self.formula,
            "x": list(self.x),
            "y": self.y,
            "labels": list(self.labels),
            "weights": list(self.weights),
            "params": {k: float(v) for k, v in self.params.items()},
            "stderr": {k: float(v) for k, v in self.stderr.items()},
            "conf_int": conf_int,
            "level": self.level,
            "n_obs": self.n_obs,
            "converged": self.converged,
            "diagnostics": [d.to_dict() for d in self.diagnostics],
            "settings": dict(self.settings),
            "members": members,
        }
        return to_jsonable(out)

    def to_json(self, **kwargs: Any) -> str:
        """Serialise :meth:`to_dict` to a JSON string.

        Parameters
        ----------
        **kwargs
            Passed to :func:`json.dumps`.

        Returns
        -------
        str
            The JSON text.
        """
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CombinedFit:
        """Restore a combination written by :meth:`to_dict`.

        Parameters
        ----------
        d : mapping
            Output of :meth:`to_dict`.

        Returns
        -------
        CombinedFit
            The restored combination.
        """
        if d.get("kind") != COMBINATION_KIND:
            raise DataValidationError(
                "Not a combination of fits (no \"kind\": \"combination\"); read a single "
                "fit with FitResult.from_dict.", column="kind")
        members = tuple(FitResult.from_dict(m) for m in d["members"])
        return cls(members, tuple(float(w) for w in d["weights"]),
                   from_jsonable(dict(d.get("settings") or {})))

    @classmethod
    def from_json(cls, text: str) -> CombinedFit:
        """Restore a combination from :meth:`to_json` text.

        Parameters
        ----------
        text : str
            JSON text.

        Returns
        -------
        CombinedFit
            The restored combination.
        """
        return cls.from_dict(json.loads(text))

    def equals(self, other: CombinedFit) -> bool:
        """Exact equality of everything stored.

        Parameters
        ----------
        other : CombinedFit
            The combination to compare with.

        Returns
        -------
        bool
            True when every stored field is the same.
        """
        if not isinstance(other, CombinedFit):
            return False
        return json.dumps(self.to_dict(), sort_keys=True) == json.dumps(
            other.to_dict(), sort_keys=True)


def _method(member: FitResult) -> Literal["wald", "bootstrap"]:
    """The interval method a combination reports for a member's parameters."""
    return "bootstrap" if member.bootstrap is not None else "wald"


def combine(results: Sequence[FitResult], *, weights: Sequence[float] | None = None,
            settings: Mapping[str, Any] | None = None) -> CombinedFit:
    """Combine fits of several laws to the same runs (see :class:`CombinedFit`).

    Parameters
    ----------
    results : sequence of FitResult
        At least two fits with the same inputs, target and rows.
    weights : sequence of float, optional
        Non-negative member weights (normalised); default equal.
    settings : mapping, optional
        Recorded in the combination.

    Returns
    -------
    CombinedFit
        The combination.

    Raises
    ------
    DataValidationError
        Fewer than two results, results of other inputs, targets or rows, or
        bad weights.

    Examples
    --------
    >>> import numpy as np, pandas as pd, scalelaw as sl
    >>> n = np.logspace(3, 6, 20)
    >>> df = pd.DataFrame({"n": n, "L": 0.5 + 20 * n ** -0.4})
    >>> fits = [sl.fit(law, df, x="n", y="L") for law in ("power", "saturating_power")]
    >>> avg = sl.combine(fits)
    >>> bool(np.isclose(avg.predict(n=1e7)[0],
    ...                 np.sqrt(fits[0].predict(n=1e7)[0] * fits[1].predict(n=1e7)[0])))
    True
    """
    members = tuple(results)
    if len(members) < 2 or not all(isinstance(m, FitResult) for m in members):
        raise DataValidationError(
            f"The 'results' parameter of combine needs at least two FitResult objects. Got "
            f"{len(members)} item(s) of type(s) {sorted({type(m).__name__ for m in members})} "
            "instead.", column="results")
    first = members[0]
    for m in members[1:]:
        if m.x != first.x or m.y != first.y:
            raise DataValidationError(
                f"Combined fits must share inputs and target: {first.law.name!r} has "
                f"x={list(first.x)}, y={first.y!r}; {m.law.name!r} has x={list(m.x)}, "
                f"y={m.y!r}.", column="results")
        if len(m.data) != len(first.data) or not np.array_equal(
                m.data[[*first.x, first.y]].to_numpy(dtype=np.float64),
                first.data[[*first.x, first.y]].to_numpy(dtype=np.float64)):
            raise DataValidationError(
                f"Combined fits must be fitted to the same rows: {first.law.name!r} and "
                f"{m.law.name!r} were not.", column="results")
    if weights is None:
        w = np.full(len(members), 1.0 / len(members))
    else:
        w = np.asarray(weights, dtype=np.float64).reshape(-1)
        if w.size != len(members) or not np.all(np.isfinite(w)) or np.any(w < 0) \
                or w.sum() <= 0:
            raise DataValidationError(
                f"The 'weights' parameter needs {len(members)} non-negative numbers, not all "
                f"zero. Got {list(weights)!r} instead.", column="weights")
        w = w / w.sum()
    return CombinedFit(members, tuple(float(v) for v in w), dict(settings or {}))


def result_from_dict(d: Mapping[str, Any]) -> FitResult | CombinedFit:
    """A fit or a combination from its :meth:`to_dict` content (by its ``kind``).

    Parameters
    ----------
    d : mapping
        Output of :meth:`FitResult.to_dict` or :meth:`CombinedFit.to_dict`.

    Returns
    -------
    FitResult or CombinedFit
        The restored result.
    """
    if d.get("kind") == COMBINATION_KIND:
        return CombinedFit.from_dict(d)
    return FitResult.from_dict(d)
