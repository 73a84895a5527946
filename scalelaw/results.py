"""Fit results: estimates, uncertainty, diagnostics, reports and JSON round trip."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from scalelaw._validation import check_level, unknown_name
from scalelaw.exceptions import DataValidationError, ScaleLawError
from scalelaw.laws import Inputs, ScalingLaw, law_from_spec

__all__ = ["SCHEMA_VERSION", "Diagnostic", "FitResult", "GroupedFitResult"]

SCHEMA_VERSION = 1
IntervalMethod = Literal["wald", "profile", "bootstrap"]


@dataclass(frozen=True)
class Diagnostic:
    """One finding about a fit.

    Parameters
    ----------
    code : str
        Machine-readable kind: ``at_bound``, ``high_correlation``,
        ``ill_conditioned``, ``start_disagreement``, ``not_converged``,
        ``few_inside``, ``profile_open``, ``bootstrap_failures``, ``low_dof``.
    message : str
        Explanation with what to do about it.
    params : tuple of str, default=()
        Parameters concerned.
    """

    code: str
    message: str
    params: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain-type copy."""
        return {"code": self.code, "message": self.message, "params": list(self.params)}

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def _enc(value: Any) -> Any:
    """JSON-safe float: non-finite values become strings, so nothing is lost."""
    if isinstance(value, float | np.floating):
        v = float(value)
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return v
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.ndarray):
        return [_enc(v) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [_enc(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _enc(v) for k, v in value.items()}
    return value


def _dec(value: Any) -> Any:
    if isinstance(value, str) and value in ("nan", "inf", "-inf"):
        return float(value)
    if isinstance(value, list):
        return [_dec(v) for v in value]
    if isinstance(value, dict):
        return {k: _dec(v) for k, v in value.items()}
    return value


@dataclass(frozen=True, eq=False)
class FitResult:
    """A fitted scaling law: estimates, uncertainty, diagnostics and the data used.

    Built by :func:`scalelaw.fit`; not meant to be constructed by hand.
    ``params``, ``stderr`` and ``cov`` are in natural units; ``theta`` and
    ``cov_internal`` in the optimiser's coordinates (log scale for positive
    scale parameters), where intervals are formed before being mapped back.

    Examples
    --------
    >>> import numpy as np, pandas as pd, scalelaw as sl
    >>> x = np.logspace(6, 9, 12)
    >>> df = pd.DataFrame({"n_params": x, "loss": 3.0 * x ** -0.1})
    >>> res = sl.fit("power", df, x="n_params", y="loss", objective="mse_log")
    >>> print(f"{res.params['alpha']:.3f}")
    0.100
    >>> print(f"{res.predict(n_params=1e10)[0]:.4f}")
    0.3000
    """

    law: ScalingLaw
    x: tuple[str, ...]
    y: str
    params: pd.Series
    stderr: pd.Series
    cov: pd.DataFrame
    theta: np.ndarray
    cov_internal: np.ndarray
    objective: str
    delta: float
    loss: float
    n_obs: int
    dof_resid: int
    aic: float
    bic: float
    converged: bool
    message: str
    n_starts: int
    n_starts_converged: int
    n_starts_at_best: int
    optima: pd.DataFrame
    data: pd.DataFrame
    domain: dict[str, tuple[float, float]]
    excluded: dict[str, int]
    diagnostics: tuple[Diagnostic, ...]
    scale: dict[str, float]
    level: float
    bootstrap: pd.DataFrame | None
    bootstrap_info: dict[str, Any]
    settings: dict[str, Any]
    versions: dict[str, str]
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------ intervals
    @property
    def default_interval_method(self) -> IntervalMethod:
        """``"bootstrap"`` when replicas exist, else ``"profile"``."""
        return "bootstrap" if self.bootstrap is not None else "profile"

    def conf_int(
        self, level: float | None = None, *, method: IntervalMethod | None = None
    ) -> pd.DataFrame:
        """Confidence intervals of the parameters (natural units).

        Parameters
        ----------
        level : float, optional
            Coverage (default: the level the fit was made with, 0.95).
        method : {"wald", "profile", "bootstrap"}, optional
            Default: bootstrap when replicas exist, else profile.

        Returns
        -------
        pandas.DataFrame
            Index = parameter names; columns ``lower``, ``upper``.

        Examples
        --------
        >>> import numpy as np, pandas as pd, scalelaw as sl
        >>> rng = np.random.default_rng(0)
        >>> x = np.logspace(6, 9, 30)
        >>> y = 3.0 * x ** -0.1 * np.exp(0.01 * rng.standard_normal(30))
        >>> res = sl.fit("power", pd.DataFrame({"n": x, "L": y}), x="n", y="L",
        ...              objective="mse_log")
        >>> ci = res.conf_int(method="wald")
        >>> bool(ci.loc["alpha", "lower"] < 0.1 < ci.loc["alpha", "upper"])
        True
        """
        level = self.level if level is None else check_level(level)
        method = method or self.default_interval_method
        key = f"{method}:{level!r}"
        if key in self._cache:
            return self._cache[key].copy()
        if method == "wald":
            lo_i, hi_i = self._wald_internal(level)
        elif method == "profile":
            from scalelaw.uncertainty import profile_intervals

            lo_i, hi_i, notes = profile_intervals(
                self.law, self._objective(), self.theta, self.loss, self.cov_internal,
                self._terms(), level, self.dof_resid,
                n_threads=self.settings.get("n_threads"),
            )
            self._cache[f"profile_notes:{level!r}"] = notes
        elif method == "bootstrap":
            if self.bootstrap is None:
                raise ScaleLawError(
                    "No bootstrap replicas in this result. Fit with bootstrap=N (or "
                    "--bootstrap N), or call result.with_bootstrap(N)."
                )
            a = (1.0 - level) / 2.0
            draws = self.bootstrap[list(self.law.param_names)].to_numpy()
            lo_n = np.nanquantile(draws, a, axis=0)
            hi_n = np.nanquantile(draws, 1.0 - a, axis=0)
            out = pd.DataFrame({"lower": lo_n, "upper": hi_n}, index=self.params.index)
            self._cache[key] = out
            return out.copy()
        else:
            raise unknown_name("interval method", str(method),
                               ["bootstrap", "profile", "wald"])
        b_lo, b_hi = self.law.internal_bounds()
        with np.errstate(over="ignore"):
            lo_n = self.law.to_natural(np.clip(lo_i, b_lo, b_hi))
            hi_n = self.law.to_natural(np.clip(hi_i, b_lo, b_hi))
        out = pd.DataFrame({"lower": lo_n, "upper": hi_n}, index=self.params.index)
        self._cache[key] = out
        return out.copy()

    def _wald_internal(self, level: float) -> tuple[np.ndarray, np.ndarray]:
        se = np.sqrt(np.diag(self.cov_internal))
        q = self._quantile(level)
        return self.theta - q * se, self.theta + q * se

    def _quantile(self, level: float) -> float:
        return float(stats.t.ppf(0.5 + level / 2.0, max(self.dof_resid, 1)))

    def params_frame(self, level: float | None = None) -> pd.DataFrame:
        """Estimates with standard errors and intervals, one row per parameter.

        Returns
        -------
        pandas.DataFrame
            Columns ``estimate``, ``stderr``, ``lower``, ``upper``, ``at_bound``.
        """
        ci = self.conf_int(level)
        at_bound = {p for d in self.diagnostics if d.code == "at_bound" for p in d.params}
        return pd.DataFrame(
            {
                "estimate": self.params,
                "stderr": self.stderr,
                "lower": ci["lower"],
                "upper": ci["upper"],
                "at_bound": [p in at_bound for p in self.params.index],
            }
        )

    # ----------------------------------------------------------- prediction
    def _inputs_from(self, inputs: Mapping[str, Any]) -> tuple[Inputs, tuple[int, ...]]:
        missing = [c for c in self.x if c not in inputs]
        extra = [k for k in inputs if k not in self.x]
        if missing or extra:
            raise DataValidationError(
                f"predict() needs the inputs {list(self.x)} by name; "
                + (f"missing {missing}" if missing else "")
                + ("; " if missing and extra else "")
                + (f"unexpected {extra}" if extra else "")
                + ".",
                column=(missing or extra)[0],
            )
        arrays = np.broadcast_arrays(
            *[np.atleast_1d(np.asarray(inputs[c], dtype=np.float64)) for c in self.x]
        )
        for c, a in zip(self.x, arrays, strict=True):
            bad = ~np.isfinite(a) | ((a <= 0) if self.law.positive_inputs else False)
            if np.any(bad):
                raise DataValidationError(
                    f"Input {c!r} must be finite"
                    + (" and > 0" if self.law.positive_inputs else "")
                    + f"; got {a[bad].ravel()[:3].tolist()}.",
                    column=c,
                )
        return Inputs([a.ravel() for a in arrays]), arrays[0].shape

    def predict(self, **inputs: Any) -> np.ndarray:
        """Predict the target at new inputs given by column name.

        Returns
        -------
        numpy.ndarray
            Predictions, shaped like the broadcast inputs.
        """
        X, shape = self._inputs_from(inputs)
        value, _ = self.law._value_jac(self.theta[None, :], X, log=False, jac=False)
        return value[0].reshape(shape)

    def get_prediction(
        self,
        level: float | None = None,
        *,
        extrapolate: bool = False,
        max_extrapolation: float = 10.0,
        calibrate: bool = True,
        **inputs: Any,
    ) -> pd.DataFrame:
        """Forecast table with the interval of the mean curve and of a new run.

        Parameters
        ----------
        level : float, optional
            Coverage of both intervals (default: the fit's level).
        extrapolate : bool, default=False
            Allow points more than ``max_extrapolation`` times beyond the fitted
            domain (their distance is always reported).
        max_extrapolation : float, default=10.0
            Largest allowed ratio of a new input to the nearest edge of its
            observed range, unless ``extrapolate=True``.
        calibrate : bool, default=True
            Widen prediction intervals beyond the domain by the error growth
            measured in backtests on the fit's own data
            (:func:`scalelaw.forecast.extrapolation_calibration`; refits the
            law a few times, once per result).
        **inputs : array_like
            New inputs by column name (broadcast together).

        Returns
        -------
        pandas.DataFrame
            The inputs, ``mean``, ``mean_ci_lower``, ``mean_ci_upper``,
            ``obs_ci_lower``, ``obs_ci_upper``, ``extrapolation_factor`` (1
            inside the domain) and ``extrapolation_distance`` (in observed
            log-ranges).

        Raises
        ------
        ExtrapolationError
            A point lies beyond ``max_extrapolation`` and ``extrapolate`` is False.

        Examples
        --------
        >>> import numpy as np, pandas as pd, scalelaw as sl
        >>> x = np.logspace(6, 8, 20)
        >>> rng = np.random.default_rng(0)
        >>> y = 3.0 * x ** -0.1 * np.exp(0.01 * rng.standard_normal(20))
        >>> res = sl.fit("power", pd.DataFrame({"n": x, "L": y}), x="n", y="L")
        >>> tab = res.get_prediction(0.9, n=[1e7, 5e8])
        >>> bool((tab.obs_ci_lower < tab["mean"]).all()), tab.extrapolation_factor.round(3).tolist()
        (True, [1.0, 5.0])
        >>> res.get_prediction(n=1e10)
        Traceback (most recent call last):
        ...
        scalelaw.exceptions.ExtrapolationError: 1 requested point(s) lie more than 10x ...
        """
        from scalelaw.forecast import get_prediction

        return get_prediction(
            self, level, extrapolate=extrapolate, max_extrapolation=max_extrapolation,
            calibrate=calibrate, **inputs,
        )

    def _band(
        self, X: Inputs, level: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mean prediction and pointwise interval of the mean curve.

        From the bootstrap replicas when present (percentiles of the replica
        curves), else by the delta method on the log prediction.
        """
        mean, grads = self.law._value_jac(self.theta[None, :], X, log=True)
        mean = mean[0]
        if self.bootstrap is not None:
            draws = self.bootstrap[list(self.law.param_names)].dropna().to_numpy()
            theta_b = self.law.to_internal(draws)
            curves, _ = self.law._value_jac(theta_b, X, log=True, jac=False)
            a = (1.0 - level) / 2.0
            lo = np.nanquantile(curves, a, axis=0)
            hi = np.nanquantile(curves, 1.0 - a, axis=0)
        else:
            jac = np.stack([np.broadcast_to(g, (1, X.n))[0] for g in grads], axis=1)
            cov = np.where(np.isfinite(self.cov_internal), self.cov_internal, 0.0)
            se = np.sqrt(np.maximum(np.einsum("np,pq,nq->n", jac, cov, jac), 0.0))
            q = self._quantile(level)
            lo, hi = mean - q * se, mean + q * se
        return np.exp(mean), np.exp(lo), np.exp(hi)

    # ------------------------------------------------------------- internals
    def _x_arrays(self) -> list[np.ndarray]:
        return [self.data[c].to_numpy(dtype=np.float64) for c in self.x]

    def _objective(self, weights: np.ndarray | None = None,
                   weight_index: np.ndarray | None = None) -> Any:
        from scalelaw._objective import Objective

        w = self.data["weight"].to_numpy(dtype=np.float64)
        if weights is not None:
            w = weights * w[None, :]
        return Objective(
            self.law, Inputs(self._x_arrays()), self.data[self.y].to_numpy(np.float64),
            self.objective, self.delta, weights=w, weight_index=weight_index,
        )

    def _terms(self) -> Any:
        from scalelaw.uncertainty import ScaleTerms

        s = self.scale
        return ScaleTerms(s2=s["s2"], m=s["m"], k=s["k"], n_inside=int(s["n_inside"]))

    # --------------------------------------------------------------- report
    def summary(self) -> str:
        """Return a readable report of the fit.

        Returns
        -------
        str
            Header, parameter table with intervals, and diagnostics.
        """
        method = self.default_interval_method
        ci = self.conf_int(method=method)
        dom = "  ".join(
            f"{c}=[{lo:.4g}, {hi:.4g}]" for c, (lo, hi) in self.domain.items()
        )
        bound = ", ".join(
            f"{a} <- {c!r}" for a, c in zip(self.law.inputs, self.x, strict=True)
        )
        lines = [
            f"Scaling-law fit: {self.law.name}    {self.law.formula}",
            f"inputs: {bound}    target: {self.y!r}",
            f"objective={self.objective}"
            + (f" (delta={self.delta:g})" if self.objective == "huber_log" else "")
            + f"  n_obs={self.n_obs}  dof_resid={self.dof_resid}  loss={self.loss:.10g}",
            f"starts={self.n_starts} (converged {self.n_starts_converged}, "
            f"at best optimum {self.n_starts_at_best})  converged={self.converged}"
            f"  AIC={self.aic:.4g}  BIC={self.bic:.4g}",
            f"domain: {dom}",
        ]
        if "auto" in self.settings:
            lines.append(f"law: {self.settings['auto']['reason']}")
        if any(self.excluded.values()):
            lines.append(
                "excluded rows: "
                + ", ".join(f"{k}={v}" for k, v in self.excluded.items() if v)
            )
        if self.bootstrap is not None:
            info = self.bootstrap_info
            lines.append(
                f"bootstrap: {info['n_boot']} replicas resampling "
                f"{info['unit']}, {info['n_starts']} warm start(s), seed "
                f"{info['random_state']}, {info['n_failed']} failed"
            )
        head = f"{'':10s}{'estimate':>14s}{'std err':>12s}   {self.level:.0%} {method} interval"
        lines += ["", head]
        at_bound = {p for d in self.diagnostics if d.code == "at_bound" for p in d.params}
        for name in self.params.index:
            est, se = self.params[name], self.stderr[name]
            lo, hi = ci.loc[name, "lower"], ci.loc[name, "upper"]
            note = "  at bound" if name in at_bound else ""
            lines.append(
                f"{name:10s}{est:>14.6g}{se:>12.4g}   [{lo:.6g}, {hi:.6g}]{note}"
            )
        diags = list(self.diagnostics)
        notes = self._cache.get(f"profile_notes:{self.level!r}", [])
        if method == "profile":
            diags += [Diagnostic("profile_open", n) for n in notes]
        lines.append("")
        if diags:
            lines.append("Diagnostics:")
            lines += [f"  - {d}" for d in diags]
        else:
            lines.append("Diagnostics: none")
        return "\n".join(lines)

    # ----------------------------------------------------------------- JSON
    def to_dict(self) -> dict[str, Any]:
        """Lossless JSON-ready dictionary (non-finite floats as strings).

        The keys ``law``, ``params``, ``stderr``, ``conf_int``, ``n_obs``,
        ``converged`` and ``diagnostics`` form the stable command-line
        schema; the rest lets :meth:`from_dict` restore the result exactly.

        Returns
        -------
        dict
            JSON-ready content.
        """
        method = self.default_interval_method
        ci = self.conf_int(method=method)
        boot = None
        if self.bootstrap is not None:
            boot = {c: self.bootstrap[c].tolist() for c in self.bootstrap.columns}
        out = {
            "schema_version": SCHEMA_VERSION,
            "law": self.law.name,
            "formula": self.law.formula,
            "law_spec": self.law.to_spec(),
            "x": list(self.x),
            "y": self.y,
            "params": {k: float(v) for k, v in self.params.items()},
            "stderr": {k: float(v) for k, v in self.stderr.items()},
            "conf_int": {k: [float(ci.loc[k, "lower"]), float(ci.loc[k, "upper"])]
                         for k in self.params.index},
            "conf_int_method": method,
            "level": self.level,
            "cov": self.cov.to_numpy().tolist(),
            "theta": self.theta.tolist(),
            "cov_internal": self.cov_internal.tolist(),
            "objective": self.objective,
            "delta": self.delta,
            "loss": self.loss,
            "n_obs": self.n_obs,
            "dof_resid": self.dof_resid,
            "aic": self.aic,
            "bic": self.bic,
            "converged": self.converged,
            "message": self.message,
            "n_starts": self.n_starts,
            "n_starts_converged": self.n_starts_converged,
            "n_starts_at_best": self.n_starts_at_best,
            "optima": {c: self.optima[c].tolist() for c in self.optima.columns},
            "data": {c: self.data[c].tolist() for c in self.data.columns},
            "domain": {k: list(v) for k, v in self.domain.items()},
            "excluded": dict(self.excluded),
            "diagnostics": [d.to_dict() for d in self.diagnostics],
            "scale": dict(self.scale),
            "bootstrap": boot,
            "bootstrap_info": dict(self.bootstrap_info),
            "settings": dict(self.settings),
            "versions": dict(self.versions),
            "calibration": {k.split(":", 1)[1]: v.to_dict() for k, v in self._cache.items()
                            if k.startswith("calibration:")},
        }
        return _enc(out)

    def to_json(self, **kwargs: Any) -> str:
        """Serialise :meth:`to_dict` to a JSON string."""
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, law: ScalingLaw | None = None) -> FitResult:
        """Restore a result written by :meth:`to_dict`.

        Parameters
        ----------
        d : mapping
            Output of :meth:`to_dict` (possibly through JSON).
        law : ScalingLaw, optional
            Needed only for laws defined by a Python callable.

        Returns
        -------
        FitResult
            The restored result.
        """
        d = _dec(dict(d))
        version = d.get("schema_version")
        if version != SCHEMA_VERSION:
            raise DataValidationError(
                f"Fit JSON has schema_version {version!r}; this scalelaw reads "
                f"{SCHEMA_VERSION}.",
                column="schema_version",
            )
        law = law or law_from_spec(d["law_spec"])
        names = list(law.param_names)
        boot = None
        if d.get("bootstrap") is not None:
            boot = pd.DataFrame(d["bootstrap"])
        cache: dict[str, Any] = {}
        if d.get("calibration"):
            from scalelaw.forecast import ExtrapolationCalibration

            cache = {f"calibration:{k}": ExtrapolationCalibration.from_dict(v)
                     for k, v in d["calibration"].items()}
        return cls(
            _cache=cache,
            law=law,
            x=tuple(d["x"]),
            y=d["y"],
            params=pd.Series(d["params"], dtype=np.float64)[names],
            stderr=pd.Series(d["stderr"], dtype=np.float64)[names],
            cov=pd.DataFrame(np.array(d["cov"], dtype=np.float64), index=names,
                             columns=names),
            theta=np.array(d["theta"], dtype=np.float64),
            cov_internal=np.array(d["cov_internal"], dtype=np.float64),
            objective=d["objective"],
            delta=float(d["delta"]),
            loss=float(d["loss"]),
            n_obs=int(d["n_obs"]),
            dof_resid=int(d["dof_resid"]),
            aic=float(d["aic"]),
            bic=float(d["bic"]),
            converged=bool(d["converged"]),
            message=d["message"],
            n_starts=int(d["n_starts"]),
            n_starts_converged=int(d["n_starts_converged"]),
            n_starts_at_best=int(d["n_starts_at_best"]),
            optima=pd.DataFrame(d["optima"]),
            data=pd.DataFrame(d["data"]),
            domain={k: (float(v[0]), float(v[1])) for k, v in d["domain"].items()},
            excluded={k: int(v) for k, v in d["excluded"].items()},
            diagnostics=tuple(
                Diagnostic(x["code"], x["message"], tuple(x["params"]))
                for x in d["diagnostics"]
            ),
            scale={k: int(v) if k == "n_inside" else float(v)
                   for k, v in d["scale"].items()},
            level=float(d["level"]),
            bootstrap=boot,
            bootstrap_info=dict(d.get("bootstrap_info") or {}),
            settings=dict(d["settings"]),
            versions=dict(d["versions"]),
        )

    @classmethod
    def from_json(cls, text: str, *, law: ScalingLaw | None = None) -> FitResult:
        """Restore a result from :meth:`to_json` text."""
        return cls.from_dict(json.loads(text), law=law)

    def equals(self, other: FitResult) -> bool:
        """Exact equality of everything stored (pandas-style, NaN equal to NaN)."""
        if not isinstance(other, FitResult):
            return False
        return json.dumps(self.to_dict(), sort_keys=True) == json.dumps(
            other.to_dict(), sort_keys=True
        )

    def with_bootstrap(
        self,
        n_boot: int,
        *,
        groups: str | None = None,
        random_state: int | np.random.Generator | None = None,
    ) -> FitResult:
        """Return a copy with ``n_boot`` bootstrap replicas added.

        Parameters
        ----------
        n_boot : int
            Number of replicas (1,000 or more for 95 % percentile intervals).
        groups : str, optional
            Column of :attr:`data` whose groups are resampled whole (e.g. a seed
            column); rows otherwise.
        random_state : int, numpy.random.Generator or None, default=None
            Seed.

        Returns
        -------
        FitResult
            The same fit with :attr:`bootstrap` filled in.
        """
        from scalelaw.fitting import _add_bootstrap

        return _add_bootstrap(self, n_boot, groups=groups, random_state=random_state)

    def _replace(self, **changes: Any) -> FitResult:
        return replace(self, _cache={}, **changes)


@dataclass(frozen=True, eq=False)
class GroupedFitResult:
    """One fit per group (e.g. per model family or task), from one call.

    Parameters
    ----------
    group : str
        The grouping column.
    results : dict
        ``{group value: FitResult}`` for the groups that were fitted.
    failed : dict
        ``{group value: error message}`` for the groups that could not be
        fitted; nothing is dropped silently.
    """

    group: str
    results: dict[str, FitResult]
    failed: dict[str, str]

    def __getitem__(self, key: str) -> FitResult:
        return self.results[key]

    def __len__(self) -> int:
        return len(self.results)

    def params_frame(self) -> pd.DataFrame:
        """Tidy table: one row per (group, parameter) with intervals.

        Returns
        -------
        pandas.DataFrame
            Columns ``group``, ``param``, ``estimate``, ``stderr``, ``lower``,
            ``upper``, ``at_bound``.
        """
        frames = []
        for g, r in self.results.items():
            f = r.params_frame().rename_axis("param").reset_index()
            f.insert(0, "group", g)
            frames.append(f)
        if not frames:
            return pd.DataFrame(columns=["group", "param", "estimate", "stderr",
                                         "lower", "upper", "at_bound"])
        return pd.concat(frames, ignore_index=True)

    def summary(self) -> str:
        """Reports of every group, then the failures."""
        parts = [f"=== {self.group} = {g!r} ===\n{r.summary()}"
                 for g, r in self.results.items()]
        if self.failed:
            parts.append("Groups not fitted:\n" + "\n".join(
                f"  - {g!r}: {msg}" for g, msg in self.failed.items()))
        return "\n\n".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready content: ``{"group", "groups": {g: fit dict}, "failed"}``."""
        return {
            "group": self.group,
            "groups": {str(g): r.to_dict() for g, r in self.results.items()},
            "failed": dict(self.failed),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> GroupedFitResult:
        """Restore from :meth:`to_dict`."""
        return cls(
            group=d["group"],
            results={g: FitResult.from_dict(v) for g, v in d["groups"].items()},
            failed=dict(d.get("failed", {})),
        )
