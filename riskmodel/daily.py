"""The daily factor-return regressions over a history of cross-sections (spec §6), for the risk marts.

The warehouse hands over one long, date-sorted table of (stock, date) rows: the stock's one-day excess return
on the date and its exposures at the previous close (industry code, the ten styles, the regression weight, the
total market cap, the estimation-universe flag). ``regress_by_date`` cuts it into dates and runs
``constrained_wls`` on each; stocks outside the estimation universe do not enter the regression.

A date whose regression cannot run (too few stocks with every exposure, for example before BETA has its 63
observations, or collinear exposures) is reported in ``skipped`` with the reason, not guessed.

Units: DAILY simple excess returns in and out; nothing is annualized.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from riskmodel.regression import RankDeficientError, constrained_wls, design_matrix

FloatArray = NDArray[np.float64]

# The ten CNE5 styles in the order of the by_date contract (ARCHITECTURE.md).
STYLES = (
    "size",
    "beta",
    "momentum",
    "volatility",
    "non_linear_size",
    "book_to_price",
    "liquidity",
    "earnings_yield",
    "growth",
    "leverage",
)
COUNTRY = "country"


def factor_names(industries: list[str]) -> list[str]:
    """The K factor names in the column order of ``design_matrix``: country, the industries, the styles."""
    return [COUNTRY, *industries, *STYLES]


@dataclass(frozen=True)
class DailyRegressions:
    """The regressions of the dates that could run, in date order.

    Attributes:
        dates: (D,) the date keys (as passed in).
        factor_returns, standard_errors, t_stats: (D, K) daily; NaN for an industry without a stock.
        r_squared: (D,) regression-weighted uncentred R².
        n_stocks: (D,) stocks in each regression.
        skipped: (date key, reason) of the dates without a regression.
    """

    dates: np.ndarray
    factor_returns: FloatArray
    standard_errors: FloatArray
    t_stats: FloatArray
    r_squared: FloatArray
    n_stocks: NDArray[np.int64]
    skipped: list[tuple[object, str]]


def date_slices(dates: np.ndarray) -> list[slice]:
    """The row slices of each date of a date-sorted key array."""
    if len(dates) == 0:
        return []
    if np.any(dates[1:] < dates[:-1]):
        raise ValueError("rows must be sorted by date")
    starts = np.concatenate([[0], np.flatnonzero(dates[1:] != dates[:-1]) + 1, [len(dates)]])
    return [slice(a, b) for a, b in itertools.pairwise(starts)]


def regress_by_date(
    dates: np.ndarray,
    industry: NDArray[np.integer],
    styles: FloatArray,
    returns: FloatArray,
    weights: FloatArray,
    caps: FloatArray,
    in_estu: NDArray[np.bool_],
    n_industries: int,
) -> DailyRegressions:
    """Run the constrained WLS of every date of a date-sorted long table.

    Args:
        dates: (R,) date keys, sorted ascending.
        industry: (R,) industry code 0..P−1 at the previous close (−1: none).
        styles: (R, 10) the styles at the previous close, in ``STYLES`` order (NaN: missing).
        returns: (R,) the one-day excess return of the date.
        weights: (R,) regression weights sqrt(total cap) at the previous close.
        caps: (R,) total market caps at the previous close (industry constraint weights).
        in_estu: (R,) in the estimation universe at the previous close.
        n_industries: P.
    """
    rows: list[tuple] = []
    skipped: list[tuple[object, str]] = []
    for part in date_slices(dates):
        key = dates[part.start]
        exposures = design_matrix(industry[part], styles[part], n_industries)
        regression_returns = np.where(in_estu[part], returns[part], np.nan)
        try:
            result = constrained_wls(regression_returns, exposures, weights[part], caps[part], n_industries)
        except (RankDeficientError, ValueError) as error:
            skipped.append((key, str(error)))
            continue
        rows.append(
            (
                key,
                result.factor_returns,
                result.standard_errors,
                result.t_stats,
                result.r_squared,
                int(result.in_regression.sum()),
            )
        )
    k = 1 + n_industries + len(STYLES)
    if not rows:
        empty = np.empty((0, k))
        return DailyRegressions(dates[:0], empty, empty, empty, np.empty(0), np.empty(0, np.int64), skipped)
    keys, f, se, t, r2, n = zip(*rows, strict=True)
    return DailyRegressions(
        np.asarray(keys),
        np.vstack(f),
        np.vstack(se),
        np.vstack(t),
        np.asarray(r2, dtype=float),
        np.asarray(n, dtype=np.int64),
        skipped,
    )
