"""Spec §12 D1–D8: the daily constrained WLS on synthetic worlds with K = 43 (1 + 32 industries + 10 styles)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from riskmodel.regression import RankDeficientError, constrained_wls, constrained_wls_kkt, design_matrix
from tests.riskmodel.worlds import N_INDUSTRIES, N_STYLES, make_world, specific_noise

IND = slice(1, 1 + N_INDUSTRIES)
STY = slice(1 + N_INDUSTRIES, None)


@pytest.fixture(scope="module")
def world():
    return make_world(np.random.default_rng(20240601))


@pytest.fixture(scope="module")
def noisy(world):
    rng = np.random.default_rng(7)
    f = world.constrained_factor_returns(rng)
    return world.exposures @ f + specific_noise(rng, world)


def solve(world, returns, **kwargs):
    return constrained_wls(returns, world.exposures, world.weights, world.caps, N_INDUSTRIES, **kwargs)


def test_d1_noise_free_recovery(world):
    """D1 †: planted factor returns satisfying the constraint are recovered exactly (max error ~1e-17)."""
    f_true = world.constrained_factor_returns(np.random.default_rng(1))
    result = solve(world, world.exposures @ f_true)
    assert np.abs(result.factor_returns - f_true).max() < 1e-15
    assert np.abs(result.residuals).max() < 1e-15


def test_d2_change_of_variables_equals_kkt_and_slsqp(world, noisy):
    """D2 †: change of variables = KKT to 1e-12; both = a generic constrained solver (SLSQP) to about 1e-8."""
    a = solve(world, noisy, portfolios=True)
    b = constrained_wls_kkt(noisy, world.exposures, world.weights, world.caps, N_INDUSTRIES, portfolios=True)
    scale = np.abs(a.factor_returns).max()
    assert np.abs(a.factor_returns - b.factor_returns).max() < 1e-12 * scale
    np.testing.assert_allclose(a.standard_errors, b.standard_errors, rtol=1e-10)
    np.testing.assert_allclose(a.portfolios, b.portfolios, rtol=0, atol=1e-12 * np.abs(a.portfolios).max())

    # SLSQP on the same objective, in units of 1% so its tolerances bite
    v = world.weights / world.weights.sum()
    x = world.exposures
    gram, moment = x.T @ (v[:, None] * x), x.T @ (v * noisy)
    constraint = np.r_[0.0, world.industry_weights, np.zeros(N_STYLES)]
    unit = 0.01
    out = minimize(
        lambda y: (unit * y) @ gram @ (unit * y) / unit**2 - 2 * moment @ y / unit,
        np.zeros(world.n_factors),
        jac=lambda y: 2 * (gram @ (unit * y) - moment) / unit,
        method="SLSQP",
        constraints=[{"type": "eq", "fun": lambda y: constraint @ y, "jac": lambda y: constraint}],
        options={"ftol": 1e-16, "maxiter": 1000},
    )
    assert out.success
    assert np.abs(unit * out.x - a.factor_returns).max() < 1e-8


def test_d3_constraint_and_normal_equations(world, noisy):
    """D3 †: sum_i w_i f_i = 0 to 1e-12; residuals satisfy R'X'V u = 0, hence sum v u = 0."""
    result = solve(world, noisy)
    f, u = result.factor_returns, result.residuals
    np.testing.assert_allclose(result.industry_weights, world.industry_weights, rtol=1e-13)
    assert abs(world.industry_weights @ f[IND]) < 1e-12 * np.abs(f).max()
    # R spans the constrained directions: the largest industry is eliminated
    drop = 1 + int(np.argmax(world.industry_weights))
    keep = [k for k in range(world.n_factors) if k != drop]
    r = np.zeros((world.n_factors, world.n_factors - 1))
    r[keep, np.arange(world.n_factors - 1)] = 1.0
    r[drop, : N_INDUSTRIES - 1] = -np.delete(world.industry_weights, drop - 1) / world.industry_weights[drop - 1]
    gradient = r.T @ world.exposures.T @ (world.weights * u)
    scale = np.abs(world.exposures.T @ (world.weights * np.abs(u))).max()
    assert np.abs(gradient).max() < 1e-12 * scale
    assert abs(world.weights @ u) < 1e-12 * (world.weights @ np.abs(u))


def test_d4_invariances(world, noisy):
    """D4 †: a constant added to every return moves only f_c, by exactly c; scaling the returns scales f;
    permuting stocks or adding a stock with zero weight changes nothing."""
    base = solve(world, noisy)
    f = base.factor_returns
    shifted = solve(world, noisy + 0.003).factor_returns
    assert abs(shifted[0] - f[0] - 0.003) < 1e-14
    assert np.abs(np.delete(shifted - f, 0)).max() < 1e-14
    np.testing.assert_allclose(solve(world, 3.0 * noisy).factor_returns, 3.0 * f, rtol=1e-12, atol=1e-16)

    order = np.random.default_rng(2).permutation(len(noisy))
    permuted = constrained_wls(
        noisy[order], world.exposures[order], world.weights[order], world.caps[order], N_INDUSTRIES
    )
    np.testing.assert_allclose(permuted.factor_returns, f, rtol=1e-12, atol=1e-16)
    np.testing.assert_allclose(permuted.residuals, base.residuals[order], rtol=1e-12, atol=1e-16)

    extra = np.r_[0.0, np.eye(N_INDUSTRIES)[4], np.full(N_STYLES, 2.5)]
    padded = constrained_wls(
        np.r_[noisy, 0.5],
        np.vstack([world.exposures, extra]),
        np.r_[world.weights, 0.0],
        np.r_[world.caps, 1e12],
        N_INDUSTRIES,
    )
    np.testing.assert_array_equal(padded.factor_returns, f)
    assert not padded.in_regression[-1]
    assert padded.residuals[-1] == pytest.approx(0.5 - extra @ f, abs=1e-15)


def test_d5_pure_factor_portfolios(world, noisy):
    """D5 †: country portfolio sums to 1 with zero style exposure; industry portfolios sum to 0; style
    portfolios have unit own exposure, zero cross exposure and zero net weight in every industry; f = H r."""
    result = solve(world, noisy, portfolios=True)
    h = result.portfolios
    exposure = h @ world.exposures
    dummies = world.exposures[:, IND]
    assert h.shape == (world.n_factors, len(noisy))
    assert abs(h[0].sum() - 1.0) < 1e-12
    assert np.abs(exposure[0, STY]).max() < 1e-12
    assert np.abs(h[IND].sum(axis=1)).max() < 1e-12
    np.testing.assert_allclose(exposure[STY, STY], np.eye(N_STYLES), atol=1e-12)
    assert np.abs(h[STY] @ dummies).max() < 1e-12
    np.testing.assert_allclose(h @ noisy, result.factor_returns, rtol=0, atol=1e-14)


def test_d6_country_gap_and_monte_carlo_standard_errors(world):
    """D6: f_c − (cap-weighted return) = −Σ h u exactly; the recovery error shrinks like 1/sqrt(N); the Monte
    Carlo standard error of each factor matches the regression standard error within 10%."""
    rng = np.random.default_rng(11)
    f_true = world.constrained_factor_returns(rng)
    returns = world.exposures @ f_true + specific_noise(rng, world)
    result = solve(world, returns)
    h = world.caps / world.caps.sum()
    # r = X f + u, h'D_i = w_i (sum w_i f_i = 0) and h'S = 0, so h'r = f_c + h'u
    assert abs(h @ returns - result.factor_returns[0] - h @ result.residuals) < 1e-14

    n_reps = 1000
    noise = specific_noise(rng, world, size=n_reps)
    estimates = np.empty((n_reps, world.n_factors))
    reported = np.empty((n_reps, world.n_factors))
    for i in range(n_reps):
        fit = solve(world, world.exposures @ f_true + noise[i])
        estimates[i], reported[i] = fit.factor_returns, fit.standard_errors
    mc_se = estimates.std(axis=0, ddof=1)
    # the sd of a 1000-draw sd is 1/sqrt(2 * 999) = 2.2%: 10% is 4.5 of those
    np.testing.assert_allclose(mc_se / reported.mean(axis=0), 1.0, atol=0.10)
    assert np.abs(estimates.mean(axis=0) - f_true).max() < 5 * (mc_se / np.sqrt(n_reps)).max()

    # 1/sqrt(N): the same world drawn with N/4 stocks has twice the error (per-factor RMS over replications)
    small = make_world(np.random.default_rng(12), n_stocks=750)
    f_small = small.constrained_factor_returns(rng)
    small_errors = np.array(
        [
            constrained_wls(
                small.exposures @ f_small + e, small.exposures, small.weights, small.caps, N_INDUSTRIES
            ).factor_returns
            - f_small
            for e in specific_noise(rng, small, size=400)
        ]
    )
    rms_small = np.sqrt(np.mean(small_errors**2))
    rms_large = np.sqrt(np.mean((estimates - f_true) ** 2))
    ratio = rms_small / rms_large
    # the relative se of an RMS over m squared normals is 1/sqrt(2m); world-to-world design noise (industry
    # sizes of 750 stocks) adds about 5%: 2 +- 0.3 holds both with room for 3 sigma
    assert ratio == pytest.approx(2.0, abs=0.3)


def test_d7_empty_industry_is_nan_and_leaves_the_others_alone(world, noisy):
    """D7: an industry without members on a date gives NaN (no crash); the other factors equal those of the
    regression without that industry; an industry whose members all have zero weight behaves the same."""
    empty = 6
    member = world.industries == empty
    others = ~member
    result = constrained_wls(
        noisy[others], world.exposures[others], world.weights[others], world.caps[others], N_INDUSTRIES
    )
    assert np.isnan(result.factor_returns[1 + empty])
    assert np.isnan(result.t_stats[1 + empty])
    assert result.industry_weights[empty] == 0.0

    without_column = np.delete(world.exposures[others], 1 + empty, axis=1)
    reference = constrained_wls(
        noisy[others], without_column, world.weights[others], world.caps[others], N_INDUSTRIES - 1
    )
    kept = np.delete(np.arange(world.n_factors), 1 + empty)
    np.testing.assert_allclose(result.factor_returns[kept], reference.factor_returns, rtol=1e-12, atol=1e-16)
    np.testing.assert_allclose(result.standard_errors[kept], reference.standard_errors, rtol=1e-12)

    zero_weight = constrained_wls(
        noisy, world.exposures, np.where(member, 0.0, world.weights), world.caps, N_INDUSTRIES, portfolios=True
    )
    np.testing.assert_allclose(zero_weight.factor_returns, result.factor_returns, rtol=1e-12, atol=1e-16)
    assert np.isnan(zero_weight.residuals[member]).all()
    assert np.isnan(zero_weight.portfolios[1 + empty]).all()
    assert (zero_weight.portfolios[:, member][kept] == 0.0).all()


def test_d8_r_squared(world, noisy):
    """D8: the regression-weighted uncentred R² equals 1 − Σ v u² / Σ v r² computed directly and the R² of an
    unconstrained fit of the same column space (the constraint does not change the fit); R² = 1 without noise."""
    result = solve(world, noisy)
    v, u = world.weights, result.residuals
    assert result.r_squared == pytest.approx(1.0 - (v @ u**2) / (v @ noisy**2), abs=1e-14)

    # drop one industry dummy: full rank, same column space, ordinary weighted least squares
    x = np.delete(world.exposures, 1, axis=1)
    root = np.sqrt(v)
    coef = np.linalg.lstsq(x * root[:, None], noisy * root, rcond=None)[0]
    u_ols = noisy - x @ coef
    assert result.r_squared == pytest.approx(1.0 - (v @ u_ols**2) / (v @ noisy**2), abs=1e-12)

    clean = world.exposures @ world.constrained_factor_returns(np.random.default_rng(5))
    assert solve(world, clean).r_squared == pytest.approx(1.0, abs=1e-13)


def test_collinear_style_is_reported():
    """A style that copies another makes the date's regression rank deficient: a clear error, not garbage."""
    rng = np.random.default_rng(3)
    styles = rng.standard_normal((200, 2))
    styles[:, 1] = styles[:, 0]
    x = design_matrix(rng.integers(0, 4, 200), styles, 4)
    caps = np.exp(rng.normal(20, 1, 200))
    with pytest.raises(RankDeficientError):
        constrained_wls(rng.normal(0, 0.02, 200), x, np.sqrt(caps), caps, 4)
    with pytest.raises(RankDeficientError):
        constrained_wls_kkt(rng.normal(0, 0.02, 200), x, np.sqrt(caps), caps, 4)


def test_design_matrix_layout():
    """Country column of ones, one dummy per industry code (−1: none), then the styles."""
    x = design_matrix(np.array([2, 0, -1]), np.array([[0.5], [1.5], [-1.0]]), 3)
    np.testing.assert_array_equal(x, [[1, 0, 0, 1, 0.5], [1, 1, 0, 0, 1.5], [1, 0, 0, 0, -1.0]])
