"""Accuracy statistics of risk forecasts (cne5-spec §9; USE4 Appendix A).

- Standardized return ``b_t = R_t / σ_t`` with σ_t the forecast made at the start of period t (eq. A1):
  ``standardized_returns`` pairs each return with the forecast made one period before it.
- Bias statistic ``B = sqrt( Σ (b_t − b̄)² / (T − 1) )`` (eq. A2): the sample standard deviation of b;
  ideal 1, above 1 risk was underpredicted. 95% band for normal returns: ``1 ± sqrt(2/T)`` (eq. A3).
- Rolling windows of T periods moved forward ``step`` periods at a time (eq. A4; USE4: 12 monthly periods,
  step 1), summarized over portfolios and windows by the mean, 5th/95th percentiles and
  ``MRAD = mean |B − 1|`` (eq. A5–A6).

NaN values (no return or no forecast) are skipped; a window with fewer than two values gives NaN.
Everything here is dimensionless; returns and forecasts must share a horizon (daily with daily).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def standardized_returns(returns: FloatArray, forecasts: FloatArray) -> FloatArray:
    """``b_t = R_t / σ_(t−1)`` along axis 0: ``forecasts[t]`` is made at the end of period t, for t + 1.

    The first row is NaN. Both arrays have periods on axis 0 and the same shape.
    """
    returns = np.asarray(returns, dtype=np.float64)
    forecasts = np.asarray(forecasts, dtype=np.float64)
    out = np.full(returns.shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[1:] = returns[1:] / forecasts[:-1]
    return out


def bias_statistic(standardized: FloatArray, axis: int = 0) -> FloatArray:
    """B (eq. A2): the NaN-skipping sample standard deviation (``ddof = 1``) of b along ``axis``."""
    b = np.asarray(standardized, dtype=np.float64)
    present = np.isfinite(b)
    count = present.sum(axis=axis)
    values = np.where(present, b, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = values.sum(axis=axis) / count
        deviations = np.where(present, b - np.expand_dims(mean, axis), 0.0)
        variance = (deviations**2).sum(axis=axis) / (count - 1)
    return np.where(count >= 2, np.sqrt(variance), np.nan)


def rolling_bias_statistics(standardized: FloatArray, window: int, step: int = 1) -> FloatArray:
    """B over the windows ``[s, s + window)`` for ``s = 0, step, 2 step, ...`` (eq. A4).

    ``standardized`` is (T, n): periods by portfolios. Returns (number of windows, n).
    """
    b = np.asarray(standardized, dtype=np.float64)
    starts = range(0, b.shape[0] - window + 1, step)
    return np.array([bias_statistic(b[s : s + window], axis=0) for s in starts]).reshape(len(starts), *b.shape[1:])


def confidence_band(periods: int) -> tuple[float, float]:
    """The 95% band ``1 ± sqrt(2/T)`` of B for normal returns and perfect forecasts (eq. A3)."""
    half_width = float(np.sqrt(2.0 / periods))
    return 1.0 - half_width, 1.0 + half_width


def mrad(bias: FloatArray) -> float:
    """Mean relative absolute deviation ``mean |B − 1|`` over all finite values (eq. A6)."""
    b = np.asarray(bias, dtype=np.float64)
    return float(np.mean(np.abs(b[np.isfinite(b)] - 1.0)))


@dataclass(frozen=True)
class BiasSummary:
    """Summary of bias statistics: ``mean``, ``p5``, ``p95``, ``mrad``, ``inside`` (share within the 95% band
    of ``periods``) and ``count`` (finite values)."""

    mean: float
    p5: float
    p95: float
    mrad: float
    inside: float
    count: int


def bias_summary(bias: FloatArray, periods: int) -> BiasSummary:
    """Summarize bias statistics computed over windows of ``periods`` periods (eq. A5–A6)."""
    b = np.asarray(bias, dtype=np.float64)
    b = b[np.isfinite(b)]
    low, high = confidence_band(periods)
    return BiasSummary(
        mean=float(b.mean()),
        p5=float(np.percentile(b, 5)),
        p95=float(np.percentile(b, 95)),
        mrad=mrad(b),
        inside=float(np.mean((b > low) & (b < high))),
        count=int(b.size),
    )
