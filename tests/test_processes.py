"""Processes: a study's lanes die with it; two sweeps never write one store at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytest.importorskip("torch")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited


def _lanes_of(out: Path) -> list[int]:
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"scalelaw.experiments._worker" in cmd and any(str(out).encode() in c
                                                              for c in cmd):
                pids.append(int(d.name))
    return pids


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to find the lanes")
def test_killing_the_demo_ends_its_lanes(tmp_path):
    out = tmp_path / "demo"
    demo = subprocess.Popen([sys.executable, "-m", "scalelaw", "demo", "--out", str(out),
                             "--lanes", "2"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(_lanes_of(out)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        lanes = _lanes_of(out)
        assert len(lanes) == 2, "the demo started no lanes within 60 s"
        demo.send_signal(signal.SIGKILL)
        demo.wait()
        # the watchdog polls every 0.5 s; an interrupted lane saves its finished runs
        # and exits within seconds (30 s is the grace period before it is ended)
        deadline = time.monotonic() + 40
        while any(_alive(p) for p in lanes) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [p for p in lanes if _alive(p)], "lanes outlived the killed demo"
    finally:
        for p in _lanes_of(out):
            os.kill(p, signal.SIGKILL)
        if demo.poll() is None:
            demo.kill()


def test_watchdog_interrupts_an_orphan_so_it_can_save(tmp_path):
    # a child that saves on KeyboardInterrupt, watched by the lanes' watchdog; its
    # parent is killed with SIGKILL (no chance to signal anyone)
    saved, ready = tmp_path / "saved", tmp_path / "ready"
    child = textwrap.dedent(f"""
        import os, signal, sys, time
        from scalelaw.experiments._worker import watch_parent
        signal.signal(signal.SIGINT, signal.default_int_handler)
        watch_parent(int(sys.argv[1]), poll_s=0.05, grace_s=5)
        open({str(ready)!r}, "w").write("ready")
        try:
            time.sleep(60)
        except KeyboardInterrupt:
            open({str(saved)!r}, "w").write("saved")
    """)
    parent = textwrap.dedent(f"""
        import os, subprocess, sys, time
        p = subprocess.Popen([sys.executable, "-c", {child!r}, str(os.getpid())])
        print(p.pid, flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", parent], stdout=subprocess.PIPE, text=True)
    child_pid = int(proc.stdout.readline())
    deadline = time.monotonic() + 60  # the child imports scalelaw and starts its watchdog
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 10
    while _alive(child_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child_pid)
    assert saved.read_text() == "saved"


def test_a_second_sweep_on_a_locked_store_is_refused(tmp_path, capsys):
    from scalelaw.cli import main
    from teacher_student.store import lock_store

    cfg = tmp_path / "sweep.toml"
    cfg.write_text('task = "bahri-d4"\nwidths = [4]\ndepths = [1]\nn_train = [32]\n'
                   'seeds = [0]\nsteps = 5\nn_test = 100\neval_steps = 5\n')
    out = tmp_path / "store"
    # another process holds the lock: the holder is a subprocess that keeps it open
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from teacher_student.store import lock_store
        with lock_store(Path({str(out)!r})):
            print("locked", flush=True)
            time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        rc = main(["sweep", "run", str(cfg), "--out", str(out), "--no-progress"])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 1 and len(err) == 1
        assert f"process {holder.pid}" in err[0] and "another sweep run" in err[0]
        assert not list((out / "runs").glob("*.parquet")) if (out / "runs").is_dir() else True
    finally:
        holder.kill()
        holder.wait()
    # the holder is gone (killed): its lock went with it, and the sweep runs
    with lock_store(out):
        pass
    rc = main(["sweep", "run", str(cfg), "--out", str(out), "--no-progress"])
    assert rc == 0 and len(list((out / "runs").glob("*.parquet"))) == 1
