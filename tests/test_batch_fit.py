"""One law on many tables at once: stacked objectives, fit_tables, calibrate_many, backtests."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import scalelaw as sl
from scalelaw import datasets
from scalelaw.exceptions import DataValidationError
from scalelaw.fitting import calibrate, calibrate_many, fit_tables
from scalelaw.fitting._single import fit_table
from scalelaw.laws import Inputs, get_law
from scalelaw.optim import Objective, StackedObjective
from scalelaw.optim.objective import padded_rows


def _tables(n_tables: int = 5, seed: int = 0) -> list[pd.DataFrame]:
    """Saturating curves of different lengths (9 to 33 rows) with 1 % noise."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n_tables):
        x = np.logspace(3, 7, 9 + 6 * k)
        y = (0.3 + k * 0.1 + 30 * x ** -(0.3 + 0.05 * k)) * np.exp(0.01 * rng.normal(size=x.size))
        out.append(pd.DataFrame({"n": x, "L": y}))
    return out


@pytest.mark.parametrize("objective", ["mse_log", "huber_log", "mse"])
def test_stacked_objective_equals_each_data_set_alone(objective):
    law = get_law("saturating_power")
    tables = _tables()
    w = [None, np.linspace(0.5, 2.0, len(tables[1]))] + [None] * (len(tables) - 2)
    alone = [Objective(law, Inputs([t["n"].to_numpy()]), t["L"].to_numpy(), objective, 1e-3,
                       weights=w[k]) for k, t in enumerate(tables)]
    stack = StackedObjective(alone)
    theta = law.to_internal(np.array([[0.4, 25.0, 0.35], [0.5, 30.0, 0.4]]))
    rows = np.arange(2)
    for k, obj in enumerate(alone):
        view = stack.on(np.array([k, k]))
        # padding rows carry weight 0: every number equals the data set's own up to
        # the order of summation (sums over 16-row multiples), a few ulps: 1e-13
        assert np.allclose(view.value(theta), obj.value(theta), rtol=1e-13, atol=0)
        f1, g1, h1 = view.fun_grad_hess(theta, rows)
        f2, g2, h2 = obj.fun_grad_hess(theta, rows)
        assert np.allclose(f1, f2, rtol=1e-13) and np.allclose(g1, g2, rtol=1e-12)
        assert np.allclose(h1, h2, rtol=1e-12)
        assert stack.set_floor(k) == obj.rounding_floor()
        assert stack.n_rows(k) == len(tables[k])
        # a stack of one of the same padded length: the very same numbers
        if padded_rows(len(tables[k])) == padded_rows(max(len(t) for t in tables)):
            one = StackedObjective([obj]).on(np.array([0, 0]))
            assert np.array_equal(one.value(theta), view.value(theta))


def test_fit_tables_gives_each_tables_own_fit():
    law = get_law("m4", inputs=["n"])
    tables = _tables(3)  # 9, 15 and 21 rows: two padded lengths
    bad = tables[0].assign(L=-tables[0]["L"])  # log objective: negative targets fail
    out = fit_tables(law, [*tables, bad], x=["n"], y="L", objective="mse_log", delta=1e-3)
    assert isinstance(out[-1][0], DataValidationError)  # reported for its table only
    for t, (res, _caught) in zip(tables, out[:-1], strict=True):
        ref = fit_table(law, t, x=["n"], y="L", objective="mse_log", delta=1e-3,
                        level=0.95, weights=None, starts=None, p0=None, random_state=None,
                        drop_invalid=False, keep=[], n_threads=None)
        # the same starts, stages and tolerances, on arrays of the same padded length:
        # the same numbers bit for bit
        assert res.loss == ref.loss
        assert np.array_equal(res.theta, ref.theta)
        assert res.n_starts == ref.n_starts


@pytest.mark.parametrize("objective", ["mse_log", "huber_log"])
def test_calibrate_many_equals_calibrate_one_by_one(objective):
    tables = _tables(4, seed=1)
    fits = [sl.fit("saturating_power", t, x="n", y="L", objective=objective) for t in tables]
    many = calibrate_many(fits)
    for f, m in zip(fits, many, strict=True):
        one = calibrate(f).calibration
        got = m.calibration
        assert got.note == one.note and got.n_points == one.n_points
        if objective == "mse_log":
            # refits on arrays of the same padded length: the same numbers, bit for bit
            assert got.kappa == one.kappa
            np.testing.assert_array_equal(got.errors.to_numpy(), one.errors.to_numpy())
        else:
            # Huber refits keep the trust-region search's optimum (STAGE1_FTOL,
            # unpolished), which moves with the batch at the 1e-9 level
            assert np.isclose(got.kappa, one.kappa, rtol=1e-6, atol=1e-9)
            np.testing.assert_allclose(got.errors.to_numpy(), one.errors.to_numpy(),
                                       rtol=0, atol=1e-7)


KW = {"x": "seen_examples", "y": "loss", "group": "curve", "split_column": "training",
      "objective": "mse_log"}


def _both_paths(df: pd.DataFrame, law: str, objective: str = "mse_log", **extra
                ) -> tuple[pd.DataFrame, ...]:
    """Per-group table of the per-group path, then of the batched path(s)."""
    kw0 = {**KW, "objective": objective}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sl.backtest(df, law, batch=False, **kw0).groups.set_index("group")
        ours = [sl.backtest(df, law, batch=True, **kw0, **kw).groups.set_index("group")
                for kw in [{}, *([extra] if extra else [])]]
    return ref, *ours


def _curves(*idx: int) -> pd.DataFrame:
    df = datasets.load("revisiting_nsl")
    curves = pd.unique(df["curve"])
    return df[df["curve"].isin([curves[i] for i in idx])]


def test_batched_backtest_gives_the_per_group_numbers():
    # curves of 10 to 67 training rows, image and translation (the fast ones)
    ref, ours, two = _both_paths(_curves(6, 54, 57, 66, 75), "m4", n_jobs=2)
    for got in (ours, two):
        assert (got["status"] == "ok").all()
        # the bar: per-curve RMSLE within 1e-6 of the per-group path
        assert np.allclose(got["rmsle"], ref.loc[got.index, "rmsle"], rtol=0, atol=1e-6)
        # stacks of one padded length change no number: equal, not only close
        assert got["rmsle"].tolist() == ref.loc[got.index, "rmsle"].tolist()
        assert got["pi_coverage"].tolist() == ref.loc[got.index, "pi_coverage"].tolist()
        assert got["warnings"].tolist() == ref.loc[got.index, "warnings"].tolist()


def test_batched_backtest_reports_unscorable_and_failed_groups():
    tables = _tables(3)
    rows = [t.assign(curve=f"c{k}", training=(np.arange(len(t)) < len(t) - 3).astype(int))
            for k, t in enumerate(tables)]
    tiny = rows[0].iloc[:4].assign(curve="tiny")  # 4 training rows, none held out
    bad = rows[1].assign(curve="bad", L=-rows[1]["L"])  # no positive loss: the log fails
    df = pd.concat([*rows, tiny, bad], ignore_index=True)
    kw = {"x": "n", "y": "L", "group": "curve", "split_column": "training"}
    g = sl.backtest(df, "saturating_power", batch=True, **kw).groups.set_index("group")
    assert g.loc["tiny", "status"] == "not scorable: no held-out rows"
    assert g.loc["bad", "status"].startswith("failed: DataValidationError")
    assert (g.loc[["c0", "c1", "c2"], "status"] == "ok").all()
    ref = sl.backtest(df, "saturating_power", batch=False, **kw).groups.set_index("group")
    assert g["status"].tolist() == ref["status"].tolist()
    np.testing.assert_array_equal(g["rmsle"], ref["rmsle"])


def test_batched_auto_backtest_gives_the_per_group_numbers():
    ref, ours = _both_paths(_curves(54, 66, 75), "auto")  # 14, 16, 10 training rows
    assert ours["law"].tolist() == ref["law"].tolist()  # the same choices
    assert ours["status"].tolist() == ref["status"].tolist()
    assert (ours["status"] == "ok").all()
    # every candidate's refits and the chosen fit on arrays of the same shapes
    np.testing.assert_array_equal(ours["rmsle"], ref["rmsle"])
    np.testing.assert_array_equal(ours["pi_coverage"], ref["pi_coverage"])
    assert ours["warnings"].tolist() == ref["warnings"].tolist()


def test_batched_auto_backtest_at_the_default_objective_agrees_with_the_per_group_path():
    ref, ours = _both_paths(_curves(54, 66, 75), "auto", objective="huber_log")
    assert ours["law"].tolist() == ref["law"].tolist()
    assert (ours["status"] == "ok").all() and (ref["status"] == "ok").all()
    # Huber refits keep the unpolished trust-region optimum, which moves with the
    # batch's composition at the 1e-9 level (measured 1.8e-9 in RMSLE): 1e-7
    np.testing.assert_allclose(ours["rmsle"], ref["rmsle"], rtol=0, atol=1e-7)
    np.testing.assert_allclose(ours["pi_coverage"], ref["pi_coverage"], rtol=0, atol=1e-12)
    # a refit's warnings (M3's refit at gamma = 0 forecasting 0) reach the table on both
    assert ours["warnings"].tolist() == ref["warnings"].tolist()


def test_the_refit_search_leaves_a_reported_fit_alone(monkeypatch):
    from scalelaw.fitting import _search

    t = _tables(3, seed=2)[2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # this M4 fit ends at a ridge (ConvergenceWarning)
        before = sl.fit("m4", t, x="n", y="L")
        monkeypatch.setattr(_search, "REFIT_PRESCREEN_KEEP", 1)
        monkeypatch.setattr(_search, "REFIT_PRESCREEN_KEEP_MANY", 1)
        after = sl.fit("m4", t, x="n", y="L")
    assert after.loss == before.loss and np.array_equal(after.theta, before.theta)
    assert after.n_starts == before.n_starts == _search.PRESCREEN_KEEP


def test_without_the_prescreen_a_default_grid_goes_through_lbfgs(monkeypatch):
    import scalelaw.fitting._search as search_module

    t = _tables(3)[2]
    on = sl.fit("saturating_power", t, x="n", y="L", objective="mse_log")
    monkeypatch.setattr(search_module, "PRESCREEN", False)
    off = sl.fit("saturating_power", t, x="n", y="L", objective="mse_log")
    assert off.n_starts > search_module.TRUST_MAX_STARTS  # every default start was run
    # both searches reach the same least-squares optimum (well determined: 21 rows,
    # 3 parameters, 1 % noise); the polish tolerance is 1e-13 relative
    assert off.loss == pytest.approx(on.loss, rel=1e-9)
    assert np.allclose(off.params, on.params, rtol=1e-5)


def test_calibrate_many_refuses_non_positive_inputs_as_calibrate_does():
    # logit_linear takes scores of any sign; calibration orders runs by log input
    s = np.linspace(-2.0, 2.0, 15)
    acc = 0.25 + 0.7 / (1.0 + np.exp(-(0.3 + 1.2 * s)))
    res = sl.fit("logit_linear", pd.DataFrame({"s": s, "acc": acc}), x="s", y="acc",
                 objective="mse")
    with pytest.raises(DataValidationError, match="positive inputs"):
        calibrate(res)
    with pytest.raises(DataValidationError, match="positive inputs"):
        calibrate_many([res])


@pytest.mark.parametrize("name", ["saturating_power", "m4"])
def test_a_backtest_refit_lands_near_the_reported_fits_optimum(name):
    # refit=True (backtest refits: 4 prescreened starts, the trust-region Huber
    # optimum unpolished) against the reported fit's search on the same tables
    law = get_law(name)
    kw = {"x": ["n"], "y": "L", "objective": "huber_log", "delta": 1e-3, "level": 0.95,
          "weights": None, "starts": None, "p0": None, "random_state": None,
          "drop_invalid": False, "keep": [], "n_threads": 1}
    gaps, moved = [], []
    for t in _tables(4, seed=3):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            full, light = fit_table(law, t, **kw), fit_table(law, t, refit=True, **kw)
        # the lighter search really ran: fewer starts than the reported fit's
        assert light.n_starts <= 4 < full.n_starts
        # the full search (8 starts for these laws, polished) is never worse, to rounding
        assert light.loss >= full.loss * (1 - 1e-12)
        gaps.append(light.loss / full.loss - 1)
        far = np.array([10 * t["n"].max()])
        moved.append(abs(light.predict(n=far)[0] / full.predict(n=far)[0] - 1))
    # measured: loss gaps <= 3e-6 except one M4 table whose 4 starts miss the best
    # basin (1.1 % higher loss), forecasts at 10x the data within 0.085 %; the bars
    # (2 % loss, 0.5 % forecast) sit well below the forecast errors the refits
    # measure (mean RMSLE 0.028-0.035 on the bundled curves' held-out points), and a
    # refit path that lost the optimum (no search, wrong starts) fails them
    assert max(gaps) < 0.02 and np.median(gaps) < 1e-5
    assert max(moved) < 5e-3


def test_a_refit_that_stops_at_its_iteration_limit_is_said_in_the_calibration(monkeypatch):
    # refits are not polished, so their search's iteration limit is where they stop:
    # one that stops there must be said, on the per-group and the batched paths alike
    from scalelaw.fitting import _search

    df = datasets.load("revisiting_nsl")
    curve = df.curve.unique()[0]
    train = df[(df.curve == curve) & df.training.astype(bool)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sl.fit("m4", train, x="seen_examples", y="loss")
        monkeypatch.setattr(_search, "TRUST_FIRST_ROUND", 2)
        monkeypatch.setattr(_search, "TRUST_SECOND_ROUND", 0)
        single = calibrate(res).calibration.note
        batched = calibrate_many([res])[0].calibration.note
    for note in (single, batched):
        # said as a warning (law="auto" counts notes without "warned" as failed cuts)
        assert "refit warned (did not meet its convergence test" in note
        assert "iteration limit" in note
    monkeypatch.undo()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert "convergence test" not in calibrate(res).calibration.note
