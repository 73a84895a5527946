"""Laws written as formula strings: checked against a whitelist, compiled, evaluated.

A formula may hold numbers, names, ``+ - * / **``, the constant ``pi`` and the
analytic one-argument functions listed in :data:`ALLOWED_FUNCTIONS` (no
attributes, subscripts or other calls). It is then compiled with no builtins
visible, so it can reach only its inputs, parameters and those functions.
Derivatives are exact complex-step derivatives.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from scalelaw._validation import suggest
from scalelaw.exceptions import DataValidationError
from scalelaw.laws._base import Inputs, Param, ScalingLaw
from scalelaw.laws._userstarts import make_params, user_starts

__all__ = ["ALLOWED_FUNCTIONS", "CONSTANTS", "ExpressionLaw", "parse_expression", "run_formula"]

ALLOWED_FUNCTIONS: dict[str, Callable[..., Any]] = {
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
#: Longest formula text and largest syntax tree accepted (a law is a line, not a program).
MAX_FORMULA_LENGTH = 2000
MAX_FORMULA_NODES = 500
_FOLD = {ast.Add: float.__add__, ast.Sub: float.__sub__, ast.Mult: float.__mul__,
         ast.Div: float.__truediv__, ast.Pow: float.__pow__}


def _has_names(node: ast.AST) -> bool:
    """Whether a sub-expression holds an input or parameter (a function's name does not count)."""
    called = {id(n.func) for n in ast.walk(node) if isinstance(n, ast.Call)}
    return any(isinstance(n, ast.Name) and id(n) not in called and n.id not in CONSTANTS
               for n in ast.walk(node))


def _fold(node: ast.AST) -> float:
    """The value of a sub-expression without names, in float arithmetic.

    Raises OverflowError, ZeroDivisionError or ValueError where the value is not
    a finite float (Python's float arithmetic raises rather than loop).
    """
    if isinstance(node, ast.Constant):
        return float(node.value)  # an int literal too large for a float overflows here
    if isinstance(node, ast.Name):
        return CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp):
        v = _fold(node.operand)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.BinOp):
        v = _FOLD[type(node.op)](_fold(node.left), _fold(node.right))
        if isinstance(v, complex):  # a negative base to a fractional power
            raise ValueError("complex value")
        return v
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)  # whitelisted
    with np.errstate(all="ignore"):
        return float(ALLOWED_FUNCTIONS[node.func.id](_fold(node.args[0])))


def _check_constants(expression: str, tree: ast.Expression) -> None:
    """Refuse constant sub-expressions whose value is not a finite float, and division by 0.

    Evaluated with Python's int arithmetic, ``9**9**9**9`` would run for ever;
    folded here in float arithmetic it overflows at once and is refused.
    """
    def refuse(node: ast.AST, why: str) -> DataValidationError:
        return DataValidationError(
            f"Formula {expression!r}: the constant {ast.unparse(node)!r} {why}.",
            column="formula",
        )

    def visit(node: ast.AST) -> None:
        if not _has_names(node):
            try:
                v = _fold(node)
            except (OverflowError, ZeroDivisionError, ValueError):
                v = float("nan")
            if not np.isfinite(v):
                raise refuse(node, "is not a finite number (it overflows, divides by zero "
                             "or is complex)")
            return
        if (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div)
                and not _has_names(node.right)):
            visit(node.right)
            if _fold(node.right) == 0.0:
                raise refuse(node.right, "is a divisor equal to zero")
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr) and not (
                    isinstance(node, ast.Call) and child is node.func):
                visit(child)

    visit(tree.body)


class _IntsAsFloats(ast.NodeTransformer):
    """Integer literals become floats, so evaluation never does big-integer arithmetic."""

    def visit_Constant(self, node: ast.Constant) -> ast.Constant:
        if isinstance(node.value, int) and not isinstance(node.value, bool):
            return ast.copy_location(ast.Constant(float(node.value)), node)
        return node


def _names_in(expression: str, text: str) -> list[str]:
    """Check the syntax of ``text`` and return its free names in order of appearance."""
    if len(text) > MAX_FORMULA_LENGTH:
        raise DataValidationError(
            f"Formula {expression[:40]!r}... is longer than {MAX_FORMULA_LENGTH} characters.",
            column="formula",
        )
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
                f"{sorted(ALLOWED_FUNCTIONS)} are allowed.",
                column="formula",
            )
        if isinstance(node, ast.Call):
            fname = node.func.id if isinstance(node.func, ast.Name) else None
            if fname not in ALLOWED_FUNCTIONS or node.keywords or len(node.args) != 1:
                shown = fname or ast.unparse(node.func)
                raise DataValidationError(
                    f"Formula {expression!r} calls {shown!r}, which is not allowed."
                    f"{suggest(shown, ALLOWED_FUNCTIONS)} Allowed one-argument functions: "
                    f"{sorted(ALLOWED_FUNCTIONS)}.",
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
    if sum(1 for _ in ast.walk(tree)) > MAX_FORMULA_NODES:
        raise DataValidationError(
            f"Formula {expression[:40]!r}... has more than {MAX_FORMULA_NODES} terms.",
            column="formula",
        )
    _check_constants(expression, tree)
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
_SAFE_GLOBALS: dict[str, Any] = {"__builtins__": {}, **ALLOWED_FUNCTIONS, **CONSTANTS}


def run_formula(text: str, symbols: Mapping[str, Any]) -> Any:
    """Evaluate a checked expression on NumPy arrays.

    The text passed :func:`_names_in`'s whitelist (numbers, names, arithmetic
    and the allowed one-argument functions; no attributes, subscripts or
    other calls), so the compiled code can reach nothing but the symbols
    given here and those functions: no builtins are visible.
    """
    code = _COMPILED.get(text)
    if code is None:
        _names_in(text, text)  # never compile text that has not passed the whitelist
        tree = ast.fix_missing_locations(_IntsAsFloats().visit(ast.parse(text, mode="eval")))
        code = compile(tree, "<formula>", "eval")
        _COMPILED[text] = code
    with np.errstate(all="ignore"):
        try:
            return eval(code, _SAFE_GLOBALS, dict(symbols))
        except OverflowError:  # a Python float power overflowed: not finite
            return np.nan
        except ZeroDivisionError:
            return np.nan


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
        params, guess, given = make_params(names, dict(bounds or {}), log_params,
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
        out = run_formula(self.expression, symbols)
        b = P[0].shape[0] if P else 1
        return np.broadcast_to(out, (b, X.n))

    def start_points(self, X: Inputs, y: np.ndarray,
                     rng: np.random.Generator | None) -> np.ndarray:
        """Initial values, then draws around them (see the module docstring)."""
        given = self.p0_given or (True,) * len(self.params)
        return user_starts(self, self.p0, given, X, y, rng)

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


