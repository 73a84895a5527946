"""The ``scalelaw`` command line.

Exit status: 0 on success, 1 on a data or fit error (one line
``scalelaw: error: ...``; the traceback only with ``--debug``), 2 on a usage
error. Only this module prints.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from scalelaw.exceptions import DataValidationError, ScaleLawError

__all__ = ["main"]


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


def _read(file: str, args: argparse.Namespace | None = None) -> pd.DataFrame:
    if file.startswith("dataset:"):
        from scalelaw import datasets

        return datasets.load(file.split(":", 1)[1])
    from scalelaw.io import read_runs

    if args is None:
        return read_runs(file)
    df = read_runs(
        file, format=getattr(args, "format", None),
        columns=_mapping(getattr(args, "map", None), "--map"),
        run=getattr(args, "run", None), step=getattr(args, "step", None),
        y=getattr(args, "y", None), reduce=getattr(args, "reduce", None),
    )
    if "reduction" in df.attrs:
        print(f"reduce: {df.attrs['reduction']}", file=sys.stderr)
    if df.attrs.get("dropped_columns"):
        print(f"read: dropped {df.attrs['dropped_columns']} __MIN/__MAX band column(s) of "
              "the W&B export", file=sys.stderr)
    return df


def _add_input_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("reading logs")
    g.add_argument("--format", default=None, choices=["table", "wandb", "tensorboard"],
                   help="input format (default: from the path and columns)")
    g.add_argument("--map", default=None, metavar="THEIRS=OURS,...",
                   help="rename columns before use, e.g. 'val/loss=loss,N=n_params'")
    g.add_argument("--reduce", default=None, choices=["final", "best"],
                   help="learning-curve logs: keep each run's final (largest --step) or "
                   "best (lowest --y) row")
    g.add_argument("--run", default=None, metavar="COL", help="run column for --reduce")
    g.add_argument("--step", default=None, metavar="COL", help="step column for --reduce")


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


def _write_json(obj: Any, target: str) -> None:
    text = json.dumps(obj, indent=2)
    if target == "-":
        print(text)
    else:
        Path(target).write_text(text + "\n")


def _cmd_fit(args: argparse.Namespace) -> int:
    import scalelaw as sl

    df = _apply_where(_read(args.file, args), args.where)
    xs = _split(args.x)
    common: dict[str, Any] = {
        "x": xs,
        "y": args.y,
        "objective": args.objective,
        "delta": args.delta,
        "bootstrap": args.bootstrap,
        "bootstrap_groups": args.bootstrap_groups,
        "level": args.level,
        "random_state": args.seed,
        "drop_invalid": args.drop_invalid,
        "weights": args.weights,
    }
    if args.starts is not None:
        common["starts"] = args.starts
    if args.group:
        grouped = sl.fit_groups(args.law, df, group=args.group, **common)
        print(grouped.summary())
        if args.json:
            _write_json(grouped.to_dict(), args.json)
        if args.plot:
            from scalelaw.plotting import plot_fit

            out = Path(args.plot)
            for g, res in grouped.results.items():
                safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in g)
                plot_fit(res).savefig(out.with_name(f"{out.stem}_{safe}{out.suffix}"))
        if not grouped.results:
            raise ScaleLawError("no group could be fitted")
        return 0
    if args.warmup_fraction or args.min_x is not None or args.envelope:
        from scalelaw.curves import fit_learning_curve

        common["x"] = xs[0]
        result = fit_learning_curve(
            df, args.law, run=args.run, warmup_fraction=args.warmup_fraction,
            min_step=args.min_x, envelope=args.envelope, **common,
        ) if len(xs) == 1 else None
        if result is None:
            raise DataValidationError("--warmup-fraction/--min-x/--envelope need one --x "
                                      "column (the step, token or compute axis).",
                                      column="x")
    else:
        result = sl.fit(args.law, df, **common)
    print(result.summary())
    if args.json:
        _write_json(result.to_dict(), args.json)
    if args.plot:
        from scalelaw.plotting import plot_fit

        plot_fit(result).savefig(args.plot, dpi=120)
    return 0


def _add_law_options(p: argparse.ArgumentParser) -> None:
    """FILE, --law, --x, --y, --objective, --delta: shared by fit and backtest."""
    p.add_argument("file")
    p.add_argument("--law", required=True, help=_LAW_HELP)
    p.add_argument("--x", required=True, help="input column(s), comma-separated")
    p.add_argument("--y", required=True, help="target column")
    p.add_argument("--objective", default="huber_log",
                   choices=["huber_log", "mse_log", "mse"])
    p.add_argument("--delta", type=float, default=1e-3, help="Huber threshold")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="scalelaw",
        description="Fit, forecast and test neural scaling laws.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "fit",
        help="fit a scaling law to a table of runs",
        description="Fit a law to FILE (CSV, TSV, Parquet or JSON Lines; or "
        "dataset:NAME for a bundled data set) and print the summary.",
    )
    _add_law_options(p)
    p.add_argument("--weights", default=None, help="column of positive row weights")
    p.add_argument("--where", default=None,
                   help="row filter, a pandas query such as \"split == 'test'\"")
    p.add_argument("--group", default=None, help="fit one law per value of COL")
    p.add_argument("--bootstrap", type=int, default=0, metavar="N",
                   help="number of bootstrap replicas")
    p.add_argument("--bootstrap-groups", default=None, metavar="COL",
                   help="resample whole groups of rows (e.g. seeds)")
    p.add_argument("--starts", type=int, default=None, metavar="N",
                   help="number of starting points (default: the law's grid)")
    p.add_argument("--level", type=float, default=0.95)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--drop-invalid", action="store_true",
                   help="exclude invalid rows (counted) instead of failing")
    p.add_argument("--json", default=None, metavar="OUT", help="write results as JSON")
    p.add_argument("--plot", default=None, metavar="OUT.png", help="write a plot")
    lc = p.add_argument_group("learning curves (one --x column: steps, tokens or compute)")
    lc.add_argument("--warmup-fraction", type=float, default=0.0, metavar="FRAC",
                    help="drop the first FRAC of each run's points (e.g. 0.1)")
    lc.add_argument("--min-x", type=float, default=None, metavar="VALUE",
                    help="drop rows with --x below VALUE")
    lc.add_argument("--envelope", action="store_true",
                    help="fit the lower envelope of --y against --x across runs")
    _add_input_options(p)
    p.set_defaults(func=_cmd_fit)

    b = sub.add_parser(
        "backtest",
        help="fit the smaller scales, score forecasts of the held-out larger ones",
        description="Per group: fit on the training rows, predict the held-out rows, "
        "report RMSLE, absolute relative error and prediction-interval coverage.",
    )
    _add_law_options(b)
    b.add_argument("--group", default=None, help="one backtest per value of COL")
    split = b.add_mutually_exclusive_group(required=True)
    split.add_argument("--holdout-largest", type=int, default=None, metavar="K",
                       help="hold out the K largest-scale rows of each group")
    split.add_argument("--split-column", default=None, metavar="COL",
                       help="1/True/'train' = training row, 0/False/'test' = held out")
    b.add_argument("--level", type=float, default=0.9,
                   help="prediction-interval level for the coverage score")
    b.add_argument("--where", default=None, help="row filter (pandas query)")
    b.add_argument("--json", default=None, metavar="OUT", help="write results as JSON")
    _add_input_options(b)
    b.set_defaults(func=_cmd_backtest)

    f = sub.add_parser(
        "forecast",
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

    t = sub.add_parser("tasks", help="teacher-student benchmark tasks",
                       description="List, show and generate teacher-student tasks.")
    tsub = t.add_subparsers(dest="tasks_command", required=True)
    tl = tsub.add_parser("list", help="names, families and dimensions of the suite")
    tl.set_defaults(func=_cmd_tasks_list)
    ts = tsub.add_parser("show", help="one task's settings (TOML) and description")
    ts.add_argument("name", help="a suite name or a .toml/.json task file")
    ts.set_defaults(func=_cmd_tasks_show)
    tg = tsub.add_parser("generate", help="write train/test arrays to .npz or .parquet")
    tg.add_argument("name", help="a suite name or a .toml/.json task file")
    tg.add_argument("--n", type=int, required=True, help="training-set size")
    tg.add_argument("--seed", type=int, required=True, help="data seed")
    tg.add_argument("--noise-seed", type=int, default=None,
                    help="label-noise seed (default: --seed)")
    tg.add_argument("--out", required=True, help="FILE.npz or FILE.parquet")
    tg.set_defaults(func=_cmd_tasks_generate)

    sw = sub.add_parser("sweep", help="train students over widths, data sizes and seeds",
                        description="Resumable sweeps of teacher-student training runs.")
    swsub = sw.add_subparsers(dest="sweep_command", required=True)
    sr = swsub.add_parser("run", help="run or resume a sweep")
    sr.add_argument("config", help="sweep config (TOML)")
    sr.add_argument("--out", required=True, help="results directory")
    sr.add_argument("--device", default=None, choices=["cpu", "cuda"],
                    help="default: CUDA when present")
    sr.add_argument("--scheduler", default=None, metavar="ADDRESS",
                    help="Dask distributed scheduler address (tcp://host:8786)")
    sr.add_argument("--threads", type=int, default=None,
                    help="torch threads per population (default: torch's choice)")
    sr.add_argument("--no-progress", action="store_true", help="no progress bar")
    sr.set_defaults(func=_cmd_sweep_run)
    ss = swsub.add_parser("status", help="finished and remaining runs")
    ss.add_argument("dir")
    ss.set_defaults(func=_cmd_sweep_status)
    sres = swsub.add_parser("results", help="collect the runs into one table")
    sres.add_argument("dir")
    sres.add_argument("--out", required=True, help="FILE.csv or FILE.parquet")
    sres.set_defaults(func=_cmd_sweep_results)
    return parser


def _sweep_errors() -> Any:
    from teacher_student.tasks import TaskConfigError

    return TaskConfigError


def _cmd_sweep_run(args: argparse.Namespace) -> int:
    from teacher_student.sweep import SweepConfig, install_sigterm_handler, run_sweep

    try:
        cfg = SweepConfig.from_file(args.config)
        install_sigterm_handler()
        rep = run_sweep(cfg, args.out, device=args.device, scheduler=args.scheduler,
                        progress=not args.no_progress, threads=args.threads)
    except _sweep_errors() as exc:
        raise DataValidationError(str(exc), column="config") from None
    print(f"sweep: {rep.n_total} runs; {rep.n_skipped} already done, {rep.n_trained} trained "
          f"now ({rep.n_diverged} diverged) in {rep.wall_time_s:.1f} s -> {args.out}")
    if rep.interrupted:
        print("scalelaw: interrupted; finished runs are saved, rerun the same command to "
              "resume.", file=sys.stderr)
        return 130
    return 0


def _cmd_sweep_status(args: argparse.Namespace) -> int:
    from teacher_student.sweep import sweep_status

    try:
        st = sweep_status(args.dir)
    except _sweep_errors() as exc:
        raise DataValidationError(str(exc), column="dir") from None
    by = ", ".join(f"{k} {v}" for k, v in sorted(st["by_status"].items())) or "none"
    print(f"{args.dir}: task {st['task']}; {st['finished']} of {st['total']} runs finished "
          f"({by}); {st['remaining']} remaining")
    return 0


def _cmd_sweep_results(args: argparse.Namespace) -> int:
    from teacher_student.sweep import sweep_results

    out = Path(args.out)
    if out.suffix not in (".csv", ".parquet"):
        raise DataValidationError(f"--out must end in .csv or .parquet; got {str(out)!r}.",
                                  column="out")
    try:
        table = sweep_results(args.dir)
    except _sweep_errors() as exc:
        raise DataValidationError(str(exc), column="dir") from None
    if out.suffix == ".csv":
        table.to_csv(out, index=False)
    else:
        table.to_parquet(out, index=False)
    print(f"wrote {len(table)} rows ({table['run_id'].nunique()} runs) to {out}")
    return 0


def _task_arg(name: str) -> Any:
    from teacher_student.suite import get_task
    from teacher_student.tasks import Task, TaskConfigError

    try:
        if name.endswith((".toml", ".json")):
            return Task.from_file(name)
        return get_task(name)
    except (TaskConfigError, OSError) as exc:
        raise DataValidationError(str(exc), column="task") from None


def _cmd_tasks_list(args: argparse.Namespace) -> int:
    from teacher_student.suite import get_task, list_tasks

    rows = []
    for name in list_tasks():
        task = get_task(name)
        alpha = task.predicted_alpha
        rows.append({"name": name, "family": task.family, "d": task.intrinsic_dim,
                     "ambient": task.ambient_dim, "loss": task.loss,
                     "4/d": "-" if alpha is None else f"{alpha:.3f}", "id": task.task_id})
    print(pd.DataFrame(rows).to_string(index=False))
    return 0


def _cmd_tasks_show(args: argparse.Namespace) -> int:
    task = _task_arg(args.name)
    print(f"# {task.name}: {task.description}" if task.description else f"# {task.name}")
    print(task.to_toml())
    return 0


def _cmd_tasks_generate(args: argparse.Namespace) -> int:
    import numpy as np

    from teacher_student.tasks import TaskConfigError, sample

    task = _task_arg(args.name)
    out = Path(args.out)
    if out.suffix not in (".npz", ".parquet"):
        raise DataValidationError(f"--out must end in .npz or .parquet; got {str(out)!r}.",
                                  column="out")
    try:
        data = sample(task, args.n, args.seed, noise_seed=args.noise_seed)
    except TaskConfigError as exc:
        raise DataValidationError(str(exc), column="n") from None
    meta = json.dumps(data.metadata(), sort_keys=True)
    arrays = {k: getattr(data, k).numpy() for k in ("x_train", "y_train", "x_test", "y_test")}
    if out.suffix == ".npz":
        np.savez(out, config=np.array(meta), **arrays)
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        frames = []
        for split in ("train", "test"):
            x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
            cols = {"split": [split] * len(x)}
            cols.update({f"x{i}": x[:, i] for i in range(x.shape[1])})
            cols.update({f"y{i}": y[:, i] for i in range(y.shape[1])})
            frames.append(pa.table(cols))
        table = pa.concat_tables(frames).replace_schema_metadata({"config": meta})
        pq.write_table(table, out)
    print(f"wrote {out}: {args.n} training and {task.n_test} test rows of {task.name} "
          f"(task_id {task.task_id}, seed {args.seed})")
    return 0


def _cmd_backtest(args: argparse.Namespace) -> int:
    from scalelaw.backtest import backtest

    df = _apply_where(_read(args.file, args), args.where)
    res = backtest(
        df, args.law, x=_split(args.x), y=args.y, group=args.group,
        holdout_largest=args.holdout_largest, split_column=args.split_column,
        level=args.level, objective=args.objective, delta=args.delta,
    )
    print(res.summary())
    if args.json:
        _write_json(_jsonable(res.to_dict()), args.json)
    if res.overall["n_groups"] == 0:
        raise ScaleLawError("no group could be backtested; see the status column above")
    return 0


def _jsonable(obj: Any) -> Any:
    from scalelaw.results import _enc

    return _enc(obj)


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


def _load_fit(path: str, group: str | None) -> Any:
    from scalelaw.results import FitResult, GroupedFitResult

    p = Path(path)
    if not p.exists():
        raise DataValidationError(f"Fit file {path!r} does not exist.", column="file")
    try:
        d = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataValidationError(
            f"{path!r} is not a fit JSON written by 'scalelaw fit --json': {exc}.",
            column="file",
        ) from None
    if isinstance(d, dict) and "groups" in d and "group" in d:
        grouped = GroupedFitResult.from_dict(d)
        if group is None:
            raise DataValidationError(
                f"{path!r} holds one fit per {grouped.group!r}; choose one with --group "
                f"({sorted(grouped.results)[:5]}).",
                column="group",
            )
        if group not in grouped.results:
            from scalelaw._validation import unknown_name

            raise unknown_name("group", group, list(grouped.results))
        return grouped.results[group]
    if not isinstance(d, dict) or "schema_version" not in d:
        raise DataValidationError(
            f"{path!r} is not a fit JSON written by 'scalelaw fit --json'.", column="file"
        )
    return FitResult.from_dict(d)


def _cmd_forecast(args: argparse.Namespace) -> int:
    if not args.at and not args.budget:
        raise DataValidationError("Give --at COL=V,... and/or --budget FLOPS.", column="at")
    res = _load_fit(args.fit_json, args.group)
    frames = []
    for text in args.at:
        point = _parse_point(text)
        tab = res.get_prediction(args.level, extrapolate=args.extrapolate,
                                 max_extrapolation=args.max_extrapolation, **point)
        frames.append(tab)
    if args.budget:
        from scalelaw.allocation import compute_optimal

        opt = compute_optimal(res, args.budget, level=args.level,
                              flops_per_param_token=args.flops_per_param_token)
        point = {c: opt[c].to_numpy() for c in res.x}
        tab = res.get_prediction(args.level, extrapolate=True, **point)
        extra = opt.drop(columns=[*res.x, "extrapolation_factor"])
        frames.append(pd.concat([extra.reset_index(drop=True),
                                 tab.reset_index(drop=True)], axis=1))
    out = pd.concat(frames, ignore_index=True)
    far = out["extrapolation_factor"] > args.max_extrapolation
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(out.to_string(index=False, float_format=lambda v: f"{v:.5g}"))
    if far.any():
        print(f"scalelaw: warning: {int(far.sum())} row(s) lie more than "
              f"{args.max_extrapolation:g}x beyond the fitted domain "
              f"(largest factor {out['extrapolation_factor'].max():.3g}); treat them as "
              "speculative.", file=sys.stderr)
    if args.json:
        rows = out.astype(object).where(out.notna(), None).to_dict(orient="records")
        _write_json(_jsonable(rows), args.json)
    return 0


def _show_warning(message: Any, category: Any, *_: Any, **__: Any) -> None:
    print(f"scalelaw: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status.

    Examples
    --------
    >>> main(["fit", "dataset:chinchilla_synthetic", "--law", "power",
    ...       "--x", "n_params", "--y", "loss", "--starts", "3"])  # doctest: +ELLIPSIS
    Scaling-law fit: power ...
    0
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = _show_warning
        try:
            return int(args.func(args))
        except ScaleLawError as exc:
            if args.debug:
                raise
            msg = " ".join(str(exc).split())
            print(f"scalelaw: error: {msg}", file=sys.stderr)
            return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
