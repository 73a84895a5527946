"""Complexity of random networks: the measures, and the published ordinal findings.

Teney et al. (2024, "Neural Redshift") report, for random MLPs on a 2-D grid:
ReLU networks stay nearly as simple at any depth and weight scale; tanh,
Gaussian and sine networks grow steeply more complex with both; width has no
effect; layer norm removes the weight-scale dependence; residual connections
keep complexity near its lowest. Each is a test below, on the mean
frequency (power-weighted) with paired bootstrap intervals over
initialisations (every architecture uses the same uniform draws).

The thresholds were set on these small configurations (grid 32, width 32,
24 initialisations); the benchmark (bench/llc_redshift.py) checks the same
orderings at the default grid (64 points a side, widths 16-256, 100
initialisations), out of sample.
"""

from __future__ import annotations

import numpy as np
import pytest

from scalelaw.exceptions import DataValidationError, UnknownNameError
from scalelaw.redshift import (
    complexity_ratio,
    compressibility,
    grid_inputs,
    mean_frequency,
    polynomial_order,
    random_network_complexity,
)

GRID = 32
#: A rise by this factor or more is "steep"; a ReLU network's whole rise stays
#: below it. Measured (grid 32, width 32, 24 inits): ReLU 1.2-1.5 over depth 1 -> 8
#: at s = 4 and over s = 1 -> 4 at depth 8; tanh, Gaussian and sine 1.9-20.
STEEP = 1.6
#: Upper interval bound that still reads as "nearly flat" (the ReLU rise plus
#: one sampling error: its intervals reach 1.58).
FLAT_UPPER = 1.75


def _key(act, depth, scale, ln=False, res=False, width=32):
    return {"activation": act, "depth": depth, "weight_scale": scale, "layernorm": ln,
            "residual": res, "width": width}


@pytest.fixture(scope="module")
def core():
    return random_network_complexity(["relu", "tanh", "gauss", "sin"], depths=[1, 8],
                                     weight_scales=[1.0, 4.0], widths=[32], n_init=24,
                                     grid=GRID)


# ------------------------------------------------------------------ measures
def test_frequency_of_a_cosine_mode_is_its_frequency():
    # cos(pi m u) on u in [0, 1] (the square's side) is one mode of the mirrored
    # extension: m/2 cycles across the square. The grid includes both edges (not
    # the half-sample points of an exact DCT mode), so allow 3 % leakage.
    u = np.linspace(0, 1, 64)
    for m in (1, 2, 4, 8):
        f = np.cos(np.pi * m * u)[None, :, None] * np.ones((1, 1, 64))
        assert mean_frequency(f)[0] == pytest.approx(m / 2, rel=0.03)


def test_measures_ignore_offset_and_amplitude_and_constants_are_simplest():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(3, GRID, GRID)).cumsum(axis=1)
    for measure in (mean_frequency, compressibility, polynomial_order):
        np.testing.assert_allclose(measure(3.0 * f + 7.0), measure(f), rtol=1e-9)
    const = np.full((1, GRID, GRID), 2.5)
    assert mean_frequency(const)[0] == 0 and polynomial_order(const)[0] == 0
    assert compressibility(const)[0] > compressibility(f).max()


def test_legendre_order_of_a_product_of_polynomials_is_exact():
    from numpy.polynomial import legendre

    t = np.linspace(-1, 1, GRID)
    p3 = legendre.legval(t, [0, 0, 0, 1])
    p2 = legendre.legval(t, [0, 0, 1])
    f = (p3[:, None] * p2[None, :])[None]
    assert polynomial_order(f)[0] == pytest.approx(5.0, abs=1e-8)


def test_compressibility_orders_smooth_above_noise():
    rng = np.random.default_rng(1)
    t = np.linspace(-1, 1, GRID)
    smooth = np.sin(2 * t)[None, :, None] * np.cos(t)[None, None, :]
    noise = rng.normal(size=(1, GRID, GRID))
    assert compressibility(smooth)[0] > 1.5 * compressibility(noise)[0]


def test_draws_do_not_depend_on_the_other_initialisations():
    a = random_network_complexity(["tanh"], depths=[2], weight_scales=[2.0], widths=[8],
                                  n_init=6, grid=16, chunk=6)
    b = random_network_complexity(["tanh"], depths=[2], weight_scales=[2.0], widths=[8],
                                  n_init=6, grid=16, chunk=2)
    np.testing.assert_array_equal(a.values(activation="tanh"), b.values(activation="tanh"))


# ------------------------------------------------------------- the findings
def test_relu_stays_nearly_flat_in_depth_and_weight_scale(core):
    for num, den in ((_key("relu", 8, 4.0), _key("relu", 1, 4.0)),
                     (_key("relu", 8, 4.0), _key("relu", 8, 1.0))):
        ratio, (_, hi) = complexity_ratio(core, num, den)
        assert ratio < STEEP and hi < FLAT_UPPER, (num, den, ratio, hi)


@pytest.mark.parametrize("act", ["tanh", "gauss", "sin"])
def test_tanh_gauss_and_sine_rise_steeply_with_depth_and_weight_scale(core, act):
    relu_depth = complexity_ratio(core, _key("relu", 8, 4.0), _key("relu", 1, 4.0))[0]
    relu_scale = complexity_ratio(core, _key("relu", 8, 4.0), _key("relu", 8, 1.0))[0]
    depth, (lo_d, _) = complexity_ratio(core, _key(act, 8, 4.0), _key(act, 1, 4.0))
    scale, (lo_s, _) = complexity_ratio(core, _key(act, 8, 4.0), _key(act, 8, 1.0))
    assert lo_d > STEEP and lo_s > STEEP, (depth, lo_d, scale, lo_s)
    assert depth > relu_depth and scale > relu_scale


def test_width_has_no_effect():
    # "no effect": a 16 -> 128 change of width moves the mean frequency by under
    # 10 % (measured 0.7-2.3 %), a sixth of the smallest depth or scale effect above
    res = random_network_complexity(["relu", "tanh", "sin"], depths=[4], weight_scales=[1.0],
                                    widths=[16, 128], n_init=24, grid=GRID)
    for act in ("relu", "tanh", "sin"):
        narrow = res.values(activation=act, width=16)
        wide = res.values(activation=act, width=128)
        assert wide.mean() / narrow.mean() == pytest.approx(1.0, abs=0.10), act


def test_layer_norm_removes_the_weight_scale_dependence():
    # layer norm of s (W h + b) equals that of W h + b (up to its epsilon 1e-5)
    # and the measures ignore the read-out's scale: equal to 0.5 % (measured 0.03 %)
    res = random_network_complexity(["tanh", "sin"], depths=[8], weight_scales=[0.5, 4.0],
                                     widths=[32], layernorm=True, n_init=12, grid=GRID)
    for act in ("tanh", "sin"):
        ratio, _ = complexity_ratio(res, _key(act, 8, 4.0, ln=True),
                                    _key(act, 8, 0.5, ln=True))
        assert ratio == pytest.approx(1.0, abs=0.005), act


def test_residual_connections_keep_complexity_near_its_lowest():
    res = random_network_complexity(["tanh", "gauss", "sin"], depths=[8],
                                    weight_scales=[0.5, 4.0], widths=[32],
                                    residual=[False, True], n_init=16, grid=GRID)
    x = grid_inputs(GRID)
    floor = mean_frequency((x[:, 0] + 0.5 * x[:, 1]).reshape(1, GRID, GRID))[0]  # a plane
    for act in ("tanh", "gauss", "sin"):
        # small weights: 8 residual blocks stay within 10 % of a plane's frequency
        # (measured within 0.2 %)
        assert res.values(**_key(act, 8, 0.5, res=True)).mean() < 1.10 * floor, act
        # large weights: below the plain network of the same depth (measured 0.47-0.62)
        _, (_, hi) = complexity_ratio(res, _key(act, 8, 4.0, res=True), _key(act, 8, 4.0))
        assert hi < 1.0, act


# -------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, exc, word", [
    ({"activations": ["relu", "swishy"]}, UnknownNameError, "activation"),
    ({"weight_scales": [1.0, -2.0]}, DataValidationError, "weight_scales"),
    ({"depths": [0]}, DataValidationError, "depths"),
    ({"widths": [4], "n_init": 1}, DataValidationError, "n_init"),
])
def test_bad_arguments_are_refused_by_name(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        random_network_complexity(**{"n_init": 4, "grid": 16, **kwargs})


def test_json_rows_have_the_documented_keys(core):
    rows = core.to_dict()["rows"]
    assert set(rows[0]) >= {"activation", "depth", "width", "weight_scale", "layernorm",
                            "residual", "frequency", "frequency_ci", "compressibility",
                            "polynomial_order"}
    lo, hi = rows[0]["frequency_ci"]
    assert lo <= rows[0]["frequency"] <= hi
