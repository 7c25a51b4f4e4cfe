"""The base factor covariance matrix: EWMA + Newey-West, separate volatility and correlation half-lives.

At the date of the last row of a factor-return history (cne5-spec §7.1):

1. Correlation: ``F_ρ`` = Newey-West estimate with the correlation half-life and lags, ``C = D^-½ F_ρ D^-½``.
2. Volatility: ``σ_k² = F_σ,kk``, the Newey-West variance with the volatility half-life and lags.
3. ``F0 = diag(σ) C diag(σ)``.

Both estimates use the last ``window`` rows; weights, lag pairs and demeaning are those of ``riskmodel.ewma``.

Missing factor returns (an industry without members on a date has a NaN return) [CHOICE, spec §7.1 step 4]:
pairwise estimation. Each moment uses the dates on which its factor (pair) has a return, with the weights
renormalized over those dates; a lag pair with no common date contributes 0. A factor with fewer than
``min_observations`` returns in the window (or no positive variance) is inactive on the date: its row and
column of F0 are NaN, and everything downstream works on the finite block. Pairwise estimates need not be
positive semi-definite, so the correlation matrix of the active factors is repaired (``repair_correlation``:
eigenvalues floored at ``psd_floor``, unit diagonal restored); a PSD matrix is returned unchanged.

``factor_covariance`` computes one date directly from the window; ``factor_covariance_history`` carries the
weighted sums from date to date (O(T·K²·L)) and can resume from its returned state. They agree to rounding.

Units: DAILY variances and covariances of daily returns. Scale with ``riskmodel.units`` (× horizon days,
× 252 to annualize); nothing here does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from riskmodel.ewma import EwmaMoments, Moments, MomentState, lagged_moments, newey_west
from riskmodel.params import CovarianceParams

FloatArray = NDArray[np.float64]


def repair_psd(matrix: FloatArray, floor: float) -> FloatArray:
    """The symmetric matrix with its eigenvalues floored at ``floor``; unchanged if none lies below it."""
    eigenvalues, vectors = np.linalg.eigh(matrix)
    if eigenvalues.min() >= floor:
        return matrix
    repaired = (vectors * np.maximum(eigenvalues, floor)) @ vectors.T
    return 0.5 * (repaired + repaired.T)


def repair_correlation(correlation: FloatArray, floor: float) -> FloatArray:
    """A correlation matrix made PSD: eigenvalues floored at ``floor``, then rescaled to a unit diagonal.

    The rescaling ``D C D`` keeps it PSD. An already PSD matrix (smallest eigenvalue >= floor) is returned as is.
    """
    repaired = repair_psd(correlation, floor)
    if repaired is correlation:
        return correlation
    scale = 1.0 / np.sqrt(np.diag(repaired))
    repaired = repaired * np.outer(scale, scale)
    np.fill_diagonal(repaired, 1.0)
    return repaired


def correlation_from_covariance(covariance: FloatArray) -> FloatArray:
    """``D^-½ F D^-½`` with a unit diagonal (NaN where a variance is not positive)."""
    variance = np.diag(covariance)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(variance > 0, 1.0 / np.sqrt(variance), np.nan)
    correlation = covariance * np.outer(scale, scale)
    np.fill_diagonal(correlation, np.where(variance > 0, 1.0, np.nan))
    return correlation


def combine_volatility_correlation(vol: Moments, corr: Moments, params: CovarianceParams) -> FloatArray:
    """F0 from the per-factor volatility moments and the cross correlation moments of one date (K, K)."""
    variance = newey_west(vol.gammas, cross=False)
    nw = newey_west(corr.gammas, cross=True)
    nw = 0.5 * (nw + nw.T)
    corr_variance = np.diag(nw)
    active = (vol.counts >= params.min_observations) & (variance > 0) & (corr_variance > 0)
    n_factors = len(variance)
    result = np.full((n_factors, n_factors), np.nan)
    if not active.any():
        return result
    block = np.ix_(active, active)
    correlation = repair_correlation(correlation_from_covariance(nw[block]), params.psd_floor)
    sigma = np.sqrt(variance[active])
    result[block] = correlation * np.outer(sigma, sigma)
    return result


def factor_covariance(returns: FloatArray, params: CovarianceParams) -> FloatArray:
    """F0 (K, K), daily, at the date of the last row of ``returns`` (T, K), from its last ``params.window`` rows.

    Rows are dates in order, columns factors; NaN is a missing factor return. Inactive factors (see the module
    docstring) have NaN rows and columns.
    """
    window = np.asarray(returns, dtype=np.float64)[-params.window :]
    vol = lagged_moments(window, params.vol_half_life, params.vol_lags, cross=False)
    corr = lagged_moments(window, params.corr_half_life, params.corr_lags, cross=True)
    return combine_volatility_correlation(vol, corr, params)


@dataclass(frozen=True)
class CovarianceState:
    """The running sums after the last date of a ``factor_covariance_history`` call (resume from it)."""

    vol: MomentState
    corr: MomentState


@dataclass(frozen=True)
class CovarianceHistory:
    """``covariance`` (T, K, K): F0 (daily) at every date of the input, from the rows up to and including it."""

    covariance: FloatArray
    state: CovarianceState


def empty_covariance_state(n_factors: int, params: CovarianceParams) -> CovarianceState:
    """The state before the first date."""
    return CovarianceState(
        vol=MomentState.empty(n_factors, params.vol_half_life, params.window, params.vol_lags),
        corr=MomentState.empty(n_factors, params.corr_half_life, params.window, params.corr_lags, cross=True),
    )


def factor_covariance_history(
    returns: FloatArray, params: CovarianceParams, *, state: CovarianceState | None = None
) -> CovarianceHistory:
    """F0 (daily) at every date of ``returns`` (T, K), each from the rows up to and including that date.

    Equals ``factor_covariance(all_rows[: t + 1], params)`` at every t to rounding (about 1e-14 relative),
    in O(T·K²·L). With ``state`` (from a previous call) ``returns`` holds only the dates after the previous
    call's last date, and the result is bit-identical to one call over the whole history.
    """
    returns = np.asarray(returns, dtype=np.float64)
    n_dates, n_factors = returns.shape
    state = state or empty_covariance_state(n_factors, params)
    vol, corr = EwmaMoments(state.vol), EwmaMoments(state.corr)
    out = np.empty((n_dates, n_factors, n_factors))
    for t, row in enumerate(returns):
        vol.push(row)
        corr.push(row)
        out[t] = combine_volatility_correlation(vol.moments(), corr.moments(), params)
    return CovarianceHistory(covariance=out, state=CovarianceState(vol=vol.state(), corr=corr.state()))
