"""Row filters as a small expression language: column names, literals, comparisons.

``--where`` used to go to :meth:`pandas.DataFrame.query`, which resolves
``@name`` and attribute chains in the caller's frame and so runs arbitrary
code. Here the expression is parsed with :mod:`ast`, every node is checked
against a whitelist, and the checked tree is evaluated by this module alone
on the table's columns: nothing is compiled or looked up outside the table.

Allowed: column names (bare, or in backticks when they are not identifiers),
numbers, strings, ``True``/``False``, lists or tuples of those (for ``in``),
the comparisons ``== != < <= > >=``, ``in`` and ``not in`` (chained
comparisons too), ``and``/``or``/``not`` (and pandas' ``&``, ``|``, ``~``, with
pandas' precedence: that of ``and``, ``or``, ``not``),
unary minus and the arithmetic ``+ - * /`` between columns and numbers.
"""

from __future__ import annotations

import ast
import io
import operator
import re
import tokenize
from typing import Any

import numpy as np
import pandas as pd

from scalelaw._validation import suggest
from scalelaw.exceptions import DataValidationError

__all__ = ["evaluate_where"]

#: Longest filter text accepted (a filter is a line, not a program).
MAX_WHERE_LENGTH = 2000

_COMPARE = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt,
    ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
}
_ARITH = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
          ast.Div: operator.truediv}
_BACKTICK = re.compile(r"`([^`]*)`")


def _refuse(where: str, what: str) -> DataValidationError:
    return DataValidationError(
        f"where {where!r}: {what}. A filter may use column names (in backticks when "
        "they hold spaces), numbers, strings, lists, == != < <= > >=, in, not in, "
        "and, or, not, and + - * /.",
        column="where",
    )


def _parse(where: str) -> tuple[ast.Expression, dict[str, str]]:
    """Parse the text; backtick-quoted names become placeholder identifiers."""
    if len(where) > MAX_WHERE_LENGTH:
        raise _refuse(where[:40] + "...", f"longer than {MAX_WHERE_LENGTH} characters")
    quoted: dict[str, str] = {}

    def swap(m: re.Match[str]) -> str:
        key = f"__col{len(quoted)}__"
        quoted[key] = m.group(1)
        return key

    text = _BACKTICK.sub(swap, where)
    try:
        text = _pandas_operators(text)
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, tokenize.TokenError) as exc:
        msg = exc.msg if isinstance(exc, SyntaxError) else exc.args[0]
        raise _refuse(where, f"not a valid expression ({msg})") from None
    return tree, quoted


def _pandas_operators(text: str) -> str:
    """pandas' ``&``, ``|``, ``~`` as ``and``, ``or``, ``not`` (pandas' precedence for them)."""
    words = {"&": "and", "|": "or", "~": "not"}
    tokens = [
        tok._replace(string=f" {words[tok.string]} ")
        if tok.type == tokenize.OP and tok.string in words else tok
        for tok in tokenize.generate_tokens(io.StringIO(text).readline)
    ]
    return tokenize.untokenize((t.type, t.string) for t in tokens)


class _Evaluator:
    def __init__(self, df: pd.DataFrame, where: str, quoted: dict[str, str]) -> None:
        self.df, self.where, self.quoted = df, where, quoted

    def column(self, node: ast.Name) -> pd.Series:
        name = self.quoted.get(node.id, node.id)
        if name in self.df.columns:
            return self.df[name]
        cols = [str(c) for c in self.df.columns]
        raise DataValidationError(
            f"where {self.where!r} names the column {name!r}, which the table does not "
            f"have.{suggest(name, cols)} Columns: {cols}.",
            column="where",
        )

    def literal(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float | str | bool):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            value = self.literal(node.operand)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.List | ast.Tuple):
            return [self.literal(e) for e in node.elts]
        raise _refuse(self.where, f"{ast.unparse(node)!r} is not allowed here")

    def value(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Name):
            return self.column(node)
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
            left, right = self.value(node.left), self.value(node.right)
            for side in (left, right):
                if isinstance(side, str | list):
                    raise _refuse(self.where, "arithmetic works on numbers and columns only")
            with np.errstate(all="ignore"):
                return _ARITH[type(node.op)](left, right)
        if isinstance(node, ast.BoolOp | ast.Compare) or (
                isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)):
            return self.condition(node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            operand = self.value(node.operand)
            if isinstance(operand, pd.Series):
                return -operand if isinstance(node.op, ast.USub) else operand
        return self.literal(node)

    def condition(self, node: ast.AST) -> pd.Series:
        if isinstance(node, ast.BoolOp):
            parts = [self.condition(v) for v in node.values]
            out = parts[0]
            for p in parts[1:]:
                out = (out & p) if isinstance(node.op, ast.And) else (out | p)
            return out
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return ~self.condition(node.operand)
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Name):
            col = self.column(node)
            if col.dtype == bool:
                return col
        raise _refuse(self.where, f"{ast.unparse(node)!r} is not a condition")

    def compare(self, node: ast.Compare) -> pd.Series:
        out = pd.Series(True, index=self.df.index)
        left = self.value(node.left)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.value(right_node)
            if isinstance(op, ast.In | ast.NotIn):
                if not isinstance(left, pd.Series) or not isinstance(right, list):
                    raise _refuse(self.where, "'in' needs a column on the left and a list "
                                  "on the right")
                part = left.isin(right)
                part = ~part if isinstance(op, ast.NotIn) else part
            elif type(op) in _COMPARE:
                if not (isinstance(left, pd.Series) or isinstance(right, pd.Series)):
                    raise _refuse(self.where, "a comparison needs a column")
                try:
                    part = _COMPARE[type(op)](left, right)
                except TypeError as exc:
                    raise _refuse(self.where, f"cannot compare: {exc}") from None
            else:
                raise _refuse(self.where, f"the operator {type(op).__name__} is not allowed")
            part = pd.Series(np.asarray(part, dtype=bool), index=self.df.index)
            out &= part
            left = right
        return out


def evaluate_where(df: pd.DataFrame, where: str) -> pd.Series:
    """The boolean row mask of a filter expression, evaluated without running code.

    Parameters
    ----------
    df : pandas.DataFrame
        The table whose columns the expression names.
    where : str
        The filter, e.g. ``"split == 'test' and n_params >= 1e6"``.

    Returns
    -------
    pandas.Series
        A boolean mask aligned with ``df``'s index.

    Raises
    ------
    DataValidationError
        For syntax outside the whitelist (attributes, calls, ``@`` names,
        subscripts, lambdas, ...), an unknown column, or a non-boolean result,
        before anything is evaluated.

    Examples
    --------
    >>> df = pd.DataFrame({"split": ["train", "test"], "n": [1, 2]})
    >>> evaluate_where(df, "split in ['test'] and n > 1").tolist()
    [False, True]
    """
    if "@" in where:
        raise _refuse(where, "'@' (a name outside the table) is not allowed")
    tree, quoted = _parse(where)
    allowed = (ast.Expression, ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.Compare, ast.Name,
               ast.Load, ast.Constant, ast.List, ast.Tuple, ast.And, ast.Or, ast.Not,
               ast.USub, ast.UAdd, ast.In, ast.NotIn,
               *_COMPARE, *_ARITH)
    for node in ast.walk(tree):
        if not isinstance(node, allowed):
            shown = ast.unparse(node) if isinstance(node, ast.expr) else type(node).__name__
            raise _refuse(where, f"{shown!r} ({type(node).__name__}) is not allowed")
        if isinstance(node, ast.Constant) and not isinstance(node.value, int | float | str
                                                             | bool):
            raise _refuse(where, f"the constant {node.value!r} is not allowed")
    mask = _Evaluator(df, where, quoted).condition(tree.body)
    return mask.astype(bool)
