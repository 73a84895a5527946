"""A study's report: printed table, ``summary.json``, ``report.md``, ``report.html``, plots."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scalelaw.experiments._papers import paper_values, verdict_table
from scalelaw.experiments._protocols import PUBLISHED
from scalelaw.results import to_jsonable
from scalelaw.theory import TheoryCheck

__all__ = ["summary_table", "write_report"]


def _fmt(v: Any, spec: str = ".3g") -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "-"
    return format(v, spec)


def summary_table(checks: list[TheoryCheck]) -> pd.DataFrame:
    """One row per check: what is compared, the exponent, the prediction, the verdict.

    Returns
    -------
    pandas.DataFrame
        Columns ``check, regime, alpha, interval, predicted, 4/alpha, d, margin,
        verdict`` (the main question's margin, relative to the prediction).
    """
    rows = []
    for c in checks:
        res = c.regime == "resolution"
        d_ci = None if c.dimension_estimate is None else c.dimension_estimate.plausible
        d_txt = _fmt(c.dimension, ".2f")
        if d_ci and c.dimension is not None and d_ci[0] != d_ci[1]:
            d_txt += f" [{d_ci[0]:.2f}, {d_ci[1]:.2f}]"
        rows.append({
            "check": str(c.group), "regime": c.regime, "alpha": _fmt(c.alpha, ".3f"),
            "interval": (f"[{c.alpha_ci[0]:.3f}, {c.alpha_ci[1]:.3f}]"
                         if np.isfinite(c.alpha_ci[0]) else "-"),
            "predicted": ("-" if c.predicted_alpha is None else
                          (">= " if res else "") + f"{c.predicted_alpha:.3f}"),
            "4/alpha": _fmt(4 / c.alpha, ".2f") if res and c.alpha > 0 else "-",
            "d": d_txt if res else "-",
            "margin": "-" if c.tolerance is None else f"{c.tolerance:g}",
            "verdict": c.verdict})
    return pd.DataFrame(rows)


def _plots(out: Path, checks: list[TheoryCheck], names: dict[str, list[int]]) -> list[str]:
    from scalelaw.plotting import plot_checks, plot_dimension_check

    written = []
    panels = [
        ("loss_vs_D.png", "resolution-limited in D (P >> D)", names["resolution_D"],
         "n_train (D)", "test loss"),
        ("loss_vs_P.png", "resolution-limited in P (D >> P)", names["resolution_P"],
         "n_params (P)", "test loss"),
        ("variance_limited.png", "variance-limited: L - L_inf", names["variance"],
         "size (D or P)", "loss"),
    ]
    for fname, title, idx, x, y in panels:
        if idx:
            fig = plot_checks([checks[i] for i in idx], x=x, y=y, title=title)
            fig.savefig(out / fname, dpi=110)
            written.append(fname)
    res = [checks[i] for i in names["resolution_D"] + names["resolution_P"]]
    if res:
        fig = plot_dimension_check(res, labels=[str(c.group).split(":")[0] for c in res])
        fig.savefig(out / "four_over_alpha.png", dpi=110)
        written.append("four_over_alpha.png")
    return written


def _groups(checks: list[TheoryCheck]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {"resolution_D": [], "resolution_P": [], "variance": []}
    for i, c in enumerate(checks):
        text = str(c.group)
        if c.regime == "variance":
            out["variance"].append(i)
        elif "vs P" in text:
            out["resolution_P"].append(i)
        elif c.regime == "resolution":
            out["resolution_D"].append(i)
    return out


def _md_table(df: pd.DataFrame) -> str:
    cells = [[str(c) for c in df.columns]] + [[_fmt(v) if isinstance(v, float) else str(v)
                                              for v in row] for row in df.itertuples(False)]
    lines = ["| " + " | ".join(r) + " |" for r in cells]
    lines.insert(1, "|" + "---|" * len(df.columns))
    return "\n".join(lines)


def _sources() -> list[str]:
    return [f"- {v['source']}" for v in PUBLISHED.values()]


def _comparison_md(comparison: pd.DataFrame | None) -> list[str]:
    if comparison is None or comparison.empty:
        return []
    return ["", "## Against the published numbers", "", _md_table(comparison), "",
            "Sources (shared science notes; Bahri et al. Fig. 1b read from the plot, "
            "+-0.2):", "", *_sources(), ""]


def _verdicts_md(verdicts: pd.DataFrame) -> list[str]:
    if verdicts.empty:
        return []
    return ["", "## Verdicts: each question, its margin, our numbers and the papers'", "",
            "Every question is an equivalence test: *consistent* when our interval lies "
            "inside the band the margin allows, *inconsistent* when it lies entirely outside, "
            "*inconclusive* when it straddles an end (named). The papers' values of the same "
            "quantity are placed against our band (points or ranges without an interval: "
            "placed, not judged).", "", _md_table(verdicts)]


def write_report(out: Path, *, title: str, checks: list[TheoryCheck], meta: dict[str, Any],
                 comparison: pd.DataFrame | None = None, plots: bool = True,
                 seeds: dict[str, Any] | None = None,
                 sections: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Write ``summary.json``, ``report.md``, ``report.html`` and the PNG plots
    (with the demo's seed section when ``seeds`` is given, and further sections:
    ``sections`` maps a name to a dict with ``markdown`` (lines) and ``images``,
    stored under that name in the summary without its markdown).

    Returns
    -------
    dict
        The summary written to ``summary.json``.
    """
    out.mkdir(parents=True, exist_ok=True)
    summary = {"checks": [c.to_dict() for c in checks], **meta}
    verdicts = verdict_table(checks)
    summary["verdicts"] = [
        {"check": str(c.group), **q.to_dict(), "papers": paper_values(c, q)}
        for c in checks for q in c.questions]
    if comparison is not None:
        summary["published_comparison"] = comparison.to_dict(orient="records")
        summary["published_sources"] = {k: v["source"] for k, v in PUBLISHED.items()}
    extra = {**({"seeds": seeds} if seeds is not None else {}), **(sections or {})}
    for name, sec in extra.items():
        summary[name] = {k: v for k, v in sec.items() if k != "markdown"}
    (out / "summary.json").write_text(json.dumps(to_jsonable(summary), indent=2) + "\n")
    images = _plots(out, checks, _groups(checks)) if plots else []
    table = summary_table(checks)
    md = [f"# {title}", "", f"scalelaw {meta.get('versions', {}).get('scalelaw', '')}, "
          f"{meta.get('date', '')}, scale `{meta.get('scale', '')}`, "
          f"{meta.get('wall_time_s', 0):.0f} s on {meta.get('hardware', '')}.", "",
          "## Checks", "", _md_table(table), "", "### Why", ""]
    md += [f"- **{c.group}** ({c.verdict}): {c.reason}" for c in checks]
    md += _verdicts_md(verdicts)
    md += _comparison_md(comparison)
    for sec in extra.values():
        md += [""] + sec["markdown"]
        images = images + sec.get("images", [])
    md += ["", "## Plots", ""] + [f"![{p}]({p})" for p in images]
    md += ["", "## How to read this", "", _HOW]
    (out / "report.md").write_text("\n".join(md) + "\n")
    (out / "report.html").write_text(_html(title, table, checks, comparison, images, meta,
                                           [sec["markdown"] for sec in extra.values()],
                                           verdicts))
    return summary


_HOW = (
    "Each check asks stated questions, each an equivalence test with a margin relative to "
    "the prediction. Resolution-limited scaling (Sharma & Kaplan 2020; Bahri et al. 2021) "
    "predicts alpha >= 4/d for ReLU networks and the squared loss on data of intrinsic "
    "dimension d, and about 4/d for generic targets: the bound asks whether 4 / (alpha d) "
    "is at most 1.2, the estimate whether it lies in [0.8, 1.2]; the interval carries the "
    "exponent's interval and the measured d's (with its known bias). The check's verdict is "
    "the bound's. Variance-limited scaling predicts alpha = 1 exactly for the excess over "
    "L_inf: is alpha inside [0.85, 1.15]? The random-feature model is exactly solvable: "
    "alpha = alpha_K (the feature spectrum's decay) within 20 %, alpha_P = alpha_D, and "
    "alpha = 1 in its variance-limited regimes (fitted against D - P - 1, least squares' "
    "finite-sample factor, because the model is linear in its parameters). *Consistent*: "
    "the interval lies inside the band; *inconsistent*: entirely outside; *inconclusive*: "
    "it straddles an end (more sizes or seeds would decide), or the slice is in the "
    "crossover, has too few sizes in its window, or its fit failed. Intrinsic dimensions "
    "are TwoNN estimates with bootstrap intervals; they read low above ~12 and on bounded "
    "cubes.")


def _html(title: str, table: pd.DataFrame, checks: list[TheoryCheck],
          comparison: pd.DataFrame | None, images: list[str], meta: dict[str, Any],
          sections_md: list[list[str]] | None = None,
          verdicts: pd.DataFrame | None = None) -> str:
    e = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title>",
             "<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px}"
             "img{max-width:48%;margin:1%}</style></head><body>",
             f"<h1>{e(title)}</h1>",
             f"<p>scale {e(str(meta.get('scale', '')))}, {meta.get('wall_time_s', 0):.0f} s on "
             f"{e(str(meta.get('hardware', '')))}, {e(str(meta.get('date', '')))}</p>",
             "<h2>Checks</h2>", table.to_html(index=False, escape=True), "<h2>Why</h2><ul>"]
    parts += [f"<li><b>{e(str(c.group))}</b> ({e(c.verdict)}): {e(c.reason)}</li>"
              for c in checks]
    parts.append("</ul>")
    if verdicts is not None and not verdicts.empty:
        parts += ["<h2>Verdicts: each question, its margin, our numbers and the papers'</h2>",
                  verdicts.to_html(index=False, escape=True)]
    if comparison is not None and not comparison.empty:
        parts += ["<h2>Against the published numbers</h2>",
                  comparison.to_html(index=False, escape=True), "<ul>"]
        parts += [f"<li>{e(v['source'])}</li>" for v in PUBLISHED.values()]
        parts.append("</ul>")
    for sec_md in sections_md or []:
        parts += [f"<h2>{e(sec_md[0].lstrip('# '))}</h2>"]
        parts += [f"<p>{e(line.lstrip('- ').replace('**', ''))}</p>" for line in sec_md[1:]
                  if line]
    parts += ["<h2>Plots</h2>"] + [f"<img src='{e(p)}' alt='{e(p)}'>" for p in images]
    parts += [f"<h2>How to read this</h2><p>{e(_HOW)}</p></body></html>"]
    return "\n".join(parts) + "\n"
