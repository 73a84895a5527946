"""Compute-optimal identities, isoFLOP profiles, run proposals, target losses."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

import scalelaw as sl
from scalelaw.allocation import compute_optimal, isoflop_profile, propose_runs, solve_for_loss
from scalelaw.laws import ExpressionLaw
from scalelaw.synthetic import EPOCH_CHINCHILLA, chinchilla_design, simulate_runs


@pytest.fixture(scope="module")
def chin():
    runs = simulate_runs(chinchilla_design(), noise=0.0)
    return sl.fit("chinchilla", runs, x=["n_params", "n_tokens"], y="loss")


def test_frontier_has_hoffmann_closed_form(chin):
    A, B, a, b = (EPOCH_CHINCHILLA[k] for k in ("A", "B", "alpha", "beta"))
    C = np.array([1e20, 5.76e23, 1e26])
    opt = compute_optimal(chin, C)
    G = (a * A / (b * B)) ** (1 / (a + b))
    n_star = G * (C / 6) ** (b / (a + b))
    d_star = (C / 6) ** (a / (a + b)) / G
    # noiseless fit recovers parameters to <0.5 %, which moves N* by well under 5 %
    np.testing.assert_allclose(opt.n_params, n_star, rtol=0.05)
    np.testing.assert_allclose(opt.n_tokens, d_star, rtol=0.05)
    # identities that hold exactly for the fitted law
    np.testing.assert_allclose(6 * opt.n_params * opt.n_tokens, C, rtol=1e-10)
    p = chin.params
    Gf = (p.alpha * p.A / (p.beta * p.B)) ** (1 / (p.alpha + p.beta))
    np.testing.assert_allclose(opt.n_params, Gf * (C / 6) ** (p.beta / (p.alpha + p.beta)),
                               rtol=1e-10)
    np.testing.assert_allclose(opt.loss, chin.predict(n_params=opt.n_params,
                                                      n_tokens=opt.n_tokens), rtol=1e-12)
    assert np.all(opt.n_params_ci_lower <= opt.n_params)
    assert np.all(opt.n_params <= opt.n_params_ci_upper)


def test_frontier_minimises_loss_on_the_isoflop(chin):
    C = 1e22
    opt = compute_optimal(chin, C, n_draws=8)

    def loss(log_n):
        n = np.exp(log_n)
        return float(chin.predict(n_params=n, n_tokens=C / (6 * n))[0])

    best = minimize_scalar(loss, bounds=(10, 40), method="bounded",
                           options={"xatol": 1e-10})
    assert np.log(opt.n_params[0]) == pytest.approx(best.x, abs=1e-5)


def test_numeric_frontier_matches_closed_form(chin):
    # the same law written as a formula goes through the numeric path
    law = ExpressionLaw.from_string("E + A*N**(-alpha) + B*D**(-beta)", inputs=["N", "D"])
    runs = simulate_runs(chinchilla_design(), noise=0.0).rename(
        columns={"n_params": "N", "n_tokens": "D"})
    res = sl.fit(law, runs, x=["N", "D"], y="loss", p0=dict(chin.params))
    C = np.array([1e21, 1e24])
    num = compute_optimal(res, C, n_draws=8)
    closed = compute_optimal(chin, C, n_draws=8)
    # golden-section tolerance in the split t is ~1e-9 of log(C/6) ~ 50
    np.testing.assert_allclose(num.N, closed.n_params, rtol=1e-4)
    np.testing.assert_allclose(num.loss, closed.loss, rtol=1e-8)


def test_custom_flop_formula(chin):
    opt6 = compute_optimal(chin, 1e22, n_draws=8)
    opt_f = compute_optimal(chin, 1e22, flops=lambda n, d: 6.0 * n * d, n_draws=8)
    # numeric path: golden-section in the N/D split and bisection for D, both to
    # ~1e-9 of log(C/6) ~ 50, i.e. ~1e-7 in N; 1e-4 leaves room for the grid start
    np.testing.assert_allclose(opt_f.n_params, opt6.n_params, rtol=1e-4)
    opt8 = compute_optimal(chin, 1e22, flops_per_param_token=8.0, n_draws=8)
    np.testing.assert_allclose(8 * opt8.n_params * opt8.n_tokens, 1e22, rtol=1e-10)


def test_isoflop_profile_minimum_at_optimum(chin):
    prof = isoflop_profile(chin, [1e20, 1e22], n_points=21, n_draws=50)
    for _, g in prof.groupby("compute"):
        assert g.loss.idxmin() == g.index[g.is_optimum][0]
        np.testing.assert_allclose(6 * g.n_params * g.n_tokens, g.compute, rtol=1e-10)
        assert np.all(g.loss_ci_lower <= g.loss) and np.all(g.loss <= g.loss_ci_upper)


def test_propose_runs_spends_the_budget(chin):
    # the proposals lie beyond the fitted compute range, and this fit is not calibrated
    with pytest.warns(sl.ExtrapolationWarning):
        plan = propose_runs(chin, 1e23, n_runs=5, spread=4.0)
    assert plan.compute.sum() == pytest.approx(1e23)
    assert plan.n_params.iloc[-1] / plan.n_params.iloc[0] == pytest.approx(16.0)
    nstar = compute_optimal(chin, 2e22, n_draws=8).n_params[0]
    assert plan.n_params.iloc[2] == pytest.approx(nstar, rel=1e-9)
    assert np.all(plan.obs_ci_lower <= plan["mean"])  # noiseless fit: zero width
    with pytest.raises(sl.DataValidationError, match="n_runs"):
        propose_runs(chin, 1e23, n_runs=0)


def test_solve_for_loss_one_input():
    x = np.logspace(6, 9, 20)
    import pandas as pd
    res = sl.fit("saturating_power", pd.DataFrame({"n": x, "L": 1 + 10 * x**-0.2}),
                 x="n", y="L")
    tab = solve_for_loss(res, 1.05)
    assert tab.estimate[0] == pytest.approx(200.0**5, rel=1e-4)
    with pytest.raises(sl.ExtrapolationError, match="never reaches"):
        solve_for_loss(res, 0.9)


def test_solve_for_loss_on_the_frontier(chin):
    tab = solve_for_loss(chin, 2.0, n_draws=200).set_index("quantity")
    C = tab.loc["compute", "estimate"]
    opt = compute_optimal(chin, C, n_draws=8)
    assert opt.loss[0] == pytest.approx(2.0, rel=1e-9)
    assert tab.loc["n_params", "estimate"] == pytest.approx(opt.n_params[0], rel=1e-6)
    assert tab.loc["compute", "ci_lower"] <= C <= tab.loc["compute", "ci_upper"]


def test_allocation_input_errors(chin):
    x = np.logspace(6, 9, 20)
    import pandas as pd
    one = sl.fit("power", pd.DataFrame({"n": x, "L": 3 * x**-0.1}), x="n", y="L")
    with pytest.raises(sl.DataValidationError, match="two inputs"):
        compute_optimal(one, 1e20)
    with pytest.raises(sl.DataValidationError, match="'compute'"):
        compute_optimal(chin, -1.0)
    with pytest.raises(sl.DataValidationError, match="flops_per_param_token"):
        compute_optimal(chin, 1e20, flops_per_param_token=0)
