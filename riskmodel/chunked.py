"""Canonical chunks: each date's risk forecast computed the same way by a full and an incremental build.

The running kernels (``factor_covariance_history``, ``time_series_volatility_history``, ``vra_multiplier``)
carry weighted sums from date to date, and their last bits depend on the row they started from. An
incremental build must give the full build's values bit for bit (the prefix property), so every running
computation here starts from a point fixed by the date alone:

- Trading days are cut into chunks of ``chunk_days(params)`` days on the global trading-day index: chunk
  ``c`` holds the days ``c, c + 1, ..., c + C − 1`` with ``c`` a multiple of C.
- The moments of the days of chunk ``c`` start empty at day ``c − window + 1`` (a warm-up of one window), so
  at day ``c`` they already cover a full window. Rows are selected by trading-day index, not position, so a
  skipped date (no regression) changes nothing but its own row.
- The eigen simulation refreshes at every chunk start (C is a multiple of ``refresh_days``), so the v(k) of a
  date depends on the covariances of its own chunk only.
- The VRA multiplier of chunk ``c`` starts at day ``c − vra.window + 1`` (``vra.window <= C``), so its bias
  statistics come from chunk ``c − 1`` and ``c`` only; the bias of a date needs the forecast of the date
  before, which the caller reads from the stored forecasts or computes with the previous chunk.

Cost: each chunk re-pushes one window of warm-up rows (about twice the work of one continuous run).
Units: everything DAILY, as in the kernels.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from riskmodel.covariance import factor_covariance_history
from riskmodel.eigen import eigen_adjust_history
from riskmodel.params import RiskModelParams, VraParams
from riskmodel.regime import vra_multiplier
from riskmodel.specific import TimeSeriesVolatility, blending_coefficient, time_series_volatility_history

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# The shortest chunk: one year of trading days (a chunk start is also an eigen refresh date).
MIN_CHUNK_DAYS = 252


def chunk_days(params: RiskModelParams) -> int:
    """C: a multiple of the eigen refresh interval at least as long as every VRA window and one year."""
    refresh = params.eigen.refresh_days
    longest = max(MIN_CHUNK_DAYS, params.factor_vra.window, params.specific.vra.window)
    return refresh * math.ceil(longest / refresh)


def chunk_start(day: int, chunk: int) -> int:
    """The first trading-day index of the chunk holding ``day``."""
    return day - day % chunk


def chunk_starts(days: IntArray, chunk: int) -> list[int]:
    """The distinct chunk starts of ``days``, ascending."""
    return sorted({chunk_start(int(d), chunk) for d in days})


def warm_up_start(first_day: int, window: int) -> int:
    """The day the running moments of a chunk starting at ``first_day`` start from (empty)."""
    return first_day - window + 1


def factor_history_start(first_day: int, params: RiskModelParams) -> int:
    """The oldest day of factor returns the factor chain of the chunk at ``first_day`` reads: the
    covariance warm-up of the previous chunk, whose eigen volatilities feed this chunk's VRA."""
    chunk = chunk_days(params)
    return warm_up_start(first_day - chunk, params.covariance.window)


def _rows_between(days: IntArray, first: int, last: int) -> NDArray[np.bool_]:
    return (days >= first) & (days <= last)


def eigen_covariance_chunk(
    returns: FloatArray,
    days: IntArray,
    first_day: int,
    params: RiskModelParams,
    unit_covariances: FloatArray,
) -> tuple[NDArray[np.bool_], FloatArray, FloatArray]:
    """The base covariance F0 and the eigen-adjusted one of every row of the chunk starting at ``first_day``.

    ``returns`` (T, K) and ``days`` (T,) (ascending trading-day indices) must hold every row from
    ``warm_up_start(first_day, params.covariance.window)`` up to the last wanted day. Returns ``(rows, base,
    adjusted)``: the boolean mask of the chunk's rows in the input and their (n, K, K) matrices.
    """
    chunk = chunk_days(params)
    rows = _rows_between(days, first_day, first_day + chunk - 1)
    warm = _rows_between(days, warm_up_start(first_day, params.covariance.window), first_day + chunk - 1)
    base = factor_covariance_history(returns[warm], params.covariance).covariance
    in_chunk = rows[warm]
    eigen = params.eigen
    adjusted, _, _ = eigen_adjust_history(
        base[in_chunk],
        days[rows],
        unit_covariances,
        refresh_days=eigen.refresh_days,
        scale=eigen.scale,
        parabola=eigen.parabola,
        skip=eigen.parabola_skip,
    )
    return rows, base[in_chunk], adjusted


def multiplier_chunk(bias: FloatArray, days: IntArray, first_day: int, vra: VraParams, chunk: int) -> FloatArray:
    """λ of every row of the chunk starting at ``first_day`` (NaN for the other rows), from the bias values
    of the days from ``first_day − vra.window + 1`` on. ``bias`` (T,) and ``days`` (T,) ascending."""
    if vra.window > chunk:
        raise ValueError("the VRA window must fit in one chunk")
    out = np.full(len(days), np.nan)
    warm = _rows_between(days, warm_up_start(first_day, vra.window), first_day + chunk - 1)
    multiplier, _ = vra_multiplier(bias[warm], vra.half_life, vra.window, vra.min_observations)
    rows = _rows_between(days, first_day, first_day + chunk - 1)
    out[rows] = multiplier[rows[warm]]
    return out


def multipliers(bias: FloatArray, days: IntArray, wanted: NDArray[np.bool_], vra: VraParams, chunk: int) -> FloatArray:
    """λ of the ``wanted`` rows (NaN elsewhere), chunk by chunk."""
    out = np.full(len(days), np.nan)
    for first_day in chunk_starts(days[wanted], chunk):
        part = multiplier_chunk(bias, days, first_day, vra, chunk)
        take = wanted & np.isfinite(part)
        out[take] = part[take]
    return out


def time_series_chunk(
    residuals: FloatArray, days: IntArray, first_day: int, params: RiskModelParams
) -> tuple[NDArray[np.bool_], TimeSeriesVolatility]:
    """σ_TS (Newey-West and raw) of every row of the chunk starting at ``first_day``: ``(rows, volatility)``
    with arrays (n, N) over the chunk's rows. ``residuals`` (T, N) must start at the warm-up day."""
    chunk = chunk_days(params)
    rows = _rows_between(days, first_day, first_day + chunk - 1)
    warm = _rows_between(days, warm_up_start(first_day, params.specific.window), first_day + chunk - 1)
    history, _ = time_series_volatility_history(residuals[warm], params.specific)
    keep = rows[warm]
    return rows, TimeSeriesVolatility(
        volatility=history.volatility[keep], raw=history.raw[keep], counts=history.counts[keep]
    )


def blending_at(residuals: FloatArray, days: IntArray, position: int, window: int) -> FloatArray:
    """γ (N,) of row ``position``, from the rows of its last ``window`` trading days (by index, so a skipped
    date shortens the window the same way in every build)."""
    first = int(np.searchsorted(days, days[position] - window + 1))
    return blending_coefficient(residuals[first : position + 1], window)
