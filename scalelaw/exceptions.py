"""Errors and warnings raised by scalelaw.

Every error subclasses the matching builtin as well as :class:`ScaleLawError`,
so ``except ValueError`` keeps working. The command line catches
:class:`ScaleLawError` and prints its message on one line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "BootstrapWarning",
    "ConvergenceWarning",
    "DataValidationError",
    "DuplicateRowsWarning",
    "ExcludedRowsWarning",
    "ExtrapolationError",
    "ExtrapolationWarning",
    "FitError",
    "IdentifiabilityWarning",
    "ScaleLawError",
    "ScaleLawWarning",
    "UnknownNameError",
]


class ScaleLawError(Exception):
    """Base class of every error raised on purpose by scalelaw."""


class DataValidationError(ScaleLawError, ValueError):
    """Input data or arguments are unusable.

    Parameters
    ----------
    message : str
        What is wrong, the offending value and what was expected.
    column : str or None, default=None
        The column (or parameter) at fault.
    rows : sequence of int, default=()
        Positions (0-based, in the table as given) of the offending rows.
    """

    def __init__(
        self, message: str, *, column: str | None = None, rows: Sequence[Any] = ()
    ) -> None:
        super().__init__(message)
        self.column = column
        self.rows = list(rows)


class UnknownNameError(ScaleLawError, KeyError):
    """A name (law, column, task, ...) is not known.

    ``str()`` gives the plain message (``KeyError`` would quote it).
    """

    def __init__(self, message: str, *, name: str, choices: Sequence[str]) -> None:
        super().__init__(message)
        self.name = name
        self.choices = list(choices)

    def __str__(self) -> str:
        return str(self.args[0])


class FitError(ScaleLawError, RuntimeError):
    """The optimizer found no acceptable solution.

    Parameters
    ----------
    message : str
        Explanation.
    attempts : Any, default=None
        Structured payload describing what was tried.
    """

    def __init__(self, message: str, *, attempts: Any = None) -> None:
        super().__init__(message)
        self.attempts = attempts


class ExtrapolationError(ScaleLawError, ValueError):
    """A prediction was asked for too far outside the fitted domain."""


class ScaleLawWarning(UserWarning):
    """Base class of scalelaw warnings."""


class IdentifiabilityWarning(ScaleLawWarning):
    """The data do not identify the parameters.

    Raised by :func:`scalelaw.fit` when the information matrix is singular
    (some parameter combination is not determined) or when optima with
    nearly the same loss disagree. Milder findings (a parameter at a bound,
    strong correlation) are diagnostics of the result only.
    """


class ConvergenceWarning(ScaleLawWarning):
    """The optimizer stopped without meeting its convergence test.

    Raised by :func:`scalelaw.fit`; the optimiser's message is in
    ``FitResult.message``.
    """


class ExtrapolationWarning(ScaleLawWarning):
    """A forecast was made beyond the extrapolation guard because it was asked for.

    Raised by :meth:`scalelaw.FitResult.get_prediction` with
    ``extrapolate=True`` when points lie more than ``max_extrapolation``
    times beyond the fitted domain, and when prediction intervals beyond the
    domain are not calibrated (see :func:`scalelaw.calibrate`).
    """


class BootstrapWarning(ScaleLawWarning):
    """The bootstrap resamples too few units (rows or groups) to be trusted."""


class DuplicateRowsWarning(ScaleLawWarning):
    """The data hold identical rows; they are kept and counted."""


class ExcludedRowsWarning(ScaleLawWarning):
    """Rows were excluded on request; the count and reasons are given."""
