"""Spec §12 A1–A3: exponential weights, weighted variance, Newey-West; and the running (resumable) moments."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from riskmodel.ewma import (
    EwmaMoments,
    MomentState,
    bartlett_weights,
    decay,
    ewma_mean_history,
    exponential_weights,
    lagged_moments,
    newey_west,
)


def test_a1_weights_sum_to_one_and_halve_at_the_half_life():
    """A1: weights sum to 1, w[lag h] / w[lag 0] = 0.5, λ = 0.5^(1/h) (not 1 − ln2/h)."""
    for half_life in (21, 42, 90, 504):
        w = exponential_weights(3 * half_life, half_life)
        assert w.sum() == pytest.approx(1.0, abs=1e-15)
        assert w[-1 - half_life] / w[-1] == pytest.approx(0.5, rel=1e-13)
        assert decay(half_life) ** half_life == pytest.approx(0.5, rel=1e-14)
        assert (1 - np.log(2) / half_life) ** half_life != pytest.approx(0.5, rel=1e-5)  # [VB]'s approximation
    np.testing.assert_array_equal(exponential_weights(5, np.inf), np.full(5, 0.2))


def test_a1_matches_pandas_ewm():
    """A1: the weighted mean and variance over the whole history equal pandas ewm(halflife=h) (adjust=True,
    bias=True), missing values included; so does the covariance of complete series."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 3)) * [0.01, 0.02, 0.015] + 0.001
    half_life = 37.0
    complete = lagged_moments(x, half_life, 0, cross=True)
    pandas_cov = pd.DataFrame(x).ewm(halflife=half_life).cov(bias=True).loc[len(x) - 1].to_numpy()
    np.testing.assert_allclose(complete.gammas[0], pandas_cov, rtol=1e-11)

    x[rng.random(x.shape) < 0.1] = np.nan
    ewm = pd.DataFrame(x).ewm(halflife=half_life)
    moments = lagged_moments(x, half_life, 0)
    np.testing.assert_allclose(moments.mean, ewm.mean().iloc[-1].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(moments.gammas[0], ewm.var(bias=True).iloc[-1].to_numpy(), rtol=1e-11)


def test_a2_weighted_variance_of_iid_normal_data():
    """A2: the weighted variance of i.i.d. N(0, σ²) is σ² (1 − Σw²) in expectation (the weighted mean is
    removed), with standard error σ² sqrt(2 Σw²); 400 series agree within 4 standard errors of their mean."""
    rng = np.random.default_rng(1)
    sigma, n_rows, half_life, n_series = 0.02, 2000, 250.0, 400
    x = rng.normal(0.0, sigma, (n_rows, n_series))
    w = exponential_weights(n_rows, half_life)
    variance = lagged_moments(x, half_life, 0).gammas[0]
    expected = sigma**2 * (1 - w @ w)
    standard_error = sigma**2 * np.sqrt(2 * (w @ w)) / np.sqrt(n_series)
    assert abs(variance.mean() - expected) < 4 * standard_error
    assert 1 / (w @ w) > 500  # T_eff >> 1


def test_a3_newey_west_without_lags_is_the_ewma_variance():
    """A3: Newey-West with L = 0 is the plain EWMA variance (computed here from its definition)."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((300, 4))
    w = exponential_weights(300, 60)
    m = w @ x
    direct = (w[:, None] * (x - m)).T @ (x - m)
    moments = lagged_moments(x, 60, 0, cross=True)
    np.testing.assert_allclose(newey_west(moments.gammas, cross=True), direct, rtol=1e-13)
    np.testing.assert_allclose(newey_west(lagged_moments(x, 60, 0).gammas, cross=False), np.diag(direct), rtol=1e-13)


def test_a3_newey_west_approaches_the_long_run_variance():
    """A3: for AR(1) with ρ = 0.3 and equal weights, NW with L = 40 has the Bartlett expectation
    σ²(1 + 2 Σ (1 − k/(L+1)) ρ^k) (within 4 standard errors over 50 series), which lies within 2% of the
    long-run variance σ²(1+ρ)/(1−ρ)."""
    rng = np.random.default_rng(3)
    rho, n_rows, n_series, lags = 0.3, 20000, 50, 40
    innovations = rng.standard_normal((n_rows + 200, n_series))
    x = np.empty_like(innovations)
    x[0] = innovations[0] / np.sqrt(1 - rho**2)
    for t in range(1, len(x)):
        x[t] = rho * x[t - 1] + innovations[t]
    x = x[200:]
    sigma2 = 1 / (1 - rho**2)
    long_run = sigma2 * (1 + rho) / (1 - rho)
    estimate = newey_west(lagged_moments(x, np.inf, lags).gammas, cross=False)
    bartlett = sigma2 * (1 + 2 * bartlett_weights(lags) @ rho ** np.arange(1, lags + 1))
    demeaning = (1 + 2 * bartlett_weights(lags).sum()) * long_run / n_rows  # each Γ_k loses about LRV / T
    standard_error = np.sqrt(4 * lags / (3 * n_rows)) * long_run / np.sqrt(n_series)
    assert abs(estimate.mean() - (bartlett - demeaning)) < 4 * standard_error
    assert abs(bartlett / long_run - 1) < 0.02


def history(rng: np.random.Generator, n_rows: int, n_columns: int) -> np.ndarray:
    x = rng.standard_normal((n_rows, n_columns)) * 0.01 + 0.0005
    x[rng.random(x.shape) < 0.05] = np.nan
    x[: n_rows // 3, 1] = np.nan  # a column that starts later
    x[n_rows // 2 : n_rows // 2 + 40, 2] = np.nan  # a gap
    return x


@pytest.mark.parametrize("cross", [False, True])
def test_running_moments_equal_the_direct_window(cross):
    """The running sums give the moments of the direct window computation at every row (1e-12 relative),
    before and after the window fills, with missing values and lags."""
    rng = np.random.default_rng(4)
    x = history(rng, 700, 5)
    window, half_life, lags = 120, 30.0, 3
    accumulator = EwmaMoments(MomentState.empty(5, half_life, window, lags, cross=cross))
    for t, row in enumerate(x):
        accumulator.push(row)
        running = accumulator.moments()
        direct = lagged_moments(x[max(0, t - window + 1) : t + 1], half_life, lags, cross=cross)
        np.testing.assert_array_equal(running.counts, direct.counts)
        np.testing.assert_allclose(running.mean, direct.mean, rtol=0, atol=1e-12 * 0.01)
        np.testing.assert_allclose(running.gammas, direct.gammas, rtol=0, atol=1e-12 * 1e-4)


def test_resumed_state_is_bit_identical_and_storable(tmp_path):
    """A run resumed from a stored state gives exactly the numbers of one run over the whole history."""
    x = history(np.random.default_rng(5), 400, 4)
    whole, counts, _ = ewma_mean_history(x, 20, 50)
    first, _, state = ewma_mean_history(x[:173], 20, 50)
    np.savez(tmp_path / "state.npz", **dataclasses.asdict(state))
    loaded = dict(np.load(tmp_path / "state.npz"))
    restored = MomentState(
        **{k: (v.item() if v.ndim == 0 else v) for k, v in loaded.items()}  # scalars come back as 0-d arrays
    )
    second, _, _ = ewma_mean_history(x[173:], 20, 50, state=restored)
    np.testing.assert_array_equal(np.concatenate([first, second]), whole)
    assert counts[-1].tolist() == np.isfinite(x[-50:]).sum(axis=0).tolist()


def test_state_grows_columns_for_new_stocks():
    """Columns appended to a per-column state behave as stocks whose earlier values were all missing."""
    x = history(np.random.default_rng(6), 200, 3)
    extra = np.full((200, 1), np.nan)
    extra[150:] = np.random.default_rng(7).standard_normal((50, 1))
    full, _, _ = ewma_mean_history(np.hstack([x, extra]), 15, 60)
    _, _, state = ewma_mean_history(x[:150], 15, 60)
    resumed, _, _ = ewma_mean_history(np.hstack([x, extra])[150:], 15, 60, state=state.with_columns(4))
    np.testing.assert_array_equal(resumed, full[150:])
