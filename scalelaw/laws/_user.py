"""User-defined laws: a formula string, a Python function, or an lmfit model.

* :class:`ExpressionLaw`: a formula string checked against a whitelist of
  syntax and functions (numbers, names, arithmetic, ``pi`` and analytic
  one-argument functions; no attributes, subscripts or other calls), then
  compiled with no builtins visible, so it can reach only its inputs,
  parameters and those functions; exact complex-step derivatives.
* :class:`CallableLaw`: any Python function ``f(x1, ..., xk, p1, ..., pm)``;
  central-difference derivatives.
* :class:`LmfitLaw`: an ``lmfit.Model`` with ``lmfit.Parameters`` (values,
  bounds, fixed parameters and expression constraints), fitted with
  scalelaw's batched multi-start search and intervals.

Inputs of user laws may be zero or negative: unlike the built-in power laws
they do not enter through logarithms unless the formula takes them.

Default starts are deterministic (a fixed seed unless the fit passes a
generator): the initial values, then 63 draws around them when the user gave
every value, else 255 draws: around the values given, and for the others
log-uniform magnitudes from 1e-3 to 1e4 with either sign where the bounds
allow (a quarter of them on the scale of the inputs). Parameters in which the
law is affine (amplitudes, offsets) are then set to their least-squares
values for each draw (variable projection, Golub & Pereyra 1973).
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from scalelaw._validation import suggest, unknown_name
from scalelaw.exceptions import DataValidationError
from scalelaw.laws._base import Inputs, Param, ScalingLaw, _clip_theta, _convert

__all__ = ["CallableLaw", "ExpressionLaw", "LmfitLaw", "parse_expression"]

_ALLOWED_FUNCS: dict[str, Callable[..., Any]] = {
    "exp": np.exp,
    "log": np.log,
    "log10": np.log10,
    "log2": np.log2,
    "log1p": np.log1p,
    "expm1": np.expm1,
    "sqrt": np.sqrt,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "arcsin": np.arcsin,
    "arccos": np.arccos,
    "arctan": np.arctan,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "tanh": np.tanh,
    "arcsinh": np.arcsinh,
}
#: Names that are constants, never parameters.
CONSTANTS: dict[str, float] = {"pi": float(np.pi)}
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
N_DRAWN_STARTS = 255  # drawn starts of a user law, besides its initial values
N_DRAWN_STARTS_GIVEN = 63  # ... when the user gave every initial value (draws nearby)


def _names_in(expression: str, text: str) -> list[str]:
    """Check the syntax of ``text`` and return its free names in order of appearance."""
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
        if isinstance(node, ast.Constant) and (
            isinstance(node.value, bool) or not isinstance(node.value, int | float)
        ):
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
        if n.id not in names and n.id not in CONSTANTS:
            names.append(n.id)
    return names


def parse_expression(expression: str, inputs: Sequence[str]) -> tuple[str, list[str]]:
    """Check a formula string and return it (without ``L =``) and its parameters.

    Only numbers, names, ``+ - * / **``, the constant ``pi`` and the analytic
    one-argument functions ``exp, log, log10, log2, log1p, expm1, sqrt, sin,
    cos, tan, arcsin, arccos, arctan, sinh, cosh, tanh, arcsinh`` are allowed.
    Names that are not inputs are parameters (in order of first appearance).

    Parameters
    ----------
    expression : str
        The formula, optionally with a left side such as ``"L = "``.
    inputs : sequence of str
        Names of the formula that are input columns.

    Returns
    -------
    text : str
        The right side of the formula.
    params : list of str
        The parameter names.

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
    names = _names_in(expression, text)
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


_COMPILED: dict[str, Any] = {}
_SAFE_GLOBALS: dict[str, Any] = {"__builtins__": {}, **_ALLOWED_FUNCS, **CONSTANTS}


def _run(text: str, symbols: Mapping[str, Any]) -> Any:
    """Evaluate a checked expression on NumPy arrays.

    The text passed :func:`_names_in`'s whitelist (numbers, names, arithmetic
    and the allowed one-argument functions; no attributes, subscripts or
    other calls), so the compiled code can reach nothing but the symbols
    given here and those functions: no builtins are visible.
    """
    code = _COMPILED.get(text)
    if code is None:
        _names_in(text, text)  # never compile text that has not passed the whitelist
        code = compile(ast.parse(text, mode="eval"), "<formula>", "eval")
        _COMPILED[text] = code
    with np.errstate(all="ignore"):
        try:
            return eval(code, _SAFE_GLOBALS, dict(symbols))  # noqa: S307 - checked AST
        except OverflowError:  # a Python float power overflowed: not finite
            return np.nan
        except ZeroDivisionError:
            return np.nan


def _make_params(
    names: Sequence[str],
    bounds: Mapping[str, tuple[float, float]],
    log_params: Sequence[str],
    p0: Mapping[str, float],
    what: str,
) -> tuple[tuple[Param, ...], tuple[float, ...], tuple[bool, ...]]:
    """Params, initial values (1.0 when not given) and which values were given."""
    for key in list(bounds) + list(p0) + list(log_params):
        if key not in names:
            raise unknown_name(f"parameter of {what}", key, names)
    params = []
    guess = []
    for n in names:
        default = (0.0, np.inf) if n in log_params else (-np.inf, np.inf)
        lo, hi = bounds.get(n, default)
        prm = Param(n, float(lo), float(hi), log=n in log_params)
        g = float(p0.get(n, _inside(prm, 1.0)))
        if not prm.lower <= g <= prm.upper:
            raise DataValidationError(
                f"Initial value {g!r} of parameter {n!r} lies outside its bounds "
                f"[{prm.lower!r}, {prm.upper!r}].",
                column=n,
            )
        if prm.log and g <= 0:
            raise DataValidationError(
                f"Parameter {n!r} is optimised on the log scale, so its initial value "
                f"must be > 0. Got {g!r} instead.",
                column=n,
            )
        params.append(prm)
        guess.append(g)
    return tuple(params), tuple(guess), tuple(n in p0 for n in names)


def _inside(prm: Param, value: float) -> float:
    """``value`` moved inside the parameter's bounds (the default initial value)."""
    if prm.lower <= value <= prm.upper:
        return value
    if np.isfinite(prm.lower) and np.isfinite(prm.upper):
        return 0.5 * (prm.lower + prm.upper)
    return prm.lower + 1.0 if np.isfinite(prm.lower) else prm.upper - 1.0


def _user_starts(law: ScalingLaw, p0: Sequence[float], given: Sequence[bool],
                 X: Inputs, y: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
    """Default starts of a user law (see the module docstring)."""
    guess = law.to_internal(np.asarray(p0, dtype=np.float64))
    rng = rng if rng is not None else np.random.default_rng(0)
    k = N_DRAWN_STARTS_GIVEN if all(given) else N_DRAWN_STARTS
    finite = np.concatenate([np.ravel(c)[np.isfinite(np.ravel(c))] for c in X.cols] or
                            [np.ones(1)])
    x_lo, x_hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    draws = np.empty((k, guess.size))
    for j, prm in enumerate(law.params):
        if given[j]:  # around the user's value
            scale = 1.0 if prm.log else 0.5 * max(abs(p0[j]), 1.0)
            draws[:, j] = guess[j] + rng.normal(0.0, 1.0, k) * scale
            continue
        mag = 10.0 ** rng.uniform(-3.0, 4.0, k)
        # a quarter of the draws sit on the scale of the inputs (a location or a
        # width in x) or its inverse (a rate)
        kind = rng.integers(0, 8, k)
        span = max(x_hi - x_lo, 1e-12)
        mag = np.where(kind == 0, np.abs(rng.uniform(x_lo, x_hi, k)) + 1e-12, mag)
        mag = np.where(kind == 1, span * 10.0 ** rng.uniform(-2.0, 0.0, k), mag)
        if prm.log:
            draws[:, j] = np.log(mag)
            continue
        can_neg, can_pos = prm.lower < 0, prm.upper > 0
        sign = np.where(rng.random(k) < 0.5, -1.0, 1.0) if (can_neg and can_pos) else (
            np.full(k, -1.0) if can_neg else np.ones(k))
        sign = np.where(kind == 0, np.sign(rng.uniform(x_lo, x_hi, k)) + (x_lo >= 0), sign)
        sign = np.where(sign == 0, 1.0, np.sign(sign))
        if not can_neg:
            sign = np.abs(sign)
        if not can_pos:
            sign = -np.abs(sign)
        base = prm.lower if (np.isfinite(prm.lower) and not can_neg) else (
            prm.upper if (np.isfinite(prm.upper) and not can_pos) else 0.0)
        draws[:, j] = base + sign * mag
    starts = _clip_theta(law, np.vstack([guess, draws]))
    return _solve_linear_params(law, starts, X, y)


def _linear_params(law: ScalingLaw, theta: np.ndarray, X: Inputs) -> list[int]:
    """Parameters in which the law is jointly affine (checked at a few points).

    Such parameters (amplitudes, offsets) have a closed-form best value for
    any value of the others: variable projection (Golub & Pereyra 1973).
    """
    if law.native_log:
        return []
    free = [j for j, p in enumerate(law.params) if p.lower < p.upper and not p.log]
    pts = theta[np.all(np.isfinite(theta), axis=1)][:3]
    if not free or len(pts) == 0:
        return []
    rng = np.random.default_rng(1)

    def affine_along(u: np.ndarray) -> bool:
        t = np.array([0.0, 1.0, -1.7, 2.3])
        th = (pts[:, None, :] + t[None, :, None] * u[None, None, :]).reshape(-1, pts.shape[1])
        with np.errstate(all="ignore"):
            v = np.real(law.evaluate(law.param_columns(th), X)).reshape(len(pts), 4, -1)
        if not np.all(np.isfinite(v)):
            return False
        d1 = v[:, 1] - v[:, 0]
        pred = v[:, :1] + t[None, 2:, None] * d1[:, None, :]
        scale = np.abs(v).max() + 1e-300
        return bool(np.max(np.abs(v[:, 2:] - pred)) <= 1e-9 * scale)

    chosen: list[int] = []
    for j in free:
        cand = [*chosen, j]
        u = np.zeros(pts.shape[1])
        u[cand] = rng.normal(0.0, 1.0, len(cand))
        e = np.zeros(pts.shape[1])
        e[j] = 1.0
        if affine_along(e) and affine_along(u):
            chosen.append(j)
    return chosen


def _solve_linear_params(law: ScalingLaw, starts: np.ndarray, X: Inputs,
                         y: np.ndarray) -> np.ndarray:
    """Replace the affine parameters of every start by their least-squares values."""
    lin = _linear_params(law, starts, X)
    if not lin:
        return starts
    k, m = starts.shape[0], len(lin)
    base = starts.copy()
    base[:, lin] = 0.0
    probes = [base]
    for j in lin:
        unit = base.copy()
        unit[:, j] = 1.0
        probes.append(unit)
    with np.errstate(all="ignore"):
        v = np.real(law.evaluate(law.param_columns(np.vstack(probes)), X)).reshape(
            m + 1, k, -1)
    phi0 = v[0]
    design = np.moveaxis(v[1:] - phi0[None], 0, 2)  # (k, n, m)
    ok = np.all(np.isfinite(design), axis=(1, 2)) & np.all(np.isfinite(phi0), axis=1)
    out = starts.copy()
    if ok.any():
        with np.errstate(all="ignore"):
            coef = np.linalg.pinv(design[ok]) @ (y[None, :, None] - phi0[ok][:, :, None])
        solved = out[ok]
        solved[:, lin] = coef[:, :, 0]
        out[ok] = solved
    out = _clip_theta(law, np.where(np.isfinite(out), out, starts))
    return np.vstack([starts[:1], out[1:], out[:1]])  # the user's start stays first


@dataclass(frozen=True)
class ExpressionLaw(ScalingLaw):
    """A law written as a formula string, evaluated safely.

    The string is checked against a whitelist of syntax and functions, then
    compiled with no builtins visible (see the module docstring). Derivatives
    are exact complex-step derivatives.

    Parameters
    ----------
    expression : str
        Formula such as ``"L = E + A * x**(-alpha)"``.
    inputs : tuple of str
        The names in the formula that are input columns.
    params : tuple of Param
        Parameters (built by :meth:`from_string`).
    p0 : tuple of float
        Initial values in natural units.
    p0_given : tuple of bool
        Which initial values the user gave (the others are 1.0 and get
        broad default starts).

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
    p0_given: tuple[bool, ...] = ()
    positive_inputs: ClassVar[bool] = False

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
            Initial values; 1.0 (or the middle of the bounds) for the others.
        log_params : sequence of str, default=()
            Positive parameters to optimise on the log scale.

        Returns
        -------
        ExpressionLaw
            The law.

        Examples
        --------
        >>> law = ExpressionLaw.from_string("b1 * (1 - exp(-b2 * x))", inputs=["x"],
        ...                                 p0={"b1": 500.0, "b2": 1e-4})
        >>> law.p0, law.p0_given
        ((500.0, 0.0001), (True, True))
        """
        text, names = parse_expression(expression, list(inputs))
        params, guess, given = _make_params(names, dict(bounds or {}), log_params,
                                            dict(p0 or {}), f"formula {text!r}")
        return cls(
            formula=f"L = {text}",
            inputs=tuple(inputs),
            params=params,
            expression=text,
            p0=guess,
            p0_given=given,
        )

    def evaluate(self, P: list[np.ndarray], X: Inputs) -> np.ndarray:
        """Evaluate the formula (see :meth:`ScalingLaw.evaluate`)."""
        symbols = dict(zip(self.param_names, P, strict=True))
        symbols.update(zip(self.inputs, X.cols, strict=True))
        out = _run(self.expression, symbols)
        b = P[0].shape[0] if P else 1
        return np.broadcast_to(out, (b, X.n))

    def start_points(self, X: Inputs, y: np.ndarray,
                     rng: np.random.Generator | None) -> np.ndarray:
        """Initial values, then draws around them (see the module docstring)."""
        given = self.p0_given or (True,) * len(self.params)
        return _user_starts(self, self.p0, given, X, y, rng)

    def to_spec(self) -> dict[str, Any]:
        """Return a JSON-ready description that :func:`law_from_spec` restores."""
        spec = super().to_spec()
        given = self.p0_given or (True,) * len(self.params)
        spec.update(
            expression=self.expression,
            inputs=list(self.inputs),
            p0={n: v for n, v, g in zip(self.param_names, self.p0, given, strict=True)
                if g},
            log_params=[p.name for p in self.params if p.log],
        )
        return spec


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
        params, guess, given = _make_params(names, dict(bounds or {}), log_params, p0,
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
        return _user_starts(self, self.p0, given, X, y, rng)

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
            p0.append(val if has_value else _inside(prm, 1.0))
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
            values[name] = _run(expr, values)
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
        return _user_starts(self, self.p0, self.p0_given, X, y, rng)

    def to_spec(self) -> dict[str, Any]:
        """Return a description; an lmfit model cannot be restored from JSON."""
        spec = super().to_spec()
        spec.update(inputs=list(self.inputs), p0=list(self.p0),
                    derived=[list(d) for d in self.derived], restorable=False)
        return spec
