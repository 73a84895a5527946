"""Laws for bounded downstream metrics: accuracy or error between a floor and a ceiling.

* ``sigmoid_log``: a sigmoid in log scale (compute, parameters, tokens),
  ``y = floor + (ceiling - floor) / (1 + exp(-slope (log x - log x_mid)))``;
* ``logit_linear``: a sigmoid of a linear function of a score (a loss, a
  capability score), ``y = floor + (ceiling - floor) / (1 + exp(-(a + b s)))``;
  the score can be any real number.

``floor`` (e.g. the chance level, 0.25 on four-way multiple choice) and
``ceiling`` can be fixed as options (``"sigmoid_log:floor=0.25"``). A
decreasing metric (an error rate) takes a negative slope.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from scalelaw.exceptions import DataValidationError
from scalelaw.laws._base import Param, ScalingLaw, _clip_theta

__all__ = ["LogitLinearLaw", "SigmoidLogLaw"]


def _level(name: str, value: float | None, free: tuple[float, float]) -> Param:
    if value is None:
        return Param(name, *free)
    if not np.isfinite(value):
        raise DataValidationError(f"The {name!r} option must be a finite number, got "
                                  f"{value!r}.", column=name)
    return Param(name, float(value), float(value))


def _levels(y: np.ndarray, floor: float | None, ceiling: float | None
            ) -> list[tuple[float, float]]:
    lo, hi = float(np.min(y)), float(np.max(y))
    span = max(hi - lo, 1e-6 * max(abs(hi), 1.0))
    floors = [floor] if floor is not None else [max(lo - 0.5 * span, 0.0), max(lo - 0.05
                                                                                * span, 0.0)]
    ceilings = [ceiling] if ceiling is not None else [hi + 0.05 * span, hi + 0.5 * span]
    if ceiling is None and hi < 1.0:
        ceilings.append(1.0)
    return [(f, c) for f in floors for c in ceilings if c > f]


def _logit_fit(u: np.ndarray, y: np.ndarray, f: float, c: float) -> tuple[float, float]:
    q = np.clip((y - f) / (c - f), 1e-4, 1 - 1e-4)
    slope, intercept = np.polyfit(u, np.log(q / (1 - q)), 1)
    return float(intercept), float(slope)


@dataclass(frozen=True)
class SigmoidLogLaw(ScalingLaw):
    r"""Sigmoid in log scale between a floor and a ceiling.

    :math:`y = f + (c - f) / (1 + e^{-k (\log x - \log x_{mid})})`.

    Examples
    --------
    >>> from scalelaw.laws import SigmoidLogLaw
    >>> law = SigmoidLogLaw(floor=0.25)
    >>> law.param_names
    ('floor', 'ceiling', 'slope', 'x_mid')
    >>> law({"floor": 0.25, "ceiling": 1.0, "slope": 1.0, "x_mid": 1e3}, x=[1e3]).tolist()
    [0.625]
    """

    stackable: ClassVar[bool] = True
    name: str = "sigmoid_log"
    formula: str = "y = floor + (ceiling - floor) / (1 + exp(-slope * (log(x) - log(x_mid))))"
    inputs: tuple[str, ...] = ("x",)
    params: tuple[Param, ...] = ()
    floor: float | None = field(default=None)
    ceiling: float | None = field(default=None)

    def __post_init__(self) -> None:
        if not self.params:
            object.__setattr__(self, "params", (
                _level("floor", self.floor, (0.0, np.inf)),
                _level("ceiling", self.ceiling, (0.0, np.inf)),
                Param("slope", -50.0, 50.0),
                Param("x_mid", 0.0, np.inf, log=True),
            ))

    def evaluate(self, P, X):
        f, c, k, x_mid = P
        return f + (c - f) / (1.0 + np.exp(-k * (X.log(0) - np.log(x_mid))))

    def start_points(self, X, y, rng):
        u = X.log(0).ravel()
        starts = []
        for f, c in _levels(y, self.floor, self.ceiling):
            b0, b1 = _logit_fit(u, y, f, c)
            b1 = b1 if abs(b1) > 1e-3 else 1e-3
            for mult in (1.0, 0.5, 2.0):
                starts.append([f, c, b1 * mult, -b0 / b1])
        return _clip_theta(self, np.array(starts, dtype=np.float64))

    def to_spec(self) -> dict[str, Any]:
        """Return a JSON-ready description (with the fixed floor/ceiling)."""
        spec = super().to_spec()
        spec["options"] = {"floor": self.floor, "ceiling": self.ceiling}
        return spec


@dataclass(frozen=True)
class LogitLinearLaw(ScalingLaw):
    r"""Sigmoid of a linear function of a score, between a floor and a ceiling.

    :math:`y = f + (c - f) / (1 + e^{-(a + b s)})`; the score ``s`` may take any
    sign (a loss, a benchmark score, a capability component).

    Examples
    --------
    >>> from scalelaw.laws import LogitLinearLaw
    >>> law = LogitLinearLaw(floor=0.25, ceiling=1.0)
    >>> law({"floor": 0.25, "ceiling": 1.0, "a": 0.0, "b": -2.0}, s=[0.0]).tolist()
    [0.625]
    """

    stackable: ClassVar[bool] = True
    name: str = "logit_linear"
    formula: str = "y = floor + (ceiling - floor) / (1 + exp(-(a + b * s)))"
    inputs: tuple[str, ...] = ("s",)
    params: tuple[Param, ...] = ()
    floor: float | None = field(default=None)
    ceiling: float | None = field(default=None)
    positive_inputs: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if not self.params:
            object.__setattr__(self, "params", (
                _level("floor", self.floor, (0.0, np.inf)),
                _level("ceiling", self.ceiling, (0.0, np.inf)),
                Param("a", -np.inf, np.inf),
                Param("b", -np.inf, np.inf),
            ))

    def evaluate(self, P, X):
        f, c, a, b = P
        return f + (c - f) / (1.0 + np.exp(-(a + b * X[0])))

    def start_points(self, X, y, rng):
        s = np.asarray(X[0], dtype=np.float64).ravel()
        starts = []
        for f, c in _levels(y, self.floor, self.ceiling):
            a, b = _logit_fit(s, y, f, c)
            for mult in (1.0, 0.5, 2.0):
                starts.append([f, c, a * mult, b * mult])
        return _clip_theta(self, np.array(starts, dtype=np.float64))

    def to_spec(self) -> dict[str, Any]:
        """Return a JSON-ready description (with the fixed floor/ceiling)."""
        spec = super().to_spec()
        spec["options"] = {"floor": self.floor, "ceiling": self.ceiling}
        return spec
