"""Explicit unit conversions: every kernel of ``riskmodel`` works in DAILY units, and only these functions
change the horizon.

- A variance (or covariance) over h trading days is h times the daily one: ``scale_variance``. This assumes
  no serial correlation beyond what the Newey-West terms already put into the daily estimate (spec §7.1
  step 5, §8.1).
- Annualized: h = 252 trading days (``TRADING_DAYS_PER_YEAR``); a volatility scales with sqrt(h).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

TRADING_DAYS_PER_YEAR = 252


def scale_variance(variance: ArrayLike, days: float) -> NDArray[np.float64]:
    """A daily variance or covariance matrix scaled to ``days`` trading days (× days)."""
    return np.asarray(variance, dtype=np.float64) * days


def scale_volatility(volatility: ArrayLike, days: float) -> NDArray[np.float64]:
    """A daily volatility scaled to ``days`` trading days (× sqrt(days))."""
    return np.asarray(volatility, dtype=np.float64) * np.sqrt(days)


def annualize_variance(variance: ArrayLike, days: float = TRADING_DAYS_PER_YEAR) -> NDArray[np.float64]:
    """A daily variance or covariance annualized (× 252)."""
    return scale_variance(variance, days)


def annualize_volatility(volatility: ArrayLike, days: float = TRADING_DAYS_PER_YEAR) -> NDArray[np.float64]:
    """A daily volatility annualized (× sqrt(252))."""
    return scale_volatility(volatility, days)
