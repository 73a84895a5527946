"""``scalelaw spectrum``: the learning curve and data exponent a kernel spectrum predicts."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from scalelaw.cli._common import UsageError, _check_writable, _split, _write_json
from scalelaw.exceptions import DataValidationError, ScaleLawError
from scalelaw.stats import aggregate_by_size


def _read_vector(path: str, option: str) -> np.ndarray:
    """A 1-D array from ``.npy`` (no pickles) or a one-column CSV (header optional)."""
    p = Path(path)
    if not p.is_file():
        raise DataValidationError(f"{option} {path!r}: no such file.", column=option)
    if p.suffix == ".npy":
        try:
            arr = np.load(p, allow_pickle=False)
        except ValueError as exc:
            raise DataValidationError(f"{option} {path!r} cannot be read as a plain .npy array "
                                      f"({exc}); pickled arrays are refused.",
                                      column=option) from None
        if arr.dtype.kind not in "fiu":
            raise DataValidationError(f"{option} {path!r} holds {arr.dtype} values; numbers "
                                      "were expected.", column=option)
        arr = np.asarray(arr, dtype=np.float64)
        if arr.ndim == 2 and 1 in arr.shape:
            arr = arr.reshape(-1)
        if arr.ndim != 1:
            raise DataValidationError(f"{option} {path!r} has shape {arr.shape}; a 1-D array "
                                      "was expected.", column=option)
        return arr
    if p.suffix != ".csv":
        raise DataValidationError(f"{option} {path!r}: expected a .npy file or a one-column "
                                  ".csv file.", column=option)
    import pandas as pd

    try:
        frame = pd.read_csv(p, header=None)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataValidationError(f"{option} {path!r} is not a readable CSV ({exc}).",
                                  column=option) from None
    if frame.shape[1] != 1:
        raise DataValidationError(f"{option} {path!r} has {frame.shape[1]} columns; one was "
                                  "expected.", column=option)
    col = pd.to_numeric(frame.iloc[:, 0], errors="coerce")
    if np.isnan(col.iloc[0]) and str(frame.iloc[0, 0]).strip().lower() != "nan":
        col = col.iloc[1:]  # a header line
        frame = frame.iloc[1:]
    bad = col.isna() & frame.iloc[:, 0].notna()
    if bad.any():
        rows = [int(i) + 1 for i in col.index[bad.to_numpy()][:5]]
        raise DataValidationError(f"{option} {path!r}: line(s) {rows} are not numbers.",
                                  column=option)
    return col.to_numpy(dtype=np.float64)


def _window(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        lo, hi = (float(v) for v in _split(text))
    except ValueError:
        raise DataValidationError(f"--window takes LO,HI (training-set sizes); got {text!r}.",
                                  column="window") from None
    return lo, hi


def _from_files(args: argparse.Namespace) -> tuple[Any, Any, dict[str, Any]]:
    from scalelaw.spectral import predict_exponent

    lam = _read_vector(args.eigenvalues, "--eigenvalues")
    power = _read_vector(args.target_power, "--target-power")
    if lam.size != power.size:
        raise DataValidationError(f"--eigenvalues has {lam.size} values but --target-power has "
                                  f"{power.size}; give one target power per eigenvalue.",
                                  column="target_power")
    for name, arr in (("--eigenvalues", lam), ("--target-power", power)):
        bad = np.flatnonzero(~np.isfinite(arr) | (arr < 0))
        if bad.size:
            raise DataValidationError(f"{name} must be finite and >= 0; {bad.size} value(s) are "
                                      f"not (rows {bad[:5].tolist()}: {arr[bad[:5]].tolist()}).",
                                      column=name)
    k_range = None
    if args.n is not None:  # an empirical spectrum from a Gram matrix on n samples
        if args.n < 20 or args.n < lam.size:
            raise DataValidationError(f"--n {args.n}: the number of samples behind the "
                                      f"spectrum must be >= 20 and >= its {lam.size} values.",
                                      column="n")
        k_range = (3.0, max(12.0, args.n / 10.0))
    pred = predict_exponent(lam, power, ridge=args.ridge, noise=args.noise,
                            window=_window(args.window), k_range=k_range,
                            tail="power" if args.n is not None else "none")
    return pred, None, {"source": "files", "eigenvalues": args.eigenvalues,
                        "target_power": args.target_power, "n_samples": args.n}


def _from_task(args: argparse.Namespace) -> tuple[Any, Any, dict[str, Any]]:
    from scalelaw.cli._teacher import _task_arg

    try:
        from teacher_student.ntk import init_spectrum, student_spectrum
    except ImportError as exc:  # pragma: no cover - torch missing
        raise ScaleLawError(f"--task needs PyTorch: pip install 'scalelaw[torch]' "
                            f"({exc}).") from None
    task = _task_arg(args.task)
    n = 2000 if args.n is None else args.n
    kw = {"n": n, "window": _window(args.window), "device": args.device}
    if args.trained is None:
        spec = init_spectrum(task, args.width, args.depth, seed=args.seed, **kw)
        return spec.prediction, None, {"source": "task", **spec.settings}
    weights, label, measured = _trained_student(args, task)
    spec = student_spectrum(task, weights, label=label, **kw)
    return spec.prediction, measured, {"source": "task", **spec.settings}


def _trained_student(args: argparse.Namespace, task: Any) -> tuple[Any, dict, Any]:
    """The kept student of the sweep with this shape: ``--run``, or the largest D that
    interpolates (lowest seed); and the sweep's measured curve of that shape."""
    from teacher_student.store import read_config
    from teacher_student.sweep import final_metrics, load_weights

    out = Path(args.trained)
    cfg = read_config(out)
    if cfg.task.task_id != task.task_id:
        raise DataValidationError(f"--trained {args.trained!r} is a sweep of task "
                                  f"{cfg.task.name!r}, not {task.name!r}.", column="trained")
    table = final_metrics(out)
    shape = table[(table["width"] == args.width) & (table["depth"] == args.depth)
                  & (table["status"].astype(str) == "ok")]
    if shape.empty:
        raise DataValidationError(f"--trained {args.trained!r} has no finished run of width "
                                  f"{args.width} and depth {args.depth}.", column="trained")
    if args.run is not None:
        if args.run not in set(shape["run_id"]):
            raise DataValidationError(f"--run {args.run!r} is not a finished run of width "
                                      f"{args.width}, depth {args.depth} in {args.trained!r}.",
                                      column="run")
        rid = args.run
    else:
        interp = shape[shape["train_loss"] / shape["test_loss"] < 0.1]
        pick = (interp if not interp.empty else shape).sort_values(
            ["n_train", "seed"], ascending=[False, True])
        rid = str(pick["run_id"].iloc[0])
    row = shape[shape["run_id"] == rid].iloc[0]
    curve = aggregate_by_size(shape, "n_train", {"test_loss": "geometric"})
    measured = (curve["n_train"].to_numpy(dtype=float), curve["test_loss"].to_numpy())
    label = {"run_id": rid, "state": "trained", "width": args.width, "depth": args.depth,
             "seed": int(row["seed"]), "n_train": int(row["n_train"]),
             "sweep": str(out)}
    return load_weights(out, rid), label, measured


def _cmd_spectrum(args: argparse.Namespace) -> int:
    task_route = args.task is not None
    file_route = args.eigenvalues is not None or args.target_power is not None
    if task_route == file_route:
        raise UsageError("give either --task NAME --width W --depth L, or --eigenvalues FILE "
                         "--target-power FILE")
    if task_route and (args.width is None or args.depth is None):
        raise UsageError("--task needs --width and --depth")
    if file_route and (args.eigenvalues is None or args.target_power is None):
        raise UsageError("--eigenvalues and --target-power go together")
    if file_route and (args.trained or args.width or args.depth or args.run):
        raise UsageError("--width, --depth, --trained and --run go with --task")
    if task_route and (args.ridge or args.noise):
        raise UsageError("--ridge and --noise go with --eigenvalues (a student's kernel "
                         "regression is ridgeless, on the task's noiseless teacher)")
    if args.run is not None and args.trained is None:
        raise UsageError("--run names a run of the --trained sweep")
    for target, opt in ((args.json, "--json"), (args.plot, "--plot")):
        _check_writable(target, opt)
    if args.ridge < 0 or args.noise < 0:
        raise DataValidationError("--ridge and --noise must be >= 0.", column="ridge")
    pred, measured, settings = _from_task(args) if task_route else _from_files(args)
    print(pred.summary())
    if args.json:
        _write_json({**pred.to_dict(), "input": settings}, args.json)
    if args.plot:
        pred.plot(measured=measured).savefig(args.plot, dpi=120)
    if args.json and args.json != "-":
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


def _add_spectrum_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "spectrum", parents=[common],
        help="the learning curve and data exponent a kernel spectrum predicts",
        description="Predict the learning curve and the data exponent alpha_D of kernel "
                    "regression from a spectrum (Bordelon, Canatar & Pehlevan 2020): the "
                    "empirical NTK of a student on a task (at initialisation, or trained in "
                    "a sweep that kept its weights), or eigenvalues and the target's power "
                    "per mode read from files (.npy or one-column .csv).")
    g = p.add_argument_group("a student's empirical NTK")
    g.add_argument("--task", default=None, help="a suite name or a .toml/.json task file")
    g.add_argument("--width", type=int, default=None, help="student width")
    g.add_argument("--depth", type=int, default=None, help="student hidden layers")
    g.add_argument("--seed", type=int, default=0, help="initialisation seed (default 0)")
    g.add_argument("--trained", default=None, metavar="SWEEP_DIR",
                   help="use a trained student of this sweep (kept weights): the largest "
                        "training set it interpolates, unless --run")
    g.add_argument("--run", default=None, metavar="RUN_ID", help="which run of --trained")
    g.add_argument("--device", default=None, choices=["cpu", "cuda"],
                   help="default: CUDA when present")
    f = p.add_argument_group("a spectrum from files")
    f.add_argument("--eigenvalues", default=None, metavar="FILE",
                   help="kernel eigenvalues (.npy or one-column .csv)")
    f.add_argument("--target-power", default=None, metavar="FILE",
                   help="the target's variance in each mode, lambda_k w_k^2 (same length)")
    f.add_argument("--ridge", type=float, default=0.0, help="ridge (default 0)")
    f.add_argument("--noise", type=float, default=0.0,
                   help="label-noise standard deviation (default 0)")
    p.add_argument("--n", type=int, default=None,
                   help="--task: inputs of the Gram matrix (default 2000); files: the "
                        "samples the spectrum came from (its tail is then continued)")
    p.add_argument("--window", default=None, metavar="LO,HI",
                   help="training-set sizes to read the exponent over (default: the "
                        "resolved modes)")
    p.add_argument("--json", default=None, metavar="OUT",
                   help="write decay_exponent, decay_ci, predicted_alpha, predicted_curve, "
                        "warnings as JSON ('-' for stdout)")
    p.add_argument("--plot", default=None, metavar="OUT.png", help="plot the predicted curve")
    p.set_defaults(func=_cmd_spectrum, needs_torch=False)
