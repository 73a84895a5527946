"""The ``scalelaw`` command line: a thin layer over the library.

Exit status: 0 on success, 1 on a data or fit error (one line
``scalelaw: error: ...``; the traceback only with ``--debug``), 2 on a usage
error (including options that cannot go together), 130 after Ctrl-C. Only
this module prints. Library warnings (:class:`~scalelaw.ScaleLawWarning`) are
shown as ``scalelaw: warning: ...``; NumPy's floating-point warnings are not
shown unless ``--debug``.

As an application, the command line may change process-wide state where the
library never does: ``scalelaw sweep`` and ``scalelaw demo`` tune the glibc
allocator and torch's thread count (see ``teacher_student.sweep``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from scalelaw.exceptions import DataValidationError, ScaleLawError, ScaleLawWarning
from scalelaw.results import to_jsonable

__all__ = ["build_parser", "main"]


class UsageError(Exception):
    """Options that cannot go together (exit status 2, as argparse's own errors)."""


def _split(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _mapping(text: str | None, option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in _split(text or ""):
        k, eq, v = item.partition("=")
        if not eq or not k.strip() or not v.strip():
            raise DataValidationError(
                f"{option} takes THEIRS=OURS pairs separated by commas; got {item!r}.",
                column=option,
            )
        out[k.strip()] = v.strip()
    return out


def _read(args: argparse.Namespace) -> pd.DataFrame:
    from scalelaw.io import read_runs

    df = read_runs(
        args.file, format=getattr(args, "format", None),
        columns=_mapping(getattr(args, "map", None), "--map"),
        run=getattr(args, "run", None), step=getattr(args, "step", None),
        y=getattr(args, "y", None), reduce=getattr(args, "reduce", None),
    )
    if "reduction" in df.attrs:
        print(f"reduce: {df.attrs['reduction']}", file=sys.stderr)
    if df.attrs.get("dropped_columns"):
        print(f"read: dropped {df.attrs['dropped_columns']} __MIN/__MAX band column(s) of "
              "the W&B export", file=sys.stderr)
    return _apply_where(df, getattr(args, "where", None))


def _add_input_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("reading logs")
    g.add_argument("--format", default=None, choices=["table", "wandb", "tensorboard"],
                   help="input format (default: from the path and columns)")
    g.add_argument("--map", default=None, metavar="THEIRS=OURS,...",
                   help="rename columns before use, e.g. 'val/loss=loss,N=n_params'")
    g.add_argument("--reduce", default=None, choices=["final", "best"],
                   help="learning-curve logs: keep each run's final (largest --step) or "
                   "best (lowest --y) row")
    g.add_argument("--run", default=None, metavar="COL",
                   help="run column (for --reduce, and for the learning-curve filters)")
    g.add_argument("--step", default=None, metavar="COL", help="step column for --reduce")
    g.add_argument("--where", default=None,
                   help="row filter, a pandas query such as \"split == 'test'\"")


_LAW_HELP = (
    "auto (chosen by held-out-scale validation), power, saturating_power, chinchilla, "
    "kaplan, broken_power, m1, m2, m3, m4, with options as NAME:key=value (e.g. "
    "broken_power:n_breaks=2, m4:eps_0=0.9), or a formula such as 'E + A*n**(-alpha)' "
    "whose inputs are the --x columns"
)


def _apply_where(df: pd.DataFrame, where: str | None) -> pd.DataFrame:
    if not where:
        return df
    try:
        kept = df.query(where)
    except Exception as exc:  # pandas raises many types for a bad expression
        raise DataValidationError(
            f"--where {where!r} could not be applied: {exc}. Columns: "
            f"{[str(c) for c in df.columns]}.",
            column="where",
        ) from None
    print(f"where: kept {len(kept)} of {len(df)} rows ({where})", file=sys.stderr)
    if len(kept) == 0:
        raise DataValidationError(f"--where {where!r} keeps no rows.", column="where")
    return kept


def _check_writable(target: str | None, option: str) -> None:
    """Fail before any work when an output path cannot be written."""
    if target is None or target == "-":
        return
    p = Path(target)
    parent = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise DataValidationError(f"{option} {target!r} is a directory; give a file path.",
                                  column=option)
    if not parent.is_dir():
        raise DataValidationError(
            f"{option} {target!r}: the folder {str(parent)!r} does not exist.", column=option)
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise DataValidationError(f"{option} {target!r} is not writable.", column=option)


def _write_json(obj: Any, target: str) -> None:
    text = json.dumps(to_jsonable(obj), indent=2)
    if target == "-":
        print(text)
    else:
        Path(target).write_text(text + "\n")


# ----------------------------------------------------------------------- fit
def _cmd_fit(args: argparse.Namespace) -> int:
    import scalelaw as sl
    from scalelaw.curves import fit_learning_curve, fit_learning_curve_groups

    xs = _split(args.x)
    curves = bool(args.warmup_fraction or args.min_x is not None or args.envelope)
    if curves and len(xs) != 1:
        raise UsageError("--warmup-fraction/--min-x/--envelope need one --x column (the "
                         "step, token or compute axis).")
    if curves and args.reduce:
        raise UsageError("--reduce keeps one row per run, the learning-curve filters "
                         "(--warmup-fraction/--min-x/--envelope) need the whole curves: "
                         "use one or the other.")
    if args.bootstrap_groups and not args.bootstrap:
        raise UsageError("--bootstrap-groups needs --bootstrap N.")
    if args.law.strip() == "auto" and args.starts is not None:
        raise UsageError("--starts cannot be given with --law auto (each candidate has "
                         "its own starts).")
    _check_writable(args.json, "--json")
    _check_writable(args.plot, "--plot")
    df = _read(args)
    common: dict[str, Any] = {
        "x": xs if not curves else xs[0],
        "y": args.y,
        "objective": args.objective,
        "delta": args.delta,
        "bootstrap": args.bootstrap,
        "bootstrap_groups": args.bootstrap_groups,
        "level": args.level,
        "random_state": args.seed,
        "drop_invalid": args.drop_invalid,
        "weights": args.weights,
        "calibrate": args.calibrate,
    }
    if args.starts is not None:
        common["starts"] = args.starts
    lc = {"run": args.run, "warmup_fraction": args.warmup_fraction,
          "min_step": args.min_x, "envelope": args.envelope}
    if args.group:
        grouped = (fit_learning_curve_groups(df, args.law, group=args.group, **lc, **common)
                   if curves else sl.fit_groups(args.law, df, group=args.group, **common))
        print(grouped.summary())
        if args.json:
            _write_json(grouped.to_dict(), args.json)
        if args.plot:
            sl.plot_fit(grouped).savefig(args.plot, dpi=120)
        if not grouped.results:
            raise ScaleLawError("no group could be fitted")
        return 0
    result = (fit_learning_curve(df, args.law, **lc, **common) if curves
              else sl.fit(args.law, df, **common))
    print(result.summary())
    if args.json:
        _write_json(result.to_dict(), args.json)
    if args.plot:
        sl.plot_fit(result).savefig(args.plot, dpi=120)
    return 0


def _add_law_options(p: argparse.ArgumentParser) -> None:
    """FILE, --law, --x, --y, --objective, --delta: shared by fit and backtest."""
    p.add_argument("file", help="CSV, TSV, Parquet or JSON Lines file, a W&B export, a "
                   "TensorBoard log, or dataset:NAME for a bundled data set")
    p.add_argument("--law", required=True, help=_LAW_HELP)
    p.add_argument("--x", required=True, help="input column(s), comma-separated")
    p.add_argument("--y", required=True, help="target column")
    p.add_argument("--objective", default="huber_log",
                   choices=["huber_log", "mse_log", "mse"])
    p.add_argument("--delta", type=float, default=1e-3, help="Huber threshold")


def _add_fit_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "fit", parents=[common],
        help="fit a scaling law to a table of runs",
        description="Fit a law to FILE and print the summary.",
    )
    _add_law_options(p)
    p.add_argument("--weights", default=None, help="column of positive row weights")
    p.add_argument("--group", default=None, metavar="COL[,COL]",
                   help="fit one law per value of COL (or per combination of columns)")
    p.add_argument("--bootstrap", type=int, default=0, metavar="N",
                   help="number of bootstrap replicas")
    p.add_argument("--bootstrap-groups", default=None, metavar="COL",
                   help="resample whole groups of rows (e.g. seeds)")
    p.add_argument("--starts", type=int, default=None, metavar="N",
                   help="number of starting points (default: the law's grid)")
    p.add_argument("--level", type=float, default=0.95)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--drop-invalid", action="store_true",
                   help="exclude invalid rows (text such as 'diverged', NaN, out of the "
                   "law's domain; counted) instead of failing")
    p.add_argument("--calibrate", action="store_true",
                   help="measure how forecast error grows beyond the data (a few refits) "
                   "so forecasts from --json have honest intervals there")
    p.add_argument("--json", default=None, metavar="OUT", help="write results as JSON")
    p.add_argument("--plot", default=None, metavar="OUT.png", help="write a plot")
    lc = p.add_argument_group("learning curves (one --x column: steps, tokens or compute; "
                              "applied per group with --group)")
    lc.add_argument("--warmup-fraction", type=float, default=0.0, metavar="FRAC",
                    help="drop the first FRAC of each run's points (e.g. 0.1)")
    lc.add_argument("--min-x", type=float, default=None, metavar="VALUE",
                    help="drop rows with --x below VALUE")
    lc.add_argument("--envelope", action="store_true",
                    help="fit the lower envelope of --y against --x across runs")
    _add_input_options(p)
    p.set_defaults(func=_cmd_fit)


# ------------------------------------------------------------------ backtest
def _cmd_backtest(args: argparse.Namespace) -> int:
    from scalelaw.backtest import backtest

    _check_writable(args.json, "--json")
    df = _read(args)
    res = backtest(
        df, args.law, x=_split(args.x), y=args.y, group=args.group,
        holdout_largest=args.holdout_largest, split_column=args.split_column,
        level=args.level, objective=args.objective, delta=args.delta,
    )
    print(res.summary())
    if args.json:
        _write_json(res.to_dict(), args.json)
    if res.overall["n_groups"] == 0:
        raise ScaleLawError("no group could be backtested; see the status column above")
    return 0


def _add_backtest_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    b = sub.add_parser(
        "backtest", parents=[common],
        help="fit the smaller scales, score forecasts of the held-out larger ones",
        description="Per group: fit on the training rows, predict the held-out rows, "
        "report RMSLE, absolute relative error and prediction-interval coverage.",
    )
    _add_law_options(b)
    b.add_argument("--group", default=None, metavar="COL[,COL]",
                   help="one backtest per value of COL (or combination of columns)")
    split = b.add_mutually_exclusive_group(required=True)
    split.add_argument("--holdout-largest", type=int, default=None, metavar="K",
                       help="hold out the K largest-scale rows of each group")
    split.add_argument("--split-column", default=None, metavar="COL",
                       help="1/True/'train' = training row, 0/False/'test' = held out")
    b.add_argument("--level", type=float, default=0.9,
                   help="prediction-interval level for the coverage score")
    b.add_argument("--json", default=None, metavar="OUT", help="write results as JSON")
    _add_input_options(b)
    b.set_defaults(func=_cmd_backtest)


# ------------------------------------------------------------------ forecast
def _parse_point(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in _split(text):
        k, eq, v = item.partition("=")
        try:
            out[k.strip()] = float(v)
        except ValueError:
            raise DataValidationError(
                f"--at takes COL=NUMBER pairs separated by commas; got {item!r}.",
                column="at",
            ) from None
        if not eq:
            raise DataValidationError(
                f"--at takes COL=NUMBER pairs separated by commas; got {item!r}.",
                column="at",
            )
    return out


def _cmd_forecast(args: argparse.Namespace) -> int:
    import scalelaw as sl
    from scalelaw.io import read_fit

    if not args.at and not args.budget:
        raise UsageError("give --at COL=V,... and/or --budget FLOPS.")
    _check_writable(args.json, "--json")
    res = read_fit(args.fit_json, args.group)
    if res.calibration is None:
        print("forecast: the fit carries no extrapolation calibration; calibrating it now "
              "(refits on its own data)", file=sys.stderr)
        res = sl.calibrate(res)
    frames = []
    for text in args.at:
        point = _parse_point(text)
        frames.append(res.get_prediction(args.level, extrapolate=args.extrapolate,
                                         max_extrapolation=args.max_extrapolation, **point))
    if args.budget:
        opt = sl.compute_optimal(res, args.budget, level=args.level,
                                 flops_per_param_token=args.flops_per_param_token)
        point = {c: opt[c].to_numpy() for c in res.x}
        tab = res.get_prediction(args.level, extrapolate=True, **point)
        extra = opt.drop(columns=[*res.x, "extrapolation_factor"])
        frames.append(pd.concat([extra.reset_index(drop=True),
                                 tab.reset_index(drop=True)], axis=1))
    out = pd.concat(frames, ignore_index=True)
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(out.to_string(index=False, float_format=lambda v: f"{v:.5g}"))
    if args.json:
        rows = out.astype(object).where(out.notna(), None).to_dict(orient="records")
        _write_json(rows, args.json)
    return 0


def _add_forecast_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    f = sub.add_parser(
        "forecast", parents=[common],
        help="forecast from a saved fit (scalelaw fit --json)",
        description="Predict the target at new inputs, with the interval of the mean "
        "curve and the prediction interval of a new run; or, with --budget, the "
        "compute-optimal point for a FLOP budget.",
    )
    f.add_argument("fit_json", metavar="FIT.json")
    f.add_argument("--at", action="append", default=[], metavar="COL=V,COL=V",
                   help="inputs of one point (repeatable), e.g. n_params=1e10,n_tokens=2e11")
    f.add_argument("--budget", action="append", type=float, default=[], metavar="FLOPS",
                   help="compute-optimal allocation for this budget (repeatable)")
    f.add_argument("--flops-per-param-token", type=float, default=6.0,
                   help="k in C = k N D (default 6)")
    f.add_argument("--level", type=float, default=None,
                   help="interval level (default: the fit's)")
    f.add_argument("--extrapolate", action="store_true",
                   help="allow points beyond --max-extrapolation")
    f.add_argument("--max-extrapolation", type=float, default=10.0, metavar="FACTOR",
                   help="largest allowed multiple of the fitted domain (default 10)")
    f.add_argument("--group", default=None,
                   help="with a grouped fit JSON: the group to forecast from")
    f.add_argument("--json", default=None, metavar="OUT", help="write the rows as JSON")
    f.set_defaults(func=_cmd_forecast)


# --------------------------------------------------------------------- tasks
def _task_arg(name: str) -> Any:
    from teacher_student.suite import get_task
    from teacher_student.tasks import Task

    if name.endswith((".toml", ".json")):
        if not Path(name).is_file():
            raise DataValidationError(f"Task file {name!r} does not exist.", column="task")
        return Task.from_file(name)
    return get_task(name)


def _cmd_tasks_list(args: argparse.Namespace) -> int:
    from teacher_student.suite import task_table

    print(task_table().to_string(index=False))
    return 0


def _cmd_tasks_show(args: argparse.Namespace) -> int:
    task = _task_arg(args.name)
    print(f"# {task.name}: {task.description}" if task.description else f"# {task.name}")
    print(task.to_toml())
    return 0


def _cmd_tasks_generate(args: argparse.Namespace) -> int:
    from teacher_student.tasks import sample, write_task_data

    task = _task_arg(args.name)
    data = sample(task, args.n, args.seed, noise_seed=args.noise_seed)
    write_task_data(data, args.out)
    print(f"wrote {args.out}: {args.n} training and {task.n_test} test rows of {task.name} "
          f"(task_id {task.task_id}, seed {args.seed})")
    return 0


def _add_tasks_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    t = sub.add_parser("tasks", parents=[common], help="teacher-student benchmark tasks",
                       description="List, show and generate teacher-student tasks.")
    tsub = t.add_subparsers(dest="tasks_command", required=True)
    tl = tsub.add_parser("list", parents=[common],
                         help="names, families and dimensions of the suite")
    tl.set_defaults(func=_cmd_tasks_list, needs_torch=False)
    ts = tsub.add_parser("show", parents=[common],
                         help="one task's settings (TOML) and description")
    ts.add_argument("name", help="a suite name or a .toml/.json task file")
    ts.set_defaults(func=_cmd_tasks_show, needs_torch=False)
    tg = tsub.add_parser("generate", parents=[common],
                         help="write train/test arrays to .npz or .parquet")
    tg.add_argument("name", help="a suite name or a .toml/.json task file")
    tg.add_argument("--n", type=int, required=True, help="training-set size")
    tg.add_argument("--seed", type=int, required=True, help="data seed")
    tg.add_argument("--noise-seed", type=int, default=None,
                    help="label-noise seed (default: --seed)")
    tg.add_argument("--out", required=True, help="FILE.npz or FILE.parquet")
    tg.set_defaults(func=_cmd_tasks_generate, needs_torch=True)


# --------------------------------------------------------------------- sweep
def _cmd_sweep_run(args: argparse.Namespace) -> int:
    from teacher_student.sweep import SweepConfig, install_sigterm_handler, run_sweep

    cfg = SweepConfig.from_file(args.config)
    install_sigterm_handler()
    rep = run_sweep(cfg, args.out, device=args.device, scheduler=args.scheduler,
                    progress=not args.no_progress, threads=args.threads)
    print(f"sweep: {rep.n_total} runs; {rep.n_skipped} already done, {rep.n_trained} trained "
          f"now ({rep.n_diverged} diverged) in {rep.wall_time_s:.1f} s -> {args.out}")
    if rep.interrupted:
        print("scalelaw: interrupted; finished runs are saved, rerun the same command to "
              "resume.", file=sys.stderr)
        return 130
    return 0


def _cmd_sweep_status(args: argparse.Namespace) -> int:
    from teacher_student.sweep import sweep_status

    st = sweep_status(args.dir)
    by = ", ".join(f"{k} {v}" for k, v in sorted(st["by_status"].items())) or "none"
    print(f"{args.dir}: task {st['task']}; {st['finished']} of {st['total']} runs finished "
          f"({by}); {st['remaining']} remaining")
    return 0


def _cmd_sweep_results(args: argparse.Namespace) -> int:
    from teacher_student.sweep import write_results

    n_rows, n_runs = write_results(args.dir, args.out, final=args.final)
    what = "runs" if args.final else f"rows ({n_runs} runs)"
    print(f"wrote {n_rows} {what} to {args.out}")
    return 0


def _add_sweep_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    sw = sub.add_parser("sweep", parents=[common],
                        help="train students over widths, data sizes and seeds",
                        description="Resumable sweeps of teacher-student training runs.")
    swsub = sw.add_subparsers(dest="sweep_command", required=True)
    sr = swsub.add_parser("run", parents=[common], help="run or resume a sweep")
    sr.add_argument("config", help="sweep config (TOML)")
    sr.add_argument("--out", required=True, help="results directory")
    sr.add_argument("--device", default=None, choices=["cpu", "cuda"],
                    help="default: CUDA when present")
    sr.add_argument("--scheduler", default=None, metavar="ADDRESS",
                    help="Dask distributed scheduler address (tcp://host:8786)")
    sr.add_argument("--threads", type=int, default=None,
                    help="torch threads per population (default: see the README)")
    sr.add_argument("--no-progress", action="store_true", help="no progress bar")
    sr.set_defaults(func=_cmd_sweep_run, needs_torch=True)
    ss = swsub.add_parser("status", parents=[common], help="finished and remaining runs")
    ss.add_argument("dir")
    ss.set_defaults(func=_cmd_sweep_status, needs_torch=False)
    sres = swsub.add_parser("results", parents=[common],
                            help="collect the runs into one table")
    sres.add_argument("dir")
    sres.add_argument("--out", required=True, help="FILE.csv or FILE.parquet")
    sres.add_argument("--final", action="store_true",
                      help="one row per run (final losses), ready for scalelaw fit")
    sres.set_defaults(func=_cmd_sweep_results, needs_torch=False)


# -------------------------------------------------------------------- parser
def _version() -> str:
    from scalelaw import __version__

    return f"scalelaw {__version__}"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests).

    Returns
    -------
    argparse.ArgumentParser
        The parser of every sub-command.
    """
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks and NumPy's floating-point warnings")
    parser = argparse.ArgumentParser(
        prog="scalelaw", parents=[common],
        description="Fit, forecast and test neural scaling laws.",
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True)
    for add in _SUBCOMMANDS:
        add(sub, common)
    return parser


_SUBCOMMANDS: list[Callable[[Any, argparse.ArgumentParser], None]] = [
    _add_fit_parser, _add_backtest_parser, _add_forecast_parser, _add_tasks_parser,
    _add_sweep_parser,
]


def _show_warning(message: Any, category: Any, *_: Any, **__: Any) -> None:
    print(f"scalelaw: warning: {' '.join(str(message).split())}", file=sys.stderr)


def _torch_missing() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status.

    Examples
    --------
    >>> main(["fit", "dataset:chinchilla_synthetic", "--law", "power",
    ...       "--x", "n_params", "--y", "loss", "--starts", "3"])  # doctest: +ELLIPSIS
    Scaling-law fit: power ...
    0
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    if getattr(args, "needs_torch", False) and _torch_missing():
        print("scalelaw: error: this command trains students and needs PyTorch: "
              "pip install 'scalelaw[torch]' (scripts/setup.sh installs a CPU build when "
              "no GPU is present).", file=sys.stderr)
        return 1
    with warnings.catch_warnings():
        warnings.simplefilter("always", ScaleLawWarning)
        if not debug:
            warnings.simplefilter("ignore", RuntimeWarning)
        warnings.showwarning = _show_warning
        try:
            return int(args.func(args))
        except UsageError as exc:
            parser.print_usage(sys.stderr)
            print(f"scalelaw: error: {exc}", file=sys.stderr)
            return 2
        except ScaleLawError as exc:
            if debug:
                raise
            msg = " ".join(str(exc).split())
            print(f"scalelaw: error: {msg}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("scalelaw: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:
            # the reader went away (e.g. `scalelaw tasks list | head`): end quietly
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
