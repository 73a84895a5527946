"""User-defined laws: formulas, Python functions and lmfit models are first-class."""

from __future__ import annotations

import math
import re
import time

import lmfit
import numpy as np
import pandas as pd
import pytest

import scalelaw as sl
from scalelaw.exceptions import DataValidationError
from scalelaw.laws import ExpressionLaw, LmfitLaw


def _decay_data(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.linspace(-2.0, 5.0, 40)  # inputs <= 0: no logarithm is taken of them
    y = 3.0 * np.exp(-0.7 * t) + 0.5 + 0.01 * rng.standard_normal(40)
    return pd.DataFrame({"t": t, "y": y})


def test_formula_fit_is_deterministic_without_a_seed_and_allows_inputs_below_zero():
    df = _decay_data()
    a = sl.fit("a * exp(-k * t) + c", df, x="t", y="y", objective="mse")
    b = sl.fit("a * exp(-k * t) + c", df, x="t", y="y", objective="mse")
    assert a.to_json() == b.to_json()  # same starts, same optimum, bit for bit
    assert a.params["k"] == pytest.approx(0.7, abs=0.01)
    assert a.domain["t"][0] < 0


def test_a_python_function_is_a_law():
    df = _decay_data()

    def decay(t, a, k, c=0.1):
        return a * np.exp(-k * t) + c

    res = sl.fit(decay, df, x="t", y="y", objective="mse", p0={"a": 1.0, "k": 0.5})
    assert list(res.params.index) == ["a", "k", "c"]
    assert res.params["k"] == pytest.approx(0.7, abs=0.01)
    assert res.law.p0 == (1.0, 0.5, 0.1)  # the signature's default is an initial value


def test_lmfit_model_with_bounds_fixed_values_and_constraints():
    df = _decay_data()
    model = lmfit.Model(lambda t, a, k, c, half: a * np.exp(-k * t) + c)
    params = model.make_params(a=2.0, k={"value": 0.3, "min": 0.0, "max": 5.0},
                               c={"value": 0.5, "vary": False})
    params["half"].set(expr="log(2) / k")  # derived: not fitted, reported
    law = LmfitLaw.from_model(model, params)
    assert law.param_names == ("a", "k", "c")
    assert law.bounds["c"] == (0.5, 0.5) and law.bounds["k"] == (0.0, 5.0)
    res = sl.fit(law, df, x="t", y="y", objective="mse")
    assert res.params["c"] == 0.5  # held at its fixed value
    assert res.params["k"] == pytest.approx(0.7, abs=0.01)
    assert np.isnan(res.stderr["c"]) and np.isfinite(res.stderr["k"])
    # back to lmfit: values, errors, bounds, vary and the constraint
    out = res.to_lmfit_params()
    assert out["k"].value == pytest.approx(res.params["k"], rel=1e-12)
    assert out["k"].stderr == pytest.approx(res.stderr["k"], rel=1e-12)
    assert not out["c"].vary and out["k"].max == 5.0
    assert out["half"].expr == "log(2) / k"
    assert out["half"].value == pytest.approx(np.log(2) / res.params["k"], rel=1e-12)
    # an lmfit model is accepted directly too (its own make_params)
    res2 = sl.fit(lmfit.Model(lambda t, a, k: a * np.exp(-k * t) + 0.5), df, x="t", y="y",
                  objective="mse")
    assert res2.params["k"] == pytest.approx(0.7, abs=0.01)


def test_lmfit_errors_are_clear():
    model = lmfit.Model(lambda t, a: a * t)
    with pytest.raises(sl.DataValidationError, match="lmfit.Parameters"):
        LmfitLaw.from_model(model, {"a": 1.0})
    p = lmfit.Parameters()
    p.add("b", 1.0)
    with pytest.raises(sl.DataValidationError, match=r"lack \['a'\]"):
        LmfitLaw.from_model(model, p)
    with pytest.raises(sl.DataValidationError, match="lmfit.Model"):
        LmfitLaw.from_model(lambda t, a: a)


def test_a_function_that_does_not_broadcast_is_called_per_parameter_vector():
    df = _decay_data()

    def scalar_only(t, a, k):  # math.exp takes scalars only: arrays of k raise
        return [a * math.exp(-k * ti) + 0.5 for ti in np.ravel(t)]

    res = sl.fit(scalar_only, df, x="t", y="y", objective="mse", p0={"a": 2.0, "k": 0.5})
    assert res.params["k"] == pytest.approx(0.7, abs=0.01)


@pytest.mark.parametrize(("formula", "shown"), [
    ("E + 9**9**9**9 * n**(-a)", "9 ** 9 ** 9 ** 9"),   # ran for minutes as Python ints
    ("E + A * n**(-a) + 10**400", "10 ** 400"),
    ("E + A * exp(1000) * n**(-a)", "exp(1000)"),
    ("E + A * n**(-a) * (-8)**0.5", "(-8) ** 0.5"),
    ("E + A / (1 - 1) * n", "1 - 1"),
])
def test_formula_constants_that_are_not_finite_are_refused_at_once(formula, shown):
    t0 = time.perf_counter()
    with pytest.raises(DataValidationError, match=re.escape(repr(shown))):
        ExpressionLaw.from_string(formula, inputs=["n"])
    assert time.perf_counter() - t0 < 1.0


def test_formula_cli_refuses_the_power_tower_in_one_line(capsys):
    from scalelaw.cli import main

    t0 = time.perf_counter()
    rc = main(["fit", "dataset:chinchilla_synthetic", "--law", "E + 9**9**9**9 * n_params**(-a)",
               "--x", "n_params", "--y", "loss"])
    assert rc == 1 and time.perf_counter() - t0 < 5.0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not a finite number" in err[0]


def test_formula_size_is_bounded():
    with pytest.raises(DataValidationError, match="longer than"):
        ExpressionLaw.from_string("E + A * n**(-a)" + " + n" * 600, inputs=["n"])
    with pytest.raises(DataValidationError, match="more than 500 terms"):
        ExpressionLaw.from_string("E + A * n**(-a)" + "+n" * 300, inputs=["n"])


def test_integer_literals_evaluate_as_floats():
    # 3**40 overflows int64 but not a float; the formula must read 3.0**40
    law = ExpressionLaw.from_string("E + A * n**(-a) * 3**40", inputs=["n"])
    v = law({"E": 0.0, "A": 1.0, "a": 0.0}, n=np.array([2.0]))
    assert float(v[0]) == pytest.approx(3.0**40, rel=1e-12)
