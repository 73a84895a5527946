"""The geometric mean of several laws, each fitted on its own (forecast combination).

Averaging the forecasts of plausible laws in log space is more accurate than
picking one of them by noisy held-out scores (the "forecast combination
puzzle": equal weights are hard to beat). ``law="auto"`` uses it when the
candidates' held-out scores are within their uncertainty.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np

from scalelaw.exceptions import DataValidationError
from scalelaw.laws._base import Inputs, Param, ScalingLaw, _convert

__all__ = ["AverageLaw", "refuse_joint_refit"]


@dataclass(frozen=True)
class AverageLaw(ScalingLaw):
    """Geometric mean of member laws: ``log L = mean_i log L_i(x; theta_i)``.

    Each member is fitted alone (:func:`scalelaw.fit` fits the members and
    combines them; the parameters are never optimised jointly, where the
    members' shared shape would make them unidentifiable). Parameter names
    are ``"<member>.<parameter>"``. Its name lists the members, as
    :func:`~scalelaw.laws.get_law` reads it (``"average:m3+m4+broken_power"``).

    Parameters
    ----------
    members : tuple of ScalingLaw
        At least two laws of the same inputs.

    Examples
    --------
    >>> from scalelaw.laws import get_law
    >>> law = get_law("average:power+saturating_power")
    >>> law.name
    'average:power+saturating_power'
    >>> law.param_names
    ('power.A', 'power.alpha', 'saturating_power.E', 'saturating_power.A', 'saturating_power.alpha')
    >>> p = {"power.A": 4.0, "power.alpha": 0.5, "saturating_power.E": 0.0,
    ...      "saturating_power.A": 1.0, "saturating_power.alpha": 0.5}
    >>> float(law(p, x=4.0)[0])  # the geometric mean of 2 and 0.5
    1.0
    """

    native_log: ClassVar[bool] = True
    name: str = "average"
    formula: str = ""
    inputs: tuple[str, ...] = ()
    params: tuple[Param, ...] = ()
    members: tuple[ScalingLaw, ...] = field(default=())

    def __post_init__(self) -> None:
        members = tuple(self.members)
        if len(members) < 2:
            raise DataValidationError(
                f"The 'members' parameter of an average needs at least two laws. Got "
                f"{len(members)} instead.",
                column="members",
            )
        inputs = members[0].inputs
        for m in members[1:]:
            if len(m.inputs) != len(inputs):
                raise DataValidationError(
                    f"Members of an average must take the same number of inputs: "
                    f"{members[0].name!r} takes {len(inputs)}, {m.name!r} takes "
                    f"{len(m.inputs)}.",
                    column="members",
                )
        object.__setattr__(self, "members", members)
        if self.name == "average":  # named by its members, as get_law reads it
            object.__setattr__(self, "name", "average:" + "+".join(m.name for m in members))
        if not self.inputs:
            object.__setattr__(self, "inputs", tuple(inputs))
        if not self.formula:
            object.__setattr__(self, "formula", "geometric mean of "
                               + ", ".join(m.name for m in members))
        if not self.params:
            labels = self.labels
            object.__setattr__(self, "params", tuple(
                replace(p, name=f"{lab}.{p.name}")
                for lab, m in zip(labels, members, strict=True) for p in m.params))

    @property
    def labels(self) -> tuple[str, ...]:
        """Member labels: their names, numbered where a name repeats."""
        names = [m.name for m in self.members]
        return tuple(n if names.count(n) == 1 else f"{n}{i + 1}" for i, n in enumerate(names))

    @property
    def slices(self) -> list[slice]:
        """Each member's columns in the parameter vector."""
        out, at = [], 0
        for m in self.members:
            out.append(slice(at, at + len(m.params)))
            at += len(m.params)
        return out

    def evaluate(self, P, X):
        logs = []
        for m, sl in zip(self.members, self.slices, strict=True):
            v = m.evaluate(P[sl], X)
            logs.append(v if m.native_log else np.log(v))
        return sum(logs) / len(logs)

    def value_and_jacobian(self, theta, X, *, log, jac=True):
        """Each member's log prediction and derivatives, averaged."""
        k = len(self.members)
        value = None
        grads: list[np.ndarray] = []
        for m, sl in zip(self.members, self.slices, strict=True):
            v, g = m.value_and_jacobian(theta[:, sl], X, log=True, jac=jac)
            value = v / k if value is None else value + v / k
            grads += [gj / k for gj in g]
        return _convert(value, grads, native_log=True, want_log=log)

    def start_points(self, X: Inputs, y: np.ndarray, rng: Any) -> np.ndarray:
        return np.concatenate([m.start_points(X, y, rng)[:1] for m in self.members], axis=1)

    def with_bounds(self, **bounds: tuple[float, float]) -> AverageLaw:
        """Return a copy with new bounds (names ``"<member>.<parameter>"``)."""
        new = ScalingLaw.with_bounds(self, **bounds)
        members = tuple(
            m.with_bounds(**{p.name: (q.lower, q.upper) for p, q in
                             zip(m.params, new.params[sl], strict=True)})
            for m, sl in zip(self.members, self.slices, strict=True))
        return replace(self, members=members, params=new.params)

    def to_spec(self) -> dict[str, Any]:
        """Return a JSON-ready description (the members' own specs)."""
        return {"name": "average", "members": [m.to_spec() for m in self.members]}


def refuse_joint_refit(law: ScalingLaw, what: str, parameter: str) -> None:
    """Refuse ``what`` (a bootstrap, profile intervals) for an average of laws.

    Both refit the law; an average's members would then be optimised jointly,
    where their shared shape leaves them unidentifiable.
    """
    if isinstance(law, AverageLaw):
        raise DataValidationError(
            f"An average of laws has no {what}: its members are fitted one by one, never "
            "jointly. Use its Wald intervals (method='wald', from the joint covariance), "
            "or fit the members alone.",
            column=parameter,
        )
