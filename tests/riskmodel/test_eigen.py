"""Spec §12 E2 and E3: the eigenfactor risk adjustment (seeded, deterministic)."""

from __future__ import annotations

import numpy as np
import pytest

from riskmodel.covariance import factor_covariance
from riskmodel.eigen import (
    batched_newey_west,
    eigen_adjust,
    eigen_adjust_history,
    eigenfactor_bias,
    scale_bias,
    simulate_unit_covariances,
)
from riskmodel.ewma import lagged_moments, newey_west
from riskmodel.params import CovarianceParams

# The check of cne5-checks.py: K = 40, T = 252, EWMA half-life 90, no Newey-West.
K, T, HALF_LIFE = 40, 252, 90.0
CHECK = CovarianceParams(HALF_LIFE, 0, HALF_LIFE, 0, window=T)
CHECK_TRIALS = 30  # cne5-checks.py averages 30 trials: its own figures carry that sampling error


def true_covariance(rng: np.random.Generator) -> np.ndarray:
    a = rng.standard_normal((K, K))
    return a @ a.T / K + np.diag(rng.uniform(0.1, 1.0, K))


@pytest.fixture(scope="module")
def units():
    return simulate_unit_covariances(K, 200, T, HALF_LIFE, 0, seed=2011)


def test_simulation_uses_the_covariance_estimator():
    """The simulated estimates are the package's EWMA + NW estimator applied to each history."""
    z = np.random.default_rng(1).standard_normal((3, 120, 7))
    batched = batched_newey_west(z, 30.0, 2)
    for m in range(3):
        direct = newey_west(lagged_moments(z[m], 30.0, 2, cross=True).gammas, cross=True)
        np.testing.assert_allclose(batched[m], direct, rtol=1e-12, atol=1e-15)


def test_e2_same_eigenvectors_and_bias_shape(units):
    """E2 †: F_eigen has the eigenvectors of F0; v(k) > 1 for the smallest eigenfactors at realistic T; over 10
    sampled spectra the smallest and largest v average about 1.40 and 0.88 (cne5-checks.py, one spectrum)."""
    rng = np.random.default_rng(3)
    smallest, largest = [], []
    for _ in range(10):
        truth = true_covariance(rng)
        f0 = factor_covariance(rng.standard_normal((T, K)) @ np.linalg.cholesky(truth).T, CHECK)
        adjusted = eigen_adjust(f0, units)
        _, u0 = np.linalg.eigh(f0)
        rotated = u0.T @ adjusted.covariance @ u0
        assert np.abs(rotated - np.diag(np.diag(rotated))).max() < 1e-12 * np.abs(rotated).max()
        np.testing.assert_allclose(np.diag(rotated), adjusted.bias**2 * adjusted.eigenvalues, rtol=1e-10)
        assert np.all(adjusted.bias[:5] > 1.0)
        smallest.append(adjusted.bias[0])
        largest.append(adjusted.bias[-1])
    for values, check in ((smallest, 1.40), (largest, 0.88)):
        spread = np.std(values, ddof=1)
        # the check's figure is one spectrum: its deviation from the mean has the spread of one draw
        assert abs(np.mean(values) - check) < 4 * spread * np.sqrt(1 / len(values) + 1) + 0.005


def test_e2_bias_vanishes_for_long_histories():
    """E2: v(k) → 1 as T_sim → ∞: with T = 20,000 equal-weight observations of K = 10 factors every v lies
    within 2 sqrt(K/T) of 1 (the Marchenko-Pastur edge is sqrt(K/T) away)."""
    k, n_rows = 10, 20000
    units = simulate_unit_covariances(k, 60, n_rows, np.inf, 0, seed=4)
    bias = eigenfactor_bias(np.geomspace(0.1, 10.0, k), units)
    assert np.abs(bias - 1).max() < 2 * np.sqrt(k / n_rows)


def test_e2_seeded_simulation_is_bit_deterministic(units):
    """E2: the same seed gives bit-identical simulations and adjustments; another seed does not."""
    again = simulate_unit_covariances(K, 200, T, HALF_LIFE, 0, seed=2011)
    np.testing.assert_array_equal(again, units)
    rng = np.random.default_rng(5)
    f0 = factor_covariance(rng.standard_normal((T, K)) @ np.linalg.cholesky(true_covariance(rng)).T, CHECK)
    np.testing.assert_array_equal(eigen_adjust(f0, units).covariance, eigen_adjust(f0, again).covariance)
    other = simulate_unit_covariances(K, 200, T, HALF_LIFE, 0, seed=2012)
    assert not np.array_equal(eigen_adjust(f0, units).covariance, eigen_adjust(f0, other).covariance)
    generator = simulate_unit_covariances(K, 200, T, HALF_LIFE, 0, seed=np.random.default_rng(2011))
    np.testing.assert_array_equal(generator, units)


def test_e3_optimized_portfolio_bias(units):
    """E3 †: minimum-risk portfolios (α'x = 1, random α) under a known F: true/predicted volatility averages
    about 1.26 with the raw EWMA estimate (≈ 1/(1 − K/T_eff), T_eff ≈ 194) and about 1.005 after the adjustment.
    Bands: 4 standard errors of this test's mean and of the check's 30-trial mean."""
    rng = np.random.default_rng(6)
    truth = true_covariance(rng)
    root = np.linalg.cholesky(truth)
    raw, adjusted = [], []
    for _ in range(100):
        f0 = factor_covariance(rng.standard_normal((T, K)) @ root.T, CHECK)
        f_eigen = eigen_adjust(f0, units).covariance
        alpha = rng.standard_normal(K)
        for estimate, store in ((f0, raw), (f_eigen, adjusted)):
            x = np.linalg.solve(estimate, alpha)
            x /= alpha @ x
            store.append(np.sqrt(x @ truth @ x / (x @ estimate @ x)))
    for values, check in ((raw, 1.26), (adjusted, 1.005)):
        sd = np.std(values, ddof=1)
        se = sd * np.sqrt(1 / len(values) + 1 / CHECK_TRIALS)
        assert abs(np.mean(values) - check) < 4 * se
    assert np.mean(raw) > 1.2
    assert abs(np.mean(adjusted) - 1.0) < 4 * np.std(adjusted, ddof=1) / np.sqrt(len(adjusted))


def test_scaled_variant():
    """Eq. B8: a = 1 without a parabola is B7 itself; the parabola is fitted after the first 15 eigenfactors."""
    v = np.linspace(1.5, 0.9, 43) + 0.01 * np.sin(np.arange(43))
    np.testing.assert_array_equal(scale_bias(v), v)
    np.testing.assert_allclose(scale_bias(v, 1.4), 1.4 * (v - 1) + 1, rtol=1e-15)
    k = np.arange(43.0)
    exact = 1.2 - 0.01 * k + 0.0001 * k**2
    np.testing.assert_allclose(scale_bias(exact, 1.0, parabola=True), exact, rtol=1e-12)
    spoiled = exact.copy()
    spoiled[:15] = 5.0  # the skipped eigenfactors do not move the fit
    np.testing.assert_allclose(scale_bias(spoiled, 1.0, parabola=True), exact, rtol=1e-10)


def test_history_refreshes_on_schedule_and_resumes():
    """The history re-simulates v(k) on refresh days (day index multiple of refresh_days) and when the active
    factors change, reuses it otherwise, keeps NaN factors out, and resumes bit-identically."""
    rng = np.random.default_rng(7)
    k, n_dates = 8, 60
    units = simulate_unit_covariances(k, 50, 100, 30.0, 0, seed=8)
    base = rng.standard_normal((k, k))
    covs = np.array([(base + 0.05 * rng.standard_normal((k, k))) for _ in range(n_dates)])
    covs = covs @ covs.transpose(0, 2, 1) + np.eye(k)
    covs[40:45, 3, :] = covs[40:45, :, 3] = np.nan  # factor 3 inactive for five dates
    day_index = 1000 + np.arange(n_dates)
    adjusted, biases, state = eigen_adjust_history(covs, day_index, units, refresh_days=5)
    for t in (0, 3, 5, 41, 47):
        last_refresh = max(s for s in range(t + 1) if day_index[s] % 5 == 0 or s in (0, 40, 45))
        expected = eigen_adjust(covs[t], bias=eigen_adjust(covs[last_refresh], units).bias).covariance
        np.testing.assert_array_equal(adjusted[t], expected)
    assert np.isnan(adjusted[42][3]).all() and np.isfinite(adjusted[42][np.ix_([0, 1, 2], [0, 1, 2])]).all()
    assert np.isnan(biases[42, k - 1]) and np.isfinite(biases[42, : k - 1]).all()
    first = eigen_adjust_history(covs[:23], day_index[:23], units, refresh_days=5)
    second = eigen_adjust_history(covs[23:], day_index[23:], units, refresh_days=5, state=first[2])
    np.testing.assert_array_equal(np.concatenate([first[0], second[0]]), adjusted)
    assert state is not None
