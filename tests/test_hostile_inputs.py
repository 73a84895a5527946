"""Hostile and careless inputs: every command refuses them in one line, before any work.

The corpus is a table (:data:`CASES`): each row is a command line over files
generated in a temporary folder (:data:`FILES`), the exit status expected,
a pattern the message must match (it names the column, row, parameter or
path at fault) and the outputs that must not be left behind. The command
line runs in this process (``scalelaw.cli.main``), so the whole corpus costs
little more than the commands' own checks. To cover another command, add
its files to :data:`FILES` and its rows to :data:`CASES`.
"""

from __future__ import annotations

import importlib.util
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scalelaw.cli import main


# ------------------------------------------------------------------- files
def _runs(n: int = 8, **edits: tuple[int, object]) -> pd.DataFrame:
    """A clean table of runs (a falling loss), with ``column=(row, value)`` edits."""
    d = 2.0 ** np.arange(6, 6 + n)
    df = pd.DataFrame({"n_train": d, "n_params": 1e5, "n_tokens": 20 * d,
                       "loss": 3.0 * d**-0.5, "err": 0.5 * d**-0.2}).astype(object)
    for col, (row, value) in edits.items():
        df.loc[row, col] = value
    return df


def _csv(df: pd.DataFrame) -> str:
    return df.to_csv(index=False)


def _truncated_parquet(path: Path) -> bytes:
    buf = io.BytesIO()
    _runs().astype(float).to_parquet(buf, index=False)
    data = buf.getvalue()
    return data[: len(data) // 2]


def _fit_json(path: Path) -> str:
    """A real fit of two inputs (for forecast and plan), made once per test session."""
    out = path.parent / "_fit_source.json"
    if not out.exists():
        rc = main(["fit", "dataset:chinchilla_synthetic", "--law", "chinchilla", "--x",
                   "n_params,n_tokens", "--y", "loss", "--starts", "3", "--json", str(out)])
        assert rc == 0
    return out.read_text()


def _npy(make: Callable[[np.random.Generator], np.ndarray], keep: float = 1.0
         ) -> Callable[[Path], bytes]:
    """A ``.npy`` file of ``make(rng)`` (pickles allowed), cut to ``keep`` of its bytes."""
    def write(path: Path) -> bytes:
        buf = io.BytesIO()
        np.save(buf, make(np.random.default_rng(0)), allow_pickle=True)
        data = buf.getvalue()
        return data[: int(len(data) * keep)]
    return write


def _seed_runs(**edits: tuple[int, object]) -> str:
    """Outcomes of 20 seeds at 3 sizes (for lottery), with ``column=(row, value)`` edits."""
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"size": np.repeat([10, 20, 40], 20), "seed": np.tile(range(20), 3),
                       "loss": rng.normal(1, 0.1, 60)}).astype(object)
    for col, (row, value) in edits.items():
        df.loc[row, col] = value
    return _csv(df)


def _predictions(one_level: bool = False) -> str:
    """Crossed data x init predictions at 3 sizes (for variance)."""
    rng = np.random.default_rng(2)
    rows = [(s, d, 0 if one_level else i, e, rng.normal()) for s in (8, 16, 32)
            for d in range(3) for i in range(3) for e in range(5)]
    return _csv(pd.DataFrame(rows, columns=["size", "data_seed", "init_seed", "example",
                                            "prediction"]))


#: File name -> content (text, bytes, or a function of the file's path).
FILES: dict[str, str | bytes | Callable[[Path], str | bytes]] = {
    "empty.csv": "",
    "header_only.csv": "n_train,n_params,n_tokens,loss,err\n",
    "one_row.csv": _csv(_runs(1)),
    "nan.csv": _csv(_runs(loss=(3, np.nan))),
    "inf.csv": _csv(_runs(loss=(3, np.inf))),
    "text.csv": _csv(_runs(loss=(3, "diverged"))),
    "negative.csv": _csv(_runs(n_train=(3, -512))),
    "negative_loss.csv": _csv(_runs(loss=(3, -0.1))),
    "rising.csv": _csv(_runs().assign(loss=lambda t: 0.1 * t.n_train.astype(float) ** 0.3)),
    "duplicated.csv": _csv(pd.concat([_runs(), _runs()])),
    # sizes beyond the float range (they read as inf)
    "huge.csv": _csv(_runs()).replace("8192.0,", "8192" + "0" * 310 + ","),
    "bool_loss.csv": _csv(_runs().assign(loss=[True, False] * 4)),
    "complex.csv": _csv(_runs().assign(loss=lambda t: t.loss.astype(complex) + 1j)),
    "ragged.csv": _csv(_runs()) + "1,2,3,4,5,6,7,8\n",
    "truncated.parquet": _truncated_parquet,
    "points_text.csv": "n_params,n_tokens\n1e9,2e10\nbig,3e10\n",
    "fit.json": _fit_json,
    "fit_truncated.json": lambda p: _fit_json(p)[:200],
    "not_a_fit.json": json.dumps({"hello": 1}),
    "a_file": "not a folder\n",
    "bad_key.toml": 'task = "bahri-d4"\nwidths = [8]\nn_train = [64]\nseeds = [0]\nwidht = 3\n',
    "huge_width.toml": 'task = "bahri-d4"\nwidths = [1000000]\nn_train = [64]\nseeds = [0]\n',
    "huge_n.toml": 'task = "bahri-d4"\nwidths = [8]\nn_train = [10000000000]\nseeds = [0]\n',
    "broken.toml": 'task = "bahri-d4"\nwidths = [8\n',
    # points (id)
    "object.npy": _npy(lambda r: np.array([{"a": 1}], dtype=object)),
    "truncated.npy": _npy(lambda r: r.normal(size=(200, 3)), keep=0.3),
    "grid.npy": _npy(lambda r: np.stack(np.meshgrid(np.arange(20.0), np.arange(20.0)),
                                        -1).reshape(-1, 2)),
    "complex.npy": _npy(lambda r: r.normal(size=(50, 3)) + 1j),
    "points.npy": _npy(lambda r: r.normal(size=(200, 3))),
    # seed outcomes (lottery) and predictions (variance)
    "lottery.csv": _seed_runs(),
    "lottery_negative.csv": _seed_runs(size=(5, -10)),
    "predictions.csv": _predictions(),
    "predictions_one_level.csv": _predictions(one_level=True),
}


@dataclass(frozen=True)
class Case:
    """One hostile command line.

    Attributes
    ----------
    id : str
        ``command/kind`` (the kind: empty, header-only, one-row, nan, inf, text,
        negative, duplicated, huge, wrong-dtype, wrong-shape, truncated,
        unwritable, usage, ...).
    argv : str
        The arguments; ``{d}`` is the temporary folder holding :data:`FILES`.
    rc : int
        Expected exit status: 1 (data), 2 (usage), 0 (accepted with a warning).
    message : str
        Regular expression the standard error must match.
    outputs : tuple of str
        Paths (with ``{d}``) that must not exist afterwards.
    needs : str
        What the case needs, comma-separated: ``torch`` (a command that
        trains), ``proc`` (Linux's read-only ``/proc``); skipped without it.
    """

    id: str
    argv: str
    rc: int
    message: str
    outputs: tuple[str, ...] = ()
    needs: str = ""


FIT = "fit {d}/%s --law power --x n_train --y loss"
CHECK = "check {d}/%s --x n_train --y loss --regime resolution --dimension 4"
BACKTEST = "backtest {d}/%s --law power --x n_train --y loss --holdout-largest 2 --jobs 1"
LOTTERY = "lottery {d}/%s --value loss --size size --seed seed"
VARIANCE = ("variance {d}/%s --prediction prediction --factors data_seed,init_seed "
            "--example example --size size")
CHAIN = "chain {d}/%s --x n_params,n_tokens --via loss --y err --holdout-largest 2"

CASES: list[Case] = [
    # fit
    Case("fit/empty", FIT % "empty.csv", 1, r"empty\.csv.*(empty|no rows|no columns)"),
    Case("fit/header-only", FIT % "header_only.csv", 1, r"no rows"),
    Case("fit/one-row", FIT % "one_row.csv", 1, r"(distinct|constant|rows)"),
    Case("fit/nan", FIT % "nan.csv", 1, r"'loss'.*index 3.*(NaN|non-finite)"),
    Case("fit/inf", FIT % "inf.csv", 1, r"'loss'.*index 3.*(NaN|non-finite)"),
    Case("fit/text", FIT % "text.csv", 1, r"'loss'.*index 3: 'diverged'"),
    Case("fit/negative", FIT % "negative.csv", 1, r"'n_train'.*index 3.*<= 0"),
    Case("fit/huge", FIT % "huge.csv", 1, r"'n_train' has 1 row \(index 7: inf\).*non-finite"),
    Case("fit/duplicated", FIT % "duplicated.csv", 0, r"8 duplicate row\(s\)"),
    Case("fit/wrong-dtype", FIT % "bool_loss.csv", 1, r"'loss' is boolean"),
    Case("fit/complex", FIT % "complex.csv", 1, r"'loss'.*(complex|not numbers)"),
    Case("fit/wrong-shape", FIT % "ragged.csv", 1, r"ragged\.csv.*(line|fields|row)"),
    Case("fit/truncated", FIT % "truncated.parquet", 1, r"truncated\.parquet"),
    Case("fit/missing-file", FIT % "nowhere.csv", 1, r"nowhere\.csv"),
    Case("fit/misspelled-x", "fit {d}/nan.csv --law power --x n_trian --y loss", 1,
         r"'n_trian'.*Did you mean 'n_train'"),
    Case("fit/unwritable", FIT % "one_row.csv" + " --json {d}/a_file/out.json", 1,
         r"a_file/out\.json", ("{d}/a_file/out.json",)),
    Case("fit/where-code", FIT % "nan.csv" + " --where \"@pd.io.common.os.system('id')\"",
         1, r"where .*'@' \(a name outside the table\) is not allowed"),
    # check
    Case("check/empty", CHECK % "empty.csv", 1, r"empty\.csv.*(empty|no rows|no columns)"),
    Case("check/header-only", CHECK % "header_only.csv", 1, r"(no rows|No runs)"),
    Case("check/nan", CHECK % "nan.csv", 1, r"'loss' has 1 row \(index 3.*missing"),
    Case("check/inf", CHECK % "inf.csv", 1, r"'loss' has 1 row \(index 3.*infinite"),
    Case("check/text", CHECK % "text.csv", 1, r"'loss' has 1 row \(index 3: 'diverged'\)"),
    Case("check/negative", CHECK % "negative.csv", 1,
         r"'n_train' has 1 row \(index 3.*negative or zero"),
    Case("check/negative-loss", CHECK % "negative_loss.csv", 1,
         r"'loss' has 1 row \(index 3.*negative or zero"),
    Case("check/drop-invalid", CHECK % "negative.csv" + " --drop-invalid", 0,
         r"Excluded 1 of 8 runs: n_train: negative or zero"),
    Case("check/duplicated", CHECK % "duplicated.csv", 0, r"8 duplicate run\(s\)"),
    Case("check/huge", CHECK % "huge.csv", 1, r"'n_train' has 1 row \(index 7: inf\).*infinite"),
    Case("check/wrong-dtype", CHECK % "bool_loss.csv", 1, r"'loss' is boolean"),
    Case("check/complex", CHECK % "complex.csv", 1, r"'loss'.*(complex|text)"),
    Case("check/dimension-inf", CHECK.replace("4", "inf") % "nan.csv", 1,
         r"--dimension must be a finite positive number; got inf"),
    Case("check/window-order", CHECK % "nan.csv" + " --window 2048,64", 2,
         r"--window.*0 < LO < HI.*did you mean 64,2048"),
    Case("check/window-text", CHECK % "nan.csv" + " --window 64,many", 2, r"--window"),
    Case("check/unwritable", CHECK % "nan.csv" + " --json {d}/a_file/c.json", 1,
         r"a_file/c\.json", ("{d}/a_file/c.json",)),
    # forecast
    Case("forecast/text-at-file", "forecast {d}/fit.json --at-file {d}/points_text.csv", 1,
         r"'n_params' has 1 row \(index 1: 'big'\)"),
    Case("forecast/at-and-at-file",
         "forecast {d}/fit.json --at n_params=1e9,n_tokens=2e10 --at-file {d}/points_text.csv",
         2, r"--at or --at-file, not both"),
    Case("forecast/bad-at", "forecast {d}/fit.json --at n_params=big", 1, r"--at takes"),
    Case("forecast/truncated", "forecast {d}/fit_truncated.json --at n_params=1e9", 1,
         r"fit_truncated\.json"),
    Case("forecast/not-a-fit", "forecast {d}/not_a_fit.json --at n_params=1e9", 1,
         r"not_a_fit\.json"),
    Case("forecast/empty", "forecast {d}/empty.csv --at n_params=1e9", 1, r"empty\.csv"),
    Case("forecast/unwritable",
         "forecast {d}/fit.json --at n_params=1e9,n_tokens=2e10 --json {d}/a_file/f.json",
         1, r"a_file/f\.json", ("{d}/a_file/f.json",)),
    # backtest
    Case("backtest/misspelled-x", BACKTEST.replace("--x n_train", "--x n_trian") % "nan.csv",
         1, r"'n_trian'.*Did you mean 'n_train'"),
    Case("backtest/misspelled-y", BACKTEST.replace("--y loss", "--y los") % "nan.csv", 1,
         r"'los'.*Did you mean 'loss'"),
    Case("backtest/empty", BACKTEST % "empty.csv", 1, r"empty\.csv"),
    Case("backtest/holdout-zero", BACKTEST.replace("largest 2", "largest 0") % "nan.csv", 1,
         r"holdout_largest"),
    Case("backtest/unwritable", BACKTEST % "nan.csv" + " --json {d}/a_file/b.json", 1,
         r"a_file/b\.json", ("{d}/a_file/b.json",)),
    # chain
    Case("chain/empty", CHAIN % "empty.csv", 1, r"empty\.csv"),
    Case("chain/missing-column", CHAIN.replace("--y err", "--y acc") % "nan.csv", 1,
         r"'acc'"),
    Case("chain/unwritable", CHAIN % "nan.csv" + " --json {d}/a_file/ch.json", 1,
         r"a_file/ch\.json", ("{d}/a_file/ch.json",)),
    # plan
    Case("plan/both-targets",
         "plan {d}/fit.json --budget 1e21 --target-flops 1e22 --target n_params=1e9", 2,
         r"exactly one of --target-flops"),
    Case("plan/bad-target", "plan {d}/fit.json --budget 1e21 --target n_params=big", 1,
         r"--target takes"),
    Case("plan/truncated", "plan {d}/fit_truncated.json --budget 1e21 --target-flops 1e22", 1,
         r"fit_truncated\.json"),
    Case("plan/unwritable",
         "plan {d}/fit.json --budget 1e21 --target-flops 1e22 --json {d}/a_file/p.json", 1,
         r"a_file/p\.json", ("{d}/a_file/p.json",)),
    # sweep (refused before any training)
    Case("sweep/missing-config", "sweep run {d}/nowhere.toml --out {d}/sw", 1,
         r"nowhere\.toml", ("{d}/sw",), needs="torch"),
    Case("sweep/broken-config", "sweep run {d}/broken.toml --out {d}/sw", 1,
         r"broken\.toml", ("{d}/sw",), needs="torch"),
    Case("sweep/misspelled-key", "sweep run {d}/bad_key.toml --out {d}/sw", 1,
         r"'widht'.*Did you mean 'width", ("{d}/sw",), needs="torch"),
    Case("sweep/huge-width", "sweep run {d}/huge_width.toml --out {d}/sw", 1,
         r"width 1000000.*at least 14\.6 TiB.*reduce widths", ("{d}/sw",), needs="torch"),
    Case("sweep/huge-n-train", "sweep run {d}/huge_n.toml --out {d}/sw", 1,
         r"n_train 10000000000.*TiB.*reduce n_train", ("{d}/sw",), needs="torch"),
    Case("sweep/out-is-file", "sweep run {d}/huge_width.toml --out {d}/a_file", 1,
         r"--out '.*a_file' is a file", needs="torch"),
    Case("sweep/out-under-file", "sweep run {d}/huge_width.toml --out {d}/a_file/sw", 1,
         r"a_file/sw' cannot be created.*is a file", ("{d}/a_file/sw",), needs="torch"),
    Case("sweep/out-read-only", "sweep run {d}/huge_width.toml --out /proc/scalelaw-hostile", 1,
         r"'/proc/scalelaw-hostile' cannot be created: the folder '/proc' is not writable",
         ("/proc/scalelaw-hostile",), needs="torch,proc"),
    Case("sweep/results-read-only", "sweep results {d} --out /proc/scalelaw-hostile.csv", 1,
         r"'/proc/scalelaw-hostile\.csv' is not writable", ("/proc/scalelaw-hostile.csv",),
         needs="proc"),
    Case("sweep/results-missing", "sweep results {d}/nowhere --out {d}/r.csv", 1,
         r"nowhere", ("{d}/r.csv",)),
    Case("sweep/results-suffix", "sweep results {d} --out {d}/r.txt", 1,
         r"\.csv or \.parquet", ("{d}/r.txt",)),
    Case("sweep/results-unwritable", "sweep results {d} --out {d}/a_file/r.csv", 1,
         r"a_file/r\.csv", ("{d}/a_file/r.csv",)),
    Case("sweep/status-missing", "sweep status {d}/nowhere", 1, r"nowhere"),
    # demo: argument-level refusals only (a valid call trains)
    Case("demo/out-is-file", "demo --out {d}/a_file", 1, r"--out '.*a_file' is a file",
         needs="torch"),
    Case("demo/out-under-file", "demo --out {d}/a_file/demo", 1,
         r"a_file/demo' cannot be created", ("{d}/a_file/demo",), needs="torch"),
    Case("demo/bad-scale", "demo --scale huge --out {d}/demo", 2, r"invalid choice: 'huge'",
         ("{d}/demo",), needs="torch"),
    Case("reproduce/out-is-file", "reproduce bahri --out {d}/a_file", 1,
         r"--out '.*a_file' is a file", needs="torch"),
    # id
    Case("id/object", "id {d}/object.npy", 1, r"object\.npy.*Python objects.*never loaded"),
    Case("id/truncated", "id {d}/truncated.npy", 1, r"truncated\.npy.*truncated"),
    Case("id/empty", "id {d}/empty.csv", 1, r"empty\.csv.*is empty"),
    Case("id/ties", "id {d}/grid.npy", 1, r"grid\.npy: 400 of 400 distinct points"),
    Case("id/complex", "id {d}/complex.npy", 1, r"complex\.npy.*complex numbers"),
    Case("id/retired-method", "id {d}/points.npy --method lpca", 2, r"--method lpca"),
    Case("id/unwritable", "id {d}/points.npy --json {d}/a_file/i.json", 1,
         r"a_file/i\.json", ("{d}/a_file/i.json",)),
    # lottery
    Case("lottery/negative", LOTTERY % "lottery_negative.csv", 1,
         r"size: row 5 has size -10; a model size must be positive"),
    Case("lottery/n-test-zero", LOTTERY % "lottery.csv" + " --n-test 0", 2, r"--n-test"),
    Case("lottery/empty", "lottery {d}/empty.csv --value loss", 1, r"empty\.csv.*is empty"),
    # variance
    Case("variance/one-level", VARIANCE % "predictions_one_level.csv", 1,
         r"factor 'init_seed' has 1 level"),
    Case("variance/repeated-factor",
         VARIANCE.replace("data_seed,init_seed", "data_seed,data_seed") % "predictions.csv",
         2, r"--factors"),
    Case("variance/negative-threshold", VARIANCE % "predictions.csv" + " --threshold -1", 2,
         r"--threshold"),
    Case("variance/empty", VARIANCE % "empty.csv", 1, r"empty\.csv.*is empty"),
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("hostile")
    for name, content in FILES.items():
        path = d / name
        value = content(path) if callable(content) else content
        if isinstance(value, bytes):
            path.write_bytes(value)
        else:
            path.write_text(value)
    return d


def _argv(text: str, d: Path) -> list[str]:
    import shlex

    return shlex.split(text.replace("{d}", str(d)))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input_is_refused_in_one_line(case: Case, corpus: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    if "torch" in case.needs and importlib.util.find_spec("torch") is None:
        pytest.skip("the command trains students: needs PyTorch")
    if "proc" in case.needs and not Path("/proc/self").is_dir():
        pytest.skip("needs Linux's read-only /proc")
    before = {p.name for p in corpus.iterdir()}
    try:
        rc = main(_argv(case.argv, corpus))
    except SystemExit as exc:  # argparse's own usage errors
        rc = exc.code
    out, err = capsys.readouterr()
    assert "Traceback" not in err + out, err
    assert rc == case.rc, f"exit {rc}, expected {case.rc}: {err}"
    assert re.search(case.message, err, flags=re.S | re.M), err
    if rc:
        errors = [ln for ln in err.splitlines() if re.match(r"scalelaw( \w+)*: error:", ln)]
        assert len(errors) == 1 and not out.strip(), (out, err)
    for path in case.outputs:
        assert not Path(path.replace("{d}", str(corpus))).exists(), path
    assert {p.name for p in corpus.iterdir()} <= before | {"_fit_source.json"}


#: Tables a check cannot judge: it says why (standard output), exit 0, no exponent shown.
INCONCLUSIVE = [
    ("rising.csv", r"inconclusive: no exponent could be fitted: loss does not fall with "
                   r"n_train .*log-log slope \+0\.3"),
    ("one_row.csv", r"inconclusive: no exponent could be fitted: Only 1 size\(s\)"),
]


@pytest.mark.parametrize(("name", "reason"), INCONCLUSIVE, ids=[n for n, _ in INCONCLUSIVE])
def test_a_check_that_cannot_judge_says_why(name: str, reason: str, corpus: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(_argv(CHECK % name, corpus))
    out, err = capsys.readouterr()
    assert rc == 0 and "Traceback" not in err
    assert re.search(reason, out), out
    assert "alpha = " not in out
