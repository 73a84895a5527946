"""Laws for bounded downstream metrics: accuracy or error between a floor and a ceiling.

* ``sigmoid_log``: a sigmoid in log scale (compute, parameters, tokens),
  ``y = floor + (ceiling - floor) / (1 + exp(-slope (log x - log x_mid)))``;
* ``logit_linear``: a sigmoid of a linear function of a score (a loss, a
  capability score), ``y = floor + (ceiling - floor) / (1 + exp(-(a + b s)))``;
  the score can be any real number;
* ``olmo_sigmoid``: the OLMo model ladder's sigmoid in a task loss,
  ``y = a / (1 + exp(-k (L - L0))) + b``;
* ``gadre_error``: Gadre et al.'s top-1 error against the loss,
  ``Err = eps - k exp(-gamma L)``.

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

__all__ = ["GadreErrorLaw", "LogitLinearLaw", "OlmoSigmoidLaw", "SigmoidLogLaw"]


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


def _linear_fit(basis: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares coefficients of ``y`` on the columns of ``basis``."""
    coef, *_ = np.linalg.lstsq(basis, y, rcond=None)
    return coef


@dataclass(frozen=True)
class OlmoSigmoidLaw(ScalingLaw):
    r"""Sigmoid in a task loss, the form of the OLMo model ladder (Bhagia et al., 2024).

    :math:`y = a / (1 + e^{-k (L - L_0)}) + b`: accuracy rises from ``b`` to
    ``a + b`` as the task loss ``L`` falls (``k < 0``). ``a >= 0`` (the curve
    with ``-a, -k`` is the same one). ``b`` may be fixed at the chance level
    (``"olmo_sigmoid:floor=0.25"``). Starts: a grid over ``k`` and ``L0`` with
    ``a``, ``b`` from least squares at each.

    Examples
    --------
    >>> from scalelaw.laws import OlmoSigmoidLaw
    >>> law = OlmoSigmoidLaw(floor=0.25)
    >>> law.param_names
    ('a', 'k', 'L0', 'b')
    >>> law({"a": 0.5, "k": -4.0, "L0": 1.0, "b": 0.25}, loss=[1.0]).tolist()
    [0.5]
    """

    stackable: ClassVar[bool] = True
    name: str = "olmo_sigmoid"
    formula: str = "y = a / (1 + exp(-k * (L - L0))) + b"
    inputs: tuple[str, ...] = ("loss",)
    params: tuple[Param, ...] = ()
    floor: float | None = field(default=None)
    positive_inputs: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if not self.params:
            b = (Param("b", -np.inf, np.inf) if self.floor is None
                 else _level("b", self.floor, (-np.inf, np.inf)))
            object.__setattr__(self, "params", (
                Param("a", 0.0, np.inf), Param("k", -np.inf, np.inf),
                Param("L0", -np.inf, np.inf), b,
            ))

    def evaluate(self, P, X):
        a, k, l0, b = P
        return a / (1.0 + np.exp(-k * (X[0] - l0))) + b

    def start_points(self, X, y, rng):
        s = np.asarray(X[0], dtype=np.float64).ravel()
        spread = max(float(np.std(s)), 1e-6)
        starts = []
        for k in np.array([-8.0, -4.0, -2.0, -1.0, -0.5, 0.5, 1.0, 2.0, 4.0, 8.0]) / spread:
            for l0 in np.quantile(s, [0.0, 0.25, 0.5, 0.75, 1.0]) + np.array([-spread, 0, 0,
                                                                               0, spread]):
                sig = 1.0 / (1.0 + np.exp(-k * (s - l0)))
                if self.floor is None:
                    a, b = _linear_fit(np.stack([sig, np.ones_like(sig)], axis=1), y)
                else:
                    b = self.floor
                    a = float(_linear_fit(sig[:, None], y - b)[0])
                starts.append([max(a, 1e-6), k, l0, b])
        return _clip_theta(self, np.array(starts, dtype=np.float64))

    def to_spec(self) -> dict[str, Any]:
        """Return a JSON-ready description (with the fixed floor)."""
        spec = super().to_spec()
        spec["options"] = {"floor": self.floor}
        return spec


@dataclass(frozen=True)
class GadreErrorLaw(ScalingLaw):
    r"""Top-1 error against the loss, the law of Gadre et al. (2024).

    :math:`\mathrm{Err}(L) = \epsilon - k\,e^{-\gamma L}`: the error falls
    from ``eps`` (reached as the loss grows) as the loss falls; ``k > 0``,
    ``gamma >= 0``. Starts: a grid over ``gamma`` with ``eps``, ``k`` from
    least squares at each.

    Examples
    --------
    >>> from scalelaw.laws import GadreErrorLaw
    >>> law = GadreErrorLaw()
    >>> law.param_names
    ('eps', 'k', 'gamma')
    >>> round(float(law({"eps": 0.86, "k": 2.2, "gamma": 0.71}, loss=[2.5])[0]), 4)
    0.4871
    """

    stackable: ClassVar[bool] = True
    name: str = "gadre_error"
    formula: str = "Err = eps - k * exp(-gamma * L)"
    inputs: tuple[str, ...] = ("loss",)
    params: tuple[Param, ...] = (
        Param("eps", 0.0, np.inf),
        Param("k", 0.0, np.inf, log=True),
        Param("gamma", 0.0, 50.0),
    )
    positive_inputs: ClassVar[bool] = False

    def evaluate(self, P, X):
        eps, k, gamma = P
        return eps - k * np.exp(-gamma * X[0])

    def start_points(self, X, y, rng):
        s = np.asarray(X[0], dtype=np.float64).ravel()
        scale = max(float(np.mean(np.abs(s))), 1e-6)
        starts = []
        for g in np.array([0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.5, 4.0]) * 3.0 / scale:
            eps, negk = _linear_fit(np.stack([np.ones_like(s), np.exp(-g * s)], axis=1), y)
            starts.append([max(eps, 0.0), np.log(max(-negk, 1e-6)), g])
        return _clip_theta(self, np.array(starts, dtype=np.float64))
