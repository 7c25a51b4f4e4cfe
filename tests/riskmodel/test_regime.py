"""Spec §12 E4: the volatility regime adjustment, and its timing (data up to t − 1 only)."""

from __future__ import annotations

import numpy as np
import pytest

from riskmodel.covariance import correlation_from_covariance
from riskmodel.ewma import exponential_weights
from riskmodel.regime import (
    apply_factor_vra,
    apply_specific_vra,
    cross_sectional_bias,
    cross_sectional_volatility,
    vra_multiplier,
)

K, N_DATES, HALF_LIFE = 40, 2000, 42.0


@pytest.fixture(scope="module")
def world():
    """cne5-checks.py's VRA world: 2,000 days, 40 factors with known, changing volatilities."""
    rng = np.random.default_rng(4)
    sigma = np.exp(rng.normal(-5, 0.3, (N_DATES, K)))
    returns = rng.standard_normal((N_DATES, K)) * sigma
    forecasts = np.empty_like(sigma)
    forecasts[:-1] = sigma[1:]  # made at the close of t for t + 1: exact
    forecasts[-1] = sigma[-1]
    return returns, forecasts


def multiplier_band() -> float:
    """sd of λ for exact forecasts: B_t² has mean 1 and variance 2/K; the EWMA averages with weights w, so
    sd(λ²) = sqrt(2/K · Σw²) and sd(λ) = sd(λ²)/2."""
    w = exponential_weights(N_DATES, HALF_LIFE)
    return 0.5 * np.sqrt(2 / K * (w @ w))


def test_e4_exact_forecasts_give_unit_multiplier(world):
    """E4 †: with exact forecasts λ_F ≈ 1 (cne5-checks.py: 1.00); with forecasts 1.5× too small λ_F = 1.5 λ_exact
    exactly (cne5-checks.py: 1.50)."""
    returns, forecasts = world
    bias = cross_sectional_bias(returns, forecasts)
    assert np.isnan(bias[0]) and np.isfinite(bias[1:]).all()
    multiplier, _ = vra_multiplier(bias, HALF_LIFE, N_DATES, min_observations=42)
    assert abs(multiplier[-1] - 1.0) < 4 * multiplier_band()
    assert abs(np.nanmean(multiplier) - 1.0) < 4 * multiplier_band()
    small, _ = vra_multiplier(cross_sectional_bias(returns, forecasts / 1.5), HALF_LIFE, N_DATES, 42)
    np.testing.assert_allclose(small, 1.5 * multiplier, rtol=1e-13)
    assert abs(small[-1] - 1.5) < 4 * 1.5 * multiplier_band()
    assert np.isnan(multiplier[:42]).all() and np.isfinite(multiplier[42:]).all()  # first bias is on day 1


def test_e4_correlations_unchanged():
    """E4: F_VRA = λ² F changes volatilities by λ and no correlation."""
    rng = np.random.default_rng(5)
    a = rng.standard_normal((6, 6))
    f = a @ a.T * 1e-4
    adjusted = apply_factor_vra(f, 1.3)
    np.testing.assert_allclose(correlation_from_covariance(adjusted), correlation_from_covariance(f), rtol=1e-14)
    np.testing.assert_allclose(np.sqrt(np.diag(adjusted)), 1.3 * np.sqrt(np.diag(f)), rtol=1e-15)
    np.testing.assert_allclose(apply_specific_vra(np.array([0.01, 0.02]), 1.3), [0.013, 0.026], rtol=1e-15)


def test_e4_multiplier_uses_only_earlier_data(world):
    """E4: the multiplier made at the close of t (for t + 1) uses returns up to t and forecasts made up to
    t − 1: changing later returns or forecasts made at t or later leaves it untouched; the return of t moves it."""
    returns, forecasts = world
    t = 1200
    base, _ = vra_multiplier(cross_sectional_bias(returns, forecasts), HALF_LIFE, 252, 42)
    later_returns, later_forecasts = returns.copy(), forecasts.copy()
    later_returns[t + 1 :] *= 3.0
    later_forecasts[t:] *= 0.2
    changed, _ = vra_multiplier(cross_sectional_bias(later_returns, later_forecasts), HALF_LIFE, 252, 42)
    np.testing.assert_array_equal(changed[: t + 1], base[: t + 1])
    assert not np.any(changed[t + 1 :] == base[t + 1 :])
    today = returns.copy()
    today[t] *= 3.0
    moved, _ = vra_multiplier(cross_sectional_bias(today, forecasts), HALF_LIFE, 252, 42)
    assert moved[t] > base[t]
    np.testing.assert_array_equal(moved[:t], base[:t])


def test_multiplier_resumes_and_skips_missing_days(world):
    """The multiplier resumes bit-identically from its state; a day without bias statistic is skipped."""
    returns, forecasts = world
    bias = cross_sectional_bias(returns, forecasts)
    bias[500] = np.nan
    whole, _ = vra_multiplier(bias, HALF_LIFE, 252, 42)
    first, state = vra_multiplier(bias[:731], HALF_LIFE, 252, 42)
    second, _ = vra_multiplier(bias[731:], HALF_LIFE, 252, 42, state=state)
    np.testing.assert_array_equal(np.concatenate([first, second]), whole)
    w = exponential_weights(252, HALF_LIFE)
    window = bias[700 - 251 : 701]
    present = np.isfinite(window)
    expected = np.sqrt((w[present] @ window[present] ** 2) / w[present].sum())
    assert whole[700] == pytest.approx(expected, rel=1e-12)


def test_weighted_bias_and_cross_sectional_volatility():
    """Cap-weighted B (U4 eq. 5.10) and CSV (eq. 4.6) from their definitions, missing values skipped."""
    returns = np.array([[0.0, 0.0, 0.0], [0.02, -0.01, np.nan]])
    forecasts = np.array([[0.01, 0.02, 0.01], [0.0, 0.0, 0.0]])
    caps = np.array([[1.0, 1.0, 1.0], [3.0, 1.0, 5.0]])
    b = cross_sectional_bias(returns, forecasts, caps)
    assert b[1] == pytest.approx(np.sqrt((3 * 2.0**2 + 1 * 0.5**2) / 4), rel=1e-14)
    csv = cross_sectional_volatility(returns)
    assert csv[1] == pytest.approx(np.sqrt((0.02**2 + 0.01**2) / 2), rel=1e-14)
