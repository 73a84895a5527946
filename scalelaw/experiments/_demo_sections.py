"""The demo's report sections with one signature: ``f(out, scale, *, plots) -> dict``.

Each returns ``markdown`` (a list of lines, the first a ``##`` heading),
``images`` (file names in ``out``) and its numbers (JSON-ready: no figures).
They adapt the section modules, whose signatures differ, to
:data:`scalelaw.experiments.DEMO_SECTIONS`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["llc", "redshift", "spectral", "variance_peak"]


def llc(out: str | Path, scale: str = "demo", *, plots: bool = True) -> dict[str, Any]:
    """:func:`scalelaw.experiments._llc_section.llc_section` (trains its own width sweep)."""
    from scalelaw.experiments._llc_section import llc_section

    return llc_section(Path(out), scale, plots=plots)


def redshift(out: str | Path, scale: str = "demo", *, plots: bool = True) -> dict[str, Any]:
    """:func:`scalelaw.experiments._redshift_section.redshift_section` (random networks)."""
    from scalelaw.experiments._redshift_section import redshift_section

    return redshift_section(Path(out), scale, plots=plots)


def spectral(out: str | Path, scale: str = "demo", *, plots: bool = True) -> dict[str, Any]:
    """The NTK spectrum's predicted data exponent beside the measured one, on the demo's
    ``resolution_D-d4`` sweep (which must have finished)."""
    from scalelaw.experiments._spectral_section import spectral_section

    res = dict(spectral_section(Path(out), sweep="resolution_D-d4",
                                n={"test": 200, "demo": 500}.get(scale, 1000),
                                plots=plots))
    md = res.pop("markdown")
    lines = md.splitlines() if isinstance(md, str) else list(md)
    if lines and lines[0].startswith("### "):
        lines[0] = lines[0][1:]
    plot = res.get("plot")
    return {**res, "markdown": lines, "images": [Path(plot).name] if plot else []}


def variance_peak(out: str | Path, scale: str = "demo", *, plots: bool = True
                  ) -> dict[str, Any]:
    """The variance across seeds against model size and its peak (trains its own sweep)."""
    from scalelaw.experiments._variance_peak_section import variance_peak_section

    # the section has two sizes: the tests' and the demo's (also used at quick/paper scale)
    res = dict(variance_peak_section(Path(out), "test" if scale == "test" else "demo",
                                     plots=plots))
    res.pop("figure", None)
    return res
