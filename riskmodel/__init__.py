"""Numpy kernels of the CNE5-style risk model (cne5-spec §6–§9): small pure functions, arrays in, arrays out.

Modules (one concern each; every variance and volatility is DAILY unless a function of ``units`` says otherwise):

- ``regression``: the daily constrained WLS (factor returns, specific returns, R², t-statistics, pure factor
  portfolios), by change of variables and by the KKT system.
- ``ewma``: exponential weights and running exponentially weighted lagged moments (resumable state).
- ``covariance``: EWMA + Newey-West factor covariance, one date or a whole history; PSD repair.
- ``eigen``: eigenfactor risk adjustment (seeded simulation).
- ``regime``: volatility regime adjustment (cross-sectional bias statistic, multiplier).
- ``specific``: specific risk (time-series volatility, γ, structural model, blending, shrinkage).
- ``bias``: accuracy statistics (bias statistic, rolling windows, MRAD, confidence band).
- ``pipeline``: the factor-risk chain (F0 → eigen → VRA) over a history, resumable.
- ``params``: parameter presets (``DEFAULT`` = ``CHINA_REPLICATION``; ``USE4S``, ``USE4L``).
- ``units``: horizon scaling and annualization.

The user documentation is ``docs/riskmodel.md``.
"""

from riskmodel.params import CHINA_REPLICATION, DEFAULT, PRESETS, USE4L, USE4S, RiskModelParams

__all__ = ["CHINA_REPLICATION", "DEFAULT", "PRESETS", "USE4L", "USE4S", "RiskModelParams"]
