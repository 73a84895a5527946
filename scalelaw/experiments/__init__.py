"""The theory, end to end: ``scalelaw demo`` and ``scalelaw reproduce``.

An application layer (it trains students with :mod:`teacher_student`): small
sweeps on built-in tasks with a known intrinsic dimension, the intrinsic
dimension of the data and of the students' representations, the exponents
and the verdicts of :mod:`scalelaw.theory`, and a report. As an application
it may change process-wide state: each lane process sets its torch threads
and the glibc allocator (see :func:`teacher_student.sweep.run_sweep`).
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scalelaw.experiments._analysis import lower_envelope, sweep_checks
from scalelaw.experiments._lanes import SectionJob, SweepOutcome, run_lanes
from scalelaw.experiments._protocols import PUBLISHED, SCALES, Study, StudySweep, study
from scalelaw.experiments._report import summary_table, write_report
from scalelaw.theory import TheoryCheck

__all__ = ["PUBLISHED", "SCALES", "Study", "StudyResult", "StudySweep", "lower_envelope",
           "run_study", "study", "summary_table"]


@dataclass(frozen=True)
class StudyResult:
    """A finished study.

    Attributes
    ----------
    checks : list of TheoryCheck
        One per sweep, then the random-feature regimes.
    summary : dict
        What ``summary.json`` holds.
    out : Path
        The report's directory.
    outcomes : list of SweepOutcome
        Tables and intrinsic dimensions per sweep.
    interrupted : bool
        A sweep was interrupted; rerun the same command to resume.
    """

    checks: list[TheoryCheck]
    summary: dict[str, Any]
    out: Path
    outcomes: list[SweepOutcome]
    interrupted: bool


def run_study(name: str = "demo", scale: str = "demo", out: str | Path = "scalelaw-demo", *,
              device: str | None = None, lanes: int | None = None,
              progress: bool = True, plots: bool = True) -> StudyResult:
    """Run a study's sweeps, measure, check the theory and write the report.

    Parameters
    ----------
    name : {"demo", "bahri", "sharma-kaplan"}, default="demo"
        The study (:func:`study`).
    scale : {"test", "demo", "quick", "paper"}, default="demo"
        Its size.
    out : str or Path, default="scalelaw-demo"
        Directory: ``sweeps/`` (resumable stores), ``report.html``,
        ``report.md``, ``summary.json`` and the PNG plots.
    device : {"cpu", "cuda"}, optional
        Default: CUDA when present.
    lanes : int, optional
        Parallel sweep processes (default: the CPUs).
    progress : bool, default=True
        Progress bar.
    plots : bool, default=True
        Write the PNG plots.

    Returns
    -------
    StudyResult
        The checks, the summary and where the report is.

    Examples
    --------
    >>> import tempfile
    >>> res = run_study("demo", "test", tempfile.mkdtemp(), progress=False,
    ...                 plots=False)  # doctest: +SKIP
    >>> sorted(res.summary)[:2]  # doctest: +SKIP
    ['checks', 'date']
    """
    from scalelaw import __version__

    t0 = time.perf_counter()
    st = study(name, scale)
    out = Path(out)
    jobs = []
    if st.random_features:
        jobs.append(SectionJob("random_features", "scalelaw.experiments._analysis",
                               "random_feature_section", {"settings": st.rf_settings},
                               est_seconds=10.0))
    extra = {"demo": DEMO_SECTIONS, "bahri": BAHRI_SECTIONS}.get(name, ())
    jobs += [SectionJob(key, module, func, {"scale": scale, "plots": plots}, after, est)
             for key, module, func, after, est in extra]
    results = run_lanes(st.sweeps, out, device=device, lanes=lanes, n_inputs=st.n_inputs,
                        progress=progress, sections=jobs)
    outcomes: list[SweepOutcome] = results[:len(st.sweeps)]
    sections = {j.name: r for j, r in zip(jobs, results[len(st.sweeps):], strict=True)}
    phases = {"lanes": time.perf_counter() - t0}
    phases.update({k: float(v.pop("lane_seconds", np.nan)) for k, v in sections.items()})
    phases.update({f"sweep {o.sweep.name}": o.wall_time_s for o in outcomes})
    interrupted = any(o.interrupted for o in outcomes)
    checks = [sweep_checks(o) for o in outcomes if not o.interrupted and len(o.table)]
    alpha_k = None
    if "random_features" in sections:
        rf = sections.pop("random_features")
        checks += rf["checks"]
        alpha_k = rf["alpha_K"]
    meta = {
        "study": name, "scale": scale,
        "task": {o.sweep.name: (o.sweep.config.get("task") or o.sweep.config["task_config"])
                 for o in outcomes},
        "sweeps": {o.sweep.name: o.sweep.config for o in outcomes},
        "alpha_K": alpha_k, "interrupted": interrupted,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "wall_time_s": time.perf_counter() - t0, "hardware": _hardware(outcomes),
        "versions": _versions(__version__),
    }
    title = {"demo": "scalelaw demo: resolution- and variance-limited scaling",
             "bahri": "Bahri et al. (2021): data scaling of teacher-student networks",
             "sharma-kaplan": "Sharma & Kaplan (2020): model scaling against the "
                              "intrinsic dimension"}[name]
    meta["phase_seconds"] = phases
    seeds = sections.pop("seeds", None)
    summary = write_report(out, title=title, checks=checks, meta=meta,
                           comparison=published_comparison(name, checks), plots=plots,
                           seeds=seeds, sections=sections)
    return StudyResult(checks, summary, out, outcomes, interrupted)


#: The demo's report sections, in the report's order: (summary key, module,
#: function ``f(out, scale, *, plots)`` returning ``markdown`` lines, ``images``
#: and its numbers; the sweeps it reads; rough seconds on one thread at the demo
#: scale). They run in the lanes (:class:`SectionJob`) beside the sweeps, longest
#: first (a section that reads a sweep once it has finished).
DEMO_SECTIONS: tuple[tuple[str, str, str, tuple[str, ...], float], ...] = (
    ("seeds", "scalelaw.experiments._seeds", "seed_section", (), 45.0),
    ("spectral", "scalelaw.experiments._demo_sections", "spectral", ("resolution_D-d4",),
     10.0),
)
# Left out of the demo (its time budget, bench/RESULTS.md: the sweeps alone fill
# it): the local learning coefficient (51 s in a lane at the demo scale, 2026-12-06),
# the simplicity bias of random networks (25 s) and the variance peak (about 34 s, its
# own bench); the NTK spectrum on 500 inputs (5.5 s) fits. ``scalelaw llc`` and
# ``scalelaw redshift`` run the first two. Each is one line here (adapters in
# :mod:`scalelaw.experiments._demo_sections`), e.g.
# ("llc", "scalelaw.experiments._demo_sections", "llc", (), 50.0) or, after the
# sweep it reads, ("spectral", "scalelaw.experiments._demo_sections", "spectral",
# ("resolution_D-d4",), 20.0).

#: ``scalelaw reproduce bahri`` adds the variance peak across widths (a crossed width
#: sweep of its own, at the demo's size; too long for the demo) and the NTK spectrum's
#: predicted data exponent beside the measured one on its d = 4 sweep (1,000 inputs).
BAHRI_SECTIONS: tuple[tuple[str, str, str, tuple[str, ...], float], ...] = (
    ("variance_peak", "scalelaw.experiments._demo_sections", "variance_peak", (), 35.0),
    ("spectral", "scalelaw.experiments._demo_sections", "spectral", ("resolution_D-d4",),
     20.0),
)


def _hardware(outcomes: list[SweepOutcome]) -> str:
    for o in outcomes:
        if "hardware" in o.table.columns and len(o.table):
            return str(o.table["hardware"].iloc[0])
    return "unknown"


def _versions(ours: str) -> dict[str, str]:
    import importlib.metadata as md

    out = {"scalelaw": ours}
    for pkg in ("torch", "numpy", "scipy", "scikit-dimension", "scikit-learn"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "absent"
    return out


def published_comparison(name: str, checks: list[TheoryCheck]) -> pd.DataFrame:
    """Our exponents beside the published ones, by dimension.

    Returns
    -------
    pandas.DataFrame
        Empty when the study has no published counterpart.
    """
    rows = []
    for c in checks:
        d = c.details.get("nominal_dimension")
        if d is None or not (c.alpha > 0):
            continue
        rep = c.details.get("representation_id") or {}
        data = c.details.get("data_id") or {}
        row = {"sweep": c.details.get("sweep"), "nominal d": d,
               "4/alpha (ours)": round(4 / c.alpha, 2),
               "d measured on data": _round(data.get("dimension")),
               "d of representation": _round(rep.get("dimension"))}
        if c.regime == "resolution" and "vs D" in str(c.group):
            row["4/alpha_D (Bahri Fig. 1b)"] = PUBLISHED["bahri_four_over_alpha_D"][
                "values"].get(d)
        if c.regime == "resolution":  # model scaling at k = d features (beside data scaling too)
            row["4/alpha_P (S&K Fig. 13, MSE)"] = PUBLISHED["sk_four_over_alpha_mse"][
                "values"].get(d)
        if "vs P" in str(c.group):
            row["ID (S&K Fig. 5, CE)"] = PUBLISHED["sk_id_ce"]["values"].get(d)
        if c.regime == "variance":
            row["4/alpha (ours)"] = None
            row["alpha (ours)"] = round(c.alpha, 3)
            row["alpha (Bahri Fig. 1a, T/S)"] = PUBLISHED["bahri_variance_alpha_D"][
                "values"]["teacher-student"]
        rows.append(row)
    return pd.DataFrame(rows)


def _round(v: Any) -> Any:
    return None if v is None or not np.isfinite(v) else round(float(v), 2)
