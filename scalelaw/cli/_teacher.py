"""``scalelaw tasks`` and ``scalelaw sweep``: the teacher-student side."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from scalelaw.cli._common import _check_out_dir, _check_writable
from scalelaw.exceptions import DataValidationError


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

    _check_out_dir(args.out, "--out")
    cfg = SweepConfig.from_file(args.config)
    install_sigterm_handler()
    # an application: it tunes the process's allocator (run_sweep's docstring says why)
    rep = run_sweep(cfg, args.out, device=args.device, scheduler=args.scheduler,
                    progress=not args.no_progress, threads=args.threads, tune_allocator=True)
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

    if args.final and args.predictions:
        raise DataValidationError("Choose one of --final (one row per run) and "
                                  "--predictions (one row per run and probe example).",
                                  column="predictions")
    if args.linearised and args.predictions:
        raise DataValidationError("--linearised gives one row per run; it does not go with "
                                  "--predictions.", column="linearised")
    if Path(args.out).suffix not in (".csv", ".parquet"):
        raise DataValidationError(f"--out must end in .csv or .parquet; got {args.out!r}.",
                                  column="out")
    _check_writable(args.out, "--out")
    if args.linearised:
        from teacher_student.linearised import write_linearised_results

        n_rows, n_runs = write_linearised_results(args.dir, args.out, progress=True)
        print(f"wrote {n_rows} runs with l_inf (the linearised network's test loss) to "
              f"{args.out}")
        return 0
    if args.predictions:
        from teacher_student.predictions import write_prediction_table

        n_rows, n_runs = write_prediction_table(args.dir, args.out)
    else:
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
    sres.add_argument("--predictions", action="store_true",
                      help="one row per run and probe example (a sweep with predictions = "
                           "\"float16\"), ready for scalelaw variance")
    sres.add_argument("--linearised", action="store_true",
                      help="one row per run plus l_inf: the test loss of each student's "
                           "linearised network trained like it from the same "
                           "initialisation (trains them), for scalelaw check --l-inf l_inf")
    sres.set_defaults(func=_cmd_sweep_results, needs_torch=False)

