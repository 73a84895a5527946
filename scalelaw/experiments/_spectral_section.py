"""The demo's spectral section: the learning curve a student's NTK predicts, beside the measured.

For one data-scaling sweep of a study's output folder (kept weights), the
empirical NTK of a student at initialisation and of the student trained on
the largest training set it interpolates gives, through
:mod:`scalelaw.spectral`, a predicted curve ``E(D)`` and a predicted data
exponent over the window the measured fit used; the section plots both beside
the measured test losses and writes a few lines for the report. Nothing is
trained here: it reads ``out/sweeps/<sweep>``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scalelaw.stats import aggregate_by_size

__all__ = ["spectral_section"]


def _measured(sweep_dir: Path, nominal: int) -> tuple[Any, Any]:
    from scalelaw.theory import check_scaling
    from teacher_student.sweep import final_metrics

    table = final_metrics(sweep_dir)
    ok = table[table["status"].astype(str) == "ok"]
    check = check_scaling(ok, "n_train", "test_loss", regime="auto", dimension=nominal)[0]
    return ok, check


def _trained_run(table: Any, window_hi: float) -> str:
    ok = table[table["n_train"] <= window_hi]
    interp = ok[ok["train_loss"] / ok["test_loss"] < 0.1]
    ok = interp if not interp.empty else ok
    return str(ok.sort_values(["n_train", "seed"], ascending=[False, True])["run_id"].iloc[0])


def spectral_section(out: str | Path, *, sweep: str = "resolution_D-d4", n: int = 1000,
                     device: str | None = None, plots: bool = True) -> dict[str, Any]:
    """Predicted (from the NTK spectrum) against measured data scaling, for one sweep.

    Parameters
    ----------
    out : str or Path
        A study's output folder (``scalelaw demo``): the sweep is read from
        ``out / "sweeps" / sweep`` and must have kept its weights.
    sweep : str, default="resolution_D-d4"
        Which data-scaling sweep.
    n : int, default=1000
        Inputs of each Gram matrix.
    device : str, optional
        Default CUDA when present.
    plots : bool, default=True
        Write ``out / "spectrum.png"``.

    Returns
    -------
    dict
        ``task``, ``width``, ``measured`` (exponent, interval, window),
        ``init`` and ``trained`` (decay exponent, predicted exponent and its
        range over sub-windows, run id), ``four_over_d``, ``plot`` (path or
        None), ``markdown`` (lines for the report) and ``wall_time_s``.

    Examples
    --------
    >>> sec = spectral_section("scalelaw-demo")  # doctest: +SKIP
    >>> sorted(sec)[:3]  # doctest: +SKIP
    ['four_over_d', 'init', 'markdown']
    """
    from teacher_student.ntk import init_spectrum, student_spectrum
    from teacher_student.store import read_config
    from teacher_student.sweep import load_weights

    t0 = time.perf_counter()
    sweep_dir = Path(out) / "sweeps" / sweep
    cfg = read_config(sweep_dir)
    task, width, depth = cfg.task, cfg.widths[0], cfg.depths[0]
    table, check = _measured(sweep_dir, task.intrinsic_dim)
    window = check.window if np.all(np.isfinite(check.window)) else (
        float(table["n_train"].min()), float(table["n_train"].max()))
    rid = _trained_run(table, window[1])
    init = init_spectrum(task, width, depth, seed=0, n=n, window=window, device=device)
    trained = student_spectrum(task, load_weights(sweep_dir, rid), n=n, window=window,
                               device=device, label={"run_id": rid, "state": "trained"})
    agg = aggregate_by_size(table, "n_train", {"test_loss": "geometric"})
    curve = pd.Series(agg["test_loss"].to_numpy(), name="test_loss",
                      index=agg["n_train"].to_numpy().astype(table["n_train"].dtype))
    res: dict[str, Any] = {
        "task": task.name, "width": width, "depth": depth, "n_inputs": n,
        "four_over_d": 4.0 / task.intrinsic_dim,
        "measured": {"alpha": check.alpha, "alpha_ci": list(check.alpha_ci),
                     "window": list(window), "n_train": curve.index.tolist(),
                     "test_loss": curve.tolist()},
        "init": _summary(init.prediction), "trained": {**_summary(trained.prediction),
                                                       "run_id": rid},
        "plot": None}
    if plots:
        res["plot"] = str(_plot(Path(out) / "spectrum.png", init.prediction, trained.prediction,
                                curve, res))
    res["markdown"] = _markdown(res)
    res["wall_time_s"] = time.perf_counter() - t0
    return res


def _summary(pred: Any) -> dict[str, Any]:
    return {"decay_exponent": pred.decay.exponent, "decay_range": list(pred.decay.ci),
            "predicted_alpha": pred.predicted_alpha, "alpha_range": list(pred.alpha_ci),
            "tail_exponent": pred.tail.exponent, "warnings": list(pred.warnings),
            "curve": {"P": pred.curve.n_train.tolist(), "E": pred.curve.error.tolist()}}


def _plot(path: Path, init: Any, trained: Any, measured: Any, res: dict[str, Any]) -> Path:
    from matplotlib.figure import Figure  # no pyplot: no backend, no global figures

    fig = Figure(figsize=(6.0, 4.2))
    ax = fig.subplots()
    lo, hi = res["measured"]["window"]
    for pred, color, name in ((init, "C0", "NTK at init"), (trained, "C2", "NTK trained")):
        c = pred.curve
        sel = (c.n_train >= lo / 4) & (c.n_train <= hi * 4)
        ax.loglog(c.n_train[sel], c.error[sel], "-", color=color,
                  label=f"{name}: alpha = {pred.predicted_alpha:.2f}")
    ax.loglog(measured.index, measured.to_numpy(), "o", color="C1",
              label=f"measured: alpha = {res['measured']['alpha']:.2f}")
    ax.axvspan(lo, hi, color="0.5", alpha=0.08, lw=0)
    ax.set_xlabel("training-set size D")
    ax.set_ylabel("test loss (MSE)")
    ax.set_title(f"{res['task']}, width {res['width']}: kernel prediction vs network "
                 f"(4/d = {res['four_over_d']:.2f})", fontsize=9)
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def _markdown(res: dict[str, Any]) -> str:
    m, i, t = res["measured"], res["init"], res["trained"]

    def rng(v: list[float]) -> str:
        return f"[{v[0]:.2f}, {v[1]:.2f}]"

    lines = [
        f"### What the NTK spectrum predicts ({res['task']}, width {res['width']})",
        "",
        "| exponent | value | interval or range |",
        "| --- | ---: | --- |",
        f"| measured alpha_D (students) | {m['alpha']:.2f} | {rng(m['alpha_ci'])} (95 %) |",
        f"| predicted from the NTK at init | {i['predicted_alpha']:.2f} | "
        f"{rng(i['alpha_range'])} (sub-windows) |",
        f"| predicted from the trained NTK | {t['predicted_alpha']:.2f} | "
        f"{rng(t['alpha_range'])} (sub-windows) |",
        f"| 4/d | {res['four_over_d']:.2f} | |",
        "",
        f"Kernel regression with the student's empirical NTK (n = {res['n_inputs']} inputs; "
        f"eigenvalues decay as k^-{i['decay_exponent']:.2f} at init, "
        f"k^-{t['decay_exponent']:.2f} trained), read over D = {m['window'][0]:g}-"
        f"{m['window'][1]:g}. The network is not its kernel: at init the prediction is the "
        "lazy limit; trained students may beat it (feature learning).",
    ]
    return "\n".join(lines)
