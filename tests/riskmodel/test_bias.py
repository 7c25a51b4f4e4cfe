"""Spec §12 G1: the bias-statistic code is calibrated on perfect forecasts (exact chi distribution references)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, special, stats

from riskmodel.bias import (
    bias_statistic,
    bias_summary,
    confidence_band,
    mrad,
    rolling_bias_statistics,
    standardized_returns,
)

N_PORTFOLIOS = 20000  # as cne5-checks.py


def chi_bias(periods: int):
    """B of T normal returns is sqrt(χ²_(T−1) / (T−1)): its distribution (density, cdf, quantile)."""
    dof = periods - 1
    chi2 = stats.chi2(dof)
    density = lambda b: chi2.pdf(dof * b**2) * 2 * dof * b  # noqa: E731
    cdf = lambda b: chi2.cdf(dof * b**2)  # noqa: E731
    quantile = lambda p: np.sqrt(chi2.ppf(p) / dof)  # noqa: E731
    mean = np.sqrt(2 / dof) * np.exp(special.gammaln(periods / 2) - special.gammaln(dof / 2))
    return density, cdf, quantile, mean


def quantile_se(density, q: float, p: float, n: int) -> float:
    return np.sqrt(p * (1 - p) / n) / density(q)


def test_g1_twelve_month_windows_normal():
    """G1 †: 12-period windows of perfect normal forecasts: mean B = c4(12) = 0.978, MRAD = E|B − 1| ≈ 0.169,
    p5/p95 = 0.645/1.337 (exact chi values; cne5-checks.py: 0.978, 0.169, 0.647, 1.337), each within 4 Monte
    Carlo standard errors. 20,000 windows from rolling non-overlapping 12-period windows."""
    rng = np.random.default_rng(30)
    b = rng.standard_normal((36, N_PORTFOLIOS // 3))
    windows = rolling_bias_statistics(b, window=12, step=12)
    assert windows.shape == (3, N_PORTFOLIOS // 3)
    values = windows.ravel()
    n = values.size
    density, _, quantile, mean = chi_bias(12)
    expected_mrad = integrate.quad(lambda x: abs(x - 1) * density(x), 0, 1)[0]
    expected_mrad += integrate.quad(lambda x: abs(x - 1) * density(x), 1, np.inf)[0]
    summary = bias_summary(values, 12)
    assert mean == pytest.approx(0.978, abs=5e-4)
    assert abs(summary.mean - mean) < 4 * values.std(ddof=1) / np.sqrt(n)
    assert abs(summary.mrad - expected_mrad) < 4 * np.abs(values - 1).std(ddof=1) / np.sqrt(n)
    assert expected_mrad == pytest.approx(0.169, abs=2e-3)
    for p, observed in ((0.05, summary.p5), (0.95, summary.p95)):
        q = quantile(p)
        assert abs(observed - q) < 4 * quantile_se(density, q, p, n)
    assert (quantile(0.05), quantile(0.95)) == pytest.approx((0.645, 1.337), abs=1e-3)


def test_g1_fat_tails_raise_mrad():
    """G1 †: t(10) returns scaled to unit variance (kurtosis 4) give MRAD ≈ 0.197 (cne5-checks.py, 20,000
    windows); band: 4 standard errors of the difference of two 20,000-window means."""
    rng = np.random.default_rng(31)
    draws = rng.standard_t(10, (12, N_PORTFOLIOS)) / np.sqrt(10 / 8)
    values = bias_statistic(draws, axis=0)
    deviation = np.abs(values - 1)
    se = deviation.std(ddof=1) * np.sqrt(2 / N_PORTFOLIOS)
    assert abs(mrad(values) - 0.197) < 4 * se
    assert mrad(values) > 0.169 + 4 * se  # fatter tails, larger MRAD


@pytest.mark.parametrize("periods", [60, 120, 240])
def test_g1_coverage_of_the_confidence_band(periods):
    """G1: the share of B inside 1 ± sqrt(2/T) is the exact chi probability (about 95%: 0.951 at T = 60, 0.954
    at T = 240 in cne5-checks.py), within 4 binomial standard errors."""
    rng = np.random.default_rng(32 + periods)
    values = bias_statistic(rng.standard_normal((periods, N_PORTFOLIOS)), axis=0)
    low, high = confidence_band(periods)
    _, cdf, _, _ = chi_bias(periods)
    expected = cdf(high) - cdf(low)
    share = bias_summary(values, periods).inside
    assert abs(share - expected) < 4 * np.sqrt(expected * (1 - expected) / N_PORTFOLIOS)
    assert expected == pytest.approx(0.95, abs=0.006)


def test_bias_statistic_definitions():
    """Eq. A1–A2: b_t = R_t / σ_(t−1) (forecast made one period earlier); B is the sample standard deviation
    (ddof 1) of b, NaN skipped; windows move by `step`."""
    returns = np.array([[0.5], [0.02], [-0.03], [0.01], [np.nan], [0.04]])
    forecasts = np.array([[0.01], [0.02], [0.01], [0.02], [0.02], [0.02]])
    b = standardized_returns(returns, forecasts)
    np.testing.assert_allclose(b[:, 0], [np.nan, 2.0, -1.5, 1.0, np.nan, 2.0])
    assert bias_statistic(b, axis=0)[0] == pytest.approx(np.std([2.0, -1.5, 1.0, 2.0], ddof=1), rel=1e-14)
    rolled = rolling_bias_statistics(np.arange(10.0)[:, None] ** 2, window=4, step=3)
    expected = [np.std(np.arange(s, s + 4.0) ** 2, ddof=1) for s in (0, 3, 6)]
    np.testing.assert_allclose(rolled[:, 0], expected, rtol=1e-14)
    assert np.isnan(bias_statistic(np.array([[1.0], [np.nan]]), axis=0)[0])
    assert confidence_band(50) == pytest.approx((0.8, 1.2))
