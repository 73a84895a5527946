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


def _read(file: str) -> pd.DataFrame:
    if file.startswith("dataset:"):
        from scalelaw import datasets

        return datasets.load(file.split(":", 1)[1])
    from scalelaw.io import read_table

    return read_table(file)


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

    df = _apply_where(_read(args.file), args.where)
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
    result = sl.fit(args.law, df, **common)
    print(result.summary())
    if args.json:
        _write_json(result.to_dict(), args.json)
    if args.plot:
        from scalelaw.plotting import plot_fit

        plot_fit(result).savefig(args.plot, dpi=120)
    return 0


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
    p.add_argument("file")
    p.add_argument("--law", required=True,
                   help="power, saturating_power, chinchilla, kaplan, or a formula "
                   "such as 'E + A*n**(-alpha)' whose inputs are the --x columns")
    p.add_argument("--x", required=True, help="input column(s), comma-separated")
    p.add_argument("--y", required=True, help="target column")
    p.add_argument("--objective", default="huber_log",
                   choices=["huber_log", "mse_log", "mse"])
    p.add_argument("--delta", type=float, default=1e-3, help="Huber threshold")
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
    p.set_defaults(func=_cmd_fit)
    return parser


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
