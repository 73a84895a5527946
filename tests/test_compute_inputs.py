"""Compute inputs: tokens derived from training FLOP (C = 6ND), and FLOP given as tokens
refused with a message that names the column."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import scalelaw as sl
from scalelaw.cli import main
from scalelaw.io import looks_like_compute, tokens_from_compute


def _runs():
    n = np.repeat(np.logspace(7, 9, 4), 4)
    d = n * np.tile([5.0, 20.0, 80.0, 320.0], 4)
    loss = 1.8 + 480 * n ** -0.35 + 2000 * d ** -0.37
    return pd.DataFrame({"n_params": n, "flops": 6 * n * d, "loss": loss})


def test_tokens_from_compute_and_flop_as_tokens_refused():
    df = _runs()
    out = tokens_from_compute(df, n_params="n_params", flops="flops")
    assert np.allclose(out.n_tokens * 6 * out.n_params, df.flops)
    assert out.attrs["derived"] == "n_tokens = flops / (6 n_params) (C = 6ND)"
    # FLOP passed as tokens: over 2e4 "tokens" per parameter on every row, beyond any corpus
    with pytest.raises(sl.DataValidationError, match=r"Column 'flops' \(the law's n_tokens "
                       r"input\) looks like training FLOP"):
        sl.fit("chinchilla", df, x=["n_params", "flops"], y="loss")
    # real tokens at the same ratios fit, and recover the exponents
    res = sl.fit("chinchilla", out, x=["n_params", "n_tokens"], y="loss", objective="mse_log")
    assert res.params["alpha"] == pytest.approx(0.35, abs=1e-3)
    # toy models trained far beyond 2e4 tokens per parameter are not refused
    toy = pd.DataFrame({"n": [1e3, 2e3, 4e3, 8e3, 1e3, 4e3], "d": [1e9, 1e9, 1e9, 1e9, 3e9, 3e9]})
    toy["loss"] = 1 + 50 * toy.n ** -0.5 + 300 * toy.d ** -0.3
    sl.fit("gadre", toy, x=["n", "d"], y="loss")
    with pytest.raises(sl.DataValidationError, match="'flops' must be positive"):
        tokens_from_compute(df.assign(flops=-1.0), n_params="n_params", flops="flops")
    with pytest.raises(sl.DataValidationError, match="'n_params' exists already"):
        tokens_from_compute(df, n_params="n_params", flops="flops", name="n_params")
    assert looks_like_compute("C") and looks_like_compute("train_FLOPs")
    assert not looks_like_compute("n_tokens")


def test_cli_x_params_flops_derives_tokens(tmp_path, capsys):
    csv = tmp_path / "runs.csv"
    _runs().to_csv(csv, index=False)
    out = tmp_path / "fit.json"
    rc = main(["fit", str(csv), "--law", "gadre", "--x", "n_params,flops", "--y", "loss",
               "--objective", "mse_log", "--json", str(out)])
    assert rc == 0
    assert "inputs: n_tokens = flops / (6 n_params) (C = 6ND)" in capsys.readouterr().err
    d = json.loads(out.read_text())
    assert d["x"] == ["n_params", "n_tokens"]
    # the data were made with one exponent 0.35/0.37 in N/D: fitted on tokens, not FLOP
    assert 0.3 < d["params"]["alpha"] < 0.42
    # a tokens column that holds FLOP: exit 1, one line naming the column
    _runs().rename(columns={"flops": "D"}).to_csv(csv, index=False)
    rc = main(["fit", str(csv), "--law", "chinchilla", "--x", "n_params,D", "--y", "loss"])
    assert rc == 1
    assert "Column 'D' (the law's n_tokens input) looks like training FLOP" in (
        capsys.readouterr().err)
