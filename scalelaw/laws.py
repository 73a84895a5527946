"""Scaling-law specifications: formula, parameters, bounds, guesses and starts.

A law is a stateless description. :func:`scalelaw.fit` binds it to data.
Parameters that are positive scales (``A``, ``B``, ``E`` of Chinchilla, ...)
are optimised on the log scale (``Param.log``), which is how the published
4,500-start Chinchilla grid of Hoffmann et al. and Epoch AI is defined.

Internally every law evaluates a whole batch of parameter vectors at once:
parameters arrive as ``(b, 1)`` columns and inputs as ``(1, n)`` rows, so the
result is a ``(b, n)`` array. Derivatives come from closed forms (power,
saturating power, Chinchilla) or from complex-step differentiation, which is
exact to rounding for the analytic functions allowed in formulas.
"""

from __future__ import annotations

import ast
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np

from scalelaw._validation import suggest, unknown_name
from scalelaw.exceptions import DataValidationError

__all__ = [
    "LAWS",
    "CallableLaw",
    "ChinchillaLaw",
    "ExpressionLaw",
    "KaplanLaw",
    "Param",
    "PowerLaw",
    "SaturatingPowerLaw",
    "ScalingLaw",
    "get_law",
    "list_laws",
]

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
    """Input columns laid out as ``(1, n)`` rows, with cached logarithms."""

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

    Subclasses implement :meth:`_formula` (batched, complex-safe) and may
    override :meth:`_value_jac` with closed-form derivatives.

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
    native_log: ClassVar[bool] = False  # _formula returns log(y) when True
    positive_inputs: ClassVar[bool] = True  # inputs enter through logs or powers

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
        value, _ = self._value_jac(theta, Inputs([a.ravel() for a in arrays]), log=False,
                                   jac=False)
        return value[0].reshape(shape)

    def guess(self, x: Sequence[np.ndarray], y: np.ndarray) -> dict[str, float]:
        """Return a data-driven first guess (natural units) for the parameters."""
        theta = self._start_points(Inputs(list(x)), np.asarray(y, float), None)[0]
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

    @property
    def _log_mask(self) -> np.ndarray:
        return np.array([p.log for p in self.params], dtype=bool)

    def to_internal(self, values: np.ndarray) -> np.ndarray:
        """Map natural values to the optimiser's coordinates (log for log-params)."""
        values = np.asarray(values, dtype=np.float64)
        with np.errstate(divide="ignore"):
            return np.where(self._log_mask, np.log(np.where(self._log_mask, values, 1.0)),
                            values)

    def to_natural(self, theta: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`to_internal`."""
        theta = np.asarray(theta, dtype=np.float64)
        return np.where(self._log_mask, np.exp(np.where(self._log_mask, theta, 0.0)), theta)

    def internal_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Bounds in the optimiser's coordinates."""
        lo = np.array([p.lower for p in self.params], dtype=np.float64)
        hi = np.array([p.upper for p in self.params], dtype=np.float64)
        m = self._log_mask
        with np.errstate(divide="ignore"):
            lo = np.where(m, np.log(np.where(m, lo, 1.0)), lo)
            hi = np.where(m, np.log(np.where(m, hi, 1.0)), hi)
        return lo, hi

    def _columns(self, theta: np.ndarray) -> list[np.ndarray]:
        """Natural parameter columns ``(b, 1)`` from internal ``theta`` (b, p)."""
        out = []
        for j, p in enumerate(self.params):
            col = theta[:, j : j + 1]
            out.append(np.exp(col) if p.log else col)
        return out

    def _formula(self, P: list[np.ndarray], X: Inputs) -> np.ndarray:
        raise NotImplementedError

    def _value_jac(
        self, theta: np.ndarray, X: Inputs, *, log: bool, jac: bool = True
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Return the prediction (or its log) and its derivatives w.r.t. ``theta``.

        The default differentiates :meth:`_formula` by complex steps.
        """
        value = np.real(self._formula(self._columns(theta), X))
        grads: list[np.ndarray] = []
        if jac:
            for j in range(theta.shape[1]):
                tc = theta.astype(np.complex128)
                tc[:, j] += 1j * _CSTEP
                grads.append(np.imag(self._formula(self._columns(tc), X)) / _CSTEP)
        return _convert(value, grads, native_log=self.native_log, want_log=log)

    def _value_vjp(
        self, theta: np.ndarray, X: Inputs, *, log: bool
    ) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
        """Return the prediction and a function ``w -> sum_n w * d value / d theta``.

        The objective only needs this vector-Jacobian product, which laws with
        a closed form can compute without building the Jacobian.
        """
        value, grads = self._value_jac(theta, X, log=log)

        def vjp(w: np.ndarray) -> np.ndarray:
            out = np.empty((w.shape[0], len(grads)))
            for j, gj in enumerate(grads):
                out[:, j] = np.einsum("bn,bn->b", np.broadcast_to(gj, w.shape), w)
            return out

        return value, vjp

    def _start_points(
        self, X: Inputs, y: np.ndarray, rng: np.random.Generator | None
    ) -> np.ndarray:
        """Default starts (internal coordinates); the first row is the guess."""
        raise NotImplementedError


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
    """OLS of log y on log x: return (intercept, slope)."""
    slope, intercept = np.polyfit(logx, logy, 1)
    return float(intercept), float(slope)


def _clip_theta(law: ScalingLaw, theta: np.ndarray) -> np.ndarray:
    lo, hi = law.internal_bounds()
    finite_lo = np.where(np.isfinite(lo), lo, -1e300)
    finite_hi = np.where(np.isfinite(hi), hi, 1e300)
    return np.clip(theta, finite_lo, finite_hi)


# ----------------------------------------------------------------- built-ins
@dataclass(frozen=True)
class PowerLaw(ScalingLaw):
    r"""Pure power law :math:`L = A\,x^{-\alpha}`.

    Examples
    --------
    >>> from scalelaw.laws import PowerLaw
    >>> law = PowerLaw()
    >>> law.param_names
    ('A', 'alpha')
    """

    name: str = "power"
    formula: str = "L = A * x**(-alpha)"
    inputs: tuple[str, ...] = ("x",)
    params: tuple[Param, ...] = (
        Param("A", 0.0, np.inf, log=True),
        Param("alpha", 0.0, 10.0),
    )
    native_log: ClassVar[bool] = True

    def _formula(self, P, X):
        a, alpha = P
        return np.log(a) - alpha * X.log(0)

    def _value_jac(self, theta, X, *, log, jac=True):
        u = X.log(0)
        value = theta[:, 0:1] - theta[:, 1:2] * u
        grads = [np.ones_like(value), np.broadcast_to(-u, value.shape)] if jac else []
        return _convert(value, grads, native_log=True, want_log=log)

    def _start_points(self, X, y, rng):
        intercept, slope = _loglinear(X.log(0).ravel(), np.log(y))
        guess = np.array([intercept, -slope])
        alt = [guess]
        for f in (0.5, 2.0):
            alt.append(np.array([intercept, -slope * f]))
        return _clip_theta(self, np.array(alt))


@dataclass(frozen=True)
class SaturatingPowerLaw(ScalingLaw):
    r"""Power law with an irreducible floor :math:`L = E + A\,x^{-\alpha}`.

    ``E`` is optimised on its natural scale with the bound ``E >= 0``, so a
    fit with no visible floor ends exactly on the bound (and says so).

    Examples
    --------
    >>> from scalelaw.laws import SaturatingPowerLaw
    >>> SaturatingPowerLaw().param_names
    ('E', 'A', 'alpha')
    """

    name: str = "saturating_power"
    formula: str = "L = E + A * x**(-alpha)"
    inputs: tuple[str, ...] = ("x",)
    params: tuple[Param, ...] = (
        Param("E", 0.0, np.inf),
        Param("A", 0.0, np.inf, log=True),
        Param("alpha", 0.0, 10.0),
    )

    def _formula(self, P, X):
        e, a, alpha = P
        return e + a * np.exp(-alpha * X.log(0))

    def _value_jac(self, theta, X, *, log, jac=True):
        u = X.log(0)
        term = np.exp(theta[:, 1:2] - theta[:, 2:3] * u)
        value = theta[:, 0:1] + term
        grads = [np.ones_like(value), term, -term * u] if jac else []
        return _convert(value, grads, native_log=False, want_log=log)

    def _start_points(self, X, y, rng):
        u = X.log(0).ravel()
        ymin = float(np.min(y))
        starts = []
        # the guess comes first: a floor at 0.9 min(y) and the log-log slope above it
        for frac in (0.9, 0.0, 0.5, 0.8, 0.95, 0.99):
            e = frac * ymin
            excess = y - e
            intercept, slope = _loglinear(u, np.log(excess))
            starts.append([e, intercept, max(-slope, 1e-3)])
            for alpha in (0.05, 0.1, 0.2, 0.4, 0.8, 1.6):
                # log A that matches the mean of log(y - E) at this alpha
                starts.append([e, float(np.mean(np.log(excess) + alpha * u)), alpha])
        return _clip_theta(self, np.array(starts, dtype=np.float64))


@dataclass(frozen=True)
class ChinchillaLaw(ScalingLaw):
    r"""Two-input law of Hoffmann et al. (2022), :math:`L = E + A N^{-\alpha} + B D^{-\beta}`.

    Inputs are the parameter count ``n_params`` (N) and the number of training
    tokens ``n_tokens`` (D). ``E``, ``A`` and ``B`` are optimised on the log
    scale; the default starts are the 4,500-point grid of Hoffmann et al. and
    Besiroglu et al. (2024): ``alpha, beta in {0, 0.5, ..., 2}``, ``log E in
    {-1, -0.5, ..., 1}``, ``log A, log B in {0, 5, ..., 25}``, plus the
    data-driven guess.

    Examples
    --------
    >>> from scalelaw.laws import ChinchillaLaw
    >>> law = ChinchillaLaw()
    >>> p = {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}
    >>> print(f"{float(law(p, n_params=1e9, n_tokens=2e10)[0]):.4f}")
    2.5301
    """

    name: str = "chinchilla"
    formula: str = "L = E + A * N**(-alpha) + B * D**(-beta)"
    inputs: tuple[str, ...] = ("n_params", "n_tokens")
    params: tuple[Param, ...] = (
        Param("E", 0.0, np.inf, log=True),
        Param("A", 0.0, np.inf, log=True),
        Param("B", 0.0, np.inf, log=True),
        Param("alpha", 0.0, 10.0),
        Param("beta", 0.0, 10.0),
    )
    native_log: ClassVar[bool] = True

    def _formula(self, P, X):
        e, a, b, alpha, beta = P
        return np.log(e + a * np.exp(-alpha * X.log(0)) + b * np.exp(-beta * X.log(1)))

    def _value_jac(self, theta, X, *, log, jac=True):
        # log L = logsumexp(e, a - alpha u, b - beta v), written out by hand: on a
        # CPU this kernel is memory-bound and every temporary array costs time.
        u, v = X.log(0), X.log(1)
        e = theta[:, 0:1]
        t1 = theta[:, 1:2] - theta[:, 3:4] * u
        t2 = theta[:, 2:3] - theta[:, 4:5] * v
        m = np.maximum(np.maximum(t1, t2), e)
        w1 = np.exp(t1 - m)
        w2 = np.exp(t2 - m)
        w0 = np.exp(e - m)
        s = w1 + w2
        s += w0
        value = np.log(s)
        value += m
        grads: list[np.ndarray] = []
        if jac:
            inv = 1.0 / s
            p1 = w1 * inv
            p2 = w2 * inv
            grads = [w0 * inv, p1, p2, -p1 * u, -p2 * v]
        return _convert(value, grads, native_log=True, want_log=log)

    def _value_vjp(self, theta, X, *, log):
        if not log:
            return super()._value_vjp(theta, X, log=log)
        u, v = X.log(0), X.log(1)
        e = theta[:, 0:1]
        t1 = theta[:, 1:2] - theta[:, 3:4] * u
        t2 = theta[:, 2:3] - theta[:, 4:5] * v
        # exponentials without the max shift when they cannot overflow or all vanish
        big = max(float(t1.max()), float(t2.max()), float(e.max()))
        m = 0.0 if big < 600 else np.maximum(np.maximum(t1, t2), e)
        if m is not None and big < 600:
            w1 = np.exp(t1)
            w2 = np.exp(t2)
            w0 = np.exp(e)
        else:
            w1, w2, w0 = np.exp(t1 - m), np.exp(t2 - m), np.exp(e - m)
        s = w1 + w2
        s += w0
        value = np.log(s)
        value += m
        if not np.all(np.isfinite(value)):
            # total underflow somewhere: redo those rows with the shift
            m = np.maximum(np.maximum(t1, t2), e)
            w1, w2, w0 = np.exp(t1 - m), np.exp(t2 - m), np.exp(e - m)
            s = w1 + w2 + w0
            value = np.log(s) + m

        def vjp(w: np.ndarray) -> np.ndarray:
            c = w / s
            q1 = c * w1
            q2 = c * w2
            out = np.empty((w.shape[0], 5))
            out[:, 0] = (c * w0).sum(axis=1) if w0.shape[1] > 1 else c.sum(axis=1) * w0[:, 0]
            out[:, 1] = q1.sum(axis=1)
            out[:, 2] = q2.sum(axis=1)
            out[:, 3] = -(q1 @ u[0])
            out[:, 4] = -(q2 @ v[0])
            return out

        return value, vjp

    def _start_points(self, X, y, rng):
        grid = np.meshgrid(
            np.arange(-1.0, 1.01, 0.5),  # log E
            np.arange(0.0, 25.1, 5.0),  # log A
            np.arange(0.0, 25.1, 5.0),  # log B
            np.arange(0.0, 2.01, 0.5),  # alpha
            np.arange(0.0, 2.01, 0.5),  # beta
            indexing="ij",
        )
        grid = np.stack([g.ravel() for g in grid], axis=1)
        return _clip_theta(self, np.vstack([self._guess_internal(X, y), grid]))

    def _guess_internal(self, X: Inputs, y: np.ndarray) -> np.ndarray:
        """Guess: E just below the smallest loss, the rest split evenly."""
        e = 0.9 * float(np.min(y))
        excess = np.maximum(y - e, 1e-12 * float(np.min(y)))
        alpha = beta = 0.3
        log_a = float(np.mean(np.log(0.5 * excess) + alpha * X.log(0).ravel()))
        log_b = float(np.mean(np.log(0.5 * excess) + beta * X.log(1).ravel()))
        return np.array([np.log(e), log_a, log_b, alpha, beta])


@dataclass(frozen=True)
class KaplanLaw(ScalingLaw):
    r"""Joint law of Kaplan et al. (2020).

    .. math:: L = ((N_c/N)^{\alpha_N/\alpha_D} + D_c/D)^{\alpha_D}

    Examples
    --------
    >>> from scalelaw.laws import KaplanLaw
    >>> KaplanLaw().param_names
    ('N_c', 'D_c', 'alpha_N', 'alpha_D')
    """

    name: str = "kaplan"
    formula: str = "L = ((N_c / N)**(alpha_N / alpha_D) + D_c / D)**alpha_D"
    inputs: tuple[str, ...] = ("n_params", "n_tokens")
    params: tuple[Param, ...] = (
        Param("N_c", 0.0, np.inf, log=True),
        Param("D_c", 0.0, np.inf, log=True),
        Param("alpha_N", 1e-4, 10.0),
        Param("alpha_D", 1e-4, 10.0),
    )
    native_log: ClassVar[bool] = True

    def _formula(self, P, X):
        n_c, d_c, alpha_n, alpha_d = P
        t1 = (alpha_n / alpha_d) * (np.log(n_c) - X.log(0))
        t2 = np.log(d_c) - X.log(1)
        m = np.maximum(np.real(t1), np.real(t2))  # shift by a real constant: exact
        return alpha_d * (m + np.log(np.exp(t1 - m) + np.exp(t2 - m)))

    def _start_points(self, X, y, rng):
        u, v, ly = X.log(0).ravel(), X.log(1).ravel(), np.log(y)
        starts = []
        for alpha_n in (0.05, 0.076, 0.15, 0.3, 0.6):
            for alpha_d in (0.05, 0.095, 0.2, 0.4, 0.8):
                # each term alone reproduces the mean loss
                log_nc = float(np.mean(u + ly / alpha_n))
                log_dc = float(np.mean(v + ly / alpha_d))
                starts.append([log_nc, log_dc, alpha_n, alpha_d])
        starts.insert(0, starts[6])  # (0.076, 0.095): Kaplan et al.'s exponents
        return _clip_theta(self, np.array(starts))


# ------------------------------------------------------------- user-defined
_ALLOWED_FUNCS = {
    "exp": np.exp,
    "log": np.log,
    "log10": np.log10,
    "log2": np.log2,
    "log1p": np.log1p,
    "expm1": np.expm1,
    "sqrt": np.sqrt,
    "tanh": np.tanh,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "arctan": np.arctan,
}
_ALLOWED_NODES = (
    ast.Expression,
    ast.BinOp,
    ast.UnaryOp,
    ast.Call,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.Pow,
    ast.USub,
    ast.UAdd,
)


def parse_expression(expression: str, inputs: Sequence[str]) -> tuple[str, list[str]]:
    """Check a formula string and return it (without ``L =``) and its parameters.

    Only numbers, names, ``+ - * / **`` and the analytic functions
    ``exp, log, log10, log2, log1p, expm1, sqrt, tanh, sinh, cosh, arctan``
    are allowed. Names that are not inputs are parameters (in order of
    first appearance).

    Examples
    --------
    >>> parse_expression("L = E + A * x**(-alpha)", ["x"])
    ('E + A * x**(-alpha)', ['E', 'A', 'alpha'])
    """
    text = expression.strip()
    if "=" in text:
        lhs, _, rhs = text.partition("=")
        if not lhs.strip().isidentifier():
            raise DataValidationError(
                f"Formula {expression!r}: the left of '=' must be a name such as 'L'.",
                column="formula",
            )
        text = rhs.strip()
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise DataValidationError(
            f"Formula {expression!r} is not a valid expression: {exc.msg}.",
            column="formula",
        ) from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise DataValidationError(
                f"Formula {expression!r} uses {type(node).__name__!s} syntax; only "
                "numbers, names, + - * / ** and the functions "
                f"{sorted(_ALLOWED_FUNCS)} are allowed.",
                column="formula",
            )
        if isinstance(node, ast.Call):
            fname = node.func.id if isinstance(node.func, ast.Name) else None
            if fname not in _ALLOWED_FUNCS or node.keywords or len(node.args) != 1:
                shown = fname or ast.unparse(node.func)
                raise DataValidationError(
                    f"Formula {expression!r} calls {shown!r}, which is not allowed."
                    f"{suggest(shown, _ALLOWED_FUNCS)} Allowed one-argument functions: "
                    f"{sorted(_ALLOWED_FUNCS)}.",
                    column="formula",
                )
        if isinstance(node, ast.Constant) and not isinstance(node.value, int | float):
            raise DataValidationError(
                f"Formula {expression!r} holds the constant {node.value!r}; only "
                "numbers are allowed.",
                column="formula",
            )
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    # names in order of first appearance in the text (ast.walk is breadth-first)
    found = sorted(
        (n for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called),
        key=lambda n: n.col_offset,
    )
    names: list[str] = []
    for n in found:
        if n.id not in names:
            names.append(n.id)
    params = [n for n in names if n not in inputs]
    missing = [k for k in inputs if k not in names]
    if missing:
        raise DataValidationError(
            f"Formula {expression!r} does not use the input(s) {missing}; inputs "
            f"given: {list(inputs)}.",
            column=missing[0],
        )
    if not params:
        raise DataValidationError(
            f"Formula {expression!r} has no free parameters (every name is an input).",
            column="formula",
        )
    return text, params


_thread_state = threading.local()


def _interpreter() -> Any:
    """Per-thread asteval interpreter (the optimiser evaluates from threads)."""
    interp = getattr(_thread_state, "interp", None)
    if interp is None:
        from asteval import Interpreter

        interp = Interpreter(minimal=True, use_numpy=False, with_import=False)
        interp.symtable.update(_ALLOWED_FUNCS)
        _thread_state.interp = interp
        _thread_state.parsed = {}
    return interp


@dataclass(frozen=True)
class ExpressionLaw(ScalingLaw):
    """A law written as a formula string, evaluated safely (never ``eval``).

    The string is checked against a whitelist of syntax and functions, then
    evaluated by asteval. Derivatives are exact complex-step derivatives.

    Parameters
    ----------
    expression : str
        Formula such as ``"L = E + A * x**(-alpha)"``.
    inputs : tuple of str
        The names in the formula that are input columns.
    params : tuple of Param
        Parameters (built by :meth:`from_string`).
    p0 : tuple of float
        Initial guess in natural units.

    Examples
    --------
    >>> from scalelaw.laws import ExpressionLaw
    >>> law = ExpressionLaw.from_string("E + A * n**(-alpha)", inputs=["n"])
    >>> law.param_names
    ('E', 'A', 'alpha')
    >>> print(f"{float(law({'E': 1.0, 'A': 8.0, 'alpha': 1.0}, n=2.0)[0]):.1f}")
    5.0
    """

    name: str = "expression"
    formula: str = ""
    inputs: tuple[str, ...] = ()
    params: tuple[Param, ...] = ()
    expression: str = ""
    p0: tuple[float, ...] = ()

    @classmethod
    def from_string(
        cls,
        expression: str,
        *,
        inputs: Sequence[str],
        bounds: Mapping[str, tuple[float, float]] | None = None,
        p0: Mapping[str, float] | None = None,
        log_params: Sequence[str] = (),
    ) -> ExpressionLaw:
        """Build a law from a formula string.

        Parameters
        ----------
        expression : str
            The formula; names that are not inputs become parameters.
        inputs : sequence of str
            Input names used in the formula.
        bounds : mapping, optional
            ``{param: (lower, upper)}``; unbounded by default.
        p0 : mapping, optional
            Initial guess; 1.0 for parameters not given.
        log_params : sequence of str, default=()
            Positive parameters to optimise on the log scale.

        Returns
        -------
        ExpressionLaw
            The law.
        """
        text, names = parse_expression(expression, list(inputs))
        bounds = dict(bounds or {})
        p0 = dict(p0 or {})
        for key in list(bounds) + list(p0) + list(log_params):
            if key not in names:
                raise unknown_name(f"parameter of formula {text!r}", key, names)
        params = []
        for n in names:
            default = (0.0, np.inf) if n in log_params else (-np.inf, np.inf)
            lo, hi = bounds.get(n, default)
            params.append(Param(n, float(lo), float(hi), log=n in log_params))
        guess = []
        for prm in params:
            g = float(p0.get(prm.name, 1.0))
            if not prm.lower <= g <= prm.upper:
                raise DataValidationError(
                    f"Initial value {g!r} of parameter {prm.name!r} lies outside its "
                    f"bounds [{prm.lower!r}, {prm.upper!r}].",
                    column=prm.name,
                )
            if prm.log and g <= 0:
                raise DataValidationError(
                    f"Parameter {prm.name!r} is optimised on the log scale, so its "
                    f"initial value must be > 0. Got {g!r} instead.",
                    column=prm.name,
                )
            guess.append(g)
        return cls(
            formula=f"L = {text}",
            inputs=tuple(inputs),
            params=tuple(params),
            expression=text,
            p0=tuple(guess),
        )

    def _formula(self, P, X):
        interp = _interpreter()
        parsed = _thread_state.parsed
        node = parsed.get(self.expression)
        if node is None:
            node = interp.parse(self.expression)
            parsed[self.expression] = node
        table = interp.symtable
        for prm, col in zip(self.params, P, strict=True):
            table[prm.name] = col
        for name, col in zip(self.inputs, X.cols, strict=True):
            table[name] = col
        interp.error = []
        with np.errstate(all="ignore"):
            out = interp.run(node, with_raise=False)
        if interp.error:
            msg = interp.error[0].get_error()[1]
            if "max exponent" in msg:
                # asteval's guard against huge powers: the optimiser wandered into
                # parameters that overflow anyway; report a non-finite prediction
                return np.full((P[0].shape[0] if P else 1, X.n), np.nan)
            raise DataValidationError(
                f"Formula {self.expression!r} failed to evaluate: {msg}", column="formula"
            )
        b = P[0].shape[0] if P else 1
        return np.broadcast_to(out, (b, X.n))

    def _start_points(self, X, y, rng):
        guess = self.to_internal(np.array(self.p0))
        rng = rng if rng is not None else np.random.default_rng(0)
        jitter = rng.normal(0.0, 1.0, size=(31, guess.size))
        scale = np.where(self._log_mask, 1.0, np.maximum(np.abs(guess), 1.0) * 0.5)
        return _clip_theta(self, np.vstack([guess, guess + jitter * scale]))

    def to_spec(self) -> dict[str, Any]:
        """Return a JSON-ready description that :func:`law_from_spec` restores."""
        spec = super().to_spec()
        spec.update(
            expression=self.expression,
            inputs=list(self.inputs),
            p0=list(self.p0),
            log_params=[p.name for p in self.params if p.log],
        )
        return spec


@dataclass(frozen=True)
class CallableLaw(ScalingLaw):
    """A law given as a Python function ``f(x1, ..., xk, p1, ..., pm)``.

    The function must broadcast: inputs arrive as ``(1, n)`` arrays and
    parameters as ``(b, 1)`` arrays. Derivatives are central differences
    (the function may use any NumPy operation). Not JSON-restorable: pass the
    law again to :meth:`FitResult.from_dict`.

    Examples
    --------
    >>> import numpy as np
    >>> from scalelaw.laws import CallableLaw
    >>> law = CallableLaw.from_function(lambda x, A, k: A * np.exp(-k * x),
    ...                                 inputs=["x"], p0={"A": 1.0, "k": 0.1})
    >>> law.param_names
    ('A', 'k')
    """

    name: str = "callable"
    formula: str = ""
    inputs: tuple[str, ...] = ()
    params: tuple[Param, ...] = ()
    function: Callable[..., Any] | None = field(default=None, compare=False)
    p0: tuple[float, ...] = ()

    @classmethod
    def from_function(
        cls,
        function: Callable[..., Any],
        *,
        inputs: Sequence[str],
        p0: Mapping[str, float],
        bounds: Mapping[str, tuple[float, float]] | None = None,
        log_params: Sequence[str] = (),
        name: str | None = None,
    ) -> CallableLaw:
        """Wrap ``function``; its arguments after the inputs are the parameters.

        Parameters
        ----------
        function : callable
            ``function(*inputs, *params)`` returning the prediction.
        inputs : sequence of str
            Input names (the first arguments).
        p0 : mapping
            Initial guess for every parameter (this also names them, in order).
        bounds : mapping, optional
            ``{param: (lower, upper)}``.
        log_params : sequence of str, default=()
            Positive parameters optimised on the log scale.
        name : str, optional
            Name used in reports (default: the function's name).

        Returns
        -------
        CallableLaw
            The law.
        """
        if not callable(function):
            raise DataValidationError(
                f"Expected a callable for a user-defined law. Got {function!r} instead.",
                column="law",
            )
        names = list(p0)
        bounds = dict(bounds or {})
        for key in list(bounds) + list(log_params):
            if key not in names:
                raise unknown_name("parameter (not in p0)", key, names)
        params = tuple(
            Param(
                n,
                *(float(v) for v in bounds.get(
                    n, (0.0, np.inf) if n in log_params else (-np.inf, np.inf))),
                log=n in log_params,
            )
            for n in names
        )
        for prm in params:
            g = float(p0[prm.name])
            if not prm.lower <= g <= prm.upper or (prm.log and g <= 0):
                raise DataValidationError(
                    f"Initial value {g!r} of parameter {prm.name!r} lies outside its "
                    f"bounds [{prm.lower!r}, {prm.upper!r}]"
                    + (" (and must be > 0 on the log scale)." if prm.log else "."),
                    column=prm.name,
                )
        label = name or getattr(function, "__name__", "callable")
        return cls(
            name=f"callable:{label}",
            formula=f"L = {label}({', '.join(list(inputs) + names)})",
            inputs=tuple(inputs),
            params=params,
            function=function,
            p0=tuple(float(p0[n]) for n in names),
        )

    def _formula(self, P, X):
        assert self.function is not None
        with np.errstate(all="ignore"):
            out = np.asarray(self.function(*X.cols, *P), dtype=np.float64)
        b = P[0].shape[0] if P else 1
        return np.broadcast_to(out, (b, X.n))

    def _value_jac(self, theta, X, *, log, jac=True):
        value = self._formula(self._columns(theta), X)
        grads = []
        if jac:
            for j in range(theta.shape[1]):
                h = 1e-6 * np.maximum(np.abs(theta[:, j : j + 1]), 1.0)
                up, dn = theta.copy(), theta.copy()
                up[:, j : j + 1] += h
                dn[:, j : j + 1] -= h
                fu = self._formula(self._columns(up), X)
                fd = self._formula(self._columns(dn), X)
                grads.append((fu - fd) / (2 * h))
        return _convert(value, grads, native_log=False, want_log=log)

    _start_points = ExpressionLaw._start_points

    def to_spec(self) -> dict[str, Any]:
        """Return a description; a callable cannot be restored from it."""
        spec = super().to_spec()
        spec.update(inputs=list(self.inputs), p0=list(self.p0), restorable=False)
        return spec


# ------------------------------------------------------------------ registry
LAWS: dict[str, type[ScalingLaw]] = {
    "power": PowerLaw,
    "saturating_power": SaturatingPowerLaw,
    "chinchilla": ChinchillaLaw,
    "kaplan": KaplanLaw,
}


def _register_curve_laws() -> None:
    from scalelaw._curve_laws import BrokenPowerLaw, M1Law, M2Law, M3Law, M4Law

    LAWS.update(broken_power=BrokenPowerLaw, m1=M1Law, m2=M2Law, m3=M3Law, m4=M4Law)


_register_curve_laws()


def list_laws() -> list[str]:
    """Return the names of the built-in laws.

    Examples
    --------
    >>> from scalelaw.laws import list_laws
    >>> "chinchilla" in list_laws()
    True
    """
    return sorted(LAWS)


def get_law(law: str | ScalingLaw, *, inputs: Sequence[str] | None = None) -> ScalingLaw:
    """Return a law from a name, a formula string or a law object.

    Parameters
    ----------
    law : str or ScalingLaw
        A built-in name (see :func:`list_laws`), a formula such as
        ``"E + A * n**(-alpha)"``, or a law.
    inputs : sequence of str, optional
        Input names for a formula (required then).

    Returns
    -------
    ScalingLaw
        The law.

    Examples
    --------
    >>> from scalelaw.laws import get_law
    >>> get_law("chinchilla").name
    'chinchilla'
    """
    if isinstance(law, ScalingLaw):
        return law
    if not isinstance(law, str):
        raise DataValidationError(
            f"A law must be a name, a formula string or a ScalingLaw. Got {law!r} "
            "instead.",
            column="law",
        )
    key = law.strip()
    if key in LAWS:
        return LAWS[key]()
    head, sep, tail = key.partition(":")
    if sep and head.strip() in LAWS:
        return LAWS[head.strip()](**_parse_law_options(head.strip(), tail))
    if key.isidentifier():
        raise unknown_name("law", key, LAWS)
    if inputs is None:
        raise DataValidationError(
            f"Formula {law!r} needs the names of its input columns (inputs=...).",
            column="law",
        )
    return ExpressionLaw.from_string(key, inputs=inputs)


def _parse_law_options(name: str, text: str) -> dict[str, Any]:
    """Parse ``"n_breaks=2,eps_0=0.9"`` into typed keyword arguments."""
    import dataclasses

    allowed = [f.name for f in dataclasses.fields(LAWS[name])
               if f.name not in ("name", "formula", "inputs", "params")]
    out: dict[str, Any] = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        k, eq, v = item.partition("=")
        k = k.strip()
        if not eq or not v.strip():
            raise DataValidationError(
                f"Law option {item!r} of {name!r} must look like key=value (e.g. "
                f"{name}:{allowed[0] if allowed else 'key'}=...).",
                column="law",
            )
        if k not in allowed:
            if not allowed:
                raise DataValidationError(f"Law {name!r} takes no options; got {k!r}.",
                                          column="law")
            raise unknown_name(f"option of law {name!r}", k, allowed)
        v = v.strip()
        try:
            out[k] = int(v)
        except ValueError:
            try:
                out[k] = float(v)
            except ValueError:
                out[k] = v
    return out


def law_from_spec(spec: Mapping[str, Any]) -> ScalingLaw:
    """Rebuild a law from :meth:`ScalingLaw.to_spec` output."""
    name = spec["name"]
    bounds = {k: (float(v[0]), float(v[1])) for k, v in spec.get("bounds", {}).items()}
    if name == "expression":
        p0 = dict(zip([*bounds], spec.get("p0", []), strict=False))
        return ExpressionLaw.from_string(
            spec["expression"], inputs=spec["inputs"], bounds=bounds, p0=p0,
            log_params=spec.get("log_params", ()),
        )
    if name in LAWS:
        return _rebuild_registered(name, spec, bounds)
    raise DataValidationError(
        f"Law {name!r} cannot be restored from JSON (a Python callable). Pass the "
        "law object again: FitResult.from_dict(d, law=my_law).",
        column="law",
    )


def _rebuild_registered(
    name: str, spec: Mapping[str, Any], bounds: Mapping[str, tuple[float, float]]
) -> ScalingLaw:
    law = LAWS[name](**dict(spec.get("options", {})))
    return law.with_bounds(**bounds) if bounds else law
