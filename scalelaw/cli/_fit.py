"""``scalelaw fit``, ``backtest`` and ``forecast``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np
import pandas as pd

from scalelaw.cli._common import (
    UsageError,
    _add_input_options,
    _check_writable,
    _read,
    _split,
    _write_json,
)
from scalelaw.exceptions import DataValidationError, ScaleLawError

_LAW_HELP = (
    "auto (chosen by held-out-scale validation), power, saturating_power, chinchilla, "
    "kaplan, broken_power, m1, m2, m3, m4, with options as NAME:key=value (e.g. "
    "broken_power:n_breaks=2, m4:eps_0=0.9), average:LAW+LAW[+...] (each law fitted "
    "alone, forecasts combined, intervals widened by their disagreement), or a formula "
    "such as 'E + A*n**(-alpha)' whose inputs are the --x columns"
)


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
    if (args.law.strip() == "auto" or args.law.strip().startswith("average:")) \
            and args.starts is not None:
        raise UsageError("--starts cannot be given with --law auto or an average (each "
                         "law has its own starts).")
    _check_writable(args.json, "--json")
    _check_writable(args.plot, "--plot")
    df = _read(args)
    xs = _split(args.x)  # --x N,FLOPS was read as N,TOKENS (C = 6ND)
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
    _check_writable(args.out, "--out")
    _check_writable(args.plot, "--plot")
    if args.out and not args.out.lower().endswith((".csv", ".tsv", ".parquet", ".pq")):
        raise UsageError(f"--out {args.out!r}: give a .csv, .tsv or .parquet file.")
    df = _read(args)
    res = backtest(
        df, args.law, x=_split(args.x), y=args.y, group=args.group,
        holdout_largest=args.holdout_largest, split_column=args.split_column,
        level=args.level, objective=args.objective, delta=args.delta,
        n_jobs=args.jobs, progress=not args.no_progress, batch=not args.no_batch,
    )
    print(res.summary())
    if args.json:
        _write_json(res.to_dict(), args.json)
    if args.out:
        res.write_points(args.out)
    if args.plot and res.overall["n_groups"]:
        from scalelaw.plotting import plot_backtest

        plot_backtest(res).savefig(args.plot, dpi=120)
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
    b.add_argument("--json", default=None, metavar="OUT",
                   help="write the scores and every point's forecast as JSON")
    b.add_argument("--out", default=None, metavar="FILE",
                   help="write every point (inputs, actual, forecast, intervals, group, "
                   "law, heldout) as a table: .csv, .tsv or .parquet")
    b.add_argument("--plot", default=None, metavar="OUT.png",
                   help="draw forecast against actual per group (first 12 groups)")
    b.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="worker processes for the groups (default: one per CPU)")
    b.add_argument("--no-progress", action="store_true", help="no progress bar")
    b.add_argument("--no-batch", action="store_true",
                   help="fit group by group (the reference path) instead of all groups of "
                        "a law in shared array batches; the numbers are the same")
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


def _read_points(path: str) -> pd.DataFrame:
    from scalelaw.io import read_table

    table = read_table(path)
    if len(table) == 0:
        raise DataValidationError(f"--at-file {path!r} has no rows.", column="at_file")
    return table


def _point_column(table: pd.DataFrame, col: str, path: str) -> Any:
    """An input column of --at-file as floats, or one line naming the rows that are not."""
    from scalelaw._validation import describe_rows

    values = pd.to_numeric(table[col], errors="coerce")
    bad = values.isna().to_numpy() | ~np.isfinite(values.to_numpy(dtype=float))
    if bad.any():
        rows = list(table.index[bad])
        raise DataValidationError(
            f"--at-file {path!r}: column {col!r} has "
            f"{describe_rows(rows, list(table[col].to_numpy()[bad]))} that are not finite "
            "numbers (text, missing or infinite); every point needs a number.",
            column=col, rows=rows)
    return values.to_numpy(dtype=float)


def _read_result(path: str, group: str | None) -> Any:
    """A saved fit or combination of fits (``scalelaw fit --json``)."""
    import json
    from pathlib import Path

    from scalelaw.results import CombinedFit, read_fit

    try:
        d = json.loads(Path(path).read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        d = None  # read_fit gives the error
    if isinstance(d, dict) and d.get("kind") == "combination":
        return CombinedFit.from_dict(d)
    return read_fit(path, group)


def _cmd_forecast(args: argparse.Namespace) -> int:
    import scalelaw as sl
    from scalelaw.results import CombinedFit

    if not args.at and not args.budget and not args.at_file:
        raise UsageError("give --at COL=V,..., --at-file FILE and/or --budget FLOPS.")
    if args.at and args.at_file:
        raise UsageError("give --at or --at-file, not both (put every point in the file).")
    _check_writable(args.json, "--json")
    points = [_parse_point(text) for text in args.at]
    points_file = _read_points(args.at_file) if args.at_file else None
    res = _read_result(args.fit_json, args.group)
    if args.budget and isinstance(res, CombinedFit):
        raise UsageError(f"--budget needs one fitted law; {args.fit_json!r} holds a "
                         f"combination ({res.name}). Fit one law for compute-optimal "
                         "allocation.")
    if points_file is not None:
        missing = [c for c in res.x if c not in points_file.columns]
        if missing:
            raise DataValidationError(
                f"--at-file {args.at_file!r} lacks the fit's input column(s) {missing} "
                f"(it has {list(points_file.columns)}).", column=missing[0])
        file_cols = {c: _point_column(points_file, c, args.at_file) for c in res.x}
    uncalibrated = (not res.calibrated if isinstance(res, CombinedFit)
                    else res.calibration is None)
    if uncalibrated:
        print("forecast: the fit carries no extrapolation calibration; calibrating it now "
              "(refits on its own data)", file=sys.stderr)
        res = sl.calibrate(res)
    guard = {"extrapolate": args.extrapolate, "max_extrapolation": args.max_extrapolation}
    frames = []
    for point in points:
        frames.append(res.get_prediction(args.level, **guard, **point))
    if points_file is not None:
        tab = res.get_prediction(args.level, **guard, **file_cols)
        other = points_file.drop(columns=list(res.x)).reset_index(drop=True)
        frames.append(pd.concat([other, tab.reset_index(drop=True)], axis=1))
    if args.budget:
        opt = sl.compute_optimal(res, args.budget, level=args.level,
                                 flops_per_param_token=args.flops_per_param_token)
        point = {c: opt[c].to_numpy() for c in res.x}
        # the same guard as --at; the loss and its intervals come from get_prediction
        # (mean, mean_ci_*, obs_ci_*), so the frontier's own loss columns are dropped
        tab = res.get_prediction(args.level, **guard, **point)
        extra = opt.drop(columns=[*res.x, "extrapolation_factor", "loss", "loss_ci_lower",
                                  "loss_ci_upper"], errors="ignore")
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
    f.add_argument("--at-file", default=None, metavar="FILE",
                   help="a table (CSV, Parquet, ...) of points: one forecast per row, other "
                   "columns kept")
    f.add_argument("--budget", action="append", type=float, default=[], metavar="FLOPS",
                   help="compute-optimal allocation for this budget (repeatable; the "
                   "extrapolation guard applies as for --at)")
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


