"""The demo's spectral section, on a tiny study folder."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")


def test_spectral_section_plots_and_reports(tmp_path):
    from scalelaw.experiments._spectral_section import spectral_section
    from teacher_student.sweep import SweepConfig, run_sweep

    cfg = SweepConfig.from_dict({"task": "bahri-d4", "widths": [16], "depths": [2],
                                 "n_train": [16, 32, 64, 128], "seeds": [0], "steps": 60,
                                 "lr": 3e-3, "n_test": 300, "keep_weights": True})
    run_sweep(cfg, tmp_path / "sweeps" / "resolution_D-d4", device="cpu", progress=False,
              threads=1)
    sec = spectral_section(tmp_path, n=200, device="cpu")
    assert sec["task"] == "bahri-d4" and sec["four_over_d"] == 1.0
    assert sec["trained"]["run_id"] and np.isfinite(sec["init"]["predicted_alpha"])
    assert (tmp_path / "spectrum.png").stat().st_size > 1000
    assert "measured alpha_D" in sec["markdown"] and "4/d" in sec["markdown"]
    assert sec["measured"]["n_train"] == [16, 32, 64, 128]
