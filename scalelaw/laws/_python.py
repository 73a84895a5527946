"""Laws given as Python code: a function (:class:`CallableLaw`) or an lmfit model
(:class:`LmfitLaw`).

Inputs arrive as ``(1, n)`` arrays and parameters as ``(b, 1)`` arrays, so a
NumPy function evaluates a whole batch of parameter vectors at once; a
function that does not broadcast is called once per vector. Derivatives are
central differences (the code need not accept complex numbers). Inputs may
be zero or negative. Laws made of Python code cannot be restored from JSON:
pass the law again to :meth:`FitResult.from_dict`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from scalelaw._validation import unknown_name
from scalelaw.exceptions import DataValidationError
from scalelaw.laws._base import Inputs, Param, ScalingLaw, _convert
from scalelaw.laws._formula import _names_in, run_formula
from scalelaw.laws._userstarts import inside_bounds, make_params, user_starts

__all__ = ["CallableLaw", "LmfitLaw"]


def _finite_difference_jacobian(
    law: ScalingLaw, theta: np.ndarray, X: Inputs, *, log: bool, jac: bool
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Value and central-difference derivatives (for laws that are not complex-safe)."""
    value = np.asarray(law.evaluate(law.param_columns(theta), X), dtype=np.float64)
    grads = []
    if jac:
        for j in range(theta.shape[1]):
            h = 1e-6 * np.maximum(np.abs(theta[:, j : j + 1]), 1.0)
            up, dn = theta.copy(), theta.copy()
            up[:, j : j + 1] += h
            dn[:, j : j + 1] -= h
            fu = law.evaluate(law.param_columns(up), X)
            fd = law.evaluate(law.param_columns(dn), X)
            grads.append((fu - fd) / (2 * h))
    return _convert(value, grads, native_log=False, want_log=log)


def _broadcast_call(function: Callable[..., Any], cols: Sequence[np.ndarray],
                    P: Sequence[np.ndarray], n: int, kwargs: Mapping[str, Any] | None = None
                    ) -> np.ndarray:
    """Call ``function`` on ``(1, n)`` inputs and ``(b, 1)`` parameters.

    A function that does not broadcast over the batch is called once per
    parameter vector instead.
    """
    b = P[0].shape[0] if len(P) else 1
    with np.errstate(all="ignore"):
        try:
            out = np.asarray(function(*cols, *P, **(kwargs or {})), dtype=np.float64)
            return np.broadcast_to(out, (b, n))
        except (ValueError, TypeError) as exc:
            first_error = exc
        rows = []
        flat = [c.ravel() for c in cols]
        try:
            for i in range(b):
                vals = [float(p[i, 0]) for p in P]
                rows.append(np.broadcast_to(np.asarray(
                    function(*flat, *vals, **(kwargs or {})), dtype=np.float64), (n,)))
        except (ValueError, TypeError):
            raise DataValidationError(
                f"The law's function failed on the data: {first_error}. It is called as "
                "f(x1, ..., p1, ...) with NumPy arrays of the inputs and either (b, 1) "
                "arrays or floats for the parameters.",
                column="law",
            ) from first_error
        return np.stack(rows)


@dataclass(frozen=True)
class CallableLaw(ScalingLaw):
    """A law given as a Python function ``f(x1, ..., xk, p1, ..., pm)``.

    Inputs arrive as ``(1, n)`` arrays and parameters as ``(b, 1)`` arrays,
    so a NumPy function evaluates a whole batch of parameter vectors at once
    (a function that does not broadcast is called once per vector).
    Derivatives are central differences (the function may use any NumPy
    operation). Not JSON-restorable: pass the law again to
    :meth:`FitResult.from_dict`.

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
    p0_given: tuple[bool, ...] = ()
    positive_inputs: ClassVar[bool] = False

    @classmethod
    def from_function(
        cls,
        function: Callable[..., Any],
        *,
        inputs: Sequence[str],
        p0: Mapping[str, float] | None = None,
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
            Input names (the first ``len(inputs)`` arguments).
        p0 : mapping, optional
            Initial values. The parameters are named by the function's
            signature (the arguments after the inputs; defaults there are
            initial values too); without a readable signature, ``p0`` names
            them, in order.
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

        Examples
        --------
        >>> def decay(t, a, k=0.5):
        ...     return a * np.exp(-k * t)
        >>> law = CallableLaw.from_function(decay, inputs=["t"])
        >>> law.param_names, law.p0
        (('a', 'k'), (1.0, 0.5))
        """
        if not callable(function):
            raise DataValidationError(
                f"Expected a callable for a user-defined law. Got {function!r} instead.",
                column="law",
            )
        p0 = dict(p0 or {})
        names = _signature_params(function, len(inputs))
        if names is None:
            if not p0:
                raise DataValidationError(
                    f"Cannot read the parameters of {function!r} from its signature; "
                    "give p0={name: value, ...} to name them.",
                    column="law",
                )
            names = list(p0)
        else:
            defaults = _signature_defaults(function)
            p0 = {**{k: v for k, v in defaults.items() if k in names}, **p0}
        if not names:
            raise DataValidationError(
                f"{getattr(function, '__name__', function)!r} takes no parameters after "
                f"its {len(inputs)} input(s) {list(inputs)}.",
                column="law",
            )
        label = name or getattr(function, "__name__", "callable")
        params, guess, given = make_params(names, dict(bounds or {}), log_params, p0,
                                            f"function {label!r}")
        return cls(
            name=f"callable:{label}",
            formula=f"L = {label}({', '.join(list(inputs) + list(names))})",
            inputs=tuple(inputs),
            params=params,
            function=function,
            p0=guess,
            p0_given=given,
        )

    def evaluate(self, P: list[np.ndarray], X: Inputs) -> np.ndarray:
        """Call the function (see :meth:`ScalingLaw.evaluate`)."""
        if self.function is None:
            raise DataValidationError("This CallableLaw has no function.", column="law")
        return _broadcast_call(self.function, X.cols, P, X.n)

    def value_and_jacobian(self, theta: np.ndarray, X: Inputs, *, log: bool,
                           jac: bool = True) -> tuple[np.ndarray, list[np.ndarray]]:
        """Central-difference derivatives (the function need not be complex-safe)."""
        return _finite_difference_jacobian(self, theta, X, log=log, jac=jac)

    def start_points(self, X: Inputs, y: np.ndarray,
                     rng: np.random.Generator | None) -> np.ndarray:
        """Initial values, then draws around them (see the module docstring)."""
        given = self.p0_given or (True,) * len(self.params)
        return user_starts(self, self.p0, given, X, y, rng)

    def to_spec(self) -> dict[str, Any]:
        """Return a description; a callable cannot be restored from it."""
        spec = super().to_spec()
        spec.update(inputs=list(self.inputs), p0=list(self.p0), restorable=False)
        return spec


def _signature_params(function: Callable[..., Any], n_inputs: int) -> list[str] | None:
    try:
        sig = inspect.signature(function)
    except (TypeError, ValueError):
        return None
    plain = [p for p in sig.parameters.values()
             if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in sig.parameters.values()):
        return None
    return [p.name for p in plain[n_inputs:]]


def _signature_defaults(function: Callable[..., Any]) -> dict[str, float]:
    try:
        sig = inspect.signature(function)
    except (TypeError, ValueError):
        return {}
    return {p.name: float(p.default) for p in sig.parameters.values()
            if isinstance(p.default, int | float) and not isinstance(p.default, bool)}


@dataclass(frozen=True)
class LmfitLaw(ScalingLaw):
    """A law from an ``lmfit.Model`` and its ``lmfit.Parameters``.

    Parameter values are the initial values, ``min``/``max`` the bounds,
    ``vary=False`` fixes a parameter (it stays in the results with no
    uncertainty) and ``expr`` constraints are computed from the other
    parameters (they are not fitted; their values appear in
    :attr:`FitResult.settings` under ``"derived"``). The model's
    independent variables are the inputs, matched in order to the ``x``
    columns of the fit. Fitted with scalelaw's multi-start search and
    intervals; :meth:`FitResult.to_lmfit_params` hands the result back as
    ``lmfit.Parameters``.

    Examples
    --------
    >>> import numpy as np, lmfit
    >>> model = lmfit.Model(lambda x, a, k: a * np.exp(-k * x))
    >>> params = model.make_params(a=2.0, k=dict(value=0.1, min=0))
    >>> law = LmfitLaw.from_model(model, params)
    >>> law.param_names, law.bounds["k"]
    (('a', 'k'), (0.0, inf))
    """

    name: str = "lmfit"
    formula: str = ""
    inputs: tuple[str, ...] = ()
    params: tuple[Param, ...] = ()
    model: Any = field(default=None, compare=False)
    p0: tuple[float, ...] = ()
    p0_given: tuple[bool, ...] = ()
    derived: tuple[tuple[str, str], ...] = ()  # (name, expression) of constrained params
    positive_inputs: ClassVar[bool] = False

    @classmethod
    def from_model(cls, model: Any, params: Any = None) -> LmfitLaw:
        """Build the law from an ``lmfit.Model`` and (optionally) its parameters.

        Parameters
        ----------
        model : lmfit.Model
            The model; its ``independent_vars`` are the law's inputs.
        params : lmfit.Parameters, optional
            Initial values, bounds, fixed parameters and constraints; default
            ``model.make_params()`` (parameters without a value start at 1 and
            get broad default starts).

        Returns
        -------
        LmfitLaw
            The law.
        """
        import lmfit

        if not isinstance(model, lmfit.Model):
            raise DataValidationError(
                f"Expected an lmfit.Model. Got {type(model).__name__} instead.",
                column="law",
            )
        if params is None:
            params = model.make_params()
        if not isinstance(params, lmfit.Parameters):
            raise DataValidationError(
                f"The 'params' of an lmfit law must be lmfit.Parameters. Got "
                f"{type(params).__name__} instead.",
                column="params",
            )
        unknown = [n for n in model.param_names if n not in params]
        if unknown:
            raise DataValidationError(
                f"lmfit Parameters lack {unknown} of the model's parameters "
                f"{list(model.param_names)}.",
                column=unknown[0],
            )
        out: list[Param] = []
        p0: list[float] = []
        given: list[bool] = []
        derived: list[tuple[str, str]] = []
        for n, par in params.items():
            if par.expr:
                derived.append((n, par.expr))
                continue
            val = float(par.value)
            has_value = np.isfinite(val)
            lo, hi = float(par.min), float(par.max)
            if not par.vary:
                if not has_value:
                    raise DataValidationError(
                        f"Fixed lmfit parameter {n!r} has no value.", column=n)
                lo = hi = val
            prm = Param(n, lo, hi)
            out.append(prm)
            p0.append(val if has_value else inside_bounds(prm, 1.0))
            given.append(bool(has_value))
        free_names = [p.name for p in out]
        for n, expr in derived:
            for ref in _names_in(expr, expr):
                if ref not in free_names and ref not in [d[0] for d in derived]:
                    raise unknown_name(f"name in the constraint of {n!r}", ref, free_names)
        fname = getattr(model.func, "__name__", "model")
        return cls(
            name=f"lmfit:{fname}",
            formula=f"L = {fname}({', '.join(model.independent_vars + model.param_names)})",
            inputs=tuple(model.independent_vars),
            params=tuple(out),
            model=model,
            p0=tuple(p0),
            p0_given=tuple(given),
            derived=tuple(derived),
        )

    def all_params(self, P: Sequence[Any]) -> dict[str, Any]:
        """The model's parameters (fitted, fixed and derived) from the fitted columns.

        Parameters
        ----------
        P : sequence of array_like
            Values or ``(b, 1)`` columns of :attr:`params`, in order.

        Returns
        -------
        dict
            Every lmfit parameter by name.
        """
        values: dict[str, Any] = dict(zip(self.param_names, P, strict=True))
        for name, expr in self.derived:
            values[name] = run_formula(expr, values)
        return values

    def evaluate(self, P: list[np.ndarray], X: Inputs) -> np.ndarray:
        """Call the model function (see :meth:`ScalingLaw.evaluate`)."""
        values = self.all_params(P)
        names = list(self.model.param_names)
        cols = [values[n] if np.ndim(values[n]) else
                np.full((P[0].shape[0] if P else 1, 1), float(values[n])) for n in names]
        func = self.model.func

        def call(*args: Any) -> Any:
            xs, ps = args[: len(self.inputs)], args[len(self.inputs):]
            return func(*xs, **dict(zip(names, ps, strict=True)))

        return _broadcast_call(call, X.cols, cols, X.n)

    def value_and_jacobian(self, theta: np.ndarray, X: Inputs, *, log: bool,
                           jac: bool = True) -> tuple[np.ndarray, list[np.ndarray]]:
        """Central-difference derivatives (model functions need not be complex-safe)."""
        return _finite_difference_jacobian(self, theta, X, log=log, jac=jac)

    def start_points(self, X: Inputs, y: np.ndarray,
                     rng: np.random.Generator | None) -> np.ndarray:
        """Initial values, then draws around them (see the module docstring)."""
        return user_starts(self, self.p0, self.p0_given, X, y, rng)

    def to_spec(self) -> dict[str, Any]:
        """Return a description; an lmfit model cannot be restored from JSON."""
        spec = super().to_spec()
        spec.update(inputs=list(self.inputs), p0=list(self.p0),
                    derived=[list(d) for d in self.derived], restorable=False)
        return spec
