"""Spec §12 F1–F5: specific risk (γ, structural model, shrinkage, specific VRA, bias by volatility decile)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize, stats

from riskmodel.bias import bias_statistic
from riskmodel.ewma import exponential_weights, lagged_moments
from riskmodel.params import CHINA_REPLICATION, SpecificParams, VraParams
from riskmodel.regime import cross_sectional_bias, vra_multiplier
from riskmodel.regression import design_matrix
from riskmodel.specific import (
    bayesian_shrinkage,
    blend_volatility,
    blending_coefficient,
    size_groups,
    specific_risk,
    structural_volatility,
    time_series_volatility,
    time_series_volatility_history,
)


def mixture_gamma(share: float, scale: float) -> float:
    """Population γ of the mixture (1 − share) N(0, 1) + share N(0, scale²), from the EUE3 formula."""
    cdf = lambda q: (1 - share) * stats.norm.cdf(q) + share * stats.norm.cdf(q / scale)  # noqa: E731
    q3 = optimize.brentq(lambda q: cdf(q) - 0.75, 0.0, 20.0)
    robust = 2 * q3 / 1.35
    cut = 10 * robust

    def truncated(sigma: float) -> tuple[float, float]:  # P(|x| <= cut) and E[x²; |x| <= cut]
        a = cut / sigma
        inside = 2 * stats.norm.cdf(a) - 1
        return inside, sigma**2 * (inside - 2 * a * stats.norm.pdf(a))

    (p1, m1), (p2, m2) = truncated(1.0), truncated(scale)
    sigma_eq = np.sqrt(((1 - share) * m1 + share * m2) / ((1 - share) * p1 + share * p2))
    return min(1.0, np.exp(1 - abs(sigma_eq / robust - 1)))


def test_f1_blending_coefficient():
    """F1: fewer than 60 returns give γ = 0 (and 120 give 0.5); 180 Gaussian returns give γ = 1; Cauchy returns
    give γ < 1 on average; a heavy-tailed mixture converges to its population γ (within 4 standard errors)."""
    rng = np.random.default_rng(20)
    n = 4000
    normal = rng.standard_normal((180, n))
    assert np.all(blending_coefficient(normal) == 1.0)
    thin = normal.copy()
    thin[:125] = np.nan  # 55 returns left
    assert np.all(blending_coefficient(thin) == 0.0)
    half = normal.copy()
    half[:60] = np.nan  # 120 returns: (120 − 60) / 120
    np.testing.assert_allclose(blending_coefficient(half), 0.5, rtol=1e-15)

    cauchy = blending_coefficient(rng.standard_cauchy((180, n)))
    assert cauchy.mean() < 1 - 10 * cauchy.std(ddof=1) / np.sqrt(n)
    assert 0.3 < (cauchy < 1).mean() < 0.7  # truncated Cauchy sits at the Z = 1 edge: about half below 1

    m, length = 1000, 2000
    heavy = rng.standard_normal((length, m)) * np.where(rng.random((length, m)) < 0.3, 6.0, 1.0)
    gamma = blending_coefficient(heavy, window=length)
    expected = mixture_gamma(0.3, 6.0)
    assert expected < 0.85
    assert abs(gamma.mean() - expected) < 4 * gamma.std(ddof=1) / np.sqrt(m)


def structural_world(rng: np.random.Generator, n: int = 3000):
    industries = rng.integers(0, 10, n)
    x = design_matrix(industries, rng.standard_normal((n, 3)), 10)
    b = np.r_[-4.0, rng.normal(0, 0.2, 10), [0.1, -0.2, 0.05]]
    caps = np.exp(rng.normal(22, 1.2, n))
    return x, b, caps


def test_f2_structural_model_recovers_exact_volatilities():
    """F2: σ = exp(X b) exactly (collinear country and industry columns included) is recovered with E0 = 1;
    with lognormal noise ε ~ N(0, s²), E0 estimates E[exp ε] = exp(s²/2) within 4 standard errors."""
    rng = np.random.default_rng(21)
    x, b, caps = structural_world(rng)
    sigma = np.exp(x @ b)
    gamma = np.ones(len(sigma))
    model = structural_volatility(sigma, x, np.sqrt(caps), gamma)
    assert model.e0 == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(model.volatility, sigma, rtol=1e-12)

    s = 0.3
    noise = rng.normal(0, s, len(sigma))
    noisy = structural_volatility(sigma * np.exp(noise), x, np.sqrt(caps), gamma)
    v = np.sqrt(caps) / np.sqrt(caps).sum()
    se = np.exp(s**2 / 2) * np.sqrt(np.exp(s**2) - 1) * np.sqrt(v @ v)
    assert abs(noisy.e0 - np.exp(s**2 / 2)) < 4 * se
    fixed = structural_volatility(sigma * np.exp(noise), x, np.sqrt(caps), gamma, e0=1.026)
    np.testing.assert_allclose(fixed.volatility, 1.026 / noisy.e0 * noisy.volatility, rtol=1e-12)

    # only γ = 1 stocks estimate; everyone with exposures gets a forecast
    gamma[:1000] = 0.5
    partial = structural_volatility(np.where(gamma == 1, sigma, 99.0), x, np.sqrt(caps), gamma)
    assert not partial.estimation[:1000].any()
    np.testing.assert_allclose(partial.volatility, sigma, rtol=1e-12)


def shrink_by_hand(sigma: np.ndarray, caps: np.ndarray, q: float) -> np.ndarray:
    """U4 eq. 5.6–5.9 written out per decile (a reference for the vectorized version)."""
    order = np.argsort(caps, kind="stable")
    out = sigma.copy()
    for group in np.array_split(order, 10):
        target = np.sum(caps[group] * sigma[group]) / np.sum(caps[group])
        dispersion = np.sqrt(np.mean((sigma[group] - target) ** 2))
        distance = np.abs(sigma[group] - target)
        v = q * distance / (dispersion + q * distance)
        out[group] = v * target + (1 - v) * sigma[group]
    return out


def test_f3_shrinkage():
    """F3: v ∈ [0, 1); σ^SH between σ̂ and σ̄; q = 0 changes nothing; larger |σ̂ − σ̄| gives larger v;
    equal to the formula written out per decile."""
    rng = np.random.default_rng(22)
    n = 1000  # 100 per decile, as np.array_split cuts them
    caps = np.exp(rng.normal(22, 1.2, n))
    sigma = np.exp(rng.normal(-4, 0.4, n))
    result = bayesian_shrinkage(sigma, caps, 0.1)
    np.testing.assert_allclose(result.volatility, shrink_by_hand(sigma, caps, 0.1), rtol=1e-13)
    assert np.all((result.intensity >= 0) & (result.intensity < 1))
    low = np.minimum(sigma, result.target) - 1e-15
    high = np.maximum(sigma, result.target) + 1e-15
    assert np.all((result.volatility >= low) & (result.volatility <= high))
    np.testing.assert_array_equal(bayesian_shrinkage(sigma, caps, 0.0).volatility, sigma)
    for group in range(10):
        member = result.groups == group
        distance = np.abs(sigma[member] - result.target[member])
        order = np.argsort(distance)
        assert np.all(np.diff(result.intensity[member][order]) >= 0)
    np.testing.assert_array_equal(np.bincount(size_groups(caps)), np.full(10, 100))


def test_f4_specific_vra_with_exact_forecasts():
    """F4: cap-weighted B^S with exact forecasts has E[B²] = 1, so λ_S ≈ 1 within 4 sd, where
    sd(λ²) = sqrt(2 Σ h² · Σ w²) (h the normalized caps, w the VRA weights)."""
    rng = np.random.default_rng(23)
    n, days = 2000, 600
    caps = np.exp(rng.normal(22, 1.2, n))
    sigma = np.exp(rng.normal(-4, 0.4, (days, n)))
    returns = rng.standard_normal((days, n)) * sigma
    forecasts = np.vstack([sigma[1:], sigma[-1:]])  # made at t for t + 1
    bias = cross_sectional_bias(returns, forecasts, np.broadcast_to(caps, (days, n)))
    multiplier, _ = vra_multiplier(bias, 42, 252, 42)
    h = caps / caps.sum()
    w = exponential_weights(252, 42)
    sd = 0.5 * np.sqrt(2 * (h @ h) * (w @ w))
    assert abs(multiplier[-1] - 1) < 4 * sd
    assert abs(np.nanmean(multiplier) - 1) < 4 * sd


def test_f5_bias_flat_across_volatility_deciles_after_shrinkage():
    """F5 (USE4 Fig. 5.2): time-series forecasts from 120 days (half-life 30) of i.i.d. specific returns sort
    stocks by estimation noise as well as by true σ, so the bias statistic falls across predicted-σ deciles
    (the slope is more than 8 standard errors below 0); after shrinkage the slope is within a third of it.
    Each stock's B is over the next 250 days; σ-deciles of 500 stocks."""
    rng = np.random.default_rng(24)
    n = 5000
    caps = np.exp(rng.normal(22, 1.2, n))
    sigma = np.exp(-4 - 0.15 * (np.log(caps) - 22) + rng.normal(0, 0.2, n))
    params = SpecificParams(30, 30, 0, 120, VraParams(42, 252, 42))
    forecast = time_series_volatility(sigma * rng.standard_normal((120, n)), params).volatility
    shrunk = bayesian_shrinkage(forecast, caps, 0.1).volatility
    future = sigma * rng.standard_normal((250, n))

    def decile_slope(prediction: np.ndarray) -> tuple[float, float]:
        b = bias_statistic(future / prediction, axis=0)
        decile = np.argsort(np.argsort(prediction)) * 10 // n
        means = np.array([b[decile == d].mean() for d in range(10)])
        centred = np.arange(10) - 4.5
        slope = centred @ means / (centred @ centred)
        se = np.sqrt(np.mean([b[decile == d].var(ddof=1) / np.sum(decile == d) for d in range(10)]))
        return slope, se / np.sqrt(centred @ centred)

    raw_slope, raw_se = decile_slope(forecast)
    shrunk_slope, _ = decile_slope(shrunk)
    assert raw_slope < -8 * raw_se
    assert abs(shrunk_slope) < abs(raw_slope) / 3


def test_time_series_volatility_history_equals_one_date_and_resumes():
    """σ_TS over a history equals the one-date function (1e-12 relative), with NW from its own half-life, the
    floor, the minimum count, stocks listing later; and resumes bit-identically."""
    rng = np.random.default_rng(25)
    days, n = 420, 30
    params = CHINA_REPLICATION.specific
    residuals = rng.standard_normal((days, n)) * 0.02
    residuals[rng.random(residuals.shape) < 0.05] = np.nan
    residuals[:300, 3] = np.nan  # lists late: 120 returns
    residuals[:395, 4] = np.nan  # too few returns
    result, _ = time_series_volatility_history(residuals, params)
    for t in (40, 251, 300, days - 1):
        one = time_series_volatility(residuals[: t + 1], params)
        np.testing.assert_allclose(result.volatility[t], one.volatility, rtol=1e-12)
        np.testing.assert_allclose(result.raw[t], one.raw, rtol=1e-12)
    assert np.isnan(result.volatility[-1, 4]) and np.isfinite(result.volatility[-1, 3])
    np.testing.assert_array_equal(np.isfinite(result.volatility), result.counts >= params.min_observations)
    np.testing.assert_array_equal(result.counts[-1], np.isfinite(residuals[-params.window :]).sum(axis=0))

    window = residuals[-params.window :]
    var = lagged_moments(window, params.half_life, 0).gammas[0]
    serial = lagged_moments(window, params.nw_half_life, params.nw_lags).gammas[1:]
    bartlett = 1 - np.arange(1, 6) / 6
    expected = np.sqrt(np.maximum(var + 2 * bartlett @ serial, params.variance_floor * var))
    np.testing.assert_allclose(result.volatility[-1, :4], expected[:4], rtol=1e-12)

    # stocks 3 and 4 have no return before day 200: a state without their columns can take them on
    _, state = time_series_volatility_history(residuals[:200, :3], params)
    second, _ = time_series_volatility_history(residuals[200:, :5], params, state=state.with_columns(5))
    np.testing.assert_array_equal(second.volatility, result.volatility[200:, :5])


def test_specific_risk_chain():
    """Structural model, blend and shrinkage chained for one date: a stock without history takes the
    structural forecast, a stock with γ = 1 keeps its time series before shrinkage (also without exposures),
    γ = 0.25 mixes them."""
    rng = np.random.default_rng(26)
    x, b, caps = structural_world(rng, 800)
    ts = np.exp(x @ b + rng.normal(0, 0.1, 800))
    gamma = np.ones(800)
    gamma[:50] = 0.0
    gamma[50:60] = 0.25
    ts[:20] = np.nan
    x[-1, -1] = np.nan
    risk = specific_risk(ts, gamma, x, np.sqrt(caps), caps, CHINA_REPLICATION.specific)
    np.testing.assert_array_equal(risk.blended[:20], risk.structural.volatility[:20])
    np.testing.assert_allclose(risk.blended[50:60], 0.25 * ts[50:60] + 0.75 * risk.structural.volatility[50:60])
    np.testing.assert_array_equal(risk.blended[60:], ts[60:])
    assert np.isnan(risk.structural.volatility[-1])
    np.testing.assert_array_equal(blend_volatility(ts, risk.structural.volatility, gamma), risk.blended)
    assert np.isfinite(risk.volatility).all()
