"""Specific risk (cne5-spec §8): time-series volatility, blending with a structural model, Bayesian shrinkage.

Per date (the forecast made at the close of the date, for the next one):

1. ``σ_TS`` (§8.1): ``σ² = Var_w(u) + Σ_{Δ=1..L} (1 − Δ/(L+1)) · 2 · Cov_w'(u_t−Δ, u_t)``, the additive
   Newey-West form [CHOICE, DeepRiskModel], the variance with the specific half-life and the autocovariances
   with their own half-life, over the last ``window`` dates; floored at ``variance_floor × Var_w(u)``
   [CHOICE]; NaN with fewer than ``min_observations`` returns. ``raw`` is ``sqrt(Var_w(u))`` (no serial
   correction), the one-day forecast input of the specific VRA (§8.4).
2. γ (§8.2, EUE3): ``min(1, max(0, (h − 60)/120)) · min(1, max(0, exp(1 − Z)))``, h the returns present in
   the last 180 dates, ``Z = |σ_eq / σ̃ − 1|``, ``σ̃ = (Q3 − Q1)/1.35`` and σ_eq the equal-weighted
   (population, demeaned) standard deviation of the returns with ``|u| <= 10 σ̃`` [CHOICE: "removing" read
   as dropping, around 0].
3. Structural model (§8.2): over the stocks with γ = 1, the weighted regression of ``ln σ_TS`` on all the
   exposures (country, industries, styles; min-norm least squares: the fit does not depend on how the
   collinear country/industry columns are resolved), ``σ_STR = E0 exp(X b)`` for every stock with exposures.
4. Blend ``σ̂ = γ σ_TS + (1 − γ) σ_STR`` (a stock without σ_TS has γ = 0; one without σ_STR keeps σ_TS).
5. Shrinkage (§8.3) within size groups (deciles of total cap): ``σ^SH = v σ̄ + (1 − v) σ̂``.
6. Specific VRA (§8.4): ``riskmodel.regime`` with cap weights; ``σ = λ_S σ^SH``.

Units: specific returns and volatilities are DAILY; annualize with ``riskmodel.units`` (× sqrt(252)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from riskmodel.ewma import EwmaMoments, Moments, MomentState, lagged_moments, serial_correction
from riskmodel.params import SpecificParams

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

IQR_TO_SIGMA = 1.35  # (Q3 − Q1) of a normal distribution in standard deviations (EUE3)
OUTLIER_SIGMAS = 10.0
GAMMA_MIN_OBSERVATIONS = 60
GAMMA_RAMP = 120


@dataclass(frozen=True)
class TimeSeriesVolatility:
    """``volatility`` (Newey-West adjusted σ_TS), ``raw`` (EWMA σ without serial correction) and ``counts`` (the
    returns present in the window): (N,) at one date or (T, N) over a history. DAILY volatilities."""

    volatility: FloatArray
    raw: FloatArray
    counts: IntArray


def _time_series_from_moments(
    variance: Moments, serial: Moments | None, params: SpecificParams
) -> tuple[FloatArray, FloatArray]:
    raw_variance = variance.gammas[0]
    total = raw_variance if serial is None else raw_variance + serial_correction(serial.gammas, cross=False)
    total = np.maximum(total, params.variance_floor * raw_variance)
    enough = variance.counts >= params.min_observations
    # rounding can leave a one-value variance at -1e-20: it has too few values anyway
    return (
        np.where(enough, np.sqrt(np.maximum(total, 0.0)), np.nan),
        np.where(enough, np.sqrt(np.maximum(raw_variance, 0.0)), np.nan),
    )


def time_series_volatility(residuals: FloatArray, params: SpecificParams) -> TimeSeriesVolatility:
    """σ_TS (N,) at the date of the last row of ``residuals`` (T, N), from its last ``params.window`` rows."""
    window = np.asarray(residuals, dtype=np.float64)[-params.window :]
    variance = lagged_moments(window, params.half_life, 0)
    serial = lagged_moments(window, params.nw_half_life, params.nw_lags) if params.nw_lags else None
    volatility, raw = _time_series_from_moments(variance, serial, params)
    return TimeSeriesVolatility(volatility=volatility, raw=raw, counts=variance.counts)


@dataclass(frozen=True)
class TimeSeriesState:
    """Running sums after the last date of a ``time_series_volatility_history`` call."""

    variance: MomentState
    serial: MomentState | None

    def with_columns(self, n_columns: int) -> TimeSeriesState:
        """The state with empty stock columns appended (stocks that list later)."""
        return TimeSeriesState(
            variance=self.variance.with_columns(n_columns),
            serial=self.serial.with_columns(n_columns) if self.serial else None,
        )


def empty_time_series_state(n_stocks: int, params: SpecificParams) -> TimeSeriesState:
    """The state before the first date."""
    return TimeSeriesState(
        variance=MomentState.empty(n_stocks, params.half_life, params.window, 0),
        serial=MomentState.empty(n_stocks, params.nw_half_life, params.window, params.nw_lags)
        if params.nw_lags
        else None,
    )


def time_series_volatility_history(
    residuals: FloatArray, params: SpecificParams, *, state: TimeSeriesState | None = None
) -> tuple[TimeSeriesVolatility, TimeSeriesState]:
    """σ_TS (T, N) at every date of ``residuals`` (T, N), each from the rows up to and including it.

    Equal to ``time_series_volatility`` per date to rounding; O(T·N·L). Columns are stocks (NaN: no specific
    return that day). ``state`` resumes a previous call (bit-identical); to bound memory, run a long history
    in chunks of dates passing the state along.
    """
    residuals = np.asarray(residuals, dtype=np.float64)
    state = state or empty_time_series_state(residuals.shape[1], params)
    variance = EwmaMoments(state.variance)
    serial = EwmaMoments(state.serial) if state.serial else None
    volatility = np.empty(residuals.shape)
    raw = np.empty(residuals.shape)
    counts = np.empty(residuals.shape, dtype=np.int64)
    for t, row in enumerate(residuals):
        variance.push(row)
        moments = variance.moments()
        serial_moments = None
        if serial is not None:
            serial.push(row)
            serial_moments = serial.moments()
        volatility[t], raw[t] = _time_series_from_moments(moments, serial_moments, params)
        counts[t] = moments.counts
    new_state = TimeSeriesState(variance=variance.state(), serial=serial.state() if serial else None)
    return TimeSeriesVolatility(volatility=volatility, raw=raw, counts=counts), new_state


def blending_coefficient(residuals: FloatArray, window: int = 180) -> FloatArray:
    """γ (N,) from the last ``window`` rows of ``residuals`` (T, N) (spec §8.2; module docstring, step 2).

    Cost: one sort of the (window, N) block (about 8 ms for 180 × 5,000); dates are independent.
    """
    ordered = np.sort(np.asarray(residuals, dtype=np.float64)[-window:], axis=0)  # NaN last
    missing = np.isnan(ordered)
    count = ordered.shape[0] - np.count_nonzero(missing, axis=0)
    robust = (_quantile_sorted(ordered, count, 0.75) - _quantile_sorted(ordered, count, 0.25)) / IQR_TO_SIGMA
    bound = OUTLIER_SIGMAS * robust
    ordered[missing] = 0.0  # adds nothing to the sums below; its count is taken off
    with np.errstate(invalid="ignore", divide="ignore"):
        kept = np.abs(ordered) <= bound
        n_kept = np.count_nonzero(kept, axis=0) - np.where(bound >= 0, ordered.shape[0] - count, 0)
        values = ordered * kept
        mean = values.sum(axis=0) / n_kept
        # an axis-0 sum adds row by row: a column's bits do not depend on the other columns (einsum's may)
        sigma_eq = np.sqrt(np.maximum((values * values).sum(axis=0) / n_kept - mean * mean, 0.0))
        tails = np.clip(np.exp(1.0 - np.abs(sigma_eq / robust - 1.0)), 0.0, 1.0)
    history = np.clip((count - GAMMA_MIN_OBSERVATIONS) / GAMMA_RAMP, 0.0, 1.0)
    return history * np.where(np.isfinite(tails), tails, 0.0)


def _quantile_sorted(ordered: FloatArray, count: IntArray, q: float) -> FloatArray:
    """Per column, the q-quantile (linear interpolation, numpy's default) of the first ``count`` sorted values."""
    last = np.maximum(count - 1, 0)
    position = last * q
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, last)
    columns = np.arange(ordered.shape[1])
    fraction = position - low
    value = ordered[low, columns] * (1.0 - fraction) + ordered[high, columns] * fraction
    return np.where(count > 0, value, np.nan)


@dataclass(frozen=True)
class StructuralModel:
    """``volatility`` (N,) σ_STR = E0 exp(X b) (NaN without exposures), ``coefficients`` b (K,), ``e0``, and
    ``estimation`` (N,) the stocks the regression used."""

    volatility: FloatArray
    coefficients: FloatArray
    e0: float
    estimation: NDArray[np.bool_]


def structural_volatility(
    ts_volatility: FloatArray,
    exposures: FloatArray,
    weights: FloatArray,
    gamma: FloatArray,
    e0: float | None = None,
) -> StructuralModel:
    """The structural specific-risk model of one date (spec §8.2, U4 eq. 5.3–5.4).

    Regresses ``ln σ_TS`` on ``exposures`` (N, K) over the stocks with γ = 1, a positive σ_TS and weight, with
    weights ``weights`` (the warehouse passes its regression weights, sqrt(cap)). ``e0`` None estimates
    ``E0 = Σ v σ_TS / exp(X b) / Σ v`` over those stocks [CHOICE]; a number fixes it.
    """
    ts_volatility = np.asarray(ts_volatility, dtype=np.float64)
    exposures = np.asarray(exposures, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    finite_x = np.isfinite(exposures).all(axis=1)
    with np.errstate(invalid="ignore"):
        estimation = (np.asarray(gamma) == 1.0) & (ts_volatility > 0) & finite_x & (weights > 0)
    if estimation.sum() <= 1:
        raise ValueError("too few stocks with gamma = 1 for the structural model")
    x = exposures[estimation]
    weighted = x * weights[estimation][:, None]
    coefficients = _min_norm_solve(weighted.T @ x, weighted.T @ np.log(ts_volatility[estimation]))
    fitted = np.full(len(ts_volatility), np.nan)
    fitted[finite_x] = np.exp(exposures[finite_x] @ coefficients)
    if e0 is None:
        v = weights[estimation]
        e0 = float(v @ (ts_volatility[estimation] / fitted[estimation]) / v.sum())
    return StructuralModel(volatility=e0 * fitted, coefficients=coefficients, e0=float(e0), estimation=estimation)


def _min_norm_solve(normal: FloatArray, rhs: FloatArray) -> FloatArray:
    """The minimum-norm solution of the normal equations ``X'VX b = X'Vy`` (country and industry columns are
    collinear): eigenvalues below ``1e-10`` of the largest are treated as zero."""
    eigenvalues, vectors = np.linalg.eigh(normal)
    keep = eigenvalues > 1e-10 * eigenvalues.max()
    return vectors[:, keep] @ ((vectors[:, keep].T @ rhs) / eigenvalues[keep])


def blend_volatility(ts_volatility: FloatArray, structural: FloatArray, gamma: FloatArray) -> FloatArray:
    """``γ σ_TS + (1 − γ) σ_STR`` (U4 eq. 5.5). A stock without σ_TS counts as γ = 0 (σ_STR); a stock with σ_TS
    but no σ_STR (missing exposures) keeps σ_TS."""
    ts_volatility = np.asarray(ts_volatility, dtype=np.float64)
    structural = np.asarray(structural, dtype=np.float64)
    gamma = np.where(np.isfinite(ts_volatility), gamma, 0.0)
    gamma = np.where(np.isfinite(structural), gamma, np.where(np.isfinite(ts_volatility), 1.0, gamma))
    blended = np.where(gamma > 0, gamma * np.nan_to_num(ts_volatility), 0.0)
    return blended + np.where(gamma < 1, (1.0 - gamma) * structural, 0.0)


def size_groups(caps: FloatArray, n_groups: int = 10, eligible: NDArray[np.bool_] | None = None) -> IntArray:
    """Equal-count size groups 0..n_groups−1 by total cap (0 smallest) among the ``eligible`` stocks with a
    positive cap; −1 for the others. Ties keep input order (stable ranking)."""
    caps = np.asarray(caps, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        member = np.isfinite(caps) & (caps > 0)
    if eligible is not None:
        member &= eligible
    groups = np.full(len(caps), -1, dtype=np.int64)
    index = np.flatnonzero(member)
    order = index[np.argsort(caps[index], kind="stable")]
    groups[order] = np.arange(len(order)) * n_groups // max(len(order), 1)
    return groups


@dataclass(frozen=True)
class Shrinkage:
    """``volatility`` σ^SH (N,), ``intensity`` v_n (N,), ``target`` σ̄(s_n) (N,), ``groups`` (N,)."""

    volatility: FloatArray
    intensity: FloatArray
    target: FloatArray
    groups: IntArray


def bayesian_shrinkage(volatility: FloatArray, caps: FloatArray, q: float = 0.1, n_groups: int = 10) -> Shrinkage:
    """Shrink ``volatility`` (N,) toward the cap-weighted mean of its size group (spec §8.3, U4 eq. 5.6–5.9).

    ``σ̄(s) = Σ c σ̂ / Σ c``, ``Δσ(s) = sqrt(mean (σ̂ − σ̄)²)``, ``v = q|σ̂ − σ̄| / (Δσ + q|σ̂ − σ̄|)``,
    ``σ^SH = v σ̄ + (1 − v) σ̂``. Groups are formed over the stocks with a forecast and a positive cap; the
    others are returned unchanged (intensity 0).
    """
    volatility = np.asarray(volatility, dtype=np.float64)
    caps = np.asarray(caps, dtype=np.float64)
    groups = size_groups(caps, n_groups, eligible=np.isfinite(volatility))
    member = groups >= 0
    g = groups[member]
    sigma = volatility[member]
    c = caps[member]
    with np.errstate(invalid="ignore", divide="ignore"):  # empty groups
        target = (np.bincount(g, c * sigma, n_groups) / np.bincount(g, c, n_groups))[g]
        squares = np.bincount(g, (sigma - target) ** 2, n_groups) / np.bincount(g, None, n_groups)
    distance = np.abs(sigma - target)
    dispersion = np.sqrt(squares)[g]
    denominator = dispersion + q * distance
    intensity = np.where(denominator > 0, q * distance / np.where(denominator > 0, denominator, 1.0), 0.0)
    shrunk = volatility.copy()
    shrunk[member] = intensity * target + (1.0 - intensity) * sigma
    full_intensity = np.zeros(len(volatility))
    full_intensity[member] = intensity
    full_target = np.full(len(volatility), np.nan)
    full_target[member] = target
    return Shrinkage(volatility=shrunk, intensity=full_intensity, target=full_target, groups=groups)


@dataclass(frozen=True)
class SpecificRisk:
    """One date's specific risk before VRA: ``volatility`` σ^SH, ``blended`` σ̂, the ``structural`` model,
    the ``shrinkage`` detail. DAILY volatilities."""

    volatility: FloatArray
    blended: FloatArray
    structural: StructuralModel
    shrinkage: Shrinkage


def specific_risk(
    ts_volatility: FloatArray,
    gamma: FloatArray,
    exposures: FloatArray,
    weights: FloatArray,
    caps: FloatArray,
    params: SpecificParams,
) -> SpecificRisk:
    """Steps 3–5 of the module docstring for one date: structural model, blend, shrinkage (all (N,))."""
    structural = structural_volatility(ts_volatility, exposures, weights, gamma, params.e0)
    blended = blend_volatility(ts_volatility, structural.volatility, gamma)
    shrinkage = bayesian_shrinkage(blended, caps, params.shrinkage_q, params.size_groups)
    return SpecificRisk(volatility=shrinkage.volatility, blended=blended, structural=structural, shrinkage=shrinkage)
