"""Helpers shared by the sub-commands: reading inputs, checking outputs, writing JSON."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from scalelaw.exceptions import DataValidationError
from scalelaw.results import to_jsonable


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
    """Read FILE with the input options; ``--x N,FLOPS`` becomes ``N,TOKENS`` (C = 6ND)."""
    from scalelaw.io import read_runs

    df = read_runs(
        args.file, format=getattr(args, "format", None),
        columns=_mapping(getattr(args, "map", None), "--map"),
        run=getattr(args, "run", None), step=getattr(args, "step", None),
        y=getattr(args, "y", None), reduce=getattr(args, "reduce", None),
        where=getattr(args, "where", None),
        json_fields=_mapping(getattr(args, "json_path", None), "--json-path") or None,
        record_path=getattr(args, "record_path", None),
    )
    df = _compute_inputs(df, args)
    if "where" in df.attrs:
        print(f"where: {df.attrs['where']}", file=sys.stderr)
    if "reduction" in df.attrs:
        print(f"reduce: {df.attrs['reduction']}", file=sys.stderr)
    if df.attrs.get("dropped_columns"):
        print(f"read: dropped {df.attrs['dropped_columns']} __MIN/__MAX band column(s) of "
              "the W&B export", file=sys.stderr)
    return df


def _compute_inputs(df: pd.DataFrame, args: argparse.Namespace) -> pd.DataFrame:
    """Two --x columns whose second is training compute: derive tokens, D = C / (6 N)."""
    from scalelaw.io import looks_like_compute, tokens_from_compute

    xs = _split(getattr(args, "x", None) or "")
    if len(xs) != 2 or not looks_like_compute(xs[1]) or xs[1] not in df.columns:
        return df
    name = "n_tokens" if "n_tokens" not in df.columns else f"n_tokens_from_{xs[1]}"
    attrs = dict(df.attrs)
    out = tokens_from_compute(df, n_params=xs[0], flops=xs[1], name=name,
                              flops_per_param_token=getattr(args, "flops_per_param_token",
                                                            6.0))
    print(f"inputs: {out.attrs['derived']}; --x read as {xs[0]},{name}", file=sys.stderr)
    args.x = f"{xs[0]},{name}"
    out.attrs.update(attrs, derived=out.attrs["derived"])
    return out


def _add_input_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("reading logs")
    g.add_argument("--format", default=None, choices=["table", "wandb", "tensorboard", "json"],
                   help="input format (default: from the path and columns; a folder of "
                   "*.json files or a .json file is read as nested JSON run files)")
    g.add_argument("--json-path", default=None, metavar="PATH=COL,...",
                   help="nested JSON runs: keep these fields by dotted path, list positions "
                   "as numbers, e.g. 'hyperparameters.params=n_params,results.1.loss=loss'")
    g.add_argument("--record-path", default=None, metavar="PATH",
                   help="nested JSON runs: one row per entry of this list in each run")
    g.add_argument("--map", default=None, metavar="THEIRS=OURS,...",
                   help="rename columns before use, e.g. 'val/loss=loss,N=n_params'")
    g.add_argument("--reduce", default=None, choices=["final", "best"],
                   help="learning-curve logs: keep each run's final (largest --step) or "
                   "best (lowest --y) row")
    g.add_argument("--run", default=None, metavar="COL",
                   help="run column (for --reduce, and for the learning-curve filters)")
    g.add_argument("--step", default=None, metavar="COL", help="step column for --reduce")
    g.add_argument("--where", default=None,
                   help="row filter applied before --reduce, such as \"split == 'test' "
                   "and n_params > 1e6\" (columns, literals, comparisons, in, and/or/not, "
                   "+ - * /; no code runs)")


def _can_create_in(folder: Path) -> bool:
    """Whether a file can be created in ``folder`` (tried: permissions, read-only file
    systems, quotas on creation); the trial file is removed."""
    if not os.access(folder, os.W_OK | os.X_OK):
        return False
    try:
        fd, name = tempfile.mkstemp(prefix=".scalelaw-write-test-", dir=folder)
    except OSError:
        return False
    os.close(fd)
    os.unlink(name)
    return True


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
        what = "is a file, not a folder" if parent.exists() else "does not exist"
        raise DataValidationError(
            f"{option} {target!r}: the folder {str(parent)!r} {what}.", column=option)
    if (p.exists() and not os.access(p, os.W_OK)) or not _can_create_in(parent):
        raise DataValidationError(f"{option} {target!r} is not writable.", column=option)


def _check_out_dir(target: str, option: str = "--out") -> Path:
    """Fail before any work when an output folder cannot be used or created.

    The folder may exist (it must be a writable folder) or not (its nearest
    existing ancestor must be a writable folder: it is created later, when the
    work starts). Nothing is created here.
    """
    p = Path(target)
    if p.exists():
        if not p.is_dir():
            raise DataValidationError(f"{option} {target!r} is a file; give a folder.",
                                      column=option)
        if not _can_create_in(p):
            raise DataValidationError(f"{option} {target!r}: the folder is not writable.",
                                      column=option)
        return p
    ancestor = p.absolute().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise DataValidationError(f"{option} {target!r} cannot be created: {str(ancestor)!r} "
                                  "is a file, not a folder.", column=option)
    if not _can_create_in(ancestor):
        raise DataValidationError(f"{option} {target!r} cannot be created: the folder "
                                  f"{str(ancestor)!r} is not writable.", column=option)
    return p


def _write_json(obj: Any, target: str) -> None:
    text = json.dumps(to_jsonable(obj), indent=2)
    if target == "-":
        print(text)
    else:
        Path(target).write_text(text + "\n")

