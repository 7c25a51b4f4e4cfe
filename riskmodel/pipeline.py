"""The factor-risk chain over a history, in the order and timing the risk marts need (resumable).

For every date t (the forecast made at the close of t, for t + 1), all DAILY:

1. ``F0_t``: EWMA + Newey-West base covariance from the returns up to t (``covariance``).
2. ``F_eigen,t``: eigenfactor-adjusted F0; v(k) simulated on refresh dates only (``eigen``).
3. ``B_t``: cross-sectional bias of the returns of t against the eigen-adjusted volatilities made at t − 1;
   ``λ_t``: its EWMA up to t (``regime``).
4. ``F_t = λ_t² F_eigen,t``; NaN until λ has ``min_observations`` bias values [CHOICE: no forecast is
   published before the regime adjustment can be made, rather than an unadjusted one].

Specific risk needs per-date exposures and caps, so its chain is per date (``docs/riskmodel.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from riskmodel.covariance import CovarianceState, factor_covariance_history
from riskmodel.eigen import EigenState, eigen_adjust_history, simulate_unit_covariances
from riskmodel.ewma import MomentState
from riskmodel.params import RiskModelParams
from riskmodel.regime import cross_sectional_bias, vra_multiplier

FloatArray = NDArray[np.float64]


def unit_covariances_for(params: RiskModelParams, n_factors: int) -> FloatArray:
    """The seeded eigen simulation of a parameter set (correlation half-life and lags, covariance window)."""
    cov, eigen = params.covariance, params.eigen
    return simulate_unit_covariances(n_factors, eigen.n_sims, cov.window, cov.corr_half_life, cov.corr_lags, eigen.seed)


@dataclass(frozen=True)
class FactorRiskState:
    """Everything ``factor_risk_history`` carries from its last date: the covariance sums, the last simulated
    eigen bias, the VRA sums and the eigen-adjusted daily volatilities made at the last date."""

    covariance: CovarianceState
    eigen: EigenState | None
    vra: MomentState
    last_volatility: FloatArray


@dataclass(frozen=True)
class FactorRiskHistory:
    """Per date: ``covariance`` (T, K, K) the final daily forecast λ² F_eigen; ``multiplier`` λ (T,); ``bias``
    B (T,); ``eigen_bias`` (T, K) the v(k) applied (ascending eigenvalues, NaN-padded); and the ``state``."""

    covariance: FloatArray
    multiplier: FloatArray
    bias: FloatArray
    eigen_bias: FloatArray
    state: FactorRiskState


def factor_risk_history(
    returns: FloatArray,
    day_index: NDArray[np.integer],
    params: RiskModelParams,
    unit_covariances: FloatArray | None = None,
    *,
    state: FactorRiskState | None = None,
) -> FactorRiskHistory:
    """Run the factor-risk chain over ``returns`` (T, K) (NaN: factor without return on the date).

    ``day_index`` (T,) is each date's trading-day index (it fixes the eigen refresh schedule). Pass
    ``unit_covariances`` (``unit_covariances_for``) to avoid re-simulating them per call. With ``state``,
    ``returns`` holds only the dates after the previous call and the result is bit-identical to one call.
    """
    returns = np.asarray(returns, dtype=np.float64)
    n_factors = returns.shape[1]
    if unit_covariances is None:
        unit_covariances = unit_covariances_for(params, n_factors)
    base = factor_covariance_history(returns, params.covariance, state=state.covariance if state else None)
    eigen = params.eigen
    adjusted, eigen_bias, eigen_state = eigen_adjust_history(
        base.covariance,
        day_index,
        unit_covariances,
        refresh_days=eigen.refresh_days,
        scale=eigen.scale,
        parabola=eigen.parabola,
        skip=eigen.parabola_skip,
        state=state.eigen if state else None,
    )
    volatility = np.sqrt(np.diagonal(adjusted, axis1=1, axis2=2))
    bias = cross_sectional_bias(returns, volatility, previous_forecast=state.last_volatility if state else None)
    vra = params.factor_vra
    multiplier, vra_state = vra_multiplier(
        bias, vra.half_life, vra.window, vra.min_observations, state=state.vra if state else None
    )
    last_volatility = (
        volatility[-1] if len(volatility) else (state.last_volatility if state else np.full(n_factors, np.nan))
    )
    return FactorRiskHistory(
        covariance=adjusted * (multiplier**2)[:, None, None],
        multiplier=multiplier,
        bias=bias,
        eigen_bias=eigen_bias,
        state=FactorRiskState(covariance=base.state, eigen=eigen_state, vra=vra_state, last_volatility=last_volatility),
    )
