import numpy as np
import pytest

from scalelaw.exceptions import DataValidationError, UnknownNameError
from scalelaw.laws import (
    CallableLaw,
    ChinchillaLaw,
    ExpressionLaw,
    Inputs,
    KaplanLaw,
    Param,
    PowerLaw,
    SaturatingPowerLaw,
    get_law,
    law_from_spec,
    list_laws,
    parse_expression,
)

X1 = np.logspace(6, 10, 7)
X2 = np.logspace(9, 12, 7)


def test_formulas_match_their_definitions():
    assert np.allclose(PowerLaw()({"A": 3.0, "alpha": 0.2}, x=X1), 3.0 * X1**-0.2,
                       rtol=1e-14)
    assert np.allclose(
        SaturatingPowerLaw()({"E": 1.5, "A": 3.0, "alpha": 0.2}, x=X1),
        1.5 + 3.0 * X1**-0.2, rtol=1e-14,
    )
    p = {"E": 1.8, "A": 400.0, "B": 2000.0, "alpha": 0.34, "beta": 0.28}
    expect = 1.8 + 400.0 * X1**-0.34 + 2000.0 * X2**-0.28
    got = ChinchillaLaw()(p, n_params=X1, n_tokens=X2)
    assert np.allclose(got, expect, rtol=1e-13)
    k = {"N_c": 8.8e13, "D_c": 5.4e13, "alpha_N": 0.076, "alpha_D": 0.095}
    expect = ((8.8e13 / X1) ** (0.076 / 0.095) + 5.4e13 / X2) ** 0.095
    assert np.allclose(KaplanLaw()(k, n_params=X1, n_tokens=X2), expect, rtol=1e-12)


@pytest.mark.parametrize("law", [PowerLaw(), SaturatingPowerLaw(), ChinchillaLaw(),
                                 KaplanLaw()])
@pytest.mark.parametrize("log", [True, False])
def test_jacobians_match_finite_differences(law, log):
    rng = np.random.default_rng(1)
    cols = [X1, X2][: len(law.inputs)]
    X = Inputs(cols)
    theta = law.start_points(X, np.full(X1.size, 3.0), rng)[:3]
    value, grads = law.value_and_jacobian(theta, X, log=log)
    for j in range(theta.shape[1]):
        h = 1e-6 * max(1.0, float(np.abs(theta[:, j]).max()))
        up, dn = theta.copy(), theta.copy()
        up[:, j] += h
        dn[:, j] -= h
        fd = (law.value_and_jacobian(up, X, log=log, jac=False)[0]
              - law.value_and_jacobian(dn, X, log=log, jac=False)[0]) / (2 * h)
        # central differences are accurate to ~1e-7 relative at this step
        assert np.allclose(np.broadcast_to(grads[j], value.shape), fd, rtol=1e-5,
                           atol=1e-7 * np.abs(value).max())


def test_chinchilla_fused_vjp_matches_jacobian():
    law = ChinchillaLaw()
    X = Inputs([X1, X2])
    theta = law.start_points(X, np.full(X1.size, 3.0), None)[::700]
    w = np.random.default_rng(0).normal(size=(theta.shape[0], X1.size))
    value, grads = law.value_and_jacobian(theta, X, log=True)
    v2, vjp = law.value_and_vjp(theta, X, log=True)
    assert np.allclose(value, v2, rtol=1e-14)
    expect = np.stack([(np.broadcast_to(g, w.shape) * w).sum(1) for g in grads], 1)
    assert np.allclose(vjp(w), expect, rtol=1e-12, atol=1e-12)


def test_internal_coordinates_round_trip():
    law = ChinchillaLaw()
    v = np.array([1.8, 400.0, 2000.0, 0.34, 0.28])
    assert np.allclose(law.to_natural(law.to_internal(v)), v, rtol=1e-15)
    assert law.to_internal(v)[1] == pytest.approx(np.log(400.0))


def test_with_bounds_and_unknown_parameter():
    law = PowerLaw().with_bounds(alpha=(-1.0, 1.0))
    assert law.bounds["alpha"] == (-1.0, 1.0)
    with pytest.raises(UnknownNameError, match="Did you mean 'alpha'"):
        PowerLaw().with_bounds(alpah=(0, 1))


def test_param_rejects_empty_and_negative_log_bounds():
    with pytest.raises(DataValidationError, match="Bounds of parameter 'a' are empty"):
        Param("a", 2.0, 1.0)
    with pytest.raises(DataValidationError, match="lower bound must be >= 0"):
        Param("a", -1.0, 1.0, log=True)


def test_expression_law_evaluates_and_differentiates_exactly():
    law = ExpressionLaw.from_string("L = E + A * n**(-alpha)", inputs=["n"],
                                    bounds={"E": (0, np.inf)}, log_params=["A"],
                                    p0={"A": 2.0})
    assert law.param_names == ("E", "A", "alpha")
    assert law.bounds["E"] == (0.0, np.inf)
    ref = SaturatingPowerLaw()
    X = Inputs([X1])
    theta = np.array([[1.5, np.log(3.0), 0.2], [0.5, np.log(10.0), 0.7]])
    v1, g1 = law.value_and_jacobian(theta, X, log=True)
    v2, g2 = ref.value_and_jacobian(theta, X, log=True)
    assert np.allclose(v1, v2, rtol=1e-14)
    for a, b in zip(g1, g2, strict=True):
        # complex-step derivatives are exact to rounding
        assert np.allclose(np.broadcast_to(a, v1.shape), np.broadcast_to(b, v1.shape),
                           rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("E + A * n.__class__", "uses Attribute syntax"),
        ("__import__('os')", "calls '__import__', which is not allowed"),
        ("E + exq(n)", "Did you mean 'exp'"),
        ("E + A * n + 'x'", "holds the constant 'x'"),
        ("E + (A", "is not a valid expression"),
        ("E + A * m", r"does not use the input\(s\) \['n'\]"),
        ("2 * n", "has no free parameters"),
        ("3 + 1 = E + A*n", "left of '=' must be a name"),
        ("E if n else A", "uses IfExp syntax"),
    ],
)
def test_expression_law_rejects_unsafe_or_bad_formulas(text, match):
    with pytest.raises(DataValidationError, match=match):
        parse_expression(text, ["n"])


def test_expression_law_p0_outside_bounds_is_an_error():
    with pytest.raises(DataValidationError, match="Initial value 5.0 of parameter 'E' "
                       r"lies outside its bounds \[0.0, 1.0\]"):
        ExpressionLaw.from_string("E + A*n**(-b)", inputs=["n"], bounds={"E": (0, 1)},
                                  p0={"E": 5.0})
    with pytest.raises(UnknownNameError, match="Did you mean 'E'"):
        ExpressionLaw.from_string("E + A*n**(-b)", inputs=["n"], p0={"EE": 5.0})


def test_callable_law():
    law = CallableLaw.from_function(lambda n, a, b: a * n**-b, inputs=["n"],
                                    p0={"a": 1.0, "b": 0.5}, name="pw")
    assert law.name == "callable:pw"
    assert np.allclose(law({"a": 2.0, "b": 1.0}, n=np.array([1.0, 2.0])), [2.0, 1.0])
    with pytest.raises(DataValidationError, match="Expected a callable"):
        CallableLaw.from_function(3, inputs=["n"], p0={"a": 1.0})
    with pytest.raises(DataValidationError, match="lies outside its bounds"):
        CallableLaw.from_function(lambda n, a: a * n, inputs=["n"], p0={"a": -1.0},
                                  bounds={"a": (0, 1)})


def test_registry_and_specs():
    assert set(list_laws()) >= {"power", "saturating_power", "chinchilla", "kaplan"}
    with pytest.raises(UnknownNameError, match="Did you mean 'chinchilla'"):
        get_law("chinchila")
    law = get_law("E + A*n**(-alpha)", inputs=["n"])
    assert isinstance(law, ExpressionLaw)
    with pytest.raises(DataValidationError, match="needs the names of its input columns"):
        get_law("E + A*n**(-alpha)")
    with pytest.raises(DataValidationError, match="must be a name, a formula string"):
        get_law(3)
    for original in [ChinchillaLaw().with_bounds(alpha=(0.1, 2.0)), law]:
        restored = law_from_spec(original.to_spec())
        assert restored.to_spec() == original.to_spec()
    cl = CallableLaw.from_function(lambda n, a: a * n, inputs=["n"], p0={"a": 1.0})
    with pytest.raises(DataValidationError, match="cannot be restored from JSON"):
        law_from_spec(cl.to_spec())


def test_law_call_checks_names():
    with pytest.raises(DataValidationError, match="missing \\['n_tokens'\\]"):
        ChinchillaLaw()({"E": 1, "A": 1, "B": 1, "alpha": 1, "beta": 1}, n_params=1.0)
    with pytest.raises(DataValidationError, match="missing \\['beta'\\]"):
        ChinchillaLaw()({"E": 1, "A": 1, "B": 1, "alpha": 1}, n_params=1.0, n_tokens=1.0)
    with pytest.raises(UnknownNameError, match="Did you mean 'alpha'"):
        PowerLaw()({"A": 1, "alpha": 1, "alhpa": 2}, x=1.0)
