"""The test portfolios' risk without an N x N matrix equals the dense computation."""

from __future__ import annotations

import numpy as np

from riskmodel.portfolios import min_variance_weights, portfolio_variance, portfolio_variances, random_weights


def _model(rng, n=60, k=5):
    x = rng.normal(size=(n, k))
    a = rng.normal(size=(k, k)) * 0.01
    f = a @ a.T
    f[0, 0] = 0.0  # a singular F is allowed (no inverse of F is taken)
    f[0, :] = f[:, 0] = 0.0
    d = rng.uniform(0.01, 0.03, n)
    return x, f, d


def test_min_variance_weights_equal_the_dense_solution():
    rng = np.random.default_rng(1)
    x, f, d = _model(rng)
    v = x @ f @ x.T + np.diag(d**2)
    dense = np.linalg.solve(v, np.ones(len(d)))
    dense /= dense.sum()
    w = min_variance_weights(x, f, d)
    np.testing.assert_allclose(w, dense, rtol=1e-9, atol=1e-12)
    assert w.sum() == np.float64(1.0) or abs(w.sum() - 1) < 1e-12
    assert (
        portfolio_variance(w, x, f, d) == np.float64(w @ v @ w)
        or abs(portfolio_variance(w, x, f, d) - w @ v @ w) < 1e-16
    )
    # no other fully invested portfolio is less risky
    other = w + rng.normal(size=len(w)) * 1e-3
    other += (1 - other.sum()) / len(other)
    assert other @ v @ other > w @ v @ w


def test_random_weights_are_long_only_and_fully_invested():
    w = random_weights(100, 50, np.random.default_rng(2))
    assert (w >= 0).all() and np.count_nonzero(w) == 50 and abs(w.sum() - 1) < 1e-12
    assert np.count_nonzero(random_weights(10, 50, np.random.default_rng(2))) == 10


def test_batched_variances_equal_the_dense_quadratic_form_of_each_portfolio():
    rng = np.random.default_rng(3)
    x, f, d = _model(rng)
    v = x @ f @ x.T + np.diag(d**2)
    weights = np.column_stack([random_weights(len(d), 20, rng) for _ in range(6)] + [min_variance_weights(x, f, d)])
    batched = portfolio_variances(weights, x, f, d)
    dense = np.array([w @ v @ w for w in weights.T])
    np.testing.assert_allclose(batched, dense, rtol=1e-12)
    np.testing.assert_allclose(batched, [portfolio_variance(w, x, f, d) for w in weights.T], rtol=1e-13)
