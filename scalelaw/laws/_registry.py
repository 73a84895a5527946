"""Law names: the registry of built-in laws, lookup by name or formula, JSON specs."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from scalelaw._validation import unknown_name
from scalelaw.exceptions import DataValidationError
from scalelaw.laws._base import ScalingLaw
from scalelaw.laws._bounded import GadreErrorLaw, LogitLinearLaw, OlmoSigmoidLaw, SigmoidLogLaw
from scalelaw.laws._builtin import (
    ChinchillaLaw,
    GadreLaw,
    KaplanLaw,
    PowerLaw,
    SaturatingPowerLaw,
)
from scalelaw.laws._curves import BrokenPowerLaw, M1Law, M2Law, M3Law, M4Law
from scalelaw.laws._formula import ExpressionLaw
from scalelaw.laws._python import CallableLaw, LmfitLaw

__all__ = ["LAWS", "average_names", "get_law", "law_from_spec", "list_laws"]

#: Built-in laws by registry name.
LAWS: dict[str, type[ScalingLaw]] = {
    "power": PowerLaw,
    "saturating_power": SaturatingPowerLaw,
    "chinchilla": ChinchillaLaw,
    "kaplan": KaplanLaw,
    "broken_power": BrokenPowerLaw,
    "m1": M1Law,
    "m2": M2Law,
    "m3": M3Law,
    "m4": M4Law,
    "sigmoid_log": SigmoidLogLaw,
    "logit_linear": LogitLinearLaw,
    "gadre": GadreLaw,
    "olmo_sigmoid": OlmoSigmoidLaw,
    "gadre_error": GadreErrorLaw,
}


def list_laws() -> list[str]:
    """Return the names of the built-in laws.

    Returns
    -------
    list of str
        Sorted registry names.

    Examples
    --------
    >>> from scalelaw.laws import list_laws
    >>> "chinchilla" in list_laws()
    True
    """
    return sorted(LAWS)


def average_names(law: Any) -> list[str] | None:
    """The law names of ``"average:a+b+..."``, or None when ``law`` names no average.

    Parameters
    ----------
    law : object
        A law argument.

    Returns
    -------
    list of str or None
        The members' names (at least two).

    Raises
    ------
    DataValidationError
        ``"average:"`` followed by fewer than two names.

    Examples
    --------
    >>> average_names("average:m3+m4")
    ['m3', 'm4']
    >>> average_names("m4") is None
    True
    """
    if not isinstance(law, str):
        return None
    head, sep, tail = law.strip().partition(":")
    if head.strip() != "average":
        return None
    names = [t.strip() for t in tail.split("+")] if sep else []
    if len(names) < 2 or not all(names):
        raise DataValidationError(
            f"An average names its laws after a colon, joined by '+' (e.g. "
            f"'average:m3+m4'). Got {law!r} instead.",
            column="law",
        )
    return names


def get_law(
    law: str | ScalingLaw | Callable[..., Any] | Any,
    *,
    inputs: Sequence[str] | None = None,
) -> ScalingLaw:
    """Return a law from a name, a formula, a function, an lmfit model or a law.

    Parameters
    ----------
    law : str, ScalingLaw, callable or lmfit.Model
        A built-in name (see :func:`list_laws`, options as
        ``"broken_power:n_breaks=2"``), a formula such as
        ``"E + A * n**(-alpha)"``, a Python function ``f(x..., params...)``
        (parameters named by its signature), an ``lmfit.Model`` or a law.
    inputs : sequence of str, optional
        Input names for a formula or a function (required then).

    Returns
    -------
    ScalingLaw
        The law.

    Examples
    --------
    >>> from scalelaw.laws import get_law
    >>> get_law("chinchilla").name
    'chinchilla'
    >>> get_law("a * exp(-k * t)", inputs=["t"]).param_names
    ('a', 'k')
    """
    if isinstance(law, ScalingLaw):
        return law
    if _is_lmfit_model(law):
        return LmfitLaw.from_model(law)
    if callable(law) and not isinstance(law, str):
        if inputs is None:
            raise DataValidationError(
                "A law given as a Python function needs the names of its input columns "
                "(inputs=... or x=...).",
                column="law",
            )
        return CallableLaw.from_function(law, inputs=inputs)
    if not isinstance(law, str):
        raise DataValidationError(
            "A law must be a name, a formula string, a function, an lmfit.Model or a "
            f"ScalingLaw. Got {law!r} instead.",
            column="law",
        )
    key = law.strip()
    if key in LAWS:
        return LAWS[key]()
    head, sep, tail = key.partition(":")
    if average_names(key) is not None:
        raise DataValidationError(
            f"{key!r} names a combination of fitted laws, not one law: scalelaw.fit fits "
            "each law alone and combines the results (scalelaw.combine).",
            column="law",
        )
    if sep and head.strip() in LAWS:
        return LAWS[head.strip()](**_parse_law_options(head.strip(), tail))
    if key.isidentifier():
        raise unknown_name("law", key, [*LAWS, "auto", "average"])
    if inputs is None:
        raise DataValidationError(
            f"Formula {law!r} needs the names of its input columns (inputs=...).",
            column="law",
        )
    return ExpressionLaw.from_string(key, inputs=inputs)


def _is_lmfit_model(obj: Any) -> bool:
    module = type(obj).__module__ or ""
    if not module.startswith("lmfit"):
        return False
    import lmfit

    return isinstance(obj, lmfit.Model)


def _parse_law_options(name: str, text: str) -> dict[str, Any]:
    """Parse ``"n_breaks=2,eps_0=0.9"`` into typed keyword arguments."""
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
    """Rebuild a law from :meth:`ScalingLaw.to_spec` output.

    Parameters
    ----------
    spec : mapping
        The description.

    Returns
    -------
    ScalingLaw
        The law.

    Raises
    ------
    DataValidationError
        For laws defined by Python code (a function or an lmfit model).

    Examples
    --------
    >>> from scalelaw.laws import BrokenPowerLaw
    >>> law_from_spec(BrokenPowerLaw(n_breaks=2).to_spec()).n_breaks
    2
    """
    name = spec["name"]
    bounds = {k: (float(v[0]), float(v[1])) for k, v in spec.get("bounds", {}).items()}
    if name == "expression":
        p0 = spec.get("p0", {})
        if isinstance(p0, list):  # written before p0 became a mapping
            p0 = dict(zip([*bounds], p0, strict=False))
        return ExpressionLaw.from_string(
            spec["expression"], inputs=spec["inputs"], bounds=bounds, p0=p0,
            log_params=spec.get("log_params", ()),
        )
    if name in LAWS:
        law = LAWS[name](**dict(spec.get("options", {})))
        return law.with_bounds(**bounds) if bounds else law
    raise DataValidationError(
        f"Law {name!r} cannot be restored from JSON (it is Python code). Pass the "
        "law object again: FitResult.from_dict(d, law=my_law).",
        column="law",
    )
