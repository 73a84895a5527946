"""Fit results: estimates, uncertainty, diagnostics, reports and JSON round trip.

A :class:`FitResult` is plain, immutable data: every getter is a pure
function of its fields (nothing is cached or written back), so ``to_dict()``
and ``equals()`` never change after a call. Steps that add information
return a new result: :meth:`FitResult.with_bootstrap`,
:func:`scalelaw.calibrate`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from scalelaw._validation import (
    RandomStateLike,
    check_int,
    check_level,
    check_random_state,
    unknown_name,
)
from scalelaw.exceptions import DataValidationError, ScaleLawError
from scalelaw.forecast import ExtrapolationCalibration, prediction_table, t_quantile
from scalelaw.inference import (
    Diagnostic,
    ScaleTerms,
    bootstrap_groups,
    bootstrap_replicas,
    profile_intervals,
)
from scalelaw.laws import Inputs, ScalingLaw
from scalelaw.optim import Objective
from scalelaw.results._export import to_lmfit_parameters
from scalelaw.results._json import fit_from_dict, fit_to_dict
from scalelaw.results._report import fit_summary
from scalelaw.stats import percentile_intervals

__all__ = ["FitResult"]

IntervalMethod = Literal["wald", "profile", "bootstrap"]


@dataclass(frozen=True, eq=False)
class FitResult:
    """A fitted scaling law: estimates, uncertainty, diagnostics and the data used.

    Built by :func:`scalelaw.fit`; not meant to be constructed by hand.
    ``params``, ``stderr`` and ``cov`` are in natural units; ``theta`` and
    ``cov_internal`` in the optimiser's coordinates (log scale for positive
    scale parameters), where intervals are formed before being mapped back.
    ``aic`` and ``bic`` are Gaussian-likelihood values of the log (or raw)
    residuals, NaN for ``huber_log`` fits. ``message`` is the optimiser's
    verdict on the best optimum. ``calibration`` (None until
    :func:`scalelaw.calibrate`) holds the extrapolation-error calibration
    used by prediction intervals beyond the fitted domain.

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
    calibration: ExtrapolationCalibration | None = None

    # ------------------------------------------------------------ intervals
    @property
    def default_interval_method(self) -> IntervalMethod:
        """``"bootstrap"`` when replicas exist, else ``"profile"``."""
        return "bootstrap" if self.bootstrap is not None else "profile"

    def conf_int(
        self, level: float | None = None, *, method: IntervalMethod | None = None
    ) -> pd.DataFrame:
        """Confidence intervals of the parameters (natural units).

        Intervals are NaN where they are not defined (no residual degrees of
        freedom; for Wald also a singular information matrix or a parameter
        held at a bound, which the profile interval bounds by that bound).

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
        if method == "bootstrap":
            if self.bootstrap is None:
                raise ScaleLawError(
                    "No bootstrap replicas in this result. Fit with bootstrap=N (or "
                    "--bootstrap N), or call result.with_bootstrap(N)."
                )
            draws = self.bootstrap[list(self.law.param_names)].to_numpy(dtype=float)
            # a replica fails as a whole when any of its parameters is not finite
            ok = np.all(np.isfinite(draws), axis=1)
            lo_n, hi_n, _ = percentile_intervals(np.where(ok[:, None], draws, np.nan), level,
                                                 max_failed_fraction=1.0)
            return pd.DataFrame({"lower": lo_n, "upper": hi_n}, index=self.params.index)
        if method == "wald":
            lo_i, hi_i = self._wald_internal(level)
        elif method == "profile":
            lo_i, hi_i, _ = self._profile(level)
        else:
            raise unknown_name("interval method", str(method),
                               ["bootstrap", "profile", "wald"])
        b_lo, b_hi = self.law.internal_bounds()
        with np.errstate(over="ignore", invalid="ignore"):
            lo_n = self.law.to_natural(np.clip(lo_i, b_lo, b_hi))
            hi_n = self.law.to_natural(np.clip(hi_i, b_lo, b_hi))
        return pd.DataFrame({"lower": lo_n, "upper": hi_n}, index=self.params.index)

    def _wald_internal(self, level: float) -> tuple[np.ndarray, np.ndarray]:
        se = np.sqrt(np.diag(self.cov_internal))
        q = t_quantile(level, self.dof_resid)
        lo, hi = self.law.internal_bounds()
        fixed = lo == hi
        # a parameter held at a bound has no variance: its interval is the bound
        # side only (NaN stderr), a fixed one is its value
        return (np.where(fixed, self.theta, self.theta - q * se),
                np.where(fixed, self.theta, self.theta + q * se))

    def _profile(self, level: float) -> tuple[np.ndarray, np.ndarray, list[str]]:
        return profile_intervals(
            self.law, self._objective(), self.theta, self.loss, self.cov_internal,
            self._terms(), level, self.dof_resid, n_threads=self.settings.get("n_threads"),
        )

    def params_frame(self, level: float | None = None) -> pd.DataFrame:
        """Estimates with standard errors and intervals, one row per parameter.

        Parameters
        ----------
        level : float, optional
            Interval coverage (default: the fit's level).

        Returns
        -------
        pandas.DataFrame
            Columns ``estimate``, ``stderr``, ``lower``, ``upper``, ``at_bound``.

        Examples
        --------
        >>> import numpy as np, pandas as pd, scalelaw as sl
        >>> x = np.logspace(6, 9, 12)
        >>> res = sl.fit("power", pd.DataFrame({"n": x, "L": 2 * x ** -0.1}), x="n", y="L")
        >>> list(res.params_frame().columns)
        ['estimate', 'stderr', 'lower', 'upper', 'at_bound']
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
                f"Predictions need the inputs {list(self.x)} by name; "
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
                    + f"; got {[float(v) for v in a[bad].ravel()[:3]]}.",
                    column=c,
                )
        return Inputs([a.ravel() for a in arrays]), arrays[0].shape

    def _inputs_of(self, data: Any, inputs: dict[str, Any]) -> dict[str, Any]:
        """Inputs from a table (its columns named like :attr:`x`) or keywords."""
        if data is None:
            return inputs
        if inputs:
            raise DataValidationError(
                "Give the new inputs either as a table or as keywords, not both.",
                column="data",
            )
        if isinstance(data, Mapping) and not isinstance(data, pd.DataFrame):
            data = pd.DataFrame(dict(data))
        if not isinstance(data, pd.DataFrame):
            raise DataValidationError(
                f"New inputs must be a pandas DataFrame or a mapping of columns. Got "
                f"{type(data).__name__} instead.",
                column="data",
            )
        from scalelaw._validation import check_columns, numeric_column

        check_columns(data, list(self.x), role="input")
        return {c: numeric_column(data, c) for c in self.x}

    def predict(self, data: Any = None, /, **inputs: Any) -> np.ndarray:
        """Predict the target at new inputs, given as a table or by column name.

        Parameters
        ----------
        data : pandas.DataFrame or mapping, optional
            A table with the input columns :attr:`x` (other columns ignored).
        **inputs : array_like
            Or the inputs by column name (broadcast together).

        Returns
        -------
        numpy.ndarray
            Predictions, shaped like the broadcast inputs (one per table row).

        Examples
        --------
        >>> import numpy as np, pandas as pd, scalelaw as sl
        >>> x = np.logspace(6, 9, 12)
        >>> res = sl.fit("power", pd.DataFrame({"n": x, "L": 2 * x ** -0.1}), x="n", y="L")
        >>> new = pd.DataFrame({"n": [1e7, 1e8]})
        >>> np.allclose(res.predict(new), res.predict(n=[1e7, 1e8]))
        True
        """
        X, shape = self._inputs_from(self._inputs_of(data, inputs))
        value, _ = self.law.value_and_jacobian(self.theta[None, :], X, log=False, jac=False)
        return value[0].reshape(shape)

    def get_prediction(
        self,
        level: float | None = None,
        *,
        data: Any = None,
        extrapolate: bool = False,
        max_extrapolation: float = 10.0,
        **inputs: Any,
    ) -> pd.DataFrame:
        """Forecast table with the interval of the mean curve and of a new run.

        A pure function of the result: nothing is refitted or stored.
        Inside the fitted domain the intervals are the textbook ones (for
        ``power`` with ``mse_log``, those of OLS on ``(log x, log y)``).
        Beyond the domain, the prediction interval grows with the
        extrapolation error measured by :func:`scalelaw.calibrate` when the
        result carries a calibration; otherwise an
        :class:`~scalelaw.ExtrapolationWarning` says that it does not.

        Parameters
        ----------
        level : float, optional
            Coverage of both intervals (default: the fit's level).
        data : pandas.DataFrame or mapping, optional
            New inputs as a table (columns named like :attr:`x`).
        extrapolate : bool, default=False
            Allow points more than ``max_extrapolation`` times beyond the fitted
            domain (with an ExtrapolationWarning; their distance is always
            reported).
        max_extrapolation : float, default=10.0
            Largest allowed ratio of a new input to the nearest edge of its
            observed range, unless ``extrapolate=True``.
        **inputs : array_like
            Or the new inputs by column name (broadcast together).

        Returns
        -------
        pandas.DataFrame
            The inputs, ``mean``, ``mean_ci_lower``, ``mean_ci_upper``,
            ``obs_ci_lower``, ``obs_ci_upper``, ``extrapolation_factor`` (1
            inside the domain) and ``extrapolation_distance`` (in observed
            log-ranges). Intervals are NaN where they are not defined.

        Raises
        ------
        ExtrapolationError
            A point lies beyond ``max_extrapolation`` and ``extrapolate`` is False.

        Warns
        -----
        ExtrapolationWarning
            Points beyond the guard with ``extrapolate=True``, or beyond the
            domain on an uncalibrated fit.

        Examples
        --------
        >>> import numpy as np, pandas as pd, scalelaw as sl
        >>> x = np.logspace(6, 8, 20)
        >>> rng = np.random.default_rng(0)
        >>> y = 3.0 * x ** -0.1 * np.exp(0.01 * rng.standard_normal(20))
        >>> res = sl.calibrate(sl.fit("power", pd.DataFrame({"n": x, "L": y}), x="n", y="L"))
        >>> tab = res.get_prediction(0.9, n=[1e7, 5e8])
        >>> bool((tab.obs_ci_lower < tab["mean"]).all()), tab.extrapolation_factor.round(3).tolist()
        (True, [1.0, 5.0])
        >>> res.get_prediction(n=1e10)
        Traceback (most recent call last):
        ...
        scalelaw.exceptions.ExtrapolationError: 1 requested point(s) lie more than 10x ...
        """
        return prediction_table(
            self, level, extrapolate=extrapolate, max_extrapolation=max_extrapolation,
            **self._inputs_of(data, inputs),
        )

    # ------------------------------------------------------------- internals
    def _x_arrays(self) -> list[np.ndarray]:
        return [self.data[c].to_numpy(dtype=np.float64) for c in self.x]

    def _objective(self, weights: np.ndarray | None = None,
                   weight_index: np.ndarray | None = None) -> Objective:
        w = self.data["weight"].to_numpy(dtype=np.float64)
        if weights is not None:
            w = weights * w[None, :]
        return Objective(
            self.law, Inputs(self._x_arrays()), self.data[self.y].to_numpy(np.float64),
            self.objective, self.delta, weights=w, weight_index=weight_index,
        )

    def _terms(self) -> ScaleTerms:
        s = self.scale
        return ScaleTerms(s2=s["s2"], m=s["m"], k=s["k"], n_inside=int(s["n_inside"]))

    # --------------------------------------------------------------- report
    def summary(self) -> str:
        """Return a readable report of the fit.

        Returns
        -------
        str
            Header, parameter table with intervals, and diagnostics.

        Examples
        --------
        >>> import numpy as np, pandas as pd, scalelaw as sl
        >>> x = np.logspace(6, 9, 12)
        >>> res = sl.fit("power", pd.DataFrame({"n": x, "L": 2 * x ** -0.1}), x="n", y="L")
        >>> res.summary().splitlines()[0]
        'Scaling-law fit: power    L = A * x**(-alpha)'
        """
        return fit_summary(self)

    # ----------------------------------------------------------------- JSON
    def to_dict(self, *, conf_int_method: IntervalMethod | None = None) -> dict[str, Any]:
        """Lossless JSON-ready dictionary (non-finite floats as strings).

        The keys ``law``, ``params``, ``stderr``, ``conf_int``, ``n_obs``,
        ``converged`` and ``diagnostics`` form the stable command-line
        schema; the rest lets :meth:`from_dict` restore the result exactly.
        ``aic``/``bic`` are Gaussian-likelihood values (``"nan"`` for
        ``huber_log``).

        Parameters
        ----------
        conf_int_method : {"wald", "profile", "bootstrap"}, optional
            Method of the ``conf_int`` entry (default:
            :attr:`default_interval_method`; recorded as ``conf_int_method``).

        Returns
        -------
        dict
            JSON-ready content.

        Examples
        --------
        >>> import numpy as np, pandas as pd, scalelaw as sl
        >>> x = np.logspace(6, 9, 12)
        >>> res = sl.fit("power", pd.DataFrame({"n": x, "L": 2 * x ** -0.1}), x="n", y="L")
        >>> sl.FitResult.from_dict(res.to_dict()).equals(res)
        True
        """
        return fit_to_dict(self, conf_int_method)

    def to_json(self, **kwargs: Any) -> str:
        """Serialise :meth:`to_dict` to a JSON string.

        Parameters
        ----------
        **kwargs
            Passed to :func:`json.dumps` (e.g. ``indent=2``).

        Returns
        -------
        str
            The JSON text.
        """
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, law: ScalingLaw | None = None) -> FitResult:
        """Restore a result written by :meth:`to_dict`.

        Parameters
        ----------
        d : mapping
            Output of :meth:`to_dict` (possibly through JSON).
        law : ScalingLaw, optional
            Needed only for laws defined by Python code (a function or an
            lmfit model).

        Returns
        -------
        FitResult
            The restored result.
        """
        return fit_from_dict(cls, d, law)

    @classmethod
    def from_json(cls, text: str, *, law: ScalingLaw | None = None) -> FitResult:
        """Restore a result from :meth:`to_json` text.

        Parameters
        ----------
        text : str
            JSON text.
        law : ScalingLaw, optional
            As in :meth:`from_dict`.

        Returns
        -------
        FitResult
            The restored result.
        """
        return cls.from_dict(json.loads(text), law=law)

    def equals(self, other: FitResult) -> bool:
        """Exact equality of everything stored (pandas-style, NaN equal to NaN).

        Parameters
        ----------
        other : FitResult
            The result to compare with.

        Returns
        -------
        bool
            True when every stored field is the same.
        """
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
        random_state: RandomStateLike = None,
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

        Warns
        -----
        BootstrapWarning
            Fewer than 10 rows or groups to resample.

        Examples
        --------
        >>> import numpy as np, pandas as pd, scalelaw as sl
        >>> rng = np.random.default_rng(0)
        >>> x = np.logspace(6, 9, 20)
        >>> y = 2 * x ** -0.1 * np.exp(0.01 * rng.standard_normal(20))
        >>> res = sl.fit("power", pd.DataFrame({"n": x, "L": y}), x="n", y="L")
        >>> res.with_bootstrap(200, random_state=0).bootstrap.shape
        (200, 3)
        """
        n_boot = check_int(n_boot, "n_boot", minimum=2)
        seed = random_state if isinstance(random_state, int | np.integer) else None
        rng = check_random_state(random_state)
        group_values = None if groups is None else bootstrap_groups(self.data, groups)
        starts = self.law.to_internal(self.optima[list(self.law.param_names)].to_numpy())
        frame, info, diags = bootstrap_replicas(
            self.law, self._objective, starts, len(self.data), n_boot, rng,
            groups=group_values, group_name=groups, n_threads=self.settings.get("n_threads"),
        )
        info["random_state"] = None if seed is None else int(seed)
        kept = [d for d in self.diagnostics if d.code not in ("bootstrap_failures",
                                                              "few_groups")]
        return replace(self, bootstrap=frame, bootstrap_info=info,
                       diagnostics=tuple(kept + diags))

    def to_lmfit_params(self) -> Any:
        """The estimates as ``lmfit.Parameters``, for users who continue in lmfit.

        Values, standard errors, bounds, ``vary`` (False for parameters fixed
        by their bounds) and correlations are set; for an
        :class:`~scalelaw.laws.LmfitLaw` the expression constraints are
        restored too.

        Returns
        -------
        lmfit.Parameters
            The parameters.

        Examples
        --------
        >>> import numpy as np, pandas as pd, scalelaw as sl
        >>> x = np.logspace(6, 9, 12)
        >>> res = sl.fit("power", pd.DataFrame({"n": x, "L": 2 * x ** -0.1}), x="n", y="L")
        >>> p = res.to_lmfit_params()
        >>> print(f"{p['alpha'].value:.3f}")
        0.100
        """
        return to_lmfit_parameters(self)
