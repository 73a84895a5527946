"""The base of every law: parameters, batched inputs and the extension hooks.

A law is a stateless description. :func:`scalelaw.fit` binds it to data.
Internally every law evaluates a whole batch of parameter vectors at once:
parameters arrive as ``(b, 1)`` columns and inputs as ``(1, n)`` rows, so the
result is a ``(b, n)`` array.

A custom law subclasses :class:`ScalingLaw` and implements two hooks:

* :meth:`ScalingLaw.evaluate` ``(P, X) -> (b, n)``: the formula on natural
  parameter columns ``P`` and :class:`Inputs` ``X``, written with NumPy
  functions that accept complex arguments (derivatives are then exact
  complex-step derivatives);
* :meth:`ScalingLaw.start_points` ``(X, y, rng) -> (k, p)``: starting points
  in the optimiser's coordinates, the data-driven guess first.

It may override :meth:`ScalingLaw.value_and_jacobian` (closed-form
derivatives) and :meth:`ScalingLaw.value_and_vjp` (a cheaper
vector-Jacobian product). Parameters that are positive scales are optimised
on the log scale (``Param.log``); :meth:`ScalingLaw.param_columns` maps the
optimiser's coordinates back to natural values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np

from scalelaw._validation import unknown_name
from scalelaw.exceptions import DataValidationError

__all__ = ["Inputs", "Param", "ScalingLaw"]

_CSTEP = 1e-20  # complex step; exact derivative to rounding for analytic formulas


@dataclass(frozen=True)
class Param:
    """One law parameter.

    Parameters
    ----------
    name : str
        Symbol used in formulas and results (``"alpha"``, ``"E"``, ...).
    lower, upper : float
        Bounds in natural units (``-inf``/``inf`` for none).
    log : bool, default=False
        Optimise ``log(value)`` instead of the value (needs ``lower >= 0``).
    """

    name: str
    lower: float = -np.inf
    upper: float = np.inf
    log: bool = False

    def __post_init__(self) -> None:
        if not self.lower <= self.upper:
            raise DataValidationError(
                f"Bounds of parameter {self.name!r} are empty: lower={self.lower!r} > "
                f"upper={self.upper!r}.",
                column=self.name,
            )
        if self.log and self.lower < 0:
            raise DataValidationError(
                f"Parameter {self.name!r} is optimised on the log scale, so its lower "
                f"bound must be >= 0. Got {self.lower!r} instead.",
                column=self.name,
            )


class Inputs:
    """Input columns laid out as ``(1, n)`` rows, with cached logarithms.

    Parameters
    ----------
    columns : sequence of array_like
        One array per input, all of length ``n``.

    Examples
    --------
    >>> X = Inputs([[1.0, 10.0]])
    >>> X[0].shape, X.log(0).round(3).tolist()
    ((1, 2), [[0.0, 2.303]])
    """

    def __init__(self, columns: Sequence[np.ndarray]) -> None:
        self.cols = [np.asarray(c, dtype=np.float64).reshape(1, -1) for c in columns]
        self._logs: list[np.ndarray | None] = [None] * len(self.cols)
        self.n = self.cols[0].shape[1] if self.cols else 0

    def __getitem__(self, i: int) -> np.ndarray:
        return self.cols[i]

    def log(self, i: int) -> np.ndarray:
        """Return ``log`` of input ``i`` (computed once)."""
        out = self._logs[i]
        if out is None:
            with np.errstate(divide="ignore", invalid="ignore"):
                out = np.log(self.cols[i])
            self._logs[i] = out
        return out


@dataclass(frozen=True)
class ScalingLaw:
    """Base class of every law: a formula with named inputs and parameters.

    Subclasses implement the hooks :meth:`evaluate` (batched, complex-safe)
    and :meth:`start_points`, and may override :meth:`value_and_jacobian`
    with closed-form derivatives (see the module docstring).

    Parameters
    ----------
    name : str
        Registry name, e.g. ``"saturating_power"``.
    formula : str
        Human-readable formula used in reports.
    inputs : tuple of str
        Default names of the input columns, in order.
    params : tuple of Param
        Parameters with bounds and scales.
    """

    name: str
    formula: str
    inputs: tuple[str, ...]
    params: tuple[Param, ...]
    native_log: ClassVar[bool] = False  # evaluate() returns log(y) when True
    #: value_and_jacobian takes inputs with one row per problem (``(b, n)``), so
    #: searches can stack data sets (the built-in laws; user laws may assume one row)
    stackable: ClassVar[bool] = False
    #: inputs enter through logarithms (the built-in power laws): they must be > 0
    positive_inputs: ClassVar[bool] = True

    # ----------------------------------------------------------------- public
    @property
    def param_names(self) -> tuple[str, ...]:
        """Names of the parameters, in order."""
        return tuple(p.name for p in self.params)

    @property
    def bounds(self) -> dict[str, tuple[float, float]]:
        """Bounds in natural units, ``{name: (lower, upper)}``."""
        return {p.name: (p.lower, p.upper) for p in self.params}

    def with_bounds(self, **bounds: tuple[float, float]) -> ScalingLaw:
        """Return a copy with new bounds for the named parameters.

        Examples
        --------
        >>> from scalelaw.laws import PowerLaw
        >>> PowerLaw().with_bounds(alpha=(-5.0, 5.0)).bounds["alpha"]
        (-5.0, 5.0)
        """
        names = self.param_names
        for key in bounds:
            if key not in names:
                raise unknown_name(f"parameter of law {self.name!r}", key, names)
        new = tuple(
            replace(p, lower=float(bounds[p.name][0]), upper=float(bounds[p.name][1]))
            if p.name in bounds
            else p
            for p in self.params
        )
        return replace(self, params=new)

    def __call__(self, params: Mapping[str, float], **inputs: Any) -> np.ndarray:
        """Evaluate the law at natural-unit ``params`` for the given inputs.

        Inputs are given by the law's input names (``law.inputs``) and
        broadcast against each other.

        Examples
        --------
        >>> from scalelaw.laws import PowerLaw
        >>> float(PowerLaw()({"A": 2.0, "alpha": 0.5}, x=4.0)[0])
        1.0
        """
        missing = [k for k in self.inputs if k not in inputs]
        if missing:
            raise DataValidationError(
                f"Law {self.name!r} needs inputs {list(self.inputs)}; missing "
                f"{missing}.",
                column=missing[0],
            )
        arrays = np.broadcast_arrays(
            *[np.atleast_1d(np.asarray(inputs[k], dtype=np.float64)) for k in self.inputs]
        )
        shape = arrays[0].shape
        theta = self.to_internal(self._param_vector(params))[None, :]
        value, _ = self.value_and_jacobian(
            theta, Inputs([a.ravel() for a in arrays]), log=False, jac=False
        )
        return value[0].reshape(shape)

    def guess(self, x: Sequence[np.ndarray], y: np.ndarray) -> dict[str, float]:
        """Return a data-driven first guess (natural units) for the parameters."""
        theta = self.start_points(Inputs(list(x)), np.asarray(y, float), None)[0]
        return dict(zip(self.param_names, self.to_natural(theta), strict=True))

    def to_spec(self) -> dict[str, Any]:
        """Return a JSON-ready description that :func:`law_from_spec` restores."""
        return {
            "name": self.name,
            "bounds": {p.name: [p.lower, p.upper] for p in self.params},
        }

    # --------------------------------------------------------------- internal
    def _param_vector(self, params: Mapping[str, float]) -> np.ndarray:
        names = self.param_names
        unknown = [k for k in params if k not in names]
        if unknown:
            raise unknown_name(f"parameter of law {self.name!r}", unknown[0], names)
        missing = [k for k in names if k not in params]
        if missing:
            raise DataValidationError(
                f"Law {self.name!r} needs parameters {list(names)}; missing {missing}.",
                column=missing[0],
            )
        return np.array([float(params[k]) for k in names])

    # ------------------------------------------------- optimiser coordinates
    @property
    def log_mask(self) -> np.ndarray:
        """Which parameters the optimiser sees on the log scale."""
        return np.array([p.log for p in self.params], dtype=bool)

    def to_internal(self, values: np.ndarray) -> np.ndarray:
        """Map natural values to the optimiser's coordinates (log for log-params)."""
        values = np.asarray(values, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.log_mask, np.log(np.where(self.log_mask, values, 1.0)),
                            values)

    def to_natural(self, theta: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`to_internal`."""
        theta = np.asarray(theta, dtype=np.float64)
        return np.where(self.log_mask, np.exp(np.where(self.log_mask, theta, 0.0)), theta)

    def internal_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Bounds in the optimiser's coordinates."""
        lo = np.array([p.lower for p in self.params], dtype=np.float64)
        hi = np.array([p.upper for p in self.params], dtype=np.float64)
        m = self.log_mask
        with np.errstate(divide="ignore"):
            lo = np.where(m, np.log(np.where(m, lo, 1.0)), lo)
            hi = np.where(m, np.log(np.where(m, hi, 1.0)), hi)
        return lo, hi

    def param_columns(self, theta: np.ndarray) -> list[np.ndarray]:
        """Natural parameter columns ``(b, 1)`` from optimiser coordinates ``(b, p)``."""
        out = []
        for j, p in enumerate(self.params):
            col = theta[:, j : j + 1]
            out.append(np.exp(col) if p.log else col)
        return out

    # ------------------------------------------------------------------ hooks
    def evaluate(self, P: list[np.ndarray], X: Inputs) -> np.ndarray:
        """Hook: the formula for a batch of parameter vectors.

        Parameters
        ----------
        P : list of ndarray
            One ``(b, 1)`` column per parameter, in natural units (complex
            during complex-step differentiation).
        X : Inputs
            The input columns as ``(1, n)`` rows (``X[i]``, ``X.log(i)``).

        Returns
        -------
        ndarray of shape (b, n)
            The prediction, or its logarithm when the class sets
            ``native_log = True``.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement evaluate(P, X) (see scalelaw.laws)."
        )

    def value_and_jacobian(
        self, theta: np.ndarray, X: Inputs, *, log: bool, jac: bool = True
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Hook: the prediction (or its log) and its derivatives w.r.t. ``theta``.

        The default differentiates :meth:`evaluate` by complex steps; laws
        with closed-form derivatives override it.

        Parameters
        ----------
        theta : ndarray of shape (b, p)
            Parameters in the optimiser's coordinates.
        X : Inputs
            Input columns.
        log : bool
            Return ``log(prediction)`` and its derivatives.
        jac : bool, default=True
            Compute the derivatives (else an empty list).

        Returns
        -------
        value : ndarray of shape (b, n)
            The prediction or its log.
        grads : list of ndarray
            One array per parameter, broadcastable to ``(b, n)``.
        """
        value = np.real(self.evaluate(self.param_columns(theta), X))
        grads: list[np.ndarray] = []
        if jac:
            for j in range(theta.shape[1]):
                tc = theta.astype(np.complex128)
                tc[:, j] += 1j * _CSTEP
                grads.append(np.imag(self.evaluate(self.param_columns(tc), X)) / _CSTEP)
        return _convert(value, grads, native_log=self.native_log, want_log=log)

    def value_and_vjp(
        self, theta: np.ndarray, X: Inputs, *, log: bool
    ) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
        """Hook: the prediction and a function ``w -> sum_n w * d value / d theta``.

        The objective only needs this vector-Jacobian product, which laws with
        a closed form can compute without building the Jacobian.

        Returns
        -------
        value : ndarray of shape (b, n)
            As :meth:`value_and_jacobian`.
        vjp : callable
            ``vjp(w)`` with ``w`` of shape ``(b, n)`` returns ``(b, p)``.
        """
        value, grads = self.value_and_jacobian(theta, X, log=log)

        def vjp(w: np.ndarray) -> np.ndarray:
            out = np.empty((w.shape[0], len(grads)))
            for j, gj in enumerate(grads):
                out[:, j] = np.einsum("bn,bn->b", np.broadcast_to(gj, w.shape), w)
            return out

        return value, vjp

    def start_points(
        self, X: Inputs, y: np.ndarray, rng: np.random.Generator | None
    ) -> np.ndarray:
        """Hook: default starting points in the optimiser's coordinates.

        Parameters
        ----------
        X : Inputs
            Input columns of the data.
        y : ndarray of shape (n,)
            Targets (positive).
        rng : numpy.random.Generator or None
            For laws that draw starts; None means a fixed seed, so a fit
            without ``random_state`` is still deterministic.

        Returns
        -------
        ndarray of shape (k, p)
            Starting points, the data-driven guess first.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement start_points(X, y, rng)."
        )


def _convert(
    value: np.ndarray, grads: list[np.ndarray], *, native_log: bool, want_log: bool
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Switch between log-space and raw-space predictions and Jacobians."""
    if native_log == want_log:
        return value, grads
    if native_log:  # have log(y), want y
        out = np.exp(value)
        return out, [out * g for g in grads]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(value > 0, np.log(np.where(value > 0, value, 1.0)), np.nan)
        return out, [g / value for g in grads]


def _loglinear(logx: np.ndarray, logy: np.ndarray) -> tuple[float, float]:
    """OLS of log y on log x: return (intercept, slope); slope 0 when log x is constant."""
    dx = logx - logx.mean()
    sxx = float(dx @ dx)
    slope = float(dx @ (logy - logy.mean())) / sxx if sxx > 0 else 0.0
    return float(logy.mean() - slope * logx.mean()), slope


def _clip_theta(law: ScalingLaw, theta: np.ndarray) -> np.ndarray:
    lo, hi = law.internal_bounds()
    finite_lo = np.where(np.isfinite(lo), lo, -1e300)
    finite_hi = np.where(np.isfinite(hi), hi, 1e300)
    return np.clip(theta, finite_lo, finite_hi)


