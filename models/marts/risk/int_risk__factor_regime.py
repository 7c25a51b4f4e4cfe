"""int_risk__factor_regime: the factor volatility regime adjustment (spec §7.4; riskmodel/regime.py).

Per date t: the cross-sectional bias statistic B_t of the factor returns of t against the eigen-adjusted
daily volatilities forecast at the previous date (equal weights over the factors active on both), and the
multiplier λ_t = sqrt(EWMA of B² over the VRA window up to t) (NULL until the window holds the preset's
minimum of bias values). The published covariance is λ_t² times the eigen-adjusted one.

λ is computed in canonical chunks (riskmodel/chunked.py), so an incremental build equals the full build bit
for bit. Grain: one row per date with factor returns. B and λ are dimensionless.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from riskmodel.chunked import chunk_days, chunk_starts, multipliers
from riskmodel.daily import factor_names
from riskmodel.dbt_io import (
    day_matrix,
    factor_industries,
    factor_return_matrix,
    new_trading_days,
    newest_built,
    nullable,
    relation_sql,
)
from riskmodel.params import PRESETS
from riskmodel.regime import cross_sectional_bias

SCHEMA = pa.schema(
    [
        ("trade_date", pa.date32()),
        ("bias_statistic", pa.float64()),
        ("vra_multiplier", pa.float64()),
        ("n_factors", pa.int64()),
    ]
)


def _eigen_volatility(session, eigen_sql: str, calendar_sql: str, first_day: int, last_day: int, names):
    query = f"""
        select c.trading_day_index, e.trade_date, e.factor_1 as key, sqrt(e.eigen_covariance) as value
        from {eigen_sql} as e
        inner join {calendar_sql} as c on e.trade_date = c.trade_date
        where e.factor_1 = e.factor_2 and c.trading_day_index between ? and ?
    """
    return day_matrix(session, query, [first_day, last_day], names)


def model(dbt, session):
    dbt.config(materialized="incremental", incremental_strategy="delete+insert", unique_key=["trade_date"])
    params = PRESETS[dbt.config.get("risk_model_preset")]
    returns_sql = relation_sql(dbt.ref("fct_factor_returns"))
    eigen_sql = relation_sql(dbt.ref("int_risk__factor_covariance_eigen"))
    calendar_sql = relation_sql(dbt.ref("dim_trading_calendar"))
    names = factor_names(factor_industries(session, relation_sql(dbt.ref("industry_factor_map"))))

    newest = newest_built(session, dbt.this, dbt.is_incremental)
    new_days = new_trading_days(session, returns_sql, calendar_sql, newest)
    if len(new_days) == 0:
        return SCHEMA.empty_table()
    chunk = chunk_days(params)
    parts = []
    for first_day in chunk_starts(new_days, chunk):
        last_day = int(new_days[new_days < first_day + chunk].max())
        # the previous chunk whole: the bias of the VRA window's first day needs the forecast before it
        days, dates, returns = factor_return_matrix(
            session, returns_sql, calendar_sql, first_day - chunk, last_day, names
        )
        vol_days, _, volatility = _eigen_volatility(
            session, eigen_sql, calendar_sql, first_day - chunk, last_day, names
        )
        forecasts = np.full(returns.shape, np.nan)
        forecasts[np.isin(days, vol_days)] = volatility[np.isin(vol_days, days)]
        bias = cross_sectional_bias(returns, forecasts)
        wanted = np.isin(days, new_days) & (days >= first_day)
        multiplier = multipliers(bias, days, wanted, params.factor_vra, chunk)
        previous = np.vstack([np.full((1, len(names)), np.nan), forecasts[:-1]])
        counted = (np.isfinite(returns) & (previous > 0)).sum(axis=1)
        parts.append(
            pa.table(
                {
                    "trade_date": dates[wanted],
                    "bias_statistic": nullable(bias[wanted]),
                    "vra_multiplier": nullable(multiplier[wanted]),
                    "n_factors": counted[wanted],
                },
                schema=SCHEMA,
            )
        )
    return pa.concat_tables(parts)
