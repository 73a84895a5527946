"""Estimating an intrinsic dimension leaves the process's warning filters alone.

``import skdim`` runs ``warnings.filterwarnings("ignore")`` at import: every
later warning of the process, scalelaw's included, used to be silenced.
pytest restores the filters around each test, so this is checked in a fresh
interpreter, outside pytest's per-test reset.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from importlib.util import find_spec

import pytest

pytestmark = pytest.mark.skipif(find_spec("skdim") is None, reason="needs scikit-dimension")

_CODE = textwrap.dedent("""
    import sys, warnings
    import numpy as np
    import scalelaw.intrinsic_dim as sid
    from scalelaw.exceptions import ExtrapolationWarning

    assert "skdim" not in sys.modules  # the estimate below is the first import
    before = list(warnings.filters)
    ident = id(warnings.filters)
    X = np.random.default_rng(0).normal(size=(300, 3))
    sid.estimate_intrinsic_dims(X, ["twonn", "mle", "global_pca"], n_boot=10)
    sid.estimate_intrinsic_dim(np.random.default_rng(1).normal(size=(300, 20)), n_boot=10)
    assert "skdim" in sys.modules
    assert id(warnings.filters) == ident
    assert warnings.filters == before, [f for f in warnings.filters if f not in before]
    warnings.warn("probe-after-estimate", ExtrapolationWarning)
    print("filters unchanged")
""")


def test_an_estimate_leaves_warning_filters_as_they_were():
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    proc = subprocess.run([sys.executable, "-c", _CODE], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "filters unchanged" in proc.stdout
    # a scalelaw warning raised after the estimate reaches the user: the
    # lower-bound warning of the 20-d estimate and the probe both show
    assert "probe-after-estimate" in proc.stderr, proc.stderr
    assert "IntrinsicDimensionWarning" in proc.stderr, proc.stderr
