"""Each verdict of a study as its question, margin and numbers, with the papers' values beside.

The papers' values (:data:`~scalelaw.experiments._protocols.PUBLISHED`) are put
through the same question: the paper's exponent turned into the compared
quantity (``4 / (alpha d)`` with the paper's own ``d``, ``alpha / alpha_K``,
...), and whether that point (or the range over the paper's curves) lies in our
band. A paper's value has no interval here, so it is placed, not judged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from scalelaw.experiments._protocols import PUBLISHED
from scalelaw.theory import TheoryCheck, Verdict

__all__ = ["paper_values", "verdict_table"]

_B1B = "Bahri et al. (2021) Fig. 1b"
_SK13 = "Sharma & Kaplan (2020) Fig. 13"
_B1A = "Bahri et al. (2021) Fig. 1a"
_B2A = "Bahri et al. (2021) Fig. 2a"


def _g(v: float) -> str:
    return f"{v:.3g}" if np.isfinite(v) else ("inf" if v > 0 else "-inf")


def _place(lo: float, hi: float, band: tuple[float, float]) -> str:
    """Where a paper's value (``lo == hi``) or range lies against our band."""
    b_lo, b_hi = band
    inside = [b_lo <= v <= b_hi for v in (lo, hi)]
    if all(inside):
        return "inside our band"
    if hi < b_lo or lo > b_hi:
        return "outside our band"
    return "partly inside our band"


def _axis(check: TheoryCheck) -> str:
    text = str(check.group)
    return "P" if text.rstrip(")").endswith("vs P") or "vs P (" in text else "D"


def _entry(source: str, what: str, lo: float, hi: float, quantity: str,
           band: tuple[float, float], note: str = "") -> dict[str, Any]:
    val = _g(lo) if lo == hi else f"{_g(lo)}-{_g(hi)}"
    text = f"{source}: {what} -> {quantity} = {val}, {_place(lo, hi, band)}"
    return {"source": source, "quantity": quantity, "value": [float(lo), float(hi)],
            "place": _place(lo, hi, band), "text": text + (f" ({note})" if note else "")}


def _ratio_range(num: tuple[float, ...], den: tuple[float, ...]) -> tuple[float, float]:
    r = np.asarray(num, dtype=float) / np.asarray(den, dtype=float)
    return float(r.min()), float(r.max())


def paper_values(check: TheoryCheck, question: Verdict) -> list[dict[str, Any]]:
    """The papers' values of the quantity a question compares, placed against its band.

    Parameters
    ----------
    check : TheoryCheck
        A check of a study (its ``details`` name the nominal dimension; random
        feature checks carry ``alpha_K``).
    question : Verdict
        One of its questions.

    Returns
    -------
    list of dict
        ``source, quantity, value ([lo, hi]), place, text``; empty when no paper
        reports the quantity.

    Examples
    --------
    >>> from dataclasses import replace
    >>> from scalelaw.theory import check_scaling
    >>> D = 2.0 ** np.arange(5, 12)
    >>> df = pd.DataFrame({"n_train": D, "n_params": 38000.0, "test_loss": 3 * D ** -2.0})
    >>> c = check_scaling(df, "n_train", "test_loss", dimension=2)[0]
    >>> c = replace(c, group="bahri-d2: loss vs D", details={"nominal_dimension": 2})
    >>> bahri = paper_values(c, c.question("estimate"))[0]
    >>> bahri["source"], bahri["value"], bahri["place"]
    ('Bahri et al. (2021) Fig. 1b', [1.65, 1.65], 'outside our band')
    """
    band = question.band
    det = check.details or {}
    axis = _axis(check)
    out: list[dict[str, Any]] = []
    rf = PUBLISHED["bahri_rf_fig2a"]["values"]
    if question.kind in ("bound", "estimate"):
        d = det.get("nominal_dimension")
        if d is None:
            return out
        b = PUBLISHED["bahri_four_over_alpha_D"]["values"].get(int(d))
        if b is not None:
            out.append(_entry(_B1B, f"4/alpha_D = {b:g} at d = {d:g} (read from the plot, "
                              "+-0.2)", b / d, b / d, "4 / (alpha d)", band,
                              "" if axis == "D" else "data scaling; ours is model scaling"))
        s = PUBLISHED["sk_four_over_alpha_mse"]["values"].get(int(d))
        if s is not None:
            out.append(_entry(_SK13, f"4/alpha_P = {s:g} at k = {d:g} features (MSE)",
                              s / d, s / d, "4 / (alpha k)", band,
                              "model scaling; ours is data scaling" if axis == "D" else ""))
    elif question.kind == "variance":
        if "alpha_K" in det:  # the random-feature model
            key = "variance_alpha_D" if axis == "D" else "variance_alpha_P"
            lo, hi = rf[key]
            out.append(_entry(_B2A, f"variance-limited alpha_{axis} = {lo:g}-{hi:g} "
                              "(linear random features)", lo, hi, "alpha", band))
        else:
            ts = PUBLISHED["bahri_variance_alpha_D"]["values"]
            lo, hi = ts["all curves"]
            out.append(_entry(_B1A, f"variance-limited alpha_D = {ts['teacher-student']:g} "
                              "(teacher-student)", ts["teacher-student"],
                              ts["teacher-student"], "alpha", band))
            out.append(_entry(_B1A, f"alpha_D = {lo:g}-{hi:g} over all its networks and data "
                              "sets", lo, hi, "alpha", band))
    elif question.kind == "exact":
        lo, hi = _ratio_range(rf[f"alpha_{axis}"], rf["alpha_K"])
        out.append(_entry(_B2A, f"alpha_{axis} / alpha_K over its 8 pool sizes", lo, hi,
                          question.quantity, band, "ratios of its legend values"))
    elif question.kind == "equal":
        lo, hi = _ratio_range(rf["alpha_P"], rf["alpha_D"])
        out.append(_entry(_B2A, "alpha_P / alpha_D over its 8 pool sizes", lo, hi,
                          question.quantity, band, "ratios of its legend values"))
    return out


def _band_text(q: Verdict) -> str:
    lo, hi = q.band
    if not np.isfinite(lo):
        return f"{q.quantity} <= {_g(hi)}"
    return f"{q.quantity} in [{_g(lo)}, {_g(hi)}]"


def verdict_table(checks: list[TheoryCheck]) -> pd.DataFrame:
    """One row per question of every check: question, margin, band, our numbers, verdict,
    and the papers' values of the same quantity.

    Parameters
    ----------
    checks : list of TheoryCheck
        A study's checks.

    Returns
    -------
    pandas.DataFrame
        Columns ``check, question, margin, band, ours, verdict, papers``.

    Examples
    --------
    >>> from scalelaw.theory import check_scaling
    >>> D = 2.0 ** np.arange(5, 12)
    >>> df = pd.DataFrame({"n_train": D, "n_params": 38000.0, "test_loss": 3 * D ** -1.0})
    >>> verdict_table(check_scaling(df, "n_train", "test_loss", dimension=4))[
    ...     ["margin", "band", "verdict"]].values.tolist()[0]
    ['0.2', '4 / (alpha d) <= 1.2', 'consistent']
    """
    rows = []
    for c in checks:
        for q in c.questions:
            lo, hi = q.interval
            ours = (f"{q.quantity} = {_g(q.estimate)} [{_g(lo)}, {_g(hi)}]"
                    if q.quantity else "-")
            papers = paper_values(c, q)
            rows.append({"check": str(c.group), "question": q.question,
                         "margin": f"{q.tolerance:g}" if np.isfinite(q.tolerance) else "-",
                         "band": _band_text(q) if q.quantity else "-", "ours": ours,
                         "verdict": q.verdict + (f" ({q.uncertain_end} end uncertain)"
                                                 if q.verdict == "inconclusive"
                                                 and q.uncertain_end in ("lower", "upper")
                                                 else ""),
                         "papers": "; ".join(p["text"] for p in papers) or "-"})
    return pd.DataFrame(rows, columns=["check", "question", "margin", "band", "ours",
                                       "verdict", "papers"])
