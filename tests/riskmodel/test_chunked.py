"""Canonical chunks: a chunk's values depend on the rows from its warm-up start only, so a build that loads
more history (a full build) and one that loads exactly the warm-up (an incremental build) agree bit for bit,
and the values agree with the one-date kernels to rounding."""

from __future__ import annotations

import numpy as np
import pytest

from riskmodel.chunked import (
    blending_at,
    chunk_days,
    chunk_start,
    eigen_covariance_chunk,
    multipliers,
    time_series_chunk,
    warm_up_start,
)
from riskmodel.covariance import factor_covariance
from riskmodel.params import CHINA_REPLICATION, USE4L, USE4S, EigenParams
from riskmodel.pipeline import unit_covariances_for
from riskmodel.regime import cross_sectional_bias, grouped_bias
from riskmodel.specific import blending_coefficient, time_series_volatility

PARAMS = CHINA_REPLICATION.__class__(
    name="test",
    covariance=CHINA_REPLICATION.covariance,
    factor_vra=CHINA_REPLICATION.factor_vra,
    specific=CHINA_REPLICATION.specific,
    eigen=EigenParams(n_sims=50, refresh_days=21),
)


def test_chunk_length_is_a_refresh_multiple_holding_every_vra_window():
    for params in (CHINA_REPLICATION, USE4S, USE4L):
        c = chunk_days(params)
        assert c % params.eigen.refresh_days == 0
        assert c >= max(252, params.factor_vra.window, params.specific.vra.window)
    assert chunk_days(CHINA_REPLICATION) == 252
    assert chunk_start(700, 252) == 504 and chunk_start(504, 252) == 504


def _returns(rng, days: int, k: int) -> np.ndarray:
    r = rng.normal(0, 0.01, (days, k))
    r[:80, -1] = np.nan  # a factor that starts late
    return r


def test_eigen_chunk_is_the_same_from_any_earlier_start():
    rng = np.random.default_rng(3)
    days = np.arange(900)
    days = days[days != 530]  # a date without a regression
    returns = _returns(rng, len(days), 6)
    units = unit_covariances_for(PARAMS, 6)
    first = 504
    _, base_a, adj_a = eigen_covariance_chunk(returns, days, first, PARAMS, units)
    start = np.searchsorted(days, warm_up_start(first, PARAMS.covariance.window))
    last = np.searchsorted(days, 700)
    rows_b, base_b, adj_b = eigen_covariance_chunk(returns[start:last], days[start:last], first, PARAMS, units)
    n = rows_b.sum()
    assert n > 100
    np.testing.assert_array_equal(base_a[:n], base_b)  # bit for bit
    np.testing.assert_array_equal(adj_a[:n], adj_b)
    # and the running base equals the direct one-date kernel over the same window to rounding (day 520:
    # its window holds no skipped date)
    t = int(np.searchsorted(days, 520))
    window = returns[t - PARAMS.covariance.window + 1 : t + 1]
    np.testing.assert_allclose(base_a[16], factor_covariance(window, PARAMS.covariance), rtol=1e-9)


def test_multipliers_are_the_same_from_any_earlier_start():
    rng = np.random.default_rng(4)
    days = np.arange(1000)
    bias = np.abs(rng.normal(1, 0.3, len(days)))
    wanted = days >= 600
    full = multipliers(bias, days, wanted, PARAMS.factor_vra, 252)
    start = warm_up_start(504, PARAMS.factor_vra.window)
    part = multipliers(bias[start:], days[start:], wanted[start:], PARAMS.factor_vra, 252)
    np.testing.assert_array_equal(full[600:], part[600 - start :])
    assert np.isfinite(full[600:]).all() and np.isnan(full[:600]).all()
    # λ at day 700: sqrt of the EWMA of B² over the 252 days up to it (weights renormalized)
    w = 0.5 ** (np.arange(252)[::-1] / PARAMS.factor_vra.half_life)
    expected = np.sqrt(np.sum(w * bias[449:701] ** 2) / w.sum())
    assert full[700] == pytest.approx(expected, rel=1e-12)


def test_time_series_chunk_matches_the_one_date_kernel_and_any_start():
    rng = np.random.default_rng(5)
    days = np.arange(800)
    residuals = rng.normal(0, 0.02, (len(days), 30))
    residuals[rng.random(residuals.shape) < 0.1] = np.nan
    _, ts = time_series_chunk(residuals, days, 504, PARAMS)
    start = warm_up_start(504, PARAMS.specific.window)
    _, ts_b = time_series_chunk(residuals[start:], days[start:], 504, PARAMS)
    np.testing.assert_array_equal(ts.volatility, ts_b.volatility)
    t = 600
    direct = time_series_volatility(residuals[: t + 1], PARAMS.specific)
    np.testing.assert_allclose(ts.volatility[t - 504], direct.volatility, rtol=1e-10)
    gamma = blending_at(residuals, days, t, 180)
    np.testing.assert_array_equal(gamma, blending_coefficient(residuals[t - 179 : t + 1], 180))


def test_grouped_bias_equals_the_wide_form():
    rng = np.random.default_rng(6)
    returns = rng.normal(0, 0.02, (5, 40))
    forecasts = np.abs(rng.normal(0.02, 0.005, (5, 40)))
    weights = rng.uniform(1, 10, (5, 40))
    returns[0, :3] = np.nan
    wide = cross_sectional_bias(returns[1:], forecasts[1:], weights[1:], previous_forecast=forecasts[0])
    prior = forecasts[:-1]
    groups = np.repeat(np.arange(4), 40)
    long = grouped_bias(groups, 4, returns[1:].ravel(), prior.ravel(), weights[1:].ravel())
    np.testing.assert_allclose(long, wide, rtol=1e-14)
