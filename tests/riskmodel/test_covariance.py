"""Spec §12 E1, E5 and the PSD part of A3: the base factor covariance; the whole-history function equals the
one-date function."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from riskmodel.bias import bias_statistic
from riskmodel.covariance import (
    correlation_from_covariance,
    factor_covariance,
    factor_covariance_history,
    repair_correlation,
)
from riskmodel.ewma import bartlett_weights, exponential_weights, lagged_moments, newey_west
from riskmodel.params import CHINA_REPLICATION, USE4S, CovarianceParams
from riskmodel.units import scale_variance


def random_covariance(rng: np.random.Generator, k: int, daily_vol: float = 0.01) -> np.ndarray:
    a = rng.standard_normal((k, k))
    c = a @ a.T / k + np.diag(rng.uniform(0.2, 1.0, k))
    d = 1 / np.sqrt(np.diag(c))
    vols = daily_vol * rng.uniform(0.5, 2.0, k)
    return (c * np.outer(d, d)) * np.outer(vols, vols)


def test_e1_converges_to_the_true_covariance():
    """E1: with a long half-life the EWMA + NW estimate of i.i.d. returns lies within 4.5 standard errors of
    the true F in every entry (se² ≈ (1 + 2 Σ b²)(F_ii F_jj + F_ij²) Σ w², the EWMA sampling variance with
    the NW lag terms' noise added)."""
    rng = np.random.default_rng(10)
    k = 6
    true = random_covariance(rng, k)
    params = CovarianceParams(vol_half_life=3000, vol_lags=2, corr_half_life=3000, corr_lags=2, window=12000)
    returns = rng.standard_normal((12000, k)) @ np.linalg.cholesky(true).T
    estimate = factor_covariance(returns, params)
    w = exponential_weights(params.window, params.corr_half_life)
    variance = (1 + 2 * bartlett_weights(2) @ bartlett_weights(2)) * (np.outer(np.diag(true), np.diag(true)) + true**2)
    z = (estimate - true) / np.sqrt(variance * (w @ w))
    assert np.abs(z).max() < 4.5


def test_e1_volatility_and_correlation_use_their_own_half_lives():
    """E1: volatilities come from the volatility half-life and lags, correlations from the correlation ones
    (a regime change in the last 60 days tells them apart); unit-diagonal correlation; F0 symmetric PSD."""
    rng = np.random.default_rng(11)
    k = 5
    calm, stormy = random_covariance(rng, k), 4 * random_covariance(rng, k)
    returns = np.vstack(
        [
            rng.standard_normal((440, k)) @ np.linalg.cholesky(calm).T,
            rng.standard_normal((60, k)) @ np.linalg.cholesky(stormy).T,
        ]
    )
    params = USE4S.covariance  # vol 84 / 5 lags, corr 504 / 2 lags
    f0 = factor_covariance(returns, params)
    vol = newey_west(lagged_moments(returns, 84, 5).gammas, cross=False)
    corr = correlation_from_covariance(newey_west(lagged_moments(returns, 504, 2, cross=True).gammas, cross=True))
    np.testing.assert_allclose(np.diag(f0), vol, rtol=1e-13)
    np.testing.assert_allclose(correlation_from_covariance(f0), corr, rtol=1e-12, atol=1e-15)
    swapped = newey_west(lagged_moments(returns, 504, 2).gammas, cross=False)
    assert np.all(np.abs(vol / swapped - 1) > 0.05)  # the two half-lives give visibly different variances
    np.testing.assert_array_equal(f0, f0.T)
    assert np.linalg.eigvalsh(f0).min() > 0
    np.testing.assert_allclose(np.diag(correlation_from_covariance(f0)), 1.0, rtol=1e-15)


def test_a3_pairwise_estimate_is_repaired_to_psd():
    """A3: pairwise estimation over different dates can give a non-PSD correlation (here A = B, B = C but
    A = −C); it is repaired: eigenvalues >= the floor (up to rescaling), unit diagonal, symmetric."""
    rng = np.random.default_rng(12)
    n = 300
    returns = np.full((3 * n, 3), np.nan)
    s1, s2, s3 = (rng.normal(0, 0.01, n) for _ in range(3))
    returns[:n, 0] = returns[:n, 1] = s1
    returns[n : 2 * n, 1] = returns[n : 2 * n, 2] = s2
    returns[2 * n :, 0], returns[2 * n :, 2] = s3, -s3
    params = CovarianceParams(vol_half_life=500, vol_lags=0, corr_half_life=500, corr_lags=0, window=3 * n)
    raw = correlation_from_covariance(lagged_moments(returns, 500, 0, cross=True).gammas[0])
    assert np.linalg.eigvalsh(raw).min() < -0.5
    f0 = factor_covariance(returns, params)
    corr = correlation_from_covariance(f0)
    np.testing.assert_allclose(np.diag(corr), 1.0, rtol=1e-15)
    np.testing.assert_array_equal(f0, f0.T)
    assert np.linalg.eigvalsh(corr).min() > 0.5 * params.psd_floor
    healthy = random_covariance(rng, 4)
    assert repair_correlation(correlation_from_covariance(healthy), 1e-10) is not None
    c = correlation_from_covariance(healthy)
    assert repair_correlation(c, 1e-10) is c  # a PSD matrix is returned untouched


def gappy_factor_returns(rng: np.random.Generator, n_dates: int, k: int) -> np.ndarray:
    """Factor returns with the gaps of real industries: one starts late, one has an empty spell, a few NaN."""
    returns = rng.standard_normal((n_dates, k)) @ np.linalg.cholesky(random_covariance(rng, k)).T
    returns[: n_dates // 4, 7] = np.nan
    returns[n_dates // 2 : n_dates // 2 + 30, 12] = np.nan
    returns[rng.random(returns.shape) < 0.01] = np.nan
    return returns


@pytest.mark.parametrize("params", [CHINA_REPLICATION.covariance, USE4S.covariance], ids=["china", "use4s"])
def test_history_equals_one_date_function(params):
    """The whole-history function equals the one-date function at several dates to 1e-12 (on the correlation
    scale, |ΔF_ij| / sqrt(F_ii F_jj)), with NaN in the same places, K = 43, before and after the window fills."""
    rng = np.random.default_rng(13)
    n_dates = params.window + 300
    returns = gappy_factor_returns(rng, n_dates, 43)
    whole = factor_covariance_history(returns, params).covariance
    for t in (10, 62, 63, params.window // 2, params.window - 1, params.window, n_dates - 1):
        one = factor_covariance(returns[: t + 1], params)
        np.testing.assert_array_equal(np.isnan(whole[t]), np.isnan(one))
        scale = np.sqrt(np.outer(np.diag(one), np.diag(one)))
        finite = np.isfinite(one)
        assert finite.any() == (t >= params.min_observations - 1)
        if finite.any():
            assert np.max(np.abs(whole[t] - one)[finite] / scale[finite]) < 1e-12


def test_history_resumes_bit_identically(tmp_path):
    """A history resumed from the stored state of an earlier run equals, bit for bit, one run over it all."""
    params = CHINA_REPLICATION.covariance
    returns = gappy_factor_returns(np.random.default_rng(14), 500, 43)
    whole = factor_covariance_history(returns, params).covariance
    first = factor_covariance_history(returns[:377], params)
    second = factor_covariance_history(returns[377:], params, state=first.state)
    np.testing.assert_array_equal(np.concatenate([first.covariance, second.covariance]), whole)
    assert dataclasses.asdict(second.state)["corr"]["rows"] == 500


def test_e5_daily_and_monthly_horizons_have_unit_bias():
    """E5: MA(1) factor returns (θ = 0.3), forecasts made at month ends from the trailing 5,000 days (equal
    weights, so estimation noise biases B by well under 1%). A daily model (no NW) predicts the next day's
    returns with B ≈ 1; a monthly model (NW with L = 20, whose Bartlett weights 1 − Δ/21 are exactly those of
    a 21-day sum, scaled × 21) predicts the next 21-day returns with B ≈ 1. Without the × 21, or without the NW
    terms (B ≈ 1.3 / sqrt(1.09) ≈ 1.245), the monthly bias leaves the band."""
    rng = np.random.default_rng(15)
    k, theta, window, months = 12, 0.3, 5000, 250
    e = rng.standard_normal((window + 21 * months + 2, k)) * 0.01
    returns = e[1:] + theta * e[:-1]
    ends = window - 1 + 21 * np.arange(months)  # forecasts made at these closes

    def forecasts(lags: int) -> np.ndarray:
        params = CovarianceParams(np.inf, lags, np.inf, lags, window=window)
        return np.array([np.diag(factor_covariance(returns[: t + 1], params)) for t in ends])

    daily_var, nw_var = forecasts(0), forecasts(20)
    b_daily = bias_statistic(returns[ends + 1] / np.sqrt(daily_var), axis=0)
    assert abs(b_daily.mean() - 1) < 4 * b_daily.std(ddof=1) / np.sqrt(k)

    realized = np.array([returns[t + 1 : t + 22].sum(axis=0) for t in ends])

    def monthly_bias(variance: np.ndarray, days: float) -> np.ndarray:
        return bias_statistic(realized / np.sqrt(scale_variance(variance, days)), axis=0)

    b_month = monthly_bias(nw_var, 21)
    band = 4 * b_month.std(ddof=1) / np.sqrt(k)
    assert abs(b_month.mean() - 1) < band
    assert monthly_bias(nw_var, 1).mean() > 1 + 10 * band  # × 21 forgotten: B ≈ 4.6
    assert monthly_bias(daily_var, 21).mean() > 1 + 4 * band  # no NW
