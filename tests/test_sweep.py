"""Sweeps: config checks, results table, resume after SIGKILL, Dask, CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")

from scalelaw.cli import main
from scalelaw.exceptions import ScaleLawError
from teacher_student.sweep import (
    MAX_PADDING,
    SweepConfig,
    load_weights,
    plan_groups,
    run_sweep,
    sweep_results,
    sweep_status,
)
from teacher_student.tasks import TaskConfigError

SMALL = """
task = "bahri-d4"
widths = [8, 16, 32]
depths = [2]
n_train = [128, 512]
seeds = [0, 1]
data_seeds = [0]
steps = 300
lr = 3e-3
batch_size = 0
n_test = 1000
eval_steps = 5
"""


def _cfg(text=SMALL, **extra):
    import tomllib

    d = tomllib.loads(text)
    d.update(extra)
    return SweepConfig.from_dict(d)


def test_cli_sweep_small_config_and_tidy_results(tmp_path, capsys):
    cfg = tmp_path / "sweep.toml"
    cfg.write_text(SMALL)
    out = tmp_path / "out"
    t0 = time.perf_counter()
    assert main(["sweep", "run", str(cfg), "--out", str(out), "--device", "cpu",
                 "--no-progress"]) == 0
    assert time.perf_counter() - t0 < 60  # issue 5: a small sweep within a minute on CPU
    assert "12 trained now" in capsys.readouterr().out
    assert main(["sweep", "status", str(out)]) == 0
    assert "12 of 12 runs finished (ok 12); 0 remaining" in capsys.readouterr().out
    res = tmp_path / "r.parquet"
    assert main(["sweep", "results", str(out), "--out", str(res)]) == 0
    df = pd.read_parquet(res)
    for col in ("run_id", "task", "width", "depth", "n_params", "n_train", "seed", "data_seed",
                "step", "split", "metric", "value", "status", "wall_time_s",
                "version_torch", "version_scalelaw"):
        assert col in df.columns
    assert df.run_id.nunique() == 12
    assert set(df.split) == {"train", "test"}
    # what the runs ran on (numerics differ between CPUs): the CPU model (as
    # /proc/cpuinfo names it, where there is one) and the CPU count
    assert df.hardware.nunique() == 1
    hw = df.hardware.iloc[0]
    assert hw.endswith(f", {os.cpu_count()} CPUs") and len(hw) > len(", 1 CPUs")
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [ln.split(":", 1)[1].strip() for ln in cpuinfo.read_text().splitlines()
                 if ln.startswith("model name")]
        if names:
            assert hw == f"{names[0]}, {os.cpu_count()} CPUs"
    final = df[(df.step == 300) & (df.split == "test")]
    assert len(final) == 12 and (final.value > 0).all()
    assert (df.n_params == df.width**2 + 7 * df.width + 1).all()  # [4, w, w, 1]
    # more data helps at every width (same seeds, nested data)
    piv = final.groupby(["width", "n_train"]).value.mean().unstack()
    assert (piv[512] < piv[128]).all()
    csv = tmp_path / "r.csv"
    assert main(["sweep", "results", str(out), "--out", str(csv)]) == 0
    assert len(pd.read_csv(csv)) == len(df)
    # the long table cannot be reduced to "final" without choosing a metric ...
    capsys.readouterr()
    assert main(["fit", str(csv), "--law", "power", "--x", "n_train", "--y", "value",
                 "--reduce", "final", "--run", "run_id", "--step", "step"]) == 1
    err = capsys.readouterr().err
    assert "'final' is ambiguous" in err and "--where" in err and "--final" in err
    # ... with --where (applied before the reduction) it keeps each run's final test loss
    fit_json = tmp_path / "fit.json"
    assert main(["fit", str(csv), "--law", "power", "--x", "n_train", "--y", "value",
                 "--reduce", "final", "--run", "run_id", "--step", "step", "--where",
                 "split == 'test' and metric == 'loss'", "--json", str(fit_json)]) == 0
    assert "reduce: final" in capsys.readouterr().err
    assert json.loads(fit_json.read_text())["n_obs"] == 12
    # one row per run, ready to fit with the sizes as columns
    fin = tmp_path / "final.csv"
    assert main(["sweep", "results", str(out), "--final", "--out", str(fin)]) == 0
    table = pd.read_csv(fin)
    assert len(table) == 12 and table.run_id.is_unique
    merged = table.merge(final[["run_id", "value"]], on="run_id")
    np.testing.assert_allclose(merged.test_loss, merged.value)  # the test loss, not train
    assert main(["fit", str(fin), "--law", "power", "--x", "n_train", "--y", "test_loss",
                 "--group", "width"]) == 0


def test_rerun_with_other_training_settings_is_refused(tmp_path):
    out = tmp_path / "o"
    run_sweep(_cfg(widths=[8], n_train=[64], seeds=[0], steps=20), out, device="cpu",
              progress=False)
    with pytest.raises(TaskConfigError, match=r"other training settings \(steps: 20 -> 21\)"):
        run_sweep(_cfg(widths=[8], n_train=[64], seeds=[0], steps=21), out, device="cpu",
                  progress=False)


def test_sweeps_grow_in_place(tmp_path):
    # more seeds, sizes and widths into the same store: only the new runs train,
    # and the old runs' files are untouched
    out = tmp_path / "o"
    small = _cfg(widths=[8], n_train=[64], seeds=[0], steps=20)
    first = run_sweep(small, out, device="cpu", progress=False)
    assert first.n_trained == 1
    before = {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.parquet")}
    grown = _cfg(widths=[8, 16], n_train=[64, 128], seeds=[0, 1], steps=20)
    second = run_sweep(grown, out, device="cpu", progress=False)
    assert (second.n_total, second.n_skipped, second.n_trained) == (8, 1, 7)
    after = {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.parquet")}
    assert all(after[k] == v for k, v in before.items()) and len(after) == 8
    assert sweep_status(out)["remaining"] == 0
    # the same run is the same run whichever config asked for it
    assert small.run_id(small.runs()[0]) == grown.run_id(grown.runs()[0])


def test_padding_is_capped_when_sizes_share_a_population():
    # full batch, width 8: D = 1,024 ... 8,192 would fit one population by FLOPs,
    # but padding everyone to 8,192 rows would be 2.1x the real rows
    cfg = _cfg(widths=[8], n_train=[1024, 2048, 4096, 8192], seeds=[0, 1], steps=20)
    groups = plan_groups(cfg, cfg.runs(), "cpu")
    for g in groups:
        real = sum(s.n_train for s in g)
        assert len(g) * max(s.n_train for s in g) <= MAX_PADDING * real
    assert sum(len(g) for g in groups) == 8 and len(groups) >= 3


def test_keep_weights_stores_each_runs_final_weights(tmp_path):
    from teacher_student.population import init_weights

    out = tmp_path / "w"
    cfg = _cfg(widths=[8], n_train=[64], seeds=[0, 1], steps=20, keep_weights=True)
    run_sweep(cfg, out, device="cpu", progress=False)
    spec = cfg.runs()[1]
    w = load_weights(out, cfg.run_id(spec))
    start = init_weights(spec, cfg.task.ambient_dim, 1, cfg.train)
    assert [a.shape for a in w] == [a.shape for a in start]
    assert not np.allclose(w[0], start[0])  # trained, not the initial weights
    with pytest.raises(TaskConfigError, match="keep_weights"):
        load_weights(tmp_path / "o", "nope")


def _slow_sweep(tmp_path):
    """A sweep of 24 runs in 4 populations of 6 (widths 256 and 320, n 128 and
    512), one thread: results land population by population over seconds."""
    cfg = tmp_path / "s.toml"
    cfg.write_text(SMALL.replace("widths = [8, 16, 32]", "widths = [256, 320]")
                   .replace("seeds = [0, 1]", "seeds = [0, 1, 2, 3, 4, 5]")
                   .replace("steps = 300", "steps = 150"))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "scalelaw.cli", "sweep", "run", str(cfg), "--out", str(out),
           "--device", "cpu", "--no-progress", "--threads", "1"]
    return out, cmd


def _wait_for_runs(runs, k):
    deadline = time.time() + 120
    while time.time() < deadline:
        if runs.is_dir() and len(list(runs.glob("*.parquet"))) >= k:
            return
        time.sleep(0.05)
    pytest.fail(f"fewer than {k} runs finished within 120 s")


def test_resume_after_sigkill_loses_and_repeats_nothing(tmp_path):
    out, cmd = _slow_sweep(tmp_path)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    runs = out / "runs"
    _wait_for_runs(runs, 3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {p.name: p.read_bytes() for p in runs.glob("*.parquet")}
    assert 3 <= len(before) < 24, len(before)
    st = sweep_status(out)
    assert st["finished"] == len(before) and st["remaining"] == 24 - len(before)
    rc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert rc.returncode == 0, rc.stderr
    assert f"{len(before)} already done" in rc.stdout
    after = {p.name: p.read_bytes() for p in runs.glob("*.parquet")}
    assert len(after) == 24
    for name, data in before.items():  # finished runs were neither lost nor redone
        assert after[name] == data
    assert not list(runs.glob(".*.tmp"))
    table = sweep_results(out)
    assert table.run_id.nunique() == 24


def test_grouping_by_cost_on_cpu():
    cfg = _cfg(widths=[8, 1024], n_train=[128, 16384], seeds=[0, 1])
    groups = plan_groups(cfg, cfg.runs(), "cpu")
    sizes = {(g[0].width, tuple(sorted({s.n_train for s in g}))): len(g) for g in groups}
    # overhead-bound, but padding 128-row runs to 16,384 rows would double the work
    assert sizes[(8, (128,))] == 2 and sizes[(8, (16384,))] == 2
    assert sizes[(1024, (16384,))] == 1  # 1e11 FLOP per model-step: compute-bound, solo
    assert sizes[(1024, (128,))] == 2  # 8e8: still stacked (both seeds)
    gpu = plan_groups(cfg, cfg.runs(), "cuda")
    assert max(len(g) for g in gpu) >= 2 and all(len({s.width for s in g}) == 1 for g in gpu)


def test_cpu_populations_are_halved_until_their_activations_fit():
    # sweep.CPU_MAX_ACTIVATION_BYTES = 48 MiB per hidden layer: width 256 x
    # n 16,384 x 4 bytes = 16.8 MB per model, so 8 models (134 MB) become four
    # pairs (33.5 MB); in float64 a pair is 67 MB, so each model trains alone.
    # Width 64 at the same size (33.5 MB for 8) stays one population.
    from teacher_student.sweep import CPU_MAX_ACTIVATION_BYTES

    assert CPU_MAX_ACTIVATION_BYTES == 48 * 2**20
    seeds = list(range(8))
    cfg = _cfg(widths=[64, 256], n_train=[16384], seeds=seeds)
    sizes = sorted((g[0].width, len(g)) for g in plan_groups(cfg, cfg.runs(), "cpu"))
    assert sizes == [(64, 8)] + [(256, 2)] * 4
    cfg64 = _cfg(widths=[256], n_train=[16384], seeds=seeds, dtype="float64")
    assert [len(g) for g in plan_groups(cfg64, cfg64.runs(), "cpu")] == [1] * 8
    # every run is planned exactly once, and the GPU plan is not split
    assert sorted(s.seed for g in plan_groups(cfg, cfg.runs(), "cpu") for s in g
                  if s.width == 256) == seeds
    assert [len(g) for g in plan_groups(cfg, cfg.runs(), "cuda") if g[0].width == 256] == [8]


def test_dask_local_cluster_gives_the_same_results(tmp_path):
    distributed = pytest.importorskip("distributed")
    cfg = _cfg(widths=[8, 16], n_train=[64], seeds=[0, 1], steps=40)
    run_sweep(cfg, tmp_path / "local", device="cpu", progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        rep = run_sweep(cfg, tmp_path / "dask", device="cpu", scheduler=cluster.scheduler_address,
                        progress=False)
    assert rep.n_trained == 4
    a = sweep_results(tmp_path / "local").sort_values(["run_id", "step", "split"])
    b = sweep_results(tmp_path / "dask").sort_values(["run_id", "step", "split"])
    assert a.value.tolist() == b.value.tolist()


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"widhts": [8]}, "Did you mean 'widths'"),
        ({"widths": []}, "non-empty list"),
        ({"widths": [8, 8]}, "repeats"),
        ({"lr": -1.0}, "'lr'"),
        ({"task": "bahri-d44"}, "Did you mean 'bahri-d4'"),
        ({"lrs": [0.1, -2]}, "'lrs'"),
        ({"noise_seeds": 3}, "'noise_seeds' must be a non-empty list of ints"),
        ({"noise_seeds": ["a"]}, "'noise_seeds' must be a non-empty list of ints"),
        ({"noise_seeds": [-1]}, "'noise_seeds'"),
    ],
)
def test_bad_sweep_configs(change, match):
    import tomllib

    d = tomllib.loads(SMALL)
    d.update(change)
    if "widhts" in change:
        d.pop("widths")
    with pytest.raises(TaskConfigError, match=match) as exc:
        SweepConfig.from_dict(d)
    assert isinstance(exc.value, ScaleLawError)  # one hierarchy: the CLI's one line


def test_cli_sweep_errors(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(SMALL + "\nstepz = 3\n")
    assert main(["sweep", "run", str(bad), "--out", str(tmp_path / "x")]) == 1
    assert "Did you mean 'steps'" in capsys.readouterr().err
    assert main(["sweep", "status", str(tmp_path)]) == 1
    assert "not a sweep directory" in capsys.readouterr().err
    assert not Path(tmp_path / "x").exists() or not list((tmp_path / "x").glob("runs/*"))


def test_ctrl_c_stops_cleanly_and_keeps_finished_runs(tmp_path):
    out, cmd = _slow_sweep(tmp_path)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    runs = out / "runs"
    _wait_for_runs(runs, 2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "rerun the same command to resume" in err
    assert not list(runs.glob(".*.tmp"))
    n = len(list(runs.glob("*.parquet")))
    assert 2 <= n < 24
    assert sweep_status(out)["finished"] == n


def test_an_interrupt_during_a_write_waits_for_the_whole_population(tmp_path, monkeypatch):
    from teacher_student import store as sweep_mod

    frame = pd.DataFrame({"a": [1.0, 2.0]})
    written = []
    # the handler found on entry (Python's default; SIG_IGN when the suite itself was
    # started in the background by a non-interactive shell) must be put back
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt), sweep_mod._interrupts_deferred():
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C in the middle of the writes
        for k in range(3):
            sweep_mod._atomic_write(frame, tmp_path / f"r{k}.parquet")
            written.append(k)
    assert written == [0, 1, 2]  # every file of the population, then the interrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r0.parquet", "r1.parquet",
                                                          "r2.parquet"]
    assert signal.getsignal(signal.SIGINT) is before  # restored

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(sweep_mod.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        sweep_mod._atomic_write(frame, tmp_path / "r3.parquet")
    assert not list(tmp_path.glob(".*.tmp"))  # no half-written file is left behind
