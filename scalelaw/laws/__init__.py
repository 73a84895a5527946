"""Scaling-law specifications: formulas, parameters, bounds, starts, and the registry.

Every built-in law, the user-law wrappers and the extension hooks are
importable from here:

* built-in: :class:`PowerLaw` (``power``), :class:`SaturatingPowerLaw`
  (``saturating_power``), :class:`ChinchillaLaw` (``chinchilla``),
  :class:`KaplanLaw` (``kaplan``), :class:`GadreLaw` (``gadre``: one
  exponent for parameters and data, Gadre et al. 2024), :class:`BrokenPowerLaw`
  (``broken_power``), :class:`M1Law` .. :class:`M4Law` (``m1`` .. ``m4``);
  bounded metrics :class:`SigmoidLogLaw` (``sigmoid_log``: accuracy or
  error against log compute) and :class:`LogitLinearLaw` (``logit_linear``:
  against a score such as a loss), :class:`OlmoSigmoidLaw` (``olmo_sigmoid``:
  the OLMo ladder's sigmoid in a task loss) and :class:`GadreErrorLaw`
  (``gadre_error``: top-1 error against the loss);
* user-defined: :class:`ExpressionLaw` (a formula string),
  :class:`CallableLaw` (a Python function), :class:`LmfitLaw` (an
  ``lmfit.Model`` with its ``lmfit.Parameters``);
* a new law class subclasses :class:`ScalingLaw` and implements the hooks
  :meth:`ScalingLaw.evaluate` and :meth:`ScalingLaw.start_points` (see
  ``scalelaw/laws/_base.py``).

Examples
--------
>>> from scalelaw.laws import get_law, list_laws
>>> get_law("saturating_power").param_names
('E', 'A', 'alpha')
>>> len(list_laws())
14
"""

from scalelaw.laws._base import Inputs, Param, ScalingLaw
from scalelaw.laws._bounded import GadreErrorLaw, LogitLinearLaw, OlmoSigmoidLaw, SigmoidLogLaw
from scalelaw.laws._builtin import (
    ChinchillaLaw,
    GadreLaw,
    KaplanLaw,
    PowerLaw,
    SaturatingPowerLaw,
)
from scalelaw.laws._curves import BrokenPowerLaw, M1Law, M2Law, M3Law, M4Law
from scalelaw.laws._formula import ExpressionLaw, parse_expression
from scalelaw.laws._python import CallableLaw, LmfitLaw
from scalelaw.laws._registry import LAWS, average_names, get_law, law_from_spec, list_laws

__all__ = [
    "LAWS",
    "BrokenPowerLaw",
    "CallableLaw",
    "ChinchillaLaw",
    "ExpressionLaw",
    "GadreErrorLaw",
    "GadreLaw",
    "Inputs",
    "KaplanLaw",
    "LmfitLaw",
    "LogitLinearLaw",
    "M1Law",
    "M2Law",
    "M3Law",
    "M4Law",
    "OlmoSigmoidLaw",
    "Param",
    "PowerLaw",
    "SaturatingPowerLaw",
    "ScalingLaw",
    "SigmoidLogLaw",
    "average_names",
    "get_law",
    "law_from_spec",
    "list_laws",
    "parse_expression",
]
