"""The main job, reduced: ``scalelaw demo --scale test`` end to end, then resumed."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")

from scalelaw.cli import main
from scalelaw.experiments import study

CHECK_KEYS = {"group", "regime", "alpha", "alpha_ci", "predicted_alpha", "dimension",
              "verdict", "window", "reason"}


def test_demo_writes_report_summary_and_plots_and_resumes(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--scale", "test", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "verdict" in printed and "report:" in printed
    summary = json.loads((out / "summary.json").read_text())
    checks = summary["checks"]
    # four sweeps at this scale (d = 2, 4, 6 data scaling; width-8 variance) + four
    # random-feature regimes (the default scale leaves d = 6 to `reproduce bahri`)
    assert len(checks) == 8
    for c in checks:
        assert set(c) >= CHECK_KEYS
        assert c["verdict"] in ("consistent", "inconsistent", "inconclusive")
    assert set(summary["task"]) == {s.name for s in study("demo", "test").sweeps}
    assert summary["versions"]["scalelaw"] and summary["scale"] == "test"
    # the NTK-spectrum section reads the d = 4 sweep: its measured exponent lies in that
    # sweep's check interval, and the kernel's predictions are finite positive exponents
    spec = summary["spectral"]
    d4 = next(c for c in checks if c["group"].startswith("bahri-d4,"))
    lo, hi = d4["alpha_ci"]
    assert lo <= spec["measured"]["alpha"] <= hi
    assert 0 < spec["init"]["predicted_alpha"] < 10 and 0 < spec["trained"]["predicted_alpha"] < 10
    assert (out / "spectrum.png").exists()
    # the exactly solvable model reads its own exponents even at the smallest scale:
    # resolution-limited alpha within 20 % of alpha_K (the pool is 1,500 inputs),
    # variance-limited in width within 0.25 of 1 (one draw)
    rf = {c["group"]: c for c in checks if c["group"].startswith("random features")}
    assert len(rf) == 4
    res_p = rf["random features: L(inf, P) vs P"]
    assert res_p["alpha"] == pytest.approx(summary["alpha_K"], rel=0.2)
    var_p = next(c for g, c in rf.items() if g.endswith("vs P") and c["regime"] == "variance")
    assert var_p["alpha"] == pytest.approx(1.0, abs=0.25)
    # intrinsic dimensions measured on the data and on the students' last layer:
    # TwoNN on 2,000 points of a 2-cube reads 2 within 10 % (science notes 3.3)
    d2 = next(c for c in checks if c["group"].startswith("bahri-d2"))
    assert d2["details"]["data_id"]["dimension"] == pytest.approx(2.0, rel=0.1)
    # a ReLU network maps the 2-d data to a 2-d (piecewise-linear) manifold
    assert d2["details"]["representation_id"]["dimension"] == pytest.approx(2.0, rel=0.2)
    for name in ("report.html", "report.md", "loss_vs_D.png", "loss_vs_P.png",
                 "four_over_alpha.png", "variance_limited.png"):
        assert (out / name).stat().st_size > 1000, name
    assert "<img" in (out / "report.html").read_text()
    # every verdict states its question, margin and numbers, with the papers' values of
    # the same quantity beside ours: Bahri et al. Fig. 2a's alpha_D / alpha_K over its 8
    # pool sizes run from 1.22/1.25 to 0.76/0.60 (legend values, science notes 2.3)
    verdicts = summary["verdicts"]
    assert len(verdicts) == sum(len(c["questions"]) for c in checks)
    rfv = next(v for v in verdicts if v["check"] == "random features: L(D, inf) vs D")
    assert rfv["kind"] == "exact" and rfv["tolerance"] == 0.2 and rfv["band"] == [0.8, 1.2]
    fig2a = rfv["papers"][0]
    assert fig2a["source"] == "Bahri et al. (2021) Fig. 2a"
    assert fig2a["value"] == pytest.approx([1.22 / 1.25, 0.76 / 0.60])
    for v in verdicts:  # Fig. 1b beside every question on 4/(alpha d): 4/alpha_D / d
        if v["kind"] in ("bound", "estimate") and v["check"].startswith("bahri-d"):
            d = int(v["check"][7])
            b = next(p for p in v["papers"] if p["source"] == "Bahri et al. (2021) Fig. 1b")
            assert b["value"][0] == pytest.approx({2: 3.3, 4: 5.4, 6: 6.6}[d] / d)
    assert "## Verdicts: each question" in (out / "report.md").read_text()
    assert set(summary["phase_seconds"]) >= {"lanes", "random_features", "seeds"}
    # the seed section: random-features double descent (n = 120) at widths 60, 120, 240;
    # the variance of min-norm least squares diverges at m = n, so its peak is there
    seeds = summary["seeds"]
    assert seeds["peak_width"] == 120 and "seeds (random-features" in printed
    lot = {g["size"]: g for g in seeds["lottery"]["groups"]}
    assert sorted(lot) == [60, 120, 240] and all(g["n_runs"] == 60 for g in lot.values())
    assert lot[120]["xi_upper"] > lot[60]["xi_upper"]  # xi = 2 in theory at m = n
    for name in ("seeds_variance.png", "seeds_lottery.png"):
        assert (out / name).stat().st_size > 1000, name
    assert "## Seeds: variance components and lotteries" in (out / "report.md").read_text()
    # a rerun resumes: no run is trained again
    runs = sorted((out / "sweeps").glob("*/runs/*.parquet"))
    before = {p: p.stat().st_mtime_ns for p in runs}
    assert main(["demo", "--scale", "test", "--out", str(out), "--no-progress"]) == 0
    assert {p: p.stat().st_mtime_ns for p in runs} == before
    assert json.loads((out / "summary.json").read_text())["checks"][0]["alpha"] == \
        checks[0]["alpha"]


def test_demo_refuses_a_file_as_output(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["demo", "--scale", "test", "--out", str(f)]) == 1
    assert "is a file" in capsys.readouterr().err


def test_every_study_builds_valid_sweep_configs():
    from teacher_student.sweep import SweepConfig

    for name in ("demo", "bahri", "sharma-kaplan"):
        for scale in ("test", "demo", "quick", "paper"):
            for s in study(name, scale).sweeps:
                cfg = SweepConfig.from_dict(s.config)
                assert len(cfg.runs()) > 0 and s.kind in ("resolution_D", "variance_D",
                                                           "resolution_P")
