"""Volatility regime adjustment (VRA): cne5-spec §7.4 (factors) and §8.4 (specific risk).

Timing convention of this module: ``forecasts[t]`` is the one-day volatility forecast made at the close of
date t (for date t + 1). The cross-sectional bias statistic of date t therefore pairs the realized returns
of t with ``forecasts[t − 1]``:

    B_t = sqrt( Σ_n w_n (r_n,t / σ_n,t−1)² / Σ_n w_n )       (U4 eq. 4.3 with w = 1; eq. 5.10 with cap weights)

and the multiplier made at the close of t is ``λ_t = sqrt( EWMA_{s ≤ t} B_s² )`` (eq. 4.4, 5.11) over the VRA
window. It scales the forecasts made at the close of t: ``F_VRA = λ² F`` (eq. 4.5), ``σ_VRA = λ σ`` (eq. 5.12).
The forecast for date t + 1 thus uses returns up to t and forecasts made up to t − 1 only (spec test E4).

Which forecasts to pass [CHOICE, spec §7.4]: the eigen-adjusted factor volatilities before VRA, one-day
(daily, no horizon scaling); for specific risk the shrunk forecast before VRA (spec §8.4 says without the
serial-correlation adjustment: pass the one built on the raw EWMA volatility). Post-VRA forecasts would feed the
adjustment back into itself.

Missing values: a stock or factor whose return or forecast is missing is left out of B_t (weights
renormalized); a date with none gives NaN, which the EWMA skips (weights renormalized over the dates present).

Units: B and λ are dimensionless; volatilities are DAILY.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from riskmodel.ewma import MomentState, ewma_mean_history

FloatArray = NDArray[np.float64]


def cross_sectional_bias(
    returns: FloatArray,
    forecasts: FloatArray,
    weights: FloatArray | None = None,
    *,
    previous_forecast: FloatArray | None = None,
) -> FloatArray:
    """B_t (T,) for realized ``returns`` (T, n) and ``forecasts`` (T, n) made at each date's close.

    ``B_0`` pairs the first returns with ``previous_forecast`` (n,), the forecast made at the close of the date
    before the first row (to continue a history), and is NaN without it. ``weights`` (T, n) are the
    cross-sectional weights of date t (cap weights for specific risk); None gives equal weights (factors).
    """
    returns = np.asarray(returns, dtype=np.float64)
    forecasts = np.asarray(forecasts, dtype=np.float64)
    prior = np.full(forecasts.shape, np.nan)
    prior[1:] = forecasts[:-1]
    if previous_forecast is not None and len(prior):
        prior[0] = previous_forecast
    with np.errstate(invalid="ignore", divide="ignore"):
        standardized = returns / prior
    if weights is None:
        weights = np.ones(returns.shape)
    weights = np.asarray(weights, dtype=np.float64)
    present = np.isfinite(standardized) & np.isfinite(weights) & (prior > 0)
    w = np.where(present, weights, 0.0)
    total = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_square = (w * np.where(present, standardized, 0.0) ** 2).sum(axis=1) / total
    return np.where(total > 0, np.sqrt(mean_square), np.nan)


def vra_multiplier(
    bias: FloatArray,
    half_life: float,
    window: int,
    min_observations: int = 1,
    *,
    state: MomentState | None = None,
) -> tuple[FloatArray, MomentState]:
    """λ_t (T,) = sqrt of the EWMA of B_s² over the ``window`` dates up to and including t.

    NaN while fewer than ``min_observations`` bias values are in the window. ``state`` resumes a previous call
    (``bias`` then holds only the new dates; the result is bit-identical to one call).
    """
    squared = np.asarray(bias, dtype=np.float64).reshape(-1, 1) ** 2
    means, counts, new_state = ewma_mean_history(squared, half_life, window, state=state)
    multiplier = np.where(counts[:, 0] >= min_observations, np.sqrt(means[:, 0]), np.nan)
    return multiplier, new_state


def cross_sectional_volatility(returns: FloatArray) -> FloatArray:
    """The factor cross-sectional volatility ``CSV_t = sqrt(mean_k f_kt²)`` (U4 eq. 4.6), NaN-aware, (T,)."""
    returns = np.asarray(returns, dtype=np.float64)
    present = np.isfinite(returns)
    count = present.sum(axis=1)
    total = np.where(present, returns, 0.0) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, np.sqrt(total.sum(axis=1) / count), np.nan)


def apply_factor_vra(covariance: FloatArray, multiplier: float) -> FloatArray:
    """``λ² F`` (U4 eq. 4.5): volatilities scale by λ, correlations do not change."""
    return covariance * multiplier**2


def apply_specific_vra(volatility: FloatArray, multiplier: float) -> FloatArray:
    """``λ σ`` (U4 eq. 5.12)."""
    return volatility * multiplier


def grouped_bias(
    groups: NDArray[np.integer], n_groups: int, returns: FloatArray, forecasts: FloatArray, weights: FloatArray
) -> FloatArray:
    """``cross_sectional_bias`` on long rows: B (n_groups,) of the rows of each group (a date), each row a
    return with the forecast made the date before and its weight. Same rules: rows without a finite ratio,
    a positive forecast or a finite weight are left out; a group without rows is NaN. Sums run in row order.
    """
    returns = np.asarray(returns, dtype=np.float64)
    forecasts = np.asarray(forecasts, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        standardized = returns / forecasts
        present = np.isfinite(standardized) & np.isfinite(weights) & (forecasts > 0)
    w = np.where(present, weights, 0.0)
    total = np.bincount(groups, w, n_groups)
    squares = np.bincount(groups, w * np.where(present, standardized, 0.0) ** 2, n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, np.sqrt(squares / total), np.nan)
