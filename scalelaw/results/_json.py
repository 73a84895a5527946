"""JSON round trip of fit results: lossless, non-finite floats as strings."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from scalelaw.exceptions import DataValidationError
from scalelaw.forecast import ExtrapolationCalibration
from scalelaw.inference import Diagnostic
from scalelaw.laws import ScalingLaw, law_from_spec

__all__ = ["SCHEMA_VERSION", "fit_from_dict", "fit_to_dict", "from_jsonable", "to_jsonable"]

SCHEMA_VERSION = 1


def to_jsonable(value: Any) -> Any:
    """Plain JSON types for ``value``: non-finite floats become strings, so nothing is lost."""
    if isinstance(value, float | np.floating):
        v = float(value)
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return v
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.ndarray):
        return [to_jsonable(v) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    return value


def from_jsonable(value: Any) -> Any:
    if isinstance(value, str) and value in ("nan", "inf", "-inf"):
        return float(value)
    if isinstance(value, list):
        return [from_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: from_jsonable(v) for k, v in value.items()}
    return value




def fit_to_dict(result: Any, method: str | None = None) -> dict[str, Any]:
    """See :meth:`FitResult.to_dict`."""
    method = method or result.default_interval_method
    ci = result.conf_int(method=method)
    boot = None
    if result.bootstrap is not None:
        boot = {c: result.bootstrap[c].tolist() for c in result.bootstrap.columns}
    out = {
        "schema_version": SCHEMA_VERSION,
        "law": result.law.name,
        "formula": result.law.formula,
        "law_spec": result.law.to_spec(),
        "x": list(result.x),
        "y": result.y,
        "params": {k: float(v) for k, v in result.params.items()},
        "stderr": {k: float(v) for k, v in result.stderr.items()},
        "conf_int": {k: [float(ci.loc[k, "lower"]), float(ci.loc[k, "upper"])]
                     for k in result.params.index},
        "conf_int_method": method,
        "level": result.level,
        "cov": result.cov.to_numpy().tolist(),
        "theta": result.theta.tolist(),
        "cov_internal": result.cov_internal.tolist(),
        "objective": result.objective,
        "delta": result.delta,
        "loss": result.loss,
        "n_obs": result.n_obs,
        "dof_resid": result.dof_resid,
        "aic": result.aic,
        "bic": result.bic,
        "converged": result.converged,
        "message": result.message,
        "n_starts": result.n_starts,
        "n_starts_converged": result.n_starts_converged,
        "n_starts_at_best": result.n_starts_at_best,
        "optima": {c: result.optima[c].tolist() for c in result.optima.columns},
        "data": {c: result.data[c].tolist() for c in result.data.columns},
        "domain": {k: list(v) for k, v in result.domain.items()},
        "excluded": dict(result.excluded),
        "diagnostics": [d.to_dict() for d in result.diagnostics],
        "scale": dict(result.scale),
        "bootstrap": boot,
        "bootstrap_info": dict(result.bootstrap_info),
        "settings": dict(result.settings),
        "versions": dict(result.versions),
        "calibration": None if result.calibration is None else result.calibration.to_dict(),
    }
    return to_jsonable(out)


def fit_from_dict(cls: type[Any], d: Mapping[str, Any], law: ScalingLaw | None
                  ) -> Any:
    """See :meth:`FitResult.from_dict`."""
    d = from_jsonable(dict(d))
    if d.get("kind") == "combination":
        raise DataValidationError(
            "This JSON holds a combination of fitted laws, not one fit: read it with "
            "scalelaw.CombinedFit.from_dict (or scalelaw.results.result_from_dict, which "
            "reads either).", column="kind")
    version = d.get("schema_version")
    if version != SCHEMA_VERSION:
        raise DataValidationError(
            f"Fit JSON has schema_version {version!r}; this scalelaw reads "
            f"{SCHEMA_VERSION}.",
            column="schema_version",
        )
    law = law or law_from_spec(d["law_spec"])
    names = list(law.param_names)
    boot = None
    if d.get("bootstrap") is not None:
        boot = pd.DataFrame(d["bootstrap"])
    cal = d.get("calibration")
    return cls(
        law=law,
        x=tuple(d["x"]),
        y=d["y"],
        params=pd.Series(d["params"], dtype=np.float64)[names],
        stderr=pd.Series(d["stderr"], dtype=np.float64)[names],
        cov=pd.DataFrame(np.array(d["cov"], dtype=np.float64), index=names,
                         columns=names),
        theta=np.array(d["theta"], dtype=np.float64),
        cov_internal=np.array(d["cov_internal"], dtype=np.float64),
        objective=d["objective"],
        delta=float(d["delta"]),
        loss=float(d["loss"]),
        n_obs=int(d["n_obs"]),
        dof_resid=int(d["dof_resid"]),
        aic=float(d["aic"]),
        bic=float(d["bic"]),
        converged=bool(d["converged"]),
        message=d["message"],
        n_starts=int(d["n_starts"]),
        n_starts_converged=int(d["n_starts_converged"]),
        n_starts_at_best=int(d["n_starts_at_best"]),
        optima=pd.DataFrame(d["optima"]),
        data=pd.DataFrame(d["data"]),
        domain={k: (float(v[0]), float(v[1])) for k, v in d["domain"].items()},
        excluded={k: int(v) for k, v in d["excluded"].items()},
        diagnostics=tuple(
            Diagnostic(x["code"], x["message"], tuple(x["params"]))
            for x in d["diagnostics"]
        ),
        scale={k: int(v) if k == "n_inside" else float(v)
               for k, v in d["scale"].items()},
        level=float(d["level"]),
        bootstrap=boot,
        bootstrap_info=dict(d.get("bootstrap_info") or {}),
        settings=dict(d["settings"]),
        versions=dict(d["versions"]),
        calibration=None if not cal else ExtrapolationCalibration.from_dict(cal),
    )
