"""Shared fixtures. Slow statistical checks run only with --runslow."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import settings

from scalelaw.synthetic import chinchilla_design, simulate_runs

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.load_profile("ci")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", help="run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    if config.getoption("--runslow"):
        return
    kept, deselected = [], []
    for item in items:
        (deselected if "slow" in item.keywords else kept).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def chinchilla_runs() -> pd.DataFrame:
    """245 noiseless runs from Epoch AI's Chinchilla parameters."""
    return simulate_runs(chinchilla_design(245), noise=0.0, random_state=0)
