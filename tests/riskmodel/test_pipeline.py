"""The factor-risk chain: F0 → eigen adjustment → VRA with the timing of spec §7.4 (E4), resumable."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from riskmodel.covariance import correlation_from_covariance, factor_covariance_history
from riskmodel.eigen import eigen_adjust_history
from riskmodel.ewma import exponential_weights
from riskmodel.params import CHINA_REPLICATION, EigenParams
from riskmodel.pipeline import factor_risk_history, unit_covariances_for

K, N_DATES = 12, 420
PARAMS = dataclasses.replace(CHINA_REPLICATION, eigen=EigenParams(n_sims=50, refresh_days=5, seed=9))


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(40)
    a = rng.standard_normal((K, K))
    cov = (a @ a.T / K + np.eye(K)) * 1e-4
    returns = rng.standard_normal((N_DATES, K)) @ np.linalg.cholesky(cov).T
    returns[:150, 4] = np.nan  # an industry that starts later
    day_index = 7000 + np.arange(N_DATES)
    units = unit_covariances_for(PARAMS, K)
    return returns, day_index, units, factor_risk_history(returns, day_index, PARAMS, units)


def test_chain_timing_and_composition(inputs):
    """F_t = λ_t² F_eigen,t; B_t uses the returns of t and the eigen-adjusted volatilities made at t − 1; λ_t is
    the EWMA of B² up to t; the first forecast comes once λ has 42 bias values after the first covariance."""
    returns, day_index, units, result = inputs
    base = factor_covariance_history(returns, PARAMS.covariance).covariance
    eigen, _, _ = eigen_adjust_history(base, day_index, units, refresh_days=5)
    finite = np.isfinite(result.covariance[-1])
    np.testing.assert_allclose(result.covariance[-1][finite], (result.multiplier[-1] ** 2 * eigen[-1])[finite])
    np.testing.assert_allclose(
        correlation_from_covariance(result.covariance[-1]), correlation_from_covariance(eigen[-1]), atol=1e-14
    )
    t = 300
    sigma = np.sqrt(np.diag(eigen[t - 1]))
    present = np.isfinite(returns[t]) & np.isfinite(sigma)
    assert result.bias[t] == pytest.approx(np.sqrt(np.mean((returns[t][present] / sigma[present]) ** 2)), rel=1e-13)
    w = exponential_weights(PARAMS.factor_vra.window, PARAMS.factor_vra.half_life)
    window = result.bias[t - PARAMS.factor_vra.window + 1 : t + 1]
    ok = np.isfinite(window)
    assert result.multiplier[t] == pytest.approx(np.sqrt(w[ok] @ window[ok] ** 2 / w[ok].sum()), rel=1e-12)

    first_cov = PARAMS.covariance.min_observations - 1  # 63 returns
    first_forecast = first_cov + PARAMS.factor_vra.min_observations  # B from first_cov + 1, 42 of them
    assert np.isnan(result.covariance[first_forecast - 1]).all()
    assert np.isfinite(result.covariance[first_forecast][np.ix_([0, 1], [0, 1])]).all()
    assert np.isfinite(result.covariance[-1][4]).all()  # factor 4 has 270 returns by the end


def test_chain_resumes_bit_identically(inputs):
    """Two calls joined by the state equal one call, bit for bit (eigen refresh schedule and VRA included)."""
    returns, day_index, units, result = inputs
    first = factor_risk_history(returns[:233], day_index[:233], PARAMS, units)
    second = factor_risk_history(returns[233:], day_index[233:], PARAMS, units, state=first.state)
    np.testing.assert_array_equal(np.concatenate([first.covariance, second.covariance]), result.covariance)
    np.testing.assert_array_equal(np.concatenate([first.multiplier, second.multiplier]), result.multiplier)
