import numpy as np

from scalelaw.optim import levenberg_marquardt_batch, minimize_batch


def rosenbrock(x, rows):
    a, b = x[:, 0], x[:, 1]
    f = (1 - a) ** 2 + 100 * (b - a**2) ** 2
    g = np.stack([-2 * (1 - a) - 400 * a * (b - a**2), 200 * (b - a**2)], axis=1)
    return f, g


def test_batched_lbfgs_solves_many_rosenbrocks_at_once():
    x0 = np.random.default_rng(0).uniform(-2, 2, size=(300, 2))
    res = minimize_batch(rosenbrock, x0, -np.inf, np.inf, ftol=1e-14, gtol=1e-10,
                         chunk_size=64, n_threads=2)
    assert res.converged.all()
    # the minimum is (1, 1); at ftol 1e-14 the iterate is within 1e-5 of it
    assert np.abs(res.x - 1.0).max() < 1e-5
    assert res.n_eval > 300


def test_bounds_are_respected_and_fixed_variables_stay_fixed():
    def quad(x, rows):
        target = np.array([3.0, -2.0, 0.5])
        return ((x - target) ** 2).sum(1), 2 * (x - target)

    lo = np.array([-1.0, -1.0, 0.0])
    hi = np.array([1.0, 1.0, 0.0])  # third variable fixed at 0
    res = minimize_batch(quad, np.zeros((4, 3)), lo, hi, ftol=1e-15)
    assert np.allclose(res.x, [[1.0, -1.0, 0.0]] * 4, atol=1e-12)


def test_nonfinite_start_is_reported_not_hidden():
    def bad(x, rows):
        f = np.where(x[:, 0] > 0, np.nan, (x**2).sum(1))
        return f, 2 * x

    res = minimize_batch(bad, np.array([[1.0, 1.0], [-1.0, 1.0]]), -np.inf, np.inf)
    assert res.status[0] == 4 and not res.converged[0]
    assert res.converged[1] and np.allclose(res.x[1], 0.0, atol=1e-8)


def test_levenberg_marquardt_matches_linear_least_squares():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(50, 3))
    ys = rng.normal(size=(20, 50))

    def fgh(x, rows):
        r = x @ a.T - ys[rows]
        return 0.5 * (r**2).sum(1), r @ a, np.broadcast_to(a.T @ a, (len(x), 3, 3)).copy()

    def f(x, rows):
        return 0.5 * ((x @ a.T - ys[rows]) ** 2).sum(1)

    res = levenberg_marquardt_batch(fgh, f, np.zeros((20, 3)), -np.inf, np.inf)
    expect = np.linalg.lstsq(a, ys.T, rcond=None)[0].T
    assert np.allclose(res.x, expect, rtol=1e-8, atol=1e-10)


def test_a_stall_counts_as_converged_only_after_the_first_order_test():
    from scalelaw.optim import CONVERGED_STATUSES, STATUS_MESSAGES

    # |x - c| + 1 has a kink at its minimum: no step decreases it near c, but its
    # gradient stays +-1, so the first-order test must fail (status 5)
    c = 0.123456789

    def fgh(x, rows):
        return np.abs(x[:, 0] - c) + 1.0, np.sign(x - c), np.full((x.shape[0], 1, 1), 1e-8)

    def fun(x, rows):
        return np.abs(x[:, 0] - c) + 1.0

    res = levenberg_marquardt_batch(fgh, fun, np.array([[0.5], [2.0]]), np.array([-10.0]),
                                    np.array([10.0]))
    assert res.status.tolist() == [5, 5]
    assert not res.converged.any() and 5 not in CONVERGED_STATUSES
    assert "first-order test failed" in STATUS_MESSAGES[5]
    # a smooth least-squares problem that stalls at rounding passes it (status 2)
    t = np.linspace(0, 1, 20)
    y = 2.0 * t + 1.0

    def fgh2(x, rows):
        r = x[:, :1] * t + x[:, 1:] - y
        jac = np.stack([np.broadcast_to(t, r.shape), np.ones_like(r)], axis=2)
        return 0.5 * (r**2).sum(1), np.einsum("bn,bnp->bp", r, jac), \
            np.einsum("bnp,bnq->bpq", jac, jac)

    def fun2(x, rows):
        return 0.5 * ((x[:, :1] * t + x[:, 1:] - y) ** 2).sum(1)

    res = levenberg_marquardt_batch(fgh2, fun2, np.array([[0.0, 0.0]]), np.full(2, -9.0),
                                    np.full(2, 9.0), ftol=0.0, f_floor=1e-28)
    assert res.status.tolist() == [2] and res.converged.all()
    np.testing.assert_allclose(res.x[0], [2.0, 1.0], rtol=1e-12)


def test_fit_result_keeps_the_optimiser_message():
    import pandas as pd

    import scalelaw as sl
    from scalelaw.optim import STATUS_MESSAGES

    x = np.logspace(6, 9, 12)
    res = sl.fit("power", pd.DataFrame({"n": x, "L": 2 * x**-0.1}), x="n", y="L")
    assert res.converged and res.message in STATUS_MESSAGES.values()
    assert f"optimiser: {res.message}" in res.summary()
