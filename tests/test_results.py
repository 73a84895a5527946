import json

import numpy as np
import pandas as pd
import pytest

import scalelaw as sl
from scalelaw.exceptions import DataValidationError, ScaleLawError


@pytest.fixture(scope="module")
def result():
    rng = np.random.default_rng(0)
    x = np.logspace(5, 9, 30)
    y = (0.8 + 5.0 * x**-0.3) * np.exp(0.01 * rng.standard_normal(30))
    return sl.fit("saturating_power", pd.DataFrame({"n": x, "L": y}), x="n", y="L",
                  bootstrap=100, random_state=0)


def test_json_round_trip_is_lossless(result):
    text = result.to_json()
    back = sl.FitResult.from_json(text)
    assert back.equals(result)
    assert back.bootstrap.equals(result.bootstrap)
    assert np.array_equal(back.theta, result.theta)
    # restored results still compute: profile intervals need data and law
    assert np.allclose(back.conf_int(method="profile"), result.conf_int(method="profile"))


def test_cli_schema_keys(result):
    d = json.loads(result.to_json())
    for key in ("law", "params", "stderr", "conf_int", "n_obs", "converged",
                "diagnostics"):
        assert key in d
    assert set(d["conf_int"]) == {"E", "A", "alpha"}
    assert d["conf_int_method"] == "bootstrap"


def test_nonfinite_values_survive_json():
    x = np.logspace(5, 9, 12)
    res = sl.fit("saturating_power", pd.DataFrame({"n": x, "L": 3 * x**-0.2}), x="n",
                 y="L")
    assert np.isnan(res.stderr["E"])  # E sits on its bound
    back = sl.FitResult.from_dict(json.loads(json.dumps(res.to_dict())))
    assert np.isnan(back.stderr["E"]) and back.equals(res)


def test_from_dict_rejects_other_schema(result):
    d = result.to_dict()
    d["schema_version"] = 99
    with pytest.raises(DataValidationError, match="schema_version 99"):
        sl.FitResult.from_dict(d)


def test_callable_law_needs_the_law_back():
    law = sl.laws.CallableLaw.from_function(lambda n, a, b: a * n**-b, inputs=["n"],
                                            p0={"a": 1.0, "b": 0.2})
    x = np.logspace(5, 9, 12)
    res = sl.fit(law, pd.DataFrame({"n": x, "L": 3 * x**-0.2}), x="n", y="L")
    d = res.to_dict()
    with pytest.raises(DataValidationError, match="cannot be restored from JSON"):
        sl.FitResult.from_dict(d)
    assert sl.FitResult.from_dict(d, law=law).equals(res)


def test_predict(result):
    got = result.predict(n=np.array([[1e6, 1e7]]))
    assert got.shape == (1, 2)
    p = result.params
    assert np.allclose(got, p["E"] + p["A"] * np.array([[1e6, 1e7]]) ** -p["alpha"])
    with pytest.raises(DataValidationError, match=r"missing \['n'\]"):
        result.predict(x=1.0)
    with pytest.raises(DataValidationError, match="must be finite and > 0"):
        result.predict(n=-1.0)


def test_summary_and_params_frame(result):
    text = result.summary()
    assert "saturating_power" in text and "95% bootstrap interval" in text
    frame = result.params_frame()
    assert list(frame.columns) == ["estimate", "stderr", "lower", "upper", "at_bound"]


def test_bootstrap_interval_without_replicas_is_a_clear_error():
    x = np.logspace(5, 9, 12)
    res = sl.fit("power", pd.DataFrame({"n": x, "L": 3 * x**-0.2}), x="n", y="L")
    with pytest.raises(ScaleLawError, match="No bootstrap replicas"):
        res.conf_int(method="bootstrap")
    with pytest.raises(sl.UnknownNameError, match="Did you mean 'wald'"):
        res.conf_int(method="walds")
    with pytest.raises(DataValidationError, match="range \\(0, 1\\)"):
        res.conf_int(1.5)
    boot = res.with_bootstrap(50, random_state=0)
    assert boot.bootstrap.shape[0] == 50 and res.bootstrap is None
