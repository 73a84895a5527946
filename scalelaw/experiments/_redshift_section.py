"""A report section: the simplicity bias of random networks (Neural Redshift)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

__all__ = ["redshift_section"]

_SCALES = {
    "test": {"depths": [1, 8], "scales": [1.0, 4.0], "width": 16, "n_init": 8, "grid": 24},
    "demo": {"depths": [1, 2, 4, 8], "scales": [0.5, 1.0, 2.0, 4.0], "width": 64,
             "n_init": 30, "grid": 32},
}


def redshift_section(out: Path, scale: str = "demo", *, plots: bool = True) -> dict[str, Any]:
    """Complexity of random MLPs per activation, depth and weight scale, with the orderings.

    Parameters
    ----------
    out : Path
        Where ``redshift.png`` goes.
    scale : {"test", "demo"}, default="demo"
        Size.
    plots : bool, default=True
        Write ``redshift.png``.

    Returns
    -------
    dict
        ``rows`` (the result's rows), ``rises`` (per activation, the ratio of
        the mean frequency at the deepest, largest-scale corner to the
        shallowest at the same scale, with its interval), ``seconds``,
        ``images``, ``markdown``.
    """
    from scalelaw.redshift import complexity_ratio, random_network_complexity

    c = _SCALES.get(scale, _SCALES["demo"])
    t0 = time.perf_counter()
    res = random_network_complexity(depths=c["depths"], weight_scales=c["scales"],
                                    widths=[c["width"]], residual=[False, True],
                                    n_init=c["n_init"], grid=c["grid"])
    dmax, dmin, smax = max(c["depths"]), min(c["depths"]), max(c["scales"])
    rises, res_ratio = {}, {}
    for act in ("relu", "gelu", "tanh", "gauss", "sin"):
        r, ci = complexity_ratio(res, {"activation": act, "depth": dmax, "weight_scale": smax,
                                       "residual": False},
                                 {"activation": act, "depth": dmin, "weight_scale": smax,
                                  "residual": False})
        rises[act] = {"ratio": r, "ci": list(ci)}
        res_ratio[act] = complexity_ratio(
            res, {"activation": act, "depth": dmax, "weight_scale": smax, "residual": True},
            {"activation": act, "depth": dmax, "weight_scale": smax, "residual": False})[0]
    images = []
    if plots:
        from scalelaw.plotting import plot_redshift

        plot_redshift(res.rows).savefig(Path(out) / "redshift.png", dpi=110)
        images.append("redshift.png")
    md = ["## Simplicity bias of random networks", "",
          f"Random MLPs R^2 -> R (width {c['width']}, {c['n_init']} initialisations each, "
          f"{c['grid']} x {c['grid']} grid): mean frequency of the power spectrum, depth "
          f"{dmax} over depth {dmin} at weight scale {smax:g} (95 % paired bootstrap):", ""]
    md += [f"- {a}: x{v['ratio']:.2f} [{v['ci'][0]:.2f}, {v['ci'][1]:.2f}]; with residual "
           f"blocks the depth-{dmax} network has x{res_ratio[a]:.2f} of the plain one's"
           for a, v in rises.items()]
    return {"rows": res.to_dict()["rows"], "rises": rises, "residual_over_plain": res_ratio,
            "seconds": time.perf_counter() - t0, "images": images, "markdown": md}
