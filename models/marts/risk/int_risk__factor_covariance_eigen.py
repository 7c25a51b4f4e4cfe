"""int_risk__factor_covariance_eigen: the factor covariance before the volatility regime adjustment.

Per date t (a date with factor returns), from the factor returns up to t (spec §7.1-7.3; riskmodel):
``base_covariance`` F0 (EWMA + Newey-West, separate volatility and correlation half-lives, correlation
repaired to PSD) and ``eigen_covariance`` (the eigenfactor risk adjustment, v(k) simulated with the
preset's seed, refreshed every ``refresh_days`` trading days and at every chunk start).

Computed in canonical chunks of trading days (riskmodel/chunked.py) so that an incremental build gives the
full build's values bit for bit. Grain: (trade_date, factor_1, factor_2) over the factors active on the date
(enough returns in the window), both orders. DAILY covariances of daily returns.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from riskmodel.chunked import chunk_days, chunk_starts, eigen_covariance_chunk, warm_up_start
from riskmodel.daily import factor_names
from riskmodel.dbt_io import (
    factor_industries,
    factor_return_matrix,
    new_trading_days,
    newest_built,
    relation_sql,
)
from riskmodel.params import PRESETS
from riskmodel.pipeline import unit_covariances_for

SCHEMA = pa.schema(
    [
        ("trade_date", pa.date32()),
        ("factor_1", pa.string()),
        ("factor_2", pa.string()),
        ("base_covariance", pa.float64()),
        ("eigen_covariance", pa.float64()),
    ]
)


def _long_rows(dates, base: np.ndarray, adjusted: np.ndarray, names: list[str]) -> pa.Table:
    d, i, j = np.nonzero(np.isfinite(adjusted))
    names_array = np.asarray(names, dtype=object)
    return pa.table(
        {
            "trade_date": np.asarray(dates)[d],
            "factor_1": names_array[i],
            "factor_2": names_array[j],
            "base_covariance": base[d, i, j],
            "eigen_covariance": adjusted[d, i, j],
        },
        schema=SCHEMA,
    )


def model(dbt, session):
    dbt.config(materialized="incremental", incremental_strategy="delete+insert", unique_key=["trade_date"])
    params = PRESETS[dbt.config.get("risk_model_preset")]
    returns_sql = relation_sql(dbt.ref("fct_factor_returns"))
    calendar_sql = relation_sql(dbt.ref("dim_trading_calendar"))
    names = factor_names(factor_industries(session, relation_sql(dbt.ref("industry_factor_map"))))

    newest = newest_built(session, dbt.this, dbt.is_incremental)
    new_days = new_trading_days(session, returns_sql, calendar_sql, newest)
    if len(new_days) == 0:
        return SCHEMA.empty_table()
    chunk = chunk_days(params)
    units = unit_covariances_for(params, len(names))
    parts = []
    for first_day in chunk_starts(new_days, chunk):
        last_day = int(new_days[new_days < first_day + chunk].max())
        start = warm_up_start(first_day, params.covariance.window)
        days, dates, returns = factor_return_matrix(session, returns_sql, calendar_sql, start, last_day, names)
        rows, base, adjusted = eigen_covariance_chunk(returns, days, first_day, params, units)
        wanted = np.isin(days[rows], new_days)
        parts.append(_long_rows(dates[rows][wanted], base[wanted], adjusted[wanted], names))
    return pa.concat_tables(parts)
